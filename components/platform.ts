/**
 * The whole platform for one stack: namespace, Airflow image and chart, and the platform components
 * (AWS storage/IAM, Postgres, Redis, Kafka, MLflow, Marquez, Vault, monitoring), each switched on or
 * off by config. Composition only: it maps config to each component's Args and wires outputs between
 * them (DB Secrets → Airflow, Marquez → OpenLineage, Vault → secrets backend, Kafka → connections).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import type { StackSecrets } from "../config/load";
import { Airflow } from "./airflow";
import { AirflowImage } from "./image";
import { AwsStorage } from "./aws";
import { Kafka } from "./kafka";
import { Marquez } from "./marquez";
import { Mlflow } from "./mlflow";
import { Monitoring } from "./monitoring";
import { Postgres } from "./postgres";
import { Redis } from "./redis";
import { AIRFLOW_VAULT_ROLE, Vault, VaultArgs } from "./vault";
import { NetworkPolicies } from "./network";
import { networkInputFromConfig } from "./values/network";
import { type AirflowIntegrations, type MetadataDatabase, type SourceFile, loadLocalSettings, localSettingsValue } from "./values/airflow";
import { k8sName } from "./values/naming";
import * as pf from "./values/platform";
import { AirflowPools } from "./pools";
import { contractConnections, ServiceEndpoints, StackNeeds } from "./values/contract";
import { withConfigKeys } from "./errors";

export interface PlatformArgs {
    /**
     * The whole platform's configuration, one section per component (`stackConfigSchema` of `airflow-platform/config`
     * validates it; `loadStackConfig` reads it from Pulumi config). Every key is required: no hidden defaults.
     */
    config: StackConfig;
    /** The secret inputs the config calls for (git-sync key, Vault token, alert credentials), as Pulumi secrets. */
    secrets: StackSecrets;
    /** Environment name (OpenLineage namespace, Vault variable). Default: the Pulumi stack name. */
    environment?: string;
    /** Topics the DAGs declare in their needs.yaml files; created next to kafka.topics. Default none. */
    dagTopics?: pf.DagTopic[];
    /** Variables the DAGs declare in their needs.yaml files (name -> value); written to Vault. Default none. */
    dagVariables?: Record<string, unknown>;
    /** Connections, pools and FAB roles the shipped DAGs declare (`stackContract` of `airflow-platform/contract`). Default: none checked, no pools or roles. */
    dagContract?: Pick<StackNeeds, "connections" | "pools"> & Partial<Pick<StackNeeds, "roles">>;
    /** The Airflow chart's airflow_local_settings.py. Default: the package's local_settings/airflow_local_settings.py. */
    localSettings?: SourceFile;
}

/** What other stacks consume (StackReference): endpoints and Secret names, never secret values. */
export interface PlatformOutputs {
    /** The namespace of Airflow and of every in-cluster component. */
    namespace: pulumi.Output<string>;
    /** Helm release name of Airflow (its Services and service accounts start with it). */
    airflowRelease: string;
    /** What a team's Job needs to run Airflow's CLI against this platform: the deployed image and the metadata DB Secret (key `connection`). */
    airflow: { image: pulumi.Output<string>; metadataSecretName: string };
    /** Postgres: host, port, and the Secret of each database (keys username, password, connection). */
    postgres?: { host: pulumi.Output<string>; port: pulumi.Output<number>; databaseSecrets: Record<string, pulumi.Output<string>> };
    /** Redis: host, port and its Secret (keys password, connection). */
    redis?: { host: pulumi.Output<string>; port: pulumi.Output<number>; secretName: pulumi.Output<string> };
    /** Kafka: bootstrap address, topics, and the Strimzi cluster name a team's KafkaTopics target. */
    kafka?: { bootstrapServers: pulumi.Output<string>; clusterName: string; topics: string[] };
    /** MLflow's in-cluster tracking URI. */
    mlflow?: { trackingUri: pulumi.Output<string> };
    /** Marquez's URL and Airflow's OpenLineage namespace. */
    marquez?: { url: pulumi.Output<string>; openLineageNamespace: pulumi.Output<string> };
    /** Vault: address, KV mount (connections under `<mount>/connections/<conn_id>`), policy names. */
    vault?: { address: pulumi.Output<string>; mount: string; policies: string[] };
    /** AWS: bucket name per kind and IRSA role ARN per workload. */
    aws?: { buckets: Record<string, pulumi.Output<string>>; roleArns: Record<string, pulumi.Output<string>> };
    /** The Grafana dashboard ConfigMap. */
    monitoring?: { dashboardConfigMap: pulumi.Output<string> };
}

