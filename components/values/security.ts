/**
 * The restricted Pod Security Standard as values, shared by every platform workload, and resource
 * requests/limits sized per workload.
 */

/** Pod-level part of the restricted profile (uid/gid set where the image needs them). */
export function restrictedPod(uid?: number): Record<string, unknown> {
    return {
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
        ...(uid !== undefined ? { runAsUser: uid, runAsGroup: uid, fsGroup: uid } : {}),
    };
}

/** Container-level part of the restricted profile. */
export const RESTRICTED_CONTAINER: {
    runAsNonRoot: boolean;
    allowPrivilegeEscalation: boolean;
    capabilities: { drop: string[] };
    seccompProfile: { type: string };
} = {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};

export interface Size {
    cpu: string;
    memory: string;
}

/** Requests = the given size; limits = 2x CPU (bursts) and the same memory (no overcommit of RAM). */
export function resources(size: Size): { requests: Record<string, string>; limits: Record<string, string> } {
    const cpuLimit = size.cpu.endsWith("m") ? `${parseInt(size.cpu, 10) * 2}m` : String(Number(size.cpu) * 2);
    return { requests: { ...size }, limits: { cpu: cpuLimit, memory: size.memory } };
}

/** Sizes of the platform's workloads (small: the DAG library's load, not a benchmark). */
export const SIZES = {
    operator: { cpu: "100m", memory: "256Mi" },
    postgres: { cpu: "500m", memory: "1Gi" },
    redis: { cpu: "100m", memory: "256Mi" },
    kafka: { cpu: "500m", memory: "2Gi" },
    entityOperator: { cpu: "100m", memory: "256Mi" },
    vault: { cpu: "250m", memory: "256Mi" },
    mlflow: { cpu: "250m", memory: "512Mi" },
    prometheus: { cpu: "500m", memory: "2Gi" },
    alertmanager: { cpu: "50m", memory: "128Mi" },
    job: { cpu: "50m", memory: "64Mi" },
    grafana: { cpu: "100m", memory: "256Mi" },
    sidecar: { cpu: "50m", memory: "96Mi" },
    marquez: { cpu: "250m", memory: "512Mi" },
    marquezWeb: { cpu: "50m", memory: "128Mi" },
} satisfies Record<string, Size>;
