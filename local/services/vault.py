"""HashiCorp Vault, the real server (built by scripts/install/vault.sh), as the local platform's secrets backend.

- File storage under .local/data/vault; the server listens on loopback only, without TLS (as the dev stack's chart does).
- The harness initialises it once (one unseal key share) and unseals it on every start. The unseal key and the root
  token go to .local/secrets (mode 0600); the root token is used only to provision.
- Provisioning applies config/vault-layout.json (local/vault_layout.py): the KV v2 mount, the least-privilege policies
  and the AppRole roles, for the same inputs as the dev stack (its kvMount and vault.teamPolicies). Kubernetes auth is
  written when an API server is given (tests/cluster: TokenReview against the local control plane).
- Every workload logs in through AppRole with its own role: Airflow's [secrets] backend as `airflow` (read only), the
  rotation task as `secrets-rotation`, a team as `team-<name>`. Their role_id/secret_id pairs sit in .local/secrets.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from local import paths, ports, proc, vault_layout
from local.secrets import read_secret, write_secret
from local.services.base import Endpoint, Service, ServiceError

# The client side lives in local/vault_client.py; these names stay importable from here, where callers found them.
from local.vault_client import (  # noqa: F401
    DEV_STACK_CONFIG,
    PREFIX,
    ROOT_TOKEN_FILE,
    approle_credentials,
    approle_path,
    base_url,
    connection_fields,
    dev_stack_vault,
    layout_input,
    mount,
    rendered_layout,
    request,
    root_token,
    secrets_backend_kwargs,
)

VERSION = "v1.21.4"
# The unseal key and root token are written once, by init; secret() would generate a value, so these are written here.
UNSEAL_KEY_FILE = "vault_unseal_key"
# Connections a rotation task owns once written (the secrets-rotation policy of config/vault-layout.json).
ROTATING_PREFIX = "rotating_"


def binary() -> Path:
    from cluster.paths import tools_root

    return tools_root() / "vault" / VERSION / "bin" / "vault"


def _status() -> dict[str, Any] | None:
    """sys/seal-status, or None while the listener is not up yet."""
    try:
        with urllib.request.urlopen(f"{base_url()}/v1/sys/seal-status", timeout=2) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None



class Vault(Service):
    name = "vault"
    tcp_ports = ("vault",)
    install_script = "vault.sh"
    start_timeout = 90.0

    def installed(self) -> bool:
        return binary().is_file()

    def version(self) -> str:
        """The running server's version (sys/health), else the built binary's."""
        try:
            with urllib.request.urlopen(f"{base_url()}/v1/sys/health?sealedcode=200&uninitcode=200", timeout=2) as response:
                return "v" + json.loads(response.read())["version"]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            pass
        if not binary().is_file():
            return f"{VERSION} (not built yet: scripts/install/vault.sh)"
        done = subprocess.run([str(binary()), "version"], capture_output=True, text=True, timeout=30)
        return done.stdout.split()[1].rstrip(",") if done.stdout.startswith("Vault ") else VERSION

    def describe(self) -> str:
        return f"real server: HashiCorp Vault {self.version()}"

    def config_file(self) -> Path:
        return self.data_dir() / "server.hcl"

    def prepare(self) -> None:
        storage = self.data_dir() / "file"
        storage.mkdir(mode=0o700, exist_ok=True)
        self.config_file().write_text("\n".join([
            f'storage "file" {{\n  path = "{storage}"\n}}',
            f'listener "tcp" {{\n  address     = "{ports.HOST}:{ports.port("vault")}"\n  tls_disable = 1\n}}',
            f'api_addr = "{base_url()}"',
            # mlock (keeping secrets out of swap) needs CAP_IPC_LOCK, which the unprivileged local platform lacks.
            "disable_mlock = true",
            "ui = true",
            'log_level = "warn"',
            "",
        ]))

    def processes(self) -> list[proc.ProcSpec]:
        return [proc.ProcSpec(name="vault", argv=[str(binary()), "server", f"-config={self.config_file()}"],
                              env={"VAULT_LOG_FORMAT": "standard", "SKIP_SETCAP": "1"}, cwd=self.data_dir())]

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Up, then initialised (first start) and unsealed (every start), then active."""
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while (status := _status()) is None:
            if any(pid is None for pid in self.running_pids().values()):
                raise ServiceError("vault: the server exited during start-up (see .local/logs/vault.log)")
            if time.monotonic() > deadline:
                raise ServiceError(f"vault: {base_url()} did not answer within {timeout or self.start_timeout:.0f}s")
            time.sleep(0.3)
        if not status["initialized"]:
            self._initialise()
        if (status := _status() or {}).get("sealed", True):
            self._unseal()
        super().wait_healthy(max(deadline - time.monotonic(), 5))

    def _initialise(self) -> None:
        if read_secret(UNSEAL_KEY_FILE) or read_secret(ROOT_TOKEN_FILE):
            # Keys from a previous data directory would not open this one; keep them for the operator to decide.
            for name in (UNSEAL_KEY_FILE, ROOT_TOKEN_FILE):
                if (paths.SECRETS / name).exists():
                    (paths.SECRETS / name).replace(paths.SECRETS / f"{name}.previous")
        answer = request("PUT", "/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1}, token="")
        write_secret(UNSEAL_KEY_FILE, answer["keys_base64"][0])
        write_secret(ROOT_TOKEN_FILE, answer["root_token"])

    def _unseal(self) -> None:
        key = read_secret(UNSEAL_KEY_FILE)
        if key is None:
            raise ServiceError(f"vault: the server in {self.data_dir()} is sealed and {paths.SECRETS / UNSEAL_KEY_FILE} "
                               "is missing, so it cannot be unsealed. Restore that file, or remove the data directory "
                               "(all local secrets are lost) and start again")
        answer = request("PUT", "/v1/sys/unseal", {"key": key}, token="")
        if answer.get("sealed"):
            raise ServiceError(f"vault: the unseal key in {paths.SECRETS / UNSEAL_KEY_FILE} did not unseal the server")

    def health(self) -> str | None:
        try:
            with urllib.request.urlopen(f"{base_url()}/v1/sys/health", timeout=2) as response:
                health = json.loads(response.read())
        except urllib.error.HTTPError as error:
            return f"GET {base_url()}/v1/sys/health: HTTP {error.code} (501 uninitialised, 503 sealed, 429 standby)"
        except (urllib.error.URLError, OSError) as error:
            return f"GET {base_url()}/v1/sys/health: {error}"
        return None if health.get("initialized") and not health.get("sealed") else f"vault: {health}"

    def provision(self, kubernetes_config: dict[str, Any] | None = None) -> None:
        from local import connections

        layout = rendered_layout()
        vault_layout.apply(layout, request, kubernetes_config=kubernetes_config)
        approle = layout["auth"]["approle"]
        for role in approle["roles"]:
            self._ensure_approle_credentials(approle["path"], role)
        kv = vault_layout.load()["paths"]
        for key, value in connections.environment().items():
            if key.startswith("AIRFLOW_CONN_"):
                conn_id = key[13:].lower()
                # A rotated credential belongs to its rotation task from then on: written once, never reset.
                self._write_if_changed(f"{kv['connections']}/{conn_id}", json.loads(value),
                                       only_if_absent=conn_id.startswith(ROTATING_PREFIX))
            elif key.startswith("AIRFLOW_VAR_"):
                self._write_if_changed(f"{kv['variables']}/{key[12:].lower()}", {"value": value})

    def _ensure_approle_credentials(self, path: str, role: str) -> None:
        """Keeps a working role_id/secret_id pair per role: the stored one if it still logs in, else a new one."""
        stored = read_secret(f"vault_approle_{role}")
        if stored is not None:
            creds = json.loads(stored)
            try:
                request("POST", f"/v1/auth/{path}/login", creds, token="")
                return
            except ServiceError:
                pass  # a recreated role or a wiped server: issue a new secret_id below
        role_id = request("GET", f"/v1/auth/{path}/role/{role}/role-id")["data"]["role_id"]
        secret_id = request("POST", f"/v1/auth/{path}/role/{role}/secret-id", {})["data"]["secret_id"]
        write_secret(f"vault_approle_{role}", json.dumps({"role_id": role_id, "secret_id": secret_id}))

    def _write_if_changed(self, path: str, data: dict[str, Any], *, only_if_absent: bool = False) -> None:
        """A new KV version only when the value differs, so restarts don't pile up versions."""
        current = request("GET", f"/v1/{mount()}/data/{path}", missing_ok=True)
        if current is not None and only_if_absent:
            return
        if current is None or (current.get("data") or {}).get("data") != data:
            request("POST", f"/v1/{mount()}/data/{path}", {"data": data})

    def endpoint(self) -> Endpoint:
        return Endpoint(url=base_url(), login=f"root token in {paths.SECRETS / ROOT_TOKEN_FILE}",
                        extra={"version": VERSION, "server": "HashiCorp Vault (real server, file storage)"})
