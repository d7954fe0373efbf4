/**
 * Pure builders for the official apache-airflow chart: Helm values from stack config, plus the text of
 * the secrets the chart is pointed at (connection URIs, PgBouncer config). No Pulumi here: every input is
 * a plain value, so these are tested directly and validated against the chart's values.schema.json.
 */
import * as fs from "fs";
import * as yaml from "js-yaml";
import type { AirflowConfig } from "../../config/schema";
import { AIRFLOW_PROFILE, profileConfig } from "./airflowProfile";
import { DeployedImage, chartImageValues, configuredImage, startupInstallEnv } from "./image";
import { HelmValues, mergeValues } from "./merge";
import { RESTRICTED_CONTAINER } from "./security";
import { packagePath } from "./paths";

/** The released chart this package is written and validated against (see /work/shared/airflow-chart/SOURCE.md). */
export const AIRFLOW_CHART = {
    chart: "airflow",
    version: "1.22.0",
    repo: "https://airflow.apache.org",
} as const;

/** The chart's base values (helm-values/airflow.yaml, shipped with the package), deep-merged under the computed values. */
export const BASE_VALUES_FILE = packagePath("helm-values", "airflow.yaml");

export function loadBaseValues(file: string = BASE_VALUES_FILE): HelmValues {
    return (yaml.load(fs.readFileSync(file, "utf8")) ?? {}) as HelmValues;
}

/** The platform's airflow_local_settings.py, shared with the local platform; the chart mounts it into every Airflow pod. */
export const LOCAL_SETTINGS_FILE = packagePath("local_settings", "airflow_local_settings.py");

/** A file's text together with where it came from, so an error can name the file. */
export interface SourceFile {
    file: string;
    content: string;
}

export function loadLocalSettings(file: string = LOCAL_SETTINGS_FILE): SourceFile {
    return { file, content: fs.readFileSync(file, "utf8") };
}

/**
 * Set only on the dag-processor: there airflow_local_settings.py imports, once in the parent, what every forked
 * DAG-file parser child would otherwise import again. The other components don't parse DAG files, so they skip
 * the warm-up's 2–3 s of start-up. Defined once, in config/airflow-profile.json (`dagParserWarmUp`).
 */
export const WARM_PARSER_ENV: Readonly<{ name: string; value: string }> = {
    name: AIRFLOW_PROFILE.dagParserWarmUp.name,
    value: AIRFLOW_PROFILE.dagParserWarmUp.value,
};

/**
 * Git-sync stacks mount dags/ read-only (the chart's airflow_dags_mount), so a parser could never write a DAG's
 * bytecode next to it and every parse would compile each DAG file and dags/common from source. With a bytecode
 * prefix on the container's writable /tmp, the first parse of a revision compiles and the next ones load it.
 * PYTHONDONTWRITEBYTECODE="" counts as unset for Python, in case an image sets it.
 */
export const GITSYNC_BYTECODE_ENV = [
    { name: "PYTHONPYCACHEPREFIX", value: "/tmp/dag-processor-bytecode" },
    { name: "PYTHONDONTWRITEBYTECODE", value: "" },
] as const;

/** The dag-processor's own env: the parser warm-up, and for git-synced DAGs a writable bytecode cache. */
export function dagProcessorEnv(airflow: AirflowConfig): HelmValues[] {
    const bytecode = airflow.dags.source === "bundled" ? [] : GITSYNC_BYTECODE_ENV; // bundled: compiled in the image
    return bytecode.map((entry) => ({ ...entry }));
}

/**
 * The dag-processor's command (the chart's own, `exec airflow dag-processor`), with the warm-up switch set for that
 * process alone. On the container's env it would also reach every other `airflow` process started in the container
 * (the liveness probe's `airflow jobs check`, a `kubectl exec`), each paying the 2-3 s warm-up for nothing.
 */
export function dagProcessorArgs(): string[] {
    return ["bash", "-c", `exec env ${WARM_PARSER_ENV.name}=${WARM_PARSER_ENV.value} airflow dag-processor`];
}

/** The chart's `airflowLocalSettings` value. The chart renders it through `tpl`, so `{{` would be taken as a template. */
export function localSettingsValue(settings: SourceFile): string {
    if (settings.content.includes("{{")) {
        throw new Error(
            `${settings.file}: contains "{{", but the chart renders airflowLocalSettings through tpl, which would treat it as a Go template; remove the double braces`,
        );
    }
    return settings.content;
}

