/**
 * Redis, the Celery broker: a StatefulSet on the official image with a generated password and
 * persistence, plus one Secret holding both the password and the broker URL Airflow reads
 * (`data.brokerUrlSecretName`, key `connection`).
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { GeneratedSecret } from "./secrets";
import * as rv from "./values/redis";
import { k8sName } from "./values/naming";

export interface RedisArgs {
    /** Namespace of the StatefulSet, its Service and its Secret. */
    namespace: pulumi.Input<string>;
    /** Persistent volume size in GiB. */
    storageGi: number;
    /** `aof` keeps every write (appendonly), `rdb` snapshots only, `none` is memory only. Default `aof`. */
    persistence?: rv.RedisInput["persistence"];
    /** StorageClass of the volume; `null` or unset uses the cluster default. */
    storageClass?: string | null;
}

/** Redis (the Celery broker) on the official image, with a generated password. */
export class Redis extends pulumi.ComponentResource {
    /** The Service's in-cluster host name. */
    public readonly host: pulumi.Output<string>;
    /** Always 6379. */
    public readonly port: pulumi.Output<number>;
    /** Secret with keys `password` and `connection` (the Celery broker URL). */
    public readonly secretName: pulumi.Output<string>;
    /** The generated password, a Pulumi secret. */
    public readonly password: pulumi.Output<string>;

    constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:Redis", name, {}, opts);
        const child = { parent: this };
        const serverName = k8sName(name);
        const host = pulumi.output(args.namespace).apply((ns) => rv.redisHost(serverName, ns));
        const secret = new GeneratedSecret(
            `${name}-auth`,
            {
                namespace: args.namespace,
                secretName: k8sName(name, "auth"),
                generate: { password: { length: 32 } },
                derive: { connection: (g) => pulumi.all([host, g.password]).apply(([h, pw]) => rv.brokerUrl(h, pw)) },
            },
            child,
        );
        const spec = rv.redisStatefulSetSpec({
            name: serverName,
            passwordSecretName: k8sName(name, "auth"),
            storageSize: `${args.storageGi}Gi`,
            persistence: args.persistence ?? "aof",
            storageClass: args.storageClass,
        }) as unknown as k8s.types.input.apps.v1.StatefulSetSpec;
        new k8s.apps.v1.StatefulSet(`${name}-statefulset`, { metadata: { name: serverName, namespace: args.namespace }, spec }, { ...child, dependsOn: [secret] });
        new k8s.core.v1.Service(
            `${name}-service`,
            { metadata: { name: serverName, namespace: args.namespace }, spec: rv.redisServiceSpec(serverName) as k8s.types.input.core.v1.ServiceSpec },
            child,
        );
        this.host = host;
        this.port = pulumi.output(rv.REDIS_PORT);
        this.secretName = secret.secretName;
        this.password = secret.values.password;
        this.registerOutputs({ host: this.host, port: this.port, secretName: this.secretName });
    }
}
