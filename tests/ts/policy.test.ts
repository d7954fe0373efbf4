import * as fs from "fs";
import * as path from "path";
import {
    auditLogging,
    encryptionAtRest,
    evaluateRules,
    haDisruptionBudgets,
    kubeObject,
    namingScheme,
    networkPolicies,
    noPlaintextSecrets,
    openLineage,
    parseAirflowCfg,
    PolicyResource,
    remoteLogging,
    resourceRequestsAndLimits,
    restrictedSecurityContext,
    RuleContext,
    secretsBackend,
    tlsAtIngress,
    workloads,
} from "../../policy/rules";
import { ensureRender, evaluateChecklist, kubeType, mergeChecklist, policyContext, render, renderedResources, seedChecklist } from "../../scripts/checklist";
import { runStack } from "../../offline/engine";

const restrictedSc = { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } };
const limits = { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "512Mi" } };
const restricted = { securityContext: restrictedSc, resources: limits };

/** A Kubernetes object as a live preview registers it (and as the checklist reads it from the render). */
function obj(apiVersion: string, kind: string, name: string, body: Record<string, unknown> = {}, namespace = "airflow-prod"): PolicyResource {
    return { type: kubeType(apiVersion, kind), name: `platform-x:${namespace}/${name}`, inputs: { apiVersion, kind, metadata: { name, namespace }, ...body } };
}

function deployment(name: string, container: Record<string, unknown>, extra: { replicas?: number; labels?: Record<string, string>; pod?: Record<string, unknown> } = {}): PolicyResource {
    const labels = extra.labels ?? { app: name };
    return obj("apps/v1", "Deployment", name, {
        spec: { replicas: extra.replicas ?? 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { ...(extra.pod ?? {}), containers: [{ name: "app", ...container }] } } },
    });
}

function configMap(name: string, data: Record<string, string>): PolicyResource {
    return obj("v1", "ConfigMap", name, { data });
}

const AIRFLOW_CFG = `[core]
executor = CeleryExecutor

[logging]
remote_logging = True
remote_base_log_folder = s3://logs/airflow
remote_log_conn_id = aws_default

[secrets]
backend = airflow.providers.hashicorp.secrets.vault.VaultBackend

[openlineage]
namespace = airflow-prod
transport = {"type":"http","url":"http://marquez"}
`;

function ctx(resources: PolicyResource[], stack = "prod", secretPlaintexts: string[] = []): RuleContext {
    return { stack, resources, secretPlaintexts };
}

