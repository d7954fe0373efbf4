/**
 * The platform's policy pack: `pulumi preview --policy-pack policy --stack <stack>`.
 * Each rule of policy/rules.ts is one stack policy; the same rules run offline through `npm run checklist`.
 */
import { PolicyPack, StackValidationArgs, ReportViolation } from "@pulumi/policy";
import { RULES, RuleContext } from "./rules";

function contextFrom(args: StackValidationArgs): RuleContext {
    const stack = args.stackTags.get("pulumi:stack") ?? process.env.PULUMI_STACK ?? "unknown";
    // A live preview decrypts nothing for policies; plaintext detection runs offline where the secrets are known.
    return { stack, resources: args.resources.map((r) => ({ type: r.type, name: r.name, inputs: r.props })), secretPlaintexts: [] };
}

new PolicyPack("airflow-platform", {
    enforcementLevel: "mandatory",
    policies: RULES.map((rule) => ({
        name: rule.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
        description: `Platform rule ${rule.name} (policy/rules.ts)`,
        enforcementLevel: rule.name === "noPlaintextSecrets" ? "advisory" : "mandatory",
        validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
            const result = rule(contextFrom(args));
            if (!result.ok) result.evidence.forEach((e) => reportViolation(e));
        },
    })),
});
