/**
 * HashiCorp Vault for Airflow's secrets: the vault chart (dev mode in dev, HA raft elsewhere),
 * then through @pulumi/vault a KV v2 mount, the layout of config/vault-layout.json (least-privilege
 * policies per component and per team, AppRole and Kubernetes auth with their roles; the local
 * platform applies the same file to its real Vault), and the connections and variables written into KV.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as vault from "@pulumi/vault";
import { GeneratedSecret } from "./secrets";
import * as vv from "./values/vault";
import { k8sName } from "./values/naming";
import { ChartSource, chartLocation } from "./values/charts";
import { ComponentArgsError, checkArgs } from "./errors";

/** A team that gets its own KV subtree (`variables/teams/<name>/`), policy and Kubernetes auth role. */
export interface VaultTeam {
    /** Team name (lower-case, digits, '-'); one of `declaredTeams`. */
    name: string;
    /** Service accounts of the team's workloads (namespace: the team's own or Airflow's). */
    serviceAccounts: string[];
    /** Namespace of those service accounts. */
    namespace: pulumi.Input<string>;
}

export interface VaultArgs {
    /** Where the Helm chart comes from: its repository at the pinned version (default) or a folder of local tarballs. */
    chartSource?: ChartSource;
    /** Namespace of the release (and of its root-token Secret in dev mode). */
    namespace: pulumi.Input<string>;
    /** `dev`: one in-memory dev-mode server with a generated root token. `ha`: a raft cluster (needs `seal`, and `token` once initialised). */
    mode: vv.VaultMode;
    /** Servers (ha mode). */
    replicas: number;
    /** Raft volume size per server in GiB (ha mode). */
    storageGi: number;
    /** Install the chart. Default `true`; `false` configures an existing Vault at `address` (needs `token`). */
    installChart?: boolean;
    /** Address Pulumi's Vault provider and Airflow use. Default: the in-cluster service (`http://<name>.<namespace>.svc.cluster.local:8200`). */
    address?: pulumi.Input<string>;
    /**
     * Token of the Pulumi Vault provider. Default: dev mode generates its root token; ha mode without it deploys the
     * servers only (before the one-time init, see `bootstrapPending`); required with `installChart: false`.
     */
    token?: pulumi.Input<string>;
    /** Path of the KV v2 mount holding `connections/` and `variables/`, e.g. `airflow`. */
    mount: string;
    /** Airflow's namespace and service accounts: the `airflow` Kubernetes auth role (read on connections and variables) binds them. */
    airflow: { namespace: pulumi.Input<string>; serviceAccounts: string[] };
    /** Every team known to the organisation; `teams` may only name these. */
    declaredTeams: string[];
    /** The teams that get a KV subtree, a policy and a Kubernetes auth role. */
    teams: VaultTeam[];
    /** conn_id → connection in Airflow's JSON form; written as <mount>/connections/<conn_id>. */
    connections: Record<string, pulumi.Input<Record<string, unknown>>>;
    /** name → value; written as <mount>/variables/<name> with key "value". */
    variables: Record<string, pulumi.Input<string>>;
    /** API server address the Kubernetes auth backend validates tokens against. Default `https://kubernetes.default.svc`. */
    kubernetesHost?: string;
    /**
     * HA mode: how the servers unseal. awskms names the KMS key and the IRSA role of the server's service account
     * (AwsStorage's `vaultUnseal` creates both); shamir leaves unsealing to an operator. Required in ha mode.
     */
    seal?: { type: "awskms"; region: string; kmsKeyId: pulumi.Input<string>; roleArn: pulumi.Input<string> } | { type: "shamir" };
}

export const AIRFLOW_VAULT_ROLE = "airflow";

/** HashiCorp Vault as Airflow's secrets backend: the chart, a KV v2 mount, least-privilege policies and auth roles, and the KV content. */
export class Vault extends pulumi.ComponentResource {
    /** The address Airflow and the provider use. */
    public readonly address: pulumi.Output<string>;
    /** The KV v2 mount path. */
    public readonly mount: string;
    /** `[secrets]` backend for Airflow: VaultBackend with Kubernetes auth. */
    public readonly secretsBackend: pulumi.Output<{ backend: string; kwargs: Record<string, unknown> }>;
    /** Names of the policies created (`<name>-airflow-read`, `<name>-team-<team>`, …); empty while `bootstrapPending`. */
    public readonly policyNames: string[];
    /** The Vault layout this component creates (policies, AppRole and Kubernetes roles), rendered from config/vault-layout.json. */
    public readonly layout: pulumi.Output<vv.RenderedVaultLayout | undefined>;
    /**
     * HA mode before its one-time initialisation: the servers run, but no token exists yet, so the mounts, policies,
     * auth and KV content wait for the next `pulumi up` (docs/runbooks/vault-bootstrap.md).
     */
    public readonly bootstrapPending: boolean;

