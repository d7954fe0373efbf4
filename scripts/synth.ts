/**
 * synth: evaluate a stack offline under the Pulumi mock engine and write what `pulumi up` would create.
 *
 *   npm run synth -- --stack prod          one stack
 *   npm run synth -- --all                 dev, staging and prod (npm run synth:all)
 *   npm run synth -- --stack dev --out /tmp/out
 *
 * For each stack it writes out/<stack>/resources.json (the resource tree with inputs, secrets redacted)
 * and out/<stack>/values/<release>.yaml (each Helm release's final values, secrets redacted), then prints
 * a summary table. It exits non-zero on a configuration error or if any generated secret would reach a
 * resource input in plaintext. No cluster, cloud account or Pulumi CLI is needed.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { STACK_NAMES } from "../config/schema";
import {
    RecordedResource,
    REPO_ROOT,
    RunResult,
    collectSecretsPlaintext,
    editConfigObject,
    isSecretMarker,
    runStack,
} from "../offline/engine";
import { REDACTED, ReleaseSpec, manifestOf, releaseSpec, vaultLayoutOf } from "./manifests";

export { REDACTED };
const HELM_TYPES = new Set(["kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release"]);

const USAGE = `usage: npm run synth -- (--stack <${STACK_NAMES.join("|")}> ... | --all) [--out <dir>] [--charts <dir>]

Evaluates each stack's index.ts under the Pulumi mock engine (offline) and writes
  <out>/<stack>/resources.json        resource tree: type, name, inputs (secrets redacted)
  <out>/<stack>/values/<release>.yaml final Helm values per release (secrets redacted)
  <out>/<stack>/releases.json         each Helm release: name, namespace, chart, version, values file
  <out>/<stack>/objects.yaml          every Kubernetes object the program creates itself (secrets redacted)
  <out>/<stack>/vault-layout.json     the Vault policies and auth roles the stack creates (config/vault-layout.json)
and prints a summary table. <out> defaults to ./out. --charts <dir> evaluates the stacks with
kubernetes.charts set to {source: local, directory: <dir>} (a folder of helm-package tarballs), as the
render tests do (cluster/render.py); the stack files are not changed.
Exit status: 0 ok, 1 configuration or evaluation error or a plaintext secret, 2 bad usage.`;

export interface SynthOptions {
    stacks: string[];
    outDir: string;
    /** Local chart folder that replaces each stack's kubernetes.charts for this run. */
    chartsDir?: string;
}

export function parseArgs(argv: string[]): SynthOptions | "help" {
    const stacks: string[] = [];
    let outDir = path.join(REPO_ROOT, "out");
    let chartsDir: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--help" || arg === "-h") {
            return "help";
        } else if (arg === "--all") {
            stacks.push(...STACK_NAMES);
        } else if (arg === "--stack" || arg === "-s") {
            const value = argv[++i];
            if (!value || value.startsWith("-")) throw new UsageError("--stack needs a stack name");
            stacks.push(...value.split(",").filter(Boolean));
        } else if (arg.startsWith("--stack=")) {
            stacks.push(...arg.slice("--stack=".length).split(",").filter(Boolean));
        } else if (arg === "--out") {
            const value = argv[++i];
            if (!value) throw new UsageError("--out needs a directory");
            outDir = path.resolve(value);
        } else if (arg === "--charts") {
            const value = argv[++i];
            if (!value) throw new UsageError("--charts needs a folder of chart tarballs");
            chartsDir = path.resolve(value);
        } else {
            throw new UsageError(`unknown argument "${arg}"`);
        }
    }
    if (stacks.length === 0) throw new UsageError("name a stack with --stack <name> or use --all");
    const unknown = stacks.filter((s) => !(STACK_NAMES as readonly string[]).includes(s));
    if (unknown.length > 0) throw new UsageError(`unknown stack "${unknown[0]}"; valid stacks are: ${STACK_NAMES.join(", ")}`);
    return { stacks: [...new Set(stacks)], outDir, ...(chartsDir ? { chartsDir } : {}) };
}

export class UsageError extends Error {}

/**
 * Replaces every value Pulumi marks secret, and any string containing a generated secret, with REDACTED.
 * Works on recorded raw inputs, where secrets are still marked.
 */
