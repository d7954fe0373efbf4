/**
 * The Airflow chart values of every stack under each executor the chart supports, as JSON on stdout: the
 * configured one, Celery with the chart's own Redis, Celery with an external broker, and the Kubernetes executor.
 * tests/cluster/test_render.py renders each with helm and judges the rendered containers, so executor switches a
 * stack does not use today are proven too.
 *
 *   npx ts-node --transpile-only scripts/airflow-variants.ts > variants.json
 */
import { parseStackConfig } from "../config/load";
import { STACK_NAMES } from "../config/schema";
import { airflowSecretNames, buildAirflowValues } from "../components/values/airflow";
import { readStackSections } from "../offline/engine";

const VARIANTS: Record<string, { executor?: string; externalBroker?: boolean }> = {
    configured: {},
    "celery-chart-redis": { executor: "CeleryExecutor" },
    "celery-external-broker": { executor: "CeleryExecutor", externalBroker: true },
    kubernetes: { executor: "KubernetesExecutor" },
};

const out: Record<string, unknown> = {};
for (const stack of STACK_NAMES) {
    const airflow = parseStackConfig(stack, readStackSections(stack)).airflow;
    for (const [label, v] of Object.entries(VARIANTS)) {
        // KEDA scales Celery workers only: a variant without Celery turns it off, as the config rules require.
        const executor = (v.executor ?? airflow.executor) as typeof airflow.executor;
        const keda = executor.includes("Celery") ? airflow.keda : { enabled: false as const };
        out[`${stack}/${label}`] = buildAirflowValues({
            airflow: { ...airflow, executor, keda },
            secretNames: airflowSecretNames("platform-airflow"),
            integrations: v.externalBroker ? { celeryBroker: { brokerUrlSecretName: "platform-redis-broker" } } : {},
        });
    }
}
process.stdout.write(JSON.stringify(out));
