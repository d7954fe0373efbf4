/** Postgres component: CNPG, StatefulSet and RDS modes under Pulumi mocks. */
import * as pulumi from "@pulumi/pulumi";
import { Postgres, PostgresArgs } from "../../components/postgres";
import { byType, getResource, runProgram } from "../../offline/engine";
import { expectNoDuplicates, expectNoPlaintextSecrets, expectUniqueLogicalNames, kubernetesIdentities } from "./fixtures/components";
import { crdValidator, errorsOf } from "./fixtures/schemas";

const DBS = ["airflow", "mlflow", "marquez", "warehouse", "feast"];
const base: PostgresArgs = { namespace: "data", mode: "cnpg", databases: DBS, instances: 2, storageGi: 5 };

function run(args: PostgresArgs, name = "pg") {
    return runProgram(() => {
        const pg = new Postgres(name, args);
        return { host: pg.host, port: pg.port, dbs: pg.databases, sslmode: pg.sslmode };
    }, { stack: "dev" });
}

describe("Postgres / CloudNativePG", () => {
    test("operator chart, a Cluster managing one role per database, Database CRs for the rest", async () => {
        const r = await run(base);
        expect(getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "pg-cnpg-operator").inputs).toMatchObject({ chart: "cloudnative-pg", version: "0.29.0" });
        const cluster = getResource(r.resources, "kubernetes:postgresql.cnpg.io/v1:Cluster", "pg-cluster").inputs;
        expect(errorsOf(crdValidator("cloudnative-pg/postgresql.cnpg.io_clusters.yaml", "v1"), cluster)).toBe("");
        expect(cluster.spec.instances).toBe(2);
        expect(cluster.spec.managed.roles.map((x: any) => x.passwordSecret.name)).toEqual(DBS.map((d) => `pg-${d}-db`));
        const databases = byType(r.resources, "kubernetes:postgresql.cnpg.io/v1:Database");
        expect(databases.map((d) => d.inputs.spec.name)).toEqual(DBS.slice(1));
        expect(r.outputs.host).toBe("pg-rw.data.svc.cluster.local");
        expect(r.outputs.port).toBe(5432);
    });

    test("each database has a basic-auth Secret with username, password and a connection URI", async () => {
        const r = await run(base);
        const secrets = byType(r.resources, "kubernetes:core/v1:Secret");
        expect(secrets.map((s) => s.inputs.metadata.name).sort()).toEqual(DBS.map((d) => `pg-${d}-db`).sort());
        const wh = secrets.find((s) => s.inputs.metadata.name === "pg-warehouse-db")!;
        expect(wh.inputs.type).toBe("kubernetes.io/basic-auth");
        expect(wh.inputs.stringData.username).toBe("warehouse");
        expect(wh.inputs.stringData.connection).toBe(
            `postgresql://warehouse:${wh.inputs.stringData.password}@pg-rw.data.svc.cluster.local:5432/warehouse?sslmode=prefer`,
        );
        expect(r.outputs.dbs.mlflow).toEqual({ name: "mlflow", user: "mlflow", secretName: "pg-mlflow-db" });
        expectNoPlaintextSecrets(r);
    });

    test("a password owned by another component (Airflow's) is used, not regenerated", async () => {
        const r = await run({ ...base, passwords: { airflow: pulumi.secret("airflow-owned-password-123") } });
        const airflow = byType(r.resources, "kubernetes:core/v1:Secret").find((s) => s.inputs.metadata.name === "pg-airflow-db")!;
        expect(airflow.inputs.stringData.password).toBe("airflow-owned-password-123");
        expect(byType(r.resources, "random:index/randomPassword:RandomPassword").map((x) => x.name)).not.toContain("pg-airflow-password");
    });

    test("two instances in one stack don't collide", async () => {
        const r = await runProgram(() => {
            new Postgres("pg-a", base);
            new Postgres("pg-b", base);
        }, { stack: "dev" });
        expectUniqueLogicalNames(r.resources);
        expectNoDuplicates(kubernetesIdentities(r.resources));
    });
});

describe("Postgres / StatefulSet (dev)", () => {
    test("official image, generated superuser, idempotent bootstrap Job without passwords in its spec", async () => {
        const r = await run({ ...base, mode: "statefulset", instances: 1 });
        const sts = getResource(r.resources, "kubernetes:apps/v1:StatefulSet", "pg-statefulset").inputs;
        expect(sts.spec.template.spec.containers[0].image).toMatch(/^postgres:17/);
        const job = getResource(r.resources, "kubernetes:batch/v1:Job", "pg-bootstrap").inputs;
        const env = job.spec.template.spec.containers[0].env;
        expect(env.find((e: any) => e.name === "PW_MLFLOW").valueFrom.secretKeyRef).toEqual({ name: "pg-mlflow-db", key: "password" });
        expect(env.find((e: any) => e.name === "PGPASSWORD").valueFrom.secretKeyRef).toEqual({ name: "pg-superuser", key: "password" });
        expect(env.find((e: any) => e.name === "PGHOST").value).toBe("pg.data.svc.cluster.local");
        expectNoPlaintextSecrets(r);
    });

    test("more than one instance is refused, naming the key", async () => {
        await expect(run({ ...base, mode: "statefulset", instances: 2 })).rejects.toThrow(/^Postgres "pg": instances: statefulset mode runs 1 instance/);
    });
});

describe("Postgres / RDS", () => {
    const rds: PostgresArgs = {
        ...base,
        mode: "rds",
        rds: { instanceClass: "db.r6g.large", allocatedStorageGi: 100, engineVersion: "16.4", multiAz: true, subnetIds: ["subnet-a", "subnet-b"], clientSecurityGroupIds: ["sg-nodes"] },
    };

    test("subnet group, security group open only to the client SGs, encrypted, backed up, deletion-protected", async () => {
        const r = await run(rds);
        const inst = getResource(r.resources, "aws:rds/instance:Instance", "pg-rds").inputs;
        expect(inst).toMatchObject({ engine: "postgres", storageEncrypted: true, deletionProtection: true, publiclyAccessible: false, multiAz: true, skipFinalSnapshot: false });
        expect(inst.backupRetentionPeriod).toBeGreaterThanOrEqual(7);
        expect(getResource(r.resources, "aws:rds/subnetGroup:SubnetGroup", "pg-subnets").inputs.subnetIds).toEqual(["subnet-a", "subnet-b"]);
        const sg = getResource(r.resources, "aws:ec2/securityGroup:SecurityGroup", "pg-sg").inputs;
        expect(sg.ingress).toEqual([expect.objectContaining({ fromPort: 5432, toPort: 5432, securityGroups: ["sg-nodes"] })]);
        expect(sg.ingress[0].cidrBlocks).toBeUndefined();
        expect(r.outputs.sslmode).toBe("require");
        // The master password reaches RDS only as a Pulumi secret.
        expectNoPlaintextSecrets(r);
    });

    test("RDS with too few subnets or no settings names the key", async () => {
        await expect(run({ ...rds, rds: { ...rds.rds!, subnetIds: ["subnet-a"] } })).rejects.toThrow(/^Postgres "pg": rds\.subnetIds: RDS needs at least two subnets/);
        await expect(run({ ...rds, rds: undefined })).rejects.toThrow(/^Postgres "pg": rds: required when mode is "rds"/);
        await expect(run({ ...rds, rds: { ...rds.rds!, clientSecurityGroupIds: [] } })).rejects.toThrow(/^Postgres "pg": rds\.clientSecurityGroupIds: /);
    });
});
