/**
 * NetworkPolicies of the platform namespace as data: one default-deny (every pod, Ingress and Egress, no
 * rules) plus one allow per flow between the components that talk. A flow is written once (clients → server
 * on ports) and becomes an egress policy on the clients and an ingress policy on the server, because with
 * default-deny both directions must be opened. Pods are selected by the labels their charts/specs set.
 */
import type { StackConfig } from "../../config/schema";
import { KAFKA_PLAIN_PORT } from "./kafka";
import { k8sName } from "./naming";
import { REDIS_PORT } from "./redis";
import { VAULT_PORT } from "./vault";

export interface LabelSelector {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

/** Something traffic comes from or goes to. */
export type Peer =
    | { kind: "pods"; name: string; selector: LabelSelector }
    | { kind: "namespace"; name: string; namespace: string; pods?: LabelSelector }
    /** Outside the cluster (AWS endpoints, RDS, git host, the Kubernetes API, webhooks): any address, only on the flow's ports. */
    | { kind: "external"; name: string };

export interface Port {
    port: number;
    protocol?: "TCP" | "UDP";
}

export interface Flow {
    name: string;
    from: Peer[];
    to: Peer;
    ports: Port[];
}

export interface NetworkPolicyEntry {
    /** Suffix of the resource and Kubernetes object name. */
    name: string;
    spec: Record<string, unknown>;
}

const pods = (name: string, matchLabels: Record<string, string>): Peer => ({ kind: "pods", name, selector: { matchLabels } });
const podsWithLabel = (name: string, key: string): Peer => ({ kind: "pods", name, selector: { matchExpressions: [{ key, operator: "Exists" }] } });
const EXTERNAL = (name: string): Peer => ({ kind: "external", name });
const tcp = (...ports: number[]): Port[] => ports.map((port) => ({ port, protocol: "TCP" }));

/** Labels the official Airflow chart puts on its pods (`tier: airflow`, `component: <x>`). */
export const AIRFLOW_PODS = pods("airflow", { tier: "airflow" });
const airflowComponent = (component: string) => pods(`airflow-${component}`, { tier: "airflow", component });

/** The platform's own Airflow CLI Jobs (components/pools.ts imports pools) reach the metadata DB like the chart's pods. */
export const AIRFLOW_CLI_JOBS = pods("airflow-cli-jobs", { "app.kubernetes.io/name": "airflow-pools-import" });

/** Ports inside the Airflow release: api-server (UI + execution API), pgbouncer, chart Redis, worker/triggerer log servers, StatsD. */
export const AIRFLOW_API_PORT = 8080;
const AIRFLOW_INTERNAL_PORTS: Port[] = [...tcp(AIRFLOW_API_PORT, 6543, REDIS_PORT, 8793, 8794), { port: 9125, protocol: "UDP" }];
/** Prometheus scrape ports: statsd-exporter and the pgbouncer exporter. */
export const AIRFLOW_METRICS_PORTS = tcp(9102, 9127);
const POSTGRES_PORT = 5432;
/** Container ports (NetworkPolicy ports are the pods', not the Services'). */
const MLFLOW_CONTAINER_PORT = 5000;
const MARQUEZ_CONTAINER_PORTS = tcp(5000, 5001);
const KUBE_API_PORTS = tcp(443, 6443);

export interface NetworkInput {
    /** How Postgres runs: in the namespace (CloudNativePG or the StatefulSet) or outside it (RDS). */
    postgres: "cnpg" | "statefulset" | "external" | "off";
    redis: boolean;
    kafka: boolean;
    mlflow: boolean;
    marquez: boolean;
    /** Vault installed in the namespace (false when it is off or an external Vault is used). */
    vault: boolean;
    /** A Vault outside the namespace the Airflow pods must reach. */
    externalVault: boolean;
    monitoring: boolean;
    /** Namespace of the ingress controller that may reach the API server; null when there is no ingress. */
    ingressControllerNamespace: string | null;
    /** The RDS bootstrap Job's name (its pods reach the external Postgres); null when there is none. */
    postgresBootstrapJob: string | null;
    /** KEDA (in its own namespace) reads the queue depth from the metadata DB, through PgBouncer when it is on. */
    keda: { namespace: string; viaPgbouncer: boolean } | null;
    /** The Kubernetes executor: the scheduler launches task pods through the API server. */
    airflowLaunchesPods: boolean;
    /** Namespaces whose pods may call Vault (the Pulumi runner writing KV, operators); empty = none. */
    vaultAdminNamespaces: string[];
}

function postgresPeer(mode: NetworkInput["postgres"]): Peer | undefined {
    if (mode === "cnpg") return podsWithLabel("postgres", "cnpg.io/cluster");
    if (mode === "statefulset") return pods("postgres", { "app.kubernetes.io/name": "postgres" });
    if (mode === "external") return EXTERNAL("postgres");
    return undefined;
}

/** Who talks to whom in this platform, given which components are on. */
export function platformFlows(input: NetworkInput): Flow[] {
    const flows: Flow[] = [
        { name: "airflow-internal", from: [AIRFLOW_PODS], to: AIRFLOW_PODS, ports: AIRFLOW_INTERNAL_PORTS },
        { name: "airflow-jobs-to-pgbouncer", from: [AIRFLOW_CLI_JOBS], to: airflowComponent("pgbouncer"), ports: tcp(6543) },
        // Remote logs and data in S3 (and STS for IRSA), the HTTPS APIs tasks call, git-sync over SSH, mail submission.
        { name: "airflow-to-external", from: [AIRFLOW_PODS], to: EXTERNAL("https-git-smtp"), ports: tcp(443, 22, 587) },
    ];
    const pg = postgresPeer(input.postgres);
    if (pg) {
        const clients = [AIRFLOW_PODS, AIRFLOW_CLI_JOBS];
        if (input.mlflow) clients.push(pods("mlflow", { "app.kubernetes.io/name": "mlflow" }));
        if (input.marquez) clients.push(pods("marquez", { "app.kubernetes.io/name": "marquez" }));
        if (input.postgresBootstrapJob) clients.push(pods("postgres-bootstrap", { "batch.kubernetes.io/job-name": input.postgresBootstrapJob }));
        flows.push({ name: "to-postgres", from: clients, to: pg, ports: tcp(POSTGRES_PORT) });
    }
    if (input.keda) {
        const from: Peer[] = [{ kind: "namespace", name: "keda", namespace: input.keda.namespace }];
        if (input.keda.viaPgbouncer) flows.push({ name: "keda-to-pgbouncer", from, to: airflowComponent("pgbouncer"), ports: tcp(6543) });
        else if (pg && pg.kind === "pods") flows.push({ name: "keda-to-postgres", from, to: pg, ports: tcp(POSTGRES_PORT) });
    }
    if (input.airflowLaunchesPods) {
        flows.push({ name: "airflow-to-kube-api", from: [airflowComponent("scheduler")], to: EXTERNAL("kube-apiserver"), ports: KUBE_API_PORTS });
    }
    if (input.postgres === "cnpg") {
        const operator = pods("cnpg-operator", { "app.kubernetes.io/name": "cloudnative-pg" });
        flows.push(
            { name: "postgres-replication", from: [pg!], to: pg!, ports: tcp(POSTGRES_PORT, 8000) },
            { name: "cnpg-operator-to-postgres", from: [operator], to: pg!, ports: tcp(8000) },
            { name: "cnpg-webhook", from: [EXTERNAL("kube-apiserver")], to: operator, ports: tcp(9443) },
            { name: "cnpg-to-kube-api", from: [operator, pg!], to: EXTERNAL("kube-apiserver"), ports: KUBE_API_PORTS },
        );
    }
    if (input.redis) flows.push({ name: "airflow-to-redis", from: [AIRFLOW_PODS], to: pods("redis", { "app.kubernetes.io/name": "redis" }), ports: tcp(REDIS_PORT) });
    if (input.kafka) {
        const kafkaPods = podsWithLabel("kafka", "strimzi.io/cluster");
        const operator = pods("strimzi-operator", { "strimzi.io/kind": "cluster-operator" });
        flows.push(
            { name: "airflow-to-kafka", from: [AIRFLOW_PODS], to: kafkaPods, ports: tcp(KAFKA_PLAIN_PORT) },
            // Brokers/controllers among themselves and the entity operator (replication 9091, controller 9090/9093).
            { name: "kafka-internal", from: [kafkaPods, operator], to: kafkaPods, ports: tcp(9090, 9091, KAFKA_PLAIN_PORT, 9093) },
            { name: "strimzi-to-kube-api", from: [operator, kafkaPods], to: EXTERNAL("kube-apiserver"), ports: KUBE_API_PORTS },
        );
    }
    if (input.mlflow) {
        const mlflow = pods("mlflow", { "app.kubernetes.io/name": "mlflow" });
        flows.push(
            { name: "airflow-to-mlflow", from: [AIRFLOW_PODS], to: mlflow, ports: tcp(MLFLOW_CONTAINER_PORT) },
            // Artifacts in S3 (and STS for IRSA).
            { name: "mlflow-to-external", from: [mlflow], to: EXTERNAL("aws"), ports: tcp(443) },
        );
    }
    if (input.marquez) {
        flows.push(
            { name: "airflow-to-marquez", from: [AIRFLOW_PODS], to: pods("marquez", { "app.kubernetes.io/name": "marquez" }), ports: MARQUEZ_CONTAINER_PORTS },
            // The web UI calls the API (both pods carry the chart's name; the component label tells them apart).
            {
                name: "marquez-web-to-api",
                from: [pods("marquez-web", { "app.kubernetes.io/name": "marquez", "app.kubernetes.io/component": "web" })],
                to: pods("marquez-api", { "app.kubernetes.io/name": "marquez", "app.kubernetes.io/component": "marquez" }),
                ports: tcp(5000),
            },
        );
    }
    if (input.vault) {
        const vault = pods("vault", { "app.kubernetes.io/name": "vault" });
        flows.push(
            { name: "airflow-to-vault", from: [AIRFLOW_PODS], to: vault, ports: tcp(VAULT_PORT) },
            { name: "vault-cluster", from: [vault], to: vault, ports: tcp(VAULT_PORT, VAULT_PORT + 1) },
            // Kubernetes auth: Vault asks the API server's TokenReview about the callers' service-account tokens.
            { name: "vault-to-kube-api", from: [vault], to: EXTERNAL("kube-apiserver"), ports: KUBE_API_PORTS },
        );
        if (input.vaultAdminNamespaces.length) {
            const from: Peer[] = input.vaultAdminNamespaces.map((ns) => ({ kind: "namespace", name: `vault-admin-${ns}`, namespace: ns }));
            flows.push({ name: "admins-to-vault", from, to: vault, ports: tcp(VAULT_PORT) });
        }
    }
    if (input.externalVault) flows.push({ name: "airflow-to-external-vault", from: [AIRFLOW_PODS], to: EXTERNAL("vault"), ports: tcp(VAULT_PORT, 443) });
    if (input.monitoring) {
        const prometheus = pods("prometheus", { "app.kubernetes.io/name": "prometheus" });
        const alertmanager = pods("alertmanager", { "app.kubernetes.io/name": "alertmanager" });
        const grafana = pods("grafana", { "app.kubernetes.io/name": "grafana" });
        const promOperator = pods("prometheus-operator", { app: "kube-prometheus-stack-operator" });
        const kubeStateMetrics = pods("kube-state-metrics", { "app.kubernetes.io/name": "kube-state-metrics" });
        flows.push(
            { name: "prometheus-to-airflow-metrics", from: [prometheus], to: AIRFLOW_PODS, ports: AIRFLOW_METRICS_PORTS },
            // The chart's own ServiceMonitors: kube-state-metrics, the operator (https), Grafana.
            { name: "prometheus-to-kube-state-metrics", from: [prometheus], to: kubeStateMetrics, ports: tcp(8080) },
            { name: "prometheus-to-operator", from: [prometheus], to: promOperator, ports: tcp(10250) },
            { name: "prometheus-to-grafana", from: [prometheus], to: grafana, ports: tcp(3000) },
            // Kubelets (cAdvisor) and the API server are scraped on the nodes' addresses.
            { name: "prometheus-to-nodes", from: [prometheus], to: EXTERNAL("kubelets"), ports: tcp(10250) },
            { name: "prometheus-to-alertmanager", from: [prometheus], to: alertmanager, ports: tcp(9093) },
            { name: "grafana-to-prometheus", from: [grafana], to: prometheus, ports: tcp(9090) },
            // Slack, PagerDuty and SMTP receivers.
            { name: "alertmanager-to-external", from: [alertmanager], to: EXTERNAL("receivers"), ports: tcp(443, 587) },
            { name: "monitoring-to-kube-api", from: [promOperator, prometheus, grafana, kubeStateMetrics], to: EXTERNAL("kube-apiserver"), ports: KUBE_API_PORTS },
            { name: "prometheus-operator-webhook", from: [EXTERNAL("kube-apiserver")], to: promOperator, ports: tcp(10250) },
        );
    }
    if (input.ingressControllerNamespace) {
        flows.push({
            name: "ingress-to-api-server",
            from: [{ kind: "namespace", name: "ingress-controller", namespace: input.ingressControllerNamespace }],
            to: airflowComponent("api-server"),
            ports: tcp(AIRFLOW_API_PORT),
        });
    }
    return flows;
}

function peerRule(p: Peer): Record<string, unknown> {
    if (p.kind === "pods") return { podSelector: p.selector };
    if (p.kind === "namespace") return { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": p.namespace } }, ...(p.pods ? { podSelector: p.pods } : {}) };
    return { ipBlock: { cidr: "0.0.0.0/0" } };
}

const DEFAULT_DENY: NetworkPolicyEntry = { name: "default-deny", spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } };

/** Every pod may resolve names through the cluster DNS (kube-system, k8s-app=kube-dns), and nothing else by default. */
const ALLOW_DNS: NetworkPolicyEntry = {
    name: "allow-dns",
    spec: {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [
            {
                to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                ports: [
                    { port: 53, protocol: "UDP" },
                    { port: 53, protocol: "TCP" },
                ],
            },
        ],
    },
};

/** The default-deny, DNS, and for each flow an egress policy on its in-namespace clients and an ingress policy on its in-namespace server. */
export function networkPolicyEntries(input: NetworkInput): NetworkPolicyEntry[] {
    const entries: NetworkPolicyEntry[] = [DEFAULT_DENY, ALLOW_DNS];
    for (const flow of platformFlows(input)) {
        const ports = flow.ports.map((p) => ({ port: p.port, protocol: p.protocol ?? "TCP" }));
        const clients = flow.from.filter((p): p is Extract<Peer, { kind: "pods" }> => p.kind === "pods");
        for (const client of clients) {
            entries.push({
                name: `${flow.name}-egress-${client.name}`,
                spec: { podSelector: client.selector, policyTypes: ["Egress"], egress: [{ to: [peerRule(flow.to)], ports }] },
            });
        }
        if (flow.to.kind === "pods") {
            entries.push({
                name: `${flow.name}-ingress`,
                spec: { podSelector: flow.to.selector, policyTypes: ["Ingress"], ingress: [{ from: flow.from.map(peerRule), ports }] },
            });
        }
    }
    const names = entries.map((e) => e.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate) throw new Error(`network policy "${duplicate}" is generated twice: flow names must be unique`);
    return entries;
}

/** Namespace KEDA is installed in (its chart's default); it reads the queue depth for worker autoscaling. */
export const KEDA_NAMESPACE = "keda";

/** The topology of one stack, from its config; `platformName` is the Platform component's name. */
export function networkInputFromConfig(config: StackConfig, platformName: string): NetworkInput {
    const pg = config.postgres;
    const postgres: NetworkInput["postgres"] = pg.mode === "rds" ? "external" : pg.mode;
    const airflow = config.airflow;
    return {
        postgres,
        // The Postgres component runs its bootstrap Job (roles, databases) unless CloudNativePG does it.
        postgresBootstrapJob: pg.mode !== "cnpg" ? k8sName(`${platformName}-postgres`, "bootstrap") : null,
        redis: config.redis.enabled,
        kafka: config.kafka.enabled,
        mlflow: config.mlflow.enabled,
        marquez: config.marquez.enabled,
        vault: config.vault.enabled && config.vault.install,
        externalVault: config.vault.enabled && !config.vault.install,
        monitoring: config.monitoring.enabled,
        ingressControllerNamespace: airflow.ingress.enabled ? airflow.ingress.controllerNamespace : null,
        keda: airflow.keda.enabled ? { namespace: KEDA_NAMESPACE, viaPgbouncer: airflow.pgbouncer.enabled } : null,
        airflowLaunchesPods: airflow.executor.includes("KubernetesExecutor"),
        vaultAdminNamespaces: [],
    };
}
