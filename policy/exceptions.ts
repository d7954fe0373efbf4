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

export const EXCEPTIONS: RuleException[] = [
    {
        rule: "restricted-security-context",
        stacks: ["dev", "staging", "prod"],
        match: /^Deployment [a-z0-9-]*marquez(-web)? container marquez(-web)?: /,
        reason:
            "the Marquez chart 0.51.1 renders its Deployments with no securityContext and exposes none in values " +
            "(chart/templates/marquez/deployment.yaml, web/deployment.yaml upstream); its pods are confined by the namespace's default-deny " +
            "NetworkPolicies (only Airflow and the Marquez web UI reach the API; the API reaches only Postgres). Lift this when the chart gains the values.",
    },
    {
        rule: "resources",
        stacks: ["dev", "staging", "prod"],
        match: /^Deployment [a-z0-9-]*mlflow container dbchecker: missing /,
        reason:
            "the MLflow chart 1.11.5 renders its dbchecker init container (backendStore.databaseConnectionCheck) with no resources block " +
            "and no value for one (templates/deployment.yaml upstream); it runs only until Postgres answers, before the tracking server starts. " +
            "Lift this when the chart gains the value, or drop the check (the server retries its DB connection).",
    },
];
