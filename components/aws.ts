/**
 * AWS storage and IAM: S3 buckets (logs, MLflow artifacts, data lake), each encrypted, versioned,
 * private and with lifecycle rules; one IRSA role per workload's service accounts with a
 * least-privilege policy; optionally read access to Secrets Manager as Airflow's secrets backend.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as av from "./values/aws";
import { ComponentArgsError, checkArgs } from "./errors";

export interface WorkloadAccess {
    /** Kubernetes namespace and service accounts that may assume the role. */
    namespace: pulumi.Input<string>;
    /** Service accounts (in `namespace`) that may assume the role; at least one. */
    serviceAccounts: string[];
    /** What the role may do on which bucket (a key of `AwsStorageArgs.buckets`), under which prefix (`""`: the whole bucket). */
    grants: Array<{ bucket: av.BucketKey; access: av.Access; prefix: string }>;
    /** Read Airflow's connections/variables from Secrets Manager (needs `secretsManagerPrefix`). Default `false`. */
    secretsManagerRead?: boolean;
}

export interface AwsStorageArgs {
    /** AWS region of the buckets and of the Secrets Manager policy. */
    region: string;
    /** ARN of the EKS cluster's IAM OIDC provider (`arn:aws:iam::<account>:oidc-provider/<issuer>`); the IRSA roles trust it. */
    oidcProviderArn: string;
    /** Bucket names per kind (globally unique). */
    buckets: Record<av.BucketKey, string>;
    /** Workload name → what its role may do. */
    workloads: Record<string, WorkloadAccess>;
    /** Prefix of Airflow's secrets in Secrets Manager (e.g. airflow-prod). Default: Secrets Manager not used. */
    secretsManagerPrefix?: string;
    /** KMS key for bucket encryption. Default: SSE-S3 (AES256). */
    kmsKeyArn?: pulumi.Input<string>;
    /** Vault's auto-unseal: a KMS key (rotated yearly) and an IRSA role for these service accounts that may only use it. Default: none. */
    vaultUnseal?: { namespace: pulumi.Input<string>; serviceAccounts: string[] };
}

/** S3 buckets (encrypted, versioned, private, with lifecycle rules) and least-privilege IRSA roles for the workloads. */
export class AwsStorage extends pulumi.ComponentResource {
    /** Bucket name per kind. */
    public readonly bucketNames: Record<av.BucketKey, pulumi.Output<string>>;
    /** Bucket ARN per kind. */
    public readonly bucketArns: Record<av.BucketKey, pulumi.Output<string>>;
    /** Workload name → IRSA role ARN (annotate the service accounts with eks.amazonaws.com/role-arn). */
    public readonly roleArns: Record<string, pulumi.Output<string>>;
    /** Airflow's `[secrets]` backend (SecretsManagerBackend) when `secretsManagerPrefix` is set. */
    public readonly secretsBackend?: { backend: string; kwargs: Record<string, unknown> };
    /** The unseal key and the role Vault's service account assumes, when `vaultUnseal` is set. */
    public readonly vaultUnseal?: { kmsKeyId: pulumi.Output<string>; roleArn: pulumi.Output<string> };

