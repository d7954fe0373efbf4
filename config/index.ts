/**
 * `airflow-platform/config`: the typed stack configuration the Platform takes (zod schema, one object per
 * section) and its loader from Pulumi config, for a program that drives the whole Platform from stack config
 * the way this repository's index.ts does.
 *
 * @packageDocumentation
 */
export * from "./load";
export * from "./schema";
export * from "./rules";
