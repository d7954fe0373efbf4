/**
 * Pulumi mock harness: evaluates a program (or the real index.ts under a named stack) offline with
 * pulumi.runtime.setMocks, records every registered resource and unwraps outputs and secrets.
 *
 * It does not depend on jest, so scripts/synth.ts and bench/program-eval.ts share it. Runs are
 * independent because each one installs a fresh mock monitor and replaces the whole config map, and
 * index.ts exports a program function instead of doing work when it is imported.
 */
import { isSecretMarker, stripSecretMarkers } from "../components/testing";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";

export const REPO_ROOT = path.resolve(__dirname, "..");
/** The shared folder beside the checkout (CI lays it there), else the workplace copy. */
export const SHARED_DIR = [path.resolve(REPO_ROOT, "..", "shared"), "/work/shared"].find((d) => fs.existsSync(d)) ?? path.resolve(REPO_ROOT, "..", "shared");
/** The project name from Pulumi.yaml; config keys are namespaced with it. */
export const PROJECT_NAME = readProjectName();

/** Pulumi marks secrets in deserialized inputs with this signature (runtime/rpc.ts). */

export interface RecordedResource {
    type: string;
    name: string;
    /** URN assigned by the mock monitor (filled when registration completes). */
    urn: string;
    /** URN of the parent resource, "" for the stack itself. */
    parentUrn: string;
    custom: boolean;
    id: string | undefined;
    /** Inputs with secret markers kept: a secret is `{[sig]: secretSig, value}` (see isSecretMarker). */
    rawInputs: unknown;
    /** Inputs with secret markers removed (plain values). */
    inputs: any;
    /** What the mock returned as the resource's state. */
    state: Record<string, unknown>;
}

export interface MockInvoke {
    token: string;
    inputs: any;
}

export interface StackConfigFile {
    /** Fully qualified key -> value as Pulumi passes it to the program (objects JSON-encoded). */
    config: Record<string, string>;
    secretKeys: string[];
}

export interface RunOptions {
    stack: string;
    project?: string;
    config?: Record<string, string>;
    secretKeys?: string[];
    preview?: boolean;
}

export interface RunResult<T> {
    stack: string;
    resources: RecordedResource[];
    invokes: MockInvoke[];
    /** The program's return value with every Output resolved. */
    outputs: T;
    /** Every value the mocks generated for random secrets, plus secret config plaintexts. */
    generatedSecrets: string[];
    /** Wall time of the evaluation in milliseconds. */
    elapsedMs: number;
}

function readProjectName(): string {
    const file = path.join(REPO_ROOT, "Pulumi.yaml");
    if (!fs.existsSync(file)) {
        return "airflow-platform";
    }
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { name?: string };
    return doc?.name ?? "airflow-platform";
}

// One implementation for this repo's tests and for programs that install the package (airflow-platform/testing).
export { isSecretMarker, stripSecretMarkers };

/** Deterministic pseudo-random text so mocked secrets are stable and distinct per resource. */
function mockDigest(seed: string, bytes: number): Buffer {
    const out: Buffer[] = [];
    let counter = 0;
    while (Buffer.concat(out).length < bytes) {
        out.push(crypto.createHash("sha256").update(`${seed}#${counter++}`).digest());
    }
    return Buffer.concat(out).subarray(0, bytes);
}

function mockText(seed: string, length: number): string {
    const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    const digest = mockDigest(seed, length);
    return Array.from(digest, (b) => alphabet[b % alphabet.length]).join("");
}

