/**
 * The platform's airflow_local_settings.py under Pulumi mocks: the file reaches the Airflow chart through the
 * components, and a file the chart's `tpl` would break stops the program before any resource is registered,
 * naming the file (the pure builder's behaviour is in airflow-values.test.ts).
 */
import { loadStackConfig } from "../../config/load";
import { Airflow } from "../../components/airflow";
import { Platform } from "../../components/platform";
import { SourceFile } from "../../components/values/airflow";
import { getResource, loadStackConfigFile, runProgram } from "../../offline/engine";

const CHART_TYPE = "kubernetes:helm.sh/v4:Chart";
const TEMPLATED: SourceFile = { file: "local_settings/airflow_local_settings.py", content: '"""Runs in {{ .Release.Name }}."""\n' };
const PLAIN: SourceFile = { file: "elsewhere/airflow_local_settings.py", content: '"""Platform settings; dict literal {"a": {"b": 1}} is fine."""\n' };

function runWithStackConfig<T>(stack: string, program: () => T) {
    const file = loadStackConfigFile(stack);
    return runProgram(program, { stack, config: file.config, secretKeys: file.secretKeys });
}

function standaloneAirflow(localSettings: SourceFile): Airflow {
    const { config } = loadStackConfig();
    return new Airflow("platform-airflow", {
        namespace: "airflow-dev",
        airflow: config.airflow,
        metadataDatabase: { host: "db.example.internal", port: 5432, database: "airflow", user: "airflow", sslmode: "require" },
        localSettings,
    });
}

describe("airflow_local_settings.py through the components", () => {
    test("the Airflow component hands the given settings file to the chart, dag-processor warm-up on", async () => {
        const run = await runWithStackConfig("dev", () => {
            standaloneAirflow(PLAIN);
        });
        const values = getResource(run.resources, CHART_TYPE, "platform-airflow").inputs.values;
        expect(values.airflowLocalSettings).toBe(PLAIN.content);
        expect(values.dagProcessor.env).toEqual([]);
        expect(values.dagProcessor.args).toEqual(["bash", "-c", "exec env AIRFLOW_PLATFORM_WARM_PARSER=true airflow dag-processor"]);
    });

    test("the Airflow component refuses a settings file with {{ before creating anything, naming the file", async () => {
        await expect(runWithStackConfig("dev", () => standaloneAirflow(TEMPLATED))).rejects.toThrow(
            /^local_settings\/airflow_local_settings\.py: contains "\{\{", but the chart renders airflowLocalSettings through tpl/,
        );
    });

    test("the Platform refuses a settings file with {{ before registering anything, naming the file", async () => {
        await expect(
            runWithStackConfig("prod", () => {
                const { config, secrets } = loadStackConfig();
                new Platform("platform", { config, secrets, localSettings: TEMPLATED });
            }),
        ).rejects.toThrow(/^local_settings\/airflow_local_settings\.py: contains "\{\{"/);
    });
});
