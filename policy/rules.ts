/**
 * The platform's infrastructure rules, as pure functions over the resources a stack registers
 * (type, name, inputs). The same rules run offline against synth (scripts/checklist.ts) and inside the
 * @pulumi/policy pack (policy/index.ts) during `pulumi preview --policy-pack policy`.
 *
 * Helm releases are one resource whose `values` input holds the workloads; per-chart extractors read
 * the containers' security contexts and resources out of those values, so a chart is judged by what it
 * will render, not waved through.
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

// ------------------------------------------------------------------------------------------- workloads
export interface Container {
    name: string;
    securityContext?: any;
    resources?: any;
}

export interface Workload {
    /** "<resource name>/<component>" — what the report names. */
    where: string;
    podSecurityContext?: any;
    containers: Container[];
}

const RAW_WORKLOADS: Record<string, (inputs: any) => any> = {
    "kubernetes:apps/v1:Deployment": (i) => i?.spec?.template?.spec,
    "kubernetes:apps/v1:StatefulSet": (i) => i?.spec?.template?.spec,
    "kubernetes:apps/v1:DaemonSet": (i) => i?.spec?.template?.spec,
    "kubernetes:batch/v1:Job": (i) => i?.spec?.template?.spec,
    "kubernetes:batch/v1:CronJob": (i) => i?.spec?.jobTemplate?.spec?.template?.spec,
};

const HELM_TYPES = new Set(["kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart"]);

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

function podSpecWorkload(where: string, spec: any): Workload {
    const containers = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map((c: any) => ({
        name: c.name ?? "?",
        securityContext: c.securityContext,
        resources: c.resources,
    }));
    return { where, podSecurityContext: spec?.securityContext, containers };
}

/** A component of a chart: where its pod and container security contexts and resources live in values. */
interface ChartComponent {
    name: string;
    enabled?: (values: any) => boolean;
    pod: string[];
    container: string[];
    resources: string;
}

function fromChart(release: string, values: any, components: ChartComponent[]): Workload[] {
    const first = (paths: string[]) => paths.map((p) => get(values, p)).find((v) => v != null);
    return components
        .filter((c) => (c.enabled ? c.enabled(values) : true))
        .map((c) => ({
            where: `${release}/${c.name}`,
            podSecurityContext: first(c.pod),
            containers: [{ name: c.name, securityContext: first(c.container), resources: get(values, c.resources) }],
        }));
}

function airflowComponents(values: any): ChartComponent[] {
    const executor = String(get(values, "executor") ?? "");
    const celery = executor.includes("CeleryExecutor");
    const comp = (name: string, key: string, enabled?: (v: any) => boolean): ChartComponent => ({
        name,
        enabled,
        pod: [`${key}.securityContexts.pod`, "securityContexts.pod"],
        container: [`${key}.securityContexts.container`, "securityContexts.containers"],
        resources: `${key}.resources`,
    });
    return [
        comp("scheduler", "scheduler"),
        comp("apiServer", "apiServer"),
        comp("triggerer", "triggerer", (v) => get(v, "triggerer.enabled") !== false),
        comp("dagProcessor", "dagProcessor", (v) => get(v, "dagProcessor.enabled") !== false),
        comp("workers", "workers.celery", () => celery),
        comp("statsd", "statsd", (v) => get(v, "statsd.enabled") !== false),
        comp("pgbouncer", "pgbouncer", (v) => get(v, "pgbouncer.enabled") === true),
        comp("redis", "redis", (v) => celery && get(v, "redis.enabled") !== false),
        comp("migrateDatabaseJob", "migrateDatabaseJob", (v) => get(v, "migrateDatabaseJob.enabled") !== false),
        comp("createUserJob", "createUserJob", (v) => get(v, "createUserJob.enabled") !== false),
    ];
}

const simpleChart = (name: string, pod: string, container: string | string[], resources: string): ChartComponent => ({
    name,
    pod: [pod],
    container: Array.isArray(container) ? container : [container],
    resources,
});

