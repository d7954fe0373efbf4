"""The local platform's Vault is HashiCorp's real server (scripts/install/vault.sh), holding the layout of
config/vault-layout.json and enforcing its policies.

- the server is real (its own /sys/health version), initialised and unsealed by the harness, secrets files 0600;
- what the server holds is exactly the local rendering of the layout, and that rendering is the dev stack's (the
  Pulumi program's Vault resources, read from a real synth) for the same inputs: one definition, two renderings;
- each role gets what its policy grants and a 403 naming the path elsewhere;
- a restart seals the server; the harness unseals it and every secret is still there.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from local import paths, proc, vault_layout
from local.services import vault
from local.services.base import ServiceError

REPO = Path(__file__).resolve().parents[2]


def _login(role: str) -> str:
    creds = vault.approle_credentials(role)
    return vault.request("POST", f"/v1/auth/{vault.approle_path()}/login", creds, token="")["auth"]["client_token"]


def _as(role: str) -> Any:
    token = _login(role)
    return lambda method, path, body=None: vault.request(method, path, body, token=token)


def test_the_server_is_hashicorp_vault_initialised_unsealed_and_reported_by_status(vault_service) -> None:  # noqa: ANN001
    health = json.loads(subprocess.run(["curl", "-s", f"{vault.base_url()}/v1/sys/health"], capture_output=True,
                                       text=True, check=True).stdout)
    assert health["version"] == vault.VERSION.removeprefix("v") and health["initialized"] and not health["sealed"]
    assert vault.Vault().describe() == f"real server: HashiCorp Vault {vault.VERSION}"
    assert vault.Vault().stand_in_for is None
    done = subprocess.run([str(REPO / "platform"), "status"], capture_output=True, text=True, timeout=120, check=True)
    row = next(line for line in done.stdout.splitlines() if line.startswith("vault "))
    assert "running" in row and f"real server: HashiCorp Vault {vault.VERSION}" in row


def test_unseal_key_root_token_and_approle_credentials_are_owner_only_files(vault_service) -> None:  # noqa: ANN001
    files = [paths.SECRETS / vault.UNSEAL_KEY_FILE, paths.SECRETS / vault.ROOT_TOKEN_FILE,
             *sorted(paths.SECRETS.glob("vault_approle_*"))]
    roles = set(vault.rendered_layout()["auth"]["approle"]["roles"])
    assert {f.name.removeprefix("vault_approle_") for f in files[2:]} == roles
    for file in files:
        mode = stat.S_IMODE(file.stat().st_mode)
        assert mode == 0o600, f"{file} is {oct(mode)}"
        assert file.stat().st_uid == os.getuid(), f"{file} is not owned by the user running the platform"


def test_the_live_server_holds_exactly_the_rendered_layout(vault_service) -> None:  # noqa: ANN001
    rendered = vault.rendered_layout()
    live = vault_layout.read_live(vault.request, prefix=vault.PREFIX, mount=vault.mount(), with_kubernetes=False)
    assert live["mount"] == rendered["mount"]
    assert live["policies"] == rendered["policies"]
    assert live["auth"]["approle"] == rendered["auth"]["approle"]
    assert {"platform-vault-airflow-read", "platform-vault-team-analytics", "platform-vault-team-payments"} <= set(live["policies"])


@pytest.fixture(scope="module")
def dev_stack_layout(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every stack's Vault layout as the Pulumi program creates it (npm run synth: the real program under mocks)."""
    out = tmp_path_factory.mktemp("synth")
    cmd = ["npm", "run", "--silent", "synth", "--", "--out", str(out), "--stack", "dev", "--stack", "staging", "--stack", "prod"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"synth failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return {stack: json.loads((out / stack / "vault-layout.json").read_text()) for stack in ("dev", "staging", "prod")}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_python_rendering_equals_the_pulumi_programs_layout(dev_stack_layout, stack: str) -> None:  # noqa: ANN001
    cluster = dev_stack_layout[stack]
    assert vault_layout.render(vault_layout.input_of(cluster)) == cluster
    assert len(cluster["policies"]) >= 3 and cluster["auth"]["kubernetes"]["roles"]["airflow"]["token_policies"]


def test_the_local_layout_is_the_dev_stacks_layout(dev_stack_layout) -> None:  # noqa: ANN001
    dev = dev_stack_layout["dev"]
    local = vault.rendered_layout()
    # Everything but the Kubernetes bindings (local processes are not pods) is the same, byte for byte.
    assert local["mount"] == dev["mount"] and local["policies"] == dev["policies"]
    assert local["auth"]["approle"] == dev["auth"]["approle"]
    strip = lambda roles: {r: {k: v for k, v in b.items() if not k.startswith("bound_")} for r, b in roles.items()}  # noqa: E731
    assert strip(local["auth"]["kubernetes"]["roles"]) == strip(dev["auth"]["kubernetes"]["roles"])
    assert local["auth"]["kubernetes"]["path"] == dev["auth"]["kubernetes"]["path"]


def test_airflows_role_reads_connections_and_is_refused_everything_else(vault_service) -> None:  # noqa: ANN001
    airflow = _as("airflow")
    mount = vault.mount()
    assert airflow("GET", f"/v1/{mount}/data/connections/postgres_default")["data"]["data"]["conn_type"] == "postgres"
    refused = [("POST", f"/v1/{mount}/data/connections/postgres_default", {"data": {"conn_type": "x"}}),
               ("LIST", f"/v1/{mount}/metadata/connections", None),
               ("GET", "/v1/sys/policies/acl", None),
               ("POST", f"/v1/{mount}/data/variables/teams/analytics/x", {"data": {"value": "1"}})]
    for method, path, body in refused:
        with pytest.raises(ServiceError, match=r"HTTP 403 .*permission denied"):
            airflow(method, path, body)


def test_a_team_writes_its_own_subtree_and_is_refused_another_teams(vault_service) -> None:  # noqa: ANN001
    analytics = _as("team-analytics")
    mount = vault.mount()
    key = f"probe_{uuid.uuid4().hex[:8]}"
    analytics("POST", f"/v1/{mount}/data/variables/teams/analytics/{key}", {"data": {"value": "ours"}})
    assert analytics("GET", f"/v1/{mount}/data/variables/teams/analytics/{key}")["data"]["data"] == {"value": "ours"}
    vault.request("POST", f"/v1/{mount}/data/variables/teams/payments/{key}", {"data": {"value": "theirs"}})
    for method, path in (("GET", f"variables/teams/payments/{key}"), ("GET", "connections/postgres_default")):
        with pytest.raises(ServiceError, match=r"HTTP 403"):
            analytics(method, f"/v1/{mount}/data/{path}")


def test_the_rotation_role_writes_only_rotating_connections(vault_service) -> None:  # noqa: ANN001
    rotation = _as("secrets-rotation")
    mount = vault.mount()
    conn_id = f"rotating_probe_{uuid.uuid4().hex[:6]}"
    written = rotation("POST", f"/v1/{mount}/data/connections/{conn_id}", {"data": {"conn_type": "postgres", "password": "a"}})
    assert written["data"]["version"] == 1
    with pytest.raises(ServiceError, match=r"HTTP 403"):
        rotation("POST", f"/v1/{mount}/data/connections/postgres_default", {"data": {"conn_type": "postgres"}})
    with pytest.raises(ServiceError, match=r"HTTP 403"):
        rotation("GET", f"/v1/{mount}/data/variables/audit_pii_salt")


def test_a_restart_seals_the_server_and_the_harness_unseals_it_with_every_secret_kept(vault_service) -> None:  # noqa: ANN001
    from local import platform as plat

    mount = vault.mount()
    key = f"restart_probe_{uuid.uuid4().hex[:8]}"
    vault.request("POST", f"/v1/{mount}/data/variables/{key}", {"data": {"value": "kept"}})
    before = vault.approle_credentials("airflow")
    svc = plat.service("vault")
    assert plat.stop_one(svc)
    try:
        proc.start(svc.processes()[0])
        # A fresh process over the same file storage comes up sealed: nothing can be read until it is unsealed.
        deadline = time.monotonic() + 60
        status: dict[str, Any] | None = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"{vault.base_url()}/v1/sys/seal-status", timeout=2) as response:
                    status = json.loads(response.read())
            except OSError:
                time.sleep(0.3)
        assert status is not None and status["sealed"] is True and status["initialized"] is True
        svc.wait_healthy()  # the harness's start-up path: unseal with the key from .local/secrets
    finally:
        plat.up(["vault"], say=lambda _: None)
    assert vault.request("GET", f"/v1/{mount}/data/variables/{key}")["data"]["data"] == {"value": "kept"}
    assert vault.approle_credentials("airflow") == before, "the stored AppRole credentials still log in"
    _login("airflow")


