/**
 * The TypeScript needs.yaml reader against contract/golden/cases.yaml; tests/contract/test_golden.py runs the same
 * cases through local/contract.py, so the two readers cannot disagree on what a manifest means or how it is refused.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { aggregateNeeds, ContractError, CONNECTION_TYPE_PROVIDERS, loadManifest, NEEDS_SCHEMA_PATH } from "../../components/values/contract";
import { REPO_ROOT } from "../../offline/engine";

interface GoldenCase {
    name: string;
    manifests: Record<string, string>;
    expect: "valid" | { problems: string[] } | { invalid_yaml: true };
}

const golden = yaml.load(fs.readFileSync(path.join(REPO_ROOT, "contract/golden/cases.yaml"), "utf8")) as { cases: GoldenCase[] };

/** What the reader makes of a case: "valid", or the error's problems after the file name, or "invalid_yaml". */
function outcome(manifests: Record<string, string>): "valid" | { problems: string[] } | { invalid_yaml: true } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "golden-"));
    for (const [phase, text] of Object.entries(manifests)) {
        fs.mkdirSync(path.join(dir, phase));
        fs.writeFileSync(path.join(dir, phase, "needs.yaml"), text);
    }
    try {
        const manifest = loadManifest(dir);
        aggregateNeeds(manifest, Object.keys(manifest.dags));
        return "valid";
    } catch (e) {
        if (!(e instanceof ContractError)) throw e;
        const message = e.message.replace(/^.*?needs\.yaml: /, "");
        return message.startsWith("not valid YAML") ? { invalid_yaml: true } : { problems: message.split("; ") };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

test("the golden file has cases of every kind", () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(15);
    expect(golden.cases.filter((c) => c.expect === "valid").length).toBeGreaterThanOrEqual(2);
    expect(new Set(golden.cases.map((c) => c.name)).size).toBe(golden.cases.length);
});

test.each(golden.cases.map((c) => [c.name, c] as const))("%s", (_name, goldenCase) => {
    expect(outcome(goldenCase.manifests)).toEqual(goldenCase.expect);
});

test("the schema's connection types are exactly the ones a provider is known for", () => {
    const schema = JSON.parse(fs.readFileSync(NEEDS_SCHEMA_PATH, "utf8"));
    expect([...schema.$defs.connectionType.enum].sort()).toEqual(Object.keys(CONNECTION_TYPE_PROVIDERS).sort());
});
