/**
 * Deep merge for Helm values, shared by every values builder.
 *
 * Helm semantics: maps merge key by key, later layers win, and lists REPLACE (a list in an override is
 * the whole new list, never appended), which is what deepmerge's default concatenation would break.
 */
import deepmerge from "deepmerge";

export type HelmValues = Record<string, unknown>;

const replaceArrays = (_target: unknown[], source: unknown[]): unknown[] => source;

/** Merges layers left to right; inputs are not mutated. Only plain objects are merged recursively. */
export function mergeValues(...layers: Array<HelmValues | undefined>): HelmValues {
    const present = layers.filter((layer): layer is HelmValues => layer !== undefined);
    return deepmerge.all<HelmValues>([{}, ...present], {
        arrayMerge: replaceArrays,
        isMergeableObject: isPlainObject,
    });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
    if (value === null || typeof value !== "object") {
        return false;
    }
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
}
