import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";

/** One generated value: a random password of `length` characters. */
export interface GeneratedKey {
    /** Characters. Default `32`. */
    length?: number;
    /** Include punctuation. Default `false`: the values end up in URIs (postgresql://user:pw@host). */
    special?: boolean;
}

export interface GeneratedSecretArgs {
    /** Namespace of the Kubernetes Secret. */
    namespace: pulumi.Input<string>;
    /** Name of the Kubernetes Secret; other resources reference it by this name. */
    secretName: pulumi.Input<string>;
    /** Keys generated with @pulumi/random, stable across updates (random resources keep their state). Default none. */
    generate?: Record<string, GeneratedKey>;
    /**
     * Extra keys derived from the generated values (for example a connection URI). Each gets the
     * generated values and returns the key's content; the result is kept as a Pulumi secret. Default none.
     */
    derive?: Record<string, (generated: Record<string, pulumi.Output<string>>) => pulumi.Input<string>>;
    /** Values supplied from outside (stack config secrets); kept as Pulumi secrets. Default none. */
    provided?: Record<string, pulumi.Input<string>>;
    /** Plain, non-secret keys (usernames). Default none. */
    plain?: Record<string, pulumi.Input<string>>;
    /** Kubernetes Secret type, e.g. kubernetes.io/basic-auth for CloudNativePG roles. Default `Opaque`. */
    type?: pulumi.Input<string>;
    /** Labels of the Kubernetes Secret. Default none. */
    labels?: Record<string, pulumi.Input<string>>;
}

/**
 * Generates passwords/keys with @pulumi/random, keeps them as Pulumi secrets and stores them in a
 * Kubernetes Secret that Helm values and manifests reference by name, never by value.
 */
export class GeneratedSecret extends pulumi.ComponentResource {
    /** Name of the Kubernetes Secret holding the keys. */
    public readonly secretName: pulumi.Output<string>;
    /** The generated values, each a Pulumi secret. */
    public readonly values: Record<string, pulumi.Output<string>>;
    /** Every key of the Kubernetes Secret (generated, derived and plain). */
    public readonly keys: string[];

    constructor(name: string, args: GeneratedSecretArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:GeneratedSecret", name, {}, opts);
        const generated: Record<string, pulumi.Output<string>> = {};
        for (const [key, spec] of Object.entries(args.generate ?? {})) {
            const password = new random.RandomPassword(
                // Secret keys may be env-var style (MLFLOW_FLASK_SERVER_SECRET_KEY); logical names stay kebab-case.
                `${name}-${key.toLowerCase().replace(/_/g, "-")}`,
                { length: spec.length ?? 32, special: spec.special ?? false },
                { parent: this },
            );
            generated[key] = pulumi.secret(password.result);
        }
        const derived: Record<string, pulumi.Output<string>> = {};
        for (const [key, build] of Object.entries(args.derive ?? {})) {
            derived[key] = pulumi.secret(pulumi.output(build(generated)));
        }
        const provided: Record<string, pulumi.Output<string>> = {};
        for (const [key, value] of Object.entries(args.provided ?? {})) {
            provided[key] = pulumi.secret(value);
        }
        const stringData: Record<string, pulumi.Input<string>> = {
            ...(args.plain ?? {}),
            ...provided,
            ...generated,
            ...derived,
        };
        this.keys = Object.keys(stringData);
        const secret = new k8s.core.v1.Secret(
            `${name}-secret`,
            {
                metadata: { name: args.secretName, namespace: args.namespace, labels: args.labels },
                type: args.type ?? "Opaque",
                stringData,
            },
            { parent: this, additionalSecretOutputs: ["data", "stringData"] },
        );
        this.secretName = secret.metadata.name;
        this.values = generated;
        this.registerOutputs({ secretName: this.secretName });
    }
}
