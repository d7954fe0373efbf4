/**
 * Every stack-config rule that the per-section schemas can't say: rules that depend on which stack this is, or that
 * span sections. One list of `(stack, config) → problems`, each problem "<key path>: <why and what to set>".
 * `parseStackConfig` (./load) runs them all after the schema; nothing else re-checks them.
 */
import { STARTUP_INSTALL_STACKS } from "./image";
import { INGRESS_REQUIRED_STACKS, StackConfig, StackName } from "./schema";

export type StackRule = (stack: StackName, config: StackConfig) => string[];

/** Only dev may install packages at start-up or deploy a prebuilt image by tag; building needs AWS (ECR). */
export function imageConfigProblems(stack: StackName, config: Pick<StackConfig, "airflow" | "aws">): string[] {
    const image = config.airflow.image;
    const problems: string[] = [];
    if (image.extraPipPackages.length > 0 && !STARTUP_INSTALL_STACKS.includes(stack)) {
        problems.push(
            `airflow.image.extraPipPackages: start-up installs (the chart's _PIP_ADDITIONAL_REQUIREMENTS) are allowed only in ` +
                `${STARTUP_INSTALL_STACKS.join(", ")}; stack "${stack}" must bake ${image.extraPipPackages.join(", ")} into the image ` +
                `(add to python/requirements.in, recompile the lock, rebuild: docs/image.md)`,
        );
    }
    if (image.mode === "prebuilt" && image.digest === null && !STARTUP_INSTALL_STACKS.includes(stack)) {
        problems.push(
            `airflow.image.digest: stack "${stack}" deploys a prebuilt image by digest only, got tag "${image.tag}" without a digest ` +
                `(set sha256:<64 hex>, e.g. from \`docker buildx imagetools inspect ${image.repository}:${image.tag}\`)`,
        );
    }
    if (image.mode === "build" && !config.aws.enabled) {
        problems.push(`airflow.image.mode: build pushes to an ECR repository and needs aws.enabled: true (or use mode prebuilt)`);
    }
    return problems;
}

/** Staging and prod serve the API server only through the TLS ingress. */
export function ingressConfigProblems(stack: StackName, config: Pick<StackConfig, "airflow">): string[] {
    if (INGRESS_REQUIRED_STACKS.includes(stack) && !config.airflow.ingress.enabled) {
        return [
            `airflow.ingress.enabled: stack "${stack}" must serve the API server through a TLS ingress ` +
                `(set enabled: true with host, className, tlsSecretName, clusterIssuer, controllerNamespace)`,
        ];
    }
    return [];
}

/** Contradictions between sections that each section's schema can't see. */
export function crossSectionProblems(_stack: StackName, config: StackConfig): string[] {
    const problems: string[] = [];
    const dbs = config.postgres.databases;
    const teams = Object.keys(config.teams);
    for (const section of ["marquez", "mlflow"] as const) {
        if (config[section].enabled && !dbs.includes(section)) {
            problems.push(`${section}.enabled: ${section} needs its own database; add "${section}" to postgres.databases (now [${dbs.join(", ")}])`);
        }
    }
    const seen = new Set<string>();
    config.vault.teamPolicies.forEach((p, i) => {
        if (!teams.includes(p.team)) {
            problems.push(`vault.teamPolicies[${i}].team: team "${p.team}" is not declared in teams (declared: ${teams.join(", ") || "none"})`);
        }
        if (seen.has(p.team)) problems.push(`vault.teamPolicies[${i}].team: team "${p.team}" has two policies`);
        seen.add(p.team);
    });
    if (config.monitoring.enabled && !teams.includes(config.monitoring.alerting.owningTeam)) {
        problems.push(`monitoring.alerting.owningTeam: team "${config.monitoring.alerting.owningTeam}" is not declared in teams`);
    }
    if (config.aws.secretsManagerPrefix !== null && !config.aws.enabled) {
        problems.push("aws.secretsManagerPrefix: the Secrets Manager backend needs aws.enabled: true");
    }
    if (config.aws.secretsManagerPrefix !== null && config.vault.enabled) {
        problems.push("aws.secretsManagerPrefix: Airflow has one secrets backend and vault.enabled is true; set one of them off (null / false)");
    }
    config.kafka.topics.forEach((t, i) => {
        if (config.kafka.topics.indexOf(t) !== i) problems.push(`kafka.topics[${i}]: topic "${t}" is listed twice`);
    });
    return problems;
}

/** The rules, in the order their problems are reported. */
export const STACK_RULES: readonly StackRule[] = [imageConfigProblems, ingressConfigProblems, crossSectionProblems];

/** Every problem of every rule. */
export function stackRuleProblems(stack: StackName, config: StackConfig): string[] {
    return STACK_RULES.flatMap((rule) => rule(stack, config));
}
