/**
 * Pure builders for the Postgres component: CloudNativePG operator values, the Cluster and
 * Database custom resources, and the bootstrap script that creates roles/databases on RDS.
 * No Pulumi resources here; secrets are referenced by Secret name only.
 */
import { assertIdentifier, k8sName, serviceHost } from "./naming";
import { RESTRICTED_CONTAINER, resources, restrictedPod, SIZES } from "./security";
import { singleNodeStatefulSetSpec } from "./workload";

/** Databases the platform needs; each gets a login role of the same name (team contract). */
export const PLATFORM_DATABASES = ["airflow", "mlflow", "marquez", "warehouse", "feast"] as const;

export const CNPG_CHART = { chart: "cloudnative-pg", version: "0.29.0", repo: "https://cloudnative-pg.github.io/charts" };
/** Upstream CloudNativePG operand image (no Bitnami). */
export const CNPG_POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:17.6";
/** Official postgres image, used by the RDS bootstrap Job's psql. */
export const POSTGRES_CLIENT_IMAGE = "postgres:17.6";

export interface DatabaseRef {
    /** Database name; the login role has the same name. */
    name: string;
    /** Kubernetes Secret holding `username`, `password` and `connection` (a full URI). */
    secretName: string;
}

/** Validates the database list: identifiers, no duplicates, at least one. `key` names the config key. */
export function validateDatabases(key: string, databases: readonly string[]): void {
    if (databases.length === 0) {
        throw new Error(`${key}: at least one database is required`);
    }
    const seen = new Set<string>();
    databases.forEach((db, i) => {
        assertIdentifier(`${key}[${i}]`, db);
        if (seen.has(db)) {
            throw new Error(`${key}[${i}]: database "${db}" is listed twice`);
        }
        seen.add(db);
    });
}

/** Secret name per database, derived from the component name so two instances don't collide. */
export function databaseSecretName(component: string, database: string): string {
    return k8sName(component, database, "db");
}

/** The CloudNativePG read-write Service that clients connect to. */
export function cnpgHost(clusterName: string, namespace: string): string {
    return serviceHost(`${clusterName}-rw`, namespace);
}

/** Helm values for the CloudNativePG operator chart (validated against its values.schema.json). */
export function cnpgOperatorValues(opts: { watchNamespace?: string }): Record<string, unknown> {
    return {
        crds: { create: true },
        config: {
            clusterWide: opts.watchNamespace === undefined,
            ...(opts.watchNamespace ? { data: { WATCH_NAMESPACE: opts.watchNamespace } } : {}),
        },
        monitoring: { podMonitorEnabled: false },
        podSecurityContext: restrictedPod(),
        containerSecurityContext: { ...RESTRICTED_CONTAINER, readOnlyRootFilesystem: true },
        resources: resources(SIZES.operator),
    };
}

export interface CnpgClusterInput {
    name: string;
    namespace: string;
    instances: number;
    storageSize: string;
    databases: DatabaseRef[];
    imageName?: string;
}

/**
 * The Cluster CR. The first database is created by initdb with its owner; every database's role
 * is a managed role whose password comes from its own Secret (kubernetes.io/basic-auth).
 */
export function cnpgCluster(input: CnpgClusterInput): Record<string, unknown> {
    const [first] = input.databases;
    return {
        apiVersion: "postgresql.cnpg.io/v1",
        kind: "Cluster",
        metadata: { name: input.name, namespace: input.namespace },
        spec: {
            instances: input.instances,
            imageName: input.imageName ?? CNPG_POSTGRES_IMAGE,
            enableSuperuserAccess: false,
            storage: { size: input.storageSize },
            resources: resources(SIZES.postgres),
            bootstrap: {
                initdb: { database: first.name, owner: first.name, secret: { name: first.secretName } },
            },
            managed: {
                roles: input.databases.map((db) => ({
                    name: db.name,
                    ensure: "present",
                    login: true,
                    inherit: true,
                    passwordSecret: { name: db.secretName },
                })),
            },
            monitoring: { enablePodMonitor: false },
        },
    };
}

