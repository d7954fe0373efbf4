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

export interface KafkaArgs {
    /** Where the Helm chart comes from: its repository at the pinned version (default) or a folder of local tarballs. */
    chartSource?: ChartSource;
    namespace: pulumi.Input<string>;
    replicas: number;
    storageGi: number;
    topics: kv.TopicInput[];
    /** Install the Strimzi operator chart (false when the cluster already runs Strimzi 1.2). */
    installOperator?: boolean;
}

export class Kafka extends pulumi.ComponentResource {
    public readonly bootstrapServers: pulumi.Output<string>;
    /** The `kafka_default` connection (JSON form) for Airflow's secrets backend. */
    public readonly airflowConnection: pulumi.Output<Record<string, unknown>>;
    /** Every topic name created, dead-letter topics included. */
    public readonly topicNames: string[];

    constructor(name: string, args: KafkaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:Kafka", name, {}, opts);
        kv.validateTopics("kafka.topics", args.topics);
        const child = { parent: this };
        const clusterName = k8sName(name);
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

/** metadata + spec of a manifest as CustomResource inputs. */
function fields(manifest: pulumi.Output<Record<string, unknown>>): { metadata: pulumi.Output<k8s.types.input.meta.v1.ObjectMeta>; spec: pulumi.Output<Record<string, unknown>> } {
    return {
        metadata: manifest.apply((m) => m.metadata as k8s.types.input.meta.v1.ObjectMeta),
        spec: manifest.apply((m) => m.spec as Record<string, unknown>),
    };
}
