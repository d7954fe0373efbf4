/**
 * Pure builder for the Marquez chart values (external Postgres, Bitnami postgresql subchart off)
 * and the OpenLineage transport Airflow uses to reach it.
 */
import { serviceHost } from "./naming";
import { resources, SIZES } from "./security";

/** Marquez publishes its chart from its repository's chart/ folder (0.51.1). */
export const MARQUEZ_CHART = { chart: "marquez", version: "0.51.1", repo: "https://marquezproject.github.io/marquez/" };
export const MARQUEZ_IMAGE_TAG = "0.51.1";
/** The chart's Service port for the API. */
export const MARQUEZ_SERVICE_PORT = 80;

export interface MarquezValuesInput {
    releaseName: string;
    db: { host: string; port: number; database: string; user: string };
    /** Secret with key `marquez-db-password` (the key the chart reads). */
    passwordSecretName: string;
    webEnabled: boolean;
}

export const MARQUEZ_PASSWORD_KEY = "marquez-db-password";

export function marquezValues(input: MarquezValuesInput): Record<string, unknown> {
    return {
        fullnameOverride: input.releaseName,
        marquez: {
            replicaCount: 1,
            image: { registry: "docker.io", repository: "marquezproject/marquez", tag: MARQUEZ_IMAGE_TAG },
            existingSecretName: input.passwordSecretName,
            // null removes the chart's sample password from the rendered values.
            db: { host: input.db.host, port: input.db.port, name: input.db.database, user: input.db.user, password: null },
            migrateOnStartup: true,
            resources: resources(SIZES.marquez),
        },
        web: {
            enabled: input.webEnabled,
            image: { registry: "docker.io", repository: "marquezproject/marquez-web", tag: MARQUEZ_IMAGE_TAG },
            resources: resources(SIZES.marquezWeb),
        },
        // The chart's postgresql dependency is Bitnami's, withdrawn in 2025: always off.
        postgresql: { enabled: false },
    };
}

export function marquezUrl(releaseName: string, namespace: string): string {
    return `http://${serviceHost(releaseName, namespace)}:${MARQUEZ_SERVICE_PORT}`;
}

/** OpenLineage namespace per environment, e.g. `airflow-prod`. */
export function openLineageNamespace(environment: string): string {
    return `airflow-${environment}`;
}

/** The `[openlineage] transport` JSON for Airflow's config. */
export function openLineageTransport(url: string): string {
    return JSON.stringify({ type: "http", url, endpoint: "api/v1/lineage" });
}