export function redact(value: unknown, secrets: string[]): unknown {
    if (isSecretMarker(value)) return REDACTED;
    if (typeof value === "string") return secrets.some((s) => s.length >= 8 && value.includes(s)) ? REDACTED : value;
    if (Array.isArray(value)) return value.map((v) => redact(v, secrets));
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, secrets)]));
    }
    return value;
}

export interface TreeNode {
    type: string;
    name: string;
    inputs?: unknown;
    children: TreeNode[];
}

export function redactedTree(resources: RecordedResource[], secrets: string[]): TreeNode[] {
    const nodes = new Map<string, TreeNode>();
    for (const r of resources) {
        const inputs = redact(r.rawInputs, secrets) as Record<string, unknown>;
        // Helm values go to their own file; the tree points there instead of repeating them.
        if (HELM_TYPES.has(r.type) && inputs && "values" in inputs) inputs.values = `see values/${releaseName(r)}.yaml`;
        nodes.set(r.urn, { type: r.type, name: r.name, ...(r.custom || HELM_TYPES.has(r.type) ? { inputs } : {}), children: [] });
    }
    const roots: TreeNode[] = [];
    for (const r of resources) {
        const parent = r.parentUrn ? nodes.get(r.parentUrn) : undefined;
        (parent ? parent.children : roots).push(nodes.get(r.urn)!);
    }
    return roots;
}

export function releaseName(r: RecordedResource): string {
    return String(r.inputs?.name ?? r.name);
}

export interface StackSummary {
    stack: string;
    resources: number;
    byCategory: Record<string, number>;
    releases: Array<{ release: string; chart: string; version: string; namespace: string }>;
    elapsedMs: number;
}

/** Category of a resource type for the summary: package, or "component" for ComponentResources. */
export function category(r: RecordedResource): string {
    if (r.type === "pulumi:pulumi:Stack") return "stack";
    if (HELM_TYPES.has(r.type)) return "helm";
    if (!r.custom) return "component";
    return r.type.split(":")[0];
}

export function summarize(result: RunResult<unknown>): StackSummary {
    const byCategory: Record<string, number> = {};
    for (const r of result.resources) {
        const c = category(r);
        byCategory[c] = (byCategory[c] ?? 0) + 1;
    }
    const releases = result.resources
        .filter((r) => HELM_TYPES.has(r.type))
        .map((r) => ({
            release: releaseName(r),
            chart: String(r.inputs.chart ?? ""),
            version: String(r.inputs.version ?? ""),
            namespace: String(r.inputs.namespace ?? ""),
        }));
    return { stack: result.stack, resources: result.resources.length, byCategory, releases, elapsedMs: result.elapsedMs };
}

/** Writes out/<stack>/resources.json and values/<release>.yaml; returns the files written. */
export function writeStack(result: RunResult<unknown>, outDir: string): string[] {
    const dir = path.join(outDir, result.stack);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, "values"), { recursive: true });
    const written: string[] = [];
    const treeFile = path.join(dir, "resources.json");
    const tree = { stack: result.stack, resourceCount: result.resources.length, tree: redactedTree(result.resources, result.generatedSecrets) };
    fs.writeFileSync(treeFile, `${JSON.stringify(tree, null, 2)}\n`);
    written.push(treeFile);
    const releases: ReleaseSpec[] = [];
    for (const r of result.resources.filter((x) => HELM_TYPES.has(x.type))) {
        const values = redact((r.rawInputs as Record<string, unknown>).values ?? {}, result.generatedSecrets);
        const file = path.join(dir, "values", `${releaseName(r)}.yaml`);
        const header = `# ${releaseName(r)}: chart ${r.inputs.chart} ${r.inputs.version ?? ""} (stack ${result.stack}); secrets shown as ${REDACTED}\n`;
        fs.writeFileSync(file, header + yaml.dump(values, { noRefs: true, lineWidth: 140, sortKeys: false }));
        written.push(file);
        releases.push(releaseSpec(r, path.relative(dir, file)));
    }
    const releasesFile = path.join(dir, "releases.json");
    fs.writeFileSync(releasesFile, `${JSON.stringify(releases, null, 2)}\n`);
    const objects = result.resources
        .map((r) => manifestOf(r, redact(r.rawInputs, result.generatedSecrets) as Record<string, unknown>))
        .filter((m): m is Record<string, unknown> => m !== undefined);
    const objectsFile = path.join(dir, "objects.yaml");
    fs.writeFileSync(objectsFile, objects.map((o) => yaml.dump(o, { noRefs: true, lineWidth: -1, sortKeys: false })).join("---\n"));
    written.push(releasesFile, objectsFile);
    const layout = vaultLayoutOf(result.resources);
    if (layout) {
        const layoutFile = path.join(dir, "vault-layout.json");
        fs.writeFileSync(layoutFile, `${JSON.stringify(layout, null, 2)}\n`);
        written.push(layoutFile);
    }
    return written;
}