/** Chart name → where its workloads are in values. */
const CHART_COMPONENTS: Record<string, (values: any) => ChartComponent[]> = {
    airflow: airflowComponents,
    vault: (v) => [
        simpleChart("server", "server.statefulSet.securityContext.pod", "server.statefulSet.securityContext.container", "server.resources"),
        ...(get(v, "injector.enabled") === false ? [] : [simpleChart("injector", "injector.securityContext.pod", "injector.securityContext.container", "injector.resources")]),
    ],
    mlflow: () => [simpleChart("mlflow", "podSecurityContext", "securityContext", "resources")],
    marquez: () => [
        simpleChart("api", "marquez.podSecurityContext", "marquez.securityContext", "marquez.resources"),
        simpleChart("web", "web.podSecurityContext", "web.securityContext", "web.resources"),
    ],
    "strimzi-kafka-operator": () => [simpleChart("operator", "podSecurityContext", "securityContext", "resources")],
    "cloudnative-pg": () => [simpleChart("operator", "podSecurityContext", "containerSecurityContext", "resources")],
    "kube-prometheus-stack": (v) => [
        // The Prometheus/Alertmanager CRs take container settings as a strategic-merge patch in `containers`, by container name.
        simpleChart("prometheus", "prometheus.prometheusSpec.securityContext",
            ["prometheus.prometheusSpec.containers[name=prometheus].securityContext", "prometheus.prometheusSpec.containerSecurityContext"], "prometheus.prometheusSpec.resources"),
        simpleChart("alertmanager", "alertmanager.alertmanagerSpec.securityContext",
            ["alertmanager.alertmanagerSpec.containers[name=alertmanager].securityContext", "alertmanager.alertmanagerSpec.containerSecurityContext"], "alertmanager.alertmanagerSpec.resources"),
        simpleChart("operator", "prometheusOperator.securityContext", "prometheusOperator.containerSecurityContext", "prometheusOperator.resources"),
        simpleChart("grafana", "grafana.securityContext", "grafana.containerSecurityContext", "grafana.resources"),
        // Subcharts on by default: judged unless switched off.
        ...(get(v, "kubeStateMetrics.enabled") === false
            ? []
            : [simpleChart("kube-state-metrics", "kube-state-metrics.securityContext", "kube-state-metrics.containerSecurityContext", "kube-state-metrics.resources")]),
        ...(get(v, "nodeExporter.enabled") === false
            ? []
            : [simpleChart("node-exporter", "prometheus-node-exporter.securityContext", "prometheus-node-exporter.containerSecurityContext", "prometheus-node-exporter.resources")]),
    ],
};

function chartName(inputs: any): string {
    const chart = String(inputs?.chart ?? "");
    return chart.split("/").pop()!.replace(/^oci:\/\/.*\//, "");
}

/** Every workload a stack will run: raw pod specs plus the components of each Helm release. */
export function workloads(resources: PolicyResource[]): { workloads: Workload[]; unknownCharts: string[] } {
    const found: Workload[] = [];
    const unknownCharts: string[] = [];
    for (const r of resources) {
        const raw = RAW_WORKLOADS[r.type];
        if (raw) {
            found.push(podSpecWorkload(r.name, raw(r.inputs)));
        } else if (HELM_TYPES.has(r.type)) {
            const chart = chartName(r.inputs);
            const components = CHART_COMPONENTS[chart];
            if (!components) {
                unknownCharts.push(`${r.name} (chart ${chart || "?"})`);
                continue;
            }
            found.push(...fromChart(r.name, r.inputs?.values ?? {}, components(r.inputs?.values ?? {})));
        } else if (r.type === "kubernetes:kafka.strimzi.io/v1:Kafka") {
            const eo = get(r.inputs, "spec.entityOperator");
            if (eo) {
                found.push({
                    where: `${r.name}/entity-operator`,
                    podSecurityContext: get(eo, "template.pod.securityContext"),
                    containers: [
                        { name: "topic-operator", securityContext: get(eo, "template.topicOperatorContainer.securityContext"), resources: get(eo, "topicOperator.resources") },
                        { name: "user-operator", securityContext: get(eo, "template.userOperatorContainer.securityContext"), resources: get(eo, "userOperator.resources") },
                    ].filter((c) => get(eo, c.name === "topic-operator" ? "topicOperator" : "userOperator") != null),
                });
            }
        } else if (r.type === "kubernetes:kafka.strimzi.io/v1:KafkaNodePool") {
            // Broker pods: the node pool's template wins, else the Kafka resource's; resources live on the pool.
            const kafka = resources.find((k) => k.type === "kubernetes:kafka.strimzi.io/v1:Kafka" && k.inputs?.metadata?.name === r.inputs?.metadata?.labels?.["strimzi.io/cluster"]);
            const template = (part: string) => get(r.inputs, `spec.template.${part}`) ?? get(kafka?.inputs, `spec.kafka.template.${part}`);
            found.push({
                where: `${r.name}/broker`,
                podSecurityContext: template("pod.securityContext"),
                containers: [{ name: "kafka", securityContext: template("kafkaContainer.securityContext"), resources: get(r.inputs, "spec.resources") }],
            });
        } else if (r.type === "kubernetes:postgresql.cnpg.io/v1:Cluster") {
            // CloudNativePG renders every instance pod with the restricted profile (non-root uid 26, no escalation,
            // ALL capabilities dropped, seccomp RuntimeDefault); only resources come from the Cluster spec.
            found.push({ where: `${r.name}/postgres`, podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } }, containers: [{ name: "postgres", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } }, resources: get(r.inputs, "spec.resources") }] });
        }
    }
    return { workloads: found, unknownCharts };
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

