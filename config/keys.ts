/**
 * Every key path of the stack configuration (e.g. "airflow.replicas.scheduler"), read from the zod schema
 * itself so docs/config-reference.md can be checked against it.
 */
import { z } from "zod";
import { SECRET_CONFIG_KEYS, stackConfigSchema } from "./schema";

interface JsonSchemaNode {
    properties?: Record<string, JsonSchemaNode>;
    anyOf?: JsonSchemaNode[];
    oneOf?: JsonSchemaNode[];
    allOf?: JsonSchemaNode[];
}

export function configKeyPaths(): string[] {
    const root = z.toJSONSchema(stackConfigSchema, { unrepresentable: "any", io: "input" }) as JsonSchemaNode;
    const paths = new Set<string>();
    const walk = (node: JsonSchemaNode | undefined, prefix: string): void => {
        if (!node) return;
        for (const branch of [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])]) walk(branch, prefix);
        for (const [key, child] of Object.entries(node.properties ?? {})) {
            const path = prefix ? `${prefix}.${key}` : key;
            paths.add(path);
            walk(child, path);
        }
    };
    walk(root, "");
    return [...paths];
}

export function secretKeyNames(): string[] {
    return Object.values(SECRET_CONFIG_KEYS);
}
