/**
 * Helpers for testing a program built from these components under Pulumi's mocks (`pulumi.runtime.setMocks`).
 * Mocked inputs keep Pulumi's secret markers around every secret value; assertions want the values inside.
 */

/** The key and value Pulumi's mocks put on an object that wraps a secret: `{ [SECRET_SIGNATURE_KEY]: SECRET_SIGNATURE, value }`. */
export const SECRET_SIGNATURE_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270";

/** True when `value` is one of Pulumi's secret markers. */
export function isSecretMarker(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIGNATURE_KEY] === SECRET_SIGNATURE;
}

/** `value` with every secret marker replaced by the value it wraps, at any depth (plain objects and arrays). */
export function stripSecretMarkers(value: unknown): any {
    if (isSecretMarker(value)) return stripSecretMarkers(value.value);
    if (Array.isArray(value)) return value.map(stripSecretMarkers);
    if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stripSecretMarkers(v)]));
    }
    return value;
}
