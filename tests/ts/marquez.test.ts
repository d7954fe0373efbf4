/** Marquez component: chart with external Postgres (Bitnami subchart off) and the OpenLineage outputs. */
import * as pulumi from "@pulumi/pulumi";
import { Marquez, MarquezArgs } from "../../components/marquez";
import { collectSecretsPlaintext, getResource, runProgram } from "../../offline/engine";
import { expectNoDuplicates, expectUniqueLogicalNames, kubernetesIdentities } from "./fixtures/components";

const PASSWORD = "marquez-db-password-from-postgres";
const args: MarquezArgs = {
    namespace: "lineage",
    environment: "staging",
    db: { host: "pg-rw.lineage.svc.cluster.local", port: 5432, database: "marquez", user: "marquez" },
    dbPassword: pulumi.secret(PASSWORD),
};

describe("Marquez", () => {
    test("external Postgres with the password in a Secret, OpenLineage namespace per environment", async () => {
        const r = await runProgram(() => {
            const m = new Marquez("marquez", args);
            return { url: m.url, ol: m.openLineage };
        }, { stack: "dev" });
        const chart = getResource(r.resources, "kubernetes:helm.sh/v4:Chart", "marquez").inputs;
        expect(chart.values.postgresql).toEqual({ enabled: false });
        expect(chart.values.marquez.db).toMatchObject({ host: "pg-rw.lineage.svc.cluster.local", name: "marquez", user: "marquez" });
        expect(chart.values.marquez.existingSecretName).toBe("marquez-db");
        const secret = getResource(r.resources, "kubernetes:core/v1:Secret", "marquez-db-secret").inputs;
        expect(secret.stringData["marquez-db-password"]).toBe(PASSWORD);
        expect(collectSecretsPlaintext(r.resources, [PASSWORD])).toEqual([]);
        expect(r.outputs.url).toBe("http://marquez.lineage.svc.cluster.local:80");
        expect(r.outputs.ol).toEqual({
            namespace: "airflow-staging",
            transport: { type: "http", url: "http://marquez.lineage.svc.cluster.local:80", endpoint: "api/v1/lineage" },
        });
    });

    test("two instances don't collide", async () => {
        const r = await runProgram(() => {
            new Marquez("marquez-a", args);
            new Marquez("marquez-b", args);
        }, { stack: "dev" });
        expectUniqueLogicalNames(r.resources);
        expectNoDuplicates(kubernetesIdentities(r.resources));
    });
});
