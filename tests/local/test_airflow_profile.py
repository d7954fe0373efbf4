"""One Airflow profile (config/airflow-profile.json), two renderings: the chart's `config` of every stack, as the Pulumi
program writes it (npm run synth: the real program under mocks), and the local platform's environment
(local/services/airflow.py environment()). Both carry every profile setting with the profile's value, and every key on
which they differ is one the profile lists as environment-specific, with its reason. The comparison is shown to fail
when a renderer drops or changes a setting. Also one definition each for the dag-parser warm-up switch and the Redis
databases of the Celery broker and `redis_default`.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
import yaml

from local import airflow_profile, paths

STACKS = ("dev", "staging", "prod")
PROFILE = airflow_profile.load()


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each stack's final Airflow chart values, as `npm run synth` writes them."""
    out = tmp_path_factory.mktemp("synth")
    cmd = ["npm", "run", "--silent", "synth", "--", "--out", str(out), *[arg for s in STACKS for arg in ("--stack", s)]]
    done = subprocess.run(cmd, cwd=paths.REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"synth failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    values = {}
    for stack in STACKS:
        releases = json.loads((out / stack / "releases.json").read_text())
        (airflow,) = [r for r in releases if r["chart"] == "airflow"]
        values[stack] = yaml.safe_load((out / stack / airflow["values"]).read_text())
    return values


def local_environment(monkeypatch: pytest.MonkeyPatch, *, executor: str = "", auth: str = "") -> dict[str, str]:
    """environment() as `./platform up` builds it. The Vault AppRole login (an environment-specific value) is stubbed,
    so the test needs no provisioned Vault."""
    from local.services import airflow, vault

    for name, value in (("LOCAL_AIRFLOW_EXECUTOR", executor), ("LOCAL_AIRFLOW_AUTH", auth)):
        if value:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(vault, "secrets_backend_kwargs", lambda: {"auth_type": "approle", "role_id": "stub"})
    return airflow.environment()


def local_config(monkeypatch: pytest.MonkeyPatch, **switches: str) -> dict[str, dict[str, str]]:
    return airflow_profile.sections_of_environment(local_environment(monkeypatch, **switches))


@pytest.mark.parametrize("executor", ["LocalExecutor", "CeleryExecutor"])
@pytest.mark.parametrize("stack", STACKS)
def test_both_renderings_carry_the_profile_and_differ_only_where_listed(
    synthesized: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, stack: str, executor: str
) -> None:
    chart = synthesized[stack]["config"]
    local = local_config(monkeypatch, executor=executor)
    assert airflow_profile.differences(chart, local) == []
    # The drift this profile was made for: governance facets reach the cluster too.
    assert chart["openlineage"]["custom_run_facets"] == local["openlineage"]["custom_run_facets"] != ""


def test_the_local_auth_opt_out_replaces_only_its_profile_setting(
    synthesized: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from local.services import airflow

    local = local_config(monkeypatch, auth="simple")
    opt_outs = frozenset(entry["key"] for entry in PROFILE["localOptOuts"])
    assert opt_outs == {"core.auth_manager"}
    assert local["core"]["auth_manager"] == airflow.AUTH_MANAGERS["simple"]
    assert airflow_profile.differences(synthesized["prod"]["config"], local, ignore=opt_outs) == []
    # By default the local platform runs the profile's auth manager, the one the opt-out is named against.
    assert PROFILE["config"]["core"]["auth_manager"] == airflow.AUTH_MANAGERS["fab"]


def test_the_comparison_fails_when_a_renderer_drops_or_changes_a_setting(
    synthesized: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative controls: each mutation of one rendering is reported, naming the key."""
    chart = synthesized["dev"]["config"]
    local = local_config(monkeypatch)
    assert airflow_profile.differences(chart, local) == []

    def without(sections: dict[str, dict[str, Any]], section: str, key: str) -> dict[str, dict[str, Any]]:
        copy = {name: dict(keys) for name, keys in sections.items()}
        del copy[section][key]
        return copy

    dropped_from_chart = airflow_profile.differences(without(chart, "openlineage", "custom_run_facets"), local)
    assert dropped_from_chart == ["openlineage.custom_run_facets: profile setting missing from the chart config"]
    dropped_locally = airflow_profile.differences(chart, without(local, "core", "dagbag_import_timeout"))
    assert dropped_locally == ["core.dagbag_import_timeout: profile setting missing from the local environment"]
    changed = {**local, "dag_processor": {**local["dag_processor"], "refresh_interval": "300"}}
    assert airflow_profile.differences(chart, changed) == [
        "dag_processor.refresh_interval: the local environment has '300', the profile '30'"
    ]
    unlisted = {**local, "webserver": {"expose_config": "True"}}
    assert airflow_profile.differences(chart, unlisted) == [
        "webserver.expose_config: chart config None, local environment 'True', and not listed in environmentSpecific"
        " of config/airflow-profile.json"
    ]
    # The same key set to the same value in both needs no listing; listed keys may differ.
    assert airflow_profile.differences({**chart, "webserver": {"expose_config": "True"}}, unlisted) == []


def test_every_environment_specific_setting_has_a_reason_and_is_not_a_profile_setting() -> None:
    profile_keys = {f"{s}.{k}" for s, keys in PROFILE["config"].items() for k in keys}
    specific = [entry["key"] for entry in PROFILE["environmentSpecific"]]
    assert len(specific) == len(set(specific))
    assert not profile_keys & set(specific)
    assert all(entry["reason"].strip() for entry in PROFILE["environmentSpecific"])
    assert set(PROFILE["notes"]) <= profile_keys
    assert all(isinstance(v, str) for keys in PROFILE["config"].values() for v in keys.values())


def test_the_local_platform_sets_no_profile_setting_twice() -> None:
    """local/services/airflow.py spells out only environment-specific AIRFLOW__ keys (and the opt-outs' replacements);
    the profile's come from the file."""
    source = (paths.REPO / "local" / "services" / "airflow.py").read_text()
    spelled = set(re.findall(r'"(AIRFLOW__[A-Z0-9_]+)"', source))
    opt_outs = {airflow_profile.env_name(*entry["key"].split(".")) for entry in PROFILE["localOptOuts"]}
    assert spelled & set(airflow_profile.environment()) == opt_outs


def test_the_warm_up_switch_is_the_profiles_in_every_rendering(synthesized: dict[str, dict[str, Any]]) -> None:
    from local.services import airflow

    warm = PROFILE["dagParserWarmUp"]
    switch = {warm["name"]: warm["value"]}
    assert switch == airflow.WARM_PARSER_ENV
    settings = (paths.REPO / "local_settings" / "airflow_local_settings.py").read_text()
    assert f'\nWARM_PARSER_ENV = "{warm["name"]}"\n' in settings
    assert f'os.environ.get(WARM_PARSER_ENV, "").lower() == "{warm["value"]}"' in settings
    for stack in STACKS:
        assert synthesized[stack]["dagProcessor"]["args"] == [
            "bash",
            "-c",
            f"exec env {warm['name']}={warm['value']} airflow dag-processor",
        ]


def test_redis_databases_are_the_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster's side (the redis_default connection, the broker URLs) is tested in tests/ts/airflow-profile.test.ts."""
    env = local_environment(monkeypatch, executor="CeleryExecutor")
    redis_default = json.loads(env["AIRFLOW_CONN_REDIS_DEFAULT"])
    assert redis_default["extra"]["db"] == PROFILE["redisDatabases"]["redis_default"]
    assert env["AIRFLOW__CELERY__BROKER_URL"].rsplit("/", 1)[1] == str(PROFILE["redisDatabases"]["celery_broker"])
    assert PROFILE["redisDatabases"]["celery_broker"] != PROFILE["redisDatabases"]["redis_default"]
