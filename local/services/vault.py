"""Vault stand-in (local/standins/vault.py): KV v2 + token/AppRole/Kubernetes auth. Provisioned like the Pulumi program
provisions the real Vault: mount `airflow` (KV v2) with airflow/connections/<id> and airflow/variables/<name>."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from local import paths, ports, proc
from local.secrets import secret
from local.services.base import Endpoint, Service, ServiceError, http_ok, python_module_proc

MOUNT = "airflow"


def base_url() -> str:
    return f"http://{ports.HOST}:{ports.port('vault')}"


def root_token() -> str:
    return secret("vault_root_token", factory=lambda: "hvs." + secret_hex())


def secret_hex() -> str:
    import secrets as random

    return random.token_hex(16)


def _unseal_key() -> str:
    from cryptography.fernet import Fernet

    return secret("vault_unseal_key", factory=lambda: Fernet.generate_key().decode())


def request(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
    req = urllib.request.Request(f"{base_url()}{path}", method=method, headers={"X-Vault-Token": root_token(),
                                 "Content-Type": "application/json"}, data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            payload = response.read()
    except urllib.error.HTTPError as error:
        raise ServiceError(f"vault: {method} {path}: HTTP {error.code} {error.read().decode()[:200]}") from error
    return json.loads(payload) if payload else None


def secrets_backend_kwargs() -> dict[str, Any]:
    """[secrets] backend_kwargs for Airflow's VaultBackend, the same shape the Pulumi vault component sets."""
    return {"connections_path": "connections", "variables_path": "variables", "config_path": None,
            "mount_point": MOUNT, "url": base_url(), "auth_type": "token", "token": root_token(), "kv_engine_version": 2}


class Vault(Service):
    name = "vault"
    tcp_ports = ("vault",)
    stand_in_for = "HashiCorp Vault (KV v2, token/AppRole/Kubernetes auth API)"

    def prepare(self) -> None:
        root_token()
        _unseal_key()

    def processes(self) -> list[proc.ProcSpec]:
        return [python_module_proc(
            "vault", "local.standins.vault", "--host", ports.HOST, "--port", str(ports.port("vault")),
            "--state-file", str(self.data_dir() / "state.enc"),
            "--root-token-file", str(paths.SECRETS / "vault_root_token"),
            "--unseal-key-file", str(paths.SECRETS / "vault_unseal_key"))]

    def health(self) -> str | None:
        return http_ok(f"{base_url()}/v1/sys/health")

    def provision(self) -> None:
        from local import contract

        mounts = request("GET", "/v1/sys/mounts") or {}
        if f"{MOUNT}/" not in mounts:
            request("POST", f"/v1/sys/mounts/{MOUNT}", {"type": "kv", "options": {"version": "2"}})
        for key, value in contract.environment().items():
            if key.startswith("AIRFLOW_CONN_"):
                request("POST", f"/v1/{MOUNT}/data/connections/{key[13:].lower()}", {"data": json.loads(value)})
            elif key.startswith("AIRFLOW_VAR_"):
                request("POST", f"/v1/{MOUNT}/data/variables/{key[12:].lower()}", {"data": {"value": value}})

    def endpoint(self) -> Endpoint:
        return Endpoint(url=base_url(), login=f"root token in {paths.SECRETS}/vault_root_token")
