/**
 * Pure builders for the Redis (Celery broker) component: the StatefulSet and Service specs on the
 * official image, and the broker URL that Airflow reads from a Secret.
 */
import { AIRFLOW_PROFILE } from "./airflowProfile";
import { serviceHost } from "./naming";
import { resources, SIZES } from "./security";
import { singleNodeStatefulSetSpec } from "./workload";

/** Official Docker image (Docker Official Images), not Bitnami. */
export const REDIS_IMAGE = "redis:8.2-alpine";
export const REDIS_PORT = 6379;

export interface RedisInput {
    name: string;
    /** Secret holding the `password` key. */
    passwordSecretName: string;
    storageSize: string;
    /** "aof" keeps every write (appendonly); "rdb" snapshots only; "none" is memory only. */
    persistence: "aof" | "rdb" | "none";
    storageClass?: string | null;
    image?: string;
}

export function redisLabels(name: string): Record<string, string> {
    return { "app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": name };
}

export function redisHost(name: string, namespace: string): string {
    return serviceHost(name, namespace);
}

/** redis-server flags for the persistence mode; the password comes from an env var, never the args' text. */
export function redisServerArgs(persistence: RedisInput["persistence"]): string[] {
    const base = ["--requirepass", "$(REDIS_PASSWORD)", "--dir", "/data"];
    switch (persistence) {
        case "aof":
            return [...base, "--appendonly", "yes", "--appendfsync", "everysec"];
        case "rdb":
            return [...base, "--appendonly", "no", "--save", "900 1 300 10 60 10000"];
        case "none":
            return [...base, "--appendonly", "no", "--save", ""];
    }
}

/** StatefulSet spec (apps/v1) for a single Redis node with a persistent volume (unless persistence is none). */
export function redisStatefulSetSpec(input: RedisInput): Record<string, unknown> {
    return singleNodeStatefulSetSpec({
        name: input.name,
        labels: redisLabels(input.name),
        uid: 999,
        dataMountPath: "/data",
        storage: input.persistence === "none" ? null : { size: input.storageSize, storageClass: input.storageClass },
        container: {
            name: "redis",
            image: input.image ?? REDIS_IMAGE,
            args: redisServerArgs(input.persistence),
            env: [{ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: input.passwordSecretName, key: "password" } } }],
            ports: [{ name: "redis", containerPort: REDIS_PORT }],
            readinessProbe: {
                exec: { command: ["sh", "-c", 'redis-cli -a "$REDIS_PASSWORD" --no-auth-warning ping | grep PONG'] },
                periodSeconds: 10,
            },
            resources: resources(SIZES.redis),
        },
    });
}

export function redisServiceSpec(name: string): Record<string, unknown> {
    return { selector: redisLabels(name), ports: [{ name: "redis", port: REDIS_PORT, targetPort: "redis" }] };
}

/** Celery broker URL (by default on the Airflow profile's broker database); the password is percent-encoded. */
export function brokerUrl(host: string, password: string, db = AIRFLOW_PROFILE.redisDatabases.celery_broker): string {
    return `redis://:${encodeURIComponent(password)}@${host}:${REDIS_PORT}/${db}`;
}
