/**
 * Kafka through Strimzi: the operator chart, a KRaft Kafka cluster with one dual-role node pool,
 * and a KafkaTopic per topic (dead-letter topics included), each with explicit retention.
 * Outputs the bootstrap address and the Airflow `kafka_default` connection.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as kv from "./values/kafka";
import { k8sName } from "./values/naming";
import { ChartSource, chartLocation } from "./values/charts";
import { checkArgs } from "./errors";

export interface KafkaArgs {
    /** Where the Helm chart comes from: its repository at the pinned version (default) or a folder of local tarballs. */
    chartSource?: ChartSource;
    /** Namespace of the Kafka cluster, its node pool and its topics (and of the operator, when installed). */
    namespace: pulumi.Input<string>;
    /** Brokers (each also a KRaft controller: one dual-role node pool); also each topic's replication factor, capped at 3. */
    replicas: number;
    /** Persistent volume size of each broker, in GiB. */
    storageGi: number;
    /** The topics to create, each with its retention; `deadLetterRetentionMs` adds its `<name>.dlq` topic. */
    topics: kv.TopicInput[];
    /** Install the Strimzi operator chart. Default `true`; `false` when the cluster already runs Strimzi 1.2 (one operator per cluster). */
    installOperator?: boolean;
}

/** A Strimzi Kafka cluster in KRaft mode with its topics. */
export class Kafka extends pulumi.ComponentResource {
    /** `host:port` of the plain listener inside the cluster (`<name>-kafka-bootstrap.<namespace>.svc.cluster.local:9092`). */
    public readonly bootstrapServers: pulumi.Output<string>;
    /** The Strimzi cluster name (the `strimzi.io/cluster` label a KafkaTopic of this cluster carries). */
    public readonly clusterName: string;
    /** The `kafka_default` connection (JSON form) for Airflow's secrets backend. */
    public readonly airflowConnection: pulumi.Output<Record<string, unknown>>;
    /** Every topic name created, dead-letter topics included. */
    public readonly topicNames: string[];

    constructor(name: string, args: KafkaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:Kafka", name, {}, opts);
        checkArgs("Kafka", name, "topics", (label) => kv.validateTopics(label, args.topics));
        const child = { parent: this };
        const clusterName = k8sName(name);
        this.clusterName = clusterName;
        const ns = pulumi.output(args.namespace);
        const input = (n: string) => ({ name: clusterName, namespace: n, replicas: args.replicas, storageSize: `${args.storageGi}Gi` });

        const operator =
            args.installOperator === false
                ? undefined
                : new k8s.helm.v4.Chart(
                      `${name}-strimzi`,
                      {
                          ...chartLocation(kv.STRIMZI_CHART, args.chartSource),
                          namespace: args.namespace,
                          values: ns.apply((n) => kv.strimziOperatorValues([n])),
                      },
                      {
                          ...child,
                          // The chart's CRDs, as the API server stores them (a `properties: {}` it drops would be a
                          // perpetual diff). Transforms reach the objects helm.v4.Chart renders, inside the provider.
                          transforms: [
                              (t) =>
                                  t.type === "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
                                      ? { props: { ...t.props, spec: kv.withoutEmptyProperties(t.props.spec) }, opts: t.opts }
                                      : undefined,
                          ],
                      },
                  );
        const after = { ...child, dependsOn: operator ? [operator] : [] };
        const pool = new k8s.apiextensions.CustomResource(
            `${name}-nodepool`,
            { apiVersion: kv.STRIMZI_API, kind: "KafkaNodePool", ...fields(ns.apply((n) => kv.kafkaNodePool(input(n)))) },
            after,
        );
        const cluster = new k8s.apiextensions.CustomResource(
            `${name}-cluster`,
            { apiVersion: kv.STRIMZI_API, kind: "Kafka", ...fields(ns.apply((n) => kv.kafkaCluster(input(n)))) },
            { ...after, dependsOn: [...(operator ? [operator] : []), pool] },
        );
        const topicManifests = kv.kafkaTopics(clusterName, "", args.replicas, args.topics);
        this.topicNames = topicManifests.map((t) => (t.spec as { topicName: string }).topicName);
        topicManifests.forEach((t, i) => {
            new k8s.apiextensions.CustomResource(
                `${name}-topic-${k8sName(this.topicNames[i])}`,
                { apiVersion: kv.STRIMZI_API, kind: "KafkaTopic", ...fields(ns.apply((n) => kv.kafkaTopics(clusterName, n, args.replicas, args.topics)[i])) },
                { ...child, dependsOn: [cluster] },
            );
        });
        this.bootstrapServers = ns.apply((n) => kv.bootstrapServers(clusterName, n));
        this.airflowConnection = this.bootstrapServers.apply((b) => kv.kafkaAirflowConnection(b));
        this.registerOutputs({ bootstrapServers: this.bootstrapServers, topicNames: this.topicNames });
    }
}

export interface KafkaTopicsArgs {
    /** Namespace of the Kafka cluster (KafkaTopics must live in their cluster's namespace). */
    namespace: pulumi.Input<string>;
    /** Strimzi name of the existing cluster (`Kafka.clusterName`, or a platform stack's `kafka.clusterName` output). */
    clusterName: pulumi.Input<string>;
    /** Replication factor of each topic. Default `3`. */
    replicas?: number;
    /** The topics, each with its retention; `deadLetterRetentionMs` adds its `<name>.dlq` topic. */
    topics: kv.TopicInput[];
}

/**
 * Topics on a Kafka cluster this program does not own, such as the platform stack's (read its `kafka.clusterName`
 * and `namespace` through a StackReference): one KafkaTopic each, the same resources `Kafka` creates for its own topics.
 */
export class KafkaTopics extends pulumi.ComponentResource {
    /** Every topic name created, dead-letter topics included. */
    public readonly topicNames: string[];

    constructor(name: string, args: KafkaTopicsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:KafkaTopics", name, {}, opts);
        checkArgs("KafkaTopics", name, "topics", (label) => kv.validateTopics(label, args.topics));
        const replicas = args.replicas ?? 3;
        const manifests = pulumi.all([args.clusterName, args.namespace]).apply(([c, n]) => kv.kafkaTopics(c, n, replicas, args.topics));
        this.topicNames = kv.kafkaTopics("cluster", "", replicas, args.topics).map((t) => (t.spec as { topicName: string }).topicName);
        this.topicNames.forEach((topic, i) => {
            new k8s.apiextensions.CustomResource(
                `${name}-${k8sName(topic)}`,
                { apiVersion: kv.STRIMZI_API, kind: "KafkaTopic", ...fields(manifests.apply((m) => m[i])) },
                { parent: this },
            );
        });
        this.registerOutputs({ topicNames: this.topicNames });
    }
}

/** metadata + spec of a manifest as CustomResource inputs. */
function fields(manifest: pulumi.Output<Record<string, unknown>>): { metadata: pulumi.Output<k8s.types.input.meta.v1.ObjectMeta>; spec: pulumi.Output<Record<string, unknown>> } {
    return {
        metadata: manifest.apply((m) => m.metadata as k8s.types.input.meta.v1.ObjectMeta),
        spec: manifest.apply((m) => m.spec as Record<string, unknown>),
    };
}
