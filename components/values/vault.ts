/**
 * Pure builders for the Vault component: vault-helm values (dev mode or HA raft), least-privilege
 * policies in HCL, KV v2 paths, and the `[secrets]` settings Airflow's VaultBackend needs.
 */
import layoutFile from "../../config/vault-layout.json";
import { serviceHost } from "./naming";
import { RESTRICTED_CONTAINER, resources, restrictedPod, SIZES } from "./security";

export const VAULT_CHART = { chart: "vault", version: "0.34.1", repo: "https://helm.releases.hashicorp.com" };
export const VAULT_PORT = 8200;
/** Where the dev root token is read from (Secret key), so it never appears in Helm values. */
export const DEV_ROOT_TOKEN_KEY = "root-token";
/** The container env var that carries the generated dev root token (the chart owns VAULT_DEV_ROOT_TOKEN_ID). */
export const DEV_ROOT_TOKEN_ENV = "VAULT_PLATFORM_DEV_ROOT_TOKEN";
/** Sub-paths of the KV mount; Airflow's connections and variables (team contract). */
export const CONNECTIONS_PATH: string = layoutFile.paths.connections;
export const VARIABLES_PATH: string = layoutFile.paths.variables;
/** Each team's subtree lives under variables, so Airflow reads it as Variable "teams/<team>/<key>". */
export const TEAMS_PATH: string = layoutFile.paths.teams;
/** Connections the secrets-rotation role may rewrite (its policy in config/vault-layout.json). */
export const ROTATING_PREFIX = "rotating_";
export const SERVICE_ACCOUNT_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export type VaultMode = "dev" | "ha";

/**
 * How an HA server unseals. `awskms`: auto-unseal with a KMS key (the server reaches it through an IRSA role on its
 * service account); `shamir`: an operator unseals each pod after every restart (docs/runbooks/vault-bootstrap.md).
 */
export type VaultSeal = { type: "awskms"; region: string; kmsKeyId: string; roleArn: string } | { type: "shamir" };

/**
 * Readiness that counts a sealed or uninitialised server as up. The chart's default probe (`vault status`) fails
 * until someone has initialised and unsealed Vault, so the first `pulumi up` would wait on the StatefulSet forever;
 * the Services keep sending clients to the active node only (service_registration "kubernetes" labels it).
 */
export const HA_READINESS_PATH = "/v1/sys/health?standbyok=true&perfstandbyok=true&sealedcode=204&uninitcode=204";

export interface VaultValuesInput {
    releaseName: string;
    mode: VaultMode;
    /** HA raft replicas (ignored in dev mode). */
    replicas: number;
    storageSize: string;
    /** Secret holding DEV_ROOT_TOKEN_KEY (dev mode only). */
    devRootTokenSecretName?: string;
    /** HA mode only: how the servers unseal. */
    seal?: VaultSeal;
}

/** The `seal` stanza of the server config: awskms names its key and region; shamir is Vault's default (none). */
export function sealStanza(seal: VaultSeal | undefined): string[] {
    if (!seal || seal.type === "shamir") return [];
    return ['seal "awskms" {', `  region     = "${seal.region}"`, `  kms_key_id = "${seal.kmsKeyId}"`, "}"];
}

/** Raft storage with retry_join to every peer, Kubernetes service registration. */
export function raftConfig(releaseName: string, namespace: string, replicas: number, seal?: VaultSeal): string {
    const joins = Array.from({ length: replicas }, (_, i) =>
        `  retry_join {\n    leader_api_addr = "http://${releaseName}-${i}.${releaseName}-internal.${namespace}.svc:${VAULT_PORT}"\n  }`,
    ).join("\n");
    return [
        "ui = true",
        'listener "tcp" {',
        "  tls_disable = 1",
        `  address = "[::]:${VAULT_PORT}"`,
        '  cluster_address = "[::]:8201"',
        "}",
        'storage "raft" {',
        '  path = "/vault/data"',
        joins,
        "}",
        'service_registration "kubernetes" {}',
        ...sealStanza(seal),
        "",
    ].join("\n");
}