export function restrictedSecurityContext(ctx: RuleContext): RuleOutcome {
    const { workloads: all, unknownCharts } = workloads(ctx.resources);
    const violations = unknownCharts.map((c) => `${c}: no extractor knows this chart's workloads, so it can't be judged`);
    for (const w of all) {
        const pod = w.podSecurityContext ?? {};
        for (const c of w.containers) {
            const sc = c.securityContext ?? {};
            const problems: string[] = [];
            if (sc.runAsNonRoot !== true && pod.runAsNonRoot !== true) problems.push("runAsNonRoot not true");
            if (sc.allowPrivilegeEscalation !== false) problems.push("allowPrivilegeEscalation not false");
            if (!(sc.capabilities?.drop ?? []).map((x: string) => String(x).toUpperCase()).includes("ALL")) problems.push("capabilities.drop lacks ALL");
            if ((sc.seccompProfile?.type ?? pod.seccompProfile?.type) !== "RuntimeDefault") problems.push("seccompProfile not RuntimeDefault");
            if (sc.privileged === true) problems.push("privileged");
            if (problems.length) violations.push(`${w.where} container ${c.name}: ${problems.join(", ")}`);
        }
    }
    return outcome("restricted-security-context", "Every container runs with a restricted securityContext", ctx, violations,
        [`${all.reduce((n, w) => n + w.containers.length, 0)} containers in ${all.length} workloads are restricted`]);
}

export function resourceRequestsAndLimits(ctx: RuleContext): RuleOutcome {
    const { workloads: all } = workloads(ctx.resources);
    const violations: string[] = [];
    for (const w of all) {
        for (const c of w.containers) {
            const missing = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"].filter((p) => get(c.resources ?? {}, p) == null);
            if (missing.length) violations.push(`${w.where} container ${c.name}: missing ${missing.join(", ")}`);
        }
    }
    return outcome("resources", "Every container has CPU and memory requests and limits", ctx, violations,
        [`${all.reduce((n, w) => n + w.containers.length, 0)} containers have requests and limits`]);
}

function helmValues(ctx: RuleContext, chart: string): { name: string; values: any }[] {
    return ctx.resources.filter((r) => HELM_TYPES.has(r.type) && chartName(r.inputs) === chart).map((r) => ({ name: r.name, values: r.inputs?.values ?? {} }));
}

export function haDisruptionBudgets(ctx: RuleContext): RuleOutcome {
    if (ctx.stack !== "prod") {
        return { id: "pdb", title: "HA components have PodDisruptionBudgets (prod)", ok: true, evidence: [`not required in ${ctx.stack}`], waived: [] };
    }
    const violations: string[] = [];
    const evidence: string[] = [];
    for (const { name, values } of helmValues(ctx, "airflow")) {
        for (const key of ["scheduler", "apiServer", "triggerer", "dagProcessor", "workers.celery", "pgbouncer"]) {
            if (key === "pgbouncer" && get(values, "pgbouncer.enabled") !== true) continue;
            const enabled = get(values, `${key}.podDisruptionBudget.enabled`) === true;
            (enabled ? evidence : violations).push(`${name}/${key}: PodDisruptionBudget ${enabled ? "enabled" : "missing"}`);
        }
    }
    for (const { name, values } of helmValues(ctx, "vault")) {
        const ha = get(values, "server.ha.enabled") === true;
        const pdb = get(values, "server.ha.disruptionBudget.enabled") !== false;
        (ha && pdb ? evidence : violations).push(`${name}/server: ${ha ? "HA" : "not HA"}, disruption budget ${pdb ? "on" : "off"}`);
    }
    for (const r of ctx.resources.filter((x) => x.type === "kubernetes:policy/v1:PodDisruptionBudget")) evidence.push(`${r.name}: PodDisruptionBudget`);
    for (const r of ctx.resources.filter((x) => x.type === "kubernetes:postgresql.cnpg.io/v1:Cluster")) {
        const on = get(r.inputs, "spec.enablePDB") !== false;
        (on ? evidence : violations).push(`${r.name}: CloudNativePG PDB ${on ? "on" : "off"}`);
    }
    return outcome("pdb", "HA components have PodDisruptionBudgets (prod)", ctx, violations, evidence);
}

