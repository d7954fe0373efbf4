/**
 * Naming rules shared by every platform component: Kubernetes object names derive from the
 * component's Pulumi name, so two instances in one stack never collide.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS-1123 label built from parts: lower-cased, dashes for anything else, at most 63 chars. */
export function k8sName(...parts: string[]): string {
    const joined = parts
        .filter((p) => p.length > 0)
        .join("-")
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, "-")
        .replace(/-+/g, "-")
        .replace(/^-|-$/g, "");
    const name = joined.slice(0, 63).replace(/-$/, "");
    if (!DNS_LABEL.test(name)) {
        throw new Error(`cannot build a Kubernetes name from ${JSON.stringify(parts)}`);
    }
    return name;
}

/** In-cluster DNS name of a Service. */
export function serviceHost(service: string, namespace: string): string {
    return `${service}.${namespace}.svc.cluster.local`;
}

/** Throws naming `key` when `value` is not a valid SQL/Postgres identifier we are willing to create. */
export function assertIdentifier(key: string, value: string): void {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
        throw new Error(`${key}: "${value}" is not a valid name (lower-case letters, digits, _; must start with a letter or _)`);
    }
}
