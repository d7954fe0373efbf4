/**
 * Pure pieces of the Platform composition: cross-component config checks (each error names the
 * keys involved), topic and service-account derivations, and the Airflow connections written to
 * Vault. No Pulumi resources here.
 */
import type { StackConfig } from "../../config/schema";
import type { TopicInput } from "./kafka";
import { AIRFLOW_PROFILE } from "./airflowProfile";
import { vaultAddress } from "./vault";
import { k8sName } from "./naming";

const HOUR_MS = 3_600_000;

/**
 * The Platform's own wiring check, the one config rule that needs the component's name: with vault.install the
 * address must be the in-cluster service the Vault component creates. Every other cross-section rule is in
 * config/rules.ts and runs when the stack config is parsed.
 */
export function platformConfigProblems(config: StackConfig, componentNames: { vault: string }): string[] {
    if (config.vault.enabled && config.vault.install) {
        const expected = vaultAddress(k8sName(componentNames.vault), config.kubernetes.namespace);
        if (config.vault.address.replace(/\/$/, "") !== expected) {
            return [`vault.address: with vault.install: true the in-cluster address is ${expected} (got ${config.vault.address})`];
        }
    }
    return [];
}

export function isDeadLetterTopic(topic: string): boolean {
    return /[-.]dlq$/.test(topic);
}

/** KafkaTopic inputs from the kafka section: retention is explicit, dead-letter topics keep longer. */
export function topicsFromConfig(kafka: StackConfig["kafka"]): TopicInput[] {
    return kafka.topics.map((name) => ({
        name,
        partitions: kafka.partitions,
        retentionMs: (isDeadLetterTopic(name) ? kafka.deadLetterRetentionHours : kafka.retentionHours) * HOUR_MS,
        deadLetter: isDeadLetterTopic(name),
    }));
}

/**
 * Service accounts the official Airflow chart creates for the components that read secrets
 * (`<fullname>-<component>`; fullname is the release name when it contains "airflow").
 */
export function airflowServiceAccounts(release: string): string[] {
    const fullname = release.includes("airflow") ? release : `${release}-airflow`;
    return ["scheduler", "worker", "triggerer", "api-server", "dag-processor"].map((c) => `${fullname}-${c}`);
}

/** The `postgres_default` connection (database warehouse) in Airflow's JSON form. */
export function postgresConnection(host: string, port: number, password: string, sslmode: string, database = "warehouse"): Record<string, unknown> {
    return { conn_type: "postgres", host, port, login: database, password, schema: database, extra: { sslmode } };
}

/** The `redis_default` connection, on its database of the Airflow profile (config/airflow-profile.json `redisDatabases`). */
export function redisConnection(host: string, port: number, password: string): Record<string, unknown> {
    return { conn_type: "redis", host, port, password, extra: { db: AIRFLOW_PROFILE.redisDatabases.redis_default } };
}

/** The `aws_default` connection: no keys, the IRSA role supplies credentials. */
export function awsConnection(region: string): Record<string, unknown> {
    return { conn_type: "aws", extra: { region_name: region } };
}

/** A topic the DAGs declare in their needs.yaml (contract TopicNeed). */
export interface DagTopic {
    name: string;
    partitions: number;
    retention_ms: number;
    dead_letter_for?: string;
}

/**
 * The topics to create: the stack's kafka.topics plus every topic the DAGs declare. A DAG's
 * declaration sets partitions and retention for its topic; a dead-letter topic must name a topic
 * that exists.
 */
export function mergeTopics(fromConfig: TopicInput[], fromDags: readonly DagTopic[]): TopicInput[] {
    const byName = new Map(fromConfig.map((t) => [t.name, t]));
    for (const t of fromDags) {
        byName.set(t.name, { name: t.name, partitions: t.partitions, retentionMs: t.retention_ms, deadLetter: t.dead_letter_for !== undefined });
    }
    for (const t of fromDags) {
        if (t.dead_letter_for !== undefined && !byName.has(t.dead_letter_for)) {
            throw new Error(`dags needs.yaml topics: "${t.name}" is the dead-letter topic of "${t.dead_letter_for}", which no DAG or kafka.topics declares`);
        }
    }
    return [...byName.values()];
}

/**
 * Airflow Variables written to Vault: the environment name plus every variable the DAGs declare in
 * needs.yaml. Non-string values are stored as JSON text (Variable.get(..., deserialize_json=True)).
 */
export function airflowVariables(environment: string, dagVariables: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = { environment };
    for (const [name, value] of Object.entries(dagVariables)) {
        if (name === "environment") throw new Error(`dags needs.yaml variables: "environment" is set by the platform; rename the DAG's variable`);
        out[name] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return out;
}
