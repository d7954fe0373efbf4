/**
 * Pure builders for the AWS component: IRSA trust policies, least-privilege S3 / Secrets Manager
 * policies, bucket lifecycle rules. Inputs are plain strings (ARNs, names) resolved by the caller.
 */

export type BucketKey = "logs" | "mlflowArtifacts" | "data";
export type Access = "read" | "readwrite";

export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: Array<Record<string, unknown>>;
}

/** The OIDC issuer host/path, as IAM condition keys spell it: the ARN's part after "oidc-provider/". */
export function oidcIssuer(providerArn: string, label = "oidcProviderArn"): string {
    const at = providerArn.indexOf("oidc-provider/");
    if (at < 0) throw new Error(`${label}: "${providerArn}" is not an IAM OIDC provider ARN`);
    return providerArn.slice(at + "oidc-provider/".length);
}

/** Trust policy letting exactly the listed Kubernetes service accounts assume the role (IRSA). */
export function irsaTrustPolicy(providerArn: string, namespace: string, serviceAccounts: readonly string[]): PolicyDocument {
    if (serviceAccounts.length === 0) throw new Error("irsaTrustPolicy: at least one service account is required");
    const issuer = oidcIssuer(providerArn);
    const subs = serviceAccounts.map((sa) => `system:serviceaccount:${namespace}:${sa}`);
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Federated: providerArn },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                    StringEquals: {
                        [`${issuer}:sub`]: subs.length === 1 ? subs[0] : subs,
                        [`${issuer}:aud`]: "sts.amazonaws.com",
                    },
                },
            },
        ],
    };
}

export interface BucketGrant {
    bucketArn: string;
    access: Access;
    /** Key prefix the grant is limited to ("" for the whole bucket). */
    prefix: string;
}

/** S3 access limited to the listed buckets (and prefixes): list, get, and put/delete only for readwrite. */
export function s3AccessPolicy(grants: readonly BucketGrant[]): PolicyDocument {
    if (grants.length === 0) throw new Error("s3AccessPolicy: at least one bucket grant is required");
    const statements = grants.flatMap((g, i) => {
        const objects = `${g.bucketArn}/${g.prefix ? `${g.prefix.replace(/\/$/, "")}/` : ""}*`;
        const list: Record<string, unknown> = { Sid: `List${i}`, Effect: "Allow", Action: ["s3:ListBucket"], Resource: [g.bucketArn] };
        if (g.prefix) list.Condition = { StringLike: { "s3:prefix": [`${g.prefix.replace(/\/$/, "")}/*`] } };
        const actions = g.access === "readwrite" ? ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] : ["s3:GetObject"];
        return [list, { Sid: `Objects${i}`, Effect: "Allow", Action: actions, Resource: [objects] }];
    });
    return { Version: "2012-10-17", Statement: statements };
}

/** Read-only access to Airflow's connections and variables in Secrets Manager, nothing else. */
export function secretsManagerReadPolicy(region: string, accountId: string, prefix: string): PolicyDocument {
    const base = `arn:aws:secretsmanager:${region}:${accountId}:secret:${prefix}`;
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "ReadAirflowSecrets",
                Effect: "Allow",
                Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                Resource: [`${base}/connections/*`, `${base}/variables/*`],
            },
        ],
    };
}

/** What Vault's awskms seal calls on its key, and nothing else (wrap and unwrap the root key). */
export function kmsUnsealPolicy(keyArn: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{ Sid: "VaultAutoUnseal", Effect: "Allow", Action: ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], Resource: [keyArn] }],
    };
}

/** `[secrets]` backend settings for Airflow's SecretsManagerBackend. */
export function airflowSecretsManagerBackend(prefix: string, region: string): { backend: string; kwargs: Record<string, unknown> } {
    return {
        backend: "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        kwargs: { connections_prefix: `${prefix}/connections`, variables_prefix: `${prefix}/variables`, region_name: region },
    };
}

export interface LifecyclePolicy {
    /** Days before current objects move to STANDARD_IA; null keeps them in STANDARD. */
    transitionToIaDays: number | null;
    /** Days before current objects expire; null keeps them. */
    expireDays: number | null;
    noncurrentExpireDays: number;
}

/** Lifecycle per bucket kind: logs expire, artifacts keep, the data lake tiers down. */
export const LIFECYCLE: Record<BucketKey, LifecyclePolicy> = {
    logs: { transitionToIaDays: 30, expireDays: 90, noncurrentExpireDays: 7 },
    mlflowArtifacts: { transitionToIaDays: 90, expireDays: null, noncurrentExpireDays: 30 },
    data: { transitionToIaDays: 60, expireDays: null, noncurrentExpireDays: 30 },
};

/** aws.s3.BucketLifecycleConfiguration rules for one policy. */
export function lifecycleRules(p: LifecyclePolicy): Array<Record<string, unknown>> {
    return [
        {
            id: "tiering-and-expiry",
            status: "Enabled",
            filter: {},
            ...(p.transitionToIaDays !== null ? { transitions: [{ days: p.transitionToIaDays, storageClass: "STANDARD_IA" }] } : {}),
            ...(p.expireDays !== null ? { expiration: { days: p.expireDays } } : {}),
            noncurrentVersionExpiration: { noncurrentDays: p.noncurrentExpireDays },
            abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
        },
    ];
}
