/**
 * Pure values builders of the platform components, validated against the upstream schemas and
 * CRDs in tests/ts/fixtures/schemas (sources named in each SOURCE.md). No Pulumi mocks here.
 */
import * as pv from "../../components/values/postgres";
import * as kv from "../../components/values/kafka";
import * as mv from "../../components/values/mlflow";
import * as mq from "../../components/values/marquez";
import * as vv from "../../components/values/vault";
import * as mon from "../../components/values/monitoring";
import { chartValuesErrors, crdValidator, errorsOf, loadDefaults, unknownKeyPaths } from "./fixtures/schemas";

const dbs = pv.PLATFORM_DATABASES.map((name) => ({ name, secretName: pv.databaseSecretName("pg", name) }));

describe("CloudNativePG", () => {
    const cluster = crdValidator("cloudnative-pg/postgresql.cnpg.io_clusters.yaml", "v1");
    const database = crdValidator("cloudnative-pg/postgresql.cnpg.io_databases.yaml", "v1");

    test("Cluster CR validates against the v1.30 CRD and manages one role per database", () => {
        const cr = pv.cnpgCluster({ name: "pg", namespace: "airflow", instances: 3, storageSize: "20Gi", databases: dbs });
        expect(errorsOf(cluster, cr)).toBe("");
        const spec = cr.spec as any;
        expect(spec.managed.roles.map((r: any) => r.name)).toEqual(["airflow", "mlflow", "marquez", "warehouse", "feast"]);
        expect(spec.managed.roles.every((r: any) => r.passwordSecret.name.startsWith("pg-"))).toBe(true);
        expect(spec.bootstrap.initdb).toEqual({ database: "airflow", owner: "airflow", secret: { name: "pg-airflow-db" } });
        expect(spec.imageName).not.toMatch(/bitnami/);
    });

    test("a misspelt Cluster field fails the CRD schema", () => {
        const cr = pv.cnpgCluster({ name: "pg", namespace: "airflow", instances: 1, storageSize: "1Gi", databases: dbs }) as any;
        cr.spec.instances = "three";
        expect(errorsOf(cluster, cr)).toMatch(/instances/);
    });

    test("Database CRs validate and are owned by their same-named role", () => {
        for (const db of ["mlflow", "warehouse"]) {
            const cr = pv.cnpgDatabase("pg", "airflow", db);
            expect(errorsOf(database, cr)).toBe("");
            expect((cr.spec as any).owner).toBe(db);
        }
    });

    test("operator values validate against the cloudnative-pg chart schema", () => {
        const chart = "cloudnative-pg/charts/cloudnative-pg";
        expect(chartValuesErrors(chart, pv.cnpgOperatorValues({}))).toBe("");
        expect(chartValuesErrors(chart, pv.cnpgOperatorValues({ watchNamespace: "airflow" }))).toBe("");
        expect(chartValuesErrors(chart, { ...pv.cnpgOperatorValues({}), crds: { create: "yes" } })).toMatch(/crds/);
    });

    test("bad database lists name the key", () => {
        expect(() => pv.validateDatabases("postgres.databases", ["airflow", "airflow"])).toThrow(/postgres\.databases\[1\]: database "airflow" is listed twice/);
        expect(() => pv.validateDatabases("postgres.databases", ["Air-flow"])).toThrow(/postgres\.databases\[0\]/);
        expect(() => pv.validateDatabases("postgres.databases", [])).toThrow(/postgres\.databases: at least one/);
    });

    test("RDS bootstrap SQL carries no password, only psql variables", () => {
        const sql = pv.rdsBootstrapSql(["airflow", "mlflow"]);
        expect(sql).toContain("ALTER ROLE airflow WITH LOGIN PASSWORD :'pw_airflow';");
        expect(sql).toContain("CREATE DATABASE %I OWNER %I', 'mlflow', 'mlflow'");
        const [, , script] = pv.rdsBootstrapCommand(["airflow", "mlflow"]);
        expect(script).toContain('psql -v pw_airflow="$PW_AIRFLOW" -v pw_mlflow="$PW_MLFLOW" -f /bootstrap/bootstrap.sql');
        expect(script).toMatch(/^until pg_isready/);
    });

    test("connection URIs percent-encode the password", () => {
        expect(pv.postgresUri({ user: "mlflow", password: "a/b@c", host: "h", port: 5432, database: "mlflow" })).toBe(
            "postgresql://mlflow:a%2Fb%40c@h:5432/mlflow",
        );
    });
});

