/**
 * What a stack would apply to Kubernetes, from a mock run: each Helm release as a render request (release
 * name, namespace, chart, values) and each Kubernetes object the program creates itself as a manifest.
 * cluster/render.py renders the releases with a real helm, and the cluster tests validate and apply the lot.
 */
import { RecordedResource } from "../offline/engine";
import { RenderedVaultLayout } from "../components/values/vault";

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

/**
 * The Vault layout a stack creates, read back from its @pulumi/vault resources in Vault's API vocabulary (the shape of
 * RenderedVaultLayout). tests/local/test_vault_layout.py compares it with the local harness's rendering of the same
 * config/vault-layout.json, and with what the real local server holds. Undefined when the stack creates no policy.
 */
export function vaultLayoutOf(resources: RecordedResource[]): RenderedVaultLayout | undefined {
    const ofType = (type: string) => resources.filter((r) => r.type === type).map((r) => r.inputs as Record<string, any>);
    const policies = ofType("vault:index/policy:Policy");
    const mount = ofType("vault:index/mount:Mount").find((m) => m.type === "kv");
    if (policies.length === 0 || mount === undefined) return undefined;
    const backend = (type: string) => {
        const found = ofType("vault:index/authBackend:AuthBackend").filter((b) => b.type === type);
        if (found.length !== 1) throw new Error(`vaultLayoutOf: expected one ${type} auth backend, found ${found.length}`);
        return String(found[0].path ?? type);
    };
    const ttls = (r: Record<string, any>) => ({ token_policies: r.tokenPolicies ?? [], token_ttl: r.tokenTtl, token_max_ttl: r.tokenMaxTtl });
    const approlePath = backend("approle");
    const kubernetesPath = backend("kubernetes");
    return {
        mount: { path: mount.path, type: "kv", options: { version: mount.options?.version } },
        policies: Object.fromEntries(policies.map((p) => [p.name, p.policy])),
        auth: {
            approle: {
                path: approlePath,
                roles: Object.fromEntries(ofType("vault:appRole/authBackendRole:AuthBackendRole").filter((r) => r.backend === approlePath).map((r) => [r.roleName, ttls(r)])),
            },
            kubernetes: {
                path: kubernetesPath,
                roles: Object.fromEntries(
                    ofType("vault:kubernetes/authBackendRole:AuthBackendRole").filter((r) => r.backend === kubernetesPath).map((r) => [
                        r.roleName,
                        { bound_service_account_names: r.boundServiceAccountNames, bound_service_account_namespaces: r.boundServiceAccountNamespaces, ...ttls(r) },
                    ]),
                ),
            },
        },
    };
}