/** Plausible outputs for the resource types this package uses; everything echoes its inputs. */
function mockState(type: string, name: string, inputs: any, secrets: Set<string>): { id: string; state: Record<string, unknown> } {
    const state: Record<string, unknown> = { ...inputs };
    const seed = `${type}::${name}`;
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
        case "random:index/randomString:RandomString": {
            const result = mockText(seed, Number(inputs.length ?? 32));
            secrets.add(result);
            state.result = result;
            if (type.endsWith("RandomPassword")) {
                state.bcryptHash = `$2a$10$${mockText(`${seed}-bcrypt`, 53)}`;
            }
            return { id: `${name}-id`, state };
        }
        case "random:index/randomBytes:RandomBytes": {
            const bytes = mockDigest(seed, Number(inputs.length ?? 32));
            state.base64 = bytes.toString("base64");
            state.hex = bytes.toString("hex");
            secrets.add(state.base64 as string);
            secrets.add(state.hex as string);
            return { id: `${name}-id`, state };
        }
        case "random:index/randomId:RandomId": {
            const bytes = mockDigest(seed, Number(inputs.byteLength ?? 8));
            state.hex = bytes.toString("hex");
            state.b64Url = bytes.toString("base64url");
            state.b64Std = bytes.toString("base64");
            state.dec = BigInt(`0x${state.hex}`).toString();
            return { id: state.b64Url as string, state };
        }
        case "random:index/randomUuid:RandomUuid": {
            const hex = mockDigest(seed, 16).toString("hex");
            state.result = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
            return { id: state.result as string, state };
        }
    }
    if (type.startsWith("kubernetes:")) {
        // Auto-named Kubernetes objects get their logical name, so values that reference them resolve.
        const metadata = { ...(inputs.metadata ?? {}) } as Record<string, unknown>;
        if (metadata.name === undefined) {
            metadata.name = name;
        }
        state.metadata = metadata;
        const namespace = typeof metadata.namespace === "string" ? metadata.namespace : "default";
        return { id: `${namespace}/${metadata.name}`, state };
    }
    if (type === "aws:ecr/repository:Repository") {
        const repositoryName = String(inputs.name ?? name);
        state.arn = `arn:aws:ecr:${MOCK_AWS.region}:${MOCK_AWS.accountId}:repository/${repositoryName}`;
        state.registryId = MOCK_AWS.accountId;
        state.repositoryUrl = `${MOCK_AWS.accountId}.dkr.ecr.${MOCK_AWS.region}.amazonaws.com/${repositoryName}`;
        return { id: repositoryName, state };
    }
    if (type === "docker-build:index:Image") {
        // A pushed build: the digest follows the tags and build args, as a real content change would.
        const tags = (inputs.tags ?? []) as string[];
        state.digest = `sha256:${mockDigest(`${seed}|${JSON.stringify(tags)}|${JSON.stringify(inputs.buildArgs ?? {})}`, 32).toString("hex")}`;
        state.ref = tags.length > 0 ? `${tags[0]}@${state.digest}` : "";
        return { id: `${name}-id`, state };
    }
    if (type.startsWith("aws:")) {
        return mockAwsState(type, name, inputs, state);
    }
    return { id: `${name}-id`, state };
}

/** Account and region the AWS mocks answer with. */
export const MOCK_AWS = { accountId: "123456789012", region: "eu-west-1" } as const;

/**
 * What AWS returns for the types the program creates, shaped as the provider's outputs (ARNs, endpoints,
 * ids), so everything downstream of them (Helm values that embed an RDS address, IRSA annotations with a
 * role ARN) renders as it would after a real create.
 */
