import * as fs from "fs";
import * as path from "path";
import {
    encryptionAtRest,
    evaluateRules,
    networkPolicies,
    noPlaintextSecrets,
    PolicyResource,
    resourceRequestsAndLimits,
    restrictedSecurityContext,
    RuleContext,
    secretsBackend,
    tlsAtIngress,
    workloads,
} from "../../policy/rules";
import { evaluateChecklist, mergeChecklist, render, seedChecklist } from "../../scripts/checklist";

const restricted = {
    securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } },
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "512Mi" } },
};

function deployment(name: string, container: Record<string, unknown>): PolicyResource {
    return { type: "kubernetes:apps/v1:Deployment", name, inputs: { spec: { template: { spec: { containers: [{ name: "app", ...container }] } } } } };
}

function ctx(resources: PolicyResource[], stack = "prod", secretPlaintexts: string[] = []): RuleContext {
    return { stack, resources, secretPlaintexts };
}

describe("workload rules", () => {
    test("a restricted container with requests and limits passes", () => {
        const c = ctx([deployment("platform-web", restricted)]);
        expect(restrictedSecurityContext(c).ok).toBe(true);
        expect(resourceRequestsAndLimits(c).ok).toBe(true);
    });

    test("each missing control is named with the workload and container", () => {
        const c = ctx([deployment("platform-web", { securityContext: { runAsNonRoot: true } })]);
        const sc = restrictedSecurityContext(c);
        expect(sc.ok).toBe(false);
        expect(sc.evidence).toEqual([
            "platform-web container app: allowPrivilegeEscalation not false, capabilities.drop lacks ALL, seccompProfile not RuntimeDefault",
        ]);
        expect(resourceRequestsAndLimits(c).evidence).toEqual(["platform-web container app: missing requests.cpu, requests.memory, limits.cpu, limits.memory"]);
    });

    test("Helm values are judged per chart component, with the chart-wide default as fallback", () => {
        const chart: PolicyResource = {
            type: "kubernetes:helm.sh/v4:Chart",
            name: "platform-airflow",
            inputs: {
                chart: "airflow",
                values: {
                    executor: "CeleryExecutor",
                    securityContexts: { pod: restricted.securityContext, containers: restricted.securityContext },
                    scheduler: { resources: restricted.resources },
                    statsd: { securityContexts: { container: { runAsNonRoot: true } } },
                },
            },
        };
        const found = workloads([chart]).workloads.map((w) => w.where);
        expect(found).toEqual(expect.arrayContaining(["platform-airflow/scheduler", "platform-airflow/workers", "platform-airflow/redis"]));
        const sc = restrictedSecurityContext(ctx([chart]));
        expect(sc.evidence.join("\n")).toMatch(/platform-airflow\/statsd container statsd: allowPrivilegeEscalation not false/);
        expect(sc.evidence.join("\n")).not.toMatch(/scheduler/);
    });

    test("a chart no extractor knows can't be judged, so it fails rather than passes", () => {
        const sc = restrictedSecurityContext(ctx([{ type: "kubernetes:helm.sh/v4:Chart", name: "x", inputs: { chart: "mystery", values: {} } }]));
        expect(sc.ok).toBe(false);
        expect(sc.evidence[0]).toMatch(/x \(chart mystery\): no extractor knows/);
    });
});

describe("platform rules", () => {
    test("default deny plus an allow passes; neither fails", () => {
        const deny: PolicyResource = { type: "kubernetes:networking.k8s.io/v1:NetworkPolicy", name: "platform-default-deny", inputs: { spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } } };
        const allow: PolicyResource = { type: "kubernetes:networking.k8s.io/v1:NetworkPolicy", name: "platform-allow-dns", inputs: { spec: { podSelector: {}, policyTypes: ["Egress"], egress: [{ ports: [{ port: 53, protocol: "UDP" }] }] } } };
        expect(networkPolicies(ctx([deny, allow])).ok).toBe(true);
        expect(networkPolicies(ctx([])).evidence).toEqual(["no default-deny NetworkPolicy (podSelector {}, Ingress+Egress, no rules)", "no explicit allow NetworkPolicies"]);
    });

    test("a generated secret in plain inputs is found; a secret-marked one is not", () => {
        const leak: PolicyResource = { type: "kubernetes:core/v1:ConfigMap", name: "cm", inputs: { data: { url: "postgresql://u:s3cr3t-value-123@db/x" } } };
        const marked: PolicyResource = { type: "kubernetes:core/v1:Secret", name: "s", inputs: { stringData: { p: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "s3cr3t-value-123" } } } };
        const result = noPlaintextSecrets({ ...ctx([leak, marked], "dev", ["s3cr3t-value-123"]) });
        expect(result.ok).toBe(false);
        expect(result.evidence).toEqual(["plaintext secret at kubernetes:core/v1:ConfigMap::cm.data.url"]);
        expect(noPlaintextSecrets(ctx([marked], "dev", ["s3cr3t-value-123"])).ok).toBe(true);
    });

    test("a rule without data to judge is ✗ with the reason, never ✓", () => {
        expect(secretsBackend(ctx([]))).toMatchObject({ ok: false, evidence: ["no Airflow release in this stack: can't judge"] });
        expect(encryptionAtRest(ctx([]))).toMatchObject({ ok: false, evidence: ["nothing to judge: no evidence found"] });
        expect(noPlaintextSecrets(ctx([deployment("a", restricted)]))).toMatchObject({ ok: false });
    });

    test("prod without any TLS ingress fails", () => {
        expect(tlsAtIngress(ctx([])).evidence).toEqual(["prod exposes no ingress: the API server must be reachable over TLS"]);
        const ingress: PolicyResource = { type: "kubernetes:networking.k8s.io/v1:Ingress", name: "platform-api", inputs: { spec: { tls: [{ hosts: ["a"], secretName: "t" }] } } };
        expect(tlsAtIngress(ctx([ingress])).ok).toBe(true);
    });

    test("every rule returns an outcome even when one throws", () => {
        const outcomes = evaluateRules(ctx([{ type: "kubernetes:helm.sh/v4:Chart", name: "broken", inputs: null }]));
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
