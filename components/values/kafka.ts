/**
 * Pure builders for the Kafka component: Strimzi operator values, the Kafka CR (KRaft, node
 * pools), the KafkaNodePool, the KafkaTopics (each with explicit retention, dead-letter topics
 * included) and the Airflow connection for apache-airflow-providers-apache-kafka.
 * Strimzi 1.2.0 serves only kafka.strimzi.io/v1.
 */
import { k8sName, serviceHost } from "./naming";
import { RESTRICTED_CONTAINER, resources, restrictedPod, SIZES } from "./security";

export const STRIMZI_API = "kafka.strimzi.io/v1";
export const STRIMZI_CHART = {
    chart: "strimzi-kafka-operator",
    version: "1.2.0",
    repo: "oci://quay.io/strimzi-helm/strimzi-kafka-operator",
};
/** Kafka version run by Strimzi 1.2.0 by default. */
export const KAFKA_VERSION = "4.3.1";
export const KAFKA_PLAIN_PORT = 9092;
/** Suffix of a topic's dead-letter topic. */
export const DLQ_SUFFIX = ".dlq";

/** One Kafka topic. */
export interface TopicInput {
    /** Topic name (letters, digits, `.`, `_`, `-`). */
    name: string;
    /** Number of partitions (at least 1). */
    partitions: number;
    /** Required: every topic states how long it keeps data. */
    retentionMs: number;
    /** When set, a dead-letter topic `<name>.dlq` is created with this retention. */
    deadLetterRetentionMs?: number;
    /** This topic is itself a dead-letter topic (labelled so). */
    deadLetter?: boolean;
}