function mockAwsState(type: string, name: string, inputs: any, state: Record<string, unknown>): { id: string; state: Record<string, unknown> } {
    const { accountId, region } = MOCK_AWS;
    const suffix = mockDigest(`${type}::${name}`, 6).toString("hex");
    switch (type) {
        case "aws:s3/bucket:Bucket": {
            const bucket = String(inputs.bucket ?? `${name}-${suffix}`);
            Object.assign(state, {
                bucket,
                arn: `arn:aws:s3:::${bucket}`,
                bucketDomainName: `${bucket}.s3.amazonaws.com`,
                bucketRegionalDomainName: `${bucket}.s3.${region}.amazonaws.com`,
                region,
                hostedZoneId: "Z1BKCTXD74EZPE",
            });
            return { id: bucket, state };
        }
        case "aws:iam/role:Role": {
            const roleName = String(inputs.name ?? `${name}-${suffix}`);
            Object.assign(state, { name: roleName, arn: `arn:aws:iam::${accountId}:role/${roleName}`, uniqueId: `AROA${suffix.toUpperCase()}` });
            return { id: roleName, state };
        }
        case "aws:iam/rolePolicy:RolePolicy": {
            const policyName = String(inputs.name ?? `${name}-${suffix}`);
            return { id: `${inputs.role}:${policyName}`, state: { ...state, name: policyName } };
        }
        case "aws:rds/instance:Instance": {
            const identifier = String(inputs.identifier ?? `${name}-${suffix}`);
            const address = `${identifier}.c${suffix}.${region}.rds.amazonaws.com`;
            const port = Number(inputs.port ?? 5432);
            Object.assign(state, {
                identifier,
                address,
                port,
                endpoint: `${address}:${port}`,
                arn: `arn:aws:rds:${region}:${accountId}:db:${identifier}`,
                resourceId: `db-${suffix.toUpperCase()}`,
                hostedZoneId: "Z29XKXDKYMONMX",
            });
            return { id: identifier, state };
        }
        case "aws:rds/subnetGroup:SubnetGroup": {
            const groupName = String(inputs.name ?? `${name}-${suffix}`);
            Object.assign(state, { name: groupName, arn: `arn:aws:rds:${region}:${accountId}:subgrp:${groupName}` });
            return { id: groupName, state };
        }
        case "aws:kms/key:Key": {
            const keyId = `${suffix.slice(0, 8)}-${suffix.slice(8, 12)}-4${suffix.slice(1, 4)}-a${suffix.slice(4, 7)}-${suffix}`;
            Object.assign(state, { keyId, arn: `arn:aws:kms:${region}:${accountId}:key/${keyId}` });
            return { id: keyId, state };
        }
        case "aws:ec2/securityGroup:SecurityGroup": {
            const id = `sg-0${suffix}${suffix.slice(0, 4)}`;
            Object.assign(state, { name: inputs.name ?? `${name}-${suffix}`, arn: `arn:aws:ec2:${region}:${accountId}:security-group/${id}`, ownerId: accountId });
            return { id, state };
        }
        default: {
            // Bucket sub-resources (versioning, encryption, ...) are identified by their bucket.
            const physical = String(inputs.bucket ?? inputs.name ?? name);
            return { id: physical, state };
        }
    }
}

function mockCall(token: string, inputs: any, secrets: Set<string>): Record<string, unknown> {
    switch (token) {
        case "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
            const password = mockText(`${token}::${inputs.registryId ?? ""}`, 40);
            secrets.add(password);
            return {
                userName: "AWS",
                password,
                authorizationToken: Buffer.from(`AWS:${password}`).toString("base64"),
                proxyEndpoint: `https://${inputs.registryId ?? MOCK_AWS.accountId}.dkr.ecr.${MOCK_AWS.region}.amazonaws.com`,
                expiresAt: "2099-01-01T00:00:00Z",
                id: MOCK_AWS.region,
            };
        }
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/mock", userId: "mock" };
        case "aws:index/getRegion:getRegion":
            return { name: inputs.name ?? "eu-west-1", region: inputs.region ?? "eu-west-1" };
        case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com" };
        case "aws:ec2/getSubnet:getSubnet":
            return { ...inputs, vpcId: `vpc-0${mockDigest(String(inputs.id ?? ""), 8).toString("hex")}`, availabilityZone: `${MOCK_AWS.region}a` };
        default:
            return inputs;
    }
}

