/**
 * Where the package's data files are: `helm-values/`, `local_settings/`, `contract/`, `image/` and `python/`
 * sit at the package root, the nearest folder above this module that holds a package.json. From the sources
 * (ts-node, jest) that is the repository (components/values/ → ../..); from the compiled package it is the
 * installed package (dist/components/values/ → ../../..). `files` in package.json ships these folders.
 */
import * as fs from "fs";
import * as path from "path";

export function findPackageRoot(from: string): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "package.json"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}: the airflow-platform package is incomplete`);
    }
}

/** The root of the airflow-platform package (the repository when run from source). */
export const PACKAGE_ROOT = findPackageRoot(__dirname);

/** A data file of the package, e.g. packagePath("helm-values", "airflow.yaml"). */
export function packagePath(...parts: string[]): string {
    return path.join(PACKAGE_ROOT, ...parts);
}
