/**
 * Postgres for the platform: CloudNativePG (operator chart + Cluster CR), a StatefulSet on the
 * official image, or AWS RDS. Each database gets a login role of the same name whose password is
 * generated (or supplied by its owner, like Airflow's) and kept in a per-database Secret.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as aws from "@pulumi/aws";
import { GeneratedSecret } from "./secrets";
import * as pv from "./values/postgres";
import { k8sName, serviceHost } from "./values/naming";
import { ChartSource, chartLocation } from "./values/charts";

export type PostgresMode = "cnpg" | "statefulset" | "rds";

export interface RdsArgs {
    instanceClass: pulumi.Input<string>;
    allocatedStorageGi: pulumi.Input<number>;
    engineVersion: pulumi.Input<string>;
    multiAz: pulumi.Input<boolean>;
    /** At least two private subnets in different AZs. */
    subnetIds: string[];
    /** Security groups (EKS nodes) allowed to reach the database on 5432. */
    clientSecurityGroupIds: string[];
    backupRetentionDays?: number;
    deletionProtection?: boolean;
}

export interface PostgresArgs {
    /** Where the Helm chart comes from: its repository at the pinned version (default) or a folder of local tarballs. */
    chartSource?: ChartSource;
    namespace: pulumi.Input<string>;
    mode: PostgresMode;
    databases: string[];
    instances: number;
    storageGi: number;
    storageClass?: string | null;
    /** cnpg: install the operator chart (false when the cluster already runs it). */
    installOperator?: boolean;
    /** Passwords owned by another component (Airflow generates its metadata DB password). */
    passwords?: Record<string, pulumi.Input<string>>;
    rds?: RdsArgs;
}

export interface DatabaseOutput {
    name: string;
    user: string;
    /** Secret with keys username, password, connection. */
    secretName: pulumi.Output<string>;
}

export class Postgres extends pulumi.ComponentResource {
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;
    public readonly sslmode: "prefer" | "require";
    public readonly databases: Record<string, DatabaseOutput>;
    /** Each database's password, a Pulumi secret (for components that need their own Secret layout). */
    public readonly passwords: Record<string, pulumi.Output<string>>;

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:Postgres", name, {}, opts);
        pv.validateDatabases("postgres.databases", args.databases);
        for (const db of Object.keys(args.passwords ?? {})) {
            if (!args.databases.includes(db)) throw new Error(`postgres.databases: "${db}" has a supplied password but is not listed`);
        }
        if (args.mode === "rds") {
            if (!args.rds) throw new Error("postgres.rds: required when postgres.mode is rds");
            if (args.rds.subnetIds.length < 2) {
                throw new Error(`postgres.rds.subnetIds: RDS needs at least two subnets (got ${args.rds.subnetIds.length})`);
            }
            if (args.rds.clientSecurityGroupIds.length === 0) {
                throw new Error("postgres.rds.vpcSecurityGroupIds: name at least one security group allowed to connect");
            }
        }
        if (args.mode === "statefulset" && args.instances !== 1) {
            throw new Error(`postgres.instances: statefulset mode runs 1 instance (got ${args.instances})`);
        }
        const child = { parent: this };
        const ns = pulumi.output(args.namespace);
        this.sslmode = args.mode === "rds" ? "require" : "prefer";
        const clusterName = k8sName(name);

        // statefulset and rds: a superuser whose password is generated here; a bootstrap Job uses it.
        const superuser =
            args.mode === "cnpg"
                ? undefined
                : new GeneratedSecret(
                      `${name}-superuser`,
                      { namespace: args.namespace, secretName: k8sName(name, "superuser"), plain: { username: "postgres" }, generate: { password: { length: 32 } } },
                      child,
                  );
        let host: pulumi.Output<string>;
        if (args.mode === "rds") {
            host = this.createRds(name, args.rds!, superuser!.values.password).address;
        } else if (args.mode === "cnpg") {
            host = ns.apply((n) => pv.cnpgHost(clusterName, n));
        } else {
            host = ns.apply((n) => serviceHost(clusterName, n));
        }
        this.host = host;
        this.port = pulumi.output(5432);

