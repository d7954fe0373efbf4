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

/** The rules, in the order their problems are reported. */
export const STACK_RULES: readonly StackRule[] = [imageConfigProblems, ingressConfigProblems];

/** Every problem of every rule. */
export function stackRuleProblems(stack: StackName, config: StackConfig): string[] {
    return STACK_RULES.flatMap((rule) => rule(stack, config));
}
