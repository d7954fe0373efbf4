/**
 * HashiCorp Vault for Airflow's secrets: the vault chart (dev mode in dev, HA raft elsewhere),
 * then through @pulumi/vault a KV v2 mount, least-privilege policies (Airflow reads only its
 * connections and variables; each team owns one subtree), the Kubernetes auth backend with a role
 * bound to Airflow's service accounts, and the connections and variables written into KV.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as vault from "@pulumi/vault";
import { GeneratedSecret } from "./secrets";
import * as vv from "./values/vault";
import { k8sName } from "./values/naming";
import { ChartSource, chartLocation } from "./values/charts";

export interface VaultTeam {
    name: string;
    /** Service accounts of the team's workloads (namespace: the team's own or Airflow's). */
    serviceAccounts: string[];
    namespace: pulumi.Input<string>;
}

export interface VaultArgs {
    /** Where the Helm chart comes from: its repository at the pinned version (default) or a folder of local tarballs. */
    chartSource?: ChartSource;
    namespace: pulumi.Input<string>;
    mode: vv.VaultMode;
    replicas: number;
    storageGi: number;
    /** Install the chart (false: use an existing Vault at `address`). */
    installChart?: boolean;
    /** Address Pulumi's Vault provider and Airflow use; defaults to the in-cluster service. */
    address?: pulumi.Input<string>;
    /** Token for the provider. Dev mode generates the root token itself; HA needs one from stack config. */
    token?: pulumi.Input<string>;
    mount: string;
    airflow: { namespace: pulumi.Input<string>; serviceAccounts: string[] };
    /** Declared teams (for error messages) and the teams that get a KV subtree and policy. */
    declaredTeams: string[];
    teams: VaultTeam[];
    /** conn_id → connection in Airflow's JSON form; written as <mount>/connections/<conn_id>. */
    connections: Record<string, pulumi.Input<Record<string, unknown>>>;
    /** name → value; written as <mount>/variables/<name> with key "value". */
    variables: Record<string, pulumi.Input<string>>;
    /** API server address the Kubernetes auth backend validates tokens against. */
    kubernetesHost?: string;
    /**
     * HA mode: how the servers unseal. awskms names the KMS key and the IRSA role of the server's service account
     * (AwsStorage's `vaultUnseal` creates both); shamir leaves unsealing to an operator.
     */
    seal?: { type: "awskms"; region: string; kmsKeyId: pulumi.Input<string>; roleArn: pulumi.Input<string> } | { type: "shamir" };
}

export const AIRFLOW_VAULT_ROLE = "airflow";

export class Vault extends pulumi.ComponentResource {
    public readonly address: pulumi.Output<string>;
    public readonly mount: string;
    /** `[secrets]` backend for Airflow: VaultBackend with Kubernetes auth. */
    public readonly secretsBackend: pulumi.Output<{ backend: string; kwargs: Record<string, unknown> }>;
    public readonly policyNames: string[];
    /**
     * HA mode before its one-time initialisation: the servers run, but no token exists yet, so the mounts, policies,
     * auth and KV content wait for the next `pulumi up` (docs/runbooks/vault-bootstrap.md).
     */
    public readonly bootstrapPending: boolean;