describe("Strimzi (kafka.strimzi.io/v1 only)", () => {
    const input = { name: "events", namespace: "airflow", replicas: 3, storageSize: "50Gi" };
    const topics: kv.TopicInput[] = [
        { name: "orders", partitions: 3, retentionMs: 604800000, deadLetterRetentionMs: 1209600000 },
        { name: "audit_log", partitions: 1, retentionMs: 86400000 },
    ];

    test("Kafka CR (KRaft, no ZooKeeper) validates against the 1.2.0 CRD", () => {
        const cr = kv.kafkaCluster(input);
        expect(cr.apiVersion).toBe("kafka.strimzi.io/v1");
        expect(errorsOf(crdValidator("strimzi/040-Crd-kafka.yaml", "v1"), cr)).toBe("");
        expect((cr.spec as any).zookeeper).toBeUndefined();
        expect((cr.spec as any).kafka.config["auto.create.topics.enable"]).toBe(false);
    });

    test("v1beta2 is not served by Strimzi 1.2.0", () => {
        expect(() => crdValidator("strimzi/040-Crd-kafka.yaml", "v1beta2")).toThrow();
    });

    test("KafkaNodePool runs both KRaft roles and names its cluster", () => {
        const pool = kv.kafkaNodePool(input);
        expect(errorsOf(crdValidator("strimzi/045-Crd-kafkanodepool.yaml", "v1"), pool)).toBe("");
        expect((pool.metadata as any).labels["strimzi.io/cluster"]).toBe("events");
        expect((pool.spec as any).roles).toEqual(["controller", "broker"]);
    });

    test("every topic and its dead-letter topic has explicit retention and validates", () => {
        const crs = kv.kafkaTopics("events", "airflow", 3, topics);
        const fn = crdValidator("strimzi/043-Crd-kafkatopic.yaml", "v1");
        expect(crs.map((c: any) => c.spec.topicName)).toEqual(["orders", "orders.dlq", "audit_log"]);
        for (const cr of crs) {
            expect(errorsOf(fn, cr)).toBe("");
            expect((cr as any).spec.config["retention.ms"]).toBeGreaterThan(0);
        }
        expect((crs[1] as any).spec.config["retention.ms"]).toBe(1209600000);
        expect((crs[1] as any).metadata.labels["airflow-platform/dead-letter"]).toBe("true");
        // Kubernetes names are DNS labels even when the topic has '_' or '.'.
        expect((crs[2] as any).metadata.name).toBe("events-audit-log");
    });

    test("topic errors name the key", () => {
        expect(() => kv.validateTopics("kafka.topics", [{ name: "a", partitions: 1, retentionMs: 0 }])).toThrow(/kafka\.topics\[0\]\.retentionMs/);
        expect(() => kv.validateTopics("kafka.topics", [{ name: "bad topic", partitions: 1, retentionMs: 1 }])).toThrow(/kafka\.topics\[0\]\.name/);
        expect(() =>
            kv.validateTopics("kafka.topics", [
                { name: "a", partitions: 1, retentionMs: 1, deadLetterRetentionMs: 1 },
                { name: "a.dlq", partitions: 1, retentionMs: 1 },
            ]),
        ).toThrow(/kafka\.topics\[1\]\.name: topic "a\.dlq" is declared twice/);
    });

    test("operator values only use keys of the chart's values.yaml", () => {
        expect(unknownKeyPaths(kv.strimziOperatorValues(["airflow"]), loadDefaults("strimzi/chart/values.yaml"))).toEqual([]);
    });

    test("the Airflow kafka connection points at the bootstrap service", () => {
        const bootstrap = kv.bootstrapServers("events", "airflow");
        expect(bootstrap).toBe("events-kafka-bootstrap.airflow.svc.cluster.local:9092");
        expect(kv.kafkaAirflowConnection(bootstrap)).toMatchObject({ conn_type: "kafka", extra: { "bootstrap.servers": bootstrap } });
    });
});

