/**
 * The typed stack configuration: one zod object per Pulumi config key (section), each strict (unknown keys
 * are errors) and with no defaults (every key is written in each Pulumi.<stack>.yaml, so what a stack runs
 * is visible in its file). Sections are exported one by one so component owners can extend theirs.
 *
 * Pulumi config layout: `airflow-platform:<section>: {...}` for each section below, plus the secret keys in
 * SECRET_CONFIG_KEYS, which are read with requireSecret and never appear in these objects.
 */
import { z } from "zod";
import { airflowImageSchema } from "./image";

export const STACK_NAMES = ["dev", "staging", "prod"] as const;
export type StackName = (typeof STACK_NAMES)[number];

/** Secret config keys (set with `pulumi config set --secret <key>`); read with requireSecret only. */
export const SECRET_CONFIG_KEYS = {
    /** Private SSH key for git-sync when airflow.dags.auth is "ssh". */
    gitSyncSshKey: "gitSyncSshKey",
    /** Vault token for the Pulumi Vault provider when vault.mode is "ha" (dev mode generates its own root token). */
    vaultToken: "vaultToken",
    /** Alertmanager notification credentials, needed when monitoring.enabled (read as files from a Secret). */
    alertSlackWebhookUrl: "alertSlackWebhookUrl",
    alertPagerdutyRoutingKey: "alertPagerdutyRoutingKey",
    alertSmtpPassword: "alertSmtpPassword",
    /**
     * Slack bot token (xoxb-...) of the DAGs' `slack_api_default` connection (Slack Web API, chat.postMessage to
     * any channel the app is in), needed when monitoring.enabled; written to Vault KV with the connection.
     */
    slackBotToken: "slackBotToken",
} as const;

const dns1123Label = z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a lowercase DNS-1123 label (a-z, 0-9, '-')")
    .max(63);
const positiveInt = z.number().int().min(1);
const nonNegativeInt = z.number().int().min(0);
const awsRegion = z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, "must be an AWS region such as eu-west-1");
const s3BucketName = z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a valid S3 bucket name (3-63 chars, lowercase, digits, '.', '-')");
const disabled = z.strictObject({ enabled: z.literal(false) });

// ---------------------------------------------------------------- kubernetes
export const kubernetesSchema = z.strictObject({
    /** Namespace every in-cluster workload of the platform goes into. */
    namespace: dns1123Label,
    /** Create the namespace (false when the cluster admin pre-creates it). */
    createNamespace: z.boolean(),
    /** StorageClass for persistent volumes; null uses the cluster default explicitly. */
    storageClass: z.string().min(1).nullable(),
    /**
     * Where every Helm chart comes from: `{source: repository}` pulls each from its repository at the pinned
     * version; `{source: local, directory}` reads `helm package` tarballs from a folder (tests, air-gapped installs).
     */
    charts: z.discriminatedUnion("source", [
        z.strictObject({ source: z.literal("repository") }),
        z.strictObject({ source: z.literal("local"), directory: z.string().min(1) }),
    ]),
});

// ---------------------------------------------------------------- airflow
export const AIRFLOW_EXECUTORS = ["LocalExecutor", "CeleryExecutor", "KubernetesExecutor", "CeleryExecutor,KubernetesExecutor"] as const;

// The image section (mode build|prebuilt, digest pinning, dev-only start-up installs) lives in ./image.
export { airflowImageSchema } from "./image";

export const airflowReplicasSchema = z.strictObject({
    scheduler: positiveInt,
    apiServer: positiveInt,
    triggerer: positiveInt,
    dagProcessor: positiveInt,
    /** Celery workers when KEDA is off (ignored by the chart when KEDA scales them). */
    workers: nonNegativeInt,
});

