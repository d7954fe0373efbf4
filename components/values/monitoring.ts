/**
 * Pure builders for the Monitoring component: kube-prometheus-stack values with the Alertmanager
 * P1..P4 routing tree, the ServiceMonitor for the Airflow chart's statsd exporter, the
 * PrometheusRules, and the Grafana dashboard. Credentials (Slack webhook, PagerDuty key, SMTP
 * password) are read by Alertmanager from files mounted from a Secret: never in values.
 */

import { RESTRICTED_CONTAINER, resources, restrictedPod, SIZES } from "./security";

export const KPS_CHART = { chart: "kube-prometheus-stack", version: "88.5.3", repo: "https://prometheus-community.github.io/helm-charts" };
/** Label the Grafana dashboard sidecar of kube-prometheus-stack watches. */
export const DASHBOARD_LABEL = "grafana_dashboard";
export const SEVERITIES = ["P1", "P2", "P3", "P4"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Keys of the Alertmanager credentials Secret. */
export const ALERT_SECRET_KEYS = { slackWebhook: "slack-webhook-url", pagerdutyKey: "pagerduty-routing-key", smtpPassword: "smtp-password" } as const;

export interface AlertingInput {
    /** Secret mounted into Alertmanager at /etc/alertmanager/secrets/<name>/. */
    credentialsSecretName: string;
    /** Slack channel of P2 and P3 alerts, e.g. `#airflow-alerts`. */
    slackChannel: string;
    /** Slack channel of P1 alerts (besides PagerDuty), e.g. `#incidents`. */
    incidentsChannel: string;
    /** Email address P1 alerts also go to. */
    leadershipEmail: string;
    /** team name → team email; P2 alerts labelled team=<name> go to that address. */
    teams: Record<string, string>;
    /** Email address of P2 alerts with no (or an unknown) team label. */
    defaultTeamEmail: string;
    /** SMTP relay (`host:port`), sender and login; the password is `credentials.smtpPassword`. */
    smtp: { smarthost: string; from: string; username: string };
}

function secretFile(secretName: string, key: string): string {
    return `/etc/alertmanager/secrets/${secretName}/${key}`;
}

/** The Alertmanager configuration: one route per severity, P2 split by team. */
export function alertmanagerConfig(a: AlertingInput): Record<string, unknown> {
    const slack = (channel: string) => ({
        channel,
        api_url_file: secretFile(a.credentialsSecretName, ALERT_SECRET_KEYS.slackWebhook),
        send_resolved: true,
        title: '[{{ .CommonLabels.severity }}] {{ .CommonLabels.alertname }}',
        text: "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}",
    });
    const email = (to: string) => ({ to, send_resolved: true });
    const teamRoutes = Object.keys(a.teams)
        .sort()
        .map((team) => ({ matchers: ['severity="P2"', `team="${team}"`], receiver: `p2-team-${team}` }));
    return {
        global: {
            resolve_timeout: "5m",
            smtp_smarthost: a.smtp.smarthost,
            smtp_from: a.smtp.from,
            smtp_auth_username: a.smtp.username,
            smtp_auth_password_file: secretFile(a.credentialsSecretName, ALERT_SECRET_KEYS.smtpPassword),
            smtp_require_tls: true,
        },
        route: {
            receiver: "p4-log-only",
            group_by: ["alertname", "dag_id", "team"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "4h",
            routes: [
                { matchers: ['severity="P1"'], receiver: "p1-page", repeat_interval: "15m" },
                ...teamRoutes,
                { matchers: ['severity="P2"'], receiver: "p2-slack-email" },
                { matchers: ['severity="P3"'], receiver: "p3-slack" },
                { matchers: ['severity="P4"'], receiver: "p4-log-only" },
            ],
        },
        receivers: [
            {
                name: "p1-page",
                pagerduty_configs: [{ routing_key_file: secretFile(a.credentialsSecretName, ALERT_SECRET_KEYS.pagerdutyKey), severity: "critical" }],
                slack_configs: [slack(a.incidentsChannel)],
                email_configs: [email(a.leadershipEmail)],
            },
            ...Object.keys(a.teams)
                .sort()
                .map((team) => ({ name: `p2-team-${team}`, slack_configs: [slack(a.slackChannel)], email_configs: [email(a.teams[team])] })),
            { name: "p2-slack-email", slack_configs: [slack(a.slackChannel)], email_configs: [email(a.defaultTeamEmail)] },
            { name: "p3-slack", slack_configs: [slack(a.slackChannel)] },
            // Log only: no notifier; the alert stays visible in Alertmanager and Prometheus.
            { name: "p4-log-only" },
        ],
        inhibit_rules: [
            { source_matchers: ['severity="P1"'], target_matchers: ['severity=~"P2|P3|P4"'], equal: ["alertname"] },
        ],
    };
}

export interface KpsValuesInput {
    alerting: AlertingInput;
    retention: string;
    storageSize: string;
    /** Grafana admin credentials Secret (keys admin-user, admin-password). */
    grafanaAdminSecretName: string;
}

export function kubePrometheusStackValues(input: KpsValuesInput): Record<string, unknown> {
    return {
        crds: { enabled: true },
        prometheus: {
            prometheusSpec: {
                retention: input.retention,
                securityContext: restrictedPod(1000),
                // Strategic-merge patch of the operator-rendered containers: restricted, by container name.
                containers: [
                    { name: "prometheus", securityContext: RESTRICTED_CONTAINER },
                    { name: "config-reloader", securityContext: RESTRICTED_CONTAINER },
                ],
                resources: resources(SIZES.prometheus),
                // Pick up our ServiceMonitors and rules without the chart's release label.
                serviceMonitorSelectorNilUsesHelmValues: false,
                ruleSelectorNilUsesHelmValues: false,
                storageSpec: {
                    volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: input.storageSize } } } },
                },
            },
        },
        alertmanager: {
            config: alertmanagerConfig(input.alerting),
            alertmanagerSpec: {
                secrets: [input.alerting.credentialsSecretName],
                securityContext: restrictedPod(1000),
                containers: [
                    { name: "alertmanager", securityContext: RESTRICTED_CONTAINER },
                    { name: "config-reloader", securityContext: RESTRICTED_CONTAINER },
                ],
                resources: resources(SIZES.alertmanager),
            },
        },
        prometheusOperator: {
            securityContext: restrictedPod(65534),
            // runAsNonRoot and seccomp come from the pod context above.
            containerSecurityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
            resources: resources(SIZES.operator),
            // The admission webhook's certificate Secret is made only by the chart's hook Jobs, which helm.v4.Chart
            // skips (pulumi-kubernetes #3284): the operator would wait forever for its tls-secret volume. Without
            // cert-manager here, the webhook and the operator's TLS listener are off; PrometheusRules are checked
            // against the CRD schema in CI instead, and the operator's metrics stay inside the namespace's policies.
            admissionWebhooks: { enabled: false },
            tls: { enabled: false },
        },
        // Node metrics need host PID/network/filesystem access (no restricted profile possible); they belong to the
        // cluster's own monitoring, not to this namespace.
        nodeExporter: { enabled: false },
        // These put Services into kube-system to scrape control-plane components, which a platform confined to its
        // namespace must not touch (and managed control planes such as EKS do not expose). The kubelet (cAdvisor)
        // and API server ServiceMonitors stay: they live in this namespace.
        kubeControllerManager: { enabled: false },
        kubeScheduler: { enabled: false },
        kubeEtcd: { enabled: false },
        kubeProxy: { enabled: false },
        coreDns: { enabled: false },
        "kube-state-metrics": {
            // uid 65534 is the image's nobody user.
            securityContext: { enabled: true, ...restrictedPod(65534) },
            containerSecurityContext: { ...RESTRICTED_CONTAINER, readOnlyRootFilesystem: true },
            resources: resources(SIZES.operator),
        },
        grafana: {
            admin: { existingSecret: input.grafanaAdminSecretName, userKey: "admin-user", passwordKey: "admin-password" },
            // uid 472 is the grafana image's user.
            securityContext: restrictedPod(472),
            containerSecurityContext: RESTRICTED_CONTAINER,
            resources: resources(SIZES.grafana),
            // The dashboard and datasource watchers run as two containers of this pod, sized like any other.
            sidecar: { resources: resources(SIZES.sidecar), dashboards: { enabled: true, label: DASHBOARD_LABEL, labelValue: "1", searchNamespace: "ALL" } },
        },
    };
}