    constructor(name: string, args: VaultArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:Vault", name, {}, opts);
        checkArgs("Vault", name, "teams", () => vv.validateTeams("declaredTeams", args.declaredTeams, "teams", args.teams.map((t) => t.name)));
        const child = { parent: this };
        const release = k8sName(name);
        this.mount = args.mount;
        this.address = args.address
            ? pulumi.output(args.address)
            : pulumi.output(args.namespace).apply((ns) => vv.vaultAddress(release, ns));

        if (args.mode === "ha" && args.installChart !== false && !args.seal) {
            throw new ComponentArgsError("Vault", name, "seal", "HA mode needs a seal (awskms with a KMS key and role, or shamir)");
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
        if (!(AIRFLOW_VAULT_ROLE in vv.VAULT_LAYOUT.auth.kubernetes.roles)) {
            throw new Error(`vault: config/vault-layout.json has no Kubernetes role "${AIRFLOW_VAULT_ROLE}" for Airflow's secrets backend`);
        }
        this.bootstrapPending = token === undefined;
        if (token === undefined) {
            if (args.mode !== "ha" || args.installChart === false) {
                throw new ComponentArgsError("Vault", name, "token", "required to configure an existing Vault (one this component does not install)");
            }
            pulumi.log.warn(
                "vault: the HA servers are deployed but not initialised yet, so no token exists: its mounts, policies, auth and " +
                    "Airflow's connections wait. Run the one-time init (docs/runbooks/vault-bootstrap.md), then " +
                    "pass its root token as the component's `token` and run `pulumi up` again.",
                this,
            );
            this.policyNames = [];
            this.layout = pulumi.output(undefined);
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

        // Policies and auth roles come from the one layout (config/vault-layout.json) the local harness renders too.
        // Namespaces are Inputs, so this synchronous rendering only names the resources and their policies; each
        // Kubernetes role's bound namespace is set from the Input below, and `layout` (an Output) has them all.
        const layout = vv.vaultLayout({
            mount: args.mount,
            prefix: release,
            airflow: { namespace: "", serviceAccounts: args.airflow.serviceAccounts },
            teams: args.teams.map((t) => ({ name: t.name, namespace: "", serviceAccounts: t.serviceAccounts })),
        });
        this.layout = pulumi
            .all([args.airflow.namespace, ...args.teams.map((t) => t.namespace)])
            .apply(([airflowNs, ...teamNs]) => vv.vaultLayout({
                mount: args.mount,
                prefix: release,
                airflow: { namespace: airflowNs, serviceAccounts: args.airflow.serviceAccounts },
                teams: args.teams.map((t, i) => ({ name: t.name, namespace: teamNs[i], serviceAccounts: t.serviceAccounts })),
            }));
        // Aliases keep the logical names of earlier releases (airflow-policy, team-<t>-policy, …-role): no replacement on upgrade.
        const previousName = (suffix: string) => (suffix === "airflow-read" ? "airflow-policy" : suffix.startsWith("team-") ? `${suffix}-policy` : undefined);
        const policies = Object.entries(layout.policies).map(([policyName, hcl]) => {
            const suffix = policyName.slice(release.length + 1);
            const old = previousName(suffix);
            return new vault.Policy(`${name}-policy-${suffix}`, { name: policyName, policy: hcl }, { ...after, aliases: old ? [{ name: `${name}-${old}` }] : [] });
        });
        this.policyNames = Object.keys(layout.policies);
        const withPolicies = (backend: pulumi.Resource) => ({ ...v, dependsOn: [...deps, backend, ...policies] });

        const approle = new vault.AuthBackend(`${name}-approle-auth`, { type: "approle", path: layout.auth.approle.path }, v);
        for (const [roleName, role] of Object.entries(layout.auth.approle.roles)) {
            new vault.approle.AuthBackendRole(
                `${name}-approle-${roleName}`,
                { backend: approle.path, roleName, tokenPolicies: role.token_policies, tokenTtl: role.token_ttl, tokenMaxTtl: role.token_max_ttl },
                withPolicies(approle),
            );
        }

        const kubernetesAuth = new vault.AuthBackend(`${name}-kubernetes-auth`, { type: "kubernetes", path: layout.auth.kubernetes.path }, v);
        new vault.kubernetes.AuthBackendConfig(
            `${name}-kubernetes-auth-config`,
            { backend: kubernetesAuth.path, kubernetesHost: args.kubernetesHost ?? "https://kubernetes.default.svc" },
            { ...v, dependsOn: [...deps, kubernetesAuth] },
        );
        const teamNamespaces = Object.fromEntries(args.teams.map((t) => [`team-${t.name}`, t.namespace]));
        for (const [roleName, role] of Object.entries(layout.auth.kubernetes.roles)) {
            new vault.kubernetes.AuthBackendRole(
                `${name}-kubernetes-${roleName}`,
                {
                    backend: kubernetesAuth.path,
                    roleName,
                    boundServiceAccountNames: role.bound_service_account_names,
                    boundServiceAccountNamespaces: [teamNamespaces[roleName] ?? args.airflow.namespace],
                    tokenPolicies: role.token_policies,
                    tokenTtl: role.token_ttl,
                    tokenMaxTtl: role.token_max_ttl,
                },
                { ...withPolicies(kubernetesAuth), aliases: [{ name: `${name}-${roleName}-role` }] },
            );
        }

        for (const [connId, conn] of Object.entries(args.connections)) {
            new vault.kv.SecretV2(
                `${name}-conn-${k8sName(connId)}`,
                { mount: mount.path, name: `${vv.CONNECTIONS_PATH}/${connId}`, dataJson: pulumi.secret(pulumi.output(conn).apply((c) => JSON.stringify(c))) },
                // A rotating_* connection belongs to its rotation task once written: a later `up` must not reset it.
                connId.startsWith(vv.ROTATING_PREFIX) ? { ...after, ignoreChanges: ["dataJson"] } : after,
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
            .all([this.address, kubernetesAuth.path])
            .apply(([address, authPath]) => vv.airflowVaultBackend(address, args.mount, AIRFLOW_VAULT_ROLE, authPath));
        this.registerOutputs({ address: this.address, secretsBackend: this.secretsBackend, policyNames: this.policyNames, layout: this.layout, bootstrapPending: false });
    }
}
