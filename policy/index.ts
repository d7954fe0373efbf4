/**
 * The platform's policy pack: `pulumi preview --policy-pack policy --stack <stack>`.
 * Each rule of policy/rules.ts is one stack policy. helm.v4.Chart registers every object it renders as its own
 * child resource (`kubernetes:apps/v1:Deployment`, props = the manifest), so the rules judge here exactly what
 * `npm run checklist` judges offline over `helm template`'s output. Waivers (policy/exceptions.ts) apply alike.
 */
import { PolicyPack, StackValidationArgs, ReportViolation } from "@pulumi/policy";
import { RULES, RuleContext } from "./rules";

function contextFrom(args: StackValidationArgs): RuleContext {
    const stack = args.resources.find((r) => r.type === "pulumi:pulumi:Stack")?.name.replace(/^.*?-(dev|staging|prod)$/, "$1") ?? process.env.PULUMI_STACK ?? "unknown";
    // A live preview hands policies no generated plaintexts; noPlaintextSecrets still judges the redaction marker and
    // credential-named env vars, and is advisory here (the offline checklist knows every generated secret).
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
            result.waived.forEach((w) => console.log(`waived: ${w}`));
        },
    })),
});
