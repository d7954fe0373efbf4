/**
 * NetworkPolicies: the pure builder per stack topology (default-deny, DNS, one egress + ingress pair per flow,
 * every allow narrowed to peers and ports) and the component under the mock engine, judged by the policy rule.
 */
import { NetworkPolicies } from "../../components/network";
import { k8sName } from "../../components/values/naming";
import { AIRFLOW_API_PORT, NetworkInput, networkInputFromConfig, networkPolicyEntries, platformFlows } from "../../components/values/network";
import { parseStackConfig } from "../../config/load";
import { STACK_NAMES } from "../../config/schema";
import { networkPolicies } from "../../policy/rules";
import { byType, readStackSections, runProgram } from "../../offline/engine";

const topology = (stack: string): NetworkInput => networkInputFromConfig(parseStackConfig(stack, readStackSections(stack)), "platform");

describe.each(STACK_NAMES)("stack %s", (stack) => {
    const entries = networkPolicyEntries(topology(stack));

    test("exactly one default-deny, selecting every pod in both directions with no rules", () => {
        const denies = entries.filter((e) => !("ingress" in e.spec) && !("egress" in e.spec));
        expect(denies).toEqual([{ name: "default-deny", spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } }]);
    });

    test("every allow names its peers and ports; only DNS applies to every pod", () => {
        for (const e of entries.filter((x) => x.name !== "default-deny")) {
            const spec = e.spec as any;
            const rules = [...(spec.ingress ?? []).map((r: any) => r.from), ...(spec.egress ?? []).map((r: any) => r.to)];
            expect(rules.every((peers: unknown[]) => Array.isArray(peers) && peers.length > 0)).toBe(true);
            for (const r of [...(spec.ingress ?? []), ...(spec.egress ?? [])]) expect(r.ports.length).toBeGreaterThan(0);
            if (e.name !== "allow-dns") expect(spec.podSelector).not.toEqual({});
        }
    });

    test("names are unique and stay unique as Kubernetes names", () => {
        const names = entries.map((e) => k8sName("platform-network", e.name));
        expect(new Set(names).size).toBe(names.length);
    });

    test("Airflow may reach the components the stack runs, and they accept it", () => {
        const config = parseStackConfig(stack, readStackSections(stack));
        const names = entries.map((e) => e.name);
        expect(names).toEqual(expect.arrayContaining(["airflow-internal-egress-airflow", "airflow-internal-ingress", "to-postgres-egress-airflow"]));
        // The pool-import Job (components/pools.ts) reaches the metadata DB directly or through PgBouncer.
        expect(names).toEqual(expect.arrayContaining(["to-postgres-egress-airflow-cli-jobs", "airflow-jobs-to-pgbouncer-egress-airflow-cli-jobs"]));
        if (config.kafka.enabled) expect(names).toEqual(expect.arrayContaining(["airflow-to-kafka-egress-airflow", "airflow-to-kafka-ingress"]));
        if (config.mlflow.enabled) expect(names).toEqual(expect.arrayContaining(["airflow-to-mlflow-egress-airflow", "airflow-to-mlflow-ingress", "to-postgres-egress-mlflow"]));
        if (config.marquez.enabled) expect(names).toEqual(expect.arrayContaining(["airflow-to-marquez-ingress", "marquez-web-to-api-egress-marquez-web", "marquez-web-to-api-ingress"]));
        if (config.vault.enabled && config.vault.install) expect(names).toContain("airflow-to-vault-ingress");
        if (config.monitoring.enabled) {
            expect(names).toEqual(expect.arrayContaining(["prometheus-to-airflow-metrics-ingress", "prometheus-to-kube-state-metrics-ingress", "monitoring-to-kube-api-egress-kube-state-metrics"]));
        }
    });
});

describe("flows", () => {
    const prod = topology("prod");

    test("prod: RDS is outside the namespace, so Postgres gets egress rules only (port 5432)", () => {
        const entries = networkPolicyEntries(prod);
        expect(entries.find((e) => e.name === "to-postgres-ingress")).toBeUndefined();
        const egress = entries.find((e) => e.name === "to-postgres-egress-airflow")!.spec as any;
        expect(egress.egress).toEqual([{ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [{ port: 5432, protocol: "TCP" }] }]);
        // The bootstrap Job creating roles and databases in RDS may reach it too.
        expect(entries.map((e) => e.name)).toContain("to-postgres-egress-postgres-bootstrap");
    });

    test("prod: only the ingress controller's namespace reaches the API server, on its port", () => {
        const ingress = networkPolicyEntries(prod).find((e) => e.name === "ingress-to-api-server-ingress")!.spec as any;
        expect(ingress.podSelector).toEqual({ matchLabels: { tier: "airflow", component: "api-server" } });
        expect(ingress.ingress).toEqual([
            { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }], ports: [{ port: AIRFLOW_API_PORT, protocol: "TCP" }] },
        ]);
    });

    test("prod: KEDA's namespace reads the queue through PgBouncer", () => {
        const keda = networkPolicyEntries(prod).find((e) => e.name === "keda-to-pgbouncer-ingress")!.spec as any;
        expect(keda.podSelector).toEqual({ matchLabels: { tier: "airflow", component: "pgbouncer" } });
        expect(keda.ingress[0].ports).toEqual([{ port: 6543, protocol: "TCP" }]);
    });

    test("dev: in-namespace Postgres accepts its clients; no ingress controller is allowed in", () => {
        const dev = topology("dev");
        const names = networkPolicyEntries(dev).map((e) => e.name);
        expect(names).toContain("to-postgres-ingress");
        expect(names.some((n) => n.startsWith("ingress-to-api-server"))).toBe(false);
    });

    test("components switched off get no flows", () => {
        const minimal: NetworkInput = {
            postgres: "off",
            redis: false,
            kafka: false,
            mlflow: false,
            marquez: false,
            vault: false,
            externalVault: false,
            monitoring: false,
            ingressControllerNamespace: null,
            postgresBootstrapJob: null,
            keda: null,
            airflowLaunchesPods: false,
            vaultAdminNamespaces: [],
        };
        expect(platformFlows(minimal).map((f) => f.name)).toEqual(["airflow-internal", "airflow-jobs-to-pgbouncer", "airflow-to-external"]);
        expect(platformFlows({ ...minimal, airflowLaunchesPods: true, externalVault: true }).map((f) => f.name)).toEqual([
            "airflow-internal",
            "airflow-jobs-to-pgbouncer",
            "airflow-to-external",
            "airflow-to-kube-api",
            "airflow-to-external-vault",
        ]);
    });
});

describe("NetworkPolicies component", () => {
    test("registers one NetworkPolicy per entry in the namespace, and the policy rule passes", async () => {
        const input = topology("prod");
        const r = await runProgram(() => void new NetworkPolicies("platform-network", { namespace: "airflow-prod", topology: input }), { stack: "prod" });
        const policies = byType(r.resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy");
        expect(policies).toHaveLength(networkPolicyEntries(input).length);
        expect(policies.every((p) => p.inputs.metadata.namespace === "airflow-prod")).toBe(true);
        expect(policies.map((p) => p.name)).toContain("platform-network-default-deny");
        const outcome = networkPolicies({ stack: "prod", resources: r.resources.map((x) => ({ type: x.type, name: x.name, inputs: x.inputs })), secretPlaintexts: [] });
        expect(outcome.ok).toBe(true);
        expect(outcome.evidence).toContain("NetworkPolicy platform-network-default-deny (airflow-prod): default deny");
    });
});
