/**
 * What a stack would apply to Kubernetes, from a mock run: each Helm release as a render request (release
 * name, namespace, chart, values) and each Kubernetes object the program creates itself as a manifest.
 * cluster/render.py renders the releases with a real helm, and the cluster tests validate and apply the lot.
 */
import { RecordedResource } from "../tests/ts/harness";

export const HELM_CHART_TYPE = "kubernetes:helm.sh/v4:Chart";

/** One helm.v4.Chart as `helm template` needs it; `values` is the file synth wrote beside it. */
export interface ReleaseSpec {
    /** Pulumi logical name of the Chart resource. */
    resource: string;
    release: string;
    namespace: string;
    /** A chart name (with repo), an oci:// reference, or a local tarball path, as the program passed it. */
    chart: string;
    version: string | null;
    repo: string | null;
    values: string;
}

export function releaseSpec(r: RecordedResource, valuesFile: string): ReleaseSpec {
    const inputs = r.inputs as { name?: string; namespace?: string; chart: string; version?: string; repositoryOpts?: { repo?: string } };
    return {
        resource: r.name,
        release: String(inputs.name ?? r.name),
        namespace: String(inputs.namespace ?? "default"),
        chart: inputs.chart,
        version: inputs.version ?? null,
        repo: inputs.repositoryOpts?.repo ?? null,
        values: valuesFile,
    };
}

/**
 * The apiVersion and kind of a Pulumi Kubernetes type token (`kubernetes:apps/v1:Deployment` is
 * apps/v1 Deployment, `kubernetes:core/v1:Secret` is v1 Secret); undefined for types that are not one
 * object (Helm charts, YAML groups, providers, CustomResource, whose inputs carry both).
 */
export function apiVersionKind(type: string): { apiVersion: string; kind: string } | undefined {
    const m = /^kubernetes:([^:]+)\/([^/:]+):([A-Za-z0-9]+)$/.exec(type);
    if (!m || m[1] === "helm.sh" || m[1] === "yaml" || m[1] === "kustomize" || m[3] === "CustomResource") return undefined;
    return { apiVersion: m[1] === "core" ? m[2] : `${m[1]}/${m[2]}`, kind: m[3] };
}

/** What synth writes in place of every secret value. */
export const REDACTED = "[secret]";

/** Kubernetes rejects "[secret]" as base64, so redacted Secret `data` values become this (base64 of "redacted"). */
export const REDACTED_BASE64 = Buffer.from("redacted").toString("base64");

/**
 * The manifest of one Kubernetes object the program registers (not a chart), from its recorded inputs
 * with secrets already redacted. The name is the one the mock gave back (the provider's auto-name in a
 * real run has a random suffix; references between objects use the explicit names the program sets).
 */
export function manifestOf(r: RecordedResource, redactedInputs: Record<string, unknown>): Record<string, unknown> | undefined {
    let head = apiVersionKind(r.type);
    if (!head && r.type === "kubernetes:apiextensions.k8s.io/v1:CustomResource") {
        head = { apiVersion: String(redactedInputs.apiVersion), kind: String(redactedInputs.kind) };
    }
    if (!head || !r.custom) return undefined;
    const { apiVersion: _a, kind: _k, metadata, ...rest } = redactedInputs;
    const stateMetadata = (r.state.metadata ?? {}) as Record<string, unknown>;
    const manifest: Record<string, unknown> = {
        apiVersion: head.apiVersion,
        kind: head.kind,
        metadata: { ...(metadata as Record<string, unknown> | undefined), name: (metadata as { name?: unknown } | undefined)?.name ?? stateMetadata.name ?? r.name },
        ...rest,
    };
    if (head.kind === "Secret") {
        // Every value of a Secret is redacted, but its keys are kept: pods reference them (secretKeyRef.key).
        const plain = r.inputs as { data?: Record<string, unknown>; stringData?: Record<string, unknown> };
        for (const field of ["data", "stringData"] as const) {
            if (plain[field] && typeof plain[field] === "object") {
                manifest[field] = Object.fromEntries(Object.keys(plain[field]!).map((k) => [k, field === "data" ? REDACTED_BASE64 : REDACTED]));
            }
        }
    }
    return manifest;
}