/** `PlatformOutputs` as another stack reads them (`StackReference.requireOutput("platform")`): plain values. */
export type PlatformOutputValues = pulumi.Unwrap<PlatformOutputs>;

/**
 * Where each component's Args come from in the stack config, so a component's refusal of its Args
 * (ComponentArgsError, in the component's vocabulary) reaches a stack's operator as the config key to fix.
 */
export const CONFIG_KEYS_OF_ARGS = {
    postgres: {
        databases: "postgres.databases", instances: "postgres.instances", passwords: "postgres.databases", rds: "postgres.rds",
        "rds.subnetIds": "postgres.rds.subnetIds", "rds.clientSecurityGroupIds": "postgres.rds.vpcSecurityGroupIds",
    },
    kafka: { topics: "kafka.topics (with the topics the DAGs declare)" },
    vault: {
        declaredTeams: "teams", teams: "vault.teamPolicies", seal: "vault.seal", mode: "vault.mode",
        token: "vaultToken (secret config: pulumi config set --secret vaultToken)",
    },
    aws: { oidcProviderArn: "aws.oidcProviderArn", workloads: "aws" },
    image: { "image.baseImage": "airflow.image.baseImage", image: "airflow.image" },
    airflow: { name: "the Platform's name", gitSyncSshKey: "gitSyncSshKey (secret config: pulumi config set --secret gitSyncSshKey)" },
} as const;

/** A value supplied after construction: breaks the Airflow ⇄ Postgres cycle (Airflow owns its DB password). */
function deferred<T>(): { output: pulumi.Output<T>; resolve: (value: pulumi.Input<T>) => void; fail: (error: unknown) => void } {
    let resolve!: (value: pulumi.Input<T>) => void;
    let fail!: (error: unknown) => void;
    const promise = new Promise<pulumi.Input<T>>((res, rej) => ((resolve = res), (fail = rej)));
    promise.catch(() => undefined); // a failure is the program's own error, reported where it is thrown
    return { output: pulumi.output(promise) as unknown as pulumi.Output<T>, resolve, fail };
}

/**
 * The whole platform from one stack configuration: every component switched on or off by its section,
 * wired to each other and to Airflow. The components are also usable one by one.
 */
export class Platform extends pulumi.ComponentResource {
    readonly namespace: pulumi.Output<string>;
    readonly airflow: Airflow;
    readonly image: AirflowImage;
    readonly postgres?: Postgres;
    readonly redis?: Redis;
    readonly kafka?: Kafka;
    readonly mlflow?: Mlflow;
    readonly marquez?: Marquez;
    readonly vault?: Vault;
    readonly monitoring?: Monitoring;
    readonly aws?: AwsStorage;
    readonly network: NetworkPolicies;
    readonly pools?: AirflowPools;
    readonly outputs: PlatformOutputs;
    /** Release name of the Vault component: its policy names and auth paths start with it (config/vault-layout.json). */
    private readonly vaultRelease: string;

    constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:index:Platform", name, {}, opts);
        const { config, secrets } = args;
        const environment = args.environment ?? pulumi.getStack();
        const componentNames = { airflow: `${name}-airflow`, vault: `${name}-vault`, mlflow: `${name}-mlflow` };
        this.vaultRelease = k8sName(componentNames.vault);
        const problems = pf.platformConfigProblems(config, componentNames);
        if (config.vault.enabled && !config.vault.install && secrets.vaultToken === undefined) {
            // The Vault component would refuse its Args (token); said here, before anything is registered, in config keys.
            problems.push("vaultToken: vault.install is false, so the Vault provider needs a token for the existing Vault (pulumi config set --secret vaultToken)");
        }
        if (problems.length > 0) {
            throw new Error(`contradictory platform configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        }
        if (args.dagContract) {
            // Every connection the shipped DAGs declare must have an endpoint here; fail before registering anything.
            const needs = { connections: args.dagContract.connections, variables: {}, pools: {}, topics: [], databases: [], buckets: [], packages: [], roles: [] };
            contractConnections(needs, [...Platform.platformConnectionIds(config), ...Platform.declaredPostgresIds(config, args.dagContract)], this.contractEndpoints(config, componentNames.airflow, "ns",
                config.mlflow.enabled ? "http://mlflow" : undefined, config.marquez.enabled ? "http://marquez" : undefined,
                config.monitoring.enabled ? "xoxb-placeholder" : undefined));
        }
        // A settings file the chart can't take stops the program here, naming the file, before anything is registered.
        const localSettings = args.localSettings ?? loadLocalSettings();
        localSettingsValue(localSettings);
        const nsName = config.kubernetes.namespace;
        const namespace = config.kubernetes.createNamespace
            ? new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: nsName } }, { parent: this })
            : undefined;
        this.namespace = namespace ? namespace.metadata.name : pulumi.output(nsName);
        const child = { parent: this, dependsOn: namespace ? [namespace] : [] };
        const ns = this.namespace;
        const celery = config.airflow.executor.startsWith("CeleryExecutor");
        const airflowSAs = pf.airflowServiceAccounts(componentNames.airflow);

        // Default-deny NetworkPolicies for the namespace, with one allow per flow between the components that talk.
        this.network = new NetworkPolicies(`${name}-network`, { namespace: ns, topology: networkInputFromConfig(config, name) }, child);

        this.image = withConfigKeys(CONFIG_KEYS_OF_ARGS.image, () =>
            new AirflowImage(`${name}-image`, { image: config.airflow.image, dagsSource: config.airflow.dags.source }, { parent: this }));

        if (config.aws.enabled) {
            const remote = config.airflow.logging.remote;
            this.aws = withConfigKeys(CONFIG_KEYS_OF_ARGS.aws, () => new AwsStorage(
                `${name}-aws`,
                {
                    region: config.aws.region,
                    oidcProviderArn: config.aws.oidcProviderArn!,
                    buckets: config.aws.buckets,
                    secretsManagerPrefix: config.aws.secretsManagerPrefix ?? undefined,
                    ...(config.vault.enabled && config.vault.install && config.vault.seal?.type === "awskms"
                        ? { vaultUnseal: { namespace: ns, serviceAccounts: [k8sName(componentNames.vault)] } }
                        : {}),
                    workloads: {
                        airflow: {
                            namespace: ns,
                            serviceAccounts: airflowSAs,
                            grants: [
                                { bucket: "logs", access: "readwrite", prefix: remote.enabled ? remote.prefix : "airflow/logs" },
                                { bucket: "data", access: "readwrite", prefix: "" },
                            ],
                            secretsManagerRead: config.aws.secretsManagerPrefix !== null,
                        },
                        ...(config.mlflow.enabled
                            ? { mlflow: { namespace: ns, serviceAccounts: [k8sName(componentNames.mlflow)], grants: [{ bucket: "mlflowArtifacts" as const, access: "readwrite" as const, prefix: "" }] } }
                            : {}),
                    },
                },
                child,
            ));
        }

        // Airflow generates its metadata DB password; Postgres creates the airflow role with it.
        const airflowDbPassword = deferred<string>();
        // Until Airflow exists, resources waiting on its password are pending: an error before then fails them too,
        // or the program would wait for them forever instead of stopping with the error.
        try {
            // Every stack has Postgres: Airflow's metadata database lives there (CNPG, a StatefulSet or RDS).
            const pg = config.postgres;
            this.postgres = withConfigKeys(CONFIG_KEYS_OF_ARGS.postgres, () => new Postgres(
                `${name}-postgres`,
                {
                    chartSource: config.kubernetes.charts,
                    namespace: ns,
                    mode: pg.mode,
                    databases: pg.databases,
                    instances: pg.instances,
                    storageGi: pg.storageGi,
                    storageClass: config.kubernetes.storageClass,
                    passwords: { airflow: airflowDbPassword.output },
                    rds: pg.rds
                        ? {
                              instanceClass: pg.rds.instanceClass,
                              allocatedStorageGi: pg.rds.allocatedStorageGi,
                              engineVersion: pg.rds.engineVersion,
                              multiAz: pg.rds.multiAz,
                              subnetIds: pg.rds.subnetIds,
                              clientSecurityGroupIds: pg.rds.vpcSecurityGroupIds,
                          }
                        : undefined,
                },
                child,
            ));
            const postgres = this.postgres!;

            if (config.redis.enabled) {
                this.redis = new Redis(
                    `${name}-redis`,
                    { namespace: ns, storageGi: config.redis.storageGi, persistence: config.redis.persistence, storageClass: config.kubernetes.storageClass },
                    child,
                );
            }

            if (config.kafka.enabled) {
                this.kafka = withConfigKeys(CONFIG_KEYS_OF_ARGS.kafka, () => new Kafka(
                    `${name}-kafka`,
                    {
                        chartSource: config.kubernetes.charts,
                        namespace: ns,
                        replicas: config.kafka.replicas,
                        storageGi: config.kafka.storageGi,
                        topics: pf.mergeTopics(pf.topicsFromConfig(config.kafka), args.dagTopics ?? []),
                    },
                    child,
                ));
            }

            if (config.mlflow.enabled && postgres) {
                this.mlflow = new Mlflow(
                    componentNames.mlflow,
                    {
                        chartSource: config.kubernetes.charts,
                        namespace: ns,
                        replicas: config.mlflow.replicas,
                        db: { host: postgres.host, port: postgres.port, database: "mlflow", secretName: postgres.databases.mlflow.secretName },
                        artifacts: this.aws ? { bucket: this.aws.bucketNames.mlflowArtifacts, path: "artifacts" } : undefined,
                        roleArn: this.aws?.roleArns.mlflow,
                    },
                    child,
                );
            }

            if (config.marquez.enabled && postgres) {
                this.marquez = new Marquez(
                    `${name}-marquez`,
                    {
                        chartSource: config.kubernetes.charts,
                        namespace: ns,
                        environment,
                        db: { host: postgres.host, port: postgres.port, database: "marquez", user: "marquez" },
                        dbPassword: postgres.passwords.marquez,
                        web: config.marquez.web,
                    },
                    child,
                );
            }

            if (config.vault.enabled) {
                const v = config.vault;
                if (v.mode === "ha" && v.install && secrets.vaultToken === undefined) {
                    pulumi.log.warn("vault.mode is ha and the secret config key vaultToken is not set: after the one-time init, " +
                        "`pulumi config set --secret vaultToken <token>` (docs/runbooks/vault-bootstrap.md)", this);
                }
                this.vault = withConfigKeys(CONFIG_KEYS_OF_ARGS.vault, () => new Vault(
                    componentNames.vault,
                    {
                        chartSource: config.kubernetes.charts,
                        namespace: ns,
                        mode: v.mode,
                        seal: this.vaultSeal(v.seal, config.aws.region),
                        replicas: v.replicas,
                        storageGi: v.storageGi,
                        installChart: v.install,
                        address: v.address,
                        token: secrets.vaultToken,
                        mount: v.kvMount,
                        airflow: { namespace: ns, serviceAccounts: airflowSAs },
                        declaredTeams: Object.keys(config.teams),
                        teams: v.teamPolicies.map((p) => ({ name: p.team, namespace: p.namespace, serviceAccounts: p.serviceAccounts })),
                        connections: this.withContractConnections(config, this.airflowConnections(config), args.dagContract, componentNames.airflow, ns,
                            secrets.slackBotToken),
                        variables: pf.airflowVariables(environment, args.dagVariables ?? {}),
                    },
                    child,
                ));
            }

            if (config.monitoring.enabled) {
                const m = config.monitoring;
                if (!secrets.alerting) throw new Error("monitoring.enabled: the alert credentials (alertSlackWebhookUrl, alertPagerdutyRoutingKey, alertSmtpPassword) were not loaded");
                this.monitoring = new Monitoring(
                    `${name}-monitoring`,
                    {
                        chartSource: config.kubernetes.charts,
                        namespace: ns,
                        airflowRelease: componentNames.airflow,
                        alerting: {
                            slackChannel: m.alerting.slackChannel,
                            incidentsChannel: m.alerting.incidentsChannel,
                            leadershipEmail: m.alerting.leadershipEmail,
                            defaultTeamEmail: m.alerting.defaultTeamEmail,
                            teams: Object.fromEntries(Object.entries(config.teams).map(([team, t]) => [team, t.email])),
                            smtp: m.alerting.smtp,
                        },
                        credentials: secrets.alerting,
                        owningTeam: m.alerting.owningTeam,
                        serviceMonitor: m.serviceMonitor,
                        retention: m.retention,
                        storageGi: m.storageGi,
                    },
                    child,
                );
            }

            const integrations: pulumi.Output<AirflowIntegrations> = pulumi
                .all([
                    this.vault?.secretsBackend,
                    this.marquez?.openLineage,
                    this.aws?.roleArns.airflow,
                    celery ? this.redis?.secretName : undefined,
                ])
                .apply(([vaultBackend, openLineage, roleArn, brokerSecret]) => ({
                    ...(vaultBackend ? { secretsBackend: vaultBackend } : this.aws?.secretsBackend ? { secretsBackend: this.aws.secretsBackend } : {}),
                    ...(openLineage ? { openLineage } : {}),
                    ...(roleArn ? { serviceAccountAnnotations: { "eks.amazonaws.com/role-arn": roleArn } } : {}),
                    ...(brokerSecret ? { celeryBroker: { brokerUrlSecretName: brokerSecret } } : {}),
                }));

            const metadataDatabase: pulumi.Input<MetadataDatabase> = postgres.host.apply((host) => ({
                host,
                port: 5432,
                database: "airflow",
                user: "airflow",
                sslmode: postgres.sslmode,
            }));
            this.airflow = withConfigKeys(CONFIG_KEYS_OF_ARGS.airflow, () => new Airflow(
                componentNames.airflow,
                {
                    chartSource: config.kubernetes.charts,
                    namespace: ns,
                    airflow: config.airflow,
                    metadataDatabase,
                    gitSyncSshKey: secrets.gitSyncSshKey,
                    integrations,
                    image: this.image.deployed,
                    localSettings,
                },
                { parent: this, dependsOn: namespace ? [namespace] : [] },
            ));
            airflowDbPassword.resolve(this.airflow.metadataDbPassword);
        } catch (error) {
            airflowDbPassword.fail(error);
            throw error;
        }
        const postgres = this.postgres;

        const dagRoles = args.dagContract?.roles ?? [];
        if (args.dagContract && (Object.keys(args.dagContract.pools).length > 0 || dagRoles.length > 0)) {
            this.pools = new AirflowPools(`${name}-pools`, {
                namespace: ns,
                pools: args.dagContract.pools,
                roles: dagRoles,
                image: this.image.imageRef,
                metadataSecretName: this.airflow.secretNames.metadata,
            }, { parent: this, dependsOn: [this.airflow] });
        }

        this.outputs = {
            namespace: this.namespace,
            airflowRelease: this.airflow.releaseName,
            airflow: { image: this.image.imageRef, metadataSecretName: this.airflow.secretNames.metadata },
            ...(postgres
                ? {
                      postgres: {
                          host: postgres.host,
                          port: postgres.port,
                          databaseSecrets: Object.fromEntries(Object.entries(postgres.databases).map(([db, d]) => [db, d.secretName])),
                      },
                  }
                : {}),
            ...(this.redis ? { redis: { host: this.redis.host, port: this.redis.port, secretName: this.redis.secretName } } : {}),
            ...(this.kafka ? { kafka: { bootstrapServers: this.kafka.bootstrapServers, clusterName: this.kafka.clusterName, topics: this.kafka.topicNames } } : {}),
            ...(this.mlflow ? { mlflow: { trackingUri: this.mlflow.trackingUri } } : {}),
            ...(this.marquez ? { marquez: { url: this.marquez.url, openLineageNamespace: this.marquez.openLineage.apply((o) => o.namespace) } } : {}),
            ...(this.vault ? { vault: { address: this.vault.address, mount: this.vault.mount, policies: this.vault.policyNames } } : {}),
            ...(this.aws ? { aws: { buckets: this.aws.bucketNames, roleArns: this.aws.roleArns } } : {}),
            ...(this.monitoring ? { monitoring: { dashboardConfigMap: this.monitoring.dashboardConfigMapName } } : {}),
        };
        this.registerOutputs({ namespace: this.namespace, airflowRelease: this.airflow.releaseName });
    }

    /** Endpoints of this stack's services for the contract's connections (placeholders until outputs resolve). */
    /** The Vault component's seal from stack config, with the KMS key and role AwsStorage created for it. */
    private vaultSeal(seal: StackConfig["vault"]["seal"], region: string): VaultArgs["seal"] {
        if (seal?.type !== "awskms") return seal ?? undefined;
        if (!this.aws?.vaultUnseal) throw new Error("vault.seal.type: awskms needs aws.enabled: true (the KMS key and the IRSA role)");
        return { type: "awskms", region, kmsKeyId: this.aws.vaultUnseal.kmsKeyId, roleArn: this.aws.vaultUnseal.roleArn };
    }

    private contractEndpoints(config: StackConfig, airflowRelease: string, ns: string, mlflow?: string, marquez?: string, slackBotToken?: string): ServiceEndpoints {
        const ext = config.dags.external;
        const [smtpHost, smtpPort] = config.monitoring.alerting.smtp.smarthost.split(":");
        return {
            mlflow, marquez, slackBotToken,
            vault: config.vault.enabled
                ? { address: config.vault.address, mount: config.vault.kvMount, role: AIRFLOW_VAULT_ROLE, authMountPoint: `${this.vaultRelease}-kubernetes` }
                : undefined,
            smtp: config.monitoring.enabled
                ? { host: smtpHost, port: Number(smtpPort), from: config.monitoring.alerting.smtp.from, login: config.monitoring.alerting.smtp.username }
                : undefined,
            airflowApi: `http://${airflowRelease}-api-server.${ns}.svc:8080`,
            // prometheus-operated: the Service the Prometheus Operator creates for every Prometheus it runs.
            prometheus: config.monitoring.enabled ? `http://prometheus-operated.${ns}.svc:9090` : undefined,
            azureBlob: ext.azureBlob?.accountUrl, bigquery: ext.bigquery?.project, httpApi: ext.httpApi?.baseUrl,
        };
    }

