/**
 * The module graph of the package and its offline tools: nothing outside tests/ imports from tests/, and no two
 * modules import each other, directly or through others (type-only imports count: they couple the files as much).
 */
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../offline/engine";

const SOURCE_ROOTS = ["index.ts", "components", "config", "offline", "scripts", "bench", "policy", "tests/ts"];
const IMPORT = /^\s*(?:import|export)\b[^'"]*?from\s+["'](\.{1,2}\/[^"']+)["']|^\s*import\s+["'](\.{1,2}\/[^"']+)["']/gm;

function tsFiles(entry: string): string[] {
    const full = path.join(REPO_ROOT, entry);
    if (!fs.existsSync(full)) return [];
    if (fs.statSync(full).isFile()) return [full];
    return fs.readdirSync(full, { withFileTypes: true }).flatMap((d) =>
        d.name === "node_modules" ? [] : d.isDirectory() ? tsFiles(path.join(entry, d.name)) : d.name.endsWith(".ts") && !d.name.endsWith(".d.ts") ? [path.join(full, d.name)] : [],
    );
}

function resolve(from: string, specifier: string): string | undefined {
    const base = path.resolve(path.dirname(from), specifier);
    return [base, `${base}.ts`, path.join(base, "index.ts")].find((candidate) => candidate.endsWith(".ts") && fs.existsSync(candidate));
}

/** file → the repository .ts files it imports (relative specifiers only; packages are leaves). */
export function importGraph(files: string[]): Map<string, string[]> {
    const graph = new Map<string, string[]>();
    for (const file of files) {
        const targets = [...fs.readFileSync(file, "utf8").matchAll(IMPORT)]
            .map((m) => resolve(file, m[1] ?? m[2]))
            .filter((t): t is string => t !== undefined);
        graph.set(file, [...new Set(targets)]);
    }
    return graph;
}

/** Every cycle, each as the path of files around it (Tarjan's strongly connected components of size > 1, or a self-import). */
export function cycles(graph: Map<string, string[]>): string[][] {
    let index = 0;
    const order = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], onStack = new Set<string>();
    const found: string[][] = [];
    const visit = (node: string): void => {
        order.set(node, index), low.set(node, index++), stack.push(node), onStack.add(node);
        for (const next of graph.get(node) ?? []) {
            if (!order.has(next)) {
                visit(next);
                low.set(node, Math.min(low.get(node)!, low.get(next)!));
            } else if (onStack.has(next)) {
                low.set(node, Math.min(low.get(node)!, order.get(next)!));
            }
        }
        if (low.get(node) === order.get(node)) {
            const component: string[] = [];
            let member: string;
            do {
                member = stack.pop()!;
                onStack.delete(member);
                component.push(member);
            } while (member !== node);
            if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
        }
    };
    for (const node of graph.keys()) if (!order.has(node)) visit(node);
    return found;
}

const relative = (file: string): string => path.relative(REPO_ROOT, file);
const graph = importGraph(SOURCE_ROOTS.flatMap(tsFiles));

test("the graph covers the package, its tools and the tests", () => {
    expect(graph.size).toBeGreaterThan(80);
    expect([...graph.keys()].map(relative)).toEqual(expect.arrayContaining(["index.ts", "offline/engine.ts", "scripts/synth.ts", "config/rules.ts"]));
    // A multi-line import and a type-only one are both edges.
    expect(graph.get(path.join(REPO_ROOT, "config/load.ts"))!.map(relative)).toEqual(expect.arrayContaining(["config/rules.ts", "config/schema.ts"]));
    expect(graph.get(path.join(REPO_ROOT, "scripts/manifests.ts"))!.map(relative)).toContain("offline/engine.ts");
});

test("nothing outside tests/ imports from tests/", () => {
    const offenders = [...graph].flatMap(([file, targets]) =>
        relative(file).startsWith("tests/") ? [] : targets.filter((t) => relative(t).startsWith("tests/")).map((t) => `${relative(file)} → ${relative(t)}`),
    );
    expect(offenders).toEqual([]);
});

test("there are no import cycles", () => {
    expect(cycles(graph).map((c) => c.map(relative).join(" ⇄ "))).toEqual([]);
});

test("the cycle finder finds a two-file and a three-file cycle, and not a diamond", () => {
    const g = new Map<string, string[]>([
        ["a", ["b"]], ["b", ["a"]],
        ["c", ["d"]], ["d", ["e"]], ["e", ["c"]],
        ["w", ["x", "y"]], ["x", ["z"]], ["y", ["z"]], ["z", []],
    ]);
    expect(cycles(g)).toEqual([["a", "b"], ["c", "d", "e"]]);
});