    constructor(name: string, args: VaultArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:Vault", name, {}, opts);
        vv.validateTeams("teams", args.declaredTeams, "vault.teamPolicies", args.teams.map((t) => t.name));
        const child = { parent: this };
        const release = k8sName(name);
        this.mount = args.mount;
        this.address = args.address
            ? pulumi.output(args.address)
            : pulumi.output(args.namespace).apply((ns) => vv.vaultAddress(release, ns));

        if (args.mode === "ha" && args.installChart !== false && !args.seal) {
            throw new Error("vault: HA mode needs a seal (awskms with a KMS key and role, or shamir)");
        }
        let token: pulumi.Input<string> | undefined = args.token;
        const deps: pulumi.Resource[] = [];
        if (args.installChart !== false) {
            let rootTokenSecret: GeneratedSecret | undefined;
            if (args.mode === "dev") {
                rootTokenSecret = new GeneratedSecret(
                    `${name}-root-token`,
                    { namespace: args.namespace, secretName: k8sName(name, "root-token"), generate: { [vv.DEV_ROOT_TOKEN_KEY]: { length: 32 } } },
                    child,
                );
                token = token ?? rootTokenSecret.values[vv.DEV_ROOT_TOKEN_KEY];
            }
            const seal = args.seal;
            const values = pulumi
                .all([args.namespace, seal?.type === "awskms" ? seal.kmsKeyId : "", seal?.type === "awskms" ? seal.roleArn : ""])
                .apply(([ns, kmsKeyId, roleArn]) =>
                    vv.vaultValues(
                        {
                            releaseName: release,
                            mode: args.mode,
                            replicas: args.replicas,
                            storageSize: `${args.storageGi}Gi`,
                            devRootTokenSecretName: rootTokenSecret ? k8sName(name, "root-token") : undefined,
                            seal: seal?.type === "awskms" ? { type: "awskms", region: seal.region, kmsKeyId, roleArn } : seal,
                        },
                        ns,
                    ),
                );
            deps.push(
                new k8s.helm.v4.Chart(
                    name,
                    {
                        name: release,
                        ...chartLocation(vv.VAULT_CHART, args.chartSource),
                        namespace: args.namespace,
                        values,
                    },
                    { ...child, dependsOn: rootTokenSecret ? [rootTokenSecret] : [] },
                ),
            );
        }
        const authPath = `${release}-kubernetes`;
        this.bootstrapPending = token === undefined;
        if (token === undefined) {
            if (args.mode !== "ha" || args.installChart === false) {
                throw new Error("vault: an existing Vault needs the provider token from the secret config key vaultToken (pulumi config set --secret vaultToken)");
            }
            pulumi.log.warn(
                "vault: the HA servers are deployed but not initialised yet, so no token exists: its mounts, policies, auth and " +
                    "Airflow's connections wait. Run the one-time init (docs/runbooks/vault-bootstrap.md), then " +
                    "`pulumi config set --secret vaultToken <token>` and `pulumi up` again.",
                this,
            );
            this.policyNames = [];
            this.secretsBackend = this.address.apply((address) => vv.airflowVaultBackend(address, args.mount, AIRFLOW_VAULT_ROLE, authPath));
            this.registerOutputs({ address: this.address, secretsBackend: this.secretsBackend, bootstrapPending: true });
            return;
        }
        const provider = new vault.Provider(`${name}-provider`, { address: this.address, token: pulumi.secret(token), skipChildToken: true }, child);
        const v = { parent: this, provider, dependsOn: deps };

        // Every request and response (HMAC'd secrets) goes to the server log, collected with the pod logs.
        new vault.Audit(`${name}-audit`, { type: "file", path: "stdout", options: { file_path: "stdout" } }, v);

        const mount = new vault.Mount(`${name}-kv`, { path: args.mount, type: "kv", options: { version: "2" }, description: "Airflow connections and variables" }, v);
        const after = { ...v, dependsOn: [...deps, mount] };

        const airflowPolicy = new vault.Policy(`${name}-airflow-policy`, { name: `${release}-airflow-read`, policy: vv.airflowReaderPolicy(args.mount) }, after);
        this.policyNames = [`${release}-airflow-read`];

        const auth = new vault.AuthBackend(`${name}-kubernetes-auth`, { type: "kubernetes", path: authPath }, v);
        new vault.kubernetes.AuthBackendConfig(
            `${name}-kubernetes-auth-config`,
            { backend: auth.path, kubernetesHost: args.kubernetesHost ?? "https://kubernetes.default.svc" },
            { ...v, dependsOn: [...deps, auth] },
        );
        new vault.kubernetes.AuthBackendRole(
            `${name}-airflow-role`,
            {
                backend: auth.path,
                roleName: AIRFLOW_VAULT_ROLE,
                boundServiceAccountNames: args.airflow.serviceAccounts,
                boundServiceAccountNamespaces: [args.airflow.namespace],
                tokenPolicies: [airflowPolicy.name],
                tokenTtl: 3600,
                tokenMaxTtl: 14400,
            },
            { ...v, dependsOn: [...deps, auth, airflowPolicy] },
        );
        for (const team of args.teams) {
            const policy = new vault.Policy(`${name}-team-${team.name}-policy`, { name: `${release}-team-${team.name}`, policy: vv.teamPolicy(args.mount, team.name) }, after);
            this.policyNames.push(`${release}-team-${team.name}`);
            new vault.kubernetes.AuthBackendRole(
                `${name}-team-${team.name}-role`,
                {
                    backend: auth.path,
                    roleName: `team-${team.name}`,
                    boundServiceAccountNames: team.serviceAccounts,
                    boundServiceAccountNamespaces: [team.namespace],
                    tokenPolicies: [policy.name],
                    tokenTtl: 3600,
                },
                { ...v, dependsOn: [...deps, auth, policy] },
            );
        }

        for (const [connId, conn] of Object.entries(args.connections)) {
            new vault.kv.SecretV2(
                `${name}-conn-${k8sName(connId)}`,
                { mount: mount.path, name: `${vv.CONNECTIONS_PATH}/${connId}`, dataJson: pulumi.secret(pulumi.output(conn).apply((c) => JSON.stringify(c))) },
                after,
            );
        }
        for (const [key, value] of Object.entries(args.variables)) {
            new vault.kv.SecretV2(
                `${name}-var-${k8sName(key)}`,
                { mount: mount.path, name: `${vv.VARIABLES_PATH}/${key}`, dataJson: pulumi.secret(pulumi.output(value).apply((val) => JSON.stringify({ value: val }))) },
                after,
            );
        }

        this.secretsBackend = pulumi
            .all([this.address, auth.path])
            .apply(([address, authPath]) => vv.airflowVaultBackend(address, args.mount, AIRFLOW_VAULT_ROLE, authPath));
        this.registerOutputs({ address: this.address, secretsBackend: this.secretsBackend, policyNames: this.policyNames, bootstrapPending: false });
    }
}
