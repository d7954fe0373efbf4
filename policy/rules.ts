/**
 * The platform's infrastructure rules, as pure functions over the resources a stack registers
 * (type, name, inputs). The same rules run offline (scripts/checklist.ts) and inside the @pulumi/policy pack
 * (policy/index.ts) during `pulumi preview --policy-pack policy`.
 *
 * Every Kubernetes-facing rule judges Kubernetes objects: resources typed `kubernetes:<group|core>/<version>:<Kind>`
 * (or `kubernetes:apiextensions.k8s.io/v1:CustomResource` with apiVersion/kind in its inputs). A live preview
 * registers each object a helm.v4.Chart renders as such a child resource, named `<chart>:<namespace>/<name>`;
 * offline, the checklist feeds the same objects from `helm template` (out/render/<stack>/rendered/, written by
 * `python -m cluster.render`). No rule reads Helm chart values, so a chart is judged by what it renders.
 */
import { EXCEPTIONS, RuleException } from "./exceptions";

export interface PolicyResource {
    type: string;
    name: string;
    inputs: any;
}

export interface RuleOutcome {
    id: string;
    title: string;
    ok: boolean;
    evidence: string[];
    /** Violations waived by policy/exceptions.ts, each shown with its reason. */
    waived: string[];
}

export interface RuleContext {
    stack: string;
    resources: PolicyResource[];
    /** Plaintexts of every generated secret (the harness knows them under mocks). */
    secretPlaintexts: string[];
    /** The same resources with Pulumi's secret markers kept, so a secret passed as a secret is told apart from a leak. */
    rawResources?: PolicyResource[];
}

// ------------------------------------------------------------------------------------------- Kubernetes objects
export interface KubeObject {
    resource: PolicyResource;
    apiVersion: string;
    kind: string;
    /** metadata.name, else the resource name. */
    name: string;
    namespace?: string;
    manifest: any;
}

/** Resource types of the kubernetes provider that are components or helpers, not objects in the cluster. */
const NOT_OBJECTS = /^kubernetes:(helm\.sh|yaml|kustomize)\//;

/** `kubernetes:core/v1:Secret` → v1/Secret; `kubernetes:kafka.strimzi.io/v1:Kafka` → kafka.strimzi.io/v1/Kafka. */
export function kubeObject(r: PolicyResource): KubeObject | undefined {
    const m = /^kubernetes:([^:]+):([^:]+)$/.exec(r.type);
    if (!m || NOT_OBJECTS.test(r.type)) return undefined;
    const inputs = r.inputs ?? {};
    let apiVersion = m[1].startsWith("core/") ? m[1].slice("core/".length) : m[1];
    let kind = m[2];
    if (r.type === "kubernetes:apiextensions.k8s.io/v1:CustomResource" || (typeof inputs.kind === "string" && typeof inputs.apiVersion === "string")) {
        apiVersion = String(inputs.apiVersion ?? apiVersion);
        kind = String(inputs.kind ?? kind);
    }
    const metadata = inputs.metadata ?? {};
    return { resource: r, apiVersion, kind, name: String(metadata.name ?? r.name), namespace: metadata.namespace ?? undefined, manifest: inputs };
}

export function kubeObjects(resources: PolicyResource[]): KubeObject[] {
    return resources.map(kubeObject).filter((o): o is KubeObject => o !== undefined);
}

const group = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0] : "");
const is = (o: KubeObject, g: string, ...kinds: string[]) => group(o.apiVersion) === g && kinds.includes(o.kind);
const label = (o: KubeObject) => `${o.kind} ${o.name}`;

/** Reads a dotted path; a segment `list[name=x]` picks the list entry whose name is x (e.g. a containers patch). */
function get(obj: any, path: string): any {
    return path.split(".").reduce((o, k) => {
        if (o == null) return undefined;
        const entry = /^(.+)\[name=(.+)\]$/.exec(k);
        if (!entry) return o[k];
        const list = o[entry[1]];
        return Array.isArray(list) ? list.find((c: any) => c?.name === entry[2]) : undefined;
    }, obj);
}

