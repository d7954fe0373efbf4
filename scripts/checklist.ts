/**
 * The production checklist as code: `npm run checklist -- --stack prod`.
 *
 * Prints the seed's four groups (dags/airflow_usecases.md, "Production Checklist") with every item ✓ or ✗ and
 * its evidence, then the platform rules of the policy pack. DAG items are judged over a real DagBag by
 * `python -m checklist.dag_rules`; infrastructure items over what the stack would apply: its non-Kubernetes
 * resources (AWS, Vault, random, components) from the mock engine, and every Kubernetes object from the real
 * render (`python -m cluster.render`: each Helm release through `helm template`, plus the program's own objects),
 * named as a live preview names them. An item no rule judges is ✗. Exits non-zero on any ✗ for prod.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { evaluateRules, PolicyResource, RuleOutcome } from "../policy/rules";
import { RecordedResource, REPO_ROOT, runStack } from "../offline/engine";

export const STACKS = ["dev", "staging", "prod"] as const;

export interface ChecklistItem {
    group: string;
    item: string;
    ok: boolean;
    evidence: string[];
    waived: string[];
}

interface DagRuleResult {
    item: string;
    group: string;
    ok: boolean;
    evidence: string[];
    waived?: string[];
}

/** The seed's checklist: group heading → items, in the catalogue's order. */
export function seedChecklist(markdown: string): { group: string; items: string[] }[] {
    const section = markdown.split(/^## Production Checklist\s*$/m)[1];
    if (!section) throw new Error("dags/airflow_usecases.md has no '## Production Checklist' section");
    const groups: { group: string; items: string[] }[] = [];
    for (const line of section.split("\n")) {
        const heading = /^### (.+?)(\s*\(.*\))?\s*$/.exec(line);
        if (heading) groups.push({ group: heading[1].trim(), items: [] });
        const item = /^- \[[ x]\] (.+)$/.exec(line.trim());
        if (item && groups.length) groups[groups.length - 1].items.push(item[1].trim());
    }
    return groups;
}

/** Seed items that infrastructure rules judge too (both must pass). */
export const INFRA_FOR_ITEM: Record<string, string[]> = {
    "Secrets backend configured (Vault/AWS/GCP)": ["secrets-backend"],
    "Audit logging enabled": ["audit-logging"],
    "OpenLineage integration active": ["openlineage"],
};

export function mergeChecklist(seed: { group: string; items: string[] }[], dagResults: DagRuleResult[], infra: RuleOutcome[]): ChecklistItem[] {
    const byItem = new Map(dagResults.map((r) => [r.item, r]));
    const byRule = new Map(infra.map((r) => [r.id, r]));
    const merged: ChecklistItem[] = [];
    for (const { group, items } of seed) {
        for (const item of items) {
            const judges: { ok: boolean; evidence: string[]; waived: string[] }[] = [];
            const dag = byItem.get(item);
            if (dag) judges.push({ ok: dag.ok, evidence: dag.evidence, waived: dag.waived ?? [] });
            for (const id of INFRA_FOR_ITEM[item] ?? []) {
                const rule = byRule.get(id);
                judges.push(rule ?? { ok: false, evidence: [`infrastructure rule ${id} did not run`], waived: [] });
            }
            if (!judges.length) {
                merged.push({ group, item, ok: false, evidence: ["no rule judges this item"], waived: [] });
                continue;
            }
            merged.push({
                group,
                item,
                ok: judges.every((j) => j.ok),
                evidence: judges.flatMap((j) => j.evidence),
                waived: judges.flatMap((j) => j.waived),
            });
        }
    }
    // DAG rules outside the seed's list (e.g. import errors) still count.
    const seedItems = new Set(seed.flatMap((g) => g.items));
    for (const r of dagResults.filter((d) => !seedItems.has(d.item))) merged.push({ group: r.group, item: r.item, ok: r.ok, evidence: r.evidence, waived: r.waived ?? [] });
    for (const r of infra) merged.push({ group: "Platform rules (policy pack)", item: r.title, ok: r.ok, evidence: r.evidence, waived: r.waived });
    return merged;
}

export function runDagRules(python = path.join(REPO_ROOT, ".venv", "bin", "python")): DagRuleResult[] {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "checklist-")), "dag-rules.json");
    try {
        execFileSync(python, ["-m", "checklist.dag_rules", "--json", out], { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] });
    } catch (e) {
        // exit 1 means some rule failed, which the JSON says; anything else is a crash
        if (!fs.existsSync(out)) throw new Error(`checklist.dag_rules crashed: ${(e as { stderr?: Buffer }).stderr?.toString().slice(-2000)}`);
    }
    return JSON.parse(fs.readFileSync(out, "utf8")) as DagRuleResult[];
}

