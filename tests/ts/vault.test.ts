/** Vault component: chart (dev / HA raft), KV v2, least-privilege policies, Kubernetes auth, KV writes. */
import * as pulumi from "@pulumi/pulumi";
import { Vault, VaultArgs } from "../../components/vault";
import { policyPaths } from "../../components/values/vault";
import { byType, collectSecretsPlaintext, getResource, runProgram, unwrap } from "../../offline/engine";
import { vaultLayoutOf } from "../../scripts/manifests";
import { expectNoDuplicates, expectNoPlaintextSecrets, expectUniqueLogicalNames, kubernetesIdentities } from "./fixtures/components";
import { chartValuesErrors } from "./fixtures/schemas";

const DB_PASSWORD = "warehouse-password-value-1234";
const args: VaultArgs = {
    namespace: "af",
    mode: "dev",
    replicas: 1,
    storageGi: 1,
    mount: "airflow",
    airflow: { namespace: "af", serviceAccounts: ["airflow-scheduler", "airflow-worker"] },
    declaredTeams: ["payments", "growth"],
    teams: [
        { name: "payments", serviceAccounts: ["payments-ci"], namespace: "payments" },
        { name: "growth", serviceAccounts: ["growth-ci"], namespace: "growth" },
    ],
    connections: {
        postgres_default: pulumi.secret({ conn_type: "postgres", host: "pg", port: 5432, login: "warehouse", password: DB_PASSWORD, schema: "warehouse" }),
        kafka_default: { conn_type: "kafka", extra: { "bootstrap.servers": "bus:9092" } },
    },
    variables: { environment: "dev" },
};

function run(a: VaultArgs, name = "vault") {
    return runProgram(() => {
        const v = new Vault(name, a);
        return { address: v.address, backend: v.secretsBackend, policies: v.policyNames };
    }, { stack: "dev" });
}