// ------------------------------------------------------------------------------------------- workloads
export interface Container {
    name: string;
    securityContext?: any;
    resources?: any;
    env?: any[];
}

export interface Workload {
    /** "<Kind> <name>" (plus "/<part>" for an operator-made pod) — what the report names. */
    where: string;
    object: KubeObject;
    podSecurityContext?: any;
    /** Labels of the pods it runs (for PodDisruptionBudget selectors). */
    podLabels: Record<string, string>;
    containers: Container[];
}

/** Pod spec of a built-in workload kind. */
function podTemplate(o: KubeObject): { spec: any; labels: Record<string, string> } | undefined {
    const m = o.manifest;
    if (is(o, "apps", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet") || is(o, "batch", "Job") || (o.apiVersion === "v1" && o.kind === "ReplicationController")) {
        return { spec: m?.spec?.template?.spec, labels: m?.spec?.template?.metadata?.labels ?? {} };
    }
    if (is(o, "batch", "CronJob")) return { spec: m?.spec?.jobTemplate?.spec?.template?.spec, labels: m?.spec?.jobTemplate?.spec?.template?.metadata?.labels ?? {} };
    if (o.apiVersion === "v1" && o.kind === "Pod") return { spec: m?.spec, labels: m?.metadata?.labels ?? {} };
    return undefined;
}

function containersOf(spec: any): Container[] {
    return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map((c: any) => ({
        name: c?.name ?? "?",
        securityContext: c?.securityContext,
        resources: c?.resources,
        env: c?.env,
    }));
}

/** Every workload a stack will run: the pod templates of built-in kinds plus the pods operators make from custom resources. */
export function workloads(resources: PolicyResource[]): Workload[] {
    const objects = kubeObjects(resources);
    const found: Workload[] = [];
    for (const o of objects) {
        const pod = podTemplate(o);
        if (pod) {
            found.push({ where: label(o), object: o, podSecurityContext: pod.spec?.securityContext, podLabels: pod.labels, containers: containersOf(pod.spec) });
        } else if (is(o, "kafka.strimzi.io", "Kafka")) {
            const eo = get(o.manifest, "spec.entityOperator");
            if (eo) {
                found.push({
                    where: `${label(o)}/entity-operator`,
                    object: o,
                    podSecurityContext: get(eo, "template.pod.securityContext"),
                    podLabels: { "strimzi.io/cluster": o.name, "strimzi.io/name": `${o.name}-entity-operator` },
                    containers: [
                        { name: "topic-operator", securityContext: get(eo, "template.topicOperatorContainer.securityContext"), resources: get(eo, "topicOperator.resources") },
                        { name: "user-operator", securityContext: get(eo, "template.userOperatorContainer.securityContext"), resources: get(eo, "userOperator.resources") },
                    ].filter((c) => get(eo, c.name === "topic-operator" ? "topicOperator" : "userOperator") != null),
                });
            }
        } else if (is(o, "kafka.strimzi.io", "KafkaNodePool")) {
            // Broker pods: the node pool's template wins, else the Kafka resource's; resources live on the pool.
            const cluster = o.manifest?.metadata?.labels?.["strimzi.io/cluster"];
            const kafka = objects.find((k) => is(k, "kafka.strimzi.io", "Kafka") && k.name === cluster && k.namespace === o.namespace);
            const template = (part: string) => get(o.manifest, `spec.template.${part}`) ?? get(kafka?.manifest, `spec.kafka.template.${part}`);
            found.push({
                where: `${label(o)}/broker`,
                object: o,
                podSecurityContext: template("pod.securityContext"),
                podLabels: { "strimzi.io/cluster": String(cluster), "strimzi.io/pool-name": o.name },
                containers: [{ name: "kafka", securityContext: template("kafkaContainer.securityContext"), resources: get(o.manifest, "spec.resources") }],
            });
        } else if (is(o, "postgresql.cnpg.io", "Cluster")) {
            // CloudNativePG renders every instance pod with the restricted profile (non-root uid 26, no escalation,
            // ALL capabilities dropped, seccomp RuntimeDefault); only resources come from the Cluster spec.
            found.push({
                where: `${label(o)}/postgres`,
                object: o,
                podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
                podLabels: { "cnpg.io/cluster": o.name },
                containers: [{ name: "postgres", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } }, resources: get(o.manifest, "spec.resources") }],
            });
        } else if (is(o, "monitoring.coreos.com", "Prometheus", "Alertmanager")) {
            // The operator's StatefulSet: pod securityContext from the spec, the main container's settings as a
            // strategic-merge patch in `containers` (by container name), its resources from spec.resources.
            const main = o.kind.toLowerCase();
            found.push({
                where: `${label(o)}/${main}`,
                object: o,
                podSecurityContext: get(o.manifest, "spec.securityContext"),
                podLabels: { "app.kubernetes.io/name": main, "app.kubernetes.io/instance": o.name, [main]: o.name },
                containers: [{ name: main, securityContext: get(o.manifest, `spec.containers[name=${main}].securityContext`), resources: get(o.manifest, "spec.resources") }],
            });
        }
    }
    return found;
}

