/**
 * Errors the components raise about their own Args, in the components' vocabulary: the component, its
 * resource name and the Args field (`Postgres "reporting-db": rds.subnetIds: …`), never a stack-config key of
 * this repository. The Platform, which builds components from stack config, translates the field back to
 * the config key it came from (see `withConfigKeys`).
 */

/** A component refused its Args: `component "name": path: problem`. */
export class ComponentArgsError extends Error {
    constructor(
        /** The component class, e.g. `Postgres`. */
        readonly component: string,
        /** The component's resource name. */
        readonly resourceName: string,
        /** Path of the offending field inside the Args, e.g. `rds.subnetIds` or `topics[0].retentionMs`. */
        readonly argPath: string,
        /** What is wrong, without the field's name. */
        readonly problem: string,
    ) {
        super(`${component} "${resourceName}": ${argPath}: ${problem}`);
        this.name = "ComponentArgsError";
    }
}

/**
 * Runs a pure validator that names fields as `<label><path>: <problem>` (the builders in `values/` take the
 * label to use, e.g. `topics` gives `topics[0].retentionMs: …`) and turns its error into a ComponentArgsError
 * naming that field; a message without a field is reported against `argPath`.
 */
export function checkArgs(component: string, resourceName: string, argPath: string, validate: (label: string) => void): void {
    try {
        validate(argPath);
    } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        const field = /^([A-Za-z_][\w.[\]-]*): ([\s\S]*)$/.exec(message);
        if (!field) throw new ComponentArgsError(component, resourceName, argPath, message);
        throw new ComponentArgsError(component, resourceName, field[1], field[2]);
    }
}

/**
 * Builds a component from stack config, translating a ComponentArgsError's field into the config key it was
 * read from: `keys` maps an Args path prefix (`rds.subnetIds`, `topics`) to a config key (`postgres.rds.subnetIds`,
 * `kafka.topics`); the longest matching prefix wins, and the rest of the path is kept (`kafka.topics[0].name`).
 * Errors of other kinds, and fields with no config key, pass through unchanged.
 */
export function withConfigKeys<T>(keys: Record<string, string>, build: () => T): T {
    try {
        return build();
    } catch (e) {
        if (!(e instanceof ComponentArgsError)) throw e;
        const prefix = Object.keys(keys)
            .filter((k) => e.argPath === k || e.argPath.startsWith(`${k}.`) || e.argPath.startsWith(`${k}[`))
            .sort((a, b) => b.length - a.length)[0];
        if (prefix === undefined) throw e;
        throw new Error(`${keys[prefix]}${e.argPath.slice(prefix.length)}: ${e.problem}`);
    }
}