/** ServiceMonitor for the Airflow chart's statsd exporter Service (port statsd-scrape, 9102). */
export function statsdServiceMonitor(name: string, namespace: string, airflowRelease: string): Record<string, unknown> {
    return {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name, namespace },
        spec: {
            selector: { matchLabels: { tier: "airflow", component: "statsd", release: airflowRelease } },
            namespaceSelector: { matchNames: [namespace] },
            endpoints: [{ port: "statsd-scrape", interval: "30s", path: "/metrics" }],
        },
    };
}

export interface AlertRule {
    alert: string;
    expr: string;
    for: string;
    labels: { severity: Severity; team: string };
    annotations: { summary: string; description: string };
}

/**
 * Alert rules on the statsd exporter's metrics (the Airflow chart's default mappings):
 * airflow_scheduler_heartbeat, airflow_dagrun_duration{status}, airflow_ti_failures /
 * airflow_ti_successes, airflow_pool_starving_tasks{pool}.
 */
export function airflowAlertRules(team: string): AlertRule[] {
    return [
        {
            alert: "AirflowSchedulerHeartbeatMissing",
            expr: "absent(airflow_scheduler_heartbeat) or sum(rate(airflow_scheduler_heartbeat[5m])) == 0",
            for: "5m",
            labels: { severity: "P1", team },
            annotations: { summary: "Airflow scheduler heartbeat missing", description: "No scheduler heartbeat for 5 minutes: no task is being scheduled." },
        },
        {
            alert: "AirflowDagRunFailures",
            expr: 'sum by (dag_id) (increase(airflow_dagrun_duration_count{status="failed"}[30m])) > 0',
            for: "0m",
            labels: { severity: "P3", team },
            annotations: { summary: "DAG {{ $labels.dag_id }} has failed runs", description: "{{ $value }} failed runs of {{ $labels.dag_id }} in 30 minutes." },
        },
        {
            alert: "AirflowTaskFailureRateHigh",
            expr:
                "sum(rate(airflow_ti_failures[15m])) / clamp_min(sum(rate(airflow_ti_failures[15m])) + sum(rate(airflow_ti_successes[15m])), 1e-9) > 0.1",
            for: "15m",
            labels: { severity: "P2", team },
            annotations: { summary: "More than 10% of task instances fail", description: "Task failure ratio is {{ $value | humanizePercentage }} over 15 minutes." },
        },
        {
            alert: "AirflowPoolStarvation",
            expr: "max by (pool) (airflow_pool_starving_tasks) > 0",
            for: "15m",
            labels: { severity: "P3", team },
            annotations: { summary: "Pool {{ $labels.pool }} is starving tasks", description: "Tasks wait for slots in pool {{ $labels.pool }} for 15 minutes." },
        },
    ];
}