export const airflowDagsSchema = z.discriminatedUnion("source", [
    /** DAGs baked into the image from this repo's dags/ folder. */
    z.strictObject({ source: z.literal("bundled") }),
    z.strictObject({
        source: z.literal("gitSync"),
        repo: z.string().regex(/^(https:\/\/|ssh:\/\/|git@)\S+$/, "must be an https://, ssh:// or git@ URL"),
        branch: z.string().min(1),
        /** Folder inside the repo that holds the DAGs, e.g. "dags". */
        subPath: z.string(),
        /** Seconds between syncs. */
        periodSeconds: positiveInt,
        /** "ssh" reads the private key from the secret config key gitSyncSshKey. */
        auth: z.enum(["none", "ssh"]),
        /** known_hosts line(s) for the git host (public data); required for ssh, null for https. */
        knownHosts: z.string().min(1).nullable(),
    }).check((ctx) => {
        const v = ctx.value;
        if (v.auth === "ssh" && v.knownHosts === null) {
            ctx.issues.push({ code: "custom", input: null, path: ["knownHosts"], message: "required when auth is ssh (host key checking stays on)" });
        }
        if (v.auth === "ssh" && v.repo.startsWith("https://")) {
            ctx.issues.push({ code: "custom", input: v.repo, path: ["repo"], message: "auth ssh needs an ssh:// or git@ URL" });
        }
    }),
]);

export const airflowRemoteLoggingSchema = z.discriminatedUnion("enabled", [
    disabled,
    z.strictObject({
        enabled: z.literal(true),
        bucket: s3BucketName,
        /** Key prefix inside the bucket, no leading or trailing slash. */
        prefix: z.string().regex(/^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/, "must be a key prefix without leading/trailing '/'"),
        /** Airflow connection id used to write logs. */
        connId: z.string().min(1),
    }),
]);

export const airflowPgbouncerSchema = z.discriminatedUnion("enabled", [
    disabled,
    z.strictObject({
        enabled: z.literal(true),
        replicas: positiveInt,
        maxClientConnections: positiveInt,
        metadataPoolSize: positiveInt,
        resultBackendPoolSize: positiveInt,
    }),
]);

export const airflowKedaSchema = z.discriminatedUnion("enabled", [
    disabled,
    z.strictObject({
        enabled: z.literal(true),
        minReplicas: nonNegativeInt,
        maxReplicas: positiveInt,
        pollingIntervalSeconds: positiveInt,
        cooldownPeriodSeconds: positiveInt,
    }),
]);

export const airflowPdbSchema = z.discriminatedUnion("enabled", [
    disabled,
    z.strictObject({ enabled: z.literal(true), maxUnavailable: positiveInt }),
]);

/** Stacks whose API server must be served through a TLS ingress (parseStackConfig enforces it). */
export const INGRESS_REQUIRED_STACKS: readonly StackName[] = ["staging", "prod"];

export const airflowIngressSchema = z.discriminatedUnion("enabled", [
    disabled,
    z.strictObject({
        enabled: z.literal(true),
        /** Public host name of the UI/API, e.g. airflow.example.com. */
        host: z.string().regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$/, "must be a DNS host name such as airflow.example.com"),
        /** IngressClass of the controller, e.g. nginx. */
        className: z.string().min(1),
        /** Secret holding the TLS certificate and key (written by cert-manager when clusterIssuer is set). TLS is always on. */
        tlsSecretName: dns1123Label,
        /** cert-manager ClusterIssuer that issues the certificate; null when the Secret is created another way. */
        clusterIssuer: z.string().min(1).nullable(),
        /** Namespace of the ingress controller: the only one NetworkPolicies let reach the API server. */
        controllerNamespace: dns1123Label,
    }),
]);

