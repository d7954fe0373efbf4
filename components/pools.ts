/**
 * AirflowPools: the pools every shipped DAG declares (dags/phaseN/needs.yaml), created by a Kubernetes Job that runs
 * `airflow pools import` against the metadata database, and then `airflow roles create` for the FAB roles the DAGs'
 * `access_control` names (the manifests' `roles`): the dag-processor records a DAG naming a missing role as an
 * import error. Both are idempotent (slots are set, not added; an existing role is kept), and the Job's name carries
 * a hash of the pools and roles, so a change in either re-runs it and nothing else does.
 */
import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { poolsImportDocument } from "./values/contract";
import { RESTRICTED_CONTAINER, resources, restrictedPod, SIZES } from "./values/security";

export interface AirflowPoolsArgs {
    /** Namespace of the import Job and its ConfigMap: Airflow's, where the metadata Secret is. */
    namespace: pulumi.Input<string>;
    /** Pool name → slots. */
    pools: Record<string, number>;
    /** FAB roles to create (empty, permission-less: the dag-processor grants each its DAGs' access_control). Default none. */
    roles?: string[];
    /** The Airflow image (repo@digest) that runs the import. */
    image: pulumi.Input<string>;
    /** Secret (key "connection") holding the metadata DB URI, as the chart's data.metadataSecretName. */
    metadataSecretName: pulumi.Input<string>;
}

/** The auth manager the chart configures by default; `airflow roles` exists only under it. */
export const FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager";

/** The container's command: the import, then (when any) the roles, passed as arguments rather than spliced into the script. */
export function poolsJobArgs(roles: readonly string[] = []): string[] {
    const importPools = ["airflow", "pools", "import", "/pools/pools.json"];
    if (roles.length === 0) return importPools;
    return ["bash", "-c", `${importPools.join(" ")} && exec airflow roles create "$@"`, "--", ...[...roles].sort()];
}

/** The import Job's pod spec: pure, so tests read it without mocks. */
export function poolsJobPodSpec(configMapName: string, image: string, metadataSecretName: string, roles: readonly string[] = []): Record<string, unknown> {
    return {
        restartPolicy: "OnFailure",
        securityContext: restrictedPod(50000),
        containers: [{
            name: "import-pools",
            image,
            args: poolsJobArgs(roles),
            env: [
                { name: "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", valueFrom: { secretKeyRef: { name: metadataSecretName, key: "connection" } } },
                { name: "AIRFLOW__CORE__AUTH_MANAGER", value: FAB_AUTH_MANAGER },
            ],
            volumeMounts: [{ name: "pools", mountPath: "/pools", readOnly: true }],
            securityContext: RESTRICTED_CONTAINER,
            resources: resources(SIZES.job),
        }],
        volumes: [{ name: "pools", configMap: { name: configMapName } }],
    };
}

/** Airflow pools, set by a Job running `airflow pools import` (idempotent; re-run only when the pools change). */
export class AirflowPools extends pulumi.ComponentResource {
    /** The pool names, sorted. */
    public readonly poolNames: string[];
    /** The FAB roles the Job creates, sorted. */
    public readonly roleNames: string[];

    constructor(name: string, args: AirflowPoolsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:AirflowPools", name, {}, opts);
        const document = JSON.stringify(poolsImportDocument(args.pools), null, 2);
        const roles = [...(args.roles ?? [])].sort();
        const digest = crypto.createHash("sha256").update(document).update(JSON.stringify(roles)).digest("hex").slice(0, 8);
        const configMap = new k8s.core.v1.ConfigMap(`${name}-definitions`, {
            metadata: { name: `${name}-definitions`, namespace: args.namespace },
            data: { "pools.json": document },
        }, { parent: this });
        new k8s.batch.v1.Job(`${name}-import-${digest}`, {
            metadata: { name: `${name}-import-${digest}`, namespace: args.namespace },
            spec: {
                backoffLimit: 6,
                template: {
                    metadata: { labels: { "app.kubernetes.io/name": "airflow-pools-import" } },
                    spec: pulumi.all([configMap.metadata.name, args.image, args.metadataSecretName])
                        .apply(([cm, image, secret]) => poolsJobPodSpec(cm, image, secret, roles)) as any,
                },
            },
        }, { parent: this });
        this.poolNames = Object.keys(args.pools).sort();
        this.roleNames = roles;
        this.registerOutputs({ poolNames: this.poolNames, roleNames: this.roleNames });
    }
}
