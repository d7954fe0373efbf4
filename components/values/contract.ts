/**
 * The dependency contract, TypeScript side: every `dags/phaseN/needs.yaml` is read, validated against
 * `contract/needs.schema.json`, and turned into what a stack must provision (connections, variables, pools,
 * topics, databases, buckets, Python requirements). A stack that can't satisfy a DAG it ships is an error.
 *
 * Pure functions: no Pulumi resources here. The Platform component feeds the results to Vault KV, the pools
 * Job, Strimzi topics and the image requirements.
 */
import { VAULT_LAYOUT } from "./vault";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import Ajv2020 from "ajv/dist/2020";
import type { StackConfig } from "../../config/schema";
import { PACKAGE_ROOT } from "./paths";

/** The package root: the repository from source, the installed package when compiled (./paths). */
export const REPO_ROOT = PACKAGE_ROOT;
export const NEEDS_SCHEMA_PATH = path.join(REPO_ROOT, "contract", "needs.schema.json");

export const SERVICES = [
    "postgres", "redis", "kafka", "mlflow", "marquez", "vault", "prometheus", "statsd",
    "smtp", "slack", "s3", "azure_blob", "bigquery", "http_api", "airflow_api", "filesystem",
] as const;
export type Service = (typeof SERVICES)[number];

export interface ConnectionNeed {
    type: string;
    service: Service;
    database?: string;
    path?: string;
    extra?: Record<string, unknown>;
    description?: string;
}

export interface TopicNeed {
    name: string;
    partitions: number;
    retention_ms: number;
    dead_letter_for?: string;
}

export interface DagNeeds {
    services: Service[];
    connections: Record<string, ConnectionNeed>;
    variables: Record<string, { value: unknown; description?: string }>;
    pools: Record<string, { slots: number; description?: string }>;
    assets: { produces: string[]; consumes: string[] };
    topics: TopicNeed[];
    databases: string[];
    buckets: string[];
    packages: string[];
    /** FAB roles the DAG's `access_control` names; created before the dag-processor parses it. Optional: none. */
    roles?: string[];
}

/** dag_id → needs, with the manifest each came from. */
export interface Manifest {
    dags: Record<string, DagNeeds>;
    files: Record<string, string>;
}

export class ContractError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ContractError";
    }
}

/**
 * Connection types the platform can provision, each with the provider distribution that registers it.
 * A type outside this list is refused: nothing would be able to open the connection.
 */
export const CONNECTION_TYPE_PROVIDERS: Record<string, string> = {
    postgres: "apache-airflow-providers-postgres",
    kafka: "apache-airflow-providers-apache-kafka",
    http: "apache-airflow-providers-http",
    smtp: "apache-airflow-providers-smtp",
    slackwebhook: "apache-airflow-providers-slack",
    slack: "apache-airflow-providers-slack",
    aws: "apache-airflow-providers-amazon",
    wasb: "apache-airflow-providers-microsoft-azure",
    google_cloud_platform: "apache-airflow-providers-google",
    redis: "apache-airflow-providers-redis",
    vault: "apache-airflow-providers-hashicorp",
    fs: "apache-airflow-providers-standard",
    generic: "apache-airflow-core",
};

let compiledValidator: ReturnType<Ajv2020["compile"]> | undefined;
function validator(): ReturnType<Ajv2020["compile"]> {
    if (!compiledValidator) {
        const schema = JSON.parse(fs.readFileSync(NEEDS_SCHEMA_PATH, "utf8"));
        compiledValidator = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
    }
    return compiledValidator;
}

/** Where a problem is: "manifest root", "dag <id>" or "dag <id>, field <a.b.c>" (the same words as local/contract.py). */
function location(pathParts: string[]): string {
    const [dagId, ...field] = pathParts;
    return dagId === undefined ? "manifest root" : `dag ${dagId}${field.length ? `, field ${field.join(".")}` : ""}`;
}

/**
 * One schema error in the contract's own words, identical to local/contract.py's for the same error (the golden cases
 * in contract/golden/ hold both readers to that): the key path, then what was expected.
 */
