/** Kafka component: Strimzi operator chart, KRaft Kafka + KafkaNodePool, topics with DLQs, Airflow connection. */
import { Kafka, KafkaArgs } from "../../components/kafka";
import { withoutEmptyProperties } from "../../components/values/kafka";
import { byType, getResource, runProgram } from "../../offline/engine";
import { expectNoDuplicates, expectUniqueLogicalNames, kubernetesIdentities } from "./fixtures/components";
import { crdValidator, errorsOf } from "./fixtures/schemas";

const args: KafkaArgs = {
    namespace: "af",
    replicas: 3,
    storageGi: 20,
    topics: [
        { name: "orders", partitions: 6, retentionMs: 7 * 86400000, deadLetterRetentionMs: 14 * 86400000 },
        { name: "events.raw", partitions: 3, retentionMs: 86400000 },
    ],
};

describe("Kafka", () => {
    test("operator chart 1.2.0, then v1 Kafka, KafkaNodePool and topics that validate against the CRDs", async () => {
        const r = await runProgram(() => {
            const k = new Kafka("bus", args);
            return { bootstrap: k.bootstrapServers, conn: k.airflowConnection, topics: k.topicNames };
        }, { stack: "dev" });
        const chart = getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "bus-strimzi").inputs;
        expect(chart).toMatchObject({ chart: "oci://quay.io/strimzi-helm/strimzi-kafka-operator", version: "1.2.0" });
        expect(chart.values.watchNamespaces).toEqual(["af"]);
        const kafka = getResource(r.resources, "kubernetes:kafka.strimzi.io/v1:Kafka", "bus-cluster").inputs;
        expect(errorsOf(crdValidator("strimzi/040-Crd-kafka.yaml", "v1"), kafka)).toBe("");
        const pool = getResource(r.resources, "kubernetes:kafka.strimzi.io/v1:KafkaNodePool", "bus-nodepool").inputs;
        expect(errorsOf(crdValidator("strimzi/045-Crd-kafkanodepool.yaml", "v1"), pool)).toBe("");
        expect(pool.spec.replicas).toBe(3);
        const topics = byType(r.resources, "kubernetes:kafka.strimzi.io/v1:KafkaTopic");
        expect(topics.map((t) => t.inputs.spec.topicName).sort()).toEqual(["events.raw", "orders", "orders.dlq"]);
        for (const t of topics) {
            expect(errorsOf(crdValidator("strimzi/043-Crd-kafkatopic.yaml", "v1"), t.inputs)).toBe("");
            expect(t.inputs.metadata.labels["strimzi.io/cluster"]).toBe("bus");
            expect(t.inputs.metadata.namespace).toBe("af");
        }
        expect(topics.find((t) => t.inputs.spec.topicName === "orders.dlq")!.inputs.spec.config["retention.ms"]).toBe(14 * 86400000);
        expect(r.outputs.bootstrap).toBe("bus-kafka-bootstrap.af.svc.cluster.local:9092");
        expect(r.outputs.conn).toMatchObject({ conn_type: "kafka", extra: { "bootstrap.servers": r.outputs.bootstrap } });
        expect(r.outputs.topics).toEqual(["orders", "orders.dlq", "events.raw"]);
    });

    test("no v1beta2 resource anywhere", async () => {
        const r = await runProgram(() => void new Kafka("bus", args), { stack: "dev" });
        expect(r.resources.filter((x) => x.type.includes("v1beta2"))).toEqual([]);
    });

    test("a topic without retention is refused, naming the component and its arg", async () => {
        await expect(
            runProgram(() => void new Kafka("bus", { ...args, topics: [{ name: "x", partitions: 1, retentionMs: 0 }] }), { stack: "dev" }),
        ).rejects.toThrow(/^Kafka "bus": topics\[0\]\.retentionMs: expected a positive integer/);
    });

    test("two clusters in one stack don't collide", async () => {
        const r = await runProgram(() => {
            new Kafka("bus-a", args);
            new Kafka("bus-b", { ...args, installOperator: false });
        }, { stack: "dev" });
        expectUniqueLogicalNames(r.resources);
        expectNoDuplicates(kubernetesIdentities(r.resources));
        expect(byType(r.resources, "kubernetes:helm.sh/v4:Chart")).toHaveLength(1);
    });
});

describe("Strimzi's CRDs as the API server stores them", () => {
    it("drops every empty properties map and keeps everything else", () => {
        const spec = {
            versions: [{ name: "v1", schema: { openAPIV3Schema: { type: "object", properties: { clusterSecurity: { type: "object", properties: {} }, listeners: { type: "array", items: { properties: { name: { type: "string" } } } } } } } }],
        };
        expect(withoutEmptyProperties(spec)).toEqual({
            versions: [{ name: "v1", schema: { openAPIV3Schema: { type: "object", properties: { clusterSecurity: { type: "object" }, listeners: { type: "array", items: { properties: { name: { type: "string" } } } } } } } }],
        });
        expect(withoutEmptyProperties({ properties: { a: null }, b: [] })).toEqual({ properties: { a: null }, b: [] });
    });
});
