/**
 * Another team's program reusing one component on its own: it imports only components/kafka (and
 * its values), not the Platform or this repo's config, and gets a working, namespaced Kafka with its
 * own topics and outputs. A second program does the same with Postgres for its own databases.
 */
import * as pulumi from "@pulumi/pulumi";
import { byType, collectSecretsPlaintext, runProgram } from "../../offline/engine";

describe("reuse of a single component", () => {
    test("a team program builds only Kafka with its own topics and exports the bootstrap address", async () => {
        const result = await runProgram(async () => {
            // What the other team writes in its own index.ts:
            const { Kafka } = await import("../../components/kafka");
            const events = new Kafka("payments-events", {
                namespace: "payments",
                replicas: 3,
                storageGi: 50,
                installOperator: false, // the cluster already runs Strimzi
                topics: [{ name: "payments.settled", partitions: 12, retentionMs: 30 * 86_400_000, deadLetterRetentionMs: 90 * 86_400_000 }],
            });
            return { bootstrap: events.bootstrapServers, topics: events.topicNames };
        }, { stack: "payments-prod" });
        expect(result.outputs).toEqual({
            bootstrap: "payments-events-kafka-bootstrap.payments.svc.cluster.local:9092",
            topics: ["payments.settled", "payments.settled.dlq"],
        });
        const types = new Set(result.resources.map((r) => r.type));
        // Nothing of the Airflow platform comes along.
        expect([...types].filter((t) => /Platform|Airflow|helm\.sh/.test(t))).toEqual([]);
        expect(byType(result.resources, "kubernetes:kafka.strimzi.io/v1:KafkaTopic")).toHaveLength(2);
    });

    test("a team program builds only Postgres for its own databases; passwords stay secret", async () => {
        const result = await runProgram(async () => {
            const { Postgres } = await import("../../components/postgres");
            const db = new Postgres("reporting-db", { namespace: "reporting", mode: "cnpg", databases: ["reports", "dashboards"], instances: 3, storageGi: 20, installOperator: false });
            return { host: db.host, secrets: pulumi.output(db.databases).apply((d) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v.secretName]))) };
        }, { stack: "reporting" });
        expect(result.outputs.host).toBe("reporting-db-rw.reporting.svc.cluster.local");
        expect(result.outputs.secrets).toEqual({ reports: "reporting-db-reports-db", dashboards: "reporting-db-dashboards-db" });
        expect(collectSecretsPlaintext(result.resources, result.generatedSecrets)).toEqual([]);
        expect(result.resources.some((r) => r.type === "airflow-platform:index:Platform")).toBe(false);
    });
});
