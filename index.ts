/**
 * Pulumi entry point: validates the current stack's configuration and builds the platform.
 *
 * It exports the program as a function (Pulumi calls it and uses the result as stack outputs), so
 * importing this file has no side effects; the mock harness calls it once per stack.
 */
import { loadStackConfig } from "./config/load";
import { Platform } from "./components/platform";
import { aggregateNeeds, loadManifest } from "./components/values/contract";

export = async () => {
    const { stack, config, secrets } = loadStackConfig();
    // Every topic any DAG declares in its needs.yaml gets a KafkaTopic (retention as declared); its variables go to Vault.
    const manifest = loadManifest();
    const needs = aggregateNeeds(manifest, Object.keys(manifest.dags));
    const platform = new Platform("platform", { config, secrets, dagTopics: needs.topics, dagVariables: needs.variables });
    return {
        stack,
        namespace: platform.namespace,
        airflowRelease: platform.airflow.releaseName,
        airflowSecretNames: platform.airflow.secretNames,
        // The deployed image by digest: `pulumi stack history` keeps every earlier one for rollbacks (docs/image.md).
        airflowImage: platform.image.imageRef,
        // Endpoints and Secret names of the platform components, for other stacks (docs/components.md).
        platform: platform.outputs,
    };
};
