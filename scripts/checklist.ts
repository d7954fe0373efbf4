/**
 * The production checklist as code: `npm run checklist -- --stack prod`.
 *
 * Prints the seed's four groups (dags/airflow_usecases.md, "Production Checklist") with every item ✓ or ✗ and
 * its evidence, then the platform rules of the policy pack. DAG items are judged over a real DagBag by
 * `python -m checklist.dag_rules`; infrastructure items over the stack's resources evaluated under the mock
 * engine. An item no rule judges is ✗. Exits non-zero on any ✗ for prod.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { evaluateRules, RuleOutcome } from "../policy/rules";
import { REPO_ROOT, runStack } from "../tests/ts/harness";

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

export async function evaluateChecklist(stack: string, dagResults?: DagRuleResult[]): Promise<ChecklistItem[]> {
    const run = await runStack(stack);
    const infra = evaluateRules({
        stack,
        resources: run.resources.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs })),
        rawResources: run.resources.map((r) => ({ type: r.type, name: r.name, inputs: r.rawInputs })),
        secretPlaintexts: run.generatedSecrets,
    });
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