export function networkPolicies(ctx: RuleContext): RuleOutcome {
    const policies = ctx.resources.filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy");
    const isDefaultDeny = (p: PolicyResource) => {
        const spec = p.inputs?.spec ?? {};
        const selectsAll = spec.podSelector && Object.keys(spec.podSelector.matchLabels ?? {}).length === 0 && !(spec.podSelector.matchExpressions ?? []).length;
        const types = (spec.policyTypes ?? []) as string[];
        return selectsAll && types.includes("Ingress") && types.includes("Egress") && !(spec.ingress ?? []).length && !(spec.egress ?? []).length;
    };
    const denies = policies.filter(isDefaultDeny);
    const allows = policies.filter((p) => !isDefaultDeny(p));
    const chartPolicies = helmValues(ctx, "airflow").filter(({ values }) => get(values, "networkPolicies.enabled") === true);
    const violations: string[] = [];
    if (!denies.length) violations.push("no default-deny NetworkPolicy (podSelector {}, Ingress+Egress, no rules)");
    if (!allows.length && !chartPolicies.length) violations.push("no explicit allow NetworkPolicies");
    return outcome("network-policies", "NetworkPolicies are default-deny with explicit allows", ctx, violations, [
        ...denies.map((p) => `${p.name}: default deny`),
        ...allows.map((p) => `${p.name}: allow`),
        ...chartPolicies.map(({ name }) => `${name}: chart networkPolicies.enabled`),
    ]);
}

/** Pulumi's marker for a secret value in serialized inputs (sdk runtime/rpc.ts). */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

