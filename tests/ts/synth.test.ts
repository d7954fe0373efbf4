/** scripts/synth.ts: argument handling, redaction, and a real offline synth of a stack into a temp dir. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { REDACTED, UsageError, parseArgs, redact, synth } from "../../scripts/synth";

describe("synth arguments", () => {
    test("--stack, --all, --out and --help", () => {
        expect(parseArgs(["--stack", "prod"])).toEqual({ stacks: ["prod"], outDir: expect.stringMatching(/out$/) });
        expect(parseArgs(["--all", "--out", "/tmp/x"])).toEqual({ stacks: ["dev", "staging", "prod"], outDir: "/tmp/x" });
        expect(parseArgs(["--stack=dev,prod", "--stack", "dev"])).toMatchObject({ stacks: ["dev", "prod"] });
        expect(parseArgs(["--help"])).toBe("help");
    });

    test("bad usage names the problem and the valid stacks", () => {
        expect(() => parseArgs([])).toThrow(new UsageError("name a stack with --stack <name> or use --all"));
        expect(() => parseArgs(["--stack", "qa"])).toThrow('unknown stack "qa"; valid stacks are: dev, staging, prod');
        expect(() => parseArgs(["--stak", "dev"])).toThrow('unknown argument "--stak"');
    });
});

describe("redact", () => {
    test("replaces secret-marked values and strings containing a generated secret", () => {
        const marker = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "x" };
        expect(redact({ a: marker, b: ["keep", "uri://u:S3cretValue@h"], c: 1 }, ["S3cretValue"])).toEqual({ a: REDACTED, b: ["keep", REDACTED], c: 1 });
    });
});

describe("synth of a stack", () => {
    test("writes the resource tree and the final Helm values with no secret in them", async () => {
        const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "synth-"));
        const lines: string[] = [];
        const [summary] = await synth({ stacks: ["prod"], outDir }, (line) => lines.push(line));
        const tree = JSON.parse(fs.readFileSync(path.join(outDir, "prod", "resources.json"), "utf8"));
        expect(tree.resourceCount).toBe(summary.resources);
        expect(tree.tree[0].type).toBe("pulumi:pulumi:Stack");
        const valuesText = fs.readFileSync(path.join(outDir, "prod", "values", "platform-airflow.yaml"), "utf8");
        const values = yaml.load(valuesText) as any;
        expect(values.executor).toBe("CeleryExecutor");
        expect(values.fernetKeySecretName).toBe("platform-airflow-fernet-key");
        expect(summary.releases).toContainEqual({ release: "platform-airflow", chart: "airflow", version: "1.22.0", namespace: "airflow-prod" });
        const treeText = fs.readFileSync(path.join(outDir, "prod", "resources.json"), "utf8");
        expect(treeText).toContain(`"stringData": "${REDACTED}"`);
        expect(treeText).not.toMatch(/postgresql:\/\/airflow:[^@[]+@/);
        expect(treeText).not.toContain("mock-secret-");
        expect(lines.join("\n")).toMatch(/resources\s+prod[\s\S]*total\s+\d+[\s\S]*platform-airflow\s+airflow\s+1\.22\.0/);
        fs.rmSync(outDir, { recursive: true, force: true });
    });
});