// ------------------------------------------------------------------------------------------- rules
function waive(ruleId: string, stack: string, violation: string): RuleException | undefined {
    return EXCEPTIONS.find((e) => e.rule === ruleId && e.stacks.includes(stack) && e.match.test(violation));
}

function outcome(ruleId: string, title: string, ctx: RuleContext, violations: string[], passEvidence: string[]): RuleOutcome {
    const waived: string[] = [];
    const remaining: string[] = [];
    for (const v of violations) {
        const e = waive(ruleId, ctx.stack, v);
        if (e) waived.push(`${v} — exception: ${e.reason}`);
        else remaining.push(v);
    }
    const ok = remaining.length === 0 && (passEvidence.length > 0 || waived.length > 0);
    const evidence = remaining.length ? remaining : passEvidence.length ? passEvidence : ["nothing to judge: no evidence found"];
    return { id: ruleId, title, ok, evidence, waived };
}

const containerCount = (all: Workload[]) => all.reduce((n, w) => n + w.containers.length, 0);

export function restrictedSecurityContext(ctx: RuleContext): RuleOutcome {
    const all = workloads(ctx.resources);
    const violations: string[] = [];
    for (const w of all) {
        const pod = w.podSecurityContext ?? {};
        for (const c of w.containers) {
            const sc = c.securityContext ?? {};
            const problems: string[] = [];
            if (sc.runAsNonRoot !== true && !(pod.runAsNonRoot === true && sc.runAsNonRoot !== false)) problems.push("runAsNonRoot not true");
            if (sc.runAsUser === 0 || (sc.runAsUser == null && pod.runAsUser === 0)) problems.push("runAsUser 0");
            if (sc.allowPrivilegeEscalation !== false) problems.push("allowPrivilegeEscalation not false");
            if (!(sc.capabilities?.drop ?? []).map((x: string) => String(x).toUpperCase()).includes("ALL")) problems.push("capabilities.drop lacks ALL");
            if ((sc.seccompProfile?.type ?? pod.seccompProfile?.type) !== "RuntimeDefault" && (sc.seccompProfile?.type ?? pod.seccompProfile?.type) !== "Localhost") problems.push("seccompProfile not RuntimeDefault");
            if (sc.privileged === true) problems.push("privileged");
            if (problems.length) violations.push(`${w.where} container ${c.name}: ${problems.join(", ")}`);
        }
    }
    return outcome("restricted-security-context", "Every container runs with a restricted securityContext", ctx, violations,
        all.length ? [`${containerCount(all)} containers in ${all.length} workloads are restricted`] : []);
}