export const airflowSchema = z
    .strictObject({
        executor: z.enum(AIRFLOW_EXECUTORS),
        image: airflowImageSchema,
        replicas: airflowReplicasSchema,
        /** Celery worker_concurrency (task slots per worker). */
        workerConcurrency: positiveInt,
        dags: airflowDagsSchema,
        logging: z.strictObject({ remote: airflowRemoteLoggingSchema }),
        pgbouncer: airflowPgbouncerSchema,
        keda: airflowKedaSchema,
        pdb: airflowPdbSchema,
        ingress: airflowIngressSchema,
    })
    .check((ctx) => {
        const { executor, keda, replicas } = ctx.value;
        if (keda.enabled && !executor.startsWith("CeleryExecutor")) {
            ctx.issues.push({ code: "custom", input: keda, path: ["keda", "enabled"], message: `KEDA scales Celery workers; executor is ${executor}` });
        }
        if (keda.enabled && keda.minReplicas > keda.maxReplicas) {
            ctx.issues.push({ code: "custom", input: keda, path: ["keda", "minReplicas"], message: "must be <= keda.maxReplicas" });
        }
        if (executor === "LocalExecutor" && replicas.scheduler > 1) {
            ctx.issues.push({
                code: "custom",
                input: replicas,
                path: ["replicas", "scheduler"],
                message: "LocalExecutor runs tasks inside the scheduler; use 1 scheduler or CeleryExecutor",
            });
        }
    });

// ---------------------------------------------------------------- platform components (issue 4 extends)
export const POSTGRES_MODES = ["cnpg", "statefulset", "rds"] as const;

export const postgresRdsSchema = z.strictObject({
    instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, "must be an RDS instance class such as db.r6g.large"),
    allocatedStorageGi: positiveInt,
    engineVersion: z.string().regex(/^\d+(\.\d+)?$/, "must be a Postgres major[.minor] version such as 16.4"),
    multiAz: z.boolean(),
    subnetIds: z.array(z.string().min(1)).min(2),
    vpcSecurityGroupIds: z.array(z.string().min(1)).min(1),
});

export const postgresSchema = z
    .strictObject({
        mode: z.enum(POSTGRES_MODES),
        /** Postgres pods (cnpg: 1 primary + N-1 replicas; statefulset: must be 1). */
        instances: positiveInt,
        storageGi: positiveInt,
        /** Databases created with one login role each (same name). */
        databases: z.array(dns1123Label.or(z.string().regex(/^[a-z_][a-z0-9_]*$/))).min(1),
        rds: postgresRdsSchema.nullable(),
    })
    .check((ctx) => {
        const v = ctx.value;
        if (v.mode === "rds" && v.rds === null) {
            ctx.issues.push({ code: "custom", input: v.rds, path: ["rds"], message: "mode rds needs the rds settings object" });
        }
        if (v.mode !== "rds" && v.rds !== null) {
            ctx.issues.push({ code: "custom", input: v.rds, path: ["rds"], message: `must be null when mode is ${v.mode}` });
        }
        if (v.mode === "statefulset" && v.instances !== 1) {
            ctx.issues.push({ code: "custom", input: v.instances, path: ["instances"], message: "statefulset mode runs a single instance; use cnpg or rds for HA" });
        }
    });

export const redisSchema = z.strictObject({
    enabled: z.boolean(),
    storageGi: positiveInt,
    /** aof: every write logged (durable broker); rdb: snapshots; none: memory only. */
    persistence: z.enum(["aof", "rdb", "none"]),
});

export const kafkaSchema = z.strictObject({
    enabled: z.boolean(),
    replicas: positiveInt,
    storageGi: positiveInt,
    topics: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/, "must be a Kafka topic name")),
    /** Partitions of every topic. */
    partitions: positiveInt,
    /** Retention of ordinary topics (explicit on every KafkaTopic). */
    retentionHours: positiveInt,
    /** Retention of dead-letter topics: names ending in "-dlq" or ".dlq". */
    deadLetterRetentionHours: positiveInt,
});

export const mlflowSchema = z.strictObject({
    enabled: z.boolean(),
    replicas: positiveInt,
});

export const marquezSchema = z.strictObject({
    enabled: z.boolean(),
    /** Deploy the Marquez web UI next to the API. */
    web: z.boolean(),
});

