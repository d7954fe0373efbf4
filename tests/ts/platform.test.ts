/**
 * The whole graph per stack: the real index.ts under each Pulumi.<stack>.yaml, asserting the platform
 * components exist, are wired to each other and to Airflow, and leak no secret. Plus contradictory
 * config errors that name the keys.
 */
import { byType, collectSecretsPlaintext, editConfigObject, getResource, RecordedResource, runStack, RunResult } from "../../offline/engine";
import { expectNoDuplicates, kubernetesIdentities } from "./fixtures/components";
import { chartValuesErrors, crdValidator, errorsOf } from "./fixtures/schemas";
import { policyPaths } from "../../components/values/vault";
import { aggregateNeeds, loadManifest } from "../../components/values/contract";
import { mergeTopics } from "../../components/values/platform";

const STACKS = ["dev", "staging", "prod"] as const;
const results: Record<string, RunResult<Record<string, unknown>>> = {};

beforeAll(async () => {
    for (const stack of STACKS) results[stack] = await runStack(stack);
}, 240_000);

const airflowValues = (r: RunResult<unknown>) => getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "platform-airflow").inputs.values;
const crs = (r: RunResult<unknown>, kind: string): RecordedResource[] => r.resources.filter((x) => x.type.endsWith(`:${kind}`) && x.type.startsWith("kubernetes:"));