    /**
     * Adds the connections the shipped DAGs declare that the platform's own ids don't cover, built from the
     * service endpoints (components/values/contract.ts). Checked first with placeholders, so an id no endpoint
     * can serve stops the program before anything is registered.
     */
    private withContractConnections(
        config: StackConfig,
        provided: Record<string, pulumi.Input<Record<string, unknown>>>,
        contract: Pick<StackNeeds, "connections"> | undefined,
        airflowRelease: string,
        namespace: pulumi.Input<string>,
        slackBotToken: pulumi.Input<string> | undefined,
    ): Record<string, pulumi.Input<Record<string, unknown>>> {
        if (!contract) return provided;
        provided = { ...provided, ...this.declaredPostgresConnections(contract, Object.keys(provided)) };
        const needs = { connections: contract.connections, variables: {}, pools: {}, topics: [], databases: [], buckets: [], packages: [], roles: [] };
        const ids = Object.keys(contractConnections(needs, Object.keys(provided),
            this.contractEndpoints(config, airflowRelease, "ns", this.mlflow && "http://mlflow", this.marquez && "http://marquez", slackBotToken && "xoxb-placeholder")));
        const built = pulumi.all([this.mlflow?.trackingUri, this.marquez?.url, namespace, slackBotToken])
            .apply(([mlflow, marquez, ns, slack]) => contractConnections(needs, Object.keys(provided), this.contractEndpoints(config, airflowRelease, ns, mlflow, marquez, slack)));
        return { ...provided, ...Object.fromEntries(ids.map((id) => [id, built.apply((c) => c[id])])) };
    }