function schemaProblem(e: { keyword: string; instancePath: string; params: Record<string, any>; schema?: unknown }): string | undefined {
    const at = e.instancePath.split("/").filter(Boolean).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    switch (e.keyword) {
        case "required": return `${location(at)}: missing required field '${e.params.missingProperty}'`;
        case "additionalProperties": return `${location(at)}: unknown field '${e.params.additionalProperty}'`;
        case "enum": return `${location(at)}: must be one of ${[...(e.params.allowedValues as unknown[])].map(String).sort().join(", ")}`;
        case "type": return `${location(at)}: must be ${[e.params.type].flat().join(" or ")}`;
        case "minimum": return `${location(at)}: must be >= ${e.params.limit}`;
        case "uniqueItems": return `${location(at)}: must not repeat an item`;
        case "pattern":
            return e.params.propertyName !== undefined || e.instancePath === ""
                ? undefined // reported by the propertyNames error below, with the name
                : `${location(at)}: must match ${e.params.pattern}`;
        case "propertyNames": return `manifest root: dag id '${e.params.propertyName}' must look like phaseN_NN_name`;
        default: return `${location(at)}: fails ${e.keyword}`;
    }
}

/** Rules the schema can't say, shared word for word with local/contract.py. */
export function crossFieldProblems(dags: Record<string, DagNeeds>): string[] {
    const problems: string[] = [];
    for (const [dagId, needs] of Object.entries(dags)) {
        for (const [connId, conn] of Object.entries(needs.connections)) {
            if (!needs.services.includes(conn.service)) {
                problems.push(`dag ${dagId}, field connections.${connId}.service: '${conn.service}' is not one of the dag's services`);
            }
        }
    }
    return problems;
}

/** Validates one parsed manifest; every problem names the file, the DAG and the field. */
export function validateManifest(document: unknown, file: string): Record<string, DagNeeds> {
    const validate = validator();
    if (!validate(document)) {
        const problems = (validate.errors ?? []).map((e) => schemaProblem(e as any)).filter((p): p is string => p !== undefined);
        throw new ContractError(`${file}: ${[...new Set(problems)].sort().join("; ")}`);
    }
    const dags = document as Record<string, DagNeeds>;
    const problems = crossFieldProblems(dags);
    if (problems.length > 0) throw new ContractError(`${file}: ${problems.sort().join("; ")}`);
    return dags;
}