describe("Kubernetes objects", () => {
    test("the type token gives apiVersion and kind; a CustomResource takes them from its inputs; components are not objects", () => {
        expect(kubeType("v1", "Secret")).toBe("kubernetes:core/v1:Secret");
        expect(kubeType("kafka.strimzi.io/v1", "Kafka")).toBe("kubernetes:kafka.strimzi.io/v1:Kafka");
        expect(kubeObject(obj("v1", "Secret", "s"))).toMatchObject({ apiVersion: "v1", kind: "Secret", name: "s", namespace: "airflow-prod" });
        const cr = { type: "kubernetes:apiextensions.k8s.io/v1:CustomResource", name: "c", inputs: { apiVersion: "postgresql.cnpg.io/v1", kind: "Cluster", metadata: { name: "pg" }, spec: { instances: 3 } } };
        expect(kubeObject(cr)).toMatchObject({ apiVersion: "postgresql.cnpg.io/v1", kind: "Cluster", name: "pg" });
        expect(workloads([cr]).map((w) => w.where)).toEqual(["Cluster pg/postgres"]);
        expect(kubeObject({ type: "kubernetes:helm.sh/v4:Chart", name: "platform-airflow", inputs: { chart: "airflow", values: {} } })).toBeUndefined();
    });

    test("workloads are the pod templates of every built-in kind and the pods operators make from custom resources", () => {
        const job = obj("batch/v1", "Job", "migrate", { spec: { template: { spec: { containers: [{ name: "m" }] } } } });
        const cron = obj("batch/v1", "CronJob", "nightly", { spec: { jobTemplate: { spec: { template: { spec: { initContainers: [{ name: "i" }], containers: [{ name: "c" }] } } } } } });
        const pod = obj("v1", "Pod", "debug", { spec: { containers: [{ name: "p" }] } });
        const kafka = obj("kafka.strimzi.io/v1", "Kafka", "platform-kafka", { spec: { kafka: { template: { pod: { securityContext: { runAsNonRoot: true } } } }, entityOperator: { topicOperator: {}, userOperator: {} } } });
        const pool = obj("kafka.strimzi.io/v1", "KafkaNodePool", "dual", { spec: { replicas: 3, resources: limits } });
        (pool.inputs.metadata as any).labels = { "strimzi.io/cluster": "platform-kafka" };
        const prom = obj("monitoring.coreos.com/v1", "Prometheus", "prom", { spec: { securityContext: { runAsNonRoot: true }, containers: [{ name: "prometheus", securityContext: restrictedSc }] } });
        const found = workloads([job, cron, pod, kafka, pool, prom, configMap("cm", {})]);
        expect(found.map((w) => `${w.where}: ${w.containers.map((c) => c.name).join(",")}`)).toEqual([
            "Job migrate: m",
            "CronJob nightly: i,c",
            "Pod debug: p",
            "Kafka platform-kafka/entity-operator: topic-operator,user-operator",
            "KafkaNodePool dual/broker: kafka",
            "Prometheus prom/prometheus: prometheus",
        ]);
        expect(found[4].podSecurityContext).toEqual({ runAsNonRoot: true }); // the Kafka template, as the pool has none
    });
});