    /**
     * Declared connections to the platform's Postgres beyond postgres_default (for example the credential a rotation
     * DAG owns): the database's own login and generated password. A database the stack doesn't create is left for
     * contractConnections to refuse by name.
     */
    private declaredPostgresConnections(contract: Pick<StackNeeds, "connections">, provided: string[]): Record<string, pulumi.Input<Record<string, unknown>>> {
        const pg = this.postgres;
        const out: Record<string, pulumi.Input<Record<string, unknown>>> = {};
        for (const [connId, spec] of Object.entries(contract.connections)) {
            const database = spec.database ?? "warehouse";
            const password = pg?.passwords[database];
            if (spec.service !== "postgres" || provided.includes(connId) || !pg || !password) continue;
            out[connId] = pulumi.secret(
                pulumi.all([pg.host, pg.port, password]).apply(([h, p, pw]) => ({
                    ...pf.postgresConnection(h, p, pw, pg.sslmode, database),
                    ...(spec.extra ? { extra: { sslmode: pg.sslmode, ...spec.extra } } : {}),
                })),
            );
        }
        return out;
    }

    /** Declared connections declaredPostgresConnections serves: the platform's Postgres has their database. */
    private static declaredPostgresIds(config: StackConfig, contract: Pick<StackNeeds, "connections">): string[] {
        return Object.entries(contract.connections)
            .filter(([, spec]) => spec.service === "postgres" && config.postgres.databases.includes(spec.database ?? "warehouse"))
            .map(([id]) => id);
    }

