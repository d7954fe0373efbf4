/**
 * Explicit, reasoned exceptions to the infrastructure rules. Each one is shown in the checklist report next
 * to the violation it waives; nothing is waived silently. Prefer fixing the values over adding a line here.
 */
export interface RuleException {
    /** Rule id from policy/rules.ts. */
    rule: string;
    /** Stacks the exception applies to. */
    stacks: string[];
    /** Matches the violation text (it names the resource and component). */
    match: RegExp;
    reason: string;
}

export const EXCEPTIONS: RuleException[] = [];
