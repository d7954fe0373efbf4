/**
 * The Airflow profile (config/airflow-profile.json): every Airflow setting that does not depend on where Airflow runs,
 * the dag-parser warm-up switch and the Redis database of each Airflow use. The Pulumi program renders it into the
 * chart's `config` (airflowCfg() in ./airflow.ts); the local harness renders the same file into AIRFLOW__* variables
 * (local/airflow_profile.py). Settings that legitimately differ are listed in the file's `environmentSpecific`, each
 * with its reason, and tests/local/test_airflow_profile.py proves the two renderings differ on those keys only.
 */
import profileFile from "../../config/airflow-profile.json";

/** airflow.cfg settings by section: section → key → value (airflow.cfg strings). */
export type AirflowCfgSections = Record<string, Record<string, string>>;

/** A setting (`section.key`) that differs between the local platform and the cluster, and why. */
export interface EnvironmentSpecificSetting {
    key: string;
    reason: string;
}

/** A profile setting a local developer's switch may replace (off by default, so the default platform runs the profile). */
export interface LocalOptOut {
    key: string;
    switch: string;
    reason: string;
}

export interface AirflowProfile {
    /** The environment-independent settings, rendered into both the chart's config and the local environment. */
    config: AirflowCfgSections;
    /** Why a setting has its value, by `section.key`. */
    notes: Record<string, string>;
    /** The variable (and value) set for the dag-processor process alone; local_settings/airflow_local_settings.py acts on it. */
    dagParserWarmUp: { name: string; value: string };
    /** Redis database of the Celery broker and of the `redis_default` connection. */
    redisDatabases: { celery_broker: number; redis_default: number };
    localOptOuts: LocalOptOut[];
    environmentSpecific: EnvironmentSpecificSetting[];
}

/** Every `section.key` the profile's config sets. */
export function profileKeys(config: AirflowCfgSections): string[] {
    return Object.entries(config).flatMap(([section, keys]) => Object.keys(keys).map((key) => `${section}.${key}`));
}

/**
 * Checks the parsed file and returns it typed. Refuses: a non-string setting, a setting also listed as environment-
 * specific, an environment-specific setting without a reason or listed twice, a note or opt-out naming no profile
 * setting, a warm-up variable that is not a plain shell word (it goes into the dag-processor's command line).
 */
export function checkAirflowProfile(raw: unknown, file = "config/airflow-profile.json"): AirflowProfile {
    const problems: string[] = [];
    const p = raw as AirflowProfile;
    const sectionKey = /^[a-z][a-z0-9_]*$/;
    for (const [section, keys] of Object.entries(p.config ?? {})) {
        if (!sectionKey.test(section)) problems.push(`config.${section}: not an airflow.cfg section name`);
        for (const [key, value] of Object.entries(keys ?? {})) {
            if (!sectionKey.test(key)) problems.push(`config.${section}.${key}: not an airflow.cfg key name`);
            if (typeof value !== "string") problems.push(`config.${section}.${key}: must be a string (airflow.cfg value), got ${JSON.stringify(value)}`);
        }
    }
    const keys = new Set(profileKeys(p.config ?? {}));
    const specific = new Set<string>();
    for (const entry of p.environmentSpecific ?? []) {
        if (!/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/.test(entry.key)) problems.push(`environmentSpecific: "${entry.key}" is not section.key`);
        if (!entry.reason?.trim()) problems.push(`environmentSpecific: ${entry.key} has no reason`);
        if (keys.has(entry.key)) problems.push(`environmentSpecific: ${entry.key} is also a profile setting; a key is one or the other`);
        if (specific.has(entry.key)) problems.push(`environmentSpecific: ${entry.key} is listed twice`);
        specific.add(entry.key);
    }
    for (const key of Object.keys(p.notes ?? {})) if (!keys.has(key)) problems.push(`notes: ${key} is not a profile setting`);
    for (const optOut of p.localOptOuts ?? []) if (!keys.has(optOut.key)) problems.push(`localOptOuts: ${optOut.key} is not a profile setting`);
    const warm = p.dagParserWarmUp;
    if (!/^[A-Z_][A-Z0-9_]*$/.test(warm?.name ?? "") || !/^[A-Za-z0-9_.-]+$/.test(warm?.value ?? "")) {
        problems.push(`dagParserWarmUp: name and value must be plain shell words, got ${JSON.stringify(warm)}`);
    }
    for (const use of ["celery_broker", "redis_default"] as const) {
        const db = p.redisDatabases?.[use];
        if (!Number.isInteger(db) || db < 0 || db > 15) problems.push(`redisDatabases.${use}: a Redis database number 0-15, got ${JSON.stringify(db)}`);
    }
    if (problems.length) throw new Error(`${file}:\n  ${problems.join("\n  ")}`);
    return p;
}

/** The profile as shipped (config/airflow-profile.json, checked on load). */
export const AIRFLOW_PROFILE: AirflowProfile = checkAirflowProfile(profileFile);

/** The profile's settings as the chart's `config` sections (a fresh copy, safe to merge into). */
export function profileConfig(profile: AirflowProfile = AIRFLOW_PROFILE): AirflowCfgSections {
    return Object.fromEntries(Object.entries(profile.config).map(([section, keys]) => [section, { ...keys }]));
}