export const vaultSchema = z.strictObject({
    enabled: z.boolean(),
    /** Vault address the secrets backend reads from (in-cluster service or an external URL). */
    address: z.string().url(),
    /** KV v2 mount holding airflow/connections/<id> and airflow/variables/<name>. */
    kvMount: z.string().min(1),
    /** Deploy the vault chart in the namespace (false: use an existing Vault at address). */
    install: z.boolean(),
    /** dev: single dev-mode server (in-memory); ha: raft cluster (needs the vaultToken secret config key). */
    mode: z.enum(["dev", "ha"]),
    /**
     * How the HA servers unseal: awskms (auto-unseal with a KMS key the platform creates; needs aws.enabled) or shamir
     * (an operator unseals each pod after every restart, docs/runbooks/vault-bootstrap.md). null in dev mode.
     */
    seal: z.discriminatedUnion("type", [z.strictObject({ type: z.literal("awskms") }), z.strictObject({ type: z.literal("shamir") })]).nullable(),
    replicas: positiveInt,
    storageGi: positiveInt,
    /** One KV subtree, policy and Kubernetes auth role per team (teams must be declared in the teams section). */
    teamPolicies: z.array(
        z.strictObject({
            team: z.string().min(1),
            namespace: dns1123Label,
            serviceAccounts: z.array(dns1123Label).min(1),
        }),
    ),
});

export const monitoringSchema = z.strictObject({
    enabled: z.boolean(),
    /** Create a Prometheus ServiceMonitor for the statsd exporter (needs the Prometheus Operator CRDs). */
    serviceMonitor: z.boolean(),
    /** Prometheus retention, e.g. "15d". */
    retention: z.string().regex(/^\d+[smhdwy]$/, "must be a Prometheus duration such as 15d"),
    storageGi: positiveInt,
    alerting: z.strictObject({
        /** Channel for P2/P3 alerts. */
        slackChannel: z.string().regex(/^#\S+$/, "must be a Slack channel such as #airflow-alerts"),
        /** Channel for P1 alerts. */
        incidentsChannel: z.string().regex(/^#\S+$/, "must be a Slack channel such as #incidents"),
        leadershipEmail: z.email(),
        /** P2 email for alerts without a known team label. */
        defaultTeamEmail: z.email(),
        /** Team label of the platform's own Airflow alerts (a key of the teams section). */
        owningTeam: z.string().min(1),
        smtp: z.strictObject({ smarthost: z.string().regex(/^[^:\s]+:\d+$/, "must be host:port"), from: z.email(), username: z.string().min(1) }),
    }),
});

export const awsSchema = z.strictObject({
    enabled: z.boolean(),
    region: awsRegion,
    /** IAM OIDC provider of the EKS cluster, for IRSA roles; null when aws is disabled. */
    oidcProviderArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/\S+$/, "must be an IAM OIDC provider ARN")
        .nullable(),
    buckets: z.strictObject({
        logs: s3BucketName,
        mlflowArtifacts: s3BucketName,
        data: s3BucketName,
    }),
    /** Secrets Manager name prefix for Airflow's SecretsManagerBackend (null: not used). */
    secretsManagerPrefix: z.string().regex(/^[A-Za-z0-9/_+=.@-]+$/, "must be a Secrets Manager name prefix").nullable(),
});

/** Teams of the multi-tenant DAGs: name -> contact. Vault team policies and alert routing refer to these. */
export const teamsSchema = z.record(
    z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, "team names are lower-case letters, digits and '-'"),
    z.strictObject({ email: z.email() }),
);

// ---------------------------------------------------------------- dags (the dependency contract, dags/*/needs.yaml)
const catalogueDagId = z.string().regex(/^phase\d+_\d{2}_[a-z0-9_]+$/, "must be a catalogue dag_id such as phase9_04_message_queues");

export const dagsSchema = z.strictObject({
    /** DAGs left out of this stack's bundle on purpose; every other DAG ships, and the stack must satisfy its needs. */
    exclude: z.array(catalogueDagId),
    /**
     * Services outside the cluster that DAGs reach; null when this stack has none. Only endpoints here: the
     * credentials are written to Vault KV at the connection's path by the team that owns the account.
     */
    external: z.strictObject({
        azureBlob: z.strictObject({ accountUrl: z.url() }).nullable(),
        bigquery: z.strictObject({ project: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "must be a GCP project id") }).nullable(),
        httpApi: z.strictObject({ baseUrl: z.url() }).nullable(),
    }),
});