export function resourceRequestsAndLimits(ctx: RuleContext): RuleOutcome {
    const all = workloads(ctx.resources);
    const violations: string[] = [];
    for (const w of all) {
        for (const c of w.containers) {
            const missing = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"].filter((p) => get(c.resources ?? {}, p) == null);
            if (missing.length) violations.push(`${w.where} container ${c.name}: missing ${missing.join(", ")}`);
        }
    }
    return outcome("resources", "Every container has CPU and memory requests and limits", ctx, violations,
        all.length ? [`${containerCount(all)} containers in ${all.length} workloads have requests and limits`] : []);
}

/** Does a label selector (matchLabels + matchExpressions) select these labels? An empty selector selects nothing (policy/v1). */
export function selects(selector: any, labels: Record<string, string>): boolean {
    const matchLabels: Record<string, string> = selector?.matchLabels ?? {};
    const expressions: any[] = selector?.matchExpressions ?? [];
    if (!Object.keys(matchLabels).length && !expressions.length) return false;
    if (!Object.entries(matchLabels).every(([k, v]) => labels[k] === v)) return false;
    return expressions.every((e) => {
        const has = Object.prototype.hasOwnProperty.call(labels, e.key);
        const values: string[] = e.values ?? [];
        switch (e.operator) {
            case "In": return has && values.includes(labels[e.key]);
            case "NotIn": return !has || !values.includes(labels[e.key]);
            case "Exists": return has;
            case "DoesNotExist": return !has;
            default: return false;
        }
    });
}

const blocksEveryDisruption = (spec: any, replicas: number) =>
    spec?.maxUnavailable === 0 || spec?.maxUnavailable === "0%" || (typeof spec?.minAvailable === "number" && spec.minAvailable >= replicas) || spec?.minAvailable === "100%";

export function haDisruptionBudgets(ctx: RuleContext): RuleOutcome {
    const id = "pdb";
    const title = "HA components have PodDisruptionBudgets (prod)";
    if (ctx.stack !== "prod") return { id, title, ok: true, evidence: [`not required in ${ctx.stack}`], waived: [] };
    const objects = kubeObjects(ctx.resources);
    const pdbs = objects.filter((o) => is(o, "policy", "PodDisruptionBudget"));
    // Autoscaled targets: KEDA ScaledObjects and HorizontalPodAutoscalers, by target kind/name.
    const maxScale = new Map<string, number>();
    for (const o of objects) {
        const target = o.manifest?.spec?.scaleTargetRef;
        if (!target?.name) continue;
        if (is(o, "keda.sh", "ScaledObject")) maxScale.set(`${o.namespace}/${target.kind ?? "Deployment"}/${target.name}`, Number(o.manifest?.spec?.maxReplicaCount ?? 100));
        if (is(o, "autoscaling", "HorizontalPodAutoscaler")) maxScale.set(`${o.namespace}/${target.kind}/${target.name}`, Number(o.manifest?.spec?.maxReplicas ?? 1));
    }
    const violations: string[] = [];
    const evidence: string[] = [];
    const judge = (what: string, namespace: string | undefined, labels: Record<string, string>, replicas: number) => {
        const budget = pdbs.find((p) => (p.namespace ?? namespace) === namespace && selects(p.manifest?.spec?.selector, labels));
        if (!budget) violations.push(`${what}: no PodDisruptionBudget selects its pods`);
        else if (blocksEveryDisruption(budget.manifest?.spec, replicas)) violations.push(`${what}: PodDisruptionBudget ${budget.name} allows no disruption (node drains would hang)`);
        else evidence.push(`${what}: PodDisruptionBudget ${budget.name}`);
    };
    for (const w of workloads(ctx.resources)) {
        const o = w.object;
        if (is(o, "apps", "Deployment", "StatefulSet")) {
            const scaled = maxScale.get(`${o.namespace}/${o.kind}/${o.name}`);
            const replicas = Number(o.manifest?.spec?.replicas ?? 1);
            if (scaled !== undefined ? scaled > 1 : replicas > 1) {
                judge(`${label(o)} (${scaled !== undefined ? `autoscaled to ${scaled}` : `${replicas} replicas`})`, o.namespace, w.podLabels, scaled !== undefined ? scaled : replicas);
            }
        } else if (is(o, "monitoring.coreos.com", "Prometheus", "Alertmanager")) {
            const replicas = Number(o.manifest?.spec?.replicas ?? 1) * Number(o.manifest?.spec?.shards ?? 1);
            if (replicas > 1) judge(`${label(o)} (${replicas} replicas)`, o.namespace, w.podLabels, replicas);
        } else if (is(o, "kafka.strimzi.io", "KafkaNodePool")) {
            // Strimzi makes one PodDisruptionBudget per Kafka cluster (maxUnavailable 1 unless the template says otherwise).
            const replicas = Number(o.manifest?.spec?.replicas ?? 1);
            if (replicas <= 1) continue;
            const cluster = objects.find((k) => is(k, "kafka.strimzi.io", "Kafka") && k.name === o.manifest?.metadata?.labels?.["strimzi.io/cluster"]);
            const max = get(cluster?.manifest, "spec.kafka.template.podDisruptionBudget.maxUnavailable") ?? 1;
            (max === 0 ? violations : evidence).push(`${label(o)} (${replicas} replicas): Strimzi's PodDisruptionBudget, maxUnavailable ${max}`);
        } else if (is(o, "postgresql.cnpg.io", "Cluster")) {
            const instances = Number(o.manifest?.spec?.instances ?? 1);
            if (instances <= 1) continue;
            const on = o.manifest?.spec?.enablePDB !== false;
            (on ? evidence : violations).push(`${label(o)} (${instances} instances): CloudNativePG PodDisruptionBudget ${on ? "on" : "off (spec.enablePDB false)"}`);
        }
    }
    return outcome(id, title, ctx, violations, evidence);
}