describe("each rule fails its fixture, naming the object", () => {
    test("restricted-security-context: a container that may escalate privileges, without the other controls", () => {
        const good = ctx([deployment("platform-web", restricted)]);
        expect(restrictedSecurityContext(good)).toMatchObject({ ok: true, evidence: ["1 containers in 1 workloads are restricted"] });
        const bad = restrictedSecurityContext(ctx([deployment("platform-web", { securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: true } })]));
        expect(bad.ok).toBe(false);
        expect(bad.evidence).toEqual(["Deployment platform-web container app: allowPrivilegeEscalation not false, capabilities.drop lacks ALL, seccompProfile not RuntimeDefault"]);
        const root = restrictedSecurityContext(ctx([deployment("platform-root", { securityContext: { ...restrictedSc, runAsNonRoot: undefined, runAsUser: 0, privileged: true } })]));
        expect(root.evidence).toEqual(["Deployment platform-root container app: runAsNonRoot not true, runAsUser 0, privileged"]);
        // The pod-level runAsNonRoot and seccompProfile count for every container.
        const podLevel = deployment("platform-pod", { securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }, { pod: { securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } } } });
        expect(restrictedSecurityContext(ctx([podLevel])).ok).toBe(true);
    });

    test("resources: a Deployment without requests", () => {
        expect(resourceRequestsAndLimits(ctx([deployment("platform-web", restricted)])).ok).toBe(true);
        const r = resourceRequestsAndLimits(ctx([deployment("platform-web", { securityContext: restrictedSc, resources: { limits: limits.limits } })]));
        expect(r).toMatchObject({ ok: false, evidence: ["Deployment platform-web container app: missing requests.cpu, requests.memory"] });
    });

    test("pdb: a prod Deployment of 2 replicas no PodDisruptionBudget selects; a budget that allows no disruption", () => {
        const web = deployment("platform-web", restricted, { replicas: 2, labels: { app: "web", tier: "x" } });
        expect(haDisruptionBudgets(ctx([web])).evidence).toEqual(["Deployment platform-web (2 replicas): no PodDisruptionBudget selects its pods"]);
        expect(haDisruptionBudgets(ctx([web], "staging"))).toMatchObject({ ok: true, evidence: ["not required in staging"] });
        const pdb = (spec: Record<string, unknown>) => obj("policy/v1", "PodDisruptionBudget", "platform-web-pdb", { spec: { selector: { matchLabels: { app: "web" } }, ...spec } });
        expect(haDisruptionBudgets(ctx([web, pdb({ maxUnavailable: 1 })]))).toMatchObject({ ok: true, evidence: ["Deployment platform-web (2 replicas): PodDisruptionBudget platform-web-pdb"] });
        expect(haDisruptionBudgets(ctx([web, pdb({ maxUnavailable: 0 })])).evidence).toEqual([
            "Deployment platform-web (2 replicas): PodDisruptionBudget platform-web-pdb allows no disruption (node drains would hang)",
        ]);
        // A budget in another namespace or with a selector that misses the pods does not count.
        const elsewhere = obj("policy/v1", "PodDisruptionBudget", "other", { spec: { maxUnavailable: 1, selector: { matchLabels: { app: "web" } } } }, "kube-system");
        const misses = obj("policy/v1", "PodDisruptionBudget", "misses", { spec: { maxUnavailable: 1, selector: { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["x"] }] } } });
        expect(haDisruptionBudgets(ctx([web, elsewhere, misses])).ok).toBe(false);
        // Autoscaled by KEDA: judged by its maximum; one replica is not HA.
        const worker = deployment("platform-worker", restricted, { labels: { app: "worker" } });
        const scaled = obj("keda.sh/v1alpha1", "ScaledObject", "platform-worker", { spec: { scaleTargetRef: { name: "platform-worker" }, maxReplicaCount: 10 } });
        expect(haDisruptionBudgets(ctx([worker, scaled])).evidence).toEqual(["Deployment platform-worker (autoscaled to 10): no PodDisruptionBudget selects its pods"]);
        expect(haDisruptionBudgets(ctx([deployment("platform-one", restricted)]))).toMatchObject({ ok: false, evidence: ["nothing to judge: no evidence found"] });
        const cnpg = obj("postgresql.cnpg.io/v1", "Cluster", "platform-postgres", { spec: { instances: 3, enablePDB: false } });
        expect(haDisruptionBudgets(ctx([cnpg])).evidence).toEqual(["Cluster platform-postgres (3 instances): CloudNativePG PodDisruptionBudget off (spec.enablePDB false)"]);
    });

    test("network-policies: default deny plus an allow passes; neither fails; a namespace with workloads but no deny fails", () => {
        const deny = obj("networking.k8s.io/v1", "NetworkPolicy", "platform-default-deny", { spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } });
        const allow = obj("networking.k8s.io/v1", "NetworkPolicy", "platform-allow-dns", { spec: { podSelector: {}, policyTypes: ["Egress"], egress: [{ ports: [{ port: 53, protocol: "UDP" }] }] } });
        expect(networkPolicies(ctx([deny, allow]))).toMatchObject({ ok: true, evidence: ["NetworkPolicy platform-default-deny (airflow-prod): default deny", "1 allow NetworkPolicies in airflow-prod"] });
        expect(networkPolicies(ctx([])).evidence).toEqual(["no default-deny NetworkPolicy (podSelector {}, Ingress+Egress, no rules)", "no explicit allow NetworkPolicies"]);
        const stray = { ...deployment("platform-stray", restricted) };
        stray.inputs = { ...stray.inputs, metadata: { name: "platform-stray", namespace: "monitoring" } };
        expect(networkPolicies(ctx([deny, allow, stray])).evidence).toEqual(["namespace monitoring runs workloads without a default-deny NetworkPolicy"]);
    });

    test("no-plaintext-secrets: a secret in a ConfigMap, a redacted secret rendered into a ConfigMap, a literal password env", () => {
        const leak = configMap("cm", { url: "postgresql://u:s3cr3t-value-123@db/x" });
        const marked = obj("v1", "Secret", "s", { stringData: { p: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "s3cr3t-value-123" } } });
        const secret = obj("v1", "Secret", "plain-secret", { stringData: { p: "s3cr3t-value-123" } }); // a Secret's data is where a secret belongs
        const result = noPlaintextSecrets(ctx([leak, marked, secret], "dev", ["s3cr3t-value-123"]));
        expect(result.ok).toBe(false);
        expect(result.evidence).toEqual(["plaintext secret at kubernetes:core/v1:ConfigMap::platform-x:airflow-prod/cm.data.url"]);
        expect(noPlaintextSecrets(ctx([marked, secret], "dev", ["s3cr3t-value-123"])).ok).toBe(true);
        // Helm values reach the render redacted: the marker outside a Secret means a chart put a secret in plain text.
        const rendered = configMap("platform-x-config", { "app.ini": "password = [secret]" });
        expect(noPlaintextSecrets(ctx([rendered], "dev", ["s3cr3t-value-123"])).evidence).toEqual([
            "plaintext secret at kubernetes:core/v1:ConfigMap::platform-x:airflow-prod/platform-x-config.data.app.ini",
        ]);
        const env = deployment("platform-web", { ...restricted, env: [{ name: "DB_PASSWORD", value: "hunter2hunter2" }, { name: "API_TOKEN", valueFrom: { secretKeyRef: { name: "s", key: "t" } } }, { name: "AIRFLOW__SECRETS__BACKEND", value: "x" }] });
        expect(noPlaintextSecrets(ctx([env], "dev", ["s3cr3t-value-123"])).evidence).toEqual(["Deployment platform-web container app: env DB_PASSWORD is a literal value, not a secretKeyRef"]);
        // Without the generated secrets, it can't judge.
        expect(noPlaintextSecrets(ctx([deployment("a", restricted)]))).toMatchObject({ ok: false, evidence: ["no generated secrets known: can't judge"] });
    });

    test("tls-ingress: an Ingress without TLS, one with a host TLS leaves out; prod without any ingress", () => {
        expect(tlsAtIngress(ctx([])).evidence).toEqual(["prod exposes no ingress: the API server must be reachable over TLS"]);
        const ingress = (tls: unknown[]) => obj("networking.k8s.io/v1", "Ingress", "platform-api", { spec: { tls, rules: [{ host: "a.example.com" }, { host: "b.example.com" }] } });
        expect(tlsAtIngress(ctx([ingress([{ hosts: ["a.example.com", "b.example.com"], secretName: "t" }])]))).toMatchObject({ ok: true, evidence: ["Ingress platform-api: TLS for a.example.com, b.example.com (secret t)"] });
        expect(tlsAtIngress(ctx([ingress([])])).evidence).toEqual(["Ingress platform-api: without TLS"]);
        expect(tlsAtIngress(ctx([ingress([{ hosts: ["a.example.com"], secretName: "t" }])])).evidence).toEqual(["Ingress platform-api: hosts without TLS: b.example.com"]);
    });

    test("encryption-at-rest: a bucket without SSE, an unencrypted RDS instance", () => {
        const bucket = { type: "aws:s3/bucket:Bucket", name: "platform-aws-logs", inputs: {} };
        const db = { type: "aws:rds/instance:Instance", name: "platform-postgres-rds", inputs: { storageEncrypted: false } };
        expect(encryptionAtRest(ctx([bucket, db])).evidence).toEqual(["platform-aws-logs: S3 without server-side encryption", "platform-postgres-rds: RDS storage NOT encrypted"]);
        const sse = { type: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", name: "platform-aws-logs-sse", inputs: {} };
        expect(encryptionAtRest(ctx([bucket, sse])).ok).toBe(true);
        expect(encryptionAtRest(ctx([]))).toMatchObject({ ok: false, evidence: ["nothing to judge: no evidence found"] });
    });

    test("the Airflow items read the rendered airflow.cfg: remote logging off, no secrets backend, OpenLineage disabled", () => {
        const good = ctx([configMap("platform-airflow-config", { "airflow.cfg": AIRFLOW_CFG })]);
        expect(remoteLogging(good)).toMatchObject({ ok: true, evidence: ["platform-airflow: airflow.cfg: remote logs → s3://logs/airflow (connection aws_default)"] });
        expect(secretsBackend(good).ok).toBe(true);
        expect(openLineage(good)).toMatchObject({ ok: true, evidence: ["platform-airflow: airflow.cfg: [openlineage] namespace airflow-prod, transport http"] });
        const bad = ctx([configMap("platform-airflow-config", { "airflow.cfg": "[logging]\nremote_logging = False\n\n[secrets]\nbackend =\n\n[openlineage]\ndisabled = True\n" })]);
        expect(remoteLogging(bad).evidence).toEqual(["platform-airflow: [logging] remote_logging is not True"]);
        expect(secretsBackend(bad).evidence).toEqual(["platform-airflow: [secrets] backend is empty"]);
        expect(openLineage(bad).evidence).toEqual(["platform-airflow: [openlineage] disabled"]);
        expect(secretsBackend(ctx([]))).toMatchObject({ ok: false, evidence: ["no Airflow configuration in this stack (no ConfigMap with airflow.cfg): can't judge"] });
        expect(parseAirflowCfg("[a]\nk = v = w\nlong = 1\n  2\n")).toEqual({ a: { k: "v = w", long: "1\n2" } });
    });

    test("audit-logging: Vault without an audit device", () => {
        const vault = { type: "vault:kv/secretV2:SecretV2", name: "platform-vault-kv", inputs: {} };
        expect(auditLogging(ctx([vault])).evidence).toEqual(["Vault has no audit device"]);
        const audit = { type: "vault:index/audit:Audit", name: "platform-vault-audit", inputs: { type: "file" } };
        expect(auditLogging(ctx([vault, audit])).ok).toBe(true);
    });

    test("naming: a resource outside the scheme; a chart's objects are judged by their chart resource", () => {
        const platform = { type: "airflow-platform:index:Platform", name: "platform", inputs: {} };
        const ok = namingScheme(ctx([platform, deployment("strimzi-cluster-operator", restricted)]));
        expect(ok).toMatchObject({ ok: true, evidence: ["1 resources named platform-<component>-<part> (kebab-case); 1 chart objects under such a chart resource"] });
        const bad = namingScheme(ctx([platform, { type: "random:index/randomPassword:RandomPassword", name: "platform-x-SECRET_KEY", inputs: {} }]));
        expect(bad.evidence).toEqual(["random:index/randomPassword:RandomPassword platform-x-SECRET_KEY does not follow platform-<component>-<part>"]);
    });

    test("a waiver is shown next to the violation it waives", () => {
        const marquez = deployment("platform-marquez", { name: "marquez", resources: limits });
        const sc = restrictedSecurityContext(ctx([marquez]));
        expect(sc.ok).toBe(true);
        expect(sc.waived).toHaveLength(1);
        expect(sc.waived[0]).toMatch(/^Deployment platform-marquez container marquez: runAsNonRoot not true.* — exception: the Marquez chart 0\.51\.1/);
    });

    test("every rule returns an outcome even when one throws", () => {
        const outcomes = evaluateRules(ctx([{ type: "kubernetes:apps/v1:Deployment", name: "broken", inputs: null }]));
        expect(outcomes).toHaveLength(12);
        expect(outcomes.every((o) => typeof o.ok === "boolean" && o.evidence.length > 0)).toBe(true);
    });
});