/** Reads every dags/phase* /needs.yaml under `dagsDir`. */
export function loadManifest(dagsDir: string = path.join(REPO_ROOT, "dags")): Manifest {
    const manifest: Manifest = { dags: {}, files: {} };
    const phases = fs.readdirSync(dagsDir).filter((d) => /^phase\d+$/.test(d)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
    for (const phase of phases) {
        const file = path.join(dagsDir, phase, "needs.yaml");
        if (!fs.existsSync(file)) continue;
        const relative = path.relative(REPO_ROOT, file);
        let document: unknown;
        try {
            document = yaml.load(fs.readFileSync(file, "utf8")) ?? {};
        } catch (e) {
            throw new ContractError(`${relative}: not valid YAML: ${(e as Error).message}`);
        }
        for (const [dagId, needs] of Object.entries(validateManifest(document, relative))) {
            if (!dagId.startsWith(`${phase}_`)) {
                throw new ContractError(`${relative}: dag ${dagId} belongs to another phase's manifest`);
            }
            manifest.dags[dagId] = needs;
            manifest.files[dagId] = relative;
        }
    }
    return manifest;
}

/** What one stack has switched on, in the contract's service vocabulary. */
export type ServiceAvailability = Record<Service, boolean>;

/**
 * The contract's services that a stack provides, from its config: platform components by their `enabled`
 * flag; SMTP and Slack through monitoring (its SMTP relay; the Slack bot token slackBotToken); S3 through the
 * AWS component; the chart's StatsD exporter, the API server and the workers' filesystem always; the
 * external SaaS endpoints when `dags.external` names them.
 */
export function serviceAvailability(config: StackConfig): ServiceAvailability {
    return {
        postgres: true, // Airflow's metadata database: every stack has Postgres
        redis: config.redis.enabled,
        kafka: config.kafka.enabled,
        mlflow: config.mlflow.enabled,
        marquez: config.marquez.enabled,
        vault: config.vault.enabled,
        prometheus: config.monitoring.enabled,
        statsd: true,
        smtp: config.monitoring.enabled,
        slack: config.monitoring.enabled,
        s3: config.aws.enabled,
        azure_blob: config.dags.external.azureBlob !== null,
        bigquery: config.dags.external.bigquery !== null,
        http_api: config.dags.external.httpApi !== null,
        airflow_api: true,
        filesystem: true,
    };
}

export interface StackContract extends ShippedDags {
    needs: StackNeeds;
    /** The pinned requirements file the stack's image is built from. */
    requirements: string;
}

/** Everything one stack ships and must provision; throws a ContractError naming each unmet DAG and service. */
export function stackContract(config: StackConfig, stack: string, manifest: Manifest = loadManifest(),
    lockText: string = fs.readFileSync(path.join(REPO_ROOT, "python", "requirements.lock"), "utf8")): StackContract {
    const shipped = shippedDags(manifest, serviceAvailability(config), config.dags.exclude, stack);
    const needs = aggregateNeeds(manifest, shipped.shipped);
    return { ...shipped, needs, requirements: stackRequirements(needs, lockText, stack) };
}

export interface ShippedDags {
    shipped: string[];
    excluded: string[];
}

/**
 * Which DAGs a stack ships, and a clear error for every shipped DAG whose services the stack doesn't run.
 * `exclude` lists DAGs left out of the stack's bundle on purpose; excluding an unknown DAG is an error too.
 */
export function shippedDags(manifest: Manifest, available: ServiceAvailability, exclude: readonly string[], stack: string): ShippedDags {
    const unknown = exclude.filter((id) => !(id in manifest.dags));
    if (unknown.length) {
        throw new ContractError(`stack ${stack}: dags.exclude names DAGs that don't exist: ${unknown.join(", ")}`);
    }
    const shipped = Object.keys(manifest.dags).filter((id) => !exclude.includes(id)).sort();
    const unmet = shipped
        .map((id) => ({ id, missing: manifest.dags[id].services.filter((s) => !available[s]) }))
        .filter((u) => u.missing.length > 0);
    if (unmet.length) {
        const lines = unmet.map((u) => `  ${u.id} (${manifest.files[u.id]}) needs ${u.missing.join(", ")}`);
        throw new ContractError(
            `stack ${stack} can't satisfy ${unmet.length} DAG(s) it ships:\n${lines.join("\n")}\n` +
            `Enable the service(s) in Pulumi.${stack}.yaml, or leave the DAG out on purpose with dags.exclude.`,
        );
    }
    return { shipped, excluded: [...exclude].sort() };
}

export interface StackNeeds {
    connections: Record<string, ConnectionNeed & { usedBy: string[] }>;
    variables: Record<string, unknown>;
    pools: Record<string, number>;
    topics: TopicNeed[];
    databases: string[];
    buckets: string[];
    packages: string[];
    /** FAB roles the shipped DAGs' access_control names, sorted. */
    roles: string[];
}

/** JSON with object keys sorted, so two equal declarations compare equal whatever order their keys were written in. */
function canonicalJson(value: unknown): string {
    return JSON.stringify(value, (_key, v) =>
        v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v);
}

function mergeSame<T>(kind: string, key: string, value: T, into: Record<string, T>, owner: Record<string, string>, dagId: string): void {
    if (key in into && canonicalJson(into[key]) !== canonicalJson(value)) {
        throw new ContractError(`${kind} '${key}' is declared differently by ${owner[key]} and ${dagId}`);
    }
    into[key] = value;
    owner[key] ??= dagId;
}

/** Everything the shipped DAGs need, merged; two DAGs declaring the same thing differently is an error. */
export function aggregateNeeds(manifest: Manifest, shipped: readonly string[]): StackNeeds {
    const connections: StackNeeds["connections"] = {};
    const variables: Record<string, unknown> = {};
    const pools: Record<string, number> = {};
    const topics: Record<string, TopicNeed> = {};
    const owners = { conn: {}, var: {}, pool: {}, topic: {} } as Record<string, Record<string, string>>;
    const databases = new Set<string>();
    const buckets = new Set<string>();
    const packages = new Set<string>();
    const roles = new Set<string>();
    for (const dagId of shipped) {
        const needs = manifest.dags[dagId];
        for (const [connId, conn] of Object.entries(needs.connections)) {
            const { description: _ignored, ...shape } = conn;
            const prior = connections[connId];
            if (prior) {
                const { usedBy, description: _d, ...priorShape } = prior;
                if (canonicalJson(priorShape) !== canonicalJson(shape)) {
                    throw new ContractError(`connection '${connId}' is declared differently by ${usedBy[0]} and ${dagId}`);
                }
                usedBy.push(dagId);
            } else {
                connections[connId] = { ...conn, usedBy: [dagId] };
            }
        }
        for (const [name, v] of Object.entries(needs.variables)) mergeSame("variable", name, v.value, variables, owners.var, dagId);
        for (const [name, p] of Object.entries(needs.pools)) mergeSame("pool", name, p.slots, pools, owners.pool, dagId);
        for (const t of needs.topics) mergeSame("topic", t.name, t, topics, owners.topic, dagId);
        needs.databases.forEach((d) => databases.add(d));
        needs.buckets.forEach((b) => buckets.add(b));
        needs.packages.forEach((p) => packages.add(p));
        (needs.roles ?? []).forEach((r) => roles.add(r));
    }
    for (const t of Object.values(topics)) {
        if (t.dead_letter_for && !(t.dead_letter_for in topics)) {
            throw new ContractError(`topic '${t.name}' is the dead-letter topic of '${t.dead_letter_for}', which no shipped DAG declares`);
        }
    }
    return {
        connections,
        variables,
        pools,
        topics: Object.values(topics).sort((a, b) => a.name.localeCompare(b.name)),
        databases: [...databases].sort(),
        buckets: [...buckets].sort(),
        packages: [...packages].sort(),
        roles: [...roles].sort(),
    };
}

/** Normalised distribution name, as pip compares them. */
export function normaliseDistribution(name: string): string {
    return name.toLowerCase().replace(/[-_.]+/g, "-").replace(/\[.*\]$/, "");
}

/** Parses `name==version` pins of a uv/pip-compile lock. */
export function parseLock(lockText: string): Map<string, string> {
    const pins = new Map<string, string>();
    for (const line of lockText.split("\n")) {
        const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)/.exec(line.trim());
        if (m) pins.set(normaliseDistribution(m[1]), m[3]);
    }
    return pins;
}