def test_the_schedulers_tasks_resolve_connections_through_vault(airflow_service, vault_service) -> None:  # noqa: ANN001
    """phase16_01 through the real scheduler: the rotated credential exists only in Vault (the processes' environment
    still has the provisioned one), and the task's Connection.get() returns the rotated one."""
    from common.governance import fingerprint
    from local import connections
    from local.airflow_client import AirflowClient

    client = AirflowClient()
    client.wait_for_dag("phase16_01_secrets_backend")
    run_id = client.trigger("phase16_01_secrets_backend", {"rotate": True})
    run = client.wait("phase16_01_secrets_backend", run_id)
    states = {t["task_id"]: t["state"] for t in client.task_instances("phase16_01_secrets_backend", run_id)}
    assert states["rotate_credential"] == "success" and states["read_through_airflow"] == "success", (run, states)
    rotated = client.xcom("phase16_01_secrets_backend", run_id, "rotate_credential")
    read = client.xcom("phase16_01_secrets_backend", run_id, "read_through_airflow")
    assert read["fingerprint"] == rotated["fingerprint"]
    provisioned = json.loads(connections.environment()["AIRFLOW_CONN_ROTATING_WAREHOUSE"])["password"]
    assert fingerprint(provisioned) != rotated["fingerprint"]
