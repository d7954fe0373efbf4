"""Vault's Kubernetes auth for real: the real Vault server (scripts/install/vault.sh) validates service-account tokens
through the TokenReview API of the local Kubernetes 1.37 control plane, with the platform's layout applied
(config/vault-layout.json, rendered by local/vault_layout.py for the dev stack's inputs).

A pod's token logs in to the role its service account is bound to and gets that role's policy; any other service
account, a token signed by someone else, and the token of a deleted service account are refused.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cluster import controlplane
from local import vault_layout
from local.services import vault as local_vault
from local.services.base import ServiceError

NAMESPACE = "airflow-dev"


class VaultProcess:
    """A real Vault in dev mode (in-memory, unsealed, a known root token) on a free loopback port."""

    def __init__(self, binary: Path, logs: Path) -> None:
        self.port = controlplane.free_port()
        self.root = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        log = open(logs / "vault.log", "wb")  # noqa: SIM115 - the process writes to it until stop()
        self.proc = subprocess.Popen(
            [str(binary), "server", "-dev", f"-dev-listen-address=127.0.0.1:{self.port}", "-dev-no-store-token"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "VAULT_DEV_ROOT_TOKEN_ID": self.root})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/v1/sys/health", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"vault exited with {self.proc.returncode}; see {logs / 'vault.log'}") from None
                time.sleep(0.3)
        raise RuntimeError("vault did not answer within 60 s")

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
        """The harness's own Vault client, pointed at this server (root token unless another is given)."""
        return local_vault.request(method, path, body, token=token or self.root if token != "" else "", url=self.url)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def vault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultProcess]:
    binary = local_vault.binary()
    if not binary.is_file():
        message = f"vault is not built at {binary} (bash scripts/install/vault.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = VaultProcess(binary, tmp_path_factory.mktemp("vault"))
    try:
        yield server
    finally:
        server.stop()


def _token(api: controlplane.Api, service_account: str, namespace: str = NAMESPACE) -> str:
    status, body = api.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
                               {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}})
    assert status == 201, f"TokenRequest for {namespace}/{service_account}: HTTP {status} {body}"
    return body["status"]["token"]


