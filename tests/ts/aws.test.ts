/** AWS storage/IAM component: hardened buckets, one IRSA role per workload with least privilege. */
import { AwsStorage, AwsStorageArgs } from "../../components/aws";
import { byType, getResource, runProgram } from "../../offline/engine";
import { expectUniqueLogicalNames } from "./fixtures/components";

const OIDC = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC";
const args: AwsStorageArgs = {
    region: "eu-west-1",
    oidcProviderArn: OIDC,
    buckets: { logs: "acme-logs", mlflowArtifacts: "acme-mlflow", data: "acme-data" },
    workloads: {
        airflow: {
            namespace: "af",
            serviceAccounts: ["airflow-worker", "airflow-scheduler"],
            grants: [
                { bucket: "logs", access: "readwrite", prefix: "airflow/logs" },
                { bucket: "data", access: "readwrite", prefix: "" },
            ],
            secretsManagerRead: true,
        },
        mlflow: { namespace: "af", serviceAccounts: ["mlflow"], grants: [{ bucket: "mlflowArtifacts", access: "readwrite", prefix: "" }] },
    },
    secretsManagerPrefix: "airflow-prod",
};

const run = (a: AwsStorageArgs = args, name = "storage") =>
    runProgram(() => {
        const s = new AwsStorage(name, a);
        return { roles: s.roleArns, buckets: s.bucketNames, backend: s.secretsBackend };
    }, { stack: "prod" });

