/** The suites run on the project's own Node.js (scripts/install/node.sh via scripts/node-env.sh), not the system's. */
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../offline/engine";

const pinned = /^NODE_VERSION=(\S+)$/m.exec(fs.readFileSync(path.join(REPO_ROOT, "scripts/install/node.sh"), "utf8"))?.[1];

test("jest runs on the pinned Node, which meets @pulumi/pulumi's and the package's engines", () => {
    expect(pinned).toMatch(/^22\.\d+\.\d+$/);
    expect(process.version).toBe(`v${pinned}`); // run through ./platform test, or `source scripts/node-env.sh` first
    const pulumiEngines = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "node_modules/@pulumi/pulumi/package.json"), "utf8")).engines?.node as string;
    const ours = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).engines.node as string;
    for (const range of [pulumiEngines, ours]) {
        const minimum = Number(/>=\s*(\d+)/.exec(range)?.[1]);
        expect(Number(pinned!.split(".")[0])).toBeGreaterThanOrEqual(minimum);
    }
    expect(ours).toBe(">=22");
});
