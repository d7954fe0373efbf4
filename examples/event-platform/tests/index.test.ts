/**
 * The event platform under Pulumi's mock engine: the program runs offline with this stack's config, every resource
 * it registers is recorded, and the tests check what the three components create and what the stack exports.
 */
import * as pulumi from "@pulumi/pulumi";
// The package's own mock helper: mocked inputs keep Pulumi's secret markers; the tests read the values inside.
import { stripSecretMarkers as unsecret } from "airflow-platform/testing";

interface Registered { type: string; name: string; inputs: any; custom: boolean }
const registered: Registered[] = [];

pulumi.runtime.setMocks(
    {
        newResource: (args) => {
            registered.push({ type: args.type, name: args.name, inputs: unsecret(args.inputs), custom: args.custom ?? false });
            // A generated password's `result`, as @pulumi/random would return it.
            const state = args.type === "random:index/randomPassword:RandomPassword" ? { ...args.inputs, result: `mock-${args.name}` } : args.inputs;
            return { id: `${args.name}-id`, state };
        },
        call: (args) => args.inputs,
    },
    "event-platform",
    "dev",
    false,
);
pulumi.runtime.setAllConfig({
    "event-platform:namespace": "events-test",
    "event-platform:kafkaReplicas": "3",
    "event-platform:installStrimzi": "false",
    "event-platform:topics": JSON.stringify([
        { name: "orders", partitions: 3, retentionDays: 7, deadLetterRetentionDays: 30 },
        { name: "payments", partitions: 6, retentionDays: 14 },
    ]),
});

const value = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply(resolve));
const ofType = (type: string) => registered.filter((r) => r.type === type);

describe("event platform from the packed airflow-platform package", () => {
    let program: typeof import("../index");
    beforeAll(async () => {
        program = await import("../index");
        await value(program.kafkaBootstrap);
    });

    test("exports the endpoints and Secret names other workloads use", async () => {
        expect(await value(program.kafkaBootstrap)).toBe("events-kafka-bootstrap.events-test.svc.cluster.local:9092");
        expect(await value(pulumi.output(program.kafkaTopics))).toEqual(["orders", "orders.dlq", "payments"]);
        expect(await value(program.postgresHost)).toBe("events-db.events-test.svc.cluster.local");
        expect(await value(program.eventsDatabaseSecret)).toBe("events-db-events-db");
        expect(await value(program.redisSecret)).toBe("events-cache-auth");
    });

    test("the three components and only them: no Airflow, Vault or AWS", () => {
        const components = registered.filter((r) => !r.custom && r.type.startsWith("airflow-platform:")).map((r) => r.type);
        expect(new Set(components)).toEqual(new Set([
            "airflow-platform:platform:Postgres", "airflow-platform:platform:Kafka", "airflow-platform:platform:Redis",
            "airflow-platform:platform:GeneratedSecret",
        ]));
        expect(registered.filter((r) => /^(aws|vault|random:index\/randomBytes)/.test(r.type) || r.type.includes("helm.sh"))).toEqual([]);
    });

    test("Kafka: no operator (installStrimzi false), three brokers, one KafkaTopic per topic with its retention", () => {
        const topics = ofType("kubernetes:kafka.strimzi.io/v1:KafkaTopic");
        expect(topics.map((t) => t.inputs.spec.topicName).sort()).toEqual(["orders", "orders.dlq", "payments"]);
        const dlq = topics.find((t) => t.inputs.spec.topicName === "orders.dlq")!;
        expect(dlq.inputs.spec.config["retention.ms"]).toBe(30 * 86_400_000);
        expect(dlq.inputs.metadata.labels).toMatchObject({ "strimzi.io/cluster": "events", "airflow-platform/dead-letter": "true" });
        expect(ofType("kubernetes:kafka.strimzi.io/v1:KafkaNodePool")[0].inputs.spec.replicas).toBe(3);
    });

    test("Postgres and Redis: StatefulSets in the namespace, passwords only in Secrets", () => {
        const statefulSets = ofType("kubernetes:apps/v1:StatefulSet");
        expect(statefulSets.map((s) => s.inputs.metadata.name).sort()).toEqual(["events-cache", "events-db"]);
        for (const s of statefulSets) expect(s.inputs.metadata.namespace).toBe("events-test");
        expect(JSON.stringify(statefulSets)).not.toMatch(/password"\s*:\s*"[^"]/);
        const dbSecret = ofType("kubernetes:core/v1:Secret").find((s) => s.inputs.metadata.name === "events-db-events-db")!;
        expect(dbSecret.inputs.type).toBe("kubernetes.io/basic-auth");
        expect(Object.keys(dbSecret.inputs.stringData).sort()).toEqual(["connection", "password", "username"]);
        expect(dbSecret.inputs.stringData.connection).toBe("postgresql://events:mock-events-db-events-password@events-db.events-test.svc.cluster.local:5432/events?sslmode=prefer");
    });
});