describe("Vault", () => {
    test("dev mode: chart values validate; the provider uses the generated root token as a secret", async () => {
        const r = await run(args);
        const chart = getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "vault").inputs;
        expect(chart).toMatchObject({ chart: "vault", version: "0.34.1" });
        expect(chartValuesErrors("vault-helm", chart.values)).toBe("");
        expect(chart.values.server.dev.enabled).toBe(true);
        const provider = getResource(r.resources, "pulumi:providers:vault", "vault-provider").inputs;
        expect(provider.address).toBe("http://vault.af.svc.cluster.local:8200");
        const token = byType(r.resources, "random:index/randomPassword:RandomPassword").find((x) => x.name === "vault-root-token-root-token")!;
        expect(provider.token).toBe(token.state.result);
        expectNoPlaintextSecrets(r);
    });

    test("HA before its one-time init: the servers are deployed and nothing is configured through a token that does not exist", async () => {
        const ha: VaultArgs = { ...args, mode: "ha", replicas: 3, storageGi: 10, seal: { type: "shamir" } };
        const r = await runProgram(() => {
            const v = new Vault("vault", ha);
            return { pending: v.bootstrapPending, backend: v.secretsBackend, policies: v.policyNames };
        }, { stack: "staging" });
        expect(r.outputs.pending).toBe(true);
        expect(byType(r.resources, "kubernetes:helm.sh/v4:Chart")).toHaveLength(1);
        expect(r.resources.filter((x) => x.type.startsWith("vault:") || x.type === "pulumi:providers:vault")).toEqual([]);
        // Airflow is still pointed at the role the next `up` creates.
        expect(r.outputs.backend.kwargs).toMatchObject({ auth_type: "kubernetes", kubernetes_role: "airflow", auth_mount_point: "vault-kubernetes" });
        // An existing Vault (no chart) without a token is refused, naming the arg to give.
        await expect(run({ ...ha, installChart: false })).rejects.toThrow(/: token: required to configure an existing Vault/);
    });

    test("HA with awskms: the seal names the key, the service account carries the IRSA role, readiness counts a sealed server", async () => {
        const seal = { type: "awskms" as const, region: "eu-west-1", kmsKeyId: "1234abcd-12ab-34cd-56ef-1234567890ab", roleArn: "arn:aws:iam::123456789012:role/vault" };
        const r = await run({ ...args, mode: "ha", replicas: 3, storageGi: 10, seal, token: pulumi.secret("hvs.configured-token-value") });
        const values = getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "vault").inputs.values;
        expect(values.server.ha.raft.config).toContain('seal "awskms" {\n  region     = "eu-west-1"\n  kms_key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"\n}');
        expect(values.server.serviceAccount.annotations).toEqual({ "eks.amazonaws.com/role-arn": seal.roleArn });
        expect(values.server.readinessProbe.path).toContain("sealedcode=204&uninitcode=204");
        expect(chartValuesErrors("vault-helm", values)).toBe("");
    });

    test("HA raft with a token from config", async () => {
        await expect(run({ ...args, mode: "ha", replicas: 3, storageGi: 10, token: pulumi.secret("t") })).rejects.toThrow(/needs a seal/);
        const r = await run({ ...args, mode: "ha", replicas: 3, storageGi: 10, seal: { type: "shamir" }, token: pulumi.secret("hvs.configured-token-value") });
        const values = getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "vault").inputs.values;
        expect(values.server.ha).toMatchObject({ enabled: true, replicas: 3, raft: { enabled: true } });
        expect(values.server.dev).toBeUndefined();
        expect(chartValuesErrors("vault-helm", values)).toBe("");
        expect(collectSecretsPlaintext(r.resources, ["hvs.configured-token-value"])).toEqual([]);
    });

    test("KV v2 mount; Airflow's policy reads only connections/ and variables/", async () => {
        const r = await run(args);
        expect(getResource(r.resources, "vault:index/mount:Mount", "vault-kv").inputs).toMatchObject({ path: "airflow", type: "kv", options: { version: "2" } });
        const airflow = getResource(r.resources, "vault:index/policy:Policy", "vault-policy-airflow-read").inputs;
        expect(policyPaths(airflow.policy)).toEqual({ "airflow/data/connections/*": ["read"], "airflow/data/variables/*": ["read"] });
    });

    test("each team's policy covers only its own path, and its role only its own service accounts", async () => {
        const r = await run(args);
        const payments = policyPaths(getResource(r.resources, "vault:index/policy:Policy", "vault-policy-team-payments").inputs.policy);
        for (const path of Object.keys(payments)) expect(path).toMatch(/^airflow\/(data|metadata)\/variables\/teams\/payments\//);
        expect(JSON.stringify(payments)).not.toContain("growth");
        const role = getResource(r.resources, "vault:kubernetes/authBackendRole:AuthBackendRole", "vault-kubernetes-team-payments").inputs;
        expect(role).toMatchObject({ roleName: "team-payments", boundServiceAccountNames: ["payments-ci"], boundServiceAccountNamespaces: ["payments"] });
        expect(role.tokenPolicies).toEqual(["vault-team-payments"]);
    });

    test("the Vault resources created are exactly the layout rendered from config/vault-layout.json", async () => {
        const r = await runProgram(() => {
            const v = new Vault("vault", args);
            return { layout: v.layout };
        }, { stack: "dev" });
        const layout = await unwrap(r.outputs.layout);
        expect(vaultLayoutOf(r.resources)).toEqual(layout);
        expect(Object.keys(layout.policies).sort()).toEqual(
            ["vault-airflow-read", "vault-audit-salt", "vault-secrets-rotation", ...args.teams.map((t) => `vault-team-${t.name}`)].sort(),
        );
        expect(Object.keys(layout.auth.approle.roles)).toEqual(expect.arrayContaining(["airflow", "secrets-rotation", "audit"]));
    });

    test("Kubernetes auth role is bound to Airflow's service accounts and the reader policy only", async () => {
        const r = await run(args);
        const role = getResource(r.resources, "vault:kubernetes/authBackendRole:AuthBackendRole", "vault-kubernetes-airflow").inputs;
        expect(role).toMatchObject({
            roleName: "airflow",
            boundServiceAccountNames: ["airflow-scheduler", "airflow-worker"],
            boundServiceAccountNamespaces: ["af"],
            tokenPolicies: ["vault-airflow-read"],
        });
        expect(getResource(r.resources, "vault:index/authBackend:AuthBackend", "vault-kubernetes-auth").inputs.type).toBe("kubernetes");
    });

    test("connections and variables are written to KV as secrets; outputs configure VaultBackend", async () => {
        const r = await run(args);
        const pg = getResource(r.resources, "vault:kv/secretV2:SecretV2", "vault-conn-postgres-default").inputs;
        expect(pg.name).toBe("connections/postgres_default");
        expect(JSON.parse(pg.dataJson)).toMatchObject({ conn_type: "postgres", login: "warehouse" });
        expect(JSON.parse(getResource(r.resources, "vault:kv/secretV2:SecretV2", "vault-var-environment").inputs.dataJson)).toEqual({ value: "dev" });
        expect(collectSecretsPlaintext(r.resources, [DB_PASSWORD])).toEqual([]);
        expect(r.outputs.backend).toEqual({
            backend: "airflow.providers.hashicorp.secrets.vault.VaultBackend",
            kwargs: expect.objectContaining({
                url: "http://vault.af.svc.cluster.local:8200",
                mount_point: "airflow",
                auth_type: "kubernetes",
                kubernetes_role: "airflow",
                auth_mount_point: "vault-kubernetes",
                connections_path: "connections",
                variables_path: "variables",
            }),
        });
    });

    test("a team policy for an undeclared team names the keys", async () => {
        await expect(run({ ...args, teams: [{ name: "ghosts", serviceAccounts: ["x"], namespace: "x" }] })).rejects.toThrow(
            /: teams\[0\]: team "ghosts" is not declared in declaredTeams/,
        );
    });

    test("two instances don't collide", async () => {
        const r = await runProgram(() => {
            new Vault("vault-a", args);
            new Vault("vault-b", args);
        }, { stack: "dev" });
        expectUniqueLogicalNames(r.resources);
        expectNoDuplicates(kubernetesIdentities(r.resources));
        expectNoDuplicates(byType(r.resources, "vault:index/policy:Policy").map((p) => p.inputs.name));
    });
});
