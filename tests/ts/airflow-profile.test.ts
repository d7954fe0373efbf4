/**
 * The Airflow profile (config/airflow-profile.json) in the chart values of every stack: each profile setting is in the
 * chart's `config` with the profile's value, whatever the integrations; every other key of that config is one the
 * profile lists as environment-specific. The local rendering is compared with these values in
 * tests/local/test_airflow_profile.py; schema validation of the same values is tests/ts/airflow-values.test.ts.
 */
import { parseStackConfig } from "../../config/load";
import { STACK_NAMES } from "../../config/schema";
import { AirflowIntegrations, airflowSecretNames, brokerUrl, buildAirflowValues, dagProcessorArgs, WARM_PARSER_ENV } from "../../components/values/airflow";
import { AIRFLOW_PROFILE, AirflowProfile, checkAirflowProfile, profileConfig, profileKeys } from "../../components/values/airflowProfile";
import { redisConnection } from "../../components/values/platform";
import { brokerUrl as redisComponentBrokerUrl } from "../../components/values/redis";
import { readStackSections } from "../../offline/engine";

const integrations: AirflowIntegrations = {
    secretsBackend: { backend: "airflow.providers.hashicorp.secrets.vault.VaultBackend", kwargs: { url: "http://vault:8200", auth_type: "kubernetes" } },
    openLineage: { namespace: "airflow-prod", transport: { type: "http", url: "http://marquez:5000", endpoint: "api/v1/lineage" } },
};

function chartConfig(stack: string, with_: AirflowIntegrations = integrations): Record<string, Record<string, unknown>> {
    const airflow = parseStackConfig(stack, readStackSections(stack)).airflow;
    return buildAirflowValues({ airflow, secretNames: airflowSecretNames("platform-airflow"), integrations: with_ }).config as Record<string, Record<string, unknown>>;
}

describe.each(STACK_NAMES)("stack %s: the chart's config", (stack) => {
    test.each([
        ["all integrations", integrations],
        ["no integrations", {}],
    ])("carries every profile setting with the profile's value (%s)", (_name, with_) => {
        const config = chartConfig(stack, with_ as AirflowIntegrations);
        for (const key of profileKeys(AIRFLOW_PROFILE.config)) {
            const [section, name] = key.split(".");
            expect([key, config[section]?.[name]]).toEqual([key, AIRFLOW_PROFILE.config[section][name]]);
        }
        expect(config.openlineage.custom_run_facets).toBe("common.lineage.governance_run_facets");
    });

    test("sets no other key than the profile's and the environment-specific ones", () => {
        const listed = new Set([...profileKeys(AIRFLOW_PROFILE.config), ...AIRFLOW_PROFILE.environmentSpecific.map((e) => e.key)]);
        const keys = Object.entries(chartConfig(stack)).flatMap(([section, entries]) => Object.keys(entries).map((k) => `${section}.${k}`));
        expect(keys.filter((k) => !listed.has(k))).toEqual([]);
    });
});

describe("config/airflow-profile.json", () => {
    const copy = (): AirflowProfile => JSON.parse(JSON.stringify(AIRFLOW_PROFILE));

    test("is checked on load and its settings copy into fresh sections", () => {
        expect(checkAirflowProfile(copy())).toEqual(AIRFLOW_PROFILE);
        const config = profileConfig();
        config.core.load_examples = "True";
        expect(AIRFLOW_PROFILE.config.core.load_examples).toBe("False");
    });

    test("refuses a non-string value, a key both shared and environment-specific, a reason missing, a note on no setting", () => {
        const p = copy();
        (p.config.core as Record<string, unknown>).dagbag_import_timeout = 120;
        p.environmentSpecific.push({ key: "metrics.statsd_on", reason: "" });
        p.notes["core.nothing"] = "x";
        expect(() => checkAirflowProfile(p, "profile.json")).toThrow(
            [
                "profile.json:",
                "  config.core.dagbag_import_timeout: must be a string (airflow.cfg value), got 120",
                "  environmentSpecific: metrics.statsd_on has no reason",
                "  environmentSpecific: metrics.statsd_on is also a profile setting; a key is one or the other",
                "  notes: core.nothing is not a profile setting",
            ].join("\n"),
        );
    });

    test("refuses a warm-up switch that is not a plain shell word, and a Redis database out of range", () => {
        const p = copy();
        p.dagParserWarmUp = { name: "X; rm -rf /", value: "true" };
        p.redisDatabases.redis_default = 16;
        expect(() => checkAirflowProfile(p)).toThrow(/dagParserWarmUp: name and value must be plain shell words[\s\S]*redisDatabases\.redis_default: a Redis database number 0-15, got 16/);
    });
});

describe("one definition of the warm-up switch and the Redis databases", () => {
    test("the dag-processor's command sets the profile's warm-up switch", () => {
        const { name, value } = AIRFLOW_PROFILE.dagParserWarmUp;
        expect(WARM_PARSER_ENV).toEqual({ name, value });
        expect(dagProcessorArgs()).toEqual(["bash", "-c", `exec env ${name}=${value} airflow dag-processor`]);
    });

    test("redis_default and both Celery broker URLs use the profile's databases", () => {
        const { celery_broker, redis_default } = AIRFLOW_PROFILE.redisDatabases;
        expect(celery_broker).not.toBe(redis_default);
        expect(redisConnection("redis", 6379, "pw")).toEqual({ conn_type: "redis", host: "redis", port: 6379, password: "pw", extra: { db: redis_default } });
        expect(brokerUrl("rel", "ns", "pw")).toBe(`redis://:pw@rel-redis.ns.svc.cluster.local:6379/${celery_broker}`);
        expect(redisComponentBrokerUrl("platform-redis", "pw")).toBe(`redis://:pw@platform-redis:6379/${celery_broker}`);
    });
});
