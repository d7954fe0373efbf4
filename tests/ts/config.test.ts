/**
 * Stack configuration: the three stack files parse, and bad input (wrong value, wrong type, unknown key,
 * missing key, unknown stack, cross-section conflicts) stops the program with the exact key path.
 * The pure parser is tested directly; the runtime loader is tested through the real index.ts under mocks.
 */
import { ConfigError, parseStackConfig } from "../../config/load";
import { STACK_NAMES, SECTION_NAMES } from "../../config/schema";
import { editConfigObject, readStackSections, runStack, PROJECT_NAME } from "../../offline/engine";

function clone<T>(value: T): T {
    return JSON.parse(JSON.stringify(value)) as T;
}

/** Parses a stack's sections after `edit`, returning the problem lines ([] when valid). */
function problemsAfter(stack: string, edit: (sections: any) => void): string[] {
    const sections = clone(readStackSections(stack));
    edit(sections);
    try {
        parseStackConfig(stack, sections);
        return [];
    } catch (e) {
        if (!(e instanceof ConfigError)) {
            throw e;
        }
        return e.problems;
    }
}

describe("the committed stack files", () => {
    test.each(STACK_NAMES)("%s parses and writes every section", (stack) => {
        const sections = readStackSections(stack);
        expect(Object.keys(sections).sort()).toEqual([...SECTION_NAMES].sort());
        expect(() => parseStackConfig(stack, sections)).not.toThrow();
    });

    test("prod is the HA shape the issue asks for", () => {
        const prod = parseStackConfig("prod", readStackSections("prod"));
        expect(prod.airflow.executor).toBe("CeleryExecutor");
        expect(prod.airflow.keda.enabled).toBe(true);
        expect(prod.airflow.pgbouncer.enabled).toBe(true);
        expect(prod.airflow.replicas.scheduler).toBe(2);
        expect(prod.airflow.replicas.apiServer).toBe(2);
        expect(prod.airflow.pdb.enabled).toBe(true);
        expect(prod.airflow.dags).toMatchObject({ source: "gitSync", branch: "main", subPath: "dags" });
        expect(prod.airflow.logging.remote.enabled).toBe(true);
        expect(prod.postgres.mode).toBe("rds");
        expect(prod.postgres.rds?.multiAz).toBe(true);
    });

    test("dev is small with in-cluster Postgres and bundled DAGs", () => {
        const dev = parseStackConfig("dev", readStackSections("dev"));
        expect(dev.airflow.dags.source).toBe("bundled");
        expect(dev.postgres.mode).toBe("statefulset");
        expect(dev.airflow.replicas.scheduler).toBe(1);
    });
});