        // One Secret per database; CloudNativePG reads managed-role passwords from basic-auth Secrets.
        this.databases = {};
        this.passwords = {};
        const secrets: GeneratedSecret[] = [];
        for (const db of args.databases) {
            const supplied = args.passwords?.[db];
            const secret = new GeneratedSecret(
                `${name}-${db}`,
                {
                    namespace: args.namespace,
                    secretName: pv.databaseSecretName(name, db),
                    type: "kubernetes.io/basic-auth",
                    plain: { username: db },
                    ...(supplied !== undefined ? { provided: { password: supplied } } : { generate: { password: { length: 32 } } }),
                    derive: {
                        connection: (g) =>
                            pulumi
                                .all([host, g.password ?? pulumi.output(supplied!)])
                                .apply(([h, pw]) => `${pv.postgresUri({ user: db, password: pw, host: h, port: 5432, database: db })}?sslmode=${this.sslmode}`),
                    },
                },
                child,
            );
            secrets.push(secret);
            this.passwords[db] = secret.values.password ?? pulumi.secret(pulumi.output(supplied!));
            this.databases[db] = { name: db, user: db, secretName: secret.secretName };
        }
        const refs = args.databases.map((db) => ({ name: db, secretName: pv.databaseSecretName(name, db) }));

        if (args.mode === "cnpg") {
            const operator = args.installOperator === false
                ? undefined
                : new k8s.helm.v4.Chart(
                      `${name}-cnpg-operator`,
                      {
                          ...chartLocation(pv.CNPG_CHART, args.chartSource),
                          namespace: args.namespace,
                          values: pv.cnpgOperatorValues({}),
                      },
                      child,
                  );
            const cluster = ns.apply((n) =>
                pv.cnpgCluster({ name: clusterName, namespace: n, instances: args.instances, storageSize: `${args.storageGi}Gi`, databases: refs }),
            );
            const clusterCr = new k8s.apiextensions.CustomResource(
                `${name}-cluster`,
                {
                    apiVersion: "postgresql.cnpg.io/v1",
                    kind: "Cluster",
                    metadata: { name: clusterName, namespace: args.namespace },
                    spec: cluster.apply((c) => c.spec as Record<string, unknown>),
                },
                { ...child, dependsOn: [...secrets, ...(operator ? [operator] : [])] },
            );
            // initdb creates the first database; the others are Database CRs.
            for (const db of args.databases.slice(1)) {
                const cr = ns.apply((n) => pv.cnpgDatabase(clusterName, n, db));
                new k8s.apiextensions.CustomResource(
                    `${name}-db-${db}`,
                    {
                        apiVersion: "postgresql.cnpg.io/v1",
                        kind: "Database",
                        metadata: { name: k8sName(clusterName, db), namespace: args.namespace },
                        spec: cr.apply((c) => c.spec as Record<string, unknown>),
                    },
                    { ...child, dependsOn: [clusterCr] },
                );
            }
        } else {
            const server: pulumi.Resource[] = [superuser!];
            if (args.mode === "statefulset") {
                const sts = new k8s.apps.v1.StatefulSet(
                    `${name}-statefulset`,
                    {
                        metadata: { name: clusterName, namespace: args.namespace },
                        spec: pv.postgresStatefulSetSpec({
                            name: clusterName,
                            superuserSecretName: k8sName(name, "superuser"),
                            storageSize: `${args.storageGi}Gi`,
                            storageClass: args.storageClass,
                        }) as unknown as k8s.types.input.apps.v1.StatefulSetSpec,
                    },
                    { ...child, dependsOn: [superuser!] },
                );
                const svc = new k8s.core.v1.Service(
                    `${name}-service`,
                    { metadata: { name: clusterName, namespace: args.namespace }, spec: pv.postgresServiceSpec(clusterName) as k8s.types.input.core.v1.ServiceSpec },
                    child,
                );
                server.push(sts, svc);
            }
            this.createBootstrapJob(name, args, host, server.concat(secrets));
        }

