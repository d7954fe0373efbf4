/**
 * Hardening of the Airflow chart values, judged by the same policy rules the checklist runs: for every stack
 * and executor, every Airflow component the chart renders is restricted and has requests and limits.
 */
import { parseStackConfig } from "../../config/load";
import { STACK_NAMES } from "../../config/schema";
import { airflowSecretNames, buildAirflowValues } from "../../components/values/airflow";
import { marquezValues } from "../../components/values/marquez";
import { kubePrometheusStackValues } from "../../components/values/monitoring";
import { PolicyResource, resourceRequestsAndLimits, restrictedSecurityContext, tlsAtIngress, workloads } from "../../policy/rules";
import { readStackSections } from "./harness";

interface Overrides {
    executor?: string;
    celeryBroker?: boolean;
}

function airflowRelease(stack: string, overrides: Overrides = {}): PolicyResource {
    const airflow = parseStackConfig(stack, readStackSections(stack)).airflow;
    const values = buildAirflowValues({
        airflow: { ...airflow, ...(overrides.executor ? { executor: overrides.executor as typeof airflow.executor } : {}) },
        secretNames: airflowSecretNames("platform-airflow"),
        integrations: overrides.celeryBroker ? { celeryBroker: { brokerUrlSecretName: "platform-redis-broker" } } : {},
    });
    return { type: "kubernetes:helm.sh/v4:Chart", name: "platform-airflow", inputs: { chart: "airflow", values } };
}

const ctx = (r: PolicyResource, stack: string) => ({ stack, resources: [r], secretPlaintexts: [] });

describe.each(STACK_NAMES)("stack %s: Airflow chart values", (stack) => {
    test.each<[string, Overrides]>([
        ["as configured", {}],
        ["with Celery and the chart's own Redis", { executor: "CeleryExecutor" }],
        ["with Celery and an external broker", { executor: "CeleryExecutor", celeryBroker: true }],
    ])("%s: every component restricted, with requests and limits", (_label, overrides) => {
        const release = airflowRelease(stack, overrides);
        const judged = workloads([release]).workloads.map((w) => w.where);
        expect(judged).toEqual(expect.arrayContaining(["platform-airflow/scheduler", "platform-airflow/apiServer", "platform-airflow/migrateDatabaseJob"]));
        if (String(overrides.executor ?? "").includes("Celery")) expect(judged).toContain("platform-airflow/workers");
        if (overrides.executor && !overrides.celeryBroker) expect(judged).toContain("platform-airflow/redis");
        const sc = restrictedSecurityContext(ctx(release, stack));
        const res = resourceRequestsAndLimits(ctx(release, stack));
        expect(sc.evidence).toEqual([expect.stringMatching(/containers in \d+ workloads are restricted$/)]);
        expect(sc.ok).toBe(true);
        expect(res.evidence).toEqual([expect.stringMatching(/containers have requests and limits$/)]);
        expect(res.ok).toBe(true);
    });

    test("Kubernetes-executor task pods get the restricted pod template defaults and requests/limits", () => {
        const values = (airflowRelease(stack, { executor: "KubernetesExecutor" }).inputs as { values: any }).values;
        expect(values.workers.kubernetes.resources).toEqual({ requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } });
        expect(values.securityContexts.containers).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    });

    test("the non-Airflow images keep their own non-root users", () => {
        const values = (airflowRelease(stack, { executor: "CeleryExecutor" }).inputs as { values: any }).values;
        expect(values.securityContexts.pod).toMatchObject({ runAsNonRoot: true, runAsUser: 50000 });
        expect(values.statsd.securityContexts.pod.runAsUser).toBe(65534);
        expect(values.pgbouncer.securityContexts.pod.runAsUser).toBe(65534);
        expect(values.redis.securityContexts.pod.runAsUser).toBe(999);
    });
});

