/** docs/config-reference.md documents exactly the keys the schema accepts (no missing, no stale rows). */
import * as fs from "fs";
import * as path from "path";
import { configKeyPaths, secretKeyNames } from "../../config/keys";
import { SECTION_NAMES } from "../../config/schema";

const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "config-reference.md"), "utf8");
/** First cell of each table row: | `key.path` | ... */
const documentedRows = [...doc.matchAll(/^\| `([A-Za-z0-9_.]+)` \|/gm)].map((m) => m[1]);

test("every config key of every section has a row", () => {
    const schemaPaths = configKeyPaths();
    expect(schemaPaths).toEqual(expect.arrayContaining(["airflow.replicas.scheduler", "postgres.rds.multiAz", "aws.buckets.logs"]));
    const leafOrSection = schemaPaths.filter((p) => !SECTION_NAMES.includes(p as never));
    const undocumented = leafOrSection.filter((p) => !documentedRows.includes(p) && !schemaPaths.some((q) => q.startsWith(`${p}.`) && documentedRows.includes(q)));
    expect(undocumented).toEqual([]);
    // Leaves must have their own row (objects may be covered by their children's rows).
    const leaves = schemaPaths.filter((p) => !schemaPaths.some((q) => q.startsWith(`${p}.`)));
    expect(leaves.filter((p) => !documentedRows.includes(p))).toEqual([]);
});

test("no row documents a key the schema does not accept", () => {
    const known = new Set([...configKeyPaths(), ...secretKeyNames()]);
    expect(documentedRows.filter((row) => !known.has(row))).toEqual([]);
    for (const secret of secretKeyNames()) {
        expect(documentedRows).toContain(secret);
    }
});
