/**
 * A single-node StatefulSet on an official image (Postgres, Redis): restricted pod, one container
 * with the restricted profile, and a data volume that is a PVC or, when not persistent, an emptyDir.
 */
import { RESTRICTED_CONTAINER, restrictedPod } from "./security";

export interface SingleNodeInput {
    name: string;
    labels: Record<string, string>;
    /** The image's own non-root uid/gid (999 for the postgres and redis images). */
    uid: number;
    /** The container: name, image, args/env, ports, probes, resources (security context is added). */
    container: Record<string, unknown>;
    dataMountPath: string;
    /** PVC for the data volume; null keeps data in an emptyDir. */
    storage: { size: string; storageClass?: string | null } | null;
}

export function singleNodeStatefulSetSpec(p: SingleNodeInput): Record<string, unknown> {
    return {
        serviceName: p.name,
        replicas: 1,
        selector: { matchLabels: p.labels },
        template: {
            metadata: { labels: p.labels },
            spec: {
                securityContext: restrictedPod(p.uid),
                containers: [{ ...p.container, securityContext: RESTRICTED_CONTAINER, volumeMounts: [{ name: "data", mountPath: p.dataMountPath }] }],
                ...(p.storage ? {} : { volumes: [{ name: "data", emptyDir: {} }] }),
            },
        },
        ...(p.storage
            ? {
                  volumeClaimTemplates: [
                      {
                          metadata: { name: "data" },
                          spec: {
                              accessModes: ["ReadWriteOnce"],
                              ...(p.storage.storageClass ? { storageClassName: p.storage.storageClass } : {}),
                              resources: { requests: { storage: p.storage.size } },
                          },
                      },
                  ],
              }
            : {}),
    };
}
