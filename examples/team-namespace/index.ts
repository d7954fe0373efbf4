/**
 * A team's corner of the platform, deployed by the team's own stack against the platform stack's outputs
 * (StackReference): its namespace, a connection in the platform's Vault, an Airflow pool and a Kafka topic.
 * The platform stack exports `platform` (PlatformOutputs); `PlatformOutputValues` types what arrives here.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as vault from "@pulumi/vault";
import { KafkaTopics } from "airflow-platform/kafka";
import type { PlatformOutputValues } from "airflow-platform/platform";
import { AirflowPools } from "airflow-platform/pools";
import { CONNECTIONS_PATH } from "airflow-platform/values/vault";

const DAY_MS = 86_400_000;
const config = new pulumi.Config();
const team = config.require("team");
const api = config.requireObject<{ host: string; login: string }>("api");

const platformStack = new pulumi.StackReference(config.require("platformStack"));
const platform = platformStack.requireOutput("platform") as pulumi.Output<PlatformOutputValues>;
const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the platform stack runs no ${what}; this team stack needs it`);
    return value;
};
const platformVault = platform.apply((p) => required(p.vault, "Vault"));
const platformKafka = platform.apply((p) => required(p.kafka, "Kafka"));

// 1. The team's namespace, for its own workloads.
const namespace = new k8s.core.v1.Namespace(`team-${team}`, {
    metadata: { name: `team-${team}`, labels: { "airflow-platform/team": team } },
});

// 2. A connection in the platform's Vault, where Airflow's secrets backend reads it: conn_id `<team>_api`.
const vaultProvider = new vault.Provider("platform-vault", {
    address: platformVault.address,
    token: config.requireSecret("vaultToken"),
    skipChildToken: true,
});
const connId = `${team}_api`;
const connection = new vault.kv.SecretV2(`${team}-api-connection`, {
    mount: platformVault.mount,
    name: `${CONNECTIONS_PATH}/${connId}`,
    dataJson: pulumi.jsonStringify({ conn_type: "http", host: api.host, login: api.login, password: config.requireSecret("apiPassword") }),
}, { provider: vaultProvider });

// 3. An Airflow pool for the team's DAGs, imported by a Job in Airflow's namespace with Airflow's own image.
const pools = new AirflowPools(`${team}-pools`, {
    namespace: platform.namespace,
    pools: { [`${team}_etl`]: config.getNumber("poolSlots") ?? 4 },
    image: platform.airflow.image,
    metadataSecretName: platform.airflow.metadataSecretName,
});

// 4. A topic on the platform's Kafka, with a dead-letter topic.
const topics = new KafkaTopics(`${team}-topics`, {
    namespace: platform.namespace,
    clusterName: platformKafka.clusterName,
    topics: [{ name: `${team}.events`, partitions: 3, retentionMs: 7 * DAY_MS, deadLetterRetentionMs: 30 * DAY_MS }],
});

export const teamNamespace = namespace.metadata.name;
export const connectionPath = pulumi.interpolate`${connection.mount}/${connection.name}`;
export const poolNames = pools.poolNames;
export const topicNames = topics.topicNames;