/** Section name -> schema: the keys accepted in the `airflow-platform:` config namespace. */
export const SECTION_SCHEMAS = {
    kubernetes: kubernetesSchema,
    airflow: airflowSchema,
    postgres: postgresSchema,
    redis: redisSchema,
    kafka: kafkaSchema,
    mlflow: mlflowSchema,
    marquez: marquezSchema,
    vault: vaultSchema,
    monitoring: monitoringSchema,
    aws: awsSchema,
    teams: teamsSchema,
    dags: dagsSchema,
} as const;

export type SectionName = keyof typeof SECTION_SCHEMAS;
export const SECTION_NAMES = Object.keys(SECTION_SCHEMAS) as SectionName[];

export const stackConfigSchema = z
    .strictObject(SECTION_SCHEMAS)
    .check((ctx) => {
        const cfg = ctx.value;
        const v = cfg.vault;
        if (v.enabled && v.install && v.mode === "ha" && v.seal === null) {
            ctx.issues.push({ code: "custom", input: v.seal, path: ["vault", "seal"], message: "an HA Vault needs a seal: {type: awskms} or {type: shamir}" });
        }
        if (v.mode === "dev" && v.seal !== null) {
            ctx.issues.push({ code: "custom", input: v.seal, path: ["vault", "seal"], message: "must be null in dev mode (the dev server is never sealed)" });
        }
        if (v.seal?.type === "awskms" && !cfg.aws.enabled) {
            ctx.issues.push({ code: "custom", input: v.seal, path: ["vault", "seal", "type"], message: "awskms auto-unseal needs aws.enabled: true (the KMS key and the IRSA role)" });
        }
        const remote = cfg.airflow.logging.remote;
        if (remote.enabled && !cfg.aws.enabled) {
            ctx.issues.push({
                code: "custom",
                input: remote,
                path: ["airflow", "logging", "remote", "enabled"],
                message: "remote logging to S3 needs aws.enabled: true (the IRSA role and bucket)",
            });
        }
        if (remote.enabled && remote.bucket !== cfg.aws.buckets.logs) {
            ctx.issues.push({
                code: "custom",
                input: remote.bucket,
                path: ["airflow", "logging", "remote", "bucket"],
                message: `must be the logs bucket aws.buckets.logs (${cfg.aws.buckets.logs})`,
            });
        }
        if (cfg.postgres.mode === "rds" && !cfg.aws.enabled) {
            ctx.issues.push({ code: "custom", input: cfg.postgres.mode, path: ["postgres", "mode"], message: "rds needs aws.enabled: true" });
        }
        if (cfg.aws.enabled && cfg.aws.oidcProviderArn === null) {
            ctx.issues.push({ code: "custom", input: null, path: ["aws", "oidcProviderArn"], message: "required when aws.enabled is true" });
        }
        if (!cfg.postgres.databases.includes("airflow")) {
            ctx.issues.push({ code: "custom", input: cfg.postgres.databases, path: ["postgres", "databases"], message: "must include the Airflow metadata database 'airflow'" });
        }
    });

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type AirflowConfig = StackConfig["airflow"];
export type KubernetesConfig = StackConfig["kubernetes"];
export type PostgresConfig = StackConfig["postgres"];
export type RedisConfig = StackConfig["redis"];
export type KafkaConfig = StackConfig["kafka"];
export type MlflowConfig = StackConfig["mlflow"];
export type MarquezConfig = StackConfig["marquez"];
export type VaultConfig = StackConfig["vault"];
export type MonitoringConfig = StackConfig["monitoring"];
export type AwsConfig = StackConfig["aws"];
export type TeamsConfig = StackConfig["teams"];