function table(rows: string[][]): string {
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    // Columns of numbers are right-aligned (header included), text columns left-aligned.
    const numeric = rows[0].map((_, c) => rows.slice(1).every((r) => /^\d+(\.\d+)?$/.test(r[c])));
    const line = (r: string[]) => r.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join("  ").trimEnd();
    return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

export function summaryTable(summaries: StackSummary[]): string {
    const categories = [...new Set(summaries.flatMap((s) => Object.keys(s.byCategory)))].sort();
    const resourceRows = [
        ["resources", ...summaries.map((s) => s.stack)],
        ...categories.map((c) => [c, ...summaries.map((s) => String(s.byCategory[c] ?? 0))]),
        ["total", ...summaries.map((s) => String(s.resources))],
        ["eval ms", ...summaries.map((s) => s.elapsedMs.toFixed(0))],
    ];
    const releaseRows = [["stack", "release", "chart", "version", "namespace"]];
    for (const s of summaries) {
        for (const r of s.releases) releaseRows.push([s.stack, r.release, r.chart, r.version, r.namespace]);
    }
    return `${table(resourceRows)}\n\n${table(releaseRows)}`;
}

export async function synth(options: SynthOptions, log: (line: string) => void = console.log): Promise<StackSummary[]> {
    const summaries: StackSummary[] = [];
    for (const stack of options.stacks) {
        const chartsDir = options.chartsDir;
        const result = await runStack(stack, {
            mutateConfig: chartsDir ? (c) => editConfigObject(c, "kubernetes", (k) => (k.charts = { source: "local", directory: chartsDir })) : undefined,
        });
        const leaks = collectSecretsPlaintext(result.resources, result.generatedSecrets);
        if (leaks.length > 0) {
            throw new Error(`stack ${stack}: generated secrets in plaintext at ${leaks.map((l) => `${l.resource} ${l.path}`).join("; ")}`);
        }
        const files = writeStack(result, options.outDir);
        const outputs = result.outputs as { dags?: { shipped: string[]; excluded: string[] }; imageRequirements?: string };
        if (outputs.dags && outputs.imageRequirements) {
            // What the stack ships of the DAG library, and the pinned requirements its image is built from.
            const dir = path.join(options.outDir, stack);
            fs.writeFileSync(path.join(dir, "dags.json"), `${JSON.stringify(outputs.dags, null, 2)}\n`);
            fs.writeFileSync(path.join(dir, "requirements.txt"), outputs.imageRequirements);
            files.push(path.join(dir, "dags.json"), path.join(dir, "requirements.txt"));
        }
        log(`${stack}: wrote ${files.map((f) => path.relative(process.cwd(), f)).join(", ")}`);
        if (outputs.dags) {
            log(`${stack}: ships ${outputs.dags.shipped.length} DAGs; excluded on purpose: ${outputs.dags.excluded.join(", ") || "none"}`);
        }
        summaries.push(summarize(result));
    }
    log("");
    log(summaryTable(summaries));
    return summaries;
}

async function main(): Promise<number> {
    let options: SynthOptions | "help";
    try {
        options = parseArgs(process.argv.slice(2));
    } catch (err) {
        if (err instanceof UsageError) {
            console.error(`synth: ${err.message}\n\n${USAGE}`);
            return 2;
        }
        throw err;
    }
    if (options === "help") {
        console.log(USAGE);
        return 0;
    }
    try {
        await synth(options);
        return 0;
    } catch (err) {
        console.error(`synth: ${err instanceof Error ? err.message : String(err)}`);
        return 1;
    }
}

if (require.main === module) {
    main().then((code) => process.exit(code));
}
