/**
 * An event platform for one team, built from three airflow-platform components: a Postgres database, a Kafka
 * cluster with the team's topics, and Redis. Each component is imported from its own entry point, so nothing of
 * Airflow, Vault or AWS is loaded. Settings come from this stack's own config (Pulumi.dev.yaml).
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { Kafka } from "airflow-platform/kafka";
import { Postgres } from "airflow-platform/postgres";
import { Redis } from "airflow-platform/redis";

interface TopicConfig {
    name: string;
    partitions: number;
    retentionDays: number;
    deadLetterRetentionDays?: number;
}

const DAY_MS = 86_400_000;
const config = new pulumi.Config();
const namespaceName = config.require("namespace");
const topics = config.requireObject<TopicConfig[]>("topics");

const namespace = new k8s.core.v1.Namespace("events", { metadata: { name: namespaceName } });
const inNamespace = { dependsOn: [namespace] };

const db = new Postgres("events-db", {
    namespace: namespace.metadata.name,
    mode: "statefulset",
    databases: ["events"],
    instances: 1,
    storageGi: 10,
}, inNamespace);

const bus = new Kafka("events", {
    namespace: namespace.metadata.name,
    replicas: config.requireNumber("kafkaReplicas"),
    storageGi: 20,
    installOperator: config.getBoolean("installStrimzi") ?? true,
    topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitions,
        retentionMs: t.retentionDays * DAY_MS,
        ...(t.deadLetterRetentionDays !== undefined ? { deadLetterRetentionMs: t.deadLetterRetentionDays * DAY_MS } : {}),
    })),
}, inNamespace);

const cache = new Redis("events-cache", { namespace: namespace.metadata.name, storageGi: 1, persistence: "rdb" }, inNamespace);

export const kafkaBootstrap = bus.bootstrapServers;
export const kafkaTopics = bus.topicNames;
export const postgresHost = db.host;
/** The Secret (username, password, connection) a workload mounts; the password itself never leaves the cluster. */
export const eventsDatabaseSecret = db.databases.events.secretName;
export const redisSecret = cache.secretName;