export function networkPolicies(ctx: RuleContext): RuleOutcome {
    const policies = kubeObjects(ctx.resources).filter((o) => is(o, "networking.k8s.io", "NetworkPolicy"));
    const isDefaultDeny = (p: KubeObject) => {
        const spec = p.manifest?.spec ?? {};
        const selectsAll = spec.podSelector && Object.keys(spec.podSelector.matchLabels ?? {}).length === 0 && !(spec.podSelector.matchExpressions ?? []).length;
        const types = (spec.policyTypes ?? []) as string[];
        return selectsAll && types.includes("Ingress") && types.includes("Egress") && !(spec.ingress ?? []).length && !(spec.egress ?? []).length;
    };
    const denies = policies.filter(isDefaultDeny);
    const allows = policies.filter((p) => !isDefaultDeny(p));
    const violations: string[] = [];
    if (!denies.length) violations.push("no default-deny NetworkPolicy (podSelector {}, Ingress+Egress, no rules)");
    if (!allows.length) violations.push("no explicit allow NetworkPolicies");
    // Every namespace that runs workloads is covered by a default deny.
    const denied = new Set(denies.map((d) => d.namespace));
    const unguarded = [...new Set(workloads(ctx.resources).map((w) => w.object.namespace).filter((ns) => ns && denies.length && !denied.has(ns)))];
    for (const ns of unguarded) violations.push(`namespace ${ns} runs workloads without a default-deny NetworkPolicy`);
    const allowsByNs = new Map<string, number>();
    for (const a of allows) allowsByNs.set(a.namespace ?? "-", (allowsByNs.get(a.namespace ?? "-") ?? 0) + 1);
    return outcome("network-policies", "NetworkPolicies are default-deny with explicit allows", ctx, violations, [
        ...denies.map((p) => `NetworkPolicy ${p.name}${p.namespace ? ` (${p.namespace})` : ""}: default deny`),
        ...[...allowsByNs].map(([ns, n]) => `${n} allow NetworkPolicies in ${ns}`),
    ]);
}

/** Pulumi's marker for a secret value in serialized inputs (sdk runtime/rpc.ts). */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** What synth writes in place of a secret value (scripts/synth.ts REDACTED): rendered objects carry it where a secret went. */
export const REDACTED_MARKER = "[secret]";
/** An env var named like a credential (…_PASSWORD, …_TOKEN, SECRET_KEY, …) must take its value from a Secret. */
const SECRET_ENV_NAME = /(^|_)(PASSWORD|PASSWD|SECRET|SECRET_KEY|TOKEN|API_KEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS)$/i;