// ------------------------------------------------------------------------------------------- rendered objects
export const RENDER_DIR = path.join(REPO_ROOT, "out", "render");

/** The resource type a live preview gives an object: `kubernetes:core/v1:Secret`, `kubernetes:kafka.strimzi.io/v1:Kafka`. */
export function kubeType(apiVersion: string, kind: string): string {
    return `kubernetes:${apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`}:${kind}`;
}

/** What a stack's objects are rendered from: a render older than any of these is stale. */
function newestSource(stack: string): { file: string; mtime: number } {
    let newest = { file: "", mtime: 0 };
    const visit = (p: string) => {
        if (!fs.existsSync(p)) return;
        const st = fs.statSync(p);
        if (st.isDirectory()) {
            for (const e of fs.readdirSync(p)) if (e !== "node_modules" && !e.startsWith(".")) visit(path.join(p, e));
        } else if (st.mtimeMs > newest.mtime) {
            newest = { file: path.relative(REPO_ROOT, p), mtime: st.mtimeMs };
        }
    };
    for (const p of ["Pulumi.yaml", `Pulumi.${stack}.yaml`, "index.ts", "components", "config", "helm-values"]) visit(path.join(REPO_ROOT, p));
    return newest;
}

/**
 * out/render/<stack>/rendered/, rendered again (`python -m cluster.render --stack <stack>`, about 20 s) when it is
 * missing or older than the stack's sources.
 */
export function ensureRender(stack: string, options: { renderDir?: string; python?: string; log?: (m: string) => void } = {}): string {
    const dir = path.join(options.renderDir ?? RENDER_DIR, stack, "rendered");
    const log = options.log ?? ((m: string) => console.error(m));
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")) : [];
    const oldest = files.length ? Math.min(...files.map((f) => fs.statSync(path.join(dir, f)).mtimeMs)) : 0;
    const source = newestSource(stack);
    const why = !files.length ? `${path.relative(REPO_ROOT, dir)} is missing` : source.mtime > oldest ? `${source.file} is newer than the render` : "";
    if (!why) return dir;
    log(`checklist: ${why}; rendering stack ${stack} (python -m cluster.render --stack ${stack}, about 20 s)...`);
    const python = options.python ?? path.join(REPO_ROOT, ".venv", "bin", "python");
    const args = ["-m", "cluster.render", "--stack", stack];
    if (options.renderDir) args.push("--out", options.renderDir);
    try {
        execFileSync(python, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
        const err = e as { stdout?: Buffer; stderr?: Buffer };
        throw new Error(`cluster.render --stack ${stack} failed: ${`${err.stdout ?? ""}${err.stderr ?? ""}`.slice(-3000)}`);
    }
    return dir;
}

interface ReleaseEntry {
    resource: string;
    release: string;
}

/**
 * Every object of out/render/<stack>/rendered/*.yaml (hooks.yaml excepted: helm.v4.Chart skips hooks) as the
 * resource a live preview registers: type from apiVersion/kind, inputs = the manifest, and the name helm.v4.Chart
 * gives its children (`<chart resource>:<namespace>/<name>`). The program's own objects (program.yaml) take the name
 * of the program resource that creates them, found among `programResources` (the mock run) by type, namespace and name.
 */
export function renderedResources(dir: string, programResources: PolicyResource[] = []): PolicyResource[] {
    const releasesFile = path.join(dir, "..", "releases.json");
    const releases: ReleaseEntry[] = fs.existsSync(releasesFile) ? JSON.parse(fs.readFileSync(releasesFile, "utf8")) : [];
    const chartResource = new Map(releases.map((r) => [r.release, r.resource]));
    const key = (type: string, m: any) => `${type}|${m?.metadata?.namespace ?? ""}|${m?.metadata?.name ?? ""}`;
    const programNames = new Map(programResources.filter((r) => r.type.startsWith("kubernetes:")).map((r) => [key(r.type, r.inputs), r.name]));
    const out: PolicyResource[] = [];
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "hooks.yaml").sort()) {
        const origin = file.replace(/\.yaml$/, "");
        for (const doc of yaml.loadAll(fs.readFileSync(path.join(dir, file), "utf8"))) {
            const m = doc as any;
            if (!m || typeof m !== "object" || !m.apiVersion || !m.kind) continue;
            const type = kubeType(String(m.apiVersion), String(m.kind));
            const objectName = `${m.metadata?.namespace ? `${m.metadata.namespace}/` : ""}${m.metadata?.name ?? "?"}`;
            const name = origin === "program"
                ? programNames.get(key(type, m)) ?? String(m.metadata?.name ?? "?")
                : `${chartResource.get(origin) ?? origin}:${objectName}`;
            out.push({ type, name, inputs: m });
        }
    }
    return out;
}

/** A mock-run resource the render stands in for: a Kubernetes object (not a Helm/YAML component). */
const isKubeObject = (type: string) => type.startsWith("kubernetes:") && !/^kubernetes:(helm\.sh|yaml|kustomize)\//.test(type);

/** The rule context of a stack: the mock run's other resources plus the rendered Kubernetes objects. */
export function policyContext(stack: string, run: { resources: RecordedResource[]; generatedSecrets: string[] }, renderDir: string) {
    const mock = run.resources.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs }));
    const rendered = renderedResources(renderDir, mock);
    // Program objects keep their secret markers from the mock run, so a secret passed as a secret is told apart from a leak.
    const raw = new Map(run.resources.filter((r) => isKubeObject(r.type)).map((r) => [`${r.type}|${r.name}`, r.rawInputs]));
    const others = run.resources.filter((r) => !isKubeObject(r.type));
    return {
        stack,
        resources: [...others.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs })), ...rendered],
        rawResources: [...others.map((r) => ({ type: r.type, name: r.name, inputs: r.rawInputs })), ...rendered.map((r) => ({ ...r, inputs: raw.get(`${r.type}|${r.name}`) ?? r.inputs }))],
        secretPlaintexts: run.generatedSecrets,
    };
}

export async function evaluateChecklist(stack: string, dagResults?: DagRuleResult[]): Promise<ChecklistItem[]> {
    const renderDir = ensureRender(stack);
    const run = await runStack(stack);
    const infra = evaluateRules(policyContext(stack, run, renderDir));
    const seed = seedChecklist(fs.readFileSync(path.join(REPO_ROOT, "dags", "airflow_usecases.md"), "utf8"));
    return mergeChecklist(seed, dagResults ?? runDagRules(), infra);
}

export function render(stack: string, items: ChecklistItem[]): string {
    const lines = [`Production checklist — stack ${stack}`];
    let group = "";
    for (const i of items) {
        if (i.group !== group) {
            group = i.group;
            lines.push("", group);
        }
        lines.push(`  ${i.ok ? "✓" : "✗"} ${i.item}`);
        for (const e of i.evidence) lines.push(`      ${e}`);
        for (const w of i.waived) lines.push(`      ⚠ ${w}`);
    }
    const failed = items.filter((i) => !i.ok).length;
    lines.push("", `${items.length - failed} of ${items.length} items pass${failed ? `; ${failed} fail` : ""}`);
    return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        console.log("usage: npm run checklist -- --stack <dev|staging|prod> [--json FILE]\n\nJudges every production-checklist item with evidence; exits 1 on any ✗ for prod.");
        return 0;
    }
    const at = argv.indexOf("--stack");
    const stack = at >= 0 ? argv[at + 1] : undefined;
    if (!stack || !(STACKS as readonly string[]).includes(stack)) {
        console.error(`--stack must be one of ${STACKS.join(", ")}${stack ? ` (got '${stack}')` : ""}`);
        return 2;
    }
    const items = await evaluateChecklist(stack);
    console.log(render(stack, items));
    const jsonAt = argv.indexOf("--json");
    if (jsonAt >= 0) fs.writeFileSync(argv[jsonAt + 1], JSON.stringify(items, null, 2));
    const failed = items.some((i) => !i.ok);
    return failed && stack === "prod" ? 1 : 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (e) => {
            console.error(e instanceof Error ? e.message : e);
            process.exit(2);
        },
    );
}