describe("MLflow chart", () => {
    const values = mv.mlflowValues({
        releaseName: "mlflow",
        db: { host: "pg-rw.airflow.svc.cluster.local", port: 5432, database: "mlflow", secretName: "pg-mlflow-db" },
        artifacts: { bucket: "acme-mlflow", path: "artifacts" },
        serviceAccount: { name: "mlflow", roleArn: "arn:aws:iam::123456789012:role/mlflow" },
        replicas: 1,
    });

    test("values validate against the community chart schema, credentials by Secret only", () => {
        expect(chartValuesErrors("mlflow-chart", values)).toBe("");
        const store = (values as any).backendStore;
        expect(store.postgres.password).toBeUndefined();
        expect(store.existingDatabaseSecret).toEqual({ name: "pg-mlflow-db", usernameKey: "username", passwordKey: "password" });
        expect((values as any).artifactRoot.s3.awsSecretAccessKey).toBeUndefined();
        expect((values as any).serviceAccount.annotations["eks.amazonaws.com/role-arn"]).toMatch(/role\/mlflow$/);
    });

    test("the chart's Bitnami subcharts stay off", () => {
        expect((values as any).postgresql.enabled).toBe(false);
        expect((values as any).mysql.enabled).toBe(false);
    });

    test("a misspelt key fails the schema", () => {
        expect(chartValuesErrors("mlflow-chart", { ...values, backendStroe: {} })).not.toBe("");
    });
});

describe("Marquez chart", () => {
    const values = mq.marquezValues({
        releaseName: "marquez",
        db: { host: "pg-rw", port: 5432, database: "marquez", user: "marquez" },
        passwordSecretName: "pg-marquez-lineage",
        webEnabled: true,
    });

    test("Bitnami postgresql subchart disabled, password from an existing Secret", () => {
        expect((values as any).postgresql).toEqual({ enabled: false });
        expect((values as any).marquez.existingSecretName).toBe("pg-marquez-lineage");
        expect((values as any).marquez.db.password).toBeNull();
        expect(JSON.stringify(values)).not.toMatch(/bitnami|macondo/);
    });

    test("values only use keys of the chart's values.yaml (the chart ships no schema)", () => {
        const defaults = loadDefaults("marquez-chart/values.yaml") as any;
        // existingSecretName is documented (commented out) in values.yaml and read by _helpers.tpl.
        defaults.marquez.existingSecretName = "";
        defaults.fullnameOverride = "";
        expect(unknownKeyPaths(values, defaults)).toEqual([]);
    });

    test("OpenLineage namespace per environment and HTTP transport", () => {
        expect(mq.openLineageNamespace("prod")).toBe("airflow-prod");
        expect(JSON.parse(mq.openLineageTransport(mq.marquezUrl("marquez", "airflow")))).toEqual({
            type: "http",
            url: "http://marquez.airflow.svc.cluster.local:80",
            endpoint: "api/v1/lineage",
        });
    });
});