describe("AwsStorage", () => {
    test("Vault's auto-unseal: a rotated KMS key, and a role for Vault's service account that may only use that key", async () => {
        const r = await runProgram(() => {
            const s = new AwsStorage("storage", { ...args, vaultUnseal: { namespace: "af", serviceAccounts: ["platform-vault"] } });
            return { unseal: s.vaultUnseal };
        }, { stack: "prod" });
        const key = getResource(r.resources, "aws:kms/key:Key", "storage-vault-unseal");
        expect(key.inputs).toMatchObject({ enableKeyRotation: true, deletionWindowInDays: 30 });
        const trust = JSON.parse(getResource(r.resources, "aws:iam/role:Role", "storage-vault").inputs.assumeRolePolicy);
        expect(trust.Statement[0].Condition.StringEquals["oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub"]).toBe("system:serviceaccount:af:platform-vault");
        const policy = JSON.parse(getResource(r.resources, "aws:iam/rolePolicy:RolePolicy", "storage-vault-kms").inputs.policy);
        expect(policy.Statement).toEqual([{ Sid: "VaultAutoUnseal", Effect: "Allow", Action: ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], Resource: [key.state.arn] }]);
        expect(r.outputs.unseal).toEqual({ kmsKeyId: key.state.keyId, roleArn: getResource(r.resources, "aws:iam/role:Role", "storage-vault").state.arn });
    });

    test("every bucket is encrypted, versioned, private, owner-enforced and has lifecycle rules", async () => {
        const r = await run();
        expect(byType(r.resources, "aws:s3/bucket:Bucket").map((b) => b.inputs.bucket).sort()).toEqual(["acme-data", "acme-logs", "acme-mlflow"]);
        for (const key of ["logs", "mlflow-artifacts", "data"]) {
            const pab = getResource(r.resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", `storage-${key}-public-access`).inputs;
            expect(pab).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
            expect(getResource(r.resources, "aws:s3/bucketVersioning:BucketVersioning", `storage-${key}-versioning`).inputs.versioningConfiguration.status).toBe("Enabled");
            const enc = getResource(r.resources, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", `storage-${key}-encryption`).inputs;
            expect(enc.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm).toBe("AES256");
            const lc = getResource(r.resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", `storage-${key}-lifecycle`).inputs;
            expect(lc.rules[0]).toMatchObject({ status: "Enabled", abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } });
        }
        const logsLc = getResource(r.resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "storage-logs-lifecycle").inputs;
        expect(logsLc.rules[0].expiration.days).toBe(90);
    });

    test("IRSA trust: only the named service accounts via the configured OIDC provider", async () => {
        const r = await run();
        const trust = JSON.parse(getResource(r.resources, "aws:iam/role:Role", "storage-mlflow").inputs.assumeRolePolicy);
        expect(trust.Statement).toHaveLength(1);
        expect(trust.Statement[0]).toMatchObject({ Effect: "Allow", Action: "sts:AssumeRoleWithWebIdentity", Principal: { Federated: OIDC } });
        expect(trust.Statement[0].Condition.StringEquals).toEqual({
            "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:af:mlflow",
            "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
        });
        const airflowTrust = JSON.parse(getResource(r.resources, "aws:iam/role:Role", "storage-airflow").inputs.assumeRolePolicy);
        expect(airflowTrust.Statement[0].Condition.StringEquals["oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub"]).toEqual([
            "system:serviceaccount:af:airflow-worker",
            "system:serviceaccount:af:airflow-scheduler",
        ]);
    });

    test("least privilege: MLflow touches only its bucket; no wildcard actions or resources", async () => {
        const r = await run();
        const mlflow = JSON.parse(getResource(r.resources, "aws:iam/rolePolicy:RolePolicy", "storage-mlflow-s3").inputs.policy);
        const resources = mlflow.Statement.flatMap((s: any) => s.Resource);
        expect(resources.every((x: string) => x.startsWith("arn:aws:s3:::acme-mlflow"))).toBe(true);
        for (const doc of byType(r.resources, "aws:iam/rolePolicy:RolePolicy").map((p) => JSON.parse(p.inputs.policy))) {
            for (const s of doc.Statement) {
                expect(s.Action.every((a: string) => !a.includes("*"))).toBe(true);
                expect(s.Resource).not.toContain("*");
            }
        }
        // Airflow's logs grant is limited to its prefix.
        const airflow = JSON.parse(getResource(r.resources, "aws:iam/rolePolicy:RolePolicy", "storage-airflow-s3").inputs.policy);
        expect(airflow.Statement[1].Resource).toEqual(["arn:aws:s3:::acme-logs/airflow/logs/*"]);
        expect(airflow.Statement[0].Condition).toEqual({ StringLike: { "s3:prefix": ["airflow/logs/*"] } });
    });

    test("Secrets Manager backend: read-only on Airflow's prefixes; MLflow gets no such policy", async () => {
        const r = await run();
        const sm = JSON.parse(getResource(r.resources, "aws:iam/rolePolicy:RolePolicy", "storage-airflow-secrets").inputs.policy);
        expect(sm.Statement[0].Action).toEqual(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]);
        expect(sm.Statement[0].Resource).toEqual([
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:airflow-prod/connections/*",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:airflow-prod/variables/*",
        ]);
        expect(byType(r.resources, "aws:iam/rolePolicy:RolePolicy").map((p) => p.name)).not.toContain("storage-mlflow-secrets");
        expect(r.outputs.backend?.kwargs).toEqual({ connections_prefix: "airflow-prod/connections", variables_prefix: "airflow-prod/variables", region_name: "eu-west-1" });
    });

    test("a malformed OIDC provider ARN names the key", async () => {
        await expect(run({ ...args, oidcProviderArn: "arn:aws:iam::1:role/x" })).rejects.toThrow(/: oidcProviderArn: "arn:aws:iam::1:role\/x" is not an IAM OIDC provider ARN/);
    });

    test("two instances don't collide", async () => {
        const r = await runProgram(() => {
            new AwsStorage("a", { ...args, buckets: { logs: "a-logs", mlflowArtifacts: "a-ml", data: "a-data" } });
            new AwsStorage("b", { ...args, buckets: { logs: "b-logs", mlflowArtifacts: "b-ml", data: "b-data" } });
        }, { stack: "prod" });
        expectUniqueLogicalNames(r.resources);
    });
});
