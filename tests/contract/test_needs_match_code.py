"""The dependency manifests (dags/phaseN/needs.yaml) say exactly what the DAG code uses: no less, no more.

Found two ways: DagBag introspection of the real parsed DAGs (pools, assets, operator connection ids, the FAB roles
of access_control) and
static analysis of each DAG file and the common modules it imports (connection ids, variables).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contract.usage import analyse_source, common_imports, file_usage, from_dag, reachable_usage
from local.contract import ContractError, load

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = (REPO / "dags" / "airflow_usecases.md").read_text()
MANIFEST = load()
DAG_IDS = sorted(MANIFEST.dags)


def _declared(dag_id: str) -> dict:
    return MANIFEST.dags[dag_id]


def test_every_parsed_dag_is_declared_and_every_declaration_is_a_dag(dagbag) -> None:
    assert not dagbag.import_errors, dagbag.import_errors
    parsed, declared = set(dagbag.dag_ids), set(DAG_IDS)
    assert parsed - declared == set(), "DAGs without a needs.yaml entry"
    assert declared - parsed == set(), "needs.yaml entries for DAGs that don't exist"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_pools_assets_and_operator_connections_match(dagbag, dag_id: str) -> None:
    dag = dagbag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} is declared but not parsed"
    found, declared = from_dag(dag), _declared(dag_id)
    assert found.pools == set(declared["pools"]), "pools used by tasks vs declared"
    assert found.produces == set(declared["assets"]["produces"]), "assets in outlets vs declared produces"
    assert found.consumes == set(declared["assets"]["consumes"]), "assets scheduled on / in inlets vs declared consumes"
    assert found.connections <= set(declared["connections"]), "connection ids held by operators must be declared"
    # The cluster creates exactly the declared roles before parsing; an undeclared one would be an import error there.
    assert found.roles == set(declared.get("roles", [])), "FAB roles named by access_control vs declared roles"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_connections_and_variables_in_code_are_declared_and_nothing_more(dagbag, dag_id: str) -> None:
    path = Path(dagbag.get_dag(dag_id).fileloc)
    own, reachable, declared = file_usage(path), reachable_usage(path), _declared(dag_id)
    introspected = from_dag(dagbag.get_dag(dag_id)).connections
    assert own.connections <= set(declared["connections"]), f"{path.name} uses undeclared connections"
    assert own.variables <= set(declared["variables"]), f"{path.name} uses undeclared variables"
    assert set(declared["connections"]) <= reachable.connections | introspected, "declared connections no code of this DAG uses"
    assert set(declared["variables"]) <= reachable.variables, "declared variables no code of this DAG uses"


def test_connection_types_are_known_to_installed_providers() -> None:
    from airflow.providers_manager import ProvidersManager

    known = set(ProvidersManager().hooks) | {"generic", "fs"}
    unknown = {f"{c}: {spec['type']}" for c, spec in MANIFEST.connections.items() if spec["type"] not in known}
    assert unknown == set()


def test_declared_packages_are_in_the_lock_inputs() -> None:
    requirements = {
        line.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower().replace("_", "-")
        for line in (REPO / "python" / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    declared = {p.lower().replace("_", "-") for needs in MANIFEST.dags.values() for p in needs["packages"]}
    assert declared - requirements == set()


def test_dag_ids_are_the_catalogue_ids() -> None:
    for dag_id in DAG_IDS:
        # Generated DAGs (phase15_03's one-per-tenant) are `<catalogue id>__<variant>`.
        base = dag_id.split("__", 1)[0]
        assert f"`{base}`" in CATALOGUE, f"{dag_id} is not a catalogue id"


# ------------------------------------------------------------------------------------------- bad input
def test_a_manifest_failing_its_schema_names_the_dag_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "phase9" / "needs.yaml"
    bad.parent.mkdir()
    entry = {"services": ["postgres"], "connections": {}, "variables": {}, "pools": {"etl": {"slots": "four"}},
             "assets": {"produces": [], "consumes": []}, "topics": [], "databases": [], "buckets": [], "packages": []}
    bad.write_text(yaml.safe_dump({"phase9_01_database_integration": entry}))
    with pytest.raises(ContractError, match=r"dag phase9_01_database_integration, field pools.etl.slots: must be integer"):
        load([bad])


# ------------------------------------------------------------------------------------------- the analyser itself
def test_static_analysis_finds_connections_and_variables() -> None:
    usage = analyse_source(
        "PG = 'warehouse_conn'\n"
        "def f(postgres_conn_id: str = 'pg_default', *, kafka_config_id='kafka_default'): ...\n"
        "Hook(http_conn_id=PG)\n"
        "BaseHook.get_connection('smtp_default')\n"
        "Variable.get('threshold')\n"
        "Variable.get(key='settings')\n"
        "cmd = 'echo {{ var.value.region }} {{ conn.aws_default.host }}'\n"
    )
    assert usage.connections == {"warehouse_conn", "pg_default", "kafka_default", "smtp_default", "aws_default"}
    assert usage.variables == {"threshold", "settings", "region"}


def test_common_imports_are_followed() -> None:
    assert common_imports("from common.alerting import x\nfrom common import drift\nimport common.quality\n") == {
        "common.alerting", "common.drift", "common.quality",
    }