describe("TLS at the API server's ingress", () => {
    test("staging and prod serve the API server through an Ingress with TLS and a cert-manager certificate", () => {
        for (const stack of ["staging", "prod"]) {
            const release = airflowRelease(stack);
            const ingress = (release.inputs as { values: any }).values.ingress.apiServer;
            expect(ingress).toMatchObject({ enabled: true, ingressClassName: "nginx", pathType: "Prefix" });
            expect(ingress.hosts).toEqual([{ name: expect.stringMatching(/example\.com$/), tls: { enabled: true, secretName: "airflow-tls" } }]);
            expect(ingress.annotations["cert-manager.io/cluster-issuer"]).toMatch(/^letsencrypt-/);
            expect((release.inputs as { values: any }).values.config.api.base_url).toBe(`https://${ingress.hosts[0].name}/`);
            const outcome = tlsAtIngress(ctx(release, stack));
            expect(outcome).toMatchObject({ ok: true, evidence: ["platform-airflow: apiServer ingress with TLS"] });
        }
    });

    test("dev has no ingress (port-forward), and a prod stack without one is refused naming the key", () => {
        expect((airflowRelease("dev").inputs as { values: any }).values.ingress).toEqual({ apiServer: { enabled: false } });
        const sections = readStackSections("prod") as any;
        sections.airflow = { ...sections.airflow, ingress: { enabled: false } };
        expect(() => parseStackConfig("prod", sections)).toThrow(/airflow\.ingress\.enabled: stack "prod" must serve the API server through a TLS ingress/);
        sections.airflow.ingress = { enabled: true, host: "not a host", className: "nginx", tlsSecretName: "airflow-tls", clusterIssuer: null, controllerNamespace: "ingress-nginx" };
        expect(() => parseStackConfig("prod", sections)).toThrow(/airflow\.ingress\.host/);
    });
});

describe("other charts judged by the same rule", () => {
    const chart = (name: string, chartName: string, values: unknown): PolicyResource => ({ type: "kubernetes:helm.sh/v4:Chart", name, inputs: { chart: chartName, values } });

    test("Prometheus, Alertmanager, operator, Grafana, kube-state-metrics restricted; node-exporter (host access) off", () => {
        const values = kubePrometheusStackValues({
            alerting: {
                credentialsSecretName: "mon-alerting",
                slackChannel: "#a",
                incidentsChannel: "#i",
                leadershipEmail: "l@example.com",
                teams: {},
                defaultTeamEmail: "d@example.com",
                smtp: { smarthost: "smtp.example.com:587", from: "a@example.com", username: "a" },
            },
            retention: "15d",
            storageSize: "50Gi",
            grafanaAdminSecretName: "g",
        });
        const outcome = restrictedSecurityContext(ctx(chart("platform-monitoring", "kube-prometheus-stack", values), "prod"));
        expect(outcome.evidence).toEqual(["5 containers in 5 workloads are restricted"]);
        expect(outcome.ok).toBe(true);
        expect(resourceRequestsAndLimits(ctx(chart("platform-monitoring", "kube-prometheus-stack", values), "prod")).ok).toBe(true);
        // Switched back on, node-exporter is judged (and fails: it has no restricted settings).
        const withNodeExporter = { ...values, nodeExporter: { enabled: true } };
        const failing = restrictedSecurityContext(ctx(chart("platform-monitoring", "kube-prometheus-stack", withNodeExporter), "prod"));
        expect(failing.ok).toBe(false);
        expect(failing.evidence).toEqual([expect.stringMatching(/^platform-monitoring\/node-exporter container node-exporter: runAsNonRoot not true/)]);
    });

    test("Marquez (a chart with no securityContext values) is waived by a named exception, shown with its reason", () => {
        const values = marquezValues({ releaseName: "platform-marquez", db: { host: "pg", port: 5432, database: "marquez", user: "marquez" }, passwordSecretName: "s", webEnabled: true });
        const outcome = restrictedSecurityContext(ctx(chart("platform-marquez", "marquez", values), "prod"));
        expect(outcome.ok).toBe(true);
        expect(outcome.waived).toEqual([
            expect.stringMatching(/^platform-marquez\/api container api: .* — exception: the Marquez chart 0\.51\.1 renders its Deployments with no securityContext/),
            expect.stringMatching(/^platform-marquez\/web container web: .* — exception: /),
        ]);
        // The exception covers Marquez only: any other chart with the same gap still fails.
        const mlflow = restrictedSecurityContext(ctx(chart("platform-mlflow", "mlflow", {}), "prod"));
        expect(mlflow.ok).toBe(false);
        expect(mlflow.waived).toEqual([]);
    });
});
