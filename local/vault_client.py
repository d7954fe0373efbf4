"""The client side of the local platform's Vault: its address, the layout it applies (the dev stack's), API calls, and
how a workload logs in (AppRole credentials, the [secrets] backend's kwargs, a `vault` connection's fields).

A leaf module: the server (local/services/vault.py) and the connections built from endpoints (local/connections.py)
both read it, and it reads neither.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from functools import cache
from typing import Any

from local import paths, ports, vault_layout
from local.secrets import read_secret
from local.services.base import ServiceError

# The dev stack's Vault component (release platform-vault): policy names and auth paths carry its name, so the local
# layout is the dev stack's layout (tests/local/test_vault_layout.py compares them).
PREFIX = "platform-vault"
DEV_STACK_CONFIG = paths.REPO / "Pulumi.dev.yaml"
ROOT_TOKEN_FILE = "vault_root_token"


def base_url() -> str:
    return f"http://{ports.HOST}:{ports.port('vault')}"


@cache
def dev_stack_vault() -> dict[str, Any]:
    """The dev stack's vault section (Pulumi.dev.yaml), whose mount and team policies the local layout mirrors."""
    import yaml

    section = (yaml.safe_load(DEV_STACK_CONFIG.read_text())["config"] or {}).get("airflow-platform:vault")
    if not isinstance(section, dict) or "kvMount" not in section:
        raise ServiceError(f"vault: {DEV_STACK_CONFIG.name} has no airflow-platform:vault.kvMount to mirror locally")
    return section


def mount() -> str:
    return str(dev_stack_vault()["kvMount"])


def layout_input() -> vault_layout.LayoutInput:
    """The local layout's inputs: the dev stack's mount and teams; Airflow's local processes stand for its pods."""
    teams = [vault_layout.Team(p["team"], p["namespace"], list(p["serviceAccounts"]))
             for p in dev_stack_vault().get("teamPolicies") or []]
    return vault_layout.LayoutInput(mount=mount(), prefix=PREFIX, airflow_namespace="airflow-dev",
                                    airflow_service_accounts=["platform-airflow-worker", "platform-airflow-triggerer",
                                                              "platform-airflow-dag-processor"], teams=teams)


def rendered_layout() -> dict[str, Any]:
    return vault_layout.render(layout_input())


def approle_path() -> str:
    return rendered_layout()["auth"]["approle"]["path"]


def root_token() -> str:
    token = read_secret(ROOT_TOKEN_FILE)
    if token is None:
        raise ServiceError(f"vault: no root token in {paths.SECRETS / ROOT_TOKEN_FILE}: start the platform "
                           "(./platform up vault) so the harness initialises the server")
    return token


def request(method: str, path: str, body: dict[str, Any] | None = None, *, token: str | None = None,
            missing_ok: bool = False, url: str | None = None) -> Any:
    """One Vault API call to the platform's Vault (or the server at `url`), with the root token unless another is
    given ("" for none). 404 is None when missing_ok; other errors name the call and carry Vault's own message
    ("permission denied" for a policy refusal)."""
    headers = {"Content-Type": "application/json"}
    if token != "":
        headers["X-Vault-Token"] = token or root_token()
    req = urllib.request.Request(f"{url or base_url()}{path}", method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=15) as response:
            payload = response.read()
    except urllib.error.HTTPError as error:
        if error.code == 404 and missing_ok:
            return None
        raise ServiceError(f"vault: {method} {path}: HTTP {error.code} {error.read().decode()[:300]}") from error
    return json.loads(payload) if payload else None


def approle_credentials(role: str) -> dict[str, str]:
    """role_id/secret_id of an AppRole role of the layout, written at provisioning (.local/secrets, 0600)."""
    raw = read_secret(f"vault_approle_{role}")
    if raw is None:
        raise ServiceError(f"vault: no AppRole credentials for role {role!r} in {paths.SECRETS}: the role is not in "
                           "config/vault-layout.json or the platform's Vault was not provisioned (./platform up vault)")
    return json.loads(raw)


def secrets_backend_kwargs() -> dict[str, Any]:
    """[secrets] backend_kwargs for Airflow's VaultBackend: the layout's mount and paths, AppRole as role `airflow`
    (in the cluster the same role name is a Kubernetes auth role: components/values/vault.ts airflowVaultBackend)."""
    paths_ = vault_layout.load()["paths"]
    creds = approle_credentials("airflow")
    return {"connections_path": paths_["connections"], "variables_path": paths_["variables"], "config_path": None,
            "mount_point": mount(), "url": base_url(), "auth_type": "approle", "auth_mount_point": approle_path(),
            "role_id": creds["role_id"], "secret_id": creds["secret_id"], "kv_engine_version": 2}


def connection_fields(role: str) -> dict[str, Any]:
    """A `vault` connection logging in as one layout role (login = role_id, password = secret_id)."""
    creds = approle_credentials(role)
    return {"host": ports.HOST, "port": ports.port("vault"), "login": creds["role_id"], "password": creds["secret_id"],
            "extra": {"auth_type": "approle", "auth_mount_point": approle_path(), "url": base_url(),
                      "mount_point": mount(), "role": role}}
