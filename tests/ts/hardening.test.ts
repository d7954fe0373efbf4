/**
 * Hardening of the Airflow chart values, judged by the same policy rules the checklist runs: for every stack
 * and executor, every Airflow component the chart renders is restricted and has requests and limits.
 */
import { parseStackConfig } from "../../config/load";
import { STACK_NAMES } from "../../config/schema";
import { airflowSecretNames, buildAirflowValues } from "../../components/values/airflow";
import { PolicyResource, resourceRequestsAndLimits, restrictedSecurityContext, workloads } from "../../policy/rules";
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

    test("the non-Airflow images keep their own non-root users", () => {
        const values = (airflowRelease(stack, { executor: "CeleryExecutor" }).inputs as { values: any }).values;
        expect(values.securityContexts.pod).toMatchObject({ runAsNonRoot: true, runAsUser: 50000 });
        expect(values.statsd.securityContexts.pod.runAsUser).toBe(65534);
        expect(values.pgbouncer.securityContexts.pod.runAsUser).toBe(65534);
        expect(values.redis.securityContexts.pod.runAsUser).toBe(999);
    });
});
