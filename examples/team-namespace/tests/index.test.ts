/**
 * The team stack under Pulumi's mock engine. The StackReference returns outputs shaped like the platform stack's
 * dev outputs; the tests check that the team's namespace, Vault connection, pool Job and topics target them.
 */
import * as pulumi from "@pulumi/pulumi";
// The package's own mock helper: mocked inputs keep Pulumi's secret markers; the tests read the values inside.
import { stripSecretMarkers as unsecret } from "airflow-platform/testing";
import type { PlatformOutputValues } from "airflow-platform/platform";
import type * as Program from "../index";

const PLATFORM: Partial<PlatformOutputValues> = {
    namespace: "airflow-dev",
    airflowRelease: "platform-airflow",
    airflow: { image: "registry.example.com/airflow@sha256:" + "a".repeat(64), metadataSecretName: "platform-airflow-metadata" },
    kafka: { bootstrapServers: "platform-kafka-kafka-bootstrap.airflow-dev.svc.cluster.local:9092", clusterName: "platform-kafka", topics: ["orders"] },
    vault: { address: "http://platform-vault.airflow-dev.svc.cluster.local:8200", mount: "airflow", policies: [] },
};

interface Registered { type: string; name: string; inputs: any }
const registered: Registered[] = [];
const stackReferences: string[] = [];

pulumi.runtime.setMocks(
    {
        newResource: (args) => {
            if (args.type === "pulumi:pulumi:StackReference") {
                stackReferences.push(args.inputs.name);
                return { id: args.inputs.name, state: { name: args.inputs.name, outputs: { platform: PLATFORM }, secretOutputNames: [] } };
            }
            registered.push({ type: args.type, name: args.name, inputs: unsecret(args.inputs) });
            return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
    },
    "team-namespace",
    "dev",
    false,
);
pulumi.runtime.setAllConfig(
    {
        "team-namespace:platformStack": "my-org/airflow-platform/dev",
        "team-namespace:team": "analytics",
        "team-namespace:api": JSON.stringify({ host: "https://reports.analytics.example.com", login: "airflow" }),
        "team-namespace:poolSlots": "6",
        "team-namespace:vaultToken": "hvs.test-token",
        "team-namespace:apiPassword": "test-api-password",
    },
    ["team-namespace:vaultToken", "team-namespace:apiPassword"],
);

const value = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply(resolve));
const one = (type: string) => {
    const found = registered.filter((r) => r.type === type);
    expect(found).toHaveLength(1);
    return found[0];
};

describe("a team's namespace against the platform stack's outputs", () => {
    let program: typeof Program;
    beforeAll(async () => {
        // A CommonJS require: under `module: node16`, import() stays a native dynamic import, which jest runs only with --experimental-vm-modules.
        program = require("../index") as typeof Program;
        await value(program.connectionPath);
    });

    test("reads the platform stack named in config", () => {
        expect(stackReferences).toEqual(["my-org/airflow-platform/dev"]);
    });

    test("the team's namespace", async () => {
        expect(await value(program.teamNamespace)).toBe("team-analytics");
        expect(one("kubernetes:core/v1:Namespace").inputs.metadata.labels).toEqual({ "airflow-platform/team": "analytics" });
    });

    test("a connection in the platform's Vault KV, where Airflow's secrets backend reads connections", async () => {
        expect(one("pulumi:providers:vault").inputs.address).toBe(PLATFORM.vault!.address);
        const secret = one("vault:kv/secretV2:SecretV2").inputs;
        expect(secret).toMatchObject({ mount: "airflow", name: "connections/analytics_api" });
        expect(JSON.parse(secret.dataJson)).toEqual({ conn_type: "http", host: "https://reports.analytics.example.com", login: "airflow", password: "test-api-password" });
        expect(await value(program.connectionPath)).toBe("airflow/connections/analytics_api");
    });

    test("a pool imported by a Job in Airflow's namespace, with Airflow's image and metadata Secret", async () => {
        expect(await value(pulumi.output(program.poolNames))).toEqual(["analytics_etl"]);
        const job = one("kubernetes:batch/v1:Job").inputs;
        expect(job.metadata.namespace).toBe("airflow-dev");
        const container = job.spec.template.spec.containers[0];
        expect(container.image).toBe(PLATFORM.airflow!.image);
        expect(container.env[0].valueFrom.secretKeyRef).toEqual({ name: "platform-airflow-metadata", key: "connection" });
        const pools = JSON.parse(one("kubernetes:core/v1:ConfigMap").inputs.data["pools.json"]);
        expect(pools).toEqual({ analytics_etl: expect.objectContaining({ slots: 6 }) });
    });

    test("a topic and its dead-letter topic on the platform's Kafka cluster", async () => {
        expect(await value(pulumi.output(program.topicNames))).toEqual(["analytics.events", "analytics.events.dlq"]);
        const topics = registered.filter((r) => r.type === "kubernetes:kafka.strimzi.io/v1:KafkaTopic");
        expect(topics.map((t) => t.inputs.metadata.namespace)).toEqual(["airflow-dev", "airflow-dev"]);
        for (const t of topics) expect(t.inputs.metadata.labels["strimzi.io/cluster"]).toBe("platform-kafka");
    });
});