export interface KafkaClusterInput {
    name: string;
    namespace: string;
    replicas: number;
    storageSize: string;
    version?: string;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Checks topics (names, retention, partitions, no duplicates once DLQs are added); errors name the key. */
export function validateTopics(key: string, topics: readonly TopicInput[]): void {
    const seen = new Set<string>();
    topics.forEach((t, i) => {
        const at = `${key}[${i}]`;
        if (!TOPIC_NAME.test(t.name)) throw new Error(`${at}.name: "${t.name}" is not a valid Kafka topic name`);
        if (!Number.isInteger(t.retentionMs) || t.retentionMs <= 0) {
            throw new Error(`${at}.retentionMs: expected a positive integer (milliseconds), got ${t.retentionMs}`);
        }
        if (!Number.isInteger(t.partitions) || t.partitions < 1) {
            throw new Error(`${at}.partitions: expected an integer >= 1, got ${t.partitions}`);
        }
        if (t.deadLetterRetentionMs !== undefined && (!Number.isInteger(t.deadLetterRetentionMs) || t.deadLetterRetentionMs <= 0)) {
            throw new Error(`${at}.deadLetterRetentionMs: expected a positive integer (milliseconds), got ${t.deadLetterRetentionMs}`);
        }
        for (const name of t.deadLetterRetentionMs !== undefined ? [t.name, t.name + DLQ_SUFFIX] : [t.name]) {
            if (seen.has(name)) throw new Error(`${at}.name: topic "${name}" is declared twice`);
            seen.add(name);
        }
    });
}

export function strimziOperatorValues(watchNamespaces: string[]): Record<string, unknown> {
    return {
        replicas: 1,
        watchAnyNamespace: false,
        watchNamespaces,
        defaultImageRegistry: "quay.io",
        defaultImageRepository: "strimzi",
        podSecurityContext: restrictedPod(),
        securityContext: RESTRICTED_CONTAINER,
        resources: resources(SIZES.operator),
    };
}

/** Replication settings that keep a cluster of `replicas` brokers writable with one broker down. */
function replication(replicas: number): { factor: number; minIsr: number } {
    const factor = Math.min(3, replicas);
    return { factor, minIsr: Math.max(1, factor - 1) };
}

export function kafkaCluster(input: KafkaClusterInput): Record<string, unknown> {
    const { factor, minIsr } = replication(input.replicas);
    return {
        apiVersion: STRIMZI_API,
        kind: "Kafka",
        metadata: { name: input.name, namespace: input.namespace },
        spec: {
            kafka: {
                version: input.version ?? KAFKA_VERSION,
                listeners: [
                    { name: "plain", port: KAFKA_PLAIN_PORT, type: "internal", tls: false },
                    { name: "tls", port: 9093, type: "internal", tls: true },
                ],
                config: {
                    "offsets.topic.replication.factor": factor,
                    "transaction.state.log.replication.factor": factor,
                    "transaction.state.log.min.isr": minIsr,
                    "default.replication.factor": factor,
                    "min.insync.replicas": minIsr,
                    // Topics come only from KafkaTopic resources, so every topic has a declared retention.
                    "auto.create.topics.enable": false,
                },
            },
            entityOperator: {
                topicOperator: { resources: resources(SIZES.entityOperator) },
                userOperator: { resources: resources(SIZES.entityOperator) },
                template: {
                    pod: { securityContext: restrictedPod() },
                    topicOperatorContainer: { securityContext: RESTRICTED_CONTAINER },
                    userOperatorContainer: { securityContext: RESTRICTED_CONTAINER },
                },
            },
        },
    };
}

/** One node pool running both KRaft roles (controller + broker) on persistent volumes. */
export function kafkaNodePool(input: KafkaClusterInput): Record<string, unknown> {
    return {
        apiVersion: STRIMZI_API,
        kind: "KafkaNodePool",
        metadata: { name: k8sName(input.name, "dual"), namespace: input.namespace, labels: { "strimzi.io/cluster": input.name } },
        spec: {
            replicas: input.replicas,
            roles: ["controller", "broker"],
            resources: resources(SIZES.kafka),
            template: { pod: { securityContext: restrictedPod() }, kafkaContainer: { securityContext: RESTRICTED_CONTAINER } },
            storage: {
                type: "jbod",
                volumes: [{ id: 0, type: "persistent-claim", size: input.storageSize, deleteClaim: false, kraftMetadata: "shared" }],
            },
        },
    };
}

/** KafkaTopic CRs: each topic and, where asked, its dead-letter topic; retention always explicit. */
export function kafkaTopics(clusterName: string, namespace: string, replicas: number, topics: readonly TopicInput[]): Record<string, unknown>[] {
    const { factor } = replication(replicas);
    const one = (topicName: string, partitions: number, retentionMs: number, deadLetter: boolean) => ({
        apiVersion: STRIMZI_API,
        kind: "KafkaTopic",
        metadata: {
            name: k8sName(clusterName, topicName),
            namespace,
            labels: { "strimzi.io/cluster": clusterName, ...(deadLetter ? { "airflow-platform/dead-letter": "true" } : {}) },
        },
        spec: {
            topicName,
            partitions,
            replicas: factor,
            config: { "retention.ms": retentionMs, "cleanup.policy": "delete" },
        },
    });
    return topics.flatMap((t) => [
        one(t.name, t.partitions, t.retentionMs, t.deadLetter ?? false),
        ...(t.deadLetterRetentionMs !== undefined ? [one(t.name + DLQ_SUFFIX, t.partitions, t.deadLetterRetentionMs, true)] : []),
    ]);
}

export function bootstrapServers(clusterName: string, namespace: string): string {
    return `${serviceHost(`${clusterName}-kafka-bootstrap`, namespace)}:${KAFKA_PLAIN_PORT}`;
}

/** The `kafka_default` connection in the JSON form Airflow's secrets backends accept. */
export function kafkaAirflowConnection(bootstrap: string, groupId = "airflow"): Record<string, unknown> {
    return {
        conn_type: "kafka",
        extra: { "bootstrap.servers": bootstrap, "group.id": groupId, "security.protocol": "PLAINTEXT", "auto.offset.reset": "earliest" },
    };
}

/**
 * A CRD as the API server stores it: an empty `properties: {}` in an openAPIV3Schema is dropped on write. Strimzi's
 * kafkas CRD declares `clusterSecurity: {type: object, properties: {}}`, so without this every preview would propose
 * to put the empty map back and every `pulumi up` would update the CRD again.
 */
export function withoutEmptyProperties<T>(value: T): T {
    if (Array.isArray(value)) return value.map(withoutEmptyProperties) as T;
    if (value === null || typeof value !== "object") return value;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
        const emptyProperties = key === "properties" && child !== null && typeof child === "object" && !Array.isArray(child) && Object.keys(child).length === 0;
        if (!emptyProperties) out[key] = withoutEmptyProperties(child);
    }
    return out as T;
}