/** Reads Pulumi.<stack>.yaml into the flat key->string map Pulumi hands the program. */
export function loadStackConfigFile(stack: string, options: { root?: string; project?: string } = {}): StackConfigFile {
    const root = options.root ?? REPO_ROOT;
    const project = options.project ?? PROJECT_NAME;
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        throw new Error(`stack file ${file} does not exist`);
    }
    const doc = (yaml.load(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [rawKey, value] of Object.entries(doc.config ?? {})) {
        const key = rawKey.includes(":") ? rawKey : `${project}:${rawKey}`;
        if (isSecureConfigValue(value)) {
            // Ciphertext cannot be decrypted without the Pulumi CLI: stand in a recognisable placeholder.
            config[key] = mockSecretConfigValue(key);
            secretKeys.push(key);
        } else {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return { config, secretKeys };
}

/** The config sections of a stack file as parsed objects (keys without the project prefix), secrets excluded. */
export function readStackSections(stack: string): Record<string, unknown> {
    const file = loadStackConfigFile(stack);
    const prefix = `${PROJECT_NAME}:`;
    const sections: Record<string, unknown> = {};
    for (const [key, raw] of Object.entries(file.config)) {
        if (key.startsWith(prefix) && !file.secretKeys.includes(key)) {
            sections[key.slice(prefix.length)] = JSON.parse(raw);
        }
    }
    return sections;
}

function isSecureConfigValue(value: unknown): boolean {
    return typeof value === "object" && value !== null && Object.keys(value).length === 1 && "secure" in value;
}

/** The plaintext the harness uses for a secret config key whose real value is only known to the CLI. */
export function mockSecretConfigValue(key: string): string {
    return `mock-secret-${key.replace(/[^A-Za-z0-9]/g, "-")}-${mockText(key, 12)}`;
}

type RpcCallback = (err: unknown, response: any) => void;
interface MonitorLike {
    registerResource(req: any, callback: RpcCallback): Promise<void>;
}
/** waitForRPCs is @internal in the typings but is how the SDK itself drains registrations. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

let activeRun = false;

/**
 * Evaluates `program` under mocks with the given stack name and config. Runs are serialised: the Pulumi
 * runtime state is process-global, so concurrent runs would share it.
 */
export async function runProgram<T>(program: () => T | Promise<T>, options: RunOptions): Promise<RunResult<Awaited<T>>> {
    if (activeRun) {
        throw new Error("runProgram: another mock run is in progress; await it first");
    }
    activeRun = true;
    const started = process.hrtime.bigint();
    // The SDK captures `new Error().stack` for every promise it makes (runtime/debuggable.ts); under
    // ts-node/jest each capture is source-mapped (jest also raises the frame limit to 100), which made
    // evaluation several times slower. Format at most 8 frames plainly during the run (unmapped);
    // PULUMI_MOCK_MAPPED_STACKS=1 keeps full mapped stacks for debugging.
    const previousPrepare = Error.prepareStackTrace;
    const previousLimit = Error.stackTraceLimit;
    if (!process.env.PULUMI_MOCK_MAPPED_STACKS) {
        Error.prepareStackTrace = plainStackTrace;
        Error.stackTraceLimit = Math.min(previousLimit, 8);
    }
    try {
        const project = options.project ?? PROJECT_NAME;
        const resources: RecordedResource[] = [];
        const invokes: MockInvoke[] = [];
        const secrets = new Set<string>();
        const config = { ...(options.config ?? {}) };
        const secretKeys = [...(options.secretKeys ?? [])];
        for (const key of secretKeys) {
            if (config[key] !== undefined) {
                secrets.add(config[key]);
            }
        }
        let pendingParent = "";
        await pulumi.runtime.setMocks(
            {
                newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
                    const parentUrn = pendingParent;
                    const inputs = stripSecretMarkers(args.inputs);
                    const { id, state } = mockState(args.type, args.name, inputs, secrets);
                    resources.push({
                        type: args.type,
                        name: args.name,
                        urn: "",
                        parentUrn,
                        custom: args.custom ?? false,
                        id: args.custom ? id : undefined,
                        rawInputs: args.inputs,
                        inputs,
                        state,
                    });
                    return { id: args.custom ? id : undefined, state };
                },
                call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
                    invokes.push({ token: args.token, inputs: args.inputs });
                    return mockCall(args.token, args.inputs, secrets);
                },
            },
            project,
            options.stack,
            options.preview ?? false,
        );
        // Capture each registration's parent and URN: MockResourceArgs does not carry them.
        const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
        const register = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req: any, callback: RpcCallback) => {
            pendingParent = req.getParent() ?? "";
            const type: string = req.getType();
            const name: string = req.getName();
            return register(req, (err: unknown, response: any) => {
                if (!err && response) {
                    const record = [...resources].reverse().find((r) => r.type === type && r.name === name && r.urn === "");
                    if (record) {
                        record.urn = response.getUrn();
                    }
                }
                callback(err, response);
            });
        };
        pulumi.runtime.setAllConfig(config, secretKeys);

        let returned: unknown;
        let programError: unknown;
        await pulumi.runtime.runInPulumiStack(async () => {
            // Catch here: a rejection inside the stack's init would also surface as an unhandled
            // rejection from the Stack resource's own outputs and crash the test process.
            try {
                returned = await program();
            } catch (err) {
                programError = err;
            }
            return undefined;
        });
        if (programError !== undefined) {
            await settings.waitForRPCs().catch(() => undefined);
            throw programError;
        }
        const outputs = (await unwrap(returned)) as Awaited<T>;
        await settings.waitForRPCs();
        return {
            stack: options.stack,
            resources,
            invokes,
            outputs,
            generatedSecrets: [...secrets],
            elapsedMs: Number(process.hrtime.bigint() - started) / 1e6,
        };
    } finally {
        Error.prepareStackTrace = previousPrepare;
        Error.stackTraceLimit = previousLimit;
        activeRun = false;
    }
}