/** Names of the Kubernetes Secrets the component creates; all derived from the component name. */
export interface AirflowSecretNames {
    fernetKey: string; // key "fernet-key"
    apiSecretKey: string; // key "api-secret-key"
    jwtSecret: string; // key "jwt-secret"
    metadata: string; // key "connection"
    resultBackend: string; // key "connection"
    brokerUrl: string; // key "connection"
    redisPassword: string; // key "password"
    admin: string; // key "password"
    pgbouncerConfig: string; // keys "pgbouncer.ini", "users.txt"
    pgbouncerStats: string; // key "connection"
    gitSshKey: string; // key "gitSshKey"
}

export function airflowSecretNames(componentName: string): AirflowSecretNames {
    return {
        fernetKey: `${componentName}-fernet-key`,
        apiSecretKey: `${componentName}-api-secret-key`,
        jwtSecret: `${componentName}-jwt-secret`,
        metadata: `${componentName}-metadata`,
        resultBackend: `${componentName}-result-backend`,
        brokerUrl: `${componentName}-broker-url`,
        redisPassword: `${componentName}-redis-password`,
        admin: `${componentName}-admin`,
        pgbouncerConfig: `${componentName}-pgbouncer-config`,
        pgbouncerStats: `${componentName}-pgbouncer-stats`,
        gitSshKey: `${componentName}-git-ssh`,
    };
}

/** Environment variable the admin-user job reads the generated password from (never in values). */
export const ADMIN_PASSWORD_ENV = "AIRFLOW_ADMIN_PASSWORD";

/**
 * Slots that other components fill. Each maps to one airflow.cfg section, so ownership stays clear:
 * the vault component sets `secretsBackend`, marquez sets `openLineage`, aws sets `serviceAccountAnnotations`.
 */
export interface AirflowIntegrations {
    /** [secrets] backend + backend_kwargs, e.g. the HashiCorp Vault backend. */
    secretsBackend?: { backend: string; kwargs: Record<string, unknown> };
    /** [openlineage] namespace + transport (JSON), e.g. HTTP to Marquez. */
    openLineage?: { namespace: string; transport: Record<string, unknown> };
    /** Annotations for every Airflow service account (IRSA role for S3 remote logging, etc.). */
    serviceAccountAnnotations?: Record<string, string>;
    /** Extra env for all Airflow containers (plain values or secretKeyRef only). */
    extraEnv?: Array<{ name: string; value?: string; valueFrom?: Record<string, unknown> }>;
    /** Extra airflow.cfg settings by section; merged last, so they can override computed config. */
    extraConfig?: Record<string, Record<string, string>>;
    /** An external Celery broker (the Redis component): its Secret (key "connection") replaces the chart's Redis. */
    celeryBroker?: { brokerUrlSecretName: string };
}

export interface AirflowValuesInput {
    airflow: AirflowConfig;
    secretNames: AirflowSecretNames;
    integrations: AirflowIntegrations;
    /** The parsed helm-values/airflow.yaml (defaults to reading it). */
    baseValues?: HelmValues;
    /** The image to deploy, from the AirflowImage component (by digest); defaults to airflow.image as configured. */
    image?: DeployedImage;
    /** local_settings/airflow_local_settings.py (defaults to reading it). */
    localSettings?: SourceFile;
}

/** Celery (alone or with Kubernetes) needs the broker: the chart's Redis. */
export function usesCelery(airflow: AirflowConfig): boolean {
    return airflow.executor.startsWith("CeleryExecutor");
}

/** PgBouncer database alias for the metadata DB, as the chart names it. */
export function pgbouncerDatabaseAlias(releaseName: string, purpose: "metadata" | "result-backend"): string {
    return `${releaseName}-${purpose}`;
}

export const PGBOUNCER_PORT = 6543;

/** Host Airflow connects to for its metadata DB: PgBouncer's service when enabled, else the database. */
export function metadataEndpoint(
    releaseName: string,
    namespace: string,
    airflow: AirflowConfig,
    database: MetadataDatabase,
): { host: string; port: number; database: string } {
    if (airflow.pgbouncer.enabled) {
        return {
            host: `${releaseName}-pgbouncer.${namespace}.svc.cluster.local`,
            port: PGBOUNCER_PORT,
            database: pgbouncerDatabaseAlias(releaseName, "metadata"),
        };
    }
    return { host: database.host, port: database.port, database: database.database };
}

export interface MetadataDatabase {
    host: string;
    port: number;
    database: string;
    user: string;
    sslmode: "disable" | "prefer" | "require" | "verify-full";
}

