/**
 * Where each Helm chart comes from. A chart is pinned once (name, version, repository); the chart source
 * decides whether a release pulls that pin from the chart's repository (a user's real deploy) or reads the
 * same chart from a local folder of packaged tarballs (tests, CI and air-gapped installs).
 */
import * as fs from "fs";
import * as path from "path";

/** One chart at one version, in its upstream repository (an https index or an oci:// reference). */
export interface ChartPin {
    chart: string;
    version: string;
    repo: string;
}

/**
 * `repository`: pull each chart from its repository at the pinned version (the default).
 * `local`: read `<chart>-<version>.tgz` (or `<chart>-<version>-<suffix>.tgz`) from `directory`,
 * a folder of `helm package` tarballs; a relative directory is resolved against the working directory.
 */
export type ChartSource = { source: "repository" } | { source: "local"; directory: string };

export const REPOSITORY_SOURCE: ChartSource = { source: "repository" };

/** The chart fields of a helm.v4.Chart's args: chart plus version and repositoryOpts, or a local tarball path. */
export interface ChartLocation {
    chart: string;
    version?: string;
    repositoryOpts?: { repo: string };
}

export class ChartNotFoundError extends Error {}

/** An oci:// repository is the chart reference itself; an https repository is an index the chart name is looked up in. */
function fromRepository(pin: ChartPin): ChartLocation {
    return pin.repo.startsWith("oci://") ? { chart: pin.repo, version: pin.version } : { chart: pin.chart, version: pin.version, repositoryOpts: { repo: pin.repo } };
}

/**
 * The tarball of `pin` among `files` (names in one folder): exactly `<chart>-<version>.tgz`, else the one
 * `<chart>-<version>-<suffix>.tgz` (a build of the same version from another commit, named so by its maker).
 */
export function tarballFor(pin: ChartPin, files: readonly string[]): string | undefined {
    const exact = `${pin.chart}-${pin.version}.tgz`;
    if (files.includes(exact)) return exact;
    const suffixed = files.filter((f) => f.startsWith(`${pin.chart}-${pin.version}-`) && f.endsWith(".tgz"));
    return suffixed.length === 1 ? suffixed[0] : undefined;
}

/** Resolves a pin against a chart source; a local source whose folder lacks the tarball is an error naming both. */
export function chartLocation(pin: ChartPin, source: ChartSource = REPOSITORY_SOURCE, listDir: (dir: string) => string[] = fs.readdirSync): ChartLocation {
    if (source.source === "repository") return fromRepository(pin);
    const directory = path.resolve(source.directory);
    let files: string[];
    try {
        files = listDir(directory);
    } catch {
        throw new ChartNotFoundError(`chart source: local chart folder ${directory} cannot be read (needed for ${pin.chart} ${pin.version})`);
    }
    const tarball = tarballFor(pin, files);
    if (!tarball) {
        throw new ChartNotFoundError(
            `chart source: no tarball for ${pin.chart} ${pin.version} in ${directory} (expected ${pin.chart}-${pin.version}.tgz or one ${pin.chart}-${pin.version}-<suffix>.tgz)`,
        );
    }
    return { chart: path.join(directory, tarball) };
}
