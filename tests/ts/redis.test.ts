/** Redis component: official image, generated password, persistence, broker URL Secret for Airflow. */
import { Redis } from "../../components/redis";
import { byType, getResource, runProgram } from "../../offline/engine";
import { expectNoDuplicates, expectNoPlaintextSecrets, expectUniqueLogicalNames, kubernetesIdentities } from "./fixtures/components";

describe("Redis", () => {
    test("StatefulSet on the official image, AOF persistence on a volume, password from the Secret", async () => {
        const r = await runProgram(() => {
            const redis = new Redis("broker", { namespace: "af", storageGi: 4, storageClass: "gp3" });
            return { host: redis.host, port: redis.port, secretName: redis.secretName };
        }, { stack: "dev" });
        const sts = getResource(r.resources, "kubernetes:apps/v1:StatefulSet", "broker-statefulset").inputs;
        const c = sts.spec.template.spec.containers[0];
        expect(c.image).toMatch(/^redis:/);
        expect(c.args).toEqual(expect.arrayContaining(["--requirepass", "$(REDIS_PASSWORD)", "--appendonly", "yes"]));
        expect(c.env[0].valueFrom.secretKeyRef).toEqual({ name: "broker-auth", key: "password" });
        expect(sts.spec.volumeClaimTemplates[0].spec).toMatchObject({ storageClassName: "gp3", resources: { requests: { storage: "4Gi" } } });
        expect(r.outputs).toEqual({ host: "broker.af.svc.cluster.local", port: 6379, secretName: "broker-auth" });
        // The broker URL Airflow reads (key "connection") carries the same generated password.
        const secret = getResource(r.resources, "kubernetes:core/v1:Secret", "broker-auth-secret").inputs.stringData;
        expect(secret.connection).toBe(`redis://:${secret.password}@broker.af.svc.cluster.local:6379/0`);
        expectNoPlaintextSecrets(r);
    });

    test("persistence none keeps data in memory only (no volume claim)", async () => {
        const r = await runProgram(() => void new Redis("cache", { namespace: "af", storageGi: 1, persistence: "none" }), { stack: "dev" });
        const sts = byType(r.resources, "kubernetes:apps/v1:StatefulSet")[0].inputs;
        expect(sts.spec.volumeClaimTemplates).toBeUndefined();
        expect(sts.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(["--appendonly", "no", "--save", ""]));
    });

    test("two instances don't collide", async () => {
        const r = await runProgram(() => {
            new Redis("a", { namespace: "af", storageGi: 1 });
            new Redis("b", { namespace: "af", storageGi: 1 });
        }, { stack: "dev" });
        expectUniqueLogicalNames(r.resources);
        expectNoDuplicates(kubernetesIdentities(r.resources));
    });
});