describe("Vault chart and policies", () => {

    test("dev mode validates; the root token comes from a Secret, not values", () => {
        const values = vv.vaultValues({ releaseName: "vault", mode: "dev", replicas: 1, storageSize: "1Gi", devRootTokenSecretName: "vault-root" }, "airflow");
        expect(chartValuesErrors("vault-helm", values)).toBe("");
        expect((values as any).server.dev).toEqual({ enabled: true });
        // Under its own name: the chart already sets VAULT_DEV_ROOT_TOKEN_ID, and a duplicate env key is refused by SSA.
        expect((values as any).server.extraSecretEnvironmentVars).toEqual([
            { envName: "VAULT_PLATFORM_DEV_ROOT_TOKEN", secretName: "vault-root", secretKey: "root-token" },
        ]);
        expect((values as any).server.extraArgs).toBe('-dev-root-token-id="${VAULT_PLATFORM_DEV_ROOT_TOKEN}"');
    });

    test("HA raft validates with one retry_join per replica", () => {
        const values = vv.vaultValues({ releaseName: "vault", mode: "ha", replicas: 3, storageSize: "10Gi", seal: { type: "shamir" } }, "airflow") as any;
        expect(chartValuesErrors("vault-helm", values)).toBe("");
        expect(values.server.ha.raft.config).not.toContain("seal");
        expect(() => vv.vaultValues({ releaseName: "vault", mode: "ha", replicas: 3, storageSize: "10Gi" }, "airflow")).toThrow(/needs a seal/);
        expect(values.server.ha.raft.enabled).toBe(true);
        expect(values.server.ha.raft.config.match(/retry_join/g)).toHaveLength(3);
        expect(values.server.ha.raft.config).toContain('leader_api_addr = "http://vault-2.vault-internal.airflow.svc:8200"');
    });

    test("a wrongly typed value fails the vault-helm schema", () => {
        const values = vv.vaultValues({ releaseName: "vault", mode: "ha", replicas: 3, storageSize: "10Gi", seal: { type: "shamir" } }, "airflow") as any;
        values.server.ha.replicas = "three";
        expect(chartValuesErrors("vault-helm", values)).toMatch(/replicas/);
    });

    const layout = vv.vaultLayout({
        mount: "airflow",
        prefix: "vault",
        airflow: { namespace: "af", serviceAccounts: ["airflow-worker"] },
        teams: [{ name: "payments", namespace: "payments", serviceAccounts: ["payments-ci"] }],
    });

    test("Airflow's policy reads only connections and variables", () => {
        expect(vv.policyPaths(layout.policies["vault-airflow-read"])).toEqual({
            "airflow/data/connections/*": ["read"],
            "airflow/data/variables/*": ["read"],
        });
    });

    test("a team's policy covers only its own subtree", () => {
        const paths = vv.policyPaths(layout.policies["vault-team-payments"]);
        expect(Object.keys(paths)).toEqual(["airflow/data/variables/teams/payments/*", "airflow/metadata/variables/teams/payments/*"]);
        expect(JSON.stringify(paths)).not.toMatch(/connections|teams\/\*|sys\//);
    });

    test("no policy of the layout grants sys/, auth/, list on connections, or a wildcard over the whole mount", () => {
        for (const [name, hcl] of Object.entries(layout.policies)) {
            for (const [path, caps] of Object.entries(vv.policyPaths(hcl))) {
                expect(`${name} ${path}`).not.toMatch(/ (sys|auth)\/|^\S+ airflow\/(data|metadata)\/\*$/);
                if (path.includes("/connections/")) expect(caps).not.toContain("list");
            }
        }
    });

    test("every role of the layout names only policies the layout defines, with the layout's TTLs", () => {
        const roles = [...Object.values(layout.auth.approle.roles), ...Object.values(layout.auth.kubernetes.roles)];
        expect(roles.length).toBe(8);
        for (const role of roles) {
            for (const p of role.token_policies) expect(Object.keys(layout.policies)).toContain(p);
            expect(role).toMatchObject({ token_ttl: 3600, token_max_ttl: 14400 });
        }
        expect(layout.auth.kubernetes.roles["team-payments"]).toMatchObject({ bound_service_account_names: ["payments-ci"], bound_service_account_namespaces: ["payments"] });
        expect(layout.auth.kubernetes.roles.airflow.bound_service_account_namespaces).toEqual(["af"]);
    });

    test("a team policy for an undeclared team names both keys", () => {
        expect(() => vv.validateTeams("vault.teams", ["payments"], "vault.teamPolicies", ["payments", "ghosts"])).toThrow(
            /vault\.teamPolicies\[1\]: team "ghosts" is not declared in vault\.teams/,
        );
    });

    test("VaultBackend settings use Kubernetes auth and KV v2", () => {
        const { backend, kwargs } = vv.airflowVaultBackend("http://vault:8200", "airflow", "airflow");
        expect(backend).toBe("airflow.providers.hashicorp.secrets.vault.VaultBackend");
        expect(kwargs).toMatchObject({ auth_type: "kubernetes", kubernetes_role: "airflow", kv_engine_version: 2, mount_point: "airflow" });
    });
});

describe("kube-prometheus-stack, ServiceMonitor, PrometheusRule", () => {
    const alerting: mon.AlertingInput = {
        credentialsSecretName: "mon-alerting",
        slackChannel: "#airflow-alerts",
        incidentsChannel: "#incidents",
        leadershipEmail: "leadership@example.com",
        teams: { payments: "payments@example.com", growth: "growth@example.com" },
        defaultTeamEmail: "data-platform@example.com",
        smtp: { smarthost: "smtp.example.com:587", from: "airflow@example.com", username: "airflow" },
    };

    test("P1..P4 routes: page+#incidents+leadership, Slack+team email, Slack, log only", () => {
        const cfg = mon.alertmanagerConfig(alerting) as any;
        const receiverOf = (sev: string) => cfg.route.routes.find((r: any) => r.matchers.length === 1 && r.matchers[0] === `severity="${sev}"`).receiver;
        const receiver = (name: string) => cfg.receivers.find((r: any) => r.name === name);
        const p1 = receiver(receiverOf("P1"));
        expect(p1.pagerduty_configs).toHaveLength(1);
        expect(p1.slack_configs[0].channel).toBe("#incidents");
        expect(p1.email_configs[0].to).toBe("leadership@example.com");
        const p2 = receiver(receiverOf("P2"));
        expect(p2.slack_configs).toHaveLength(1);
        expect(p2.email_configs[0].to).toBe("data-platform@example.com");
        const p3 = receiver(receiverOf("P3"));
        expect(Object.keys(p3).sort()).toEqual(["name", "slack_configs"]);
        expect(receiver(receiverOf("P4"))).toEqual({ name: "p4-log-only" });
        // Team routing: a P2 alert labelled team=payments mails that team.
        const teamRoute = cfg.route.routes.find((r: any) => r.matchers.includes('team="payments"'));
        expect(receiver(teamRoute.receiver).email_configs[0].to).toBe("payments@example.com");
    });

    test("credentials are file references into the mounted Secret", () => {
        const values = mon.kubePrometheusStackValues({ alerting, retention: "15d", storageSize: "50Gi", grafanaAdminSecretName: "mon-grafana" }) as any;
        const text = JSON.stringify(values);
        expect(text).not.toMatch(/hooks\.slack\.com|api_url"|routing_key"|smtp_auth_password"/);
        expect(values.alertmanager.alertmanagerSpec.secrets).toEqual(["mon-alerting"]);
        expect(text).toContain("/etc/alertmanager/secrets/mon-alerting/slack-webhook-url");
    });

    test("values only use keys known to the chart's values.yaml", () => {
        const values = mon.kubePrometheusStackValues({ alerting, retention: "15d", storageSize: "50Gi", grafanaAdminSecretName: "g" }) as any;
        const defaults = loadDefaults("kube-prometheus-stack/values.yaml") as any;
        // alertmanager.config, grafana.* and kube-state-metrics.* are free-form (the subcharts' defaults are not in this file).
        const { config: _c, ...am } = values.alertmanager;
        const { grafana: _g, "kube-state-metrics": _k, ...rest } = values;
        expect(unknownKeyPaths({ ...rest, alertmanager: am }, defaults)).toEqual([]);
    });

    test("ServiceMonitor selects the Airflow chart's statsd Service and validates", () => {
        const sm = mon.statsdServiceMonitor("airflow-statsd", "airflow", "airflow");
        expect(errorsOf(crdValidator("prometheus-operator/monitoring.coreos.com_servicemonitors.yaml", "v1"), sm)).toBe("");
        expect((sm.spec as any).endpoints[0].port).toBe("statsd-scrape");
        expect((sm.spec as any).selector.matchLabels).toEqual({ tier: "airflow", component: "statsd", release: "airflow" });
    });

    test("PrometheusRule has the four Airflow alerts, each with a P-severity, and validates", () => {
        const rule = mon.airflowPrometheusRule("airflow-alerts", "airflow", "data-platform");
        expect(errorsOf(crdValidator("prometheus-operator/monitoring.coreos.com_prometheusrules.yaml", "v1"), rule)).toBe("");
        const rules = (rule.spec as any).groups[0].rules;
        expect(rules.map((r: any) => r.alert)).toEqual([
            "AirflowSchedulerHeartbeatMissing",
            "AirflowDagRunFailures",
            "AirflowTaskFailureRateHigh",
            "AirflowPoolStarvation",
        ]);
        expect(rules.every((r: any) => mon.SEVERITIES.includes(r.labels.severity))).toBe(true);
        expect(rules[0].labels.severity).toBe("P1");
    });

    test("dashboard charts every alerting signal", () => {
        const dash = mon.airflowDashboard("Airflow") as any;
        const exprs = dash.panels.map((p: any) => p.targets[0].expr).join("\n");
        for (const metric of ["airflow_scheduler_heartbeat", "airflow_dagrun_duration_count", "airflow_ti_failures", "airflow_pool_starving_tasks"]) {
            expect(exprs).toContain(metric);
        }
    });
});

describe("MLflow chart without S3 (dev)", () => {
    test("local proxied artifacts validate and keep S3 off", () => {
        const values = mv.mlflowValues({
            releaseName: "mlflow",
            db: { host: "pg", port: 5432, database: "mlflow", secretName: "pg-mlflow-db" },
            artifacts: null,
            serviceAccount: { name: "mlflow" },
            replicas: 1,
        }) as any;
        expect(chartValuesErrors("mlflow-chart", values)).toBe("");
        expect(values.artifactRoot).toEqual({ proxiedArtifactStorage: true, defaultArtifactsDestination: "./mlartifacts", s3: { enabled: false } });
        expect(values.serviceAccount.annotations).toEqual({});
    });
});
