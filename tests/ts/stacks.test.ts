/**
 * The real index.ts evaluated under the mock engine, once per stack with that stack's Pulumi.<stack>.yaml,
 * asserting on the resource graph: the chart release, the generated secrets and their stability, that no
 * generated secret reaches any input in plaintext (Helm values included), and that two Airflow components
 * in one program do not collide.
 */
import * as pulumi from "@pulumi/pulumi";
import { Airflow } from "../../components/airflow";
import { parseStackConfig } from "../../config/load";
import { STACK_NAMES } from "../../config/schema";
import { AIRFLOW_CHART } from "../../components/values/airflow";
import {
    RecordedResource,
    RunResult,
    byType,
    childrenOf,
    collectSecretsPlaintext,
    editConfigObject,
    getResource,
    isSecretMarker,
    readStackSections,
    runProgram,
    runStack,
} from "../../offline/engine";

const CHART = "kubernetes:helm.sh/v4:Chart";
const SECRET = "kubernetes:core/v1:Secret";
const AIRFLOW = "airflow-platform:index:Airflow";
const RELEASE = "platform-airflow";

const runs = new Map<string, RunResult<Record<string, unknown>>>();

// Three whole-platform evaluations (Airflow plus the platform components): allow for a loaded CI machine.
beforeAll(async () => {
    for (const stack of STACK_NAMES) {
        runs.set(stack, await runStack(stack));
    }
}, 240_000);

function run(stack: string): RunResult<Record<string, unknown>> {
    const result = runs.get(stack);
    if (!result) throw new Error(`stack ${stack} was not evaluated`);
    return result;
}

/** Every `*SecretName` / `*Secret` string the values reference, with its dotted path. */
function referencedSecretNames(values: any, prefix = ""): Array<[string, string]> {
    if (values === null || typeof values !== "object") return [];
    return Object.entries(values).flatMap(([k, v]) => {
        const here = prefix ? `${prefix}.${k}` : k;
        if (typeof v === "string" && /(SecretName|sshKeySecret)$/.test(k) && v !== "") return [[here, v] as [string, string]];
        return referencedSecretNames(v, here);
    });
}