    /** The connection ids airflowConnections builds for this config (the rest come from the contract). */
    private static platformConnectionIds(config: StackConfig): string[] {
        return [
            ...(config.postgres.databases.includes("warehouse") ? ["postgres_default"] : []),
            ...(config.kafka.enabled ? ["kafka_default"] : []),
            ...(config.mlflow.enabled ? ["mlflow_default"] : []),
            ...(config.redis.enabled ? ["redis_default"] : []),
            ...(config.aws.enabled ? ["aws_default"] : []),
        ];
    }

    /** Connections the DAGs need (team contract ids), written to Vault KV; passwords stay Pulumi secrets. */
    private airflowConnections(config: StackConfig): Record<string, pulumi.Input<Record<string, unknown>>> {
        const conns: Record<string, pulumi.Input<Record<string, unknown>>> = {};
        const pg = this.postgres;
        if (pg && pg.passwords.warehouse) {
            conns.postgres_default = pulumi.secret(
                pulumi.all([pg.host, pg.port, pg.passwords.warehouse]).apply(([h, p, pw]) => pf.postgresConnection(h, p, pw, pg.sslmode)),
            );
        }
        if (this.kafka) conns.kafka_default = this.kafka.airflowConnection;
        if (this.mlflow) conns.mlflow_default = this.mlflow.airflowConnection;
        if (this.redis) {
            const r = this.redis;
            conns.redis_default = pulumi.secret(pulumi.all([r.host, r.port, r.password]).apply(([h, p, pw]) => pf.redisConnection(h, p, pw)));
        }
        if (config.aws.enabled) conns.aws_default = pf.awsConnection(config.aws.region);
        return conns;
    }
}
