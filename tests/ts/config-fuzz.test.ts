/**
 * Hostile stack config: every key of every stack file, mutated four ways — a value of the wrong type, the key
 * missing, an unknown key beside it, an out-of-range number — must be refused by parseStackConfig with a ConfigError
 * whose problems are one line each and name the key (or the object holding it). Never another kind of error, never
 * a silently accepted value.
 */
import { ConfigError, parseStackConfig } from "../../config/load";
import { readStackSections } from "../../offline/engine";

type KeyPath = (string | number)[];

function nodes(value: unknown, path: KeyPath = []): [KeyPath, unknown][] {
    const here: [KeyPath, unknown][] = path.length ? [[path, value]] : [];
    if (Array.isArray(value)) return [...here, ...value.flatMap((v, i) => nodes(v, [...path, i]))];
    if (value !== null && typeof value === "object") return [...here, ...Object.entries(value).flatMap(([k, v]) => nodes(v, [...path, k]))];
    return here;
}

function formatPath(path: KeyPath): string {
    return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${p}`)).join("");
}

function edit(sections: Record<string, unknown>, path: KeyPath, change: (parent: any, key: string | number) => void): Record<string, unknown> {
    const copy = structuredClone(sections);
    const parent = path.slice(0, -1).reduce((o: any, k) => o[k], copy);
    change(parent, path[path.length - 1]);
    return copy;
}

function wrongType(value: unknown): unknown {
    if (value === null) return 12345;
    if (Array.isArray(value)) return { bogus: 1 };
    switch (typeof value) {
        case "string": return 12345;
        case "number": return "not-a-number";
        case "boolean": return "yes";
        default: return ["bogus"];
    }
}

/** "" when the config is refused as it should be, else what went wrong. */
function judge(stack: string, sections: Record<string, unknown>, path: KeyPath): string {
    try {
        parseStackConfig(stack, sections);
        return "accepted";
    } catch (e) {
        if (!(e instanceof ConfigError)) return `threw ${(e as Error).name}: ${(e as Error).message.split("\n")[0]}`;
        if (e.problems.some((p) => p.includes("\n"))) return `a problem spans lines: ${JSON.stringify(e.problems)}`;
        const names = [path, path.slice(0, -1), path.slice(0, -2)].filter((p) => p.length).map(formatPath);
        return e.problems.some((p) => names.some((n) => p.startsWith(`${n}:`) || p.startsWith(`${n}.`) || p.startsWith(`${n}[`))) ? "" : `problems name another key: ${e.problems.join(" | ")}`;
    }
}

const STACKS = ["dev", "staging", "prod"] as const;

describe.each(STACKS)("stack %s", (stack) => {
    const sections = readStackSections(stack);
    const all = nodes(sections);

    test("the stack file itself is valid, and has many keys to mutate", () => {
        expect(() => parseStackConfig(stack, sections)).not.toThrow();
        expect(all.length).toBeGreaterThan(100);
    });

    test("a value of the wrong type is refused, naming the key", () => {
        const findings = all.map(([path, value]) => [formatPath(path), judge(stack, edit(sections, path, (o, k) => (o[k] = wrongType(value))), path)]);
        expect(findings.filter(([, f]) => f)).toEqual([]);
    });

    test("a missing key is refused, naming it", () => {
        // Entries of a record (teams: name → settings) are the user's own names: leaving one out is a smaller stack.
        const records = new Set(["teams"]);
        const keys = all.filter(([path]) => typeof path[path.length - 1] === "string" && !(path.length === 2 && records.has(String(path[0]))));
        expect(keys.length).toBeGreaterThan(50);
        const findings = keys.map(([path]) => [formatPath(path), judge(stack, edit(sections, path, (o, k) => delete o[k]), path)]);
        expect(findings.filter(([, f]) => f)).toEqual([]);
    });

    test("an unknown key is refused, naming it", () => {
        const objects = all.filter(([, v]) => v !== null && typeof v === "object" && !Array.isArray(v));
        const findings = objects.map(([path]) => {
            const target = [...path, "bogusKey"];
            return [formatPath(target), judge(stack, edit(sections, path, (o, k) => (o[k] = { ...o[k], bogusKey: 1 })), target)];
        });
        expect(findings.filter(([, f]) => f)).toEqual([]);
    });

    test("a negative number is refused, naming the key", () => {
        const numbers = all.filter(([, v]) => typeof v === "number");
        expect(numbers.length).toBeGreaterThan(10);
        const findings = numbers.map(([path]) => [formatPath(path), judge(stack, edit(sections, path, (o, k) => (o[k] = -1)), path)]);
        expect(findings.filter(([, f]) => f)).toEqual([]);
    });
});