/** SQLAlchemy URI for the metadata DB (psycopg2 driver, which Airflow 3.3's image ships). */
export function metadataConnectionUri(endpoint: { host: string; port: number; database: string }, user: string, password: string, sslmode: string): string {
    return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${endpoint.host}:${endpoint.port}/${endpoint.database}?sslmode=${sslmode}`;
}

/** Celery result backend: the same DB through SQLAlchemy's "db+" scheme. */
export function resultBackendUri(endpoint: { host: string; port: number; database: string }, user: string, password: string, sslmode: string): string {
    return `db+${metadataConnectionUri(endpoint, user, password, sslmode)}`;
}

/** Broker URL for the chart's in-release Redis, on the profile's Celery broker database. */
export function brokerUrl(releaseName: string, namespace: string, password: string): string {
    const db = AIRFLOW_PROFILE.redisDatabases.celery_broker;
    return `redis://:${encodeURIComponent(password)}@${releaseName}-redis.${namespace}.svc.cluster.local:6379/${db}`;
}

/** pgbouncer.ini the chart mounts from pgbouncer.configSecretName (the chart can't template it when we own the DB secret). */
export function pgbouncerIni(releaseName: string, airflow: AirflowConfig, database: MetadataDatabase): string {
    if (!airflow.pgbouncer.enabled) {
        throw new Error("pgbouncerIni: airflow.pgbouncer.enabled is false");
    }
    const pg = airflow.pgbouncer;
    const target = `host=${database.host} dbname=${database.database} port=${database.port}`;
    return [
        "[databases]",
        `${pgbouncerDatabaseAlias(releaseName, "metadata")} = ${target} pool_size=${pg.metadataPoolSize}`,
        `${pgbouncerDatabaseAlias(releaseName, "result-backend")} = ${target} pool_size=${pg.resultBackendPoolSize}`,
        "",
        "[pgbouncer]",
        "pool_mode = transaction",
        `listen_port = ${PGBOUNCER_PORT}`,
        "listen_addr = *",
        "auth_type = scram-sha-256",
        "auth_file = /etc/pgbouncer/users.txt",
        `stats_users = ${database.user}`,
        "ignore_startup_parameters = extra_float_digits",
        `max_client_conn = ${pg.maxClientConnections}`,
        "verbose = 0",
        "log_disconnections = 0",
        "log_connections = 0",
        `server_tls_sslmode = ${database.sslmode}`,
        "server_tls_ciphers = normal",
        "",
    ].join("\n");
}

export function pgbouncerUsers(user: string, password: string): string {
    const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
    return `${quote(user)} ${quote(password)}\n`;
}

/** Connection the PgBouncer metrics exporter uses to read SHOW STATS from the local admin console. */
export function pgbouncerStatsUri(user: string, password: string): string {
    return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${PGBOUNCER_PORT}/pgbouncer?sslmode=disable`;
}

/** Fernet wants url-safe base64 of 32 bytes; random.RandomBytes gives standard base64. */
export function toUrlSafeBase64(standard: string): string {
    return standard.replace(/\+/g, "-").replace(/\//g, "_");
}

function remoteLoggingConfig(airflow: AirflowConfig): Record<string, string> {
    const remote = airflow.logging.remote;
    if (!remote.enabled) {
        return { remote_logging: "False" };
    }
    return {
        remote_logging: "True",
        remote_base_log_folder: `s3://${remote.bucket}/${remote.prefix}`,
        remote_log_conn_id: remote.connId,
        encrypt_s3_logs: "False",
        delete_local_logs: "True",
    };
}

function dagsValues(airflow: AirflowConfig, secretNames: AirflowSecretNames): HelmValues {
    const dags = airflow.dags;
    if (dags.source === "bundled") {
        // DAGs are baked into the image (built from this repo's dags/); no volume, no sidecar.
        return { dags: { persistence: { enabled: false }, gitSync: { enabled: false } } };
    }
    const gitSync: HelmValues = {
        enabled: true,
        repo: dags.repo,
        // git-sync v4 reads ref; branch and rev are what v3 read. All three name the configured branch, so no
        // chart default (v2-2-stable) is ever checked out, whichever git-sync the image runs.
        branch: dags.branch,
        rev: "HEAD",
        ref: dags.branch,
        depth: 1,
        subPath: dags.subPath,
        period: `${dags.periodSeconds}s`,
        maxFailures: 3,
        // The chart gives the sidecar only runAsUser by default; it gets the same restricted context as every container.
        securityContexts: { container: RESTRICTED_CONTAINER },
    };
    if (dags.auth === "ssh") {
        gitSync.sshKeySecret = secretNames.gitSshKey;
        gitSync.knownHosts = dags.knownHosts;
    }
    return { dags: { persistence: { enabled: false }, gitSync } };
}