function isSecretValue(value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** Walks every input value (secret-marked values excepted) and reports where a generated secret appears as plain text. */
export function noPlaintextSecrets(ctx: RuleContext): RuleOutcome {
    const secrets = ctx.secretPlaintexts.filter((s) => s.length >= 8);
    const violations: string[] = [];
    const visit = (where: string, value: unknown): void => {
        if (isSecretValue(value)) return; // marked secret: Pulumi encrypts it in state and Helm gets it from a Secret
        if (typeof value === "string") {
            if (secrets.some((s) => value.includes(s))) violations.push(where);
        } else if (Array.isArray(value)) {
            value.forEach((v, i) => visit(`${where}[${i}]`, v));
        } else if (value && typeof value === "object") {
            for (const [k, v] of Object.entries(value)) visit(`${where}.${k}`, v);
        }
    };
    for (const r of ctx.rawResources ?? ctx.resources) visit(`${r.type}::${r.name}`, r.inputs);
    if (!secrets.length) {
        return { id: "no-plaintext-secrets", title: "No plaintext secret in any resource input", ok: false, evidence: ["no generated secrets known: can't judge"], waived: [] };
    }
    return outcome("no-plaintext-secrets", "No plaintext secret in any resource input", ctx, violations.map((w) => `plaintext secret at ${w}`),
        [`${secrets.length} generated secrets checked against ${ctx.resources.length} resources' inputs (Helm values included): none in plaintext`]);
}

export function tlsAtIngress(ctx: RuleContext): RuleOutcome {
    const violations: string[] = [];
    const evidence: string[] = [];
    for (const r of ctx.resources.filter((x) => x.type === "kubernetes:networking.k8s.io/v1:Ingress")) {
        const tls = (r.inputs?.spec?.tls ?? []).length > 0;
        (tls ? evidence : violations).push(`${r.name}: Ingress ${tls ? "with" : "without"} TLS`);
    }
    for (const { name, values } of helmValues(ctx, "airflow")) {
        const ingress = get(values, "ingress.apiServer");
        if (ingress?.enabled) {
            const tls = ingress.tls?.enabled === true || (ingress.hosts ?? []).some((h: any) => h?.tls?.enabled);
            (tls ? evidence : violations).push(`${name}: apiServer ingress ${tls ? "with" : "without"} TLS`);
        }
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

function airflowConfig(ctx: RuleContext): { name: string; config: any }[] {
    return helmValues(ctx, "airflow").map(({ name, values }) => ({ name, config: values.config ?? {} }));
}

function airflowConfigRule(id: string, title: string, ctx: RuleContext, judge: (config: any) => string | undefined, describe: (config: any) => string): RuleOutcome {
    const releases = airflowConfig(ctx);
    if (!releases.length) return { id, title, ok: false, evidence: ["no Airflow release in this stack: can't judge"], waived: [] };
    const violations = releases.flatMap(({ name, config }) => {
        const problem = judge(config);
        return problem ? [`${name}: ${problem}`] : [];
    });
    return outcome(id, title, ctx, violations, releases.map(({ name, config }) => `${name}: ${describe(config)}`));
}

export function remoteLogging(ctx: RuleContext): RuleOutcome {
    return airflowConfigRule("remote-logging", "Remote logging is on", ctx,
        (c) => (String(c.logging?.remote_logging) === "True" ? undefined : "[logging] remote_logging is not True"),
        (c) => `remote logs → ${c.logging?.remote_base_log_folder}`);
}

export function secretsBackend(ctx: RuleContext): RuleOutcome {
    return airflowConfigRule("secrets-backend", "A secrets backend is configured", ctx,
        (c) => (c.secrets?.backend ? undefined : "[secrets] backend is empty"),
        (c) => `[secrets] backend = ${c.secrets?.backend}`);
}

export function openLineage(ctx: RuleContext): RuleOutcome {
    return airflowConfigRule("openlineage", "OpenLineage is active", ctx,
        (c) => {
            const ol = c.openlineage ?? {};
            if (String(ol.disabled) === "True") return "[openlineage] disabled";
            return ol.transport ? undefined : "[openlineage] transport is not set";
        },
        (c) => `[openlineage] namespace ${c.openlineage?.namespace}, transport ${c.openlineage?.transport ? JSON.parse(c.openlineage.transport).type ?? "set" : "-"}`);
}

export function auditLogging(ctx: RuleContext): RuleOutcome {
    const audits = ctx.resources.filter((r) => r.type === "vault:index/audit:Audit");
    const vaultOn = ctx.resources.some((r) => r.type.startsWith("vault:"));
    const violations = vaultOn && !audits.length ? ["Vault has no audit device"] : [];
    const evidence = audits.map((a) => `${a.name}: Vault audit device (${a.inputs?.type})`);
    for (const { name } of airflowConfig(ctx)) evidence.push(`${name}: Airflow event log (REST API v2 /eventLogs) read by phase16_03_audit_compliance`);
    return outcome("audit-logging", "Audit logging is enabled", ctx, violations, evidence);
}

/** Resource names derive from one platform name: `<platform>` or `<platform>-<component>[-<part>...]`, kebab-case. */
export function namingScheme(ctx: RuleContext): RuleOutcome {
    const platform = ctx.resources.find((r) => r.type === "airflow-platform:index:Platform");
    if (!platform) return { id: "naming", title: "Resource names follow one scheme", ok: false, evidence: ["no Platform component: can't judge"], waived: [] };
    const prefix = platform.name;
    const skip = (r: PolicyResource) => r.type === "pulumi:pulumi:Stack" || r.type.startsWith("pulumi:providers:");
    const bad = ctx.resources.filter((r) => !skip(r) && !(r.name === prefix || (r.name.startsWith(`${prefix}-`) && /^[a-z0-9]+(-[a-z0-9]+)*$/.test(r.name))));
    return outcome("naming", "Resource names follow one scheme", ctx, bad.map((r) => `${r.type} ${r.name} does not follow ${prefix}-<component>-<part>`),
        [`${ctx.resources.filter((r) => !skip(r)).length} resources named ${prefix}-<component>-<part> (kebab-case)`]);
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
