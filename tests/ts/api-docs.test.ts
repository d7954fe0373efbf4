/**
 * docs/api/ is generated from the TypeScript by typedoc (typedoc.json, `npm run docs`): regenerated into a temporary
 * folder here and compared file by file, so a change to a component's Args, outputs or JSDoc without `npm run docs`
 * fails with the pages that differ.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../../offline/engine";

function files(dir: string): string[] {
    return fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

test("docs/api is what typedoc generates from the current sources (npm run docs)", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "api-docs-"));
    try {
        execFileSync(path.join(REPO_ROOT, "node_modules", ".bin", "typedoc"), ["--out", out, "--logLevel", "Error"], { cwd: REPO_ROOT, stdio: "pipe" });
        const committed = path.join(REPO_ROOT, "docs", "api");
        expect(files(committed)).toEqual(files(out));
        const stale = files(out).filter((f) => fs.readFileSync(path.join(out, f), "utf8") !== fs.readFileSync(path.join(committed, f), "utf8"));
        expect({ stale, fix: stale.length ? "run npm run docs" : "" }).toEqual({ stale: [], fix: "" });
    } finally {
        fs.rmSync(out, { recursive: true, force: true });
    }
}, 300_000);
