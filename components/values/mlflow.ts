/**
 * Pure builder for the community-charts MLflow chart values: Postgres backend store through an
 * existing Secret, S3 artifact store through an IRSA role, no Bitnami subcharts.
 */
import { serviceHost } from "./naming";
import { RESTRICTED_CONTAINER, resources, restrictedPod, SIZES } from "./security";

export const MLFLOW_CHART = { chart: "mlflow", version: "1.11.5", repo: "https://community-charts.github.io/helm-charts" };
export const MLFLOW_SERVICE_PORT = 80;

/**
 * The Flask session key the chart's pods read (envFrom) from `<release>-flask-server-secret-key`. The chart
 * renders that Secret only as a pre-install hook, which helm.v4.Chart skips, so the component creates it.
 */
export const FLASK_SECRET_KEY = "MLFLOW_FLASK_SERVER_SECRET_KEY";
export function flaskSecretName(releaseName: string): string {
    return `${releaseName}-flask-server-secret-key`;
}

export interface MlflowValuesInput {
    releaseName: string;
    db: { host: string; port: number; database: string; secretName: string };
    /** S3 artifact store; null keeps artifacts on the server's local disk (dev only: lost on restart). */
    artifacts: { bucket: string; path: string } | null;
    serviceAccount: { name: string; roleArn?: string };
    replicas: number;
}

export function mlflowValues(input: MlflowValuesInput): Record<string, unknown> {
    return {
        fullnameOverride: input.releaseName,
        replicaCount: input.replicas,
        podSecurityContext: restrictedPod(1001),
        securityContext: RESTRICTED_CONTAINER,
        resources: resources(SIZES.mlflow),
        backendStore: {
            databaseMigration: true,
            databaseConnectionCheck: true,
            postgres: { enabled: true, host: input.db.host, port: input.db.port, database: input.db.database, driver: "psycopg2" },
            // Username and password come from the Postgres component's Secret, never from values.
            existingDatabaseSecret: { name: input.db.secretName, usernameKey: "username", passwordKey: "password" },
        },
        artifactRoot: input.artifacts
            ? { proxiedArtifactStorage: true, s3: { enabled: true, bucket: input.artifacts.bucket, path: input.artifacts.path } }
            : { proxiedArtifactStorage: true, defaultArtifactsDestination: "./mlartifacts", s3: { enabled: false } },
        serviceAccount: {
            create: true,
            name: input.serviceAccount.name,
            annotations: input.serviceAccount.roleArn ? { "eks.amazonaws.com/role-arn": input.serviceAccount.roleArn } : {},
        },
        // The chart's optional databases are Bitnami images: keep them off.
        postgresql: { enabled: false },
        mysql: { enabled: false },
        minio: { enabled: false },
    };
}

export function mlflowTrackingUri(releaseName: string, namespace: string): string {
    return `http://${serviceHost(releaseName, namespace)}:${MLFLOW_SERVICE_PORT}`;
}

/** The `mlflow_default` http connection (tracking URI) in the JSON form Airflow accepts. */
export function mlflowAirflowConnection(trackingUri: string): Record<string, unknown> {
    const url = new URL(trackingUri);
    return { conn_type: "http", host: url.hostname, port: Number(url.port || 80), schema: url.protocol.replace(":", "") };
}

/**
 * A PodDisruptionBudget for the tracking server when it runs more than one replica: the chart has no template for
 * one. The selector is the chart's own pod selector (app.kubernetes.io/name and instance).
 */
export function mlflowDisruptionBudget(releaseName: string, namespace: string, replicas: number): Record<string, unknown> | undefined {
    if (replicas < 2) return undefined;
    return {
        metadata: { name: releaseName, namespace },
        spec: { maxUnavailable: 1, selector: { matchLabels: { "app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": releaseName } } },
    };
}