export function vaultValues(input: VaultValuesInput, namespace: string): Record<string, unknown> {
    const common = { injector: { enabled: false }, ui: { enabled: true } };
    // uid 100 / gid 1000 are the vault image's user (the chart's own defaults).
    const hardening = {
        statefulSet: { securityContext: { pod: { ...restrictedPod(), runAsUser: 100, runAsGroup: 1000, fsGroup: 1000 }, container: RESTRICTED_CONTAINER } },
        resources: resources(SIZES.vault),
    };
    if (input.mode === "dev") {
        if (!input.devRootTokenSecretName) throw new Error("vault dev mode needs devRootTokenSecretName");
        return {
            ...common,
            fullnameOverride: input.releaseName,
            server: {
                // The chart always sets VAULT_DEV_ROOT_TOKEN_ID (to the devRootToken placeholder), so a second entry of
                // that name would be a duplicate env key, which server-side apply refuses. The generated token comes in
                // under its own name and is passed as -dev-root-token-id, which wins over the placeholder.
                dev: { enabled: true },
                extraSecretEnvironmentVars: [
                    { envName: DEV_ROOT_TOKEN_ENV, secretName: input.devRootTokenSecretName, secretKey: DEV_ROOT_TOKEN_KEY },
                ],
                // The chart runs this line through `sh -ec`, so the variable is expanded from the container's env.
                extraArgs: `-dev-root-token-id="$\{${DEV_ROOT_TOKEN_ENV}}"`,
                dataStorage: { enabled: false },
                ...hardening,
            },
        };
    }
    if (!input.seal) throw new Error("vault HA mode needs a seal (awskms or shamir)");
    return {
        ...common,
        fullnameOverride: input.releaseName,
        server: {
            ha: {
                enabled: true,
                replicas: input.replicas,
                raft: { enabled: true, setNodeId: true, config: raftConfig(input.releaseName, namespace, input.replicas, input.seal) },
            },
            dataStorage: { enabled: true, size: input.storageSize },
            readinessProbe: { enabled: true, path: HA_READINESS_PATH },
            ...(input.seal.type === "awskms" ? { serviceAccount: { annotations: { "eks.amazonaws.com/role-arn": input.seal.roleArn } } } : {}),
            ...hardening,
        },
    };
}

export function vaultAddress(releaseName: string, namespace: string): string {
    return `http://${serviceHost(releaseName, namespace)}:${VAULT_PORT}`;
}

/** The declarative layout (config/vault-layout.json); the local harness renders the same file (local/vault_layout.py). */
/** One path of a policy: `{mount}`/`{team}` placeholders and Vault capabilities. */
export interface LayoutRule { path: string; capabilities: string[] }
/** A least-privilege policy of the layout, rendered to HCL by policyHcl(). */
export interface LayoutPolicy { description: string; rules: LayoutRule[] }
/** An auth method of the layout: its fixed roles (each naming layout policies) and whether each team gets a role. */
export interface LayoutAuth { description: string; roles: Record<string, { policies: string[]; boundTo?: "airflow" }>; teamRoles: boolean }
export const VAULT_LAYOUT = layoutFile as unknown as {
    paths: { connections: string; variables: string; teams: string };
    tokenTtlSeconds: number;
    tokenMaxTtlSeconds: number;
    policies: Record<string, LayoutPolicy>;
    teamPolicy: LayoutPolicy;
    auth: { approle: LayoutAuth; kubernetes: LayoutAuth };
};

/** Who the layout is rendered for: one Vault component of one stack. */
export interface VaultLayoutInput {
    mount: string;
    /** Prefix of policy names and auth paths: the component's release name, so two platforms can share one Vault. */
    prefix: string;
    airflow: { namespace: string; serviceAccounts: string[] };
    teams: Array<{ name: string; namespace: string; serviceAccounts: string[] }>;
}

/** The token settings every role of the layout carries. */
export interface RoleTtls { token_policies: string[]; token_ttl: number; token_max_ttl: number }
export type AppRoleRole = RoleTtls;
export type KubernetesRole = RoleTtls & { bound_service_account_names: string[]; bound_service_account_namespaces: string[] };

/** The rendered layout, in Vault's own API vocabulary; the local harness renders and reads back exactly this shape. */
export interface RenderedVaultLayout {
    mount: { path: string; type: "kv"; options: { version: "2" } };
    /** policy name → HCL */
    policies: Record<string, string>;
    auth: {
        approle: { path: string; roles: Record<string, AppRoleRole> };
        kubernetes: { path: string; roles: Record<string, KubernetesRole> };
    };
}

function fill(template: string, vars: Record<string, string>): string {
    return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
        if (!(key in vars)) throw new Error(`config/vault-layout.json: unknown placeholder ${whole} in "${template}"`);
        return vars[key];
    });
}

/** One policy's HCL: its description as a comment, then one path block per rule. */
export function policyHcl(policy: LayoutPolicy, vars: Record<string, string>): string {
    const blocks = policy.rules.map((r) => `path "${fill(r.path, vars)}" {\n  capabilities = [${r.capabilities.map((c) => `"${c}"`).join(", ")}]\n}\n`);
    return [`# ${policy.description}\n`, ...blocks].join("\n");
}