/**
 * The pinned requirements file for one stack's image: Airflow itself plus every package its shipped DAGs
 * declare, each at the version of the project's one lock. A package missing from the lock is an error.
 */
export function stackRequirements(needs: StackNeeds, lockText: string, stack: string, core: readonly string[] = ["apache-airflow"]): string {
    const pins = parseLock(lockText);
    const wanted = [...new Set([...core, ...needs.packages].map(normaliseDistribution))].sort();
    const missing = wanted.filter((p) => !pins.has(p));
    if (missing.length) {
        throw new ContractError(`stack ${stack}: packages declared by its DAGs are not in python/requirements.lock: ${missing.join(", ")}`);
    }
    const header = `# Generated from dags/*/needs.yaml and python/requirements.lock for stack ${stack}. Do not edit.\n`;
    return header + wanted.map((p) => `${p}==${pins.get(p)}`).join("\n") + "\n";
}

/** `airflow pools import` file content: {name: {slots, description, include_deferred}}. */
export function poolsImportDocument(pools: Record<string, number>): Record<string, { slots: number; description: string; include_deferred: boolean }> {
    const doc: Record<string, { slots: number; description: string; include_deferred: boolean }> = {};
    for (const [name, slots] of Object.entries(pools).sort(([a], [b]) => a.localeCompare(b))) {
        doc[name] = { slots, description: "provisioned from dags/*/needs.yaml", include_deferred: false };
    }
    return doc;
}

