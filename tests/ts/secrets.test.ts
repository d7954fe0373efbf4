/** GeneratedSecret: @pulumi/random values kept as Pulumi secrets, stored in a Kubernetes Secret referenced by name. */
import * as pulumi from "@pulumi/pulumi";
import { GeneratedSecret } from "../../components/secrets";
import { byType, collectSecretsPlaintext, isSecretOutput, RecordedResource, runProgram } from "../../offline/engine";
import { expectNoPlaintextSecrets, expectUniqueLogicalNames } from "./fixtures/components";

describe("GeneratedSecret", () => {
    test("generates, derives and stores keys; every value is a Pulumi secret", async () => {
        let secretOut = false;
        const result = await runProgram(
            async () => {
                const s = new GeneratedSecret("app", {
                    namespace: "ns",
                    secretName: "app-auth",
                    plain: { username: "app" },
                    generate: { password: { length: 20 } },
                    derive: { uri: (g) => pulumi.interpolate`redis://:${g.password}@host:6379/0` },
                });
                secretOut = await isSecretOutput(s.values.password);
                return { name: s.secretName, keys: s.keys };
            },
            { stack: "dev" },
        );
        expect(secretOut).toBe(true);
        expect(result.outputs.name).toBe("app-auth");
        expect(result.outputs.keys.sort()).toEqual(["password", "uri", "username"]);
        const [password] = byType(result.resources, "random:index/randomPassword:RandomPassword");
        expect(password.inputs).toMatchObject({ length: 20, special: false });
        const [secret] = byType(result.resources, "kubernetes:core/v1:Secret");
        expect(secret.inputs.stringData.uri).toBe(`redis://:${password.state.result}@host:6379/0`);
        expect(secret.inputs.metadata).toEqual({ name: "app-auth", namespace: "ns" });
        expectNoPlaintextSecrets(result);
    });

    test("values supplied from config are wrapped as secrets too", async () => {
        const result = await runProgram(
            () => {
                new GeneratedSecret("hook", { namespace: "ns", secretName: "hook", provided: { url: "https://hooks.example.com/T000/SECRETVALUE" } });
            },
            { stack: "dev" },
        );
        expect(collectFromSecret(result.resources)).toBe("https://hooks.example.com/T000/SECRETVALUE");
        const leaks = collectSecretsPlaintext(result.resources, ["https://hooks.example.com/T000/SECRETVALUE"]);
        expect(leaks).toEqual([]);
    });

    test("two instances derive distinct child names", async () => {
        const result = await runProgram(
            () => {
                new GeneratedSecret("a", { namespace: "ns", secretName: "a", generate: { k: {} } });
                new GeneratedSecret("b", { namespace: "ns", secretName: "b", generate: { k: {} } });
            },
            { stack: "dev" },
        );
        expectUniqueLogicalNames(result.resources);
        expect(byType(result.resources, "random:index/randomPassword:RandomPassword").map((r) => r.name).sort()).toEqual(["a-k", "b-k"]);
    });
});

function collectFromSecret(resources: RecordedResource[]): string {
    return byType(resources, "kubernetes:core/v1:Secret")[0].inputs.stringData.url;
}