/** One Database CR per database beyond the initdb one; its owner is the same-named role. */
export function cnpgDatabase(clusterName: string, namespace: string, database: string): Record<string, unknown> {
    return {
        apiVersion: "postgresql.cnpg.io/v1",
        kind: "Database",
        metadata: { name: k8sName(clusterName, database), namespace },
        spec: { name: database, owner: database, cluster: { name: clusterName }, ensure: "present" },
    };
}

/**
 * SQL run by the RDS bootstrap Job as the master user. Passwords arrive as psql variables from
 * environment variables (filled from Secrets), so the script itself holds none.
 */
export function rdsBootstrapSql(databases: readonly string[]): string {
    const lines = databases.flatMap((db) => {
        const pw = `:'pw_${db}'`;
        return [
            `SELECT format('CREATE ROLE %I LOGIN', '${db}') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${db}')\\gexec`,
            `ALTER ROLE ${db} WITH LOGIN PASSWORD ${pw};`,
            `GRANT ${db} TO CURRENT_USER;`,
            `SELECT format('CREATE DATABASE %I OWNER %I', '${db}', '${db}') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${db}')\\gexec`,
        ];
    });
    return ["\\set ON_ERROR_STOP on", ...lines].join("\n") + "\n";
}

/**
 * Bootstrap Job command: wait for the server, then psql with one `-v pw_<db>="$PW_<DB>"` per
 * database (the shell expands the variables; the values never appear in the manifest).
 */
export function rdsBootstrapCommand(databases: readonly string[]): string[] {
    const vars = databases.map((db) => `-v pw_${db}="$${passwordEnvName(db)}"`).join(" ");
    return ["sh", "-c", `until pg_isready -t 5; do echo waiting for postgres; sleep 3; done; exec psql ${vars} -f /bootstrap/bootstrap.sql`];
}

/** Pod security and resources of the bootstrap Job (official postgres image, its postgres user). */
export const BOOTSTRAP_JOB_SECURITY = { pod: restrictedPod(999), container: RESTRICTED_CONTAINER, resources: resources(SIZES.job) };

/** Environment variable that carries one database's password into the bootstrap Job. */
export function passwordEnvName(database: string): string {
    return `PW_${database.toUpperCase()}`;
}

/** StatefulSet spec (apps/v1) for single-node Postgres on the official image (dev). */
export function postgresStatefulSetSpec(p: { name: string; superuserSecretName: string; storageSize: string; storageClass?: string | null; image?: string }): Record<string, unknown> {
    return singleNodeStatefulSetSpec({
        name: p.name,
        labels: { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": p.name },
        uid: 999,
        dataMountPath: "/var/lib/postgresql/data",
        storage: { size: p.storageSize, storageClass: p.storageClass },
        container: {
            name: "postgres",
            image: p.image ?? POSTGRES_CLIENT_IMAGE,
            env: [
                { name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: p.superuserSecretName, key: "password" } } },
                { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
            ],
            ports: [{ name: "postgres", containerPort: 5432 }],
            readinessProbe: { exec: { command: ["pg_isready", "-U", "postgres"] }, periodSeconds: 10 },
            resources: resources(SIZES.postgres),
        },
    });
}

export function postgresServiceSpec(name: string): Record<string, unknown> {
    return {
        selector: { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": name },
        ports: [{ name: "postgres", port: 5432, targetPort: "postgres" }],
    };
}

/** A SQLAlchemy/libpq URI; `password` is percent-encoded. */
export function postgresUri(p: { user: string; password: string; host: string; port: number; database: string; scheme?: string }): string {
    return `${p.scheme ?? "postgresql"}://${encodeURIComponent(p.user)}:${encodeURIComponent(p.password)}@${p.host}:${p.port}/${p.database}`;
}