    constructor(name: string, args: AwsStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:AwsStorage", name, {}, opts);
        checkArgs("AwsStorage", name, "oidcProviderArn", (label) => av.oidcIssuer(args.oidcProviderArn, label)); // fails early, naming the arg
        const child = { parent: this };
        this.bucketNames = {} as Record<av.BucketKey, pulumi.Output<string>>;
        this.bucketArns = {} as Record<av.BucketKey, pulumi.Output<string>>;
        for (const key of Object.keys(args.buckets) as av.BucketKey[]) {
            // Logical names are kebab-case: mlflowArtifacts -> mlflow-artifacts.
            const part = `${name}-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
            const bucket = new aws.s3.Bucket(part, { bucket: args.buckets[key], forceDestroy: false }, child);
            const b = { bucket: bucket.id };
            new aws.s3.BucketPublicAccessBlock(
                `${part}-public-access`,
                { ...b, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
                child,
            );
            new aws.s3.BucketOwnershipControls(`${part}-ownership`, { ...b, rule: { objectOwnership: "BucketOwnerEnforced" } }, child);
            new aws.s3.BucketVersioning(`${part}-versioning`, { ...b, versioningConfiguration: { status: "Enabled" } }, child);
            new aws.s3.BucketServerSideEncryptionConfiguration(
                `${part}-encryption`,
                {
                    ...b,
                    rules: [
                        {
                            applyServerSideEncryptionByDefault: args.kmsKeyArn
                                ? { sseAlgorithm: "aws:kms", kmsMasterKeyId: args.kmsKeyArn }
                                : { sseAlgorithm: "AES256" },
                            bucketKeyEnabled: true,
                        },
                    ],
                },
                child,
            );
            new aws.s3.BucketLifecycleConfiguration(
                `${part}-lifecycle`,
                { ...b, rules: av.lifecycleRules(av.LIFECYCLE[key]) as unknown as aws.types.input.s3.BucketLifecycleConfigurationRule[] },
                child,
            );
            this.bucketNames[key] = bucket.bucket;
            this.bucketArns[key] = bucket.arn;
        }

        const identity = aws.getCallerIdentityOutput({}, child);
        this.roleArns = {};
        for (const [workload, access] of Object.entries(args.workloads)) {
            for (const g of access.grants) {
                if (!(g.bucket in args.buckets)) {
                    throw new ComponentArgsError("AwsStorage", name, `workloads.${workload}.grants`, `unknown bucket "${g.bucket}" (buckets: ${Object.keys(args.buckets).join(", ")})`);
                }
            }
            if (access.secretsManagerRead && !args.secretsManagerPrefix) {
                throw new ComponentArgsError("AwsStorage", name, `workloads.${workload}.secretsManagerRead`, "needs secretsManagerPrefix");
            }
            const role = new aws.iam.Role(
                `${name}-${workload}`,
                {
                    description: `IRSA role for ${workload}`,
                    assumeRolePolicy: pulumi
                        .output(access.namespace)
                        .apply((ns) => JSON.stringify(av.irsaTrustPolicy(args.oidcProviderArn, ns, access.serviceAccounts))),
                },
                child,
            );
            const grants = access.grants.map((g) => this.bucketArns[g.bucket].apply((bucketArn) => ({ bucketArn, access: g.access, prefix: g.prefix })));
            new aws.iam.RolePolicy(`${name}-${workload}-s3`, { role: role.id, policy: pulumi.all(grants).apply((gs) => JSON.stringify(av.s3AccessPolicy(gs))) }, child);
            if (access.secretsManagerRead) {
                new aws.iam.RolePolicy(
                    `${name}-${workload}-secrets`,
                    {
                        role: role.id,
                        policy: identity.accountId.apply((acct) => JSON.stringify(av.secretsManagerReadPolicy(args.region, acct, args.secretsManagerPrefix!))),
                    },
                    child,
                );
            }
            this.roleArns[workload] = role.arn;
        }
        if (args.vaultUnseal) {
            const unseal = args.vaultUnseal;
            const key = new aws.kms.Key(
                `${name}-vault-unseal`,
                { description: "Vault auto-unseal (awskms seal)", enableKeyRotation: true, deletionWindowInDays: 30 },
                child,
            );
            const role = new aws.iam.Role(
                `${name}-vault`,
                {
                    description: "IRSA role for Vault's auto-unseal",
                    assumeRolePolicy: pulumi.output(unseal.namespace).apply((ns) => JSON.stringify(av.irsaTrustPolicy(args.oidcProviderArn, ns, unseal.serviceAccounts))),
                },
                child,
            );
            new aws.iam.RolePolicy(`${name}-vault-kms`, { role: role.id, policy: key.arn.apply((arn) => JSON.stringify(av.kmsUnsealPolicy(arn))) }, child);
            this.vaultUnseal = { kmsKeyId: key.keyId, roleArn: role.arn };
        }
        if (args.secretsManagerPrefix) this.secretsBackend = av.airflowSecretsManagerBackend(args.secretsManagerPrefix, args.region);
        this.registerOutputs({ bucketNames: this.bucketNames, roleArns: this.roleArns });
    }
}
