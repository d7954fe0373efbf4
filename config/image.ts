/**
 * The `airflow.image` config section: which Airflow image a stack deploys, and the rules that keep
 * every deploy pinned by digest (docs/image.md).
 *
 * - mode "build": the program builds image/Dockerfile (official base + python/requirements.lock + dags/)
 *   and pushes it to an ECR repository named `repository`; the chart gets the pushed digest.
 * - mode "prebuilt": the chart gets `repository@digest` as given.
 * In both modes a non-null `digest` is what the chart deploys, so a rollback is a one-line config change.
 */
import { z } from "zod";

export const IMAGE_MODES = ["build", "prebuilt"] as const;
export type ImageMode = (typeof IMAGE_MODES)[number];

/** The only stack allowed to install packages when containers start (the chart's _PIP_ADDITIONAL_REQUIREMENTS). */
export const STARTUP_INSTALL_STACKS: readonly string[] = ["dev"];

export const IMAGE_DIGEST = /^sha256:[0-9a-f]{64}$/;
/** The official image, by tag and optionally pinned by digest: apache/airflow:3.3.2-python3.11[@sha256:...]. */
const OFFICIAL_BASE_IMAGE = /^apache\/airflow:(3\.3\.\d+)(-python3\.\d+)?(@sha256:[0-9a-f]{64})?$/;
/** A repository without tag or digest: registry host optional, lowercase path components. */
const REPOSITORY = /^([a-z0-9.-]+(:\d+)?\/)?[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
/** A pip requirement (name, extras, version specifier); no options such as --index-url. */
const PIP_REQUIREMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?([<>=!~]=?[A-Za-z0-9.*+!_-]+(,[<>=!~]=?[A-Za-z0-9.*+!_-]+)*)?$/;

export const airflowImageSchema = z
    .strictObject({
        mode: z.enum(IMAGE_MODES),
        /** build: the ECR repository name to create; prebuilt: the repository to pull from. No tag, no digest. */
        repository: z.string().regex(REPOSITORY, "must be an image repository without :tag or @digest, e.g. airflow-platform/airflow"),
        /** Airflow 3.3 only: the chart gates features on it and this package's DAGs target it. */
        tag: z.string().regex(/^3\.3\.\d+([-.][A-Za-z0-9.-]+)?$/, "must be an Airflow 3.3.x image tag such as 3.3.2"),
        /** The image the chart deploys. null: build mode deploys what it just built; prebuilt mode uses the tag (dev only). */
        digest: z.string().regex(IMAGE_DIGEST, "must be sha256:<64 hex chars>").nullable(),
        /** build mode: the official base image (--build-arg AIRFLOW_BASE_IMAGE); null in prebuilt mode. */
        baseImage: z
            .string()
            .regex(OFFICIAL_BASE_IMAGE, "must be the official image apache/airflow:3.3.x[-pythonX.Y][@sha256:...]")
            .nullable(),
        /** Requirements installed when each container starts (dev only; staging and prod bake them into the image). */
        extraPipPackages: z.array(z.string().regex(PIP_REQUIREMENT, "must be a pip requirement such as 'pkg==1.2' (no pip options)")),
    })
    .check((ctx) => {
        const v = ctx.value;
        if (v.mode === "build" && v.baseImage === null) {
            ctx.issues.push({ code: "custom", input: null, path: ["baseImage"], message: "required when mode is build (e.g. apache/airflow:3.3.2-python3.11)" });
        }
        if (v.mode === "prebuilt" && v.baseImage !== null) {
            ctx.issues.push({ code: "custom", input: v.baseImage, path: ["baseImage"], message: "must be null when mode is prebuilt (the image is already built)" });
        }
        const baseTag = v.baseImage?.match(OFFICIAL_BASE_IMAGE)?.[1];
        if (baseTag !== undefined && baseTag !== v.tag.replace(/[-].*$/, "")) {
            ctx.issues.push({ code: "custom", input: v.baseImage, path: ["baseImage"], message: `Airflow ${baseTag} does not match tag ${v.tag}` });
        }
    });

export type AirflowImageConfig = z.infer<typeof airflowImageSchema>;
