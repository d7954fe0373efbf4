/** Chart source: repository pins resolve to repo + version, local ones to the tarball; the program's manifests export. */
import * as path from "path";
import { ChartNotFoundError, chartLocation, tarballFor } from "../../components/values/charts";
import { AIRFLOW_CHART } from "../../components/values/airflow";
import { STRIMZI_CHART } from "../../components/values/kafka";
import { REDACTED_BASE64, apiVersionKind, manifestOf } from "../../scripts/manifests";
import { RecordedResource, editConfigObject, loadStackConfigFile, runStack } from "../../offline/engine";

const FILES = ["airflow-1.22.0-main-9a9f51b.tgz", "vault-0.34.1.tgz", "vault-0.33.0.tgz", "mlflow-1.11.5-a.tgz", "mlflow-1.11.5-b.tgz"];

describe("chartLocation", () => {
    it("pulls from the chart's repository by default, an oci:// repository being the chart reference", () => {
        expect(chartLocation(AIRFLOW_CHART)).toEqual({ chart: "airflow", version: "1.22.0", repositoryOpts: { repo: "https://airflow.apache.org" } });
        expect(chartLocation(STRIMZI_CHART, { source: "repository" })).toEqual({ chart: "oci://quay.io/strimzi-helm/strimzi-kafka-operator", version: "1.2.0" });
    });

    it("reads the exact tarball, else the one suffixed build of that version, from a local folder", () => {
        expect(tarballFor({ chart: "vault", version: "0.34.1", repo: "" }, FILES)).toBe("vault-0.34.1.tgz");
        expect(tarballFor(AIRFLOW_CHART, FILES)).toBe("airflow-1.22.0-main-9a9f51b.tgz");
        const local = chartLocation(AIRFLOW_CHART, { source: "local", directory: "charts" }, () => FILES);
        expect(local).toEqual({ chart: path.resolve("charts", "airflow-1.22.0-main-9a9f51b.tgz") });
    });

    it("refuses a missing or ambiguous tarball, naming the folder and the file it expected", () => {
        const pin = { chart: "mlflow", version: "1.11.5", repo: "" };
        expect(() => chartLocation(pin, { source: "local", directory: "/charts" }, () => FILES)).toThrow(ChartNotFoundError);
        expect(() => chartLocation(pin, { source: "local", directory: "/charts" }, () => FILES)).toThrow(
            "chart source: no tarball for mlflow 1.11.5 in /charts (expected mlflow-1.11.5.tgz or one mlflow-1.11.5-<suffix>.tgz)",
        );
        expect(() =>
            chartLocation(pin, { source: "local", directory: "/nowhere" }, () => {
                throw new Error("ENOENT");
            }),
        ).toThrow("chart source: local chart folder /nowhere cannot be read (needed for mlflow 1.11.5)");
    });
});

describe("stack config kubernetes.charts", () => {
    it("every Chart of a stack reads its tarball from the configured folder", async () => {
        const dir = path.resolve(__dirname, "..", "..", "..", "shared", "charts");
        const fs = await import("fs");
        const folder = fs.existsSync(dir) ? dir : "/work/shared/charts";
        if (!fs.existsSync(folder)) return console.warn("../shared/charts is absent: local chart source not exercised");
        const result = await runStack("staging", {
            mutateConfig: (c) => editConfigObject(c, "kubernetes", (k) => (k.charts = { source: "local", directory: folder })),
        });
        const charts = result.resources.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart");
        expect(charts.length).toBe(7);
        for (const chart of charts) {
            expect(chart.inputs.chart.startsWith(`${folder}/`)).toBe(true);
            expect(chart.inputs.repositoryOpts).toBeUndefined();
        }
    });

    it("is required and checked like every key", () => {
        const file = loadStackConfigFile("dev");
        expect(JSON.parse(file.config["airflow-platform:kubernetes"]).charts).toEqual({ source: "repository" });
    });

    it("a local source without a folder fails with the key path", async () => {
        await expect(
            runStack("dev", { mutateConfig: (c) => editConfigObject(c, "kubernetes", (k) => (k.charts = { source: "local" })) }),
        ).rejects.toThrow(/kubernetes\.charts\.directory/);
    });
});

describe("manifests of the program's own objects", () => {
    const record = (type: string, inputs: Record<string, unknown>): RecordedResource => ({
        type, name: "logical", urn: "", parentUrn: "", custom: true, id: "x", rawInputs: inputs, inputs, state: { metadata: { name: "logical" } },
    });

    it("maps Pulumi type tokens to apiVersion and kind", () => {
        expect(apiVersionKind("kubernetes:core/v1:Secret")).toEqual({ apiVersion: "v1", kind: "Secret" });
        expect(apiVersionKind("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")).toEqual({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding" });
        expect(apiVersionKind("kubernetes:helm.sh/v4:Chart")).toBeUndefined();
        expect(apiVersionKind("kubernetes:apiextensions.k8s.io/v1:CustomResource")).toBeUndefined();
    });

    it("keeps a Secret's keys and redacts every value", () => {
        const inputs = { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "n" }, stringData: { password: "p4ss-word-value" }, data: { key: "c2VjcmV0" } };
        expect(manifestOf(record("kubernetes:core/v1:Secret", inputs), { ...inputs, stringData: "[secret]", data: "[secret]" })).toEqual({
            apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "n" }, stringData: { password: "[secret]" }, data: { key: REDACTED_BASE64 },
        });
    });

    it("takes a custom resource's apiVersion and kind from its inputs, and the mock's name for an auto-named object", () => {
        const cr = { apiVersion: "kafka.strimzi.io/v1", kind: "KafkaTopic", metadata: { namespace: "n" }, spec: { partitions: 1 } };
        expect(manifestOf(record("kubernetes:apiextensions.k8s.io/v1:CustomResource", cr), cr)).toEqual({ ...cr, metadata: { namespace: "n", name: "logical" } });
    });
});
