/**
 * The Airflow chart values builder, tested as pure functions (no Pulumi): every stack's final values
 * validate against the official chart's values.schema.json (draft 2020-12, Ajv2020) after Helm's
 * coalescing over the chart defaults, and top-level keys are guarded against values.yaml because the
 * schema's root is open.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Ajv2020 from "ajv/dist/2020";
import * as yaml from "js-yaml";
import { parseStackConfig } from "../../config/load";
import { STACK_NAMES, StackConfig } from "../../config/schema";
import {
    ADMIN_PASSWORD_ENV,
    AIRFLOW_CHART,
    AirflowIntegrations,
    airflowSecretNames,
    brokerUrl,
    buildAirflowValues,
    LOCAL_SETTINGS_FILE,
    loadLocalSettings,
    metadataConnectionUri,
    metadataEndpoint,
    pgbouncerIni,
    pgbouncerUsers,
    resultBackendUri,
    toUrlSafeBase64,
    WARM_PARSER_ENV,
} from "../../components/values/airflow";
import { AIRFLOW_PROFILE } from "../../components/values/airflowProfile";
import { HelmValues, mergeValues } from "../../components/values/merge";
import { helmMerge } from "./fixtures/schemas";
import { readStackSections, SHARED_DIR } from "../../offline/engine";

const CHART_DIR = path.join(__dirname, "fixtures", "airflow-chart");
const SHARED_CHART_DIR = path.join(SHARED_DIR, "airflow-chart");

const schema = JSON.parse(fs.readFileSync(path.join(CHART_DIR, "values.schema.json"), "utf8"));
const chartDefaults = yaml.load(fs.readFileSync(path.join(CHART_DIR, "values.yaml"), "utf8")) as HelmValues;
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
const validate = ajv.compile(schema);

/** Schema errors of values as Helm sees them (merged over the chart's defaults), plus unknown top-level keys. */
function chartErrors(values: HelmValues): string[] {
    const unknownTopLevel = Object.keys(values)
        .filter((k) => !(k in chartDefaults))
        .map((k) => `/${k}: not a top-level key of the chart's values.yaml`);
    const merged = helmMerge(chartDefaults, values);
    const schemaErrors = validate(merged) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message} ${JSON.stringify(e.params)}`);
    return [...unknownTopLevel, ...schemaErrors];
}

const fullIntegrations: AirflowIntegrations = {
    secretsBackend: {
        backend: "airflow.providers.hashicorp.secrets.vault.VaultBackend",
        kwargs: { url: "http://vault:8200", mount_point: "secret", connections_path: "airflow/connections", auth_type: "kubernetes" },
    },
    openLineage: { namespace: "airflow-prod", transport: { type: "http", url: "http://marquez:5000", endpoint: "api/v1/lineage" } },
    serviceAccountAnnotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/airflow" },
    extraEnv: [{ name: "AIRFLOW__CORE__PARALLELISM", value: "64" }],
};

function stackConfig(stack: string): StackConfig {
    return parseStackConfig(stack, readStackSections(stack));
}

function valuesFor(stack: string, integrations: AirflowIntegrations = fullIntegrations): HelmValues {
    return buildAirflowValues({ airflow: stackConfig(stack).airflow, secretNames: airflowSecretNames("platform-airflow"), integrations });
}

const at = (values: HelmValues, dotted: string): any => dotted.split(".").reduce<any>((v, k) => (v === undefined ? undefined : v[k]), values);

describe("airflow chart fixture", () => {
    test("is the chart schema from /work/shared (same sha256 as SOURCE.md)", () => {
        const sha = crypto.createHash("sha256").update(fs.readFileSync(path.join(CHART_DIR, "values.schema.json"))).digest("hex");
        expect(fs.readFileSync(path.join(CHART_DIR, "SOURCE.md"), "utf8")).toContain(sha);
        if (!fs.existsSync(SHARED_CHART_DIR)) {
            console.warn(`${SHARED_CHART_DIR} is absent: checked the committed copy against its SOURCE.md only`);
            return;
        }
        const shared = crypto.createHash("sha256").update(fs.readFileSync(path.join(SHARED_CHART_DIR, "values.schema.json"))).digest("hex");
        expect(shared).toBe(sha);
    });

    test("pins the released chart named in SOURCE.md", () => {
        expect(fs.readFileSync(path.join(CHART_DIR, "SOURCE.md"), "utf8")).toContain(`**${AIRFLOW_CHART.version}**`);
        expect(AIRFLOW_CHART).toEqual({ chart: "airflow", version: "1.22.0", repo: "https://airflow.apache.org" });
    });
});

describe.each(STACK_NAMES)("stack %s: final Airflow values", (stack) => {
    test("validate against the chart's values.schema.json with no unknown top-level keys", () => {
        expect(chartErrors(valuesFor(stack))).toEqual([]);
        expect(chartErrors(valuesFor(stack, {}))).toEqual([]);
    });

    test("reference generated secrets by name and carry no secret values", () => {
        const values = valuesFor(stack);
        expect(values.fernetKeySecretName).toBe("platform-airflow-fernet-key");
        expect(values.apiSecretKeySecretName).toBe("platform-airflow-api-secret-key");
        expect(values.jwtSecretName).toBe("platform-airflow-jwt-secret");
        expect(at(values, "data.metadataSecretName")).toBe("platform-airflow-metadata");
        expect(at(values, "data.resultBackendSecretName")).toBe("platform-airflow-result-backend");
        expect(values.fernetKey).toBeUndefined();
        expect(values.jwtSecret).toBeUndefined();
        expect(values.apiSecretKey).toBeUndefined();
        expect(at(values, "data.metadataConnection")).toBeUndefined();
        expect(at(values, "createUserJob.defaultUser.password")).toBe("");
        expect(at(values, "createUserJob.args")).toContain(`$(${ADMIN_PASSWORD_ENV})`);
        expect(at(values, "createUserJob.env")).toEqual([
            { name: ADMIN_PASSWORD_ENV, valueFrom: { secretKeyRef: { name: "platform-airflow-admin", key: "password" } } },
        ]);
    });

    test("run the migration as a plain Job that cannot deadlock the rollout, with statsd on", () => {
        const values = valuesFor(stack);
        expect(at(values, "migrateDatabaseJob.enabled")).toBe(true);
        expect(at(values, "migrateDatabaseJob.useHelmHooks")).toBe(false);
        expect(at(values, "createUserJob.useHelmHooks")).toBe(false);
        expect(at(values, "migrateDatabaseJob.ttlSecondsAfterFinished")).toBeNull();
        expect(at(values, "config.database.migration_timeout")).toBe("600");
        for (const component of ["scheduler", "apiServer", "triggerer", "dagProcessor"]) {
            expect(at(values, `${component}.waitForMigrations.enabled`)).toBe(true);
        }
        expect(at(values, "statsd.enabled")).toBe(true);
        expect(at(values, "config.metrics.statsd_on")).toBe("True");
        expect(at(values, "postgresql.enabled")).toBe(false);
        expect(at(values, "images.airflow")).toEqual({ repository: "airflow-platform/airflow", tag: "3.3.2", digest: null, pullPolicy: "IfNotPresent" });
        expect(values.airflowVersion).toBe("3.3.2");
    });

    test("fill the integration slots into airflow.cfg", () => {
        const values = valuesFor(stack);
        expect(at(values, "config.secrets.backend")).toBe("airflow.providers.hashicorp.secrets.vault.VaultBackend");
        expect(JSON.parse(at(values, "config.secrets.backend_kwargs"))).toEqual(fullIntegrations.secretsBackend!.kwargs);
        expect(JSON.parse(at(values, "config.openlineage.transport"))).toEqual(fullIntegrations.openLineage!.transport);
        expect(at(values, "scheduler.serviceAccount.annotations")).toEqual(fullIntegrations.serviceAccountAnnotations);
        expect(at(values, "workers.celery.serviceAccount.annotations")).toEqual(fullIntegrations.serviceAccountAnnotations);
        expect(values.env).toEqual(fullIntegrations.extraEnv);
        const bare = valuesFor(stack, {});
        expect(at(bare, "config.secrets")).toBeUndefined();
        // Without Marquez only the profile's OpenLineage settings (no namespace, no transport: the provider stays off).
        expect(at(bare, "config.openlineage")).toEqual(AIRFLOW_PROFILE.config.openlineage);
    });
});

/** Dotted paths of every env list in the values that sets the named variable. */
function envListsSetting(values: unknown, name: string, where = ""): string[] {
    if (Array.isArray(values)) {
        const sets = where.endsWith("env") && values.some((entry) => entry?.name === name);
        return [...(sets ? [where] : []), ...values.flatMap((v, i) => envListsSetting(v, name, `${where}[${i}]`))];
    }
    if (values === null || typeof values !== "object") return [];
    return Object.entries(values).flatMap(([k, v]) => envListsSetting(v, name, where ? `${where}.${k}` : k));
}

describe.each(STACK_NAMES)("stack %s: airflow_local_settings and the dag-parser warm-up", (stack) => {
    const settingsText = fs.readFileSync(LOCAL_SETTINGS_FILE, "utf8");

    test("airflowLocalSettings is local_settings/airflow_local_settings.py, byte for byte, and the values validate", () => {
        expect(LOCAL_SETTINGS_FILE).toBe(path.resolve(__dirname, "..", "..", "local_settings", "airflow_local_settings.py"));
        const values = valuesFor(stack);
        expect(values.airflowLocalSettings).toBe(settingsText);
        expect(chartErrors(values)).toEqual([]);
    });

    test("the warm-up switch is set for the dag-processor process alone, not on any container's env", () => {
        // The settings file acts on exactly this variable and value.
        expect(settingsText).toContain(`WARM_PARSER_ENV = "${WARM_PARSER_ENV.name}"`);
        expect(settingsText).toContain(`os.environ.get(WARM_PARSER_ENV, "").lower() == "${WARM_PARSER_ENV.value}"`);
        for (const integrations of [fullIntegrations, {}]) {
            const values = valuesFor(stack, integrations);
            // Probes and `kubectl exec` start their own airflow processes in the container: they must not warm up.
            expect(envListsSetting(values, WARM_PARSER_ENV.name)).toEqual([]);
            expect(at(values, "dagProcessor.args")).toEqual(["bash", "-c", "exec env AIRFLOW_PLATFORM_WARM_PARSER=true airflow dag-processor"]);
        }
    });

    test("git-synced DAGs get a writable bytecode cache on the dag-processor; bundled ones are compiled in the image", () => {
        const values = valuesFor(stack);
        const gitSynced = stackConfig(stack).airflow.dags.source !== "bundled";
        expect(at(values, "dags.gitSync.enabled")).toBe(gitSynced);
        const env = at(values, "dagProcessor.env") as Array<{ name: string; value: string }>;
        const prefix = env.find((entry) => entry.name === "PYTHONPYCACHEPREFIX");
        if (gitSynced) {
            expect(prefix?.value).toMatch(/^\/tmp\//); // the container's root filesystem is writable there
            expect(env).toContainEqual({ name: "PYTHONDONTWRITEBYTECODE", value: "" });
            expect(envListsSetting(values, "PYTHONPYCACHEPREFIX")).toEqual(["dagProcessor.env"]);
        } else {
            expect(prefix).toBeUndefined();
        }
        expect(chartErrors(values)).toEqual([]);
    });
});

describe("airflowLocalSettings guard", () => {
    const build = (content: string) =>
        buildAirflowValues({
            airflow: stackConfig("prod").airflow,
            secretNames: airflowSecretNames("platform-airflow"),
            integrations: {},
            localSettings: { file: "local_settings/airflow_local_settings.py", content },
        });

    test("content with {{ is refused, naming the file, because the chart renders the value through tpl", () => {
        expect(() => build('log.info("{{ .Release.Name }}")\n')).toThrow(
            /^local_settings\/airflow_local_settings\.py: contains "\{\{", but the chart renders airflowLocalSettings through tpl/,
        );
    });

    test("a settings file read from disk with {{ is refused with that file's path", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-settings-"));
        const file = path.join(dir, "airflow_local_settings.py");
        fs.writeFileSync(file, '"""Uses {{ .Values.executor }}."""\n');
        try {
            expect(() =>
                buildAirflowValues({
                    airflow: stackConfig("dev").airflow,
                    secretNames: airflowSecretNames("platform-airflow"),
                    integrations: {},
                    localSettings: loadLocalSettings(file),
                }),
            ).toThrow(`${file}: contains "{{"`);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("content without {{ (single braces, f-strings) passes through unchanged", () => {
        const content = 'x = {"a": 1}\nprint(f"{x}")\n';
        expect(build(content).airflowLocalSettings).toBe(content);
    });
});

describe("stack shapes", () => {
    test("prod: Celery + KEDA, PgBouncer, 2 schedulers, 2 API servers, PDBs, git-sync, S3 remote logs", () => {
        const values = valuesFor("prod");
        expect(values.executor).toBe("CeleryExecutor");
        expect(at(values, "workers.celery.keda")).toEqual({
            enabled: true,
            minReplicaCount: 1,
            maxReplicaCount: 20,
            pollingInterval: 5,
            cooldownPeriod: 120,
            usePgbouncer: true,
        });
        expect(at(values, "pgbouncer.enabled")).toBe(true);
        expect(at(values, "pgbouncer.configSecretName")).toBe("platform-airflow-pgbouncer-config");
        expect(at(values, "pgbouncer.metricsExporterSidecar.statsSecretName")).toBe("platform-airflow-pgbouncer-stats");
        expect(at(values, "scheduler.replicas")).toBe(2);
        expect(at(values, "apiServer.replicas")).toBe(2);
        for (const component of ["scheduler", "apiServer", "triggerer", "dagProcessor", "pgbouncer", "workers.celery"]) {
            expect(at(values, `${component}.podDisruptionBudget`)).toEqual({ enabled: true, config: { maxUnavailable: 1 } });
        }
        expect(at(values, "dags.gitSync")).toMatchObject({
            enabled: true,
            repo: "git@github.com:example-org/airflow-platform.git",
            branch: "main",
            subPath: "dags",
            period: "60s",
            sshKeySecret: "platform-airflow-git-ssh",
        });
        expect(at(values, "config.logging")).toMatchObject({
            remote_logging: "True",
            remote_base_log_folder: "s3://airflow-platform-prod-logs/airflow/logs",
            remote_log_conn_id: "aws_default",
        });
        expect(at(values, "redis.enabled")).toBe(true);
        expect(at(values, "redis.passwordSecretName")).toBe("platform-airflow-redis-password");
        expect(at(values, "data.brokerUrlSecretName")).toBe("platform-airflow-broker-url");
    });

    test("staging has prod's shape with smaller numbers", () => {
        const prod = valuesFor("prod");
        const staging = valuesFor("staging");
        for (const key of ["executor", "workers.celery.keda.enabled", "pgbouncer.enabled", "scheduler.replicas", "apiServer.replicas", "dags.gitSync.enabled", "config.logging.remote_logging"]) {
            expect([key, at(staging, key)]).toEqual([key, at(prod, key)]);
        }
        expect(at(staging, "workers.celery.keda.maxReplicaCount")).toBeLessThan(at(prod, "workers.celery.keda.maxReplicaCount"));
        expect(at(staging, "pgbouncer.maxClientConn")).toBeLessThan(at(prod, "pgbouncer.maxClientConn"));
    });

    test("dev: small, bundled DAGs (no git-sync), no PgBouncer, no KEDA, local logs", () => {
        const values = valuesFor("dev");
        expect(values.executor).toBe("LocalExecutor");
        expect(at(values, "dags.gitSync.enabled")).toBe(false);
        expect(at(values, "dags.persistence.enabled")).toBe(false);
        expect(at(values, "pgbouncer.enabled")).toBe(false);
        expect(at(values, "workers.celery.keda.enabled")).toBe(false);
        expect(at(values, "redis")).toEqual({ enabled: false });
        expect(at(values, "data.brokerUrlSecretName")).toBeUndefined();
        expect(at(values, "config.logging.remote_logging")).toBe("False");
        expect(at(values, "scheduler.replicas")).toBe(1);
    });
});

describe("misspelt keys fail validation", () => {
    test("a misspelt top-level key is caught by the values.yaml guard (the schema root is open)", () => {
        const values = { ...valuesFor("prod"), schedular: { replicas: 2 } };
        expect(validate(helmMerge(chartDefaults, values))).toBe(true); // the schema alone lets it through
        expect(chartErrors(values)).toEqual(["/schedular: not a top-level key of the chart's values.yaml"]);
    });

    test("a misspelt nested key fails the schema", () => {
        const values = mergeValues(valuesFor("prod"), { scheduler: { replica: 2 } });
        expect(chartErrors(values).join("\n")).toMatch(/\/scheduler: must NOT have additional properties .*"replica"/);
    });

    test("a wrong type fails the schema", () => {
        const values = mergeValues(valuesFor("prod"), { apiServer: { replicas: "two" } });
        expect(chartErrors(values).join("\n")).toMatch(/\/apiServer\/replicas: must be integer/);
    });
});

describe("secret contents (pure builders)", () => {
    const prod = stackConfig("prod");
    const db = { host: "db.example.internal", port: 5432, database: "airflow", user: "airflow", sslmode: "require" as const };

    test("with PgBouncer the connection goes through its service and database alias", () => {
        const endpoint = metadataEndpoint("platform-airflow", "airflow-prod", prod.airflow, db);
        expect(endpoint).toEqual({ host: "platform-airflow-pgbouncer.airflow-prod.svc.cluster.local", port: 6543, database: "platform-airflow-metadata" });
        expect(metadataConnectionUri(endpoint, "airflow", "p@ss/w:rd", "disable")).toBe(
            "postgresql://airflow:p%40ss%2Fw%3Ard@platform-airflow-pgbouncer.airflow-prod.svc.cluster.local:6543/platform-airflow-metadata?sslmode=disable",
        );
        expect(resultBackendUri(endpoint, "airflow", "pw", "disable")).toMatch(/^db\+postgresql:\/\/airflow:pw@/);
    });

    test("without PgBouncer the connection goes straight to the database", () => {
        const dev = stackConfig("dev");
        expect(metadataEndpoint("a", "ns", dev.airflow, db)).toEqual({ host: "db.example.internal", port: 5432, database: "airflow" });
    });

    test("pgbouncer.ini routes both aliases to the real database with the configured pools", () => {
        const ini = pgbouncerIni("platform-airflow", prod.airflow, db);
        expect(ini).toContain("platform-airflow-metadata = host=db.example.internal dbname=airflow port=5432 pool_size=40");
        expect(ini).toContain("platform-airflow-result-backend = host=db.example.internal dbname=airflow port=5432 pool_size=10");
        expect(ini).toContain("max_client_conn = 1000");
        expect(ini).toContain("server_tls_sslmode = require");
        expect(() => pgbouncerIni("a", stackConfig("dev").airflow, db)).toThrow(/pgbouncer.enabled is false/);
        expect(pgbouncerUsers("air\"flow", "pw")).toBe('"air""flow" "pw"\n');
    });

    test("broker URL and Fernet key encoding", () => {
        expect(brokerUrl("rel", "ns", "a/b")).toBe("redis://:a%2Fb@rel-redis.ns.svc.cluster.local:6379/0");
        const std = Buffer.from(Array.from({ length: 32 }, (_, i) => 250 - i)).toString("base64");
        const urlSafe = toUrlSafeBase64(std);
        expect(urlSafe).not.toMatch(/[+/]/);
        expect(Buffer.from(urlSafe, "base64url")).toHaveLength(32);
    });
});

describe("mergeValues", () => {
    test("maps merge, later layers win, lists replace, inputs are not mutated", () => {
        const base = { a: { b: 1, c: [1, 2] }, keep: true };
        const over = { a: { c: [3], d: null } };
        expect(mergeValues(base, over, undefined)).toEqual({ a: { b: 1, c: [3], d: null }, keep: true });
        expect(base).toEqual({ a: { b: 1, c: [1, 2] }, keep: true });
    });
});
