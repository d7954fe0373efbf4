/**
 * The Airflow image a stack deploys, always by digest (docs/image.md).
 *
 * mode "build": an ECR repository (immutable tags, scan on push) and a docker-build Image of
 * image/Dockerfile pushed to it under a content-derived tag; the chart gets the pushed digest, or the
 * digest config pins (rollback). mode "prebuilt": no resources, the configured repository@digest.
 */
import * as fs from "fs";
import * as path from "path";
import * as aws from "@pulumi/aws";
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import type { AirflowImageConfig } from "../config/image";
import type { AirflowConfig } from "../config/schema";
import {
    DOCKERFILE_PATH,
    DeployedImage,
    builtImage,
    configuredImage,
    contentTag,
    dockerBuildArgs,
    ecrRepositoryArgs,
    imageLabels,
    imageRef,
} from "./values/image";
import { PACKAGE_ROOT } from "./values/paths";
import { ComponentArgsError } from "./errors";

/**
 * The package root: the build context image/Dockerfile is written for. The package ships image/ and
 * python/requirements.lock, so the default context builds an image without DAGs; bundled DAGs need a
 * `contextDir` holding dags/ too (this repository's root).
 */
export const DEFAULT_CONTEXT_DIR = PACKAGE_ROOT;

/** What image/Dockerfile copies into every image (besides itself and its .dockerignore). */
const CONTEXT_INPUTS = ["python/requirements.lock", "python/ml-requirements.lock"];
/** Copied only into images that bundle the DAGs. */
const BUNDLED_DAGS = "dags";

export interface AirflowImageArgs {
    /** What to deploy: `prebuilt` (a repository and digest) or `build` (image/Dockerfile on `baseImage`, pushed to an ECR repository). */
    image: AirflowImageConfig;
    /** airflow.dags.source: "bundled" bakes dags/ into the image; with git-sync a DAG change does not rebuild it. */
    dagsSource: AirflowConfig["dags"]["source"];
    /** Build context holding image/Dockerfile, python/requirements.lock and, for bundled DAGs, dags/. Default: the package root (`DEFAULT_CONTEXT_DIR`). */
    contextDir?: string;
}

/** The Airflow image a stack deploys, always by digest: built and pushed to ECR, or a prebuilt repository@digest. */
export class AirflowImage extends pulumi.ComponentResource {
    /** Repository the chart pulls from (the ECR repository URL in build mode). */
    readonly repository: pulumi.Output<string>;
    /** sha256 digest the chart deploys (null only for dev's prebuilt-by-tag fallback). */
    readonly digest: pulumi.Output<string | null>;
    /** repository@sha256:... (repository:tag only for that dev fallback). */
    readonly imageRef: pulumi.Output<string>;
    /** The Airflow component's `image` input. */
    readonly deployed: pulumi.Output<DeployedImage>;
    readonly ecrRepository?: aws.ecr.Repository;
    readonly build?: dockerBuild.Image;

    constructor(name: string, args: AirflowImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:index:AirflowImage", name, {}, opts);
        const child = { parent: this };
        const image = args.image;

        if (image.mode === "build") {
            if (image.baseImage === null) {
                throw new ComponentArgsError("AirflowImage", name, "image.baseImage", 'required when image.mode is "build"');
            }
            const contextDir = args.contextDir ?? DEFAULT_CONTEXT_DIR;
            const buildArgs = dockerBuildArgs(image.baseImage, args.dagsSource);
            const inputs = [...CONTEXT_INPUTS, ...(args.dagsSource === "bundled" ? [BUNDLED_DAGS] : [])];
            const tag = contentTag(image.tag, buildArgs, readContextFiles(contextDir, inputs));
            this.ecrRepository = new aws.ecr.Repository(`${name}-repository`, ecrRepositoryArgs(image.repository), child);
            const repositoryUrl = this.ecrRepository.repositoryUrl;
            const token = aws.ecr.getAuthorizationTokenOutput({ registryId: this.ecrRepository.registryId }, child);
            this.build = new dockerBuild.Image(
                `${name}-build`,
                {
                    context: { location: contextDir },
                    dockerfile: { location: path.join(contextDir, DOCKERFILE_PATH) },
                    buildArgs,
                    platforms: [dockerBuild.Platform.Linux_amd64],
                    labels: imageLabels(image.baseImage, tag),
                    push: true,
                    tags: [pulumi.interpolate`${repositoryUrl}:${tag}`],
                    registries: [{ address: repositoryUrl, username: token.userName, password: pulumi.secret(token.password) }],
                },
                child,
            );
            this.deployed = pulumi.all([repositoryUrl, this.build.digest]).apply(([url, digest]) => builtImage(image, url, digest));
        } else {
            this.deployed = pulumi.output(configuredImage(image));
        }

        this.repository = this.deployed.apply((d) => d.repository);
        this.digest = this.deployed.apply((d) => d.digest);
        this.imageRef = this.deployed.apply(imageRef);
        this.registerOutputs({ repository: this.repository, digest: this.digest, imageRef: this.imageRef });
    }
}

/** Every file the Dockerfile can copy, with its content, for the content-derived tag. */
function readContextFiles(contextDir: string, inputs: string[]): Array<{ path: string; content: Buffer }> {
    const relative = [DOCKERFILE_PATH, `${DOCKERFILE_PATH}.dockerignore`, ...inputs];
    return relative.flatMap((rel) => walk(contextDir, rel));
}

function walk(root: string, rel: string): Array<{ path: string; content: Buffer }> {
    const full = path.join(root, rel);
    if (!fs.existsSync(full)) {
        return [];
    }
    if (fs.statSync(full).isDirectory()) {
        return fs
            .readdirSync(full)
            .filter((entry) => entry !== "__pycache__" && !entry.endsWith(".pyc"))
            .flatMap((entry) => walk(root, path.join(rel, entry)));
    }
    return [{ path: rel, content: fs.readFileSync(full) }];
}
