"""Reading credentials from a secrets backend at use time, so rotations apply without restarts (phase 16)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from typing import Any

from common.governance import fingerprint, secrets_backend_config


def vault_backend(url: str, token: str) -> Any:
    """A VaultBackend with the platform's mount/paths and token auth (Kubernetes auth in the cluster)."""
    from airflow.providers.hashicorp.secrets.vault import VaultBackend

    kwargs = secrets_backend_config("vault", url=url, auth_type="token", token=token)["backend_kwargs"]
    kwargs.pop("kubernetes_role", None)
    return VaultBackend(**kwargs)


def vault_backend_from_connection(conn_id: str = "vault_default") -> Any:
    """The Vault address and token come from an Airflow connection (type vault), never from code."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    url = (conn.extra_dejson or {}).get("url") or f"http://{conn.host}:{conn.port or 8200}"
    if not conn.password:
        raise ValueError(f"connection {conn_id!r} has no token (password) for Vault")
    return vault_backend(url, conn.password)


def get_or_create_variable(backend: Any, name: str) -> str:
    """A secret variable kept in Vault: read it, or generate and store it on first use (it never exists in code)."""
    import secrets as random

    value = backend.get_variable(name)
    if value:
        return str(value)
    value = random.token_hex(32)
    paths = backend.variables_path  # one path or, in newer providers, a list of fallbacks: write to the first
    base = paths[0] if isinstance(paths, list | tuple) else paths
    backend.vault_client.client.secrets.kv.v2.create_or_update_secret(
        path=f"{base}/{name}", secret={"value": value}, mount_point=backend.mount_point)
    return value


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