describe("bad input names the key path and the expectation", () => {
    test("wrong value: an executor that does not exist", () => {
        expect(problemsAfter("prod", (s) => (s.airflow.executor = "CeleryExecuter"))).toEqual([
            'airflow.executor: expected one of "LocalExecutor", "CeleryExecutor", "KubernetesExecutor", "CeleryExecutor,KubernetesExecutor", got string "CeleryExecuter"',
        ]);
    });

    test("wrong type: replicas as a string", () => {
        expect(problemsAfter("prod", (s) => (s.airflow.replicas.scheduler = "2"))).toEqual([
            'airflow.replicas.scheduler: expected number, got string "2"',
        ]);
    });

    test("out of range: zero API servers", () => {
        expect(problemsAfter("staging", (s) => (s.airflow.replicas.apiServer = 0))).toEqual([
            "airflow.replicas.apiServer: Too small: expected number to be >=1",
        ]);
    });

    test("unknown key inside a section (a typo) is an error, not ignored", () => {
        expect(problemsAfter("dev", (s) => (s.airflow.pgbouncer.enabeld = true))).toEqual([
            "airflow.pgbouncer.enabeld: unknown key (not in the schema; check the spelling)",
        ]);
    });

    test("missing key: nothing is silently defaulted", () => {
        expect(problemsAfter("prod", (s) => delete s.airflow.workerConcurrency)).toEqual([
            "airflow.workerConcurrency: required key is missing (expected number)",
        ]);
        expect(problemsAfter("prod", (s) => delete s.airflow.keda.maxReplicas)).toEqual([
            "airflow.keda.maxReplicas: required key is missing (expected number)",
        ]);
    });

    test("wrong variant: an unknown DAG source names the discriminator", () => {
        const problems = problemsAfter("prod", (s) => (s.airflow.dags.source = "gitsync"));
        expect(problems).toHaveLength(1);
        expect(problems[0]).toBe('airflow.dags.source: expected one of "bundled", "gitSync", got string "gitsync"');
    });

    test("format checks: image tag must be Airflow 3.3, bucket names valid", () => {
        expect(problemsAfter("dev", (s) => (s.airflow.image.tag = "2.10.5"))).toEqual([
            "airflow.image.tag: must be an Airflow 3.3.x image tag such as 3.3.2",
        ]);
        expect(problemsAfter("prod", (s) => (s.aws.buckets.data = "Bad_Bucket"))).toEqual([
            "aws.buckets.data: must be a valid S3 bucket name (3-63 chars, lowercase, digits, '.', '-')",
        ]);
    });

    test("cross-field rules: KEDA without Celery, ssh git-sync without known hosts, rds without settings", () => {
        expect(problemsAfter("prod", (s) => (s.airflow.executor = "KubernetesExecutor"))).toEqual([
            "airflow.keda.enabled: KEDA scales Celery workers; executor is KubernetesExecutor",
        ]);
        expect(problemsAfter("prod", (s) => (s.airflow.dags.knownHosts = null))).toEqual([
            "airflow.dags.knownHosts: required when auth is ssh (host key checking stays on)",
        ]);
        expect(problemsAfter("prod", (s) => (s.postgres.rds = null))).toEqual(["postgres.rds: mode rds needs the rds settings object"]);
    });

    test("cross-section rules: remote logging needs aws and the logs bucket", () => {
        expect(problemsAfter("prod", (s) => (s.airflow.logging.remote.bucket = "some-other-bucket"))).toEqual([
            "airflow.logging.remote.bucket: must be the logs bucket aws.buckets.logs (airflow-platform-prod-logs)",
        ]);
        expect(problemsAfter("staging", (s) => (s.aws.enabled = false))).toEqual([
            "vault.seal.type: awskms auto-unseal needs aws.enabled: true (the KMS key and the IRSA role)",
            "airflow.logging.remote.enabled: remote logging to S3 needs aws.enabled: true (the IRSA role and bucket)",
        ]);
    });

    test("vault.seal: required for an HA Vault, null in dev mode, awskms only with AWS", () => {
        expect(problemsAfter("prod", (s) => (s.vault.seal = null))).toEqual(["vault.seal: an HA Vault needs a seal: {type: awskms} or {type: shamir}"]);
        expect(problemsAfter("dev", (s) => (s.vault.seal = { type: "shamir" }))).toEqual(["vault.seal: must be null in dev mode (the dev server is never sealed)"]);
        expect(problemsAfter("prod", (s) => (s.vault.seal = { type: "transit" }))[0]).toMatch(/^vault\.seal\.type: expected one of "awskms", "shamir"/);
        expect(problemsAfter("prod", (s) => (s.vault.seal = { type: "shamir" }))).toEqual([]);
    });

    test("several problems are reported together", () => {
        const problems = problemsAfter("dev", (s) => {
            s.kubernetes.namespace = "Airflow_Dev";
            s.redis.storageGi = -1;
        });
        expect(problems).toEqual([
            "kubernetes.namespace: must be a lowercase DNS-1123 label (a-z, 0-9, '-')",
            "redis.storageGi: Too small: expected number to be >=1",
        ]);
    });
});

describe("the runtime loader through the real index.ts", () => {
    test("an unknown stack lists the valid stacks", async () => {
        await expect(runStack("qa", { configFromStack: "dev" })).rejects.toThrow('unknown stack "qa"; valid stacks are: dev, staging, prod');
    });

    test("an unknown top-level config key is an error listing the valid keys", async () => {
        await expect(
            runStack("dev", {
                mutateConfig: (config) => {
                    config[`${PROJECT_NAME}:airflw`] = JSON.stringify({ executor: "LocalExecutor" });
                },
            }),
        ).rejects.toThrow(/airflw: unknown config key; valid keys are kubernetes, airflow, postgres/);
    });

    test("a missing section names it and the stack file", async () => {
        await expect(
            runStack("dev", {
                mutateConfig: (config) => {
                    delete config[`${PROJECT_NAME}:monitoring`];
                },
            }),
        ).rejects.toThrow("monitoring: required config section is missing from Pulumi.dev.yaml");
    });

    test("a bad value in the stack file stops the program with its path", async () => {
        await expect(
            runStack("prod", { mutateConfig: (config) => editConfigObject(config, "airflow", (a) => (a.replicas.scheduler = 0)) }),
        ).rejects.toThrow(/invalid configuration for stack "prod":\n {2}- airflow\.replicas\.scheduler: Too small/);
    });

    test("provider namespaces (aws:region, kubernetes:context) are not the project's to police", async () => {
        const result = await runStack("dev", {
            mutateConfig: (config) => {
                config["aws:region"] = "eu-west-1";
                config["kubernetes:context"] = "kind-dev";
            },
        });
        expect(result.outputs).toMatchObject({ stack: "dev" });
    });

    test("the DAGs' Slack bot token is required as a secret when monitoring (and so Slack) is on", async () => {
        await expect(
            runStack("dev", {
                mutateConfig: (config) => {
                    delete config[`${PROJECT_NAME}:slackBotToken`];
                },
            }),
        ).rejects.toThrow(/Missing required configuration variable 'airflow-platform:slackBotToken'/);
    });

    test("the ssh deploy key is required as a secret when git-sync uses ssh", async () => {
        await expect(
            runStack("prod", {
                mutateConfig: (config) => {
                    delete config[`${PROJECT_NAME}:gitSyncSshKey`];
                },
            }),
        ).rejects.toThrow(/Missing required configuration variable 'airflow-platform:gitSyncSshKey'/);
    });
});
