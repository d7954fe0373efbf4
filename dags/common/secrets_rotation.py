"""Reading credentials from a secrets backend at use time, so rotations apply without restarts (phase 16)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from typing import Any

from common.governance import fingerprint, secrets_backend_config


def vault_backend_from_env(env: dict[str, str] | None = None) -> Any:
    """A VaultBackend using token auth from VAULT_ADDR / VAULT_TOKEN (the standard Vault client variables)."""
    from airflow.providers.hashicorp.secrets.vault import VaultBackend

    environ = os.environ if env is None else env
    missing = [k for k in ("VAULT_ADDR", "VAULT_TOKEN") if not environ.get(k)]
    if missing:
        raise KeyError(f"environment variable(s) {', '.join(missing)} not set: cannot reach Vault")
    kwargs = secrets_backend_config("vault", url=environ["VAULT_ADDR"], auth_type="token",
                                    token=environ["VAULT_TOKEN"])["backend_kwargs"]
    kwargs.pop("kubernetes_role", None)
    return VaultBackend(**kwargs)


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