describe.each(STACKS)("stack %s", (stack) => {
    test("every enabled component is in the graph", () => {
        const r = results[stack];
        const types = new Set(r.resources.map((x) => x.type));
        for (const t of [
            "airflow-platform:platform:Postgres",
            "airflow-platform:platform:Redis",
            "airflow-platform:platform:Kafka",
            "airflow-platform:platform:Mlflow",
            "airflow-platform:platform:Marquez",
            "airflow-platform:platform:Vault",
            "airflow-platform:platform:Monitoring",
        ]) {
            expect(types).toContain(t);
        }
        expect(types.has("airflow-platform:platform:AwsStorage")).toBe(stack !== "dev");
    });

    test("no generated or configured secret appears in plaintext anywhere (Helm values included)", () => {
        const r = results[stack];
        expect(r.generatedSecrets.length).toBeGreaterThan(5);
        expect(collectSecretsPlaintext(r.resources, r.generatedSecrets)).toEqual([]);
    });

    test("no two Kubernetes objects or charts share a name", () => {
        expectNoDuplicates(kubernetesIdentities(results[stack].resources));
    });

    test("custom resources validate against the upstream CRDs", () => {
        const r = results[stack];
        const checks: Array<[string, string]> = [
            ["Kafka", "strimzi/040-Crd-kafka.yaml"],
            ["KafkaNodePool", "strimzi/045-Crd-kafkanodepool.yaml"],
            ["KafkaTopic", "strimzi/043-Crd-kafkatopic.yaml"],
            ["PrometheusRule", "prometheus-operator/monitoring.coreos.com_prometheusrules.yaml"],
            ["ServiceMonitor", "prometheus-operator/monitoring.coreos.com_servicemonitors.yaml"],
            ["Cluster", "cloudnative-pg/postgresql.cnpg.io_clusters.yaml"],
        ];
        let validated = 0;
        for (const [kind, file] of checks) {
            for (const cr of crs(r, kind)) {
                expect(errorsOf(crdValidator(file, "v1"), cr.inputs)).toBe("");
                validated++;
            }
        }
        expect(validated).toBeGreaterThanOrEqual(4);
    });

    test("chart values validate against vault-helm and mlflow schemas", () => {
        const r = results[stack];
        expect(chartValuesErrors("vault-helm", getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "platform-vault").inputs.values)).toBe("");
        expect(chartValuesErrors("mlflow-chart", getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "platform-mlflow").inputs.values)).toBe("");
    });

    test("wiring: Vault backend, Marquez OpenLineage, Postgres DB for MLflow/Marquez, connections in KV", () => {
        const r = results[stack];
        const cfg = airflowValues(r).config;
        expect(cfg.secrets.backend).toBe("airflow.providers.hashicorp.secrets.vault.VaultBackend");
        const kwargs = JSON.parse(cfg.secrets.backend_kwargs);
        expect(kwargs).toMatchObject({ url: `http://platform-vault.airflow-${stack}.svc.cluster.local:8200`, auth_type: "kubernetes", mount_point: "airflow" });
        expect(cfg.openlineage.namespace).toBe(`airflow-${stack}`);
        expect(JSON.parse(cfg.openlineage.transport).url).toBe(`http://platform-marquez.airflow-${stack}.svc.cluster.local:80`);
        const mlflow = getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "platform-mlflow").inputs.values;
        expect(mlflow.backendStore.existingDatabaseSecret.name).toBe("platform-postgres-mlflow-db");
        const marquez = getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "platform-marquez").inputs.values;
        expect(marquez.marquez.db.name).toBe("marquez");
        expect(marquez.postgresql.enabled).toBe(false);
        const kv = byType(r.resources, "vault:kv/secretV2:SecretV2").map((s) => s.inputs.name).sort();
        expect(kv).toEqual(expect.arrayContaining(["connections/kafka_default", "connections/mlflow_default", "connections/postgres_default", "connections/redis_default"]));
        const kafkaConn = JSON.parse(getResource(r.resources, "vault:kv/secretV2:SecretV2", "platform-vault-conn-kafka-default").inputs.dataJson);
        expect(kafkaConn.extra["bootstrap.servers"]).toBe(`platform-kafka-kafka-bootstrap.airflow-${stack}.svc.cluster.local:9092`);
    });

    test("Airflow's metadata DB role gets Airflow's own generated password", () => {
        const r = results[stack];
        const secret = byType(r.resources, "kubernetes:core/v1:Secret").find((s) => s.inputs.metadata.name === "platform-postgres-airflow-db")!;
        const airflowPw = getResource(r.resources, "random:index/randomPassword:RandomPassword", "platform-airflow-metadata-db-password").state.result;
        expect(secret.inputs.stringData.password).toBe(airflowPw);
    });

    test("Airflow's Vault policy reads only connections and variables", () => {
        const r = results[stack];
        const policy = getResource(r.resources, "vault:index/policy:Policy", "platform-vault-policy-airflow-read").inputs.policy;
        expect(policyPaths(policy)).toEqual({ "airflow/data/connections/*": ["read"], "airflow/data/variables/*": ["read"] });
    });

    test("stack outputs expose endpoints and Secret names for StackReference", () => {
        const out = results[stack].outputs.platform as any;
        expect(out.kafka.bootstrapServers).toMatch(/:9092$/);
        expect(out.postgres.databaseSecrets.warehouse).toBe("platform-postgres-warehouse-db");
        expect(out.mlflow.trackingUri).toBe(`http://platform-mlflow.airflow-${stack}.svc.cluster.local:80`);
        expect(out.marquez.openLineageNamespace).toBe(`airflow-${stack}`);
        expect(out.vault.mount).toBe("airflow");
    });
});

describe("per-stack shapes", () => {
    test("dev: StatefulSet Postgres, Vault dev mode, no AWS", () => {
        const r = results.dev;
        expect(byType(r.resources, "kubernetes:apps/v1:StatefulSet").map((s) => s.name)).toContain("platform-postgres-statefulset");
        expect(getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "platform-vault").inputs.values.server.dev.enabled).toBe(true);
        expect(byType(r.resources, "aws:s3/bucket:Bucket")).toEqual([]);
    });

    test("prod: RDS, Vault HA raft, IRSA roles annotated on Airflow's and MLflow's service accounts, Redis broker wired", () => {
        const r = results.prod;
        expect(byType(r.resources, "aws:rds/instance:Instance")).toHaveLength(1);
        expect(getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "platform-vault").inputs.values.server.ha.raft.enabled).toBe(true);
        const values = airflowValues(r);
        expect(values.data.brokerUrlSecretName).toBe("platform-redis-auth");
        expect(values.redis.enabled).toBe(false);
        const roleArn = getResource(r.resources, "aws:iam/role:Role", "platform-aws-airflow").state.arn;
        expect(JSON.stringify(values)).toContain(`"eks.amazonaws.com/role-arn":"${roleArn}"`);
        const mlflow = getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "platform-mlflow").inputs.values;
        expect(mlflow.artifactRoot.s3.bucket).toBe("airflow-platform-prod-mlflow");
        expect(mlflow.serviceAccount.annotations["eks.amazonaws.com/role-arn"]).toBe(getResource(r.resources, "aws:iam/role:Role", "platform-aws-mlflow").state.arn);
        const trust = JSON.parse(getResource(r.resources, "aws:iam/role:Role", "platform-aws-airflow").inputs.assumeRolePolicy);
        expect(Object.values(trust.Statement[0].Condition.StringEquals)).toContainEqual(expect.arrayContaining(["system:serviceaccount:airflow-prod:platform-airflow-worker"]));
    });
});