function plainStackTrace(error: Error, frames: NodeJS.CallSite[]): string {
    return `${error.name}: ${error.message}\n${frames.map((frame) => `    at ${frame.toString()}`).join("\n")}`;
}

/** Path of the real program entry point. */
export const INDEX_PATH = path.join(REPO_ROOT, "index.ts");

/**
 * Runs the real index.ts under `stack` with that stack's Pulumi.<stack>.yaml loaded.
 * `mutateConfig` lets a test change parsed config objects (for bad-input cases) before the run.
 */
export async function runStack(
    stack: string,
    options: { mutateConfig?: (config: Record<string, string>) => void; configFromStack?: string } = {},
): Promise<RunResult<Record<string, unknown>>> {
    const file = loadStackConfigFile(options.configFromStack ?? stack);
    options.mutateConfig?.(file.config);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const entry = require(INDEX_PATH) as (() => Promise<Record<string, unknown>>) | { default?: () => Promise<Record<string, unknown>> };
    const program = typeof entry === "function" ? entry : entry.default;
    if (typeof program !== "function") {
        throw new Error(`${INDEX_PATH} must export the program function (export = async () => ...)`);
    }
    return runProgram(program, { stack, config: file.config, secretKeys: file.secretKeys });
}

/** Edits one JSON-encoded config object in place, for bad-input tests. */
export function editConfigObject(config: Record<string, string>, key: string, edit: (value: any) => void): void {
    const fullKey = key.includes(":") ? key : `${PROJECT_NAME}:${key}`;
    const raw = config[fullKey];
    if (raw === undefined) {
        throw new Error(`config key ${fullKey} is not in the stack file`);
    }
    const value = JSON.parse(raw);
    edit(value);
    config[fullKey] = JSON.stringify(value);
}

