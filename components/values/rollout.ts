/**
 * Rolling pods when a Secret they read changes. Kubernetes re-reads env and envFrom only when a pod starts, so a new
 * value (a rotated password, a new git key) reaches nothing until the pods are replaced. A digest of the values in
 * the pod template's annotations changes with them, which makes the controllers roll the pods.
 */
import * as crypto from "crypto";

/** Pod annotation holding the digest of every Secret value the pods read. */
export const SECRETS_DIGEST_ANNOTATION = "airflow-platform/secrets-digest";

/** sha256 over every key and value, independent of key order; reveals nothing of the values. */
export function contentDigest(contents: ReadonlyArray<Record<string, string>>): string {
    const canonical = contents.map((c) => Object.keys(c).sort().map((k) => [k, c[k]]));
    return crypto.createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}