describe("the checklist", () => {
    const markdown = fs.readFileSync(path.join(__dirname, "..", "..", "dags", "airflow_usecases.md"), "utf8");

    test("reads the seed's four groups and all their items", () => {
        const seed = seedChecklist(markdown);
        expect(seed.map((g) => g.group)).toEqual(["Core Operations", "Orchestration", "Security & Governance", "MLOps"]);
        expect(seed.map((g) => g.items.length)).toEqual([13, 5, 7, 6]);
    });

    test("an item no rule judges is ✗; infra and DAG judges must both pass", () => {
        const seed = [{ group: "Security & Governance", items: ["Secrets backend configured (Vault/AWS/GCP)", "Something new"] }];
        const merged = mergeChecklist(seed, [{ item: "Secrets backend configured (Vault/AWS/GCP)", group: "Security & Governance", ok: true, evidence: ["dag side"] }], [
            { id: "secrets-backend", title: "A secrets backend is configured", ok: false, evidence: ["[secrets] backend is empty"], waived: [] },
        ]);
        expect(merged[0]).toMatchObject({ ok: false, evidence: ["dag side", "[secrets] backend is empty"] });
        expect(merged[1]).toMatchObject({ item: "Something new", ok: false, evidence: ["no rule judges this item"] });
        expect(render("prod", merged)).toMatch(/✗ Something new\n {6}no rule judges this item/);
    });

    test("prod passes every item, with evidence", async () => {
        const items = await evaluateChecklist("prod");
        const failing = items.filter((i) => !i.ok).map((i) => `${i.group} / ${i.item}: ${i.evidence.slice(0, 3).join("; ")}`);
        expect(failing).toEqual([]);
        expect(items.every((i) => i.evidence.length > 0)).toBe(true);
    }, 300000);
});

