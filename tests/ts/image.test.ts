/**
 * The Airflow image (issue 11): pure builders, the airflow.image config rules, and under Pulumi mocks the
 * ECR repository + docker-build Image of build mode and their wiring into the chart values by digest.
 * Every values object produced here is validated against the official chart's values.schema.json.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Ajv2020 from "ajv/dist/2020";
import * as yaml from "js-yaml";
import { ConfigError, parseStackConfig } from "../../config/load";
import { StackConfig } from "../../config/schema";
import { AirflowImage } from "../../components/image";
import { airflowSecretNames, buildAirflowValues } from "../../components/values/airflow";
import {
    DeployedImage,
    STARTUP_INSTALL_ENV,
    builtImage,
    chartImageValues,
    configuredImage,
    contentTag,
    dockerBuildArgs,
    ecrRepositoryArgs,
    imageRef,
    parseDigestRef,
    startupInstallEnv,
} from "../../components/values/image";
import { HelmValues } from "../../components/values/merge";
import { helmMerge } from "./fixtures/schemas";
import { MOCK_AWS, RecordedResource, editConfigObject, isSecretMarker, readStackSections, runProgram, runStack, unwrap } from "../../offline/engine";

// The chart schema kept in fixtures (sha-checked against shared/ by airflow-values.test.ts).
const SHARED_CHART = path.join(__dirname, "fixtures", "airflow-chart");
const chartSchema = JSON.parse(fs.readFileSync(path.join(SHARED_CHART, "values.schema.json"), "utf8"));
const chartDefaults = yaml.load(fs.readFileSync(path.join(SHARED_CHART, "values.yaml"), "utf8")) as HelmValues;
const validateChart = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(chartSchema);

/** Schema errors of values as Helm sees them (coalesced over the chart defaults). */
function chartErrors(values: HelmValues): string[] {
    const merged = helmMerge(chartDefaults, values);
    return validateChart(merged) ? [] : (validateChart.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message}`);
}

const DIGEST_A = `sha256:${"a".repeat(64)}`;
const DIGEST_B = `sha256:${"b".repeat(64)}`;
const ECR_URL = `${MOCK_AWS.accountId}.dkr.ecr.${MOCK_AWS.region}.amazonaws.com/airflow-platform/airflow`;
const CHART_TYPE = "kubernetes:helm.sh/v4:Chart";
const ECR_TYPE = "aws:ecr/repository:Repository";
const BUILD_TYPE = "docker-build:index:Image";

type Sections = Record<string, any>;
function sections(stack: string, edit: (s: Sections) => void = () => undefined): Sections {
    const s = structuredClone(readStackSections(stack)) as Sections;
    edit(s);
    return s;
}
function problems(stack: string, edit: (s: Sections) => void): string[] {
    try {
        parseStackConfig(stack, sections(stack, edit));
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
    return [];
}
function config(stack: string, edit?: (s: Sections) => void): StackConfig {
    return parseStackConfig(stack, sections(stack, edit));
}

describe("pure image builders", () => {
    const image: DeployedImage = { repository: ECR_URL, digest: DIGEST_A, tag: "3.3.2" };

    test("imageRef is repository@digest, and repository:tag only without a digest", () => {
        expect(imageRef(image)).toBe(`${ECR_URL}@${DIGEST_A}`);
        expect(imageRef({ ...image, digest: null })).toBe(`${ECR_URL}:3.3.2`);
        expect(parseDigestRef(imageRef(image))).toEqual({ repository: ECR_URL, digest: DIGEST_A });
        expect(() => parseDigestRef(`${ECR_URL}:3.3.2`)).toThrow(/not repository@sha256/);
    });

    test("build mode deploys the pushed digest unless config pins one (the rollback switch)", () => {
        const cfg = config("prod").airflow.image;
        expect(builtImage(cfg, ECR_URL, DIGEST_A)).toEqual({ repository: ECR_URL, digest: DIGEST_A, tag: "3.3.2" });
        expect(builtImage({ ...cfg, digest: DIGEST_B }, ECR_URL, DIGEST_A).digest).toBe(DIGEST_B);
        expect(() => builtImage(cfg, ECR_URL, "")).toThrow(/not a sha256 digest/);
    });

    test("chart values carry repository and digest for Airflow and the pod-template defaults, and validate", () => {
        const values = chartImageValues(image);
        expect(values.images).toEqual({ airflow: { repository: ECR_URL, tag: "3.3.2", digest: DIGEST_A, pullPolicy: "IfNotPresent" } });
        expect(values).toMatchObject({ defaultAirflowRepository: ECR_URL, defaultAirflowDigest: DIGEST_A, airflowVersion: "3.3.2" });
        expect(chartErrors(values)).toEqual([]);
    });

    test("ECR repository: immutable tags, scan on push, never force-deleted", () => {
        expect(ecrRepositoryArgs("airflow-platform/airflow")).toEqual({
            name: "airflow-platform/airflow",
            imageTagMutability: "IMMUTABLE",
            imageScanningConfiguration: { scanOnPush: true },
            encryptionConfigurations: [{ encryptionType: "AES256" }],
            forceDelete: false,
        });
    });

    test("content tag: same inputs same tag, any change a new tag, order irrelevant", () => {
        const files = [
            { path: "python/requirements.lock", content: "apache-airflow==3.3.2\n" },
            { path: "dags/a.py", content: "x = 1\n" },
        ];
        const args = dockerBuildArgs("apache/airflow:3.3.2-python3.11", "bundled");
        const tag = contentTag("3.3.2", args, files);
        expect(tag).toMatch(/^3\.3\.2-[0-9a-f]{16}$/);
        expect(contentTag("3.3.2", args, [...files].reverse())).toBe(tag);
        expect(contentTag("3.3.2", args, [files[0], { path: "dags/a.py", content: "x = 2\n" }])).not.toBe(tag);
        expect(contentTag("3.3.2", dockerBuildArgs(`apache/airflow:3.3.2-python3.11@${DIGEST_A}`, "bundled"), files)).not.toBe(tag);
        expect(contentTag("3.3.2", dockerBuildArgs("apache/airflow:3.3.2-python3.11", "gitSync"), files)).not.toBe(tag);
    });

    test("build args pick the Dockerfile's final stage: DAGs bundled or left to git-sync", () => {
        expect(dockerBuildArgs("apache/airflow:3.3.2-python3.11", "bundled")).toEqual({ AIRFLOW_BASE_IMAGE: "apache/airflow:3.3.2-python3.11", DAGS_SOURCE: "bundled" });
        expect(dockerBuildArgs("apache/airflow:3.3.2-python3.11", "gitSync").DAGS_SOURCE).toBe("gitsync");
        const dockerfile = fs.readFileSync(path.resolve(__dirname, "..", "..", "image", "Dockerfile"), "utf8");
        for (const stage of ["bundled", "gitsync"]) expect(dockerfile).toMatch(new RegExp(`^FROM airflow AS dags-${stage}$`, "m"));
        expect(dockerfile).toMatch(/^FROM dags-\$\{DAGS_SOURCE\}$/m);
        // Bundled DAGs are byte-compiled right after the copy (each parse is a freshly forked process); git-sync's stage is empty.
        const stageBody = (stage: string) => dockerfile.split(new RegExp(`^FROM airflow AS dags-${stage}$`, "m"))[1].split(/^FROM /m)[0];
        const instructions = (stage: string) => stageBody(stage).split("\n").filter((line) => line.trim() && !line.startsWith("#"));
        expect(instructions("bundled")).toEqual(["COPY --chown=airflow:0 dags/ /opt/airflow/dags/", "RUN python -m compileall -q /opt/airflow/dags"]);
        expect(instructions("gitsync")).toEqual([]);
    });

    test("start-up installs become the chart's _PIP_ADDITIONAL_REQUIREMENTS env, nothing when empty", () => {
        expect(startupInstallEnv([])).toEqual([]);
        expect(startupInstallEnv(["polars==1.0", "rich"])).toEqual([{ name: STARTUP_INSTALL_ENV, value: "polars==1.0 rich" }]);
    });
});

describe("airflow.image config rules", () => {
    test("every shipped stack is valid: dev prebuilt by tag, staging and prod build mode", () => {
        expect(config("dev").airflow.image).toMatchObject({ mode: "prebuilt", digest: null, extraPipPackages: [] });
        for (const stack of ["staging", "prod"]) {
            expect(config(stack).airflow.image).toMatchObject({ mode: "build", baseImage: "apache/airflow:3.3.2-python3.11" });
        }
    });

    test("start-up installs are refused in prod and staging with the key named, allowed in dev", () => {
        for (const stack of ["prod", "staging"]) {
            const found = problems(stack, (s) => (s.airflow.image.extraPipPackages = ["polars==1.0"]));
            expect(found).toHaveLength(1);
            expect(found[0]).toMatch(/^airflow\.image\.extraPipPackages: start-up installs \(the chart's _PIP_ADDITIONAL_REQUIREMENTS\) are allowed only in dev/);
            expect(found[0]).toContain(`stack "${stack}" must bake polars==1.0 into the image`);
        }
        expect(problems("dev", (s) => (s.airflow.image.extraPipPackages = ["polars==1.0"]))).toEqual([]);
    });

    test("a prebuilt image by tag without a digest is refused in prod naming the key; by digest it is accepted", () => {
        const byTag = (s: Sections) => Object.assign(s.airflow.image, { mode: "prebuilt", baseImage: null, repository: ECR_URL, digest: null });
        const found = problems("prod", byTag);
        expect(found).toEqual([expect.stringMatching(/^airflow\.image\.digest: stack "prod" deploys a prebuilt image by digest only, got tag "3\.3\.2"/)]);
        expect(problems("staging", byTag)).toHaveLength(1);
        expect(problems("prod", (s) => (byTag(s), (s.airflow.image.digest = DIGEST_A)))).toEqual([]);
    });

    test("malformed image settings are refused with the exact key path", () => {
        expect(problems("prod", (s) => (s.airflow.image.repository = "airflow-platform/airflow:3.3.2"))).toEqual([
            expect.stringMatching(/^airflow\.image\.repository: must be an image repository without :tag or @digest/),
        ]);
        expect(problems("prod", (s) => (s.airflow.image.digest = "3.3.2"))).toEqual(["airflow.image.digest: must be sha256:<64 hex chars>"]);
        expect(problems("prod", (s) => (s.airflow.image.baseImage = null))).toEqual([expect.stringMatching(/^airflow\.image\.baseImage: required when mode is build/)]);
        expect(problems("prod", (s) => (s.airflow.image.baseImage = "apache/airflow:3.3.1-python3.11"))).toEqual([
            "airflow.image.baseImage: Airflow 3.3.1 does not match tag 3.3.2",
        ]);
        expect(problems("prod", (s) => (s.airflow.image.baseImage = "my/airflow:3.3.2"))).toEqual([
            expect.stringMatching(/^airflow\.image\.baseImage: must be the official image apache\/airflow/),
        ]);
        expect(problems("dev", (s) => (s.airflow.image.baseImage = "apache/airflow:3.3.2"))).toEqual([
            "airflow.image.baseImage: must be null when mode is prebuilt (the image is already built)",
        ]);
        expect(problems("dev", (s) => (s.airflow.image.extraPipPackages = ["--index-url=http://x"]))).toEqual([
            "airflow.image.extraPipPackages[0]: must be a pip requirement such as 'pkg==1.2' (no pip options)",
        ]);
        expect(problems("dev", (s) => (s.airflow.image.mode = "build", s.airflow.image.baseImage = "apache/airflow:3.3.2"))).toEqual([
            "airflow.image.mode: build pushes to an ECR repository and needs aws.enabled: true (or use mode prebuilt)",
        ]);
    });

    test("dev's start-up installs reach the chart values as env, and the values validate", () => {
        const dev = config("dev", (s) => (s.airflow.image.extraPipPackages = ["polars==1.0"]));
        const values = buildAirflowValues({ airflow: dev.airflow, secretNames: airflowSecretNames("platform-airflow"), integrations: {} });
        expect(values.env).toContainEqual({ name: STARTUP_INSTALL_ENV, value: "polars==1.0" });
        expect(chartErrors(values)).toEqual([]);
        const prod = buildAirflowValues({ airflow: config("prod").airflow, secretNames: airflowSecretNames("platform-airflow"), integrations: {} });
        expect((prod.env as Array<{ name: string }>).map((e) => e.name)).not.toContain(STARTUP_INSTALL_ENV);
    });
});

/** Values of the Airflow release (the Platform deploys other charts beside it). */
function airflowChartValues(resources: RecordedResource[]): HelmValues {
    const chart = resources.find((r) => r.type === CHART_TYPE && r.name === "platform-airflow");
    expect(chart).toBeDefined();
    return chart!.inputs.values as HelmValues;
}

function only(resources: RecordedResource[], type: string): RecordedResource {
    const found = resources.filter((r) => r.type === type);
    expect(found).toHaveLength(1);
    return found[0];
}

describe("under Pulumi mocks", () => {
    test("prod builds into an immutable, scanned ECR repository and the chart deploys the pushed digest", async () => {
        const run = await runStack("prod");
        const repo = only(run.resources, ECR_TYPE);
        expect(repo.inputs).toMatchObject(ecrRepositoryArgs("airflow-platform/airflow"));
        const build = only(run.resources, BUILD_TYPE);
        expect(build.inputs).toMatchObject({
            push: true,
            buildArgs: { AIRFLOW_BASE_IMAGE: "apache/airflow:3.3.2-python3.11", DAGS_SOURCE: "gitsync" },
            platforms: ["linux/amd64"],
            context: { location: path.resolve(__dirname, "..", "..") },
            dockerfile: { location: path.resolve(__dirname, "..", "..", "image", "Dockerfile") },
        });
        expect(build.inputs.tags).toEqual([expect.stringMatching(new RegExp(`^${ECR_URL.replace(/\./g, "\\.")}:3\\.3\\.2-[0-9a-f]{16}$`))]);
        // The registry password is an ECR token: Pulumi must keep it (and so the whole list) secret in state.
        const registries = (build.rawInputs as any).registries;
        expect(isSecretMarker(registries)).toBe(true);
        expect(build.inputs.registries).toEqual([{ address: ECR_URL, username: "AWS", password: expect.any(String) }]);
        expect(run.generatedSecrets).toContain(build.inputs.registries[0].password);

        const image = run.resources.find((r) => r.type === "airflow-platform:index:AirflowImage")!;
        expect(image).toBeDefined();
        expect(repo.parentUrn).toBe(image.urn);
        expect(build.parentUrn).toBe(image.urn);

        const values = airflowChartValues(run.resources);
        const pushed = build.state.digest as string;
        expect(pushed).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(values.images).toMatchObject({ airflow: { repository: ECR_URL, digest: pushed } });
        expect(values).toMatchObject({ defaultAirflowRepository: ECR_URL, defaultAirflowDigest: pushed });
        expect(chartErrors(values)).toEqual([]);
        // The stack output records what was deployed, for rollbacks.
        expect(run.outputs.airflowImage).toBe(`${ECR_URL}@${pushed}`);
    });

    test("rollback: pinning an earlier digest in config deploys it while the build stays in place", async () => {
        const run = await runStack("prod", { mutateConfig: (c) => editConfigObject(c, "airflow", (a) => (a.image.digest = DIGEST_B)) });
        expect(only(run.resources, BUILD_TYPE).state.digest).not.toBe(DIGEST_B);
        expect(airflowChartValues(run.resources).images).toMatchObject({ airflow: { repository: ECR_URL, digest: DIGEST_B } });
    });

    test("prebuilt by digest: no build resources, the chart gets exactly repository@digest", async () => {
        const run = await runStack("prod", {
            mutateConfig: (c) =>
                editConfigObject(c, "airflow", (a) => Object.assign(a.image, { mode: "prebuilt", baseImage: null, repository: "registry.example.com/airflow", digest: DIGEST_A })),
        });
        expect(run.resources.filter((r) => r.type === ECR_TYPE || r.type === BUILD_TYPE)).toEqual([]);
        const values = airflowChartValues(run.resources);
        expect(values.images).toMatchObject({ airflow: { repository: "registry.example.com/airflow", digest: DIGEST_A } });
        expect(chartErrors(values)).toEqual([]);
    });

    test("dev: prebuilt by tag, no AWS or build resources", async () => {
        const run = await runStack("dev");
        expect(run.resources.filter((r) => r.type === ECR_TYPE || r.type === BUILD_TYPE)).toEqual([]);
        const values = airflowChartValues(run.resources);
        expect(values.images).toEqual({ airflow: { repository: "airflow-platform/airflow", tag: "3.3.2", digest: null, pullPolicy: "IfNotPresent" } });
    });

    test("prod refuses start-up installs before creating anything, naming the key", async () => {
        await expect(
            runStack("prod", { mutateConfig: (c) => editConfigObject(c, "airflow", (a) => (a.image.extraPipPackages = ["polars==1.0"])) }),
        ).rejects.toThrow(/airflow\.image\.extraPipPackages: start-up installs \(the chart's _PIP_ADDITIONAL_REQUIREMENTS\) are allowed only in dev/);
    });

    test("the component's outputs and content tag follow the build context", async () => {
        const context = fs.mkdtempSync(path.join(os.tmpdir(), "image-context-"));
        const write = (rel: string, text: string) => {
            fs.mkdirSync(path.dirname(path.join(context, rel)), { recursive: true });
            fs.writeFileSync(path.join(context, rel), text);
        };
        write("image/Dockerfile", "FROM ${AIRFLOW_BASE_IMAGE}\n");
        write("python/requirements.lock", "apache-airflow==3.3.2\n");
        write("dags/phase1/01_hello.py", "x = 1\n");
        const image = config("prod").airflow.image;
        const evaluate = async (dagsSource: "bundled" | "gitSync") => {
            const run = await runProgram(() => {
                const component = new AirflowImage("img", { image, dagsSource, contextDir: context });
                return { repository: component.repository, digest: component.digest, imageRef: component.imageRef };
            }, { stack: "prod" });
            const outputs = (await unwrap(run.outputs)) as { repository: string; digest: string; imageRef: string };
            return { run, outputs, tag: only(run.resources, BUILD_TYPE).inputs.tags[0] as string };
        };
        try {
            const bundled = await evaluate("bundled");
            expect(bundled.outputs.repository).toBe(ECR_URL);
            expect(bundled.outputs.imageRef).toBe(`${ECR_URL}@${bundled.outputs.digest}`);
            expect(bundled.run.resources.filter((r) => r.type !== "pulumi:pulumi:Stack").map((r) => r.name).sort()).toEqual(["img", "img-build", "img-repository"]);
            const gitSync = await evaluate("gitSync");
            expect((await evaluate("bundled")).tag).toBe(bundled.tag);

            write("dags/phase1/01_hello.py", "x = 2\n");
            const bundledAfterDagChange = await evaluate("bundled");
            expect(bundledAfterDagChange.tag).not.toBe(bundled.tag);
            expect(bundledAfterDagChange.outputs.digest).not.toBe(bundled.outputs.digest);
            // With git-sync the DAGs are not in the image, so a DAG change must not rebuild it.
            expect((await evaluate("gitSync")).tag).toBe(gitSync.tag);

            write("python/requirements.lock", "apache-airflow==3.3.2\nrich==14.0.0\n");
            expect((await evaluate("gitSync")).tag).not.toBe(gitSync.tag);
        } finally {
            fs.rmSync(context, { recursive: true, force: true });
        }
    });

    test("configuredImage mirrors config for prebuilt stacks", () => {
        expect(configuredImage(config("dev").airflow.image)).toEqual({ repository: "airflow-platform/airflow", digest: null, tag: "3.3.2" });
    });
});