describe.each(STACK_NAMES)("stack %s under mocks", (stack) => {
    test("deploys the pinned official chart into the stack's namespace, under the Airflow component", () => {
        const { resources } = run(stack);
        const airflow = getResource(resources, AIRFLOW, RELEASE);
        const chart = getResource(resources, CHART, RELEASE);
        expect(chart.parentUrn).toBe(airflow.urn);
        expect(chart.inputs).toMatchObject({
            name: RELEASE,
            chart: AIRFLOW_CHART.chart,
            version: AIRFLOW_CHART.version,
            repositoryOpts: { repo: AIRFLOW_CHART.repo },
            namespace: `airflow-${stack}`,
        });
        const config = parseStackConfig(stack, readStackSections(stack));
        expect(chart.inputs.values.executor).toBe(config.airflow.executor);
        expect(chart.inputs.values.scheduler.replicas).toBe(config.airflow.replicas.scheduler);
        expect(chart.inputs.values.statsd.enabled).toBe(true);
        expect(chart.inputs.values.migrateDatabaseJob.useHelmHooks).toBe(false);
    });

    test("every secret the values reference by name exists as a Kubernetes Secret of the component", () => {
        const { resources } = run(stack);
        const airflow = getResource(resources, AIRFLOW, RELEASE);
        const values = getResource(resources, CHART, RELEASE).inputs.values;
        const secrets = childrenOf(resources, airflow).filter((r) => r.type === SECRET);
        // Secrets wired in from the platform components (e.g. the Redis broker URL) count too.
        const secretNames = new Set(resources.filter((r) => r.type === SECRET).map((s) => s.inputs.metadata.name));
        const referenced = referencedSecretNames(values);
        expect(referenced.map(([p]) => p)).toEqual(expect.arrayContaining(["fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName", "data.metadataSecretName"]));
        for (const [where, name] of referenced) {
            expect([where, secretNames.has(name)]).toEqual([where, true]);
        }
        for (const secret of secrets) {
            expect(secret.inputs.metadata.namespace).toBe(`airflow-${stack}`);
            expect(secret.inputs.metadata.name.startsWith(`${RELEASE}-`)).toBe(true);
        }
    });

    test("generated secrets: Fernet key, API secret key, JWT secret, DB password, with no churning keepers", () => {
        const { resources } = run(stack);
        const randoms = resources.filter((r) => r.type.startsWith("random:"));
        expect(randoms.map((r) => r.name)).toEqual(
            expect.arrayContaining([`${RELEASE}-fernet-key`, `${RELEASE}-api-secret-key`, `${RELEASE}-jwt-secret`, `${RELEASE}-metadata-db-password`]),
        );
        for (const random of randoms) {
            expect([random.name, random.inputs.keepers]).toEqual([random.name, undefined]);
        }
        const fernet = getResource(resources, SECRET, `${RELEASE}-fernet-key`).inputs.stringData["fernet-key"];
        expect(Buffer.from(fernet, "base64url")).toHaveLength(32);
        expect(fernet).not.toMatch(/[+/]/);
    });

    test("no generated secret appears in plaintext in any resource input, Helm values included", () => {
        const { resources, generatedSecrets } = run(stack);
        expect(generatedSecrets.length).toBeGreaterThanOrEqual(5);
        expect(collectSecretsPlaintext(resources, generatedSecrets)).toEqual([]);
        // And the Secrets that do hold them mark every value secret.
        for (const secret of byType(resources, SECRET).filter((s) => s.name.startsWith(RELEASE))) {
            const stringData = (secret.rawInputs as any).stringData;
            // Pulumi hoists secretness to the enclosing map when every value is secret.
            const allSecret = isSecretMarker(stringData) || Object.values(stringData).every(isSecretMarker);
            expect([secret.name, allSecret]).toEqual([secret.name, true]);
        }
        const valuesText = JSON.stringify(getResource(resources, CHART, RELEASE).inputs.values);
        for (const secret of generatedSecrets) {
            expect(valuesText.includes(secret)).toBe(false);
        }
    });
});

describe("stack-specific graph", () => {
    test("prod: metadata and result backend go through PgBouncer, whose config points at the database", () => {
        const { resources } = run("prod");
        const metadata = getResource(resources, SECRET, `${RELEASE}-metadata`).inputs.stringData.connection as string;
        expect(metadata).toMatch(new RegExp(`^postgresql://airflow:[^@]+@${RELEASE}-pgbouncer\\.airflow-prod\\.svc\\.cluster\\.local:6543/${RELEASE}-metadata\\?sslmode=disable$`));
        const result = getResource(resources, SECRET, `${RELEASE}-result-backend`).inputs.stringData.connection as string;
        expect(result).toMatch(new RegExp(`/${RELEASE}-result-backend\\?sslmode=disable$`));
        const ini = getResource(resources, SECRET, `${RELEASE}-pgbouncer-config`).inputs.stringData["pgbouncer.ini"] as string;
        expect(ini).toMatch(/platform-airflow-metadata = host=\S+ dbname=airflow port=5432 pool_size=40/);
        getResource(resources, SECRET, `${RELEASE}-pgbouncer-stats`);
        getResource(resources, SECRET, `${RELEASE}-broker-url`);
    });

    test("prod: the git-sync deploy key comes from the secret config and stays secret", () => {
        const { resources, generatedSecrets } = run("prod");
        const key = getResource(resources, SECRET, `${RELEASE}-git-ssh`);
        expect(key.inputs.stringData.gitSshKey).toMatch(/^mock-secret-airflow-platform-gitSyncSshKey-/);
        expect(generatedSecrets).toContain(key.inputs.stringData.gitSshKey);
        const raw = (key.rawInputs as any).stringData;
        expect(isSecretMarker(raw) || isSecretMarker(raw.gitSshKey)).toBe(true);
    });

    test("dev: no PgBouncer, no Celery broker, no git-sync key; connects straight to in-cluster Postgres", () => {
        const names = run("dev").resources.map((r) => r.name);
        for (const absent of ["pgbouncer-config", "pgbouncer-stats", "broker-url", "redis-password", "git-ssh"]) {
            expect(names).not.toContain(`${RELEASE}-${absent}`);
        }
        const metadata = getResource(run("dev").resources, SECRET, `${RELEASE}-metadata`).inputs.stringData.connection as string;
        expect(metadata).toMatch(/@[a-z0-9-]+\.airflow-dev\.svc\.cluster\.local:5432\/airflow\?sslmode=/);
    });

    test("stack outputs name the namespace and the release", () => {
        expect(run("prod").outputs).toMatchObject({ stack: "prod", namespace: "airflow-prod", airflowRelease: RELEASE });
        expect(run("dev").outputs).toMatchObject({ stack: "dev", namespace: "airflow-dev" });
    });
});

