/**
 * Reads the stack's config namespace, validates it against config/schema.ts and reads secrets with
 * requireSecret. Every problem is reported at once, each line naming the exact key path.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { stackRuleProblems } from "./rules";
import { SECRET_CONFIG_KEYS, SECTION_NAMES, STACK_NAMES, StackConfig, StackName, stackConfigSchema } from "./schema";

export class ConfigError extends Error {
    constructor(
        readonly stack: string,
        readonly problems: string[],
    ) {
        super(`invalid configuration for stack "${stack}":\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

export interface StackSecrets {
    /** Present only when airflow.dags is gitSync with auth "ssh". */
    gitSyncSshKey?: pulumi.Output<string>;
    /** Present when vault is enabled in "ha" mode. */
    vaultToken?: pulumi.Output<string>;
    /** Present when monitoring is enabled. */
    alerting?: { slackWebhookUrl: pulumi.Output<string>; pagerdutyRoutingKey: pulumi.Output<string>; smtpPassword: pulumi.Output<string> };
    /** The DAGs' Slack bot token (`slack_api_default`); present when monitoring is enabled (the stack provides Slack). */
    slackBotToken?: pulumi.Output<string>;
}

export interface LoadedConfig {
    stack: StackName;
    config: StackConfig;
    secrets: StackSecrets;
}

export function assertKnownStack(stack: string): StackName {
    if (!(STACK_NAMES as readonly string[]).includes(stack)) {
        throw new ConfigError(stack, [`unknown stack "${stack}"; valid stacks are: ${STACK_NAMES.join(", ")}`]);
    }
    return stack as StackName;
}

function formatPath(path: PropertyKey[]): string {
    return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("") || "(root)";
}

/** Looks a path up in the raw input: zod issues do not carry the offending value by default. */
function lookup(data: unknown, path: PropertyKey[]): { present: boolean; value: unknown } {
    let current: unknown = data;
    for (const key of path) {
        if (current === null || typeof current !== "object" || !(key in (current as object))) {
            return { present: false, value: undefined };
        }
        current = (current as Record<PropertyKey, unknown>)[key];
    }
    return { present: true, value: current };
}

/** Turns zod issues into one line each: "<key.path>: <what was expected>". */
export function formatIssues(error: z.ZodError, data: unknown): string[] {
    const lines: string[] = [];
    for (const issue of error.issues) {
        const where = formatPath(issue.path);
        const found = lookup(data, issue.path);
        const got = found.present ? `, got ${describe(found.value)}` : " (required key is missing)";
        switch (issue.code) {
            case "unrecognized_keys":
                for (const key of issue.keys) {
                    lines.push(`${formatPath([...issue.path, key])}: unknown key (not in the schema; check the spelling)`);
                }
                break;
            case "invalid_type":
                lines.push(found.present ? `${where}: expected ${issue.expected}${got}` : `${where}: required key is missing (expected ${issue.expected})`);
                break;
            case "invalid_value":
                lines.push(`${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}${got}`);
                break;
            case "invalid_union": {
                // A discriminated union reports the discriminator's path; list the accepted values.
                const options = (issue as { options?: unknown[] }).options;
                const expected = options && options.length > 0 ? `expected one of ${options.map((o) => JSON.stringify(o)).join(", ")}` : issue.message;
                lines.push(`${where}: ${expected}${got}`);
                break;
            }
            default:
                lines.push(`${where}: ${issue.message}`);
        }
    }
    return lines;
}

function describe(value: unknown): string {
    if (value === null) {
        return "null";
    }
    if (Array.isArray(value)) {
        return "array";
    }
    if (typeof value === "object") {
        return "object";
    }
    return `${typeof value} ${JSON.stringify(value)}`;
}

/** Validates already-parsed section objects (pure; used by tests and by loadStackConfig). */
export function parseStackConfig(stack: string, sections: Record<string, unknown>): StackConfig {
    const result = stackConfigSchema.safeParse(sections);
    if (!result.success) {
        throw new ConfigError(stack, formatIssues(result.error, sections));
    }
    // Rules that depend on which stack this is, or span sections (config/rules.ts).
    const stackProblems = (STACK_NAMES as readonly string[]).includes(stack) ? stackRuleProblems(stack as StackName, result.data) : [];
    if (stackProblems.length > 0) {
        throw new ConfigError(stack, stackProblems);
    }
    return result.data;
}

/**
 * Loads the current stack's configuration from the Pulumi runtime. Keys in the project namespace that
 * are neither a section nor a declared secret are errors, like unknown keys inside a section.
 */
export function loadStackConfig(): LoadedConfig {
    const stack = assertKnownStack(pulumi.getStack());
    const project = pulumi.getProject();
    const prefix = `${project}:`;
    const secretKeys = new Set<string>(Object.values(SECRET_CONFIG_KEYS));
    const problems: string[] = [];
    const sections: Record<string, unknown> = {};
    for (const [fullKey, raw] of Object.entries(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(prefix)) {
            continue; // provider namespaces such as aws:region or kubernetes:context
        }
        const key = fullKey.slice(prefix.length);
        if (secretKeys.has(key)) {
            continue;
        }
        if (!(SECTION_NAMES as string[]).includes(key)) {
            problems.push(`${key}: unknown config key; valid keys are ${[...SECTION_NAMES, ...secretKeys].join(", ")}`);
            continue;
        }
        try {
            sections[key] = JSON.parse(raw);
        } catch {
            problems.push(`${key}: expected an object, got string ${JSON.stringify(raw)}`);
        }
    }
    for (const section of SECTION_NAMES) {
        if (!(section in sections) && !problems.some((p) => p.startsWith(`${section}:`))) {
            problems.push(`${section}: required config section is missing from Pulumi.${stack}.yaml`);
        }
    }
    if (problems.length > 0) {
        throw new ConfigError(stack, problems);
    }
    const config = parseStackConfig(stack, sections);
    const pulumiConfig = new pulumi.Config(project);
    const secrets: StackSecrets = {};
    if (config.airflow.dags.source === "gitSync" && config.airflow.dags.auth === "ssh") {
        secrets.gitSyncSshKey = pulumiConfig.requireSecret(SECRET_CONFIG_KEYS.gitSyncSshKey);
    }
    if (config.vault.enabled && (config.vault.mode === "ha" || !config.vault.install)) {
        // Absent before an HA Vault's one-time init: the Vault component then deploys the servers and says what to do.
        secrets.vaultToken = pulumiConfig.getSecret(SECRET_CONFIG_KEYS.vaultToken);
    }
    if (config.monitoring.enabled) {
        secrets.alerting = {
            slackWebhookUrl: pulumiConfig.requireSecret(SECRET_CONFIG_KEYS.alertSlackWebhookUrl),
            pagerdutyRoutingKey: pulumiConfig.requireSecret(SECRET_CONFIG_KEYS.alertPagerdutyRoutingKey),
            smtpPassword: pulumiConfig.requireSecret(SECRET_CONFIG_KEYS.alertSmtpPassword),
        };
        secrets.slackBotToken = pulumiConfig.requireSecret(SECRET_CONFIG_KEYS.slackBotToken);
    }
    return { stack, config, secrets };
}