        this.registerOutputs({ host: this.host, port: this.port });
    }

    /** RDS with its own subnet group and security group; encrypted, backed up, deletion-protected. */
    private createRds(name: string, rds: RdsArgs, masterPassword: pulumi.Output<string>): aws.rds.Instance {
        const child = { parent: this };
        const subnetGroup = new aws.rds.SubnetGroup(`${name}-subnets`, { subnetIds: rds.subnetIds }, child);
        const vpcId = aws.ec2.getSubnetOutput({ id: rds.subnetIds[0] }, child).vpcId;
        const sg = new aws.ec2.SecurityGroup(
            `${name}-sg`,
            {
                vpcId,
                description: "Postgres clients (EKS nodes) only",
                ingress: [{ protocol: "tcp", fromPort: 5432, toPort: 5432, securityGroups: rds.clientSecurityGroupIds, description: "postgres" }],
                egress: [],
            },
            child,
        );
        return new aws.rds.Instance(
            `${name}-rds`,
            {
                engine: "postgres",
                engineVersion: rds.engineVersion,
                instanceClass: rds.instanceClass,
                allocatedStorage: rds.allocatedStorageGi,
                storageType: "gp3",
                storageEncrypted: true,
                multiAz: rds.multiAz,
                dbSubnetGroupName: subnetGroup.name,
                vpcSecurityGroupIds: [sg.id],
                publiclyAccessible: false,
                username: "postgres",
                password: masterPassword,
                backupRetentionPeriod: rds.backupRetentionDays ?? 14,
                deletionProtection: rds.deletionProtection ?? true,
                skipFinalSnapshot: false,
                finalSnapshotIdentifier: `${k8sName(name)}-final`,
                copyTagsToSnapshot: true,
                autoMinorVersionUpgrade: true,
            },
            child,
        );
    }

    /** A Job (official postgres image) that creates the roles and databases, idempotently. */
    private createBootstrapJob(name: string, args: PostgresArgs, host: pulumi.Output<string>, dependsOn: pulumi.Resource[]): void {
        const child = { parent: this };
        const sql = new k8s.core.v1.ConfigMap(
            `${name}-bootstrap-sql`,
            { metadata: { name: k8sName(name, "bootstrap"), namespace: args.namespace }, data: { "bootstrap.sql": pv.rdsBootstrapSql(args.databases) } },
            child,
        );
        new k8s.batch.v1.Job(
            `${name}-bootstrap`,
            {
                metadata: { name: k8sName(name, "bootstrap"), namespace: args.namespace },
                spec: {
                    backoffLimit: 10,
                    template: {
                        spec: {
                            restartPolicy: "OnFailure",
                            securityContext: pv.BOOTSTRAP_JOB_SECURITY.pod,
                            containers: [
                                {
                                    name: "psql",
                                    image: pv.POSTGRES_CLIENT_IMAGE,
                                    command: pv.rdsBootstrapCommand(args.databases),
                                    env: [
                                        { name: "PGHOST", value: host },
                                        { name: "PGPORT", value: "5432" },
                                        { name: "PGDATABASE", value: "postgres" },
                                        { name: "PGSSLMODE", value: this.sslmode },
                                        { name: "PGUSER", value: "postgres" },
                                        { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: k8sName(name, "superuser"), key: "password" } } },
                                        ...args.databases.map((db) => ({
                                            name: pv.passwordEnvName(db),
                                            valueFrom: { secretKeyRef: { name: pv.databaseSecretName(name, db), key: "password" } },
                                        })),
                                    ],
                                    volumeMounts: [{ name: "sql", mountPath: "/bootstrap" }],
                                    securityContext: pv.BOOTSTRAP_JOB_SECURITY.container,
                                    resources: pv.BOOTSTRAP_JOB_SECURITY.resources,
                                },
                            ],
                            volumes: [{ name: "sql", configMap: { name: k8sName(name, "bootstrap") } }],
                        },
                    },
                },
            },
            { ...child, dependsOn: [...dependsOn, sql] },
        );
    }
}
