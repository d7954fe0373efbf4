"""Dynamic DAG patterns: multi-tenant DAGs (one config, many DAGs), parameterised pipelines, inheritance.

`configs/tenants.yaml` declares a base pipeline and per-tenant overrides (inheritance by deep merge). This file
generates one DAG per tenant, `phase15_03_dynamic_dag_patterns__<tenant>`, each isolated by its own pool, owner
and `access_control` (only the tenant's FAB role can see or trigger it). The catalogue DAG
`phase15_03_dynamic_dag_patterns` is the parameterised pipeline: one DAG whose `tenant` param selects the
tenant at trigger time; an unknown tenant is refused twice — by the param's enum when the run is created and by
`resolve_tenant` inside the task. Trade-off shown side by side: dynamic DAGs give per-tenant isolation and
history, a parameterised DAG keeps one definition and moves the choice to run time.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Param, task

from common.dag_header import platform_dag
from common.defaults import platform_default_args
from common.factory import TenantSpec, load_validated, tenant_specs

CONFIGS = Path(__file__).resolve().parent / "configs"
TENANTS = tenant_specs(load_validated(CONFIGS / "tenants.yaml", CONFIGS / "tenants.schema.json"))


@task
def run_step(tenant: str, step: str, settings: dict) -> dict:
    from common.factory import tenant_step_payload

    return tenant_step_payload(tenant, step, settings)


@task
def check_isolation(tenant: str, payloads: list) -> int:
    from common.factory import assert_tenant_isolation

    assert_tenant_isolation(payloads, tenant)
    return len(payloads)


def tenant_dag(spec: TenantSpec) -> DAG:
    with DAG(
        dag_id=spec.dag_id,
        schedule=spec.schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=spec.max_active_runs,
        default_args=platform_default_args(spec.owner, retries=spec.retries, pool=spec.pool),
        access_control=spec.access_control(),
        tags=["phase15", "multi-tenant", f"tenant:{spec.name}"],
        doc_md=f"Tenant **{spec.name}** pipeline generated from tenants.yaml (pool `{spec.pool}`, role `{spec.role}`).\n\n"
        + (__doc__ or ""),
    ) as dag:
        outputs = []
        previous = None
        for step in spec.steps:
            out = run_step.override(task_id=step)(spec.name, step, spec.params)
            if previous is not None:
                previous >> out
            previous = out
            outputs.append(out)
        check_isolation(spec.name, outputs)
    return dag


for _spec in TENANTS.values():
    globals()[_spec.dag_id] = tenant_dag(_spec)


with platform_dag(
    __file__, __doc__, owner="team-data-platform", tags=["multi-tenant", "parameterised"], schedule=None,
    params={"tenant": Param("acme", type="string", enum=sorted(TENANTS), description="which tenant to run for")},
):

    @task
    def resolve(**context) -> dict:
        from common.factory import resolve_tenant

        spec = resolve_tenant(context["params"]["tenant"], TENANTS)
        return {"tenant": spec.name, "steps": list(spec.steps), "params": spec.params}

    @task
    def run_pipeline(resolved: dict) -> list[dict]:
        from common.factory import assert_tenant_isolation, tenant_step_payload

        payloads = [tenant_step_payload(resolved["tenant"], s, resolved["params"]) for s in resolved["steps"]]
        assert_tenant_isolation(payloads, resolved["tenant"])
        return payloads

    run_pipeline(resolve())
