/** The mock harness itself: recording, parents, secrets, unwrap, leak detection and run independence. */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import {
    byType,
    childrenOf,
    collectSecretsPlaintext,
    getResource,
    loadStackConfigFile,
    mockSecretConfigValue,
    resourceTree,
    runProgram,
    unwrap,
} from "../../offline/engine";

class Holder extends pulumi.ComponentResource {
    readonly password: pulumi.Output<string>;
    constructor(name: string, leak: boolean, opts?: pulumi.ComponentResourceOptions) {
        super("test:index:Holder", name, {}, opts);
        const password = new random.RandomPassword(`${name}-pw`, { length: 24, special: false }, { parent: this });
        new k8s.core.v1.Secret(`${name}-secret`, { stringData: { password: password.result } }, { parent: this });
        // A ConfigMap is not secret: putting the password here is the leak the checker must find.
        new k8s.core.v1.ConfigMap(`${name}-cm`, { data: { pw: leak ? pulumi.unsecret(password.result) : "nothing" } }, { parent: this });
        this.password = password.result;
        this.registerOutputs({ password: this.password });
    }
}

describe("mock harness", () => {
    test("records resources with parents, gives auto-named objects a name, unwraps secret outputs", async () => {
        const run = await runProgram(
            () => {
                const holder = new Holder("a", false);
                return { password: holder.password, cmName: new k8s.core.v1.ConfigMap("plain", { data: {} }).metadata.name };
            },
            { stack: "dev" },
        );
        const holder = getResource(run.resources, "test:index:Holder", "a");
        expect(childrenOf(run.resources, holder).map((r) => r.name).sort()).toEqual(["a-cm", "a-pw", "a-secret"]);
        expect(run.outputs.cmName).toBe("plain");
        expect(run.outputs.password).toHaveLength(24);
        expect(run.generatedSecrets).toContain(run.outputs.password);
        const secret = getResource(run.resources, "kubernetes:core/v1:Secret", "a-secret");
        expect(secret.inputs.stringData.password).toBe(run.outputs.password);
        expect(collectSecretsPlaintext(run.resources, run.generatedSecrets)).toEqual([]);
        const tree = resourceTree(run.resources);
        expect(tree).toHaveLength(1);
        expect(tree[0].type).toBe("pulumi:pulumi:Stack");
    });

    test("collectSecretsPlaintext finds a secret copied into a non-secret input", async () => {
        const run = await runProgram(() => new Holder("b", true).password, { stack: "dev" });
        const leaks = collectSecretsPlaintext(run.resources, run.generatedSecrets);
        expect(leaks).toEqual([expect.objectContaining({ resource: "kubernetes:core/v1:ConfigMap::b-cm", path: "data.pw" })]);
    });

    test("runs are independent: a second run sees only its own resources and config", async () => {
        const first = await runProgram(() => new Holder("one", false).password, { stack: "dev", config: { "airflow-platform:x": "1" } });
        const second = await runProgram(() => new pulumi.Config().get("x") ?? "unset", { stack: "prod" });
        expect(byType(first.resources, "test:index:Holder")).toHaveLength(1);
        expect(byType(second.resources, "test:index:Holder")).toHaveLength(0);
        expect(second.outputs).toBe("unset");
        expect(pulumi.getStack()).toBe("prod");
    });

    test("unwrap resolves nested outputs, promises and secrets", async () => {
        const run = await runProgram(
            () => ({ nested: { list: [pulumi.output(1), Promise.resolve("p")], secret: pulumi.secret("s3cr3t-value") } }),
            { stack: "dev" },
        );
        expect(run.outputs).toEqual({ nested: { list: [1, "p"], secret: "s3cr3t-value" } });
        expect(await unwrap(pulumi.secret({ a: pulumi.output("b") }))).toEqual({ a: "b" });
    });

    test("stack files: objects JSON-encoded under the project namespace, secure: entries become marked test secrets", () => {
        const prod = loadStackConfigFile("prod");
        expect(JSON.parse(prod.config["airflow-platform:airflow"]).executor).toBe("CeleryExecutor");
        expect(prod.secretKeys).toEqual(expect.arrayContaining(["airflow-platform:gitSyncSshKey", "airflow-platform:vaultToken"]));
        expect(prod.config["airflow-platform:gitSyncSshKey"]).toBe(mockSecretConfigValue("airflow-platform:gitSyncSshKey"));
        // dev holds placeholders for the Alertmanager credentials and the DAGs' Slack bot token only (monitoring is on; Vault runs in dev mode).
        expect(loadStackConfigFile("dev").secretKeys).toEqual([
            "airflow-platform:alertSlackWebhookUrl",
            "airflow-platform:alertPagerdutyRoutingKey",
            "airflow-platform:alertSmtpPassword",
            "airflow-platform:slackBotToken",
        ]);
        expect(() => loadStackConfigFile("qa")).toThrow(/Pulumi\.qa\.yaml does not exist/);
    });

    test("secret config is read back as a secret and counted among the secrets to look for", async () => {
        const run = await runProgram(() => new pulumi.Config().requireSecret("token"), {
            stack: "dev",
            config: { "airflow-platform:token": "tok-1234567890" },
            secretKeys: ["airflow-platform:token"],
        });
        expect(run.outputs).toBe("tok-1234567890");
        expect(run.generatedSecrets).toContain("tok-1234567890");
    });
});
