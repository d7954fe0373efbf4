/** Monitoring component: kube-prometheus-stack, statsd ServiceMonitor, Airflow PrometheusRule, P1..P4 routing, dashboard. */
import * as pulumi from "@pulumi/pulumi";
import { Monitoring, MonitoringArgs } from "../../components/monitoring";
import { byType, collectSecretsPlaintext, getResource, runProgram } from "../../offline/engine";
import { expectNoDuplicates, expectNoPlaintextSecrets, expectUniqueLogicalNames, kubernetesIdentities } from "./fixtures/components";
import { crdValidator, errorsOf } from "./fixtures/schemas";

const SLACK = "https://hooks.slack.example/services/T0/B0/secretpath";
const PD = "pagerduty-routing-key-0123456789";
const SMTP = "smtp-password-0123456789";
const args: MonitoringArgs = {
    namespace: "af",
    airflowRelease: "platform-airflow",
    alerting: {
        slackChannel: "#airflow-alerts",
        incidentsChannel: "#incidents",
        leadershipEmail: "leadership@example.com",
        teams: { payments: "payments@example.com" },
        defaultTeamEmail: "data-platform@example.com",
        smtp: { smarthost: "smtp.example.com:587", from: "airflow@example.com", username: "airflow" },
    },
    credentials: { slackWebhookUrl: pulumi.secret(SLACK), pagerdutyRoutingKey: pulumi.secret(PD), smtpPassword: pulumi.secret(SMTP) },
    owningTeam: "data-platform",
    serviceMonitor: true,
    retention: "15d",
    storageGi: 20,
};

describe("Monitoring", () => {
    test("chart, ServiceMonitor on the Airflow release's statsd, PrometheusRule, dashboard ConfigMap", async () => {
        const r = await runProgram(() => void new Monitoring("mon", args), { stack: "prod" });
        expect(getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "mon").inputs).toMatchObject({ chart: "kube-prometheus-stack", version: "88.5.3" });
        const sm = getResource(r.resources, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "mon-airflow-statsd").inputs;
        expect(errorsOf(crdValidator("prometheus-operator/monitoring.coreos.com_servicemonitors.yaml", "v1"), sm)).toBe("");
        expect(sm.spec.selector.matchLabels.release).toBe("platform-airflow");
        const rule = getResource(r.resources, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "mon-airflow-alerts").inputs;
        expect(errorsOf(crdValidator("prometheus-operator/monitoring.coreos.com_prometheusrules.yaml", "v1"), rule)).toBe("");
        expect(rule.spec.groups[0].rules).toHaveLength(4);
        const cm = getResource(r.resources, "kubernetes:core/v1:ConfigMap", "mon-airflow-dashboard").inputs;
        expect(cm.metadata.labels).toEqual({ grafana_dashboard: "1" });
        expect(JSON.parse(cm.data["airflow.json"]).panels.length).toBeGreaterThanOrEqual(4);
    });

    test("Alertmanager routes P1..P4 and reads credentials from the mounted Secret; none in values", async () => {
        const r = await runProgram(() => void new Monitoring("mon", args), { stack: "prod" });
        const values = getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "mon").inputs.values;
        const routes = values.alertmanager.config.route.routes.map((x: any) => x.matchers.join(","));
        expect(routes).toEqual(['severity="P1"', 'severity="P2",team="payments"', 'severity="P2"', 'severity="P3"', 'severity="P4"']);
        expect(values.alertmanager.alertmanagerSpec.secrets).toEqual(["mon-alerting"]);
        const secret = getResource(r.resources, "kubernetes:core/v1:Secret", "mon-alerting-secret").inputs.stringData;
        expect(secret).toEqual({ "slack-webhook-url": SLACK, "pagerduty-routing-key": PD, "smtp-password": SMTP });
        expect(collectSecretsPlaintext(r.resources, [SLACK, PD, SMTP])).toEqual([]);
        expect(values.grafana.admin.existingSecret).toBe("mon-grafana-admin");
        expectNoPlaintextSecrets(r);
    });

    test("ServiceMonitor is optional (clusters without the Operator CRDs)", async () => {
        const r = await runProgram(() => void new Monitoring("mon", { ...args, serviceMonitor: false }), { stack: "dev" });
        expect(byType(r.resources, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")).toEqual([]);
    });

    test("two instances don't collide", async () => {
        const r = await runProgram(() => {
            new Monitoring("mon-a", args);
            new Monitoring("mon-b", { ...args, installStack: false });
        }, { stack: "prod" });
        expectUniqueLogicalNames(r.resources);
        expectNoDuplicates(kubernetesIdentities(r.resources));
    });
});