describe("contradictory config names the keys", () => {
    test("Marquez on without its Postgres database", async () => {
        await expect(
            runStack("dev", { mutateConfig: (c) => editConfigObject(c, "postgres", (p) => (p.databases = ["airflow", "mlflow", "warehouse", "feast"])) }),
        ).rejects.toThrow(/marquez\.enabled: .*postgres\.databases/);
    });

    test("a Vault team policy for an undeclared team", async () => {
        await expect(
            runStack("staging", {
                mutateConfig: (c) => editConfigObject(c, "vault", (v) => v.teamPolicies.push({ team: "ghosts", namespace: "airflow-staging", serviceAccounts: ["x"] })),
            }),
        ).rejects.toThrow(/vault\.teamPolicies\[2\]\.team: team "ghosts" is not declared in teams/);
    });

    test("RDS without subnets", async () => {
        await expect(runStack("prod", { mutateConfig: (c) => editConfigObject(c, "postgres", (p) => (p.rds.subnetIds = [])) })).rejects.toThrow(
            /postgres\.rds\.subnetIds/,
        );
    });

    test("an existing Vault without the token secret names the config key", async () => {
        await expect(runStack("dev", { mutateConfig: (c) => editConfigObject(c, "vault", (v) => (v.install = false)) })).rejects.toThrow(
            /vaultToken: vault\.install is false, so the Vault provider needs a token .*pulumi config set --secret vaultToken/,
        );
    });

    test("two secrets backends at once", async () => {
        await expect(runStack("prod", { mutateConfig: (c) => editConfigObject(c, "aws", (a) => (a.secretsManagerPrefix = "airflow-prod")) })).rejects.toThrow(
            /aws\.secretsManagerPrefix: .*vault\.enabled/,
        );
    });

    test("Vault address that isn't the deployed service", async () => {
        await expect(runStack("dev", { mutateConfig: (c) => editConfigObject(c, "vault", (v) => (v.address = "http://vault.elsewhere:8200")) })).rejects.toThrow(
            /vault\.address: .*platform-vault\.airflow-dev\.svc\.cluster\.local/,
        );
    });
});

describe("components switched off", () => {
    test("kafka, mlflow, marquez, vault and monitoring off: none of their resources, Airflow still deployed", async () => {
        // The DAGs needing those services must be left out on purpose, or the dependency contract refuses the stack.
        const manifest = loadManifest();
        const off = new Set(["kafka", "mlflow", "marquez", "vault", "prometheus", "smtp", "slack", "s3"]);
        const needingOff = Object.entries(manifest.dags).filter(([, n]) => n.services.some((s) => off.has(s))).map(([id]) => id);
        const r = await runStack("dev", {
            mutateConfig: (c) => {
                for (const k of ["kafka", "mlflow", "marquez", "vault", "monitoring"]) editConfigObject(c, k, (v) => (v.enabled = false));
                editConfigObject(c, "dags", (d) => (d.exclude = needingOff));
            },
        });
        expect((r.outputs as any).dags.excluded).toEqual(expect.arrayContaining(["phase9_04_message_queues", "phase6_01_mlflow_integration"]));
        const types = new Set(r.resources.map((x) => x.type));
        for (const t of ["Kafka", "Mlflow", "Marquez", "Vault", "Monitoring"]) expect(types.has(`airflow-platform:platform:${t}`)).toBe(false);
        expect(getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "platform-airflow").inputs.values.config.secrets).toBeUndefined();
        expect(Object.keys(r.outputs.platform as object).sort()).toEqual(["airflow", "airflowRelease", "namespace", "postgres", "redis"]);
    });
});

