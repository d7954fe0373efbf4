/**
 * NetworkPolicies of the platform namespace: default-deny for every pod in both directions, DNS, and one
 * allow per flow between the components that talk (built by the pure ./values/network).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { k8sName } from "./values/naming";
import { NetworkInput, networkPolicyEntries } from "./values/network";

export interface NetworkPoliciesArgs {
    /** Namespace the policies apply to (every pod in it). */
    namespace: pulumi.Input<string>;
    /** Which components are on and where the outside callers live; see NetworkInput. */
    topology: NetworkInput;
}

/** Default-deny NetworkPolicies for a namespace, with DNS and one allow per flow between the components. */
export class NetworkPolicies extends pulumi.ComponentResource {
    /** Kubernetes names of the policies, default-deny first. */
    public readonly policyNames: string[];

    constructor(name: string, args: NetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("airflow-platform:platform:NetworkPolicies", name, {}, opts);
        this.policyNames = [];
        for (const entry of networkPolicyEntries(args.topology)) {
            const policyName = k8sName(name, entry.name);
            new k8s.networking.v1.NetworkPolicy(
                `${name}-${entry.name}`,
                { metadata: { name: policyName, namespace: args.namespace }, spec: entry.spec as unknown as k8s.types.input.networking.v1.NetworkPolicySpec },
                { parent: this },
            );
            this.policyNames.push(policyName);
        }
        this.registerOutputs({ policyNames: this.policyNames });
    }
}
