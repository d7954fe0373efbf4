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
import { ComponentArgsError, checkArgs } from "./errors";

/** Where Postgres runs: CloudNativePG in the cluster, one StatefulSet on the official image, or AWS RDS. */
export type PostgresMode = "cnpg" | "statefulset" | "rds";

/** The RDS instance of `mode: "rds"`. */
export interface RdsArgs {
    /** Instance class, e.g. `db.m6g.large`. */
    instanceClass: pulumi.Input<string>;
    /** Allocated gp3 storage in GiB. */
    allocatedStorageGi: pulumi.Input<number>;
    /** Postgres engine version, e.g. `17.4`. */
    engineVersion: pulumi.Input<string>;
    /** Run a standby in a second availability zone. */
    multiAz: pulumi.Input<boolean>;
    /** At least two private subnets in different AZs (the instance's subnet group; its VPC is the first one's). */
    subnetIds: string[];
    /** Security groups (EKS nodes) allowed to reach the database on 5432; at least one. */
    clientSecurityGroupIds: string[];
    /** Days of automated backups. Default `14`. */
    backupRetentionDays?: number;
    /** Refuse deletion of the instance. Default `true`. */
    deletionProtection?: boolean;
}

export interface PostgresArgs {
    /** Where the Helm chart comes from: its repository at the pinned version (default) or a folder of local tarballs. */
    chartSource?: ChartSource;
    /** Namespace of the database's workloads and of the per-database Secrets. */
    namespace: pulumi.Input<string>;
    /** `cnpg` (CloudNativePG operator + Cluster), `statefulset` (one pod, official image) or `rds` (needs `rds`). */
    mode: PostgresMode;
    /** Databases to create, each with a login role of the same name; at least one, no duplicates. With cnpg the first is initdb's. */
    databases: string[];
    /** Postgres instances (cnpg: primary + replicas; statefulset: exactly 1; rds: ignored, see `rds.multiAz`). */
    instances: number;
    /** Volume size per instance in GiB (cnpg, statefulset). */
    storageGi: number;
    /** StorageClass of the volumes (statefulset); `null` or unset uses the cluster default. */
    storageClass?: string | null;
    /** cnpg: install the CloudNativePG operator chart. Default `true`; `false` when the cluster already runs it. */
    installOperator?: boolean;
    /** Passwords owned by another component, per database (Airflow generates its metadata DB password); the others are generated. */
    passwords?: Record<string, pulumi.Input<string>>;
    /** The RDS instance; required when `mode` is `rds`. */
    rds?: RdsArgs;
}

/** One database of the Postgres component. */
export interface DatabaseOutput {
    /** Database name. */
    name: string;
    /** Its login role (same as the name). */
    user: string;
    /** Secret (type kubernetes.io/basic-auth) with keys username, password, connection (a postgresql:// URI with sslmode). */
    secretName: pulumi.Output<string>;
}

/** Postgres with one database and login role per entry of `databases`, each with its own Secret. */
export class Postgres extends pulumi.ComponentResource {
    /** Host clients connect to (the cnpg `-rw` Service, the StatefulSet's Service, or the RDS endpoint). */
    public readonly host: pulumi.Output<string>;
    /** Always 5432. */
    public readonly port: pulumi.Output<number>;
    /** `require` for RDS, `prefer` in the cluster; the `connection` URIs carry it. */
    public readonly sslmode: "prefer" | "require";
    /** Database name → its role and Secret. */
    public readonly databases: Record<string, DatabaseOutput>;
    /** Each database's password, a Pulumi secret (for components that need their own Secret layout). */
    public readonly passwords: Record<string, pulumi.Output<string>>;

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:Postgres", name, {}, opts);
        const refuse = (argPath: string, problem: string): never => {
            throw new ComponentArgsError("Postgres", name, argPath, problem);
        };
        checkArgs("Postgres", name, "databases", (label) => pv.validateDatabases(label, args.databases));
        for (const db of Object.keys(args.passwords ?? {})) {
            if (!args.databases.includes(db)) refuse(`passwords.${db}`, `"${db}" has a supplied password but is not in databases`);
        }
        if (args.mode === "rds") {
            if (!args.rds) refuse("rds", 'required when mode is "rds"');
            if (args.rds!.subnetIds.length < 2) refuse("rds.subnetIds", `RDS needs at least two subnets (got ${args.rds!.subnetIds.length})`);
            if (args.rds!.clientSecurityGroupIds.length === 0) refuse("rds.clientSecurityGroupIds", "name at least one security group allowed to connect");
        }
        if (args.mode === "statefulset" && args.instances !== 1) {
            refuse("instances", `statefulset mode runs 1 instance (got ${args.instances})`);
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