/** Plain endpoints of the stack's services, resolved from component outputs and config. */
export interface ServiceEndpoints {
    mlflow?: string;
    marquez?: string;
    prometheus?: string;
    airflowApi: string;
    smtp?: { host: string; port: number; from: string; login: string };
    /** Vault address; DAGs authenticate with the Kubernetes auth role bound to Airflow's service accounts. */
    vault?: { address: string; mount: string; role: string; authMountPoint: string };
    /** Slack bot token of the Web API connection (a secret: the built connection stays one); no base_url, so slack.com. */
    slackBotToken?: string;
    azureBlob?: string;
    bigquery?: string;
    httpApi?: string;
}

/**
 * Connections (Airflow JSON form) for declared ids the platform doesn't already provide, built from the
 * service endpoints. Credentials of external accounts are not known to the platform: those connections carry the
 * endpoint only, and their owners add the secret fields in Vault. A declared connection no endpoint can serve is
 * an error naming it, its service and the DAGs that use it.
 */
export function contractConnections(needs: StackNeeds, provided: readonly string[], endpoints: ServiceEndpoints): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    const missing: string[] = [];
    const http = (url: string | undefined, sub = "") => (url ? { host: `${url.replace(/\/$/, "")}${sub}` } : undefined);
    for (const [connId, spec] of Object.entries(needs.connections).sort(([a], [b]) => a.localeCompare(b))) {
        if (provided.includes(connId)) continue;
        const base: Record<string, unknown> | undefined = (() => {
            switch (spec.service) {
                case "mlflow": return http(endpoints.mlflow, spec.path);
                case "marquez": return http(endpoints.marquez, spec.path);
                case "prometheus": return http(endpoints.prometheus, spec.path);
                case "airflow_api": return http(endpoints.airflowApi, spec.path);
                case "http_api": return http(endpoints.httpApi, spec.path);
                case "smtp": return endpoints.smtp ? { host: endpoints.smtp.host, port: endpoints.smtp.port, login: endpoints.smtp.login, extra: { from_email: endpoints.smtp.from } } : undefined;
                case "vault": return endpoints.vault
                    ? {
                        host: endpoints.vault.address,
                        // extra.role picks another role of config/vault-layout.json (secrets-rotation, team-<t>); Airflow's by default.
                        extra: {
                            auth_type: "kubernetes",
                            kubernetes_role: String(spec.extra?.role ?? endpoints.vault.role),
                            auth_mount_point: endpoints.vault.authMountPoint,
                            mount_point: endpoints.vault.mount,
                        },
                    }
                    : undefined;
                case "slack": return endpoints.slackBotToken ? { password: endpoints.slackBotToken } : undefined;
                case "azure_blob": return endpoints.azureBlob ? { host: endpoints.azureBlob } : undefined;
                case "bigquery": return endpoints.bigquery ? { extra: { project: endpoints.bigquery } } : undefined;
                case "filesystem": return { extra: { path: "/opt/airflow/landing" } };
                default: return undefined;
            }
        })();
        const role = spec.service === "vault" ? spec.extra?.role : undefined;
        if (role !== undefined && !(String(role) in VAULT_LAYOUT.auth.kubernetes.roles) && !String(role).startsWith("team-")) {
            throw new ContractError(
                `connection ${connId} (used by ${spec.usedBy.join(", ")}): extra.role "${role}" is not a role of config/vault-layout.json ` +
                    `(${Object.keys(VAULT_LAYOUT.auth.kubernetes.roles).join(", ")}, or team-<team>)`,
            );
        }
        if (!base) {
            missing.push(`${connId} (${spec.type} → ${spec.service}, used by ${spec.usedBy.join(", ")})`);
            continue;
        }
        const extra = { ...((base.extra as Record<string, unknown>) ?? {}), ...(spec.extra ?? {}) };
        out[connId] = { conn_type: spec.type, ...base, ...(Object.keys(extra).length ? { extra } : {}) };
    }
    if (missing.length) {
        throw new ContractError(`no platform endpoint can serve these declared connections: ${missing.join("; ")}`);
    }
    return out;
}
