/**
 * Pure builders for the Airflow image: the ECR repository settings, the content-derived image tag,
 * the reference the chart deploys, and the chart values that carry it. No Pulumi, no I/O.
 */
import * as crypto from "crypto";
import type { AirflowImageConfig } from "../../config/image";
import { IMAGE_DIGEST } from "../../config/image";
import type { HelmValues } from "./merge";

/** The image the chart runs: a repository plus a digest (every stack but dev's prebuilt-by-tag fallback). */
export interface DeployedImage {
    repository: string;
    /** sha256:<64 hex>; null only for dev's prebuilt image by tag. */
    digest: string | null;
    /** The Airflow version tag; with a digest it only documents the version. */
    tag: string;
}

/** The chart's start-up install hook in the official image's entrypoint (dev only: config/image.ts). */
export const STARTUP_INSTALL_ENV = "_PIP_ADDITIONAL_REQUIREMENTS";

/** Path of the Dockerfile inside the build context (the repository root). */
export const DOCKERFILE_PATH = "image/Dockerfile";

/** `repository@sha256:...`, or `repository:tag` when there is no digest (dev only). */
export function imageRef(image: DeployedImage): string {
    return image.digest === null ? `${image.repository}:${image.tag}` : `${image.repository}@${image.digest}`;
}

/** Splits `repository@sha256:<hex>` (what docker-build's digest and ECR produce) and rejects anything else. */
export function parseDigestRef(ref: string): { repository: string; digest: string } {
    const at = ref.lastIndexOf("@");
    const digest = ref.slice(at + 1);
    if (at <= 0 || !IMAGE_DIGEST.test(digest)) {
        throw new Error(`image reference "${ref}" is not repository@sha256:<64 hex chars>`);
    }
    return { repository: ref.slice(0, at), digest };
}

/** What config says to deploy, before any build: the configured repository at the configured digest or tag. */
export function configuredImage(image: AirflowImageConfig): DeployedImage {
    return { repository: image.repository, digest: image.digest, tag: image.tag };
}

/**
 * What build mode deploys: the pushed image, unless config pins a digest of that repository
 * (the rollback switch: set airflow.image.digest to an earlier push).
 */
export function builtImage(image: AirflowImageConfig, repositoryUrl: string, pushedDigest: string): DeployedImage {
    const digest = image.digest ?? pushedDigest;
    if (!IMAGE_DIGEST.test(digest)) {
        throw new Error(`the build of ${repositoryUrl} returned "${pushedDigest}", not a sha256 digest`);
    }
    return { repository: repositoryUrl, digest, tag: image.tag };
}

/** Airflow version the chart gates features on: the tag without its suffix (3.3.2-python3.11 → 3.3.2). */
export function airflowVersion(tag: string): string {
    return tag.replace(/[-].*$/, "");
}

/**
 * Chart values that make every Airflow container (and KubernetesExecutor pod templates, which fall back to
 * the default* keys) run the deployed image; the chart prefers the digest over the tag when both are set.
 */
export function chartImageValues(image: DeployedImage): HelmValues {
    return {
        airflowVersion: airflowVersion(image.tag),
        defaultAirflowRepository: image.repository,
        defaultAirflowTag: image.tag,
        defaultAirflowDigest: image.digest,
        images: {
            airflow: { repository: image.repository, tag: image.tag, digest: image.digest, pullPolicy: "IfNotPresent" },
        },
    };
}

/** The chart `env` entry that installs extra packages when containers start; none when the list is empty. */
export function startupInstallEnv(extraPipPackages: readonly string[]): Array<{ name: string; value: string }> {
    return extraPipPackages.length === 0 ? [] : [{ name: STARTUP_INSTALL_ENV, value: extraPipPackages.join(" ") }];
}

/** ECR repository settings: tags can never be overwritten, and every push is scanned. */
export function ecrRepositoryArgs(repositoryName: string): {
    name: string;
    imageTagMutability: "IMMUTABLE";
    imageScanningConfiguration: { scanOnPush: true };
    encryptionConfigurations: Array<{ encryptionType: "AES256" }>;
    forceDelete: false;
} {
    return {
        name: repositoryName,
        imageTagMutability: "IMMUTABLE",
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: "AES256" }],
        // Deleting the repository must never take the images that rollbacks point at with it.
        forceDelete: false,
    };
}

/**
 * The tag a build pushes: the Airflow version plus a hash of everything that goes into the image.
 * Same inputs → same tag → no rebuild; any change → a new tag, which immutable ECR tags require.
 */
export function contentTag(
    airflowTag: string,
    buildArgs: Readonly<Record<string, string>>,
    files: ReadonlyArray<{ path: string; content: Buffer | string }>,
): string {
    const hash = crypto.createHash("sha256");
    for (const key of Object.keys(buildArgs).sort()) {
        hash.update(`arg ${key}=${buildArgs[key]}\n`);
    }
    for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
        const content = typeof file.content === "string" ? Buffer.from(file.content) : file.content;
        hash.update(`file ${file.path} ${content.length}\n`);
        hash.update(content);
    }
    return `${airflowVersion(airflowTag)}-${hash.digest("hex").slice(0, 16)}`;
}

/** Build args of image/Dockerfile: the base image and which final stage (DAGs bundled or not) to build. */
export function dockerBuildArgs(baseImage: string, dagsSource: "bundled" | "gitSync"): { AIRFLOW_BASE_IMAGE: string; DAGS_SOURCE: "bundled" | "gitsync" } {
    return { AIRFLOW_BASE_IMAGE: baseImage, DAGS_SOURCE: dagsSource === "bundled" ? "bundled" : "gitsync" };
}

/** OCI labels recorded on the image, so a running pod's image says where it came from. */
export function imageLabels(baseImage: string, tag: string): Record<string, string> {
    return {
        "org.opencontainers.image.title": "airflow-platform",
        "org.opencontainers.image.version": tag,
        "org.opencontainers.image.base.name": baseImage,
    };
}