describe("the rules over each stack's real render", () => {
    const outcomes = async (stack: string) => {
        const dir = ensureRender(stack, { log: () => undefined });
        const run = await runStack(stack);
        const context = policyContext(stack, run, dir);
        return { context, byId: new Map(evaluateRules(context).map((o) => [o.id, o])) };
    };

    test("rendered objects are named as a live preview names them; hooks are left out", () => {
        const dir = ensureRender("prod", { log: () => undefined });
        const objects = renderedResources(dir);
        expect(objects.find((r) => r.type === "kubernetes:apps/v1:Deployment" && r.inputs.metadata.name === "platform-airflow-scheduler")?.name).toBe("platform-airflow:airflow-prod/platform-airflow-scheduler");
        expect(objects.some((r) => r.inputs.metadata?.annotations?.["helm.sh/hook"])).toBe(false);
        expect(objects.some((r) => r.type === "kubernetes:kafka.strimzi.io/v1:KafkaNodePool")).toBe(true);
    }, 300000);

    test.each(["dev", "staging", "prod"])("%s: rules judge rendered Kubernetes objects, waivers shown", async (stack) => {
        const { context, byId } = await outcomes(stack);
        expect(context.resources.some((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.inputs?.values)).toBe(true); // kept for naming/plaintext, never judged as workloads
        const sc = byId.get("restricted-security-context")!;
        expect(sc.ok).toBe(true);
        expect(sc.waived.map((w) => w.split(":")[0])).toEqual(["Deployment platform-marquez container marquez", "Deployment platform-marquez-web container marquez-web"]);
        expect(byId.get("no-plaintext-secrets")!.ok).toBe(true);
        expect(byId.get("secrets-backend")!.ok).toBe(true);
        expect(byId.get("openlineage")!.ok).toBe(true);
        expect(byId.get("network-policies")!.ok).toBe(true);
        expect(byId.get("remote-logging")!.ok).toBe(stack !== "dev"); // dev keeps task logs on a volume
        expect(byId.get("tls-ingress")!.ok).toBe(stack !== "dev");
        expect(byId.get("encryption-at-rest")!.ok).toBe(stack !== "dev"); // dev has no S3/RDS
    }, 300000);
});
