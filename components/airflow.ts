/**
 * Airflow 3.3 on Kubernetes through the official apache-airflow chart (helm.v4.Chart).
 *
 * The component generates every secret the chart would otherwise template (and re-template on each render:
 * apache/airflow #49871, #60111, #54069) with @pulumi/random, stores them in Kubernetes Secrets named after
 * the component, and hands the chart only their names. Random resources have no keepers, so they are
 * generated once and stay the same across updates.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { AirflowConfig } from "../config/schema";
import {
    AIRFLOW_CHART,
    AirflowIntegrations,
    AirflowSecretNames,
    MetadataDatabase,
    SourceFile,
    airflowSecretNames,
    brokerUrl,
    buildAirflowValues,
    loadLocalSettings,
    localSettingsValue,
    metadataConnectionUri,
    metadataEndpoint,
    pgbouncerIni,
    pgbouncerStatsUri,
    pgbouncerUsers,
    resultBackendUri,
    toUrlSafeBase64,
    usesCelery,
} from "./values/airflow";
import type { DeployedImage } from "./values/image";
import { HelmValues, mergeValues } from "./values/merge";
import { SECRETS_DIGEST_ANNOTATION, contentDigest } from "./values/rollout";
import { ChartSource, chartLocation } from "./values/charts";
import { ComponentArgsError } from "./errors";

export interface AirflowArgs {
    /** Where the Helm chart comes from: its repository at the pinned version (default) or a folder of local tarballs. */
    chartSource?: ChartSource;
    /** Namespace of the release and of the Secrets the component generates. */
    namespace: pulumi.Input<string>;
    /**
     * The deployment: executor, replicas, resources, DAG source (bundled or git-sync), logging, PgBouncer, KEDA,
     * PDBs, ingress and image. Same shape as the `airflow` section of the stack config (`airflowSchema` of
     * `airflow-platform/config`, which validates it); every field is required, there are no hidden defaults.
     */
    airflow: AirflowConfig;
    /** Where the metadata database lives; the role `user` must accept `metadataDbPassword`. */
    metadataDatabase: pulumi.Input<MetadataDatabase>;
    /** Private key for git-sync over ssh; required when `airflow.dags.auth` is `ssh`. */
    gitSyncSshKey?: pulumi.Input<string>;
    /** Slots other components fill (secrets backend, OpenLineage, IRSA annotations, Celery broker Secret). Default: none. */
    integrations?: pulumi.Input<AirflowIntegrations>;
    /** The image to deploy by digest (the AirflowImage component's `deployed`). Default: `airflow.image` as configured (prebuilt). */
    image?: pulumi.Input<DeployedImage>;
    /** The chart's airflow_local_settings.py. Default: the package's local_settings/airflow_local_settings.py (the dag-parser warm-up). */
    localSettings?: SourceFile;
}

/** Airflow 3 through the official apache-airflow chart, with every secret the chart needs generated once and kept stable. */
export class Airflow extends pulumi.ComponentResource {
    /** Helm release name (== component name). */
    readonly releaseName: string;
    /** Names of the Secrets the component generated (fernet key, API and JWT secrets, admin, metadata and result-backend connections, …). */
    readonly secretNames: AirflowSecretNames;
    /** The generated metadata DB password (secret): the Postgres component creates the role with it. */
    readonly metadataDbPassword: pulumi.Output<string>;
    /** Final chart values (contain secret names only, never secret values). */
    readonly values: pulumi.Output<HelmValues>;
    /** The Helm release (helm.v4.Chart). */
    readonly chart: k8s.helm.v4.Chart;