export function policyName(prefix: string, policy: string): string {
    return `${prefix}-${policy}`;
}

export function teamPolicyName(prefix: string, team: string): string {
    return `${prefix}-team-${team}`;
}

/** Renders config/vault-layout.json for one component: policies, AppRole roles and Kubernetes roles. */
export function vaultLayout(input: VaultLayoutInput): RenderedVaultLayout {
    const L = VAULT_LAYOUT;
    const ttls = { token_ttl: L.tokenTtlSeconds, token_max_ttl: L.tokenMaxTtlSeconds };
    const policies: Record<string, string> = {};
    for (const [name, policy] of Object.entries(L.policies)) policies[policyName(input.prefix, name)] = policyHcl(policy, { mount: input.mount });
    for (const team of input.teams) policies[teamPolicyName(input.prefix, team.name)] = policyHcl(L.teamPolicy, { mount: input.mount, team: team.name });
    const teamPolicies = (team: string) => [teamPolicyName(input.prefix, team)];

    const approle: Record<string, AppRoleRole> = {};
    for (const [role, spec] of Object.entries(L.auth.approle.roles)) approle[role] = { token_policies: spec.policies.map((p) => policyName(input.prefix, p)), ...ttls };
    if (L.auth.approle.teamRoles) for (const team of input.teams) approle[`team-${team.name}`] = { token_policies: teamPolicies(team.name), ...ttls };

    const kubernetes: Record<string, KubernetesRole> = {};
    for (const [role, spec] of Object.entries(L.auth.kubernetes.roles)) {
        kubernetes[role] = {
            bound_service_account_names: [...input.airflow.serviceAccounts],
            bound_service_account_namespaces: [input.airflow.namespace],
            token_policies: spec.policies.map((p) => policyName(input.prefix, p)),
            ...ttls,
        };
    }
    if (L.auth.kubernetes.teamRoles) {
        for (const team of input.teams) {
            kubernetes[`team-${team.name}`] = {
                bound_service_account_names: [...team.serviceAccounts],
                bound_service_account_namespaces: [team.namespace],
                token_policies: teamPolicies(team.name),
                ...ttls,
            };
        }
    }
    return {
        mount: { path: input.mount, type: "kv", options: { version: "2" } },
        policies,
        auth: { approle: { path: `${input.prefix}-approle`, roles: approle }, kubernetes: { path: `${input.prefix}-kubernetes`, roles: kubernetes } },
    };
}

/** Parses our own HCL back into path → capabilities; tests use it to check least privilege. */
export function policyPaths(hcl: string): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    const re = /path "([^"]+)" \{\s*capabilities = \[([^\]]*)\]\s*\}/g;
    for (let m = re.exec(hcl); m !== null; m = re.exec(hcl)) {
        out[m[1]] = m[2].split(",").map((s) => s.trim().replace(/"/g, "")).filter(Boolean);
    }
    return out;
}

const TEAM_NAME = /^[a-z][a-z0-9-]{0,30}$/;

/** Checks team names and that every team policy names a declared team; errors name the keys. */
export function validateTeams(teamsKey: string, teams: readonly string[], policiesKey: string, policyTeams: readonly string[]): void {
    teams.forEach((t, i) => {
        if (!TEAM_NAME.test(t)) throw new Error(`${teamsKey}[${i}]: "${t}" is not a valid team name (lower-case, digits, '-')`);
    });
    policyTeams.forEach((t, i) => {
        if (!teams.includes(t)) {
            throw new Error(`${policiesKey}[${i}]: team "${t}" is not declared in ${teamsKey} (${teams.join(", ") || "none"})`);
        }
    });
}

/** `[secrets]` backend settings for Airflow: VaultBackend, Kubernetes auth, KV v2. */
export function airflowVaultBackend(
    address: string,
    mount: string,
    role: string,
    authMountPoint = "kubernetes",
): { backend: string; kwargs: Record<string, unknown> } {
    return {
        backend: "airflow.providers.hashicorp.secrets.vault.VaultBackend",
        kwargs: {
            url: address,
            mount_point: mount,
            connections_path: CONNECTIONS_PATH,
            variables_path: VARIABLES_PATH,
            config_path: null,
            kv_engine_version: 2,
            auth_type: "kubernetes",
            kubernetes_role: role,
            auth_mount_point: authMountPoint,
            kubernetes_jwt_path: SERVICE_ACCOUNT_TOKEN_PATH,
        },
    };
}
