/** Pods that read generated Secrets carry a digest of them, so a changed value rolls the pods. */
import { SECRETS_DIGEST_ANNOTATION, contentDigest } from "../../components/values/rollout";
import { getResource, isSecretMarker, runStack } from "../../offline/engine";

describe("contentDigest", () => {
    it("changes with any value, not with key order", () => {
        const a = contentDigest([{ password: "one", user: "airflow" }]);
        expect(a).toMatch(/^[0-9a-f]{64}$/);
        expect(contentDigest([{ user: "airflow", password: "one" }])).toBe(a);
        expect(contentDigest([{ password: "two", user: "airflow" }])).not.toBe(a);
        expect(contentDigest([{ password: "one" }, { user: "airflow" }])).not.toBe(a);
    });
});

describe("the Airflow chart's pods", () => {
    it("carry the digest of every Secret the component generates, in plain text (it reveals no value)", async () => {
        const run = await runStack("staging");
        const chart = getResource(run.resources, "kubernetes:helm.sh/v4:Chart", "platform-airflow");
        const digest = chart.inputs.values.airflowPodAnnotations[SECRETS_DIGEST_ANNOTATION];
        expect(digest).toMatch(/^[0-9a-f]{64}$/);
        const raw = (chart.rawInputs as any).values;
        expect(isSecretMarker(raw) || isSecretMarker(raw.airflowPodAnnotations)).toBe(false);
        for (const secret of run.generatedSecrets) expect(digest).not.toContain(secret);
    });
});