    constructor(name: string, args: AirflowArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:index:Airflow", name, {}, opts);
        if (name.length > 40) {
            throw new ComponentArgsError("Airflow", name, "name", `longer than 40 characters (the chart appends suffixes to it)`);
        }
        this.releaseName = name;
        this.secretNames = airflowSecretNames(name);
        const names = this.secretNames;
        const child = { parent: this };
        const airflow = args.airflow;
        // Checked here, so a bad settings file stops the program naming the file, not later inside an apply.
        const localSettings = args.localSettings ?? loadLocalSettings();
        localSettingsValue(localSettings);

        const fernetBytes = new random.RandomBytes(`${name}-fernet-key`, { length: 32 }, child);
        const apiSecretKey = new random.RandomPassword(`${name}-api-secret-key`, { length: 48, special: false }, child);
        const jwtSecret = new random.RandomPassword(`${name}-jwt-secret`, { length: 64, special: false }, child);
        const dbPassword = new random.RandomPassword(`${name}-metadata-db-password`, { length: 32, special: false }, child);
        const adminPassword = new random.RandomPassword(`${name}-admin-password`, { length: 24, special: false }, child);
        this.metadataDbPassword = pulumi.secret(dbPassword.result);

        const secretContents: Record<string, pulumi.Input<string>>[] = [];
        const secret = (logicalName: string, stringData: Record<string, pulumi.Input<string>>): k8s.core.v1.Secret => {
            secretContents.push(stringData);
            return new k8s.core.v1.Secret(
                logicalName,
                {
                    metadata: { name: logicalName, namespace: args.namespace, labels: { "app.kubernetes.io/part-of": name } },
                    type: "Opaque",
                    // Wrap every value so Pulumi state, previews and the mock checker see them as secrets.
                    stringData: Object.fromEntries(Object.entries(stringData).map(([k, v]) => [k, pulumi.secret(v)])),
                },
                { ...child, deleteBeforeReplace: true },
            );
        };

        const namespace = pulumi.output(args.namespace);
        const database = pulumi.output(args.metadataDatabase);
        const endpoint = pulumi.all([namespace, database]).apply(([ns, db]) => metadataEndpoint(name, ns, airflow, db));

        const secrets: k8s.core.v1.Secret[] = [
            secret(names.fernetKey, { "fernet-key": fernetBytes.base64.apply(toUrlSafeBase64) }),
            secret(names.apiSecretKey, { "api-secret-key": apiSecretKey.result }),
            secret(names.jwtSecret, { "jwt-secret": jwtSecret.result }),
            secret(names.admin, { password: adminPassword.result }),
            secret(names.metadata, {
                connection: pulumi
                    .all([endpoint, database, dbPassword.result])
                    .apply(([ep, db, pw]) => metadataConnectionUri(ep, db.user, pw, airflow.pgbouncer.enabled ? "disable" : db.sslmode)),
            }),
            secret(names.resultBackend, {
                connection: pulumi
                    .all([endpoint, database, dbPassword.result])
                    .apply(([ep, db, pw]) =>
                        resultBackendUri(
                            airflow.pgbouncer.enabled ? { ...ep, database: `${name}-result-backend` } : ep,
                            db.user,
                            pw,
                            airflow.pgbouncer.enabled ? "disable" : db.sslmode,
                        ),
                    ),
            }),
        ];
        if (usesCelery(airflow)) {
            const redisPassword = new random.RandomPassword(`${name}-redis-password`, { length: 32, special: false }, child);
            secrets.push(
                secret(names.redisPassword, { password: redisPassword.result }),
                secret(names.brokerUrl, { connection: pulumi.all([namespace, redisPassword.result]).apply(([ns, pw]) => brokerUrl(name, ns, pw)) }),
            );
        }
        if (airflow.pgbouncer.enabled) {
            secrets.push(
                secret(names.pgbouncerConfig, {
                    "pgbouncer.ini": database.apply((db) => pgbouncerIni(name, airflow, db)),
                    "users.txt": pulumi.all([database, dbPassword.result]).apply(([db, pw]) => pgbouncerUsers(db.user, pw)),
                }),
                secret(names.pgbouncerStats, {
                    connection: pulumi.all([database, dbPassword.result]).apply(([db, pw]) => pgbouncerStatsUri(db.user, pw)),
                }),
            );
        }
        if (airflow.dags.source === "gitSync" && airflow.dags.auth === "ssh") {
            if (args.gitSyncSshKey === undefined) {
                throw new ComponentArgsError("Airflow", name, "gitSyncSshKey", 'required when airflow.dags.auth is "ssh"');
            }
            secrets.push(secret(names.gitSshKey, { gitSshKey: args.gitSyncSshKey }));
        }

        // Pods read these Secrets at start only: a changed value (a rotated password, a new git key) must roll them.
        // The annotation is a digest of every value, which reveals none of them, so it is kept out of the secrets.
        const secretsDigest = pulumi.unsecret(pulumi.all(secretContents.map((c) => pulumi.all(c))).apply(contentDigest));
        this.values = pulumi
            .all([args.integrations ?? {}, args.image, secretsDigest])
            .apply(([integrations, image, digest]) =>
                mergeValues(
                    buildAirflowValues({
                        airflow,
                        secretNames: names,
                        integrations: integrations as AirflowIntegrations,
                        image: image as DeployedImage | undefined,
                        localSettings,
                    }),
                    // PgBouncer's pods are the chart's only ones outside airflowPodAnnotations; they read its config Secret.
                    { airflowPodAnnotations: { [SECRETS_DIGEST_ANNOTATION]: digest }, ...(airflow.pgbouncer.enabled ? { pgbouncer: { podAnnotations: { [SECRETS_DIGEST_ANNOTATION]: digest } } } : {}) },
                ),
            );

        this.chart = new k8s.helm.v4.Chart(
            name,
            {
                name,
                ...chartLocation(AIRFLOW_CHART, args.chartSource),
                namespace: args.namespace,
                values: this.values,
            },
            { ...child, dependsOn: secrets },
        );

        this.registerOutputs({ releaseName: this.releaseName, values: this.values, metadataDbPassword: this.metadataDbPassword });
    }
}
