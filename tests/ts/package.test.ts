/**
 * The package other stacks install (issue #20): the exports map covers every component and nothing that does not
 * exist, the stack program (index.ts) imports only public entry points, every child resource is parented under its
 * component, and a component's refusal of its Args is in its own vocabulary until the Platform translates it.
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { byType, REPO_ROOT, runProgram, runStack } from "../../offline/engine";
import { ComponentArgsError, withConfigKeys } from "../../components/errors";
import { CONFIG_KEYS_OF_ARGS } from "../../components/platform";

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
type Entry = { types: string; default: string };
const entries = Object.entries(pkg.exports as Record<string, Entry | string>).filter(([, v]) => typeof v === "object") as [string, Entry][];
/** dist/components/kafka.js → components/kafka.ts */
const sourceOf = (target: string) => target.replace(/^\.\/dist\//, "").replace(/\.js$/, ".ts");

describe("package.json", () => {
    test("one entry point per component, one for the Platform, each pointing at a compiled module of an existing source", () => {
        const components = fs.readdirSync(path.join(REPO_ROOT, "components")).filter((f) => f.endsWith(".ts") && f !== "index.ts").map((f) => f.slice(0, -3));
        for (const c of components) expect(pkg.exports[`./${c}`]).toEqual({ types: `./dist/components/${c}.d.ts`, default: `./dist/components/${c}.js` });
        expect(pkg.exports["./platform"]).toBeDefined();
        for (const [subpath, entry] of entries) {
            if (subpath.includes("*")) continue;
            expect(entry.types).toBe(entry.default.replace(/\.js$/, ".d.ts"));
            expect(fs.existsSync(path.join(REPO_ROOT, sourceOf(entry.default)))).toBe(true);
        }
        // TypeScript's classic `node` resolution ignores "exports": typesVersions gives it the same subpaths.
        for (const [subpath, entry] of entries) {
            if (subpath === ".") continue;
            expect(pkg.typesVersions["*"][subpath.slice(2)]).toEqual([entry.types.slice(2)]);
        }
        expect(pkg.private).toBeUndefined();
        expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
        expect(fs.readFileSync(path.join(REPO_ROOT, "CHANGELOG.md"), "utf8")).toContain(`## ${pkg.version}`);
        expect(pkg.devDependencies.typescript).toMatch(/^5\./);
    });

    test("every data file a component reads at run time is in the package's files", () => {
        const shipped = (rel: string) => (pkg.files as string[]).some((f) => rel === f || (f.endsWith("/") && rel.startsWith(f)));
        for (const rel of ["helm-values/airflow.yaml", "local_settings/airflow_local_settings.py", "contract/needs.schema.json", "image/Dockerfile", "python/requirements.lock"]) {
            expect(fs.existsSync(path.join(REPO_ROOT, rel))).toBe(true);
            expect(shipped(rel)).toBe(true);
        }
        // The JSON a module imports is compiled into dist/ next to it (resolveJsonModule).
        expect(shipped("dist/config/vault-layout.json")).toBe(true);
    });

    test("the examples install the packed tarball of this version", () => {
        for (const example of ["event-platform", "team-namespace"]) {
            const deps = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "examples", example, "package.json"), "utf8")).dependencies;
            expect(deps["airflow-platform"]).toBe(`file:../../airflow-platform-${pkg.version}.tgz`);
        }
    });
});

describe("index.ts, the stack program", () => {
    test("imports only the package's public entry points", () => {
        const text = fs.readFileSync(path.join(REPO_ROOT, "index.ts"), "utf8");
        const specifiers = [...text.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
        expect(specifiers.length).toBeGreaterThan(0);
        const exposed = new Set(entries.map(([, e]) => sourceOf(e.default)));
        for (const s of specifiers) {
            expect(s.startsWith("./")).toBe(true);
            const file = fs.existsSync(path.join(REPO_ROOT, `${s}.ts`)) ? `${s.slice(2)}.ts` : `${s.slice(2)}/index.ts`;
            expect({ import: s, exposed: exposed.has(file) }).toEqual({ import: s, exposed: true });
        }
    });
});

describe("components", () => {
    test("every field of every exported interface (Args, outputs) has JSDoc", () => {
        const undocumented: string[] = [];
        let fields = 0;
        for (const file of fs.readdirSync(path.join(REPO_ROOT, "components")).filter((f) => f.endsWith(".ts"))) {
            const source = ts.createSourceFile(file, fs.readFileSync(path.join(REPO_ROOT, "components", file), "utf8"), ts.ScriptTarget.ES2022, true);
            source.forEachChild((node) => {
                if (!ts.isInterfaceDeclaration(node) || !node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) return;
                for (const member of node.members) {
                    if (!ts.isPropertySignature(member)) continue;
                    fields++;
                    if (ts.getJSDocCommentsAndTags(member).length === 0) undocumented.push(`${file}: ${node.name.text}.${member.name.getText(source)}`);
                }
            });
        }
        expect(fields).toBeGreaterThan(100);
        expect(undocumented).toEqual([]);
    });

    test("every resource of the dev stack is a descendant of the Platform (no child left at the stack's root)", async () => {
        const r = await runStack("dev");
        const byUrn = new Map(r.resources.map((x) => [x.urn, x]));
        const platform = byType(r.resources, "airflow-platform:index:Platform")[0];
        const orphans = r.resources.filter((x) => {
            if (x === platform || x.type === "pulumi:pulumi:Stack" || x.type.startsWith("pulumi:providers:")) return false;
            let at: typeof x | undefined = x;
            while (at && at !== platform) at = byUrn.get(at.parentUrn);
            return at !== platform;
        });
        expect(orphans.map((x) => `${x.type} ${x.name}`)).toEqual([]);
        // Each component's own children sit under it, e.g. every KafkaTopic under the Kafka component.
        const kafka = byType(r.resources, "airflow-platform:platform:Kafka")[0];
        for (const topic of byType(r.resources, "kubernetes:kafka.strimzi.io/v1:KafkaTopic")) expect(topic.parentUrn).toBe(kafka.urn);
    });

    test("a component names itself and its Args field; the Platform translates the field to the config key", async () => {
        const { Postgres } = await import("../../components/postgres");
        const build = () => new Postgres("pg", { namespace: "db", mode: "rds", databases: ["app"], instances: 1, storageGi: 1 });
        let thrown: unknown;
        await runProgram(() => {
            try { build(); } catch (e) { thrown = e; }
        }, { stack: "dev" });
        expect(thrown).toBeInstanceOf(ComponentArgsError);
        expect((thrown as Error).message).toBe('Postgres "pg": rds: required when mode is "rds"');
        await runProgram(() => {
            try { withConfigKeys(CONFIG_KEYS_OF_ARGS.postgres, build); } catch (e) { thrown = e; }
        }, { stack: "dev" });
        expect((thrown as Error).message).toBe('postgres.rds: required when mode is "rds"');
        // Paths below a mapped field keep their tail.
        expect(() => withConfigKeys(CONFIG_KEYS_OF_ARGS.kafka, () => { throw new ComponentArgsError("Kafka", "k", "topics[2].name", "bad"); }))
            .toThrow(/^kafka\.topics \(with the topics the DAGs declare\)\[2\]\.name: bad$/);
    });
});