function isSecretValue(value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/**
 * Walks every input value (secret-marked values and a Kubernetes Secret's data/stringData excepted) and reports where
 * a generated secret, or the redaction marker of one, appears as plain text; and every container env var named like a
 * credential that carries a literal value instead of a secretKeyRef.
 */
export function noPlaintextSecrets(ctx: RuleContext): RuleOutcome {
    const secrets = ctx.secretPlaintexts.filter((s) => s.length >= 8);
    const violations: string[] = [];
    const visit = (where: string, value: unknown): void => {
        if (isSecretValue(value)) return; // marked secret: Pulumi encrypts it in state and Helm gets it from a Secret
        if (typeof value === "string") {
            if (secrets.some((s) => value.includes(s)) || value.includes(REDACTED_MARKER)) violations.push(`plaintext secret at ${where}`);
        } else if (Array.isArray(value)) {
            value.forEach((v, i) => visit(`${where}[${i}]`, v));
        } else if (value && typeof value === "object") {
            for (const [k, v] of Object.entries(value)) visit(`${where}.${k}`, v);
        }
    };
    const raw = ctx.rawResources ?? ctx.resources;
    for (const r of raw) {
        const o = kubeObject(r);
        if (o && o.apiVersion === "v1" && o.kind === "Secret") {
            const { data: _data, stringData: _stringData, ...rest } = r.inputs ?? {};
            visit(`${r.type}::${r.name}`, rest);
        } else {
            visit(`${r.type}::${r.name}`, r.inputs);
        }
    }
    const all = workloads(ctx.resources);
    for (const w of all) {
        for (const c of w.containers) {
            for (const e of c.env ?? []) {
                if (SECRET_ENV_NAME.test(String(e?.name ?? "")) && typeof e?.value === "string" && e.value !== "") {
                    violations.push(`${w.where} container ${c.name}: env ${e.name} is a literal value, not a secretKeyRef`);
                }
            }
        }
    }
    const objects = kubeObjects(ctx.resources).length;
    if (!secrets.length) {
        return { id: "no-plaintext-secrets", title: "No plaintext secret in any resource input", ok: false, evidence: [...violations, "no generated secrets known: can't judge"], waived: [] };
    }
    return outcome("no-plaintext-secrets", "No plaintext secret in any resource input", ctx, violations,
        [`${secrets.length} generated secrets checked against ${ctx.resources.length} resources' inputs (${objects} Kubernetes objects, Secrets' data excepted): none in plaintext`,
         `${containerCount(all)} containers: every credential-named env var comes from a Secret`]);
}

export function tlsAtIngress(ctx: RuleContext): RuleOutcome {
    const violations: string[] = [];
    const evidence: string[] = [];
    for (const o of kubeObjects(ctx.resources).filter((x) => is(x, "networking.k8s.io", "Ingress"))) {
        const tls: any[] = o.manifest?.spec?.tls ?? [];
        const hosts: string[] = (o.manifest?.spec?.rules ?? []).map((r: any) => r?.host).filter(Boolean);
        const covered = new Set(tls.flatMap((t) => t?.hosts ?? []));
        const uncovered = hosts.filter((h) => !covered.has(h));
        if (!tls.length) violations.push(`Ingress ${o.name}: without TLS`);
        else if (uncovered.length) violations.push(`Ingress ${o.name}: hosts without TLS: ${uncovered.join(", ")}`);
        else evidence.push(`Ingress ${o.name}: TLS for ${hosts.join(", ") || "every host"} (secret ${tls.map((t) => t?.secretName ?? "-").join(", ")})`);
    }
    if (ctx.stack === "prod" && !evidence.length && !violations.length) violations.push("prod exposes no ingress: the API server must be reachable over TLS");
    return outcome("tls-ingress", "TLS is on at ingress", ctx, violations, evidence);
}

export function encryptionAtRest(ctx: RuleContext): RuleOutcome {
    const buckets = ctx.resources.filter((r) => /^aws:s3\/bucket(V2)?:Bucket(V2)?$/.test(r.type));
    const sse = ctx.resources.filter((r) => /ServerSideEncryptionConfiguration/.test(r.type));
    const violations: string[] = [];
    const evidence: string[] = [];
    for (const b of buckets) {
        const has = sse.some((s) => s.name.startsWith(b.name)) || b.inputs?.serverSideEncryptionConfiguration;
        (has ? evidence : violations).push(`${b.name}: S3 ${has ? "encrypted (SSE)" : "without server-side encryption"}`);
    }
    for (const db of ctx.resources.filter((r) => r.type === "aws:rds/instance:Instance")) {
        const enc = db.inputs?.storageEncrypted === true;
        (enc ? evidence : violations).push(`${db.name}: RDS storage ${enc ? "encrypted" : "NOT encrypted"}`);
    }
    return outcome("encryption-at-rest", "S3 and RDS are encrypted at rest", ctx, violations, evidence);
}

// ------------------------------------------------------------------------------------------- Airflow configuration
/** airflow.cfg (INI) → section → key → value; later keys win, as in ConfigParser. */
export function parseAirflowCfg(text: string): Record<string, Record<string, string>> {
    const config: Record<string, Record<string, string>> = {};
    let section: Record<string, string> | undefined;
    let last: string | undefined;
    for (const line of text.split(/\r?\n/)) {
        if (/^\s*([#;]|$)/.test(line)) continue;
        const head = /^\[([^\]]+)\]\s*$/.exec(line);
        if (head) {
            section = config[head[1].trim().toLowerCase()] ??= {};
            last = undefined;
            continue;
        }
        if (!section) continue;
        if (/^\s/.test(line) && last) {
            section[last] += `\n${line.trim()}`; // continuation line
            continue;
        }
        const kv = /^([^=:]+?)\s*[=:]\s?(.*)$/.exec(line);
        if (kv) {
            last = kv[1].trim().toLowerCase();
            section[last] = kv[2].trim();
        }
    }
    return config;
}

/** Each Airflow release's rendered configuration: the `<release>-config` ConfigMap's `airflow.cfg` key. */
export function airflowConfigs(ctx: RuleContext): { name: string; config: Record<string, Record<string, string>> }[] {
    return kubeObjects(ctx.resources)
        .filter((o) => o.apiVersion === "v1" && o.kind === "ConfigMap" && typeof o.manifest?.data?.["airflow.cfg"] === "string")
        .map((o) => ({ name: o.name.replace(/-config$/, ""), config: parseAirflowCfg(o.manifest.data["airflow.cfg"]) }));
}

function airflowConfigRule(id: string, title: string, ctx: RuleContext, judge: (config: any) => string | undefined, describe: (config: any) => string): RuleOutcome {
    const releases = airflowConfigs(ctx);
    if (!releases.length) return { id, title, ok: false, evidence: ["no Airflow configuration in this stack (no ConfigMap with airflow.cfg): can't judge"], waived: [] };
    const violations = releases.flatMap(({ name, config }) => {
        const problem = judge(config);
        return problem ? [`${name}: ${problem}`] : [];
    });
    return outcome(id, title, ctx, violations, releases.map(({ name, config }) => `${name}: ${describe(config)}`));
}

export function remoteLogging(ctx: RuleContext): RuleOutcome {
    return airflowConfigRule("remote-logging", "Remote logging is on", ctx,
        (c) => {
            if (String(c.logging?.remote_logging).toLowerCase() !== "true") return "[logging] remote_logging is not True";
            return c.logging?.remote_base_log_folder ? undefined : "[logging] remote_base_log_folder is empty";
        },
        (c) => `airflow.cfg: remote logs → ${c.logging?.remote_base_log_folder} (connection ${c.logging?.remote_log_conn_id ?? "-"})`);
}

export function secretsBackend(ctx: RuleContext): RuleOutcome {
    return airflowConfigRule("secrets-backend", "A secrets backend is configured", ctx,
        (c) => (c.secrets?.backend ? undefined : "[secrets] backend is empty"),
        (c) => `airflow.cfg: [secrets] backend = ${c.secrets?.backend}`);
}

function transportType(transport: string | undefined): string {
    if (!transport) return "-";
    try {
        return JSON.parse(transport).type ?? "set";
    } catch {
        return "set (not JSON)";
    }
}

export function openLineage(ctx: RuleContext): RuleOutcome {
    return airflowConfigRule("openlineage", "OpenLineage is active", ctx,
        (c) => {
            const ol = c.openlineage ?? {};
            if (String(ol.disabled).toLowerCase() === "true") return "[openlineage] disabled";
            return ol.transport || ol.config_path ? undefined : "[openlineage] transport is not set";
        },
        (c) => `airflow.cfg: [openlineage] namespace ${c.openlineage?.namespace}, transport ${transportType(c.openlineage?.transport)}`);
}

export function auditLogging(ctx: RuleContext): RuleOutcome {
    const audits = ctx.resources.filter((r) => r.type === "vault:index/audit:Audit");
    const vaultOn = ctx.resources.some((r) => r.type.startsWith("vault:"));
    const violations = vaultOn && !audits.length ? ["Vault has no audit device"] : [];
    const evidence = audits.map((a) => `${a.name}: Vault audit device (${a.inputs?.type})`);
    for (const { name } of airflowConfigs(ctx)) evidence.push(`${name}: Airflow event log (REST API v2 /eventLogs) read by phase16_03_audit_compliance`);
    return outcome("audit-logging", "Audit logging is enabled", ctx, violations, evidence);
}

/**
 * Resource names derive from one platform name: `<platform>` or `<platform>-<component>[-<part>...]`, kebab-case.
 * A chart's objects are named `<chart resource>:<namespace>/<object>` by helm.v4.Chart; their chart resource part is judged.
 */
export function namingScheme(ctx: RuleContext): RuleOutcome {
    const platform = ctx.resources.find((r) => r.type === "airflow-platform:index:Platform");
    if (!platform) return { id: "naming", title: "Resource names follow one scheme", ok: false, evidence: ["no Platform component: can't judge"], waived: [] };
    const prefix = platform.name;
    const skip = (r: PolicyResource) => r.type === "pulumi:pulumi:Stack" || r.type.startsWith("pulumi:providers:");
    const judged = ctx.resources.filter((r) => !skip(r));
    const own = (r: PolicyResource) => r.name.split(":")[0];
    const bad = judged.filter((r) => {
        const name = own(r);
        return !(name === prefix || (name.startsWith(`${prefix}-`) && /^[a-z0-9]+(-[a-z0-9]+)*$/.test(name)));
    });
    const chartObjects = judged.filter((r) => r.name.includes(":")).length;
    return outcome("naming", "Resource names follow one scheme", ctx, bad.map((r) => `${r.type} ${r.name} does not follow ${prefix}-<component>-<part>`),
        [`${judged.length - chartObjects} resources named ${prefix}-<component>-<part> (kebab-case)` + (chartObjects ? `; ${chartObjects} chart objects under such a chart resource` : "")]);
}

export const RULES: ((ctx: RuleContext) => RuleOutcome)[] = [
    restrictedSecurityContext,
    resourceRequestsAndLimits,
    haDisruptionBudgets,
    networkPolicies,
    noPlaintextSecrets,
    tlsAtIngress,
    encryptionAtRest,
    remoteLogging,
    secretsBackend,
    openLineage,
    auditLogging,
    namingScheme,
];

export function evaluateRules(ctx: RuleContext): RuleOutcome[] {
    return RULES.map((rule) => {
        try {
            return rule(ctx);
        } catch (e) {
            return { id: rule.name, title: rule.name, ok: false, evidence: [`could not evaluate: ${(e as Error).message}`], waived: [] };
        }
    });
}