export function airflowPrometheusRule(name: string, namespace: string, team: string): Record<string, unknown> {
    return {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: { name, namespace },
        spec: { groups: [{ name: "airflow", rules: airflowAlertRules(team) }] },
    };
}

/** A Grafana dashboard for Airflow: one time-series panel per alerting signal plus pool slots. */
export function airflowDashboard(title: string): Record<string, unknown> {
    const panels: Array<[string, string]> = [
        ["Scheduler heartbeats / s", "sum(rate(airflow_scheduler_heartbeat[5m]))"],
        ["Failed DAG runs (30m)", 'sum by (dag_id) (increase(airflow_dagrun_duration_count{status="failed"}[30m]))'],
        ["Task failures / s", "sum(rate(airflow_ti_failures[5m]))"],
        ["Task successes / s", "sum(rate(airflow_ti_successes[5m]))"],
        ["Starving tasks by pool", "max by (pool) (airflow_pool_starving_tasks)"],
        ["Open slots by pool", "max by (pool) (airflow_pool_open_slots)"],
    ];
    return {
        title,
        uid: title.toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, 40),
        schemaVersion: 39,
        time: { from: "now-6h", to: "now" },
        templating: { list: [] },
        panels: panels.map(([panelTitle, expr], i) => ({
            id: i + 1,
            type: "timeseries",
            title: panelTitle,
            datasource: { type: "prometheus", uid: "prometheus" },
            gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
            targets: [{ refId: "A", expr }],
        })),
    };
}
