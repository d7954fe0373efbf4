/**
 * Pulumi entry point: validates the current stack's configuration and builds the platform.
 *
 * It exports the program as a function (Pulumi calls it and uses the result as stack outputs), so
 * importing this file has no side effects; the mock harness calls it once per stack.
 */
// This program is one consumer of the airflow-platform package: it imports only the package's public entry points
// (package.json "exports": "./config" → config/index.ts, "./platform" → components/platform.ts, "./contract" →
// components/values/contract.ts), by relative path rather than through a self-reference (`airflow-platform/platform`).
// A self-reference resolves through "exports" to the compiled dist/, so `pulumi up`, synth and jest would run stale
// JavaScript unless every run compiled first; the relative paths are the same modules, from source.
// tests/ts/package.test.ts fails if this file imports anything that is not an entry point.
import { loadStackConfig } from "./config";
import { Platform } from "./components/platform";
import { stackContract } from "./components/values/contract";

export = async () => {
    const { stack, config, secrets } = loadStackConfig();
    // Every topic any DAG declares in its needs.yaml gets a KafkaTopic (retention as declared); its variables go to Vault.
    // The dependency contract: what the shipped DAGs need (dags/phaseN/needs.yaml); a DAG the stack can't
    // satisfy stops the program here with the DAG and the missing services named.
    const contract = stackContract(config, stack);
    const platform = new Platform("platform", {
        config,
        secrets,
        dagTopics: contract.needs.topics,
        dagVariables: contract.needs.variables,
        dagContract: contract.needs,
    });
    return {
        stack,
        namespace: platform.namespace,
        airflowRelease: platform.airflow.releaseName,
        airflowSecretNames: platform.airflow.secretNames,
        // The deployed image by digest: `pulumi stack history` keeps every earlier one for rollbacks (docs/image.md).
        airflowImage: platform.image.imageRef,
        // Endpoints and Secret names of the platform components, for other stacks (docs/components.md).
        platform: platform.outputs,
        // What this stack ships of the DAG library (synth prints it), and the pools it provisions.
        dags: { shipped: contract.shipped, excluded: contract.excluded },
        pools: platform.pools?.poolNames ?? [],
        // The pinned requirements the stack's image is built from (python/requirements.lock ∩ shipped DAGs' packages).
        imageRequirements: contract.requirements,
    };
};
