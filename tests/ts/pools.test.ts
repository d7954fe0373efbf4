/** The pools-and-roles Job's command (components/pools.ts), without mocks. */
import { poolsJobArgs, poolsJobPodSpec, FAB_AUTH_MANAGER } from "../../components/pools";

test("without roles the Job only imports the pools", () => {
    expect(poolsJobArgs()).toEqual(["airflow", "pools", "import", "/pools/pools.json"]);
});

test("roles are sorted arguments of one script, never spliced into it", () => {
    const args = poolsJobArgs(["tenant_b", "team_a"]);
    expect(args).toEqual(["bash", "-c", 'airflow pools import /pools/pools.json && exec airflow roles create "$@"', "--", "team_a", "tenant_b"]);
    expect(args[2]).not.toMatch(/team_a|tenant_b/);
});

test("the pod runs under the FAB auth manager, the only one with `airflow roles`", () => {
    const spec = poolsJobPodSpec("cm", "image@sha256:0", "metadata", ["team_a"]) as any;
    expect(spec.containers[0].env).toContainEqual({ name: "AIRFLOW__CORE__AUTH_MANAGER", value: FAB_AUTH_MANAGER });
    expect(spec.containers[0].env[0].valueFrom.secretKeyRef).toEqual({ name: "metadata", key: "connection" });
});
