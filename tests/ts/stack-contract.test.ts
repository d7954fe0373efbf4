/**
 * The dependency contract in the real stacks: each stack ships exactly the DAGs it can satisfy (or excludes on
 * purpose), provisions their connections in Vault KV, their topics and pools, and refuses a DAG it can't serve.
 */
import { byType, editConfigObject, getResource, mockSecretConfigValue, runStack, unwrap } from "../../offline/engine";
import { loadManifest } from "../../components/values/contract";
import { FAB_AUTH_MANAGER } from "../../components/pools";

const manifest = loadManifest();

describe.each(["dev", "staging", "prod"])("stack %s", (stack) => {
    let run: Awaited<ReturnType<typeof runStack>>;
    beforeAll(async () => {
        run = await runStack(stack);
    }, 120000);

    test("ships every DAG except the ones excluded on purpose", () => {
        const dags = (run.outputs as any).dags as { shipped: string[]; excluded: string[] };
        expect(dags.shipped.length + dags.excluded.length).toBe(Object.keys(manifest.dags).length);
        expect(dags.excluded).toEqual(
            stack === "dev"
                ? ["phase14_01_dataset_producer", "phase14_02_dataset_consumer", "phase14_03_dataset_patterns", "phase17_01_openlineage", "phase9_03_cloud_integration"]
                : [],
        );
    });

    test("every connection a shipped DAG declares is written to Vault KV", () => {
        const shipped = new Set((run.outputs as any).dags.shipped as string[]);
        const declared = new Set(Object.entries(manifest.dags).filter(([id]) => shipped.has(id)).flatMap(([, n]) => Object.keys(n.connections)));
        const written = new Set(byType(run.resources, "vault:kv/secretV2:SecretV2").map((r) => String(r.inputs.name)).filter((n) => n.startsWith("connections/")).map((n) => n.slice("connections/".length)));
        expect([...declared].filter((c) => !written.has(c))).toEqual([]);
    });

    test("the DAGs' Slack connection is the Web API one: the slackBotToken secret as password, slack.com as base URL", () => {
        const token = mockSecretConfigValue("airflow-platform:slackBotToken");
        const kv = byType(run.resources, "vault:kv/secretV2:SecretV2").map((r) => String(r.inputs.name));
        expect(kv).toContain("connections/slack_api_default");
        expect(kv).not.toContain("connections/slack_webhook_default");
        const conn = JSON.parse(getResource(run.resources, "vault:kv/secretV2:SecretV2", "platform-vault-conn-slack-api-default").inputs.dataJson);
        // No host and no extra.base_url: SlackHook's WebClient then calls https://slack.com/api/.
        expect(conn).toEqual({ conn_type: "slack", password: token });
        // Read with requireSecret: a Pulumi secret from the stack file to Vault KV, so never in plaintext in the state.
        expect(run.generatedSecrets).toContain(token);
    });

    test("the declared pools are imported by a Job running the deployed image", async () => {
        const job = byType(run.resources, "kubernetes:batch/v1:Job").find((r) => r.name.startsWith("platform-pools-import-"));
        expect(job).toBeDefined();
        const spec = await unwrap(job!.inputs.spec);
        expect(spec.template.spec.containers[0].args.slice(0, 3)).toEqual(["bash", "-c", 'airflow pools import /pools/pools.json && exec airflow roles create "$@"']);
        const configMap = byType(run.resources, "kubernetes:core/v1:ConfigMap").find((r) => r.name === "platform-pools-definitions")!;
        const pools = JSON.parse(configMap.inputs.data["pools.json"]);
        expect(pools.phase5_warehouse_pool.slots).toBe(2);
    });

    test("every FAB role a shipped DAG's access_control names is created by the same Job, under the FAB auth manager", async () => {
        const shipped = new Set((run.outputs as any).dags.shipped as string[]);
        const declared = [...new Set(Object.entries(manifest.dags).filter(([id]) => shipped.has(id)).flatMap(([, n]) => n.roles ?? []))].sort();
        expect(declared).toEqual(expect.arrayContaining(["team_security_operator", "tenant_acme"]));
        const job = byType(run.resources, "kubernetes:batch/v1:Job").find((r) => r.name.startsWith("platform-pools-import-"))!;
        const container = (await unwrap(job.inputs.spec)).template.spec.containers[0];
        expect(container.args.slice(container.args.indexOf("--") + 1)).toEqual(declared);
        expect(container.env).toContainEqual({ name: "AIRFLOW__CORE__AUTH_MANAGER", value: FAB_AUTH_MANAGER });
    });

    test("every topic a shipped DAG declares, dead-letter topics included, is a KafkaTopic", () => {
        const shipped = new Set((run.outputs as any).dags.shipped as string[]);
        const declared = Object.entries(manifest.dags).filter(([id]) => shipped.has(id)).flatMap(([, n]) => n.topics.map((t) => t.name));
        expect(declared.length).toBeGreaterThan(0);
        const topics = byType(run.resources, "kubernetes:kafka.strimzi.io/v1:KafkaTopic").map((r) => r.inputs.spec?.topicName ?? r.inputs.metadata?.name);
        expect(declared.filter((t) => !topics.includes(t))).toEqual([]);
    });
});

test("a stack without Kafka can't ship the Kafka DAGs: the error names each DAG and the service", async () => {
    await expect(
        runStack("staging", { mutateConfig: (c) => editConfigObject(c, "kafka", (k) => (k.enabled = false)) }),
    ).rejects.toThrow(/stack staging can't satisfy \d+ DAG\(s\) it ships:\n(.|\n)*phase9_04_message_queues \(dags\/phase9\/needs\.yaml\) needs kafka/);
}, 120000);

test("leaving those DAGs out on purpose makes the same stack valid", async () => {
    const kafkaDags = Object.entries(manifest.dags).filter(([, n]) => n.services.includes("kafka")).map(([id]) => id);
    const run = await runStack("staging", {
        mutateConfig: (c) => {
            editConfigObject(c, "kafka", (k) => (k.enabled = false));
            editConfigObject(c, "dags", (d) => (d.exclude = kafkaDags));
        },
    });
    expect((run.outputs as any).dags.excluded).toEqual([...kafkaDags].sort());
}, 120000);
