/**
 * MLflow tracking server (community-charts chart): Postgres backend store through the Postgres
 * component's Secret, S3 artifact store through the IRSA role from the AWS component.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { GeneratedSecret } from "./secrets";
import * as mv from "./values/mlflow";
import { k8sName } from "./values/naming";
import { ChartSource, chartLocation } from "./values/charts";

export interface MlflowArgs {
    /** Where the Helm chart comes from: its repository at the pinned version (default) or a folder of local tarballs. */
    chartSource?: ChartSource;
    /** Namespace of the release and its Secrets. */
    namespace: pulumi.Input<string>;
    /** Tracking server replicas; 2 or more also get a PodDisruptionBudget. */
    replicas: number;
    /** The backend store: a Postgres database and the Secret (key `password`) of its role, e.g. from the Postgres component. */
    db: { host: pulumi.Input<string>; port: pulumi.Input<number>; database: string; secretName: pulumi.Input<string> };
    /** S3 artifact store (bucket from the AWS component). Default: local artifacts in the pod (dev only). */
    artifacts?: { bucket: pulumi.Input<string>; path: string };
    /** IRSA role the MLflow service account assumes for S3 (from the AWS component). Default: no role annotation. */
    roleArn?: pulumi.Input<string>;
}

/** The MLflow tracking server (community-charts chart) on Postgres, with S3 artifacts through IRSA. */
export class Mlflow extends pulumi.ComponentResource {
    /** In-cluster tracking URI (`http://<name>.<namespace>.svc.cluster.local:80`). */
    public readonly trackingUri: pulumi.Output<string>;
    /** The `mlflow_default` http connection (JSON form). */
    public readonly airflowConnection: pulumi.Output<Record<string, unknown>>;
    /** Service account name; the AWS component's IRSA role trusts exactly this one. */
    public readonly serviceAccountName: string;
    /** The chart's final values (Secret names, never a password). */
    public readonly values: pulumi.Output<Record<string, unknown>>;

    constructor(name: string, args: MlflowArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:Mlflow", name, {}, opts);
        const release = k8sName(name);
        this.serviceAccountName = release;
        this.values = pulumi
            .all([args.db.host, args.db.port, args.db.secretName, args.artifacts?.bucket, args.roleArn])
            .apply(([host, port, secretName, bucket, roleArn]) =>
                mv.mlflowValues({
                    releaseName: release,
                    db: { host, port, database: args.db.database, secretName },
                    artifacts: args.artifacts && bucket ? { bucket, path: args.artifacts.path } : null,
                    serviceAccount: { name: release, roleArn },
                    replicas: args.replicas,
                }),
            );
        const flaskSecret = new GeneratedSecret(
            `${name}-flask-secret`,
            { namespace: args.namespace, secretName: mv.flaskSecretName(release), generate: { [mv.FLASK_SECRET_KEY]: { length: 64 } } },
            { parent: this },
        );
        new k8s.helm.v4.Chart(
            name,
            {
                name: release,
                ...chartLocation(mv.MLFLOW_CHART, args.chartSource),
                namespace: args.namespace,
                values: this.values,
            },
            { parent: this, dependsOn: [flaskSecret] },
        );
        if (args.replicas > 1) {
            const pdb = pulumi.output(args.namespace).apply((ns) => mv.mlflowDisruptionBudget(release, ns, args.replicas)!);
            new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, { metadata: pdb.apply((b) => b.metadata as object), spec: pdb.apply((b) => b.spec as object) }, { parent: this });
        }
        this.trackingUri = pulumi.output(args.namespace).apply((ns) => mv.mlflowTrackingUri(release, ns));
        this.airflowConnection = this.trackingUri.apply(mv.mlflowAirflowConnection);
        this.registerOutputs({ trackingUri: this.trackingUri });
    }
}
