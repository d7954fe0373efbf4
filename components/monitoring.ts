/**
 * Monitoring: kube-prometheus-stack with the Alertmanager P1..P4 routing tree, a ServiceMonitor for
 * the Airflow chart's statsd exporter, PrometheusRules for Airflow, and a Grafana dashboard
 * ConfigMap. Notification credentials live in a Secret that Alertmanager mounts and reads as files.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { GeneratedSecret } from "./secrets";
import * as mon from "./values/monitoring";
import { k8sName } from "./values/naming";
import { ChartSource, chartLocation } from "./values/charts";

export interface MonitoringArgs {
    /** Where the Helm chart comes from: its repository at the pinned version (default) or a folder of local tarballs. */
    chartSource?: ChartSource;
    /** Namespace of the release, the Secrets, the rules and the dashboard. */
    namespace: pulumi.Input<string>;
    /** Helm release of the Airflow chart whose statsd Service is scraped. */
    airflowRelease: pulumi.Input<string>;
    /** Alertmanager routing: P1 → PagerDuty + incidents channel + leadership email, P2 → Slack + team email, P3 → Slack, P4 → log only. */
    alerting: Omit<mon.AlertingInput, "credentialsSecretName">;
    /** Notification credentials (Pulumi secrets from stack config). */
    credentials: { slackWebhookUrl: pulumi.Input<string>; pagerdutyRoutingKey: pulumi.Input<string>; smtpPassword: pulumi.Input<string> };
    /** Team label on the Airflow alerts (routes P2 to that team's email). */
    owningTeam: string;
    /** Create a ServiceMonitor for the Airflow chart's statsd exporter (needs the Prometheus Operator's CRDs). */
    serviceMonitor: boolean;
    /** Prometheus retention, e.g. `15d`. */
    retention: string;
    /** Prometheus volume size in GiB. */
    storageGi: number;
    /** Install kube-prometheus-stack. Default `true`; `false` when the cluster already runs the Prometheus Operator. */
    installStack?: boolean;
}

/** kube-prometheus-stack with Airflow's alert routing, rules, statsd scraping and a Grafana dashboard. */
export class Monitoring extends pulumi.ComponentResource {
    /** The Alertmanager configuration (credentials only as file paths of the mounted Secret). */
    public readonly alertmanagerConfig: Record<string, unknown>;
    /** ConfigMap of the Grafana dashboard (labelled for Grafana's sidecar). */
    public readonly dashboardConfigMapName: pulumi.Output<string>;

    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:Monitoring", name, {}, opts);
        const child = { parent: this };
        const credentialsSecretName = k8sName(name, "alerting");
        const alerting: mon.AlertingInput = { ...args.alerting, credentialsSecretName };
        const credentials = new GeneratedSecret(
            `${name}-alerting`,
            {
                namespace: args.namespace,
                secretName: credentialsSecretName,
                provided: {
                    [mon.ALERT_SECRET_KEYS.slackWebhook]: args.credentials.slackWebhookUrl,
                    [mon.ALERT_SECRET_KEYS.pagerdutyKey]: args.credentials.pagerdutyRoutingKey,
                    [mon.ALERT_SECRET_KEYS.smtpPassword]: args.credentials.smtpPassword,
                },
            },
            child,
        );
        const grafanaAdmin = new GeneratedSecret(
            `${name}-grafana-admin`,
            { namespace: args.namespace, secretName: k8sName(name, "grafana-admin"), plain: { "admin-user": "admin" }, generate: { "admin-password": { length: 24 } } },
            child,
        );
        this.alertmanagerConfig = mon.alertmanagerConfig(alerting);
        const stack =
            args.installStack === false
                ? undefined
                : new k8s.helm.v4.Chart(
                      name,
                      {
                          name: k8sName(name),
                          ...chartLocation(mon.KPS_CHART, args.chartSource),
                          namespace: args.namespace,
                          values: mon.kubePrometheusStackValues({
                              alerting,
                              retention: args.retention,
                              storageSize: `${args.storageGi}Gi`,
                              grafanaAdminSecretName: k8sName(name, "grafana-admin"),
                          }),
                      },
                      { ...child, dependsOn: [credentials, grafanaAdmin] },
                  );
        const crdDeps = { ...child, dependsOn: stack ? [stack] : [] };
        const ns = pulumi.output(args.namespace);
        if (args.serviceMonitor) {
            const sm = pulumi.all([ns, args.airflowRelease]).apply(([n, rel]) => mon.statsdServiceMonitor(k8sName(name, "airflow-statsd"), n, rel));
            new k8s.apiextensions.CustomResource(
                `${name}-airflow-statsd`,
                { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: sm.apply((m) => m.metadata as object), spec: sm.apply((m) => m.spec as object) },
                crdDeps,
            );
        }
        const rule = ns.apply((n) => mon.airflowPrometheusRule(k8sName(name, "airflow-alerts"), n, args.owningTeam));
        new k8s.apiextensions.CustomResource(
            `${name}-airflow-alerts`,
            { apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: rule.apply((m) => m.metadata as object), spec: rule.apply((m) => m.spec as object) },
            crdDeps,
        );
        const dashboard = new k8s.core.v1.ConfigMap(
            `${name}-airflow-dashboard`,
            {
                metadata: { name: k8sName(name, "airflow-dashboard"), namespace: args.namespace, labels: { [mon.DASHBOARD_LABEL]: "1" } },
                data: { "airflow.json": JSON.stringify(mon.airflowDashboard("Airflow")) },
            },
            child,
        );
        this.dashboardConfigMapName = dashboard.metadata.name;
        this.registerOutputs({ dashboardConfigMapName: this.dashboardConfigMapName });
    }
}