describe("hardening of the platform's own workloads", () => {
    test("namespace NetworkPolicies: one default-deny without rules, plus explicit allows", () => {
        const policies = byType(results.prod.resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((p) => p.inputs);
        const deny = policies.filter((p) => p.spec.ingress === undefined && p.spec.egress === undefined);
        expect(deny).toEqual([expect.objectContaining({ metadata: { name: "platform-network-default-deny", namespace: "airflow-prod" }, spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } })]);
        // One allow per flow (components/values/network.ts; tests/ts/network.test.ts covers the flows).
        expect(policies.map((p) => p.metadata.name)).toEqual(
            expect.arrayContaining(["platform-network-allow-dns", "platform-network-airflow-internal-ingress", "platform-network-ingress-to-api-server-ingress"]),
        );
    });

    test("StatefulSets, Jobs and Strimzi pods run restricted with requests and limits", () => {
        const restricted = (pod: any, c: any) => {
            expect(pod.runAsNonRoot || c.securityContext.runAsNonRoot).toBe(true);
            expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
            expect(c.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
            expect(c.resources.limits).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
        };
        for (const stack of STACKS) {
            const r = results[stack];
            const pods = [...byType(r.resources, "kubernetes:apps/v1:StatefulSet"), ...byType(r.resources, "kubernetes:batch/v1:Job")].map((x) => x.inputs.spec.template.spec);
            expect(pods.length).toBeGreaterThanOrEqual(1);
            for (const pod of pods) for (const c of pod.containers) restricted(pod.securityContext, c);
            const pool = byType(r.resources, "kubernetes:kafka.strimzi.io/v1:KafkaNodePool")[0].inputs.spec;
            restricted(pool.template.pod.securityContext, { securityContext: pool.template.kafkaContainer.securityContext, resources: pool.resources });
        }
    });

    test("Vault has an audit device", () => {
        expect(byType(results.prod.resources, "vault:index/audit:Audit")).toHaveLength(1);
    });
});

describe("DAG topics from the dependency contract", () => {
    test("every topic a DAG declares in needs.yaml is a KafkaTopic with the declared retention", () => {
        const manifest = loadManifest();
        const declared = aggregateNeeds(manifest, Object.keys(manifest.dags)).topics;
        expect(declared.length).toBeGreaterThan(0);
        const created = new Map(byType(results.prod.resources, "kubernetes:kafka.strimzi.io/v1:KafkaTopic").map((t) => [t.inputs.spec.topicName, t.inputs.spec]));
        for (const t of declared) {
            expect([t.name, created.get(t.name)?.config["retention.ms"]]).toEqual([t.name, t.retention_ms]);
            expect(created.get(t.name)?.partitions).toBe(t.partitions);
        }
        // The stack's own kafka.topics are still there.
        expect(created.has("orders")).toBe(true);
    });

    test("a dead-letter topic for an undeclared topic is refused", () => {
        expect(() => mergeTopics([], [{ name: "x.dlq", partitions: 1, retention_ms: 1, dead_letter_for: "x" }])).toThrow(/"x\.dlq" is the dead-letter topic of "x"/);
    });
});

describe("DAG variables from the dependency contract", () => {
    test("every declared variable is written to Vault KV; JSON values as JSON text", () => {
        const manifest = loadManifest();
        const declared = aggregateNeeds(manifest, Object.keys(manifest.dags)).variables;
        expect(Object.keys(declared).length).toBeGreaterThan(0);
        const kv = new Map(byType(results.staging.resources, "vault:kv/secretV2:SecretV2").map((s) => [s.inputs.name, JSON.parse(s.inputs.dataJson)]));
        for (const [name, value] of Object.entries(declared)) {
            const stored = kv.get(`variables/${name}`);
            expect([name, stored?.value]).toEqual([name, typeof value === "string" ? value : JSON.stringify(value)]);
        }
        expect(kv.get("variables/environment")).toEqual({ value: "staging" });
    });
});