function pdbValue(airflow: AirflowConfig): HelmValues {
    return airflow.pdb.enabled ? { enabled: true, config: { maxUnavailable: airflow.pdb.maxUnavailable } } : { enabled: false };
}

function workersValues(airflow: AirflowConfig, integrations: AirflowIntegrations): HelmValues {
    const celery: HelmValues = {
        replicas: airflow.replicas.workers,
        podDisruptionBudget: pdbValue(airflow),
        keda: airflow.keda.enabled
            ? {
                  enabled: true,
                  minReplicaCount: airflow.keda.minReplicas,
                  maxReplicaCount: airflow.keda.maxReplicas,
                  pollingInterval: airflow.keda.pollingIntervalSeconds,
                  cooldownPeriod: airflow.keda.cooldownPeriodSeconds,
                  // With PgBouncer, KEDA queries through it (transaction pooling is fine for one SELECT).
                  usePgbouncer: airflow.pgbouncer.enabled,
              }
            : { enabled: false },
    };
    if (integrations.serviceAccountAnnotations) {
        celery.serviceAccount = { annotations: integrations.serviceAccountAnnotations };
    }
    celery.persistence = logsPersistence(airflow);
    return { workers: { celery }, triggerer: { persistence: logsPersistence(airflow) } };
}

/** Size of the task-log volume of each worker and triggerer when logs stay in the cluster (no remote logging). */
export const LOCAL_LOGS_VOLUME = "10Gi";

/**
 * The chart gives every worker and triggerer replica a 100Gi logs claim by default. With remote logging the logs
 * live in the bucket (and each pod serves its running tasks' logs from its own disk), so no claim is made; without
 * it, a claim of LOCAL_LOGS_VOLUME keeps them across restarts.
 */
export function logsPersistence(airflow: AirflowConfig): HelmValues {
    return airflow.logging.remote.enabled ? { enabled: false } : { enabled: true, size: LOCAL_LOGS_VOLUME };
}

function serviceAccountAnnotations(integrations: AirflowIntegrations): HelmValues {
    if (!integrations.serviceAccountAnnotations) {
        return {};
    }
    const sa = { serviceAccount: { annotations: integrations.serviceAccountAnnotations } };
    return { scheduler: sa, apiServer: sa, triggerer: sa, dagProcessor: sa };
}

/** The API server's Ingress: TLS always on (certificate from cert-manager when an issuer is set). */
export function ingressValues(airflow: AirflowConfig): HelmValues {
    const ingress = airflow.ingress;
    if (!ingress.enabled) return { ingress: { apiServer: { enabled: false } } };
    return {
        ingress: {
            apiServer: {
                enabled: true,
                ingressClassName: ingress.className,
                path: "/",
                pathType: "Prefix",
                annotations: ingress.clusterIssuer ? { "cert-manager.io/cluster-issuer": ingress.clusterIssuer } : {},
                hosts: [{ name: ingress.host, tls: { enabled: true, secretName: ingress.tlsSecretName } }],
            },
        },
        // Links and redirects the API server builds use the public https address.
        config: { api: { base_url: `https://${ingress.host}/` } },
    };
}

/**
 * The chart's `config` (airflow.cfg): the Airflow profile (config/airflow-profile.json, the settings shared with the
 * local platform), then what this stack's config and integrations imply (each of those keys is one of the profile's
 * `environmentSpecific` ones), then `integrations.extraConfig`.
 */
function airflowCfg(airflow: AirflowConfig, integrations: AirflowIntegrations): HelmValues {
    const config: Record<string, Record<string, string>> = {
        core: { executor: airflow.executor },
        logging: remoteLoggingConfig(airflow),
        celery: { worker_concurrency: String(airflow.workerConcurrency) },
    };
    if (integrations.secretsBackend) {
        config.secrets = {
            backend: integrations.secretsBackend.backend,
            backend_kwargs: JSON.stringify(integrations.secretsBackend.kwargs),
        };
    }
    if (integrations.openLineage) {
        config.openlineage = {
            namespace: integrations.openLineage.namespace,
            transport: JSON.stringify(integrations.openLineage.transport),
        };
    }
    return { config: mergeValues(profileConfig(), config, integrations.extraConfig ?? {}) };
}

