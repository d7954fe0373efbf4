/** MLflow component: community chart, Postgres backend via Secret, S3 artifacts via IRSA role. */
import { Mlflow, MlflowArgs } from "../../components/mlflow";
import { getResource, runProgram } from "../../offline/engine";
import { expectNoDuplicates, expectUniqueLogicalNames, kubernetesIdentities } from "./fixtures/components";
import { chartValuesErrors } from "./fixtures/schemas";

const args: MlflowArgs = {
    namespace: "ml",
    replicas: 2,
    db: { host: "pg-rw.ml.svc.cluster.local", port: 5432, database: "mlflow", secretName: "pg-mlflow-db" },
    artifacts: { bucket: "acme-mlflow", path: "artifacts" },
    roleArn: "arn:aws:iam::123456789012:role/mlflow-irsa",
};

describe("MLflow", () => {
    test("chart values wire the Postgres Secret, the bucket and the IRSA role, and validate", async () => {
        const r = await runProgram(() => {
            const m = new Mlflow("mlflow", args);
            return { uri: m.trackingUri, conn: m.airflowConnection, sa: m.serviceAccountName };
        }, { stack: "dev" });
        const chart = getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "mlflow").inputs;
        expect(chart).toMatchObject({ chart: "mlflow", version: "1.11.5", namespace: "ml" });
        expect(chartValuesErrors("mlflow-chart", chart.values)).toBe("");
        expect(chart.values.backendStore.existingDatabaseSecret.name).toBe("pg-mlflow-db");
        expect(chart.values.backendStore.postgres).toMatchObject({ host: "pg-rw.ml.svc.cluster.local", database: "mlflow" });
        expect(chart.values.artifactRoot.s3).toMatchObject({ enabled: true, bucket: "acme-mlflow" });
        expect(chart.values.serviceAccount.annotations["eks.amazonaws.com/role-arn"]).toBe(args.roleArn);
        expect(JSON.stringify(chart.values)).not.toMatch(/bitnami|awsSecretAccessKey|"password":/);
        expect(r.outputs.uri).toBe("http://mlflow.ml.svc.cluster.local:80");
        expect(r.outputs.conn).toEqual({ conn_type: "http", host: "mlflow.ml.svc.cluster.local", port: 80, schema: "http" });
    });

    test("two instances don't collide", async () => {
        const r = await runProgram(() => {
            new Mlflow("mlflow-a", args);
            new Mlflow("mlflow-b", args);
        }, { stack: "dev" });
        expectUniqueLogicalNames(r.resources);
        expectNoDuplicates(kubernetesIdentities(r.resources));
    });
});
