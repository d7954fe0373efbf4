"""Vault as a DAG sees it (phase 16): each task logs in as one role of the platform's Vault layout
(config/vault-layout.json), reads at use time so rotations apply without restarts, and is refused outside its policy.

A `vault` connection names the identity: `extra.auth_type` is approle (login = role_id, password = secret_id; the local
platform), kubernetes (extra.kubernetes_role; the pod's service-account token, in the cluster) or token (password).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from typing import Any

from common.governance import fingerprint, secrets_backend_config

# The secrets-rotation policy writes only connections whose id starts with this (config/vault-layout.json).
ROTATING_PREFIX = "rotating_"


class VaultPermissionError(PermissionError):
    """Vault refused a path to the caller's role; the message names the path and the role."""


def vault_backend(url: str, *, auth_type: str = "token", mount_point: str = "airflow", **auth: Any) -> Any:
    """A VaultBackend with the platform's paths and the given auth (token, approle or kubernetes kwargs)."""
    from airflow.providers.hashicorp.secrets.vault import VaultBackend

    kwargs = secrets_backend_config("vault", url=url, auth_type=auth_type)["backend_kwargs"]
    kwargs["mount_point"] = mount_point
    if auth_type != "kubernetes":
        kwargs.pop("kubernetes_role", None)
    kwargs.update({k: v for k, v in auth.items() if v is not None})
    return VaultBackend(**kwargs)


def vault_backend_from_connection(conn_id: str) -> Any:
    """The Vault address and identity come from an Airflow connection (type vault), never from code."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson or {}
    url = extra.get("url") or (conn.host if "://" in (conn.host or "") else f"http://{conn.host}:{conn.port or 8200}")
    auth_type = extra.get("auth_type", "token")
    common = {"auth_mount_point": extra.get("auth_mount_point"), "mount_point": extra.get("mount_point", "airflow")}
    if auth_type == "approle":
        if not (conn.login and conn.password):
            raise ValueError(f"connection {conn_id!r}: AppRole auth needs role_id (login) and secret_id (password)")
        backend = vault_backend(url, auth_type="approle", role_id=conn.login, secret_id=conn.password, **common)
    elif auth_type == "kubernetes":
        backend = vault_backend(url, auth_type="kubernetes", kubernetes_role=extra.get("kubernetes_role"), **common)
    elif auth_type == "token":
        if not conn.password:
            raise ValueError(f"connection {conn_id!r} has no token (password) for Vault")
        backend = vault_backend(url, auth_type="token", token=conn.password, **common)
    else:
        raise ValueError(f"connection {conn_id!r}: extra.auth_type {auth_type!r} is not one of approle, kubernetes, token")
    backend.identity = extra.get("role") or extra.get("kubernetes_role") or auth_type
    return backend


def _base(paths: Any) -> str:
    """The first of a backend's paths (newer providers accept a list of fallbacks)."""
    return paths[0] if isinstance(paths, list | tuple) else paths


def _refused(backend: Any, path: str) -> VaultPermissionError:
    return VaultPermissionError(
        f"Vault refused {backend.mount_point}/data/{path} to role {getattr(backend, 'identity', '?')!r}: "
        "permission denied by its policy (config/vault-layout.json)")


def _is_refusal(error: BaseException) -> bool:
    """A 403: hvac's Forbidden, or the provider's VaultError raised after re-authenticating did not help."""
    import hvac.exceptions

    return isinstance(error, hvac.exceptions.Forbidden) or isinstance(error.__cause__, hvac.exceptions.Forbidden)


def _kv(backend: Any) -> Any:
    return backend.vault_client.client.secrets.kv.v2


def read_kv(backend: Any, path: str) -> dict[str, Any] | None:
    """One KV v2 secret's data (None when absent); a policy refusal raises VaultPermissionError naming the path."""
    import hvac.exceptions

    try:
        return backend.vault_client.get_secret(path)
    except hvac.exceptions.VaultError as error:
        if _is_refusal(error):
            raise _refused(backend, path) from None
        raise


def write_kv(backend: Any, path: str, data: dict[str, Any], *, cas: int | None = None) -> int:
    """Writes a new version (check-and-set when `cas` is given); returns the version written."""
    import hvac.exceptions

    try:
        answer = _kv(backend).create_or_update_secret(path=path, secret=data, cas=cas, mount_point=backend.mount_point)
    except hvac.exceptions.Forbidden:
        raise _refused(backend, path) from None
    return int(answer["data"]["version"])


def get_or_create_variable(backend: Any, name: str) -> str:
    """A secret variable kept in Vault: read it, or generate and store it on first use (it never exists in code)."""
    import secrets as random

    path = f"{_base(backend.variables_path)}/{name}"
    current = read_kv(backend, path)
    if current and current.get("value"):
        return str(current["value"])
    value = random.token_hex(32)
    write_kv(backend, path, {"value": value}, cas=0)  # cas=0: only if nobody created it meanwhile
    return value


def rotate_connection(backend: Any, conn_id: str, new_password: str) -> dict[str, Any]:
    """A new version of connection `conn_id` with `new_password`, everything else kept. Check-and-set on the version
    read, so two rotations racing cannot both win. Returns the new version and the password's fingerprint."""
    import hvac.exceptions

    if not conn_id.startswith(ROTATING_PREFIX):
        raise ValueError(f"connection {conn_id!r}: only connections named {ROTATING_PREFIX}* are rotated by this task")
    path = f"{_base(backend.connections_path)}/{conn_id}"
    try:
        current = _kv(backend).read_secret_version(path=path, mount_point=backend.mount_point, raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath:
        raise KeyError(f"connection {conn_id!r} does not exist in Vault ({backend.mount_point}/data/{path})") from None
    except hvac.exceptions.Forbidden:
        raise _refused(backend, path) from None
    data = {**current["data"]["data"], "password": new_password}
    version = write_kv(backend, path, data, cas=int(current["data"]["metadata"]["version"]))
    return {"conn_id": conn_id, "version": version, "fingerprint": fingerprint(new_password)}


def read_team_variable(backend: Any, team: str, key: str) -> str:
    """Variable teams/<team>/<key>, read as the backend's role: another team's subtree is refused by name."""
    path = f"{_base(backend.variables_path)}/teams/{team}/{key}"
    found = read_kv(backend, path)
    if found is None:
        raise KeyError(f"variable teams/{team}/{key} not found in Vault ({backend.mount_point}/data/{path})")
    return str(found["value"])


def connection_fingerprint(backend: Any, conn_id: str) -> dict[str, str]:
    """Fetch the connection now (no cache) and return only a fingerprint of its password."""
    conn = backend.get_connection(conn_id)
    if conn is None:
        raise KeyError(f"connection {conn_id!r} not found in the secrets backend")
    return {"conn_id": conn_id, "login": conn.login or "", "fingerprint": fingerprint(conn.password or "")}


def run_with_injected_secret(argv: Sequence[str], env_name: str, secret: str, timeout: float = 30) -> str:
    """Run a child process with the secret in its environment only; it is registered for log masking first."""
    from airflow.sdk.log import mask_secret

    mask_secret(secret)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), env_name: secret}
    done = subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=timeout, check=True)
    if secret and secret in done.stdout:
        raise RuntimeError(f"child process echoed {env_name}; refusing to return its output")
    return done.stdout