/** The chart's Redis runs as root by default; run it as the image's redis user (999), restricted and sized. */
export const CHART_REDIS_HARDENING: HelmValues = {
    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "200m", memory: "256Mi" } },
    securityContexts: {
        pod: { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999, seccompProfile: { type: "RuntimeDefault" } },
        container: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } },
    },
};

/** The final chart values for one release: helm-values/airflow.yaml deep-merged with what config implies. */
export function buildAirflowValues(input: AirflowValuesInput): HelmValues {
    const { airflow, secretNames, integrations } = input;
    const base = input.baseValues ?? loadBaseValues();
    const localSettings = localSettingsValue(input.localSettings ?? loadLocalSettings());
    const pdb = pdbValue(airflow);
    const computed: HelmValues = {
        executor: airflow.executor,
        ...chartImageValues(input.image ?? configuredImage(airflow.image)),
        // Generated secrets, referenced by name only.
        fernetKeySecretName: secretNames.fernetKey,
        apiSecretKeySecretName: secretNames.apiSecretKey,
        jwtSecretName: secretNames.jwtSecret,
        data: {
            metadataSecretName: secretNames.metadata,
            resultBackendSecretName: secretNames.resultBackend,
            ...(usesCelery(airflow) ? { brokerUrlSecretName: integrations.celeryBroker?.brokerUrlSecretName ?? secretNames.brokerUrl } : {}),
        },
        // The chart's own Redis is the Celery broker unless an external one is wired in; its password is generated, never templated.
        redis:
            usesCelery(airflow) && !integrations.celeryBroker
                ? { enabled: true, passwordSecretName: secretNames.redisPassword, ...CHART_REDIS_HARDENING }
                : { enabled: false },
        pgbouncer: airflow.pgbouncer.enabled
            ? {
                  enabled: true,
                  replicas: airflow.pgbouncer.replicas,
                  maxClientConn: airflow.pgbouncer.maxClientConnections,
                  metadataPoolSize: airflow.pgbouncer.metadataPoolSize,
                  resultBackendPoolSize: airflow.pgbouncer.resultBackendPoolSize,
                  configSecretName: secretNames.pgbouncerConfig,
                  metricsExporterSidecar: { statsSecretName: secretNames.pgbouncerStats },
                  podDisruptionBudget: pdb,
              }
            : { enabled: false },
        scheduler: { replicas: airflow.replicas.scheduler, podDisruptionBudget: pdb },
        apiServer: { replicas: airflow.replicas.apiServer, podDisruptionBudget: pdb },
        triggerer: { replicas: airflow.replicas.triggerer, podDisruptionBudget: pdb },
        airflowLocalSettings: localSettings,
        dagProcessor: { replicas: airflow.replicas.dagProcessor, podDisruptionBudget: pdb, env: dagProcessorEnv(airflow), args: dagProcessorArgs() },
        createUserJob: {
            // The password comes from the generated Secret via env; Kubernetes expands $(VAR) in args.
            defaultUser: { role: "Admin", username: "admin", email: "admin@example.com", firstName: "Airflow", lastName: "Admin", password: "" },
            env: [{ name: ADMIN_PASSWORD_ENV, valueFrom: { secretKeyRef: { name: secretNames.admin, key: "password" } } }],
            args: [
                "bash",
                "-c",
                'exec airflow users create "$@"',
                "--",
                "-r",
                "{{ .Values.createUserJob.defaultUser.role }}",
                "-u",
                "{{ .Values.createUserJob.defaultUser.username }}",
                "-e",
                "{{ .Values.createUserJob.defaultUser.email }}",
                "-f",
                "{{ .Values.createUserJob.defaultUser.firstName }}",
                "-l",
                "{{ .Values.createUserJob.defaultUser.lastName }}",
                "-p",
                `$(${ADMIN_PASSWORD_ENV})`,
            ],
        },
        statsd: { enabled: true },
        logs: { persistence: { enabled: false } },
        // Start-up installs are refused outside dev by config/image.ts; empty list → no env entry.
        env: [...(integrations.extraEnv ?? []), ...startupInstallEnv(airflow.image.extraPipPackages)],
    };
    return mergeValues(
        base,
        computed,
        dagsValues(airflow, secretNames),
        workersValues(airflow, integrations),
        serviceAccountAnnotations(integrations),
        ingressValues(airflow),
        airflowCfg(airflow, integrations),
    );
}