/** Resolves Outputs, promises, and nested structures into plain values (secrets unwrapped). */
export async function unwrap(value: unknown): Promise<any> {
    if (pulumi.Output.isInstance(value)) {
        const inner = await new Promise<unknown>((resolve) => (value as pulumi.Output<unknown>).apply((v) => resolve(v)));
        return unwrap(inner);
    }
    if (value instanceof Promise) {
        return unwrap(await value);
    }
    if (pulumi.Resource.isInstance(value)) {
        return value;
    }
    if (Array.isArray(value)) {
        return Promise.all(value.map(unwrap));
    }
    if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
        const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await unwrap(v)] as const));
        return Object.fromEntries(entries);
    }
    return value;
}

/** True when the Output (or any Output nested in an input) is marked secret. */
export async function isSecretOutput(value: unknown): Promise<boolean> {
    if (pulumi.Output.isInstance(value)) {
        return (await (value as any).isSecret) === true;
    }
    return false;
}

export function byType(resources: RecordedResource[], type: string): RecordedResource[] {
    return resources.filter((r) => r.type === type);
}

export function findResource(resources: RecordedResource[], type: string, name: string): RecordedResource | undefined {
    return resources.find((r) => r.type === type && r.name === name);
}

/** Like findResource but throws a message listing what exists of that type. */
export function getResource(resources: RecordedResource[], type: string, name: string): RecordedResource {
    const found = findResource(resources, type, name);
    if (!found) {
        const names = byType(resources, type).map((r) => r.name);
        throw new Error(`no ${type} named ${name}; have: ${names.join(", ") || "(none of that type)"}`);
    }
    return found;
}

export function childrenOf(resources: RecordedResource[], parent: RecordedResource): RecordedResource[] {
    return resources.filter((r) => r.parentUrn !== "" && r.parentUrn === parent.urn);
}

export interface SecretLeak {
    resource: string;
    path: string;
    secretPreview: string;
}

/**
 * Walks every resource's inputs and reports each place where a generated secret (or a transform of it:
 * base64, url-safe base64) appears in a string that is NOT inside a Pulumi secret marker. Kubernetes
 * Secret data that Pulumi marks secret is therefore fine; a password pasted into Helm values is a leak.
 */
export function collectSecretsPlaintext(resources: RecordedResource[], secrets: string[]): SecretLeak[] {
    const needles = new Set<string>();
    for (const secret of secrets) {
        if (secret.length < 8) {
            continue;
        }
        needles.add(secret);
        needles.add(Buffer.from(secret).toString("base64"));
        needles.add(secret.replace(/\+/g, "-").replace(/\//g, "_"));
    }
    const leaks: SecretLeak[] = [];
    const visit = (value: unknown, where: string, resource: RecordedResource): void => {
        if (isSecretMarker(value)) {
            return;
        }
        if (typeof value === "string") {
            for (const needle of needles) {
                if (value.includes(needle)) {
                    leaks.push({ resource: `${resource.type}::${resource.name}`, path: where, secretPreview: `${needle.slice(0, 4)}…` });
                }
            }
        } else if (Array.isArray(value)) {
            value.forEach((v, i) => visit(v, `${where}[${i}]`, resource));
        } else if (value !== null && typeof value === "object") {
            for (const [k, v] of Object.entries(value)) {
                visit(v, where ? `${where}.${k}` : k, resource);
            }
        }
    };
    for (const resource of resources) {
        visit(resource.rawInputs, "", resource);
    }
    return leaks;
}

/** The resource tree (parent -> children) as nested plain objects, for synth output and tests. */
export interface ResourceTreeNode {
    type: string;
    name: string;
    urn: string;
    children: ResourceTreeNode[];
}

export function resourceTree(resources: RecordedResource[]): ResourceTreeNode[] {
    const nodes = new Map<string, ResourceTreeNode>();
    for (const r of resources) {
        nodes.set(r.urn, { type: r.type, name: r.name, urn: r.urn, children: [] });
    }
    const roots: ResourceTreeNode[] = [];
    for (const r of resources) {
        const node = nodes.get(r.urn)!;
        const parent = r.parentUrn ? nodes.get(r.parentUrn) : undefined;
        (parent ? parent.children : roots).push(node);
    }
    return roots;
}
