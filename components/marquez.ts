/**
 * Marquez (API + web UI) on its own database of the Postgres component; the chart's Bitnami
 * postgresql subchart stays off. Outputs the OpenLineage transport and namespace for Airflow.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { GeneratedSecret } from "./secrets";
import * as mq from "./values/marquez";
import { k8sName } from "./values/naming";
import { ChartSource, chartLocation } from "./values/charts";

export interface MarquezArgs {
    /** Where the Helm chart comes from: its repository at the pinned version (default) or a folder of local tarballs. */
    chartSource?: ChartSource;
    /** Namespace of the release and its Secret. */
    namespace: pulumi.Input<string>;
    /** Environment name (dev/staging/prod): the OpenLineage namespace is airflow-<environment>. */
    environment: string;
    /** Marquez's own Postgres database and login role (e.g. from the Postgres component's `host`, `port`). */
    db: { host: pulumi.Input<string>; port: pulumi.Input<number>; database: string; user: string };
    /** The database role's password (a Pulumi secret from the Postgres component). */
    dbPassword: pulumi.Input<string>;
    /** Deploy the web UI next to the API. Default `true`. */
    web?: boolean;
}

/** Marquez, the OpenLineage backend, on an existing Postgres database (its chart's Bitnami Postgres stays off). */
export class Marquez extends pulumi.ComponentResource {
    /** The API's in-cluster URL (`http://<name>.<namespace>.svc.cluster.local:80`). */
    public readonly url: pulumi.Output<string>;
    /** What Airflow's [openlineage] section needs: namespace `airflow-<environment>` and the HTTP transport to `url`. */
    public readonly openLineage: pulumi.Output<{ namespace: string; transport: Record<string, unknown> }>;
    /** The chart's final values (a Secret name, never the password). */
    public readonly values: pulumi.Output<Record<string, unknown>>;

    constructor(name: string, args: MarquezArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:Marquez", name, {}, opts);
        const child = { parent: this };
        const release = k8sName(name);
        // The chart reads the password from key marquez-db-password of an existing Secret.
        const secret = new GeneratedSecret(
            `${name}-db`,
            { namespace: args.namespace, secretName: k8sName(name, "db"), provided: { [mq.MARQUEZ_PASSWORD_KEY]: args.dbPassword } },
            child,
        );
        this.values = pulumi.all([args.db.host, args.db.port]).apply(([host, port]) =>
            mq.marquezValues({
                releaseName: release,
                db: { host, port, database: args.db.database, user: args.db.user },
                passwordSecretName: k8sName(name, "db"),
                webEnabled: args.web ?? true,
            }),
        );
        new k8s.helm.v4.Chart(
            name,
            {
                name: release,
                ...chartLocation(mq.MARQUEZ_CHART, args.chartSource),
                namespace: args.namespace,
                values: this.values,
            },
            { ...child, dependsOn: [secret] },
        );
        this.url = pulumi.output(args.namespace).apply((ns) => mq.marquezUrl(release, ns));
        this.openLineage = this.url.apply((url) => ({
            namespace: mq.openLineageNamespace(args.environment),
            transport: JSON.parse(mq.openLineageTransport(url)) as Record<string, unknown>,
        }));
        this.registerOutputs({ url: this.url, openLineage: this.openLineage });
    }
}
