/**
 * Hardening settings in the Airflow chart values for every stack and executor. Whether every rendered container is
 * restricted and has requests and limits is judged on the real renders (tests/cluster/test_render.py renders each
 * stack, and the Celery variants, with helm; the policy rules judge the rendered objects in tests/ts/policy.test.ts).
 */
import { parseStackConfig } from "../../config/load";
import { STACK_NAMES } from "../../config/schema";
import { airflowSecretNames, buildAirflowValues } from "../../components/values/airflow";
import { readStackSections } from "../../offline/engine";

interface Overrides {
    executor?: string;
    celeryBroker?: boolean;
}

function airflowRelease(stack: string, overrides: Overrides = {}): { inputs: { values: any } } {
    const airflow = parseStackConfig(stack, readStackSections(stack)).airflow;
    const values = buildAirflowValues({
        airflow: { ...airflow, ...(overrides.executor ? { executor: overrides.executor as typeof airflow.executor } : {}) },
        secretNames: airflowSecretNames("platform-airflow"),
        integrations: overrides.celeryBroker ? { celeryBroker: { brokerUrlSecretName: "platform-redis-broker" } } : {},
    });
    return { inputs: { values } };
}

describe.each(STACK_NAMES)("stack %s: Airflow chart values", (stack) => {
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