describe("stability across updates", () => {
    test("changing replicas, KEDA bounds and the image tag leaves every random resource's inputs unchanged", async () => {
        const changed = await runStack("prod", {
            mutateConfig: (config) =>
                editConfigObject(config, "airflow", (a) => {
                    a.replicas.scheduler = 3;
                    a.keda.maxReplicas = 30;
                    a.image.tag = "3.3.9";
                    if (a.image.baseImage) a.image.baseImage = "apache/airflow:3.3.9-python3.11";
                }),
        });
        const randomInputs = (resources: RecordedResource[]) =>
            Object.fromEntries(resources.filter((r) => r.type.startsWith("random:")).map((r) => [r.name, r.inputs]));
        expect(randomInputs(changed.resources)).toEqual(randomInputs(run("prod").resources));
        expect(getResource(changed.resources, CHART, RELEASE).inputs.values.scheduler.replicas).toBe(3);
    });
});

describe("two Airflow components in one program", () => {
    test("derive every child name from the component name, so nothing collides", async () => {
        const airflowConfig = parseStackConfig("prod", readStackSections("prod")).airflow;
        const database = { host: "db", port: 5432, database: "airflow", user: "airflow", sslmode: "require" as const };
        const result = await runProgram(
            () => {
                const a = new Airflow("team-a", { namespace: "shared", airflow: airflowConfig, metadataDatabase: database, gitSyncSshKey: pulumi.secret("k") });
                const b = new Airflow("team-b", { namespace: "shared", airflow: airflowConfig, metadataDatabase: database, gitSyncSshKey: pulumi.secret("k") });
                return { a: a.values, b: b.values };
            },
            { stack: "prod" },
        );
        const urns = result.resources.map((r) => r.urn);
        expect(new Set(urns).size).toBe(urns.length);
        const k8sNames = result.resources.filter((r) => r.type.startsWith("kubernetes:core")).map((r) => `${r.inputs.metadata.namespace}/${r.inputs.metadata.name}`);
        expect(new Set(k8sNames).size).toBe(k8sNames.length);
        for (const team of ["team-a", "team-b"]) {
            const component = getResource(result.resources, AIRFLOW, team);
            const children = childrenOf(result.resources, component);
            expect(children.length).toBeGreaterThanOrEqual(10);
            for (const child of children) {
                expect([child.name, child.name.startsWith(`${team}-`) || child.name === team]).toEqual([child.name, true]);
            }
        }
        expect(result.outputs.a.fernetKeySecretName).toBe("team-a-fernet-key");
        expect(result.outputs.b.fernetKeySecretName).toBe("team-b-fernet-key");
        expect(getResource(result.resources, CHART, "team-b").inputs.name).toBe("team-b");
    });

    test("a component name too long for the chart's derived names is refused with the reason", async () => {
        const airflowConfig = parseStackConfig("dev", readStackSections("dev")).airflow;
        await expect(
            runProgram(
                () =>
                    new Airflow("a".repeat(41), {
                        namespace: "x",
                        airflow: airflowConfig,
                        metadataDatabase: { host: "db", port: 5432, database: "airflow", user: "airflow", sslmode: "disable" },
                    }),
                { stack: "dev" },
            ),
        ).rejects.toThrow(/longer than 40 characters/);
    });
});