@pytest.fixture(scope="module")
def cluster_auth(control_plane: controlplane.ControlPlane, vault_server: VaultProcess) -> dict[str, Any]:
    """Service accounts in the plane, a token reviewer bound to system:auth-delegator, and the layout applied to
    Vault with Kubernetes auth pointed at the plane's API server."""
    api = control_plane.api()
    layout = local_vault.rendered_layout()
    api.apply(f"/api/v1/namespaces/{NAMESPACE}", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    accounts = ["vault-token-reviewer", "analytics-ci", "payments-ci", "intruder",
                *layout["auth"]["kubernetes"]["roles"]["airflow"]["bound_service_account_names"]]
    for name in accounts:
        api.apply(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{name}",
                  {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": NAMESPACE}})
    api.apply("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/vault-token-reviewer", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "vault-token-reviewer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
        "subjects": [{"kind": "ServiceAccount", "name": "vault-token-reviewer", "namespace": NAMESPACE}]})
    config = {"kubernetes_host": control_plane.server,
              "kubernetes_ca_cert": (control_plane.state_dir / "pki" / "ca.crt").read_text(),
              "token_reviewer_jwt": _token(api, "vault-token-reviewer"), "disable_local_ca_jwt": True}
    vault_layout.apply(layout, vault_server.request, kubernetes_config=config)
    mount = layout["mount"]["path"]
    vault_server.request("POST", f"/v1/{mount}/data/connections/postgres_default", {"data": {"conn_type": "postgres"}})
    return {"api": api, "layout": layout, "mount": mount, "path": layout["auth"]["kubernetes"]["path"]}


def _login(vault_server: VaultProcess, path: str, role: str, jwt: str) -> dict[str, Any]:
    return vault_server.request("POST", f"/v1/auth/{path}/login", {"role": role, "jwt": jwt}, token="")["auth"]


def test_the_server_holds_the_layout_with_kubernetes_auth(vault_server: VaultProcess, cluster_auth: dict[str, Any]) -> None:
    live = vault_layout.read_live(vault_server.request, prefix=local_vault.PREFIX, mount=cluster_auth["mount"], with_kubernetes=True)
    assert live["policies"] == cluster_auth["layout"]["policies"]
    assert live["auth"] == cluster_auth["layout"]["auth"]


def test_a_pods_token_logs_in_to_its_role_and_gets_only_that_policy(vault_server: VaultProcess, cluster_auth: dict[str, Any]) -> None:
    worker = cluster_auth["layout"]["auth"]["kubernetes"]["roles"]["airflow"]["bound_service_account_names"][0]
    auth = _login(vault_server, cluster_auth["path"], "airflow", _token(cluster_auth["api"], worker))
    assert auth["token_policies"] == ["default", f"{local_vault.PREFIX}-airflow-read"]
    assert auth["metadata"]["service_account_name"] == worker and auth["metadata"]["service_account_namespace"] == NAMESPACE
    mount = cluster_auth["mount"]
    assert vault_server.request("GET", f"/v1/{mount}/data/connections/postgres_default", token=auth["client_token"])["data"]["data"]
    with pytest.raises(ServiceError, match="HTTP 403"):
        vault_server.request("POST", f"/v1/{mount}/data/connections/postgres_default", {"data": {}}, token=auth["client_token"])

    team = _login(vault_server, cluster_auth["path"], "team-analytics", _token(cluster_auth["api"], "analytics-ci"))
    assert team["token_policies"] == ["default", f"{local_vault.PREFIX}-team-analytics"]
    with pytest.raises(ServiceError, match="HTTP 403"):
        vault_server.request("GET", f"/v1/{mount}/data/variables/teams/payments/x", token=team["client_token"])


def test_another_service_account_is_refused_the_role(vault_server: VaultProcess, cluster_auth: dict[str, Any]) -> None:
    for account, role in (("intruder", "airflow"), ("payments-ci", "team-analytics"), ("analytics-ci", "airflow")):
        with pytest.raises(ServiceError, match=r"HTTP 403 .*service account name not authorized"):
            _login(vault_server, cluster_auth["path"], role, _token(cluster_auth["api"], account))


def test_a_token_the_api_server_did_not_sign_is_refused(vault_server: VaultProcess, cluster_auth: dict[str, Any]) -> None:
    worker = cluster_auth["layout"]["auth"]["kubernetes"]["roles"]["airflow"]["bound_service_account_names"][0]
    header, claims, _ = _token(cluster_auth["api"], worker).split(".")
    forged = f"{header}.{claims}.{base64.urlsafe_b64encode(secrets.token_bytes(256)).decode().rstrip('=')}"
    with pytest.raises(ServiceError, match="HTTP 403"):
        _login(vault_server, cluster_auth["path"], "airflow", forged)


def test_the_token_of_a_deleted_service_account_is_refused(vault_server: VaultProcess, cluster_auth: dict[str, Any]) -> None:
    api = cluster_auth["api"]
    layout = cluster_auth["layout"]
    account = layout["auth"]["kubernetes"]["roles"]["airflow"]["bound_service_account_names"][-1]
    token = _token(api, account)
    assert _login(vault_server, cluster_auth["path"], "airflow", token)["client_token"]
    status, body = api.request("DELETE", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{account}")
    assert status == 200, body
    # The API server checks a bound token's service account (uid included) through its informer cache: allow it to see
    # the deletion, then the same token must stay refused.
    deadline = time.monotonic() + 30
    refused = ""
    while time.monotonic() < deadline and not refused:
        try:
            _login(vault_server, cluster_auth["path"], "airflow", token)
            time.sleep(0.5)
        except ServiceError as error:
            refused = str(error)
    assert "HTTP 403" in refused, "the token of a deleted service account still logs in after 30 s"
    with pytest.raises(ServiceError, match="HTTP 403"):
        _login(vault_server, cluster_auth["path"], "airflow", token)
