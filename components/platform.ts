/**
 * The whole platform for one stack. This first version composes the namespace and Airflow; the platform
 * components (issue 4) add Postgres, Redis, Kafka, MLflow, Marquez, Vault, monitoring and AWS here and feed
 * Airflow's integration slots.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import type { StackSecrets } from "../config/load";
import { Airflow } from "./airflow";
import { AirflowImage } from "./image";
import type { MetadataDatabase } from "./values/airflow";

export interface PlatformArgs {
    config: StackConfig;
    secrets: StackSecrets;
}

/** In-cluster Postgres service for the metadata DB until the Postgres component supplies its endpoint. */
export function defaultMetadataDatabase(name: string, config: StackConfig): MetadataDatabase {
    const ns = config.kubernetes.namespace;
    return {
        host: `${name}-postgres-rw.${ns}.svc.cluster.local`,
        port: 5432,
        database: "airflow",
        user: "airflow",
        sslmode: config.postgres.mode === "rds" ? "require" : "prefer",
    };
}

export class Platform extends pulumi.ComponentResource {
    readonly namespace: pulumi.Output<string>;
    readonly airflow: Airflow;
    readonly image: AirflowImage;

    constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:index:Platform", name, {}, opts);
        const { config, secrets } = args;
        const nsName = config.kubernetes.namespace;
        const namespace = config.kubernetes.createNamespace
            ? new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: nsName } }, { parent: this })
            : undefined;
        this.namespace = namespace ? namespace.metadata.name : pulumi.output(nsName);

        this.image = new AirflowImage(`${name}-image`, { image: config.airflow.image, dagsSource: config.airflow.dags.source }, { parent: this });

        this.airflow = new Airflow(
            `${name}-airflow`,
            {
                namespace: this.namespace,
                airflow: config.airflow,
                metadataDatabase: defaultMetadataDatabase(name, config),
                gitSyncSshKey: secrets.gitSyncSshKey,
                integrations: {},
                image: this.image.deployed,
            },
            { parent: this, dependsOn: namespace ? [namespace] : [] },
        );

        this.registerOutputs({ namespace: this.namespace, airflowRelease: this.airflow.releaseName });
    }
}
