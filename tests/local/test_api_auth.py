"""The Airflow API's attack surface on the running local api-server (issue #19, "API").

- the local platform runs the auth manager the cluster runs (FAB, with roles) unless LOCAL_AIRFLOW_AUTH=simple;
- every route of the api-server's own OpenAPI documents (`/openapi.json`: the public REST API v2; `/auth/openapi.json`:
  the auth manager's app, FAB's users/roles API) and every route of the UI's private API (`/ui/...`, left out of the
  OpenAPI document by Airflow, listed from the installed api-server's router) refuses a call with no token, with a
  token signed by another key, and with an expired token: 401 or 403. Only the routes Airflow itself documents as
  public are let through, each listed below with the reason.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.services import airflow

METHODS = ("get", "post", "put", "patch", "delete")
REFUSED = {401, 403}

# Routes Airflow documents as public (no `security` in its OpenAPI document), with why each must stay open.
PUBLIC_API = {
    ("GET", "/api/v2/monitor/health"): "liveness: the chart's probes and the harness's health check call it without a token",
    ("GET", "/api/v2/version"): "Airflow's version and git sha only, documented as unauthenticated",
    ("GET", "/api/v2/auth/login"): "redirects to the auth manager's login page",
}
# Documented with a bearer scheme that Airflow's code makes optional (auto_error=False): open by design.
OPEN_BY_DESIGN = {
    ("GET", "/api/v2/auth/logout"): "revokes the token it is given, if any, then redirects to the login page; "
                                    "without a token it revokes nothing and only redirects",
}
PUBLIC_AUTH = {
    "fab": {
        ("POST", "/auth/token"): "the login: username and password in, JWT out",
        ("POST", "/auth/token/cli"): "the CLI's login: the same exchange with the CLI's token lifetime",
        ("GET", "/auth/logout"): "clears the session cookies and redirects to the login page",
    },
    "simple": {
        ("POST", "/auth/token"): "the login: username and password in, JWT out",
        ("POST", "/auth/token/cli"): "the CLI's login: the same exchange with the CLI's token lifetime",
        ("GET", "/auth/token"): "a token for everyone only when simple_auth_manager_all_admins is on (off here: 403)",
        ("GET", "/auth/token/login"): "the same, as a redirect with the token in a cookie (off here: 403)",
    },
}
# Documented as public, but refused by the platform's settings (simple_auth_manager_all_admins stays off).
REFUSED_BY_SETTINGS = {("GET", "/auth/token"), ("GET", "/auth/token/login")}


def _sample(schema: dict[str, Any] | None) -> str:
    """A syntactically valid value for a path parameter, naming nothing that exists."""
    kind = (schema or {}).get("type") or next((s.get("type") for s in (schema or {}).get("anyOf", []) if s.get("type")), "string")
    return "987654321" if kind in ("integer", "number") else "rbac_probe_missing"


def _operations(document: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str, str]]:
    """(method, documented path, concrete URL path) for every operation of an OpenAPI document."""
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            params = {p["name"]: p.get("schema") for p in [*shared, *operation.get("parameters", [])] if p["in"] == "path"}
            concrete = re.sub(r"\{([^}:]+)(?::[^}]*)?\}", lambda m, params=params: _sample(params.get(m.group(1))), path)
            yield method.upper(), prefix + path, prefix + concrete


def _ui_operations() -> list[tuple[str, str, str]]:
    """The UI's private API: not in /openapi.json (include_in_schema=False), so read from the api-server's router."""
    from airflow.api_fastapi.core_api.routes.ui import ui_router

    out = []
    for route in ui_router.routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method.lower() in METHODS:
                out.append((method, route.path, re.sub(r"\{([^}:]+)(?::[^}]*)?\}", "rbac_probe_missing", route.path)))
    return out


def _jwt(secret: str, *, expires_in: int) -> str:
    """A token shaped like the api-server's for the admin (HS512; FAB: sub = the user's id; SimpleAuthManager: sub =
    the username, with its role), signed with `secret`."""
    import jwt

    now = int(time.time())
    user = {"sub": "1"} if airflow.auth() == "fab" else {"sub": airflow.ADMIN_USER, "role": "ADMIN", "teams": None}
    claims = {**user, "aud": "apache-airflow", "iat": now - 60, "nbf": now - 60, "exp": now + expires_in,
              "jti": "rbac-probe"}
    return jwt.encode(claims, secret, algorithm="HS512")


@pytest.fixture(scope="module")
def api(airflow_service) -> dict[str, Any]:  # noqa: ANN001
    """The documents and every operation: (method, documented path, URL path), the auth manager's app included."""
    base = airflow_service.url
    main = requests.get(f"{base}/openapi.json", timeout=60)
    main.raise_for_status()
    auth_doc = requests.get(f"{base}/auth/openapi.json", timeout=60)
    auth_doc.raise_for_status()
    operations = [*_operations(main.json()), *_operations(auth_doc.json(), prefix="/auth"), *_ui_operations()]
    return {"base": base, "main": main.json(), "auth": auth_doc.json(), "operations": operations}


def _call(base: str, method: str, url_path: str, headers: dict[str, str]) -> int:
    body = {} if method in ("POST", "PUT", "PATCH") else None
    response = requests.request(method, f"{base}{url_path}", json=body, headers=headers, timeout=60, allow_redirects=False)
    return response.status_code


def _documented_public() -> dict[tuple[str, str], str]:
    return {**PUBLIC_API, **PUBLIC_AUTH[airflow.auth()]}


def _public() -> dict[tuple[str, str], str]:
    return {**_documented_public(), **OPEN_BY_DESIGN}


def test_the_local_platform_runs_the_clusters_auth_manager(airflow_service) -> None:  # noqa: ANN001
    """The chart's default `config.core.auth_manager` (the stacks do not override it) is what the local api-server
    runs, unless LOCAL_AIRFLOW_AUTH=simple; the admin's password file stays 0600."""
    from cluster.paths import REPO, charts_dir

    charts = charts_dir()
    archives = sorted(charts.glob("airflow-*.tgz")) if charts else []
    if not archives:
        pytest.skip("the pinned Airflow chart (../shared/charts) is not on this machine")
    with tarfile.open(archives[-1]) as archive:
        values = archive.extractfile("airflow/values.yaml").read().decode()  # type: ignore[union-attr]
    import yaml

    chart_auth = yaml.safe_load(io.StringIO(values))["config"]["core"]["auth_manager"]
    overrides = [p for p in ("components/values/airflow.ts", "helm-values/airflow.yaml") if "auth_manager" in (REPO / p).read_text()]
    assert not overrides, f"the stacks override the chart's auth manager in {overrides}: compare with local/services/airflow.py"
    assert chart_auth == airflow.AUTH_MANAGERS["fab"]
    expected = airflow.AUTH_MANAGERS[os.environ.get("LOCAL_AIRFLOW_AUTH") or "fab"]
    assert airflow.environment()["AIRFLOW__CORE__AUTH_MANAGER"] == expected
    auth_paths = set(requests.get(f"{airflow_service.url}/auth/openapi.json", timeout=60).json()["paths"])
    if expected == chart_auth:
        assert "/fab/v1/roles" in auth_paths, "the running api-server does not serve FAB's roles API"
    secret_file = airflow.paths.SECRETS / "airflow_admin_password"
    assert secret_file.stat().st_mode & 0o777 == 0o600 and secret_file.stat().st_uid == os.getuid()


def test_the_public_list_is_exactly_what_airflow_documents_as_public(api: dict[str, Any]) -> None:
    """A route Airflow documents without `security` must be on the list (with a reason), and every listed route must
    still exist: neither side can drift silently."""
    documented = set()
    for prefix, document in (("", api["main"]), ("/auth", api["auth"])):
        for path, item in document["paths"].items():
            for method in METHODS:
                if method in item and not item[method].get("security"):
                    documented.add((method.upper(), prefix + path))
    listed = set(_documented_public())
    assert documented == listed, {"public in Airflow's document, missing here": sorted(documented - listed),
                                  "listed here, not public in Airflow's document": sorted(listed - documented)}
    operations = {(method, path) for method, path, _ in api["operations"]}
    assert set(OPEN_BY_DESIGN) <= operations, "an open-by-design route is gone: drop it from OPEN_BY_DESIGN"


def test_every_route_refuses_unauthenticated_calls(api: dict[str, Any]) -> None:
    """No token, a token signed with another key, an expired token: each call to each non-public route is 401/403."""
    secret = (airflow.paths.SECRETS / "airflow_jwt_secret").read_text().strip()
    variants = {
        "no token": {},
        "forged": {"Authorization": f"Bearer {_jwt('not-the-platform-secret-' + 'x' * 64, expires_in=3600)}"},
        "expired": {"Authorization": f"Bearer {_jwt(secret, expires_in=-120)}"},
        "garbage": {"Authorization": "Bearer not-a-jwt"},
    }
    public = _public()
    checked, let_through = 0, []
    for method, documented, url_path in api["operations"]:
        if (method, documented) in public:
            continue
        for name, headers in variants.items():
            status = _call(api["base"], method, url_path, headers)
            checked += 1
            if status not in REFUSED:
                let_through.append(f"{method} {url_path} ({name}): HTTP {status}")
    assert not let_through, "\n".join(let_through)
    protected = len({(m, d) for m, d, _ in api["operations"]} - set(public))
    assert protected >= 140, f"only {protected} protected operations found: the route enumeration is broken"
    assert checked == protected * len(variants)


def test_public_routes_answer_without_a_token_and_a_real_token_opens_the_rest(api: dict[str, Any]) -> None:
    """The control: the listed routes really are open, and the admin's token is what the 401s were about."""
    for (method, path), reason in _public().items():
        status = _call(api["base"], method, path, {})
        if (method, path) in REFUSED_BY_SETTINGS:
            assert status in REFUSED, f"{method} {path} ({reason}) answered {status}"
        else:
            assert status not in REFUSED, f"{method} {path} is listed as public ({reason}) but answered {status}"
    headers = {"Authorization": f"Bearer {airflow.token()}"}
    assert _call(api["base"], "GET", "/api/v2/dags", headers) == 200
    assert _call(api["base"], "GET", "/api/v2/dags", {}) == 401
    # The expired variant above differs from an accepted token by its expiry alone.
    secret = (airflow.paths.SECRETS / "airflow_jwt_secret").read_text().strip()
    assert _call(api["base"], "GET", "/api/v2/dags", {"Authorization": f"Bearer {_jwt(secret, expires_in=300)}"}) == 200
    if airflow.auth() == "fab":
        roles = requests.get(f"{api['base']}/auth/fab/v1/roles", headers=headers, timeout=60)
        assert roles.status_code == 200 and "Admin" in {r["name"] for r in roles.json()["roles"]}


def test_the_token_endpoint_refuses_a_wrong_password(airflow_service) -> None:  # noqa: ANN001
    response = requests.post(f"{airflow_service.url}/auth/token", timeout=60,
                             json={"username": airflow.ADMIN_USER, "password": "wrong-" + airflow.admin_password()})
    assert response.status_code == 401, response.text
    assert "access_token" not in json.dumps(response.json())


def test_declared_roles_are_collected_per_role(tmp_path) -> None:  # noqa: ANN001
    """The manifests' `roles` become role → the DAGs naming it; a DAG without the key names none."""
    from local import contract

    base = {"services": [], "connections": {}, "variables": {}, "pools": {}, "assets": {"produces": [], "consumes": []},
            "topics": [], "databases": [], "buckets": [], "packages": []}
    manifest = tmp_path / "needs.yaml"
    manifest.write_text(json.dumps({"phase1_02_b": {**base, "roles": ["team_x_operator", "team_x_viewer"]},
                                    "phase1_01_a": {**base, "roles": ["team_x_viewer"]}, "phase1_03_c": base}))
    assert contract.load([manifest]).roles == {"team_x_operator": ["phase1_02_b"], "team_x_viewer": ["phase1_01_a", "phase1_02_b"]}


def test_fab_provisioning_is_idempotent_and_keeps_the_admins_login(airflow_service) -> None:  # noqa: ANN001
    """A second provisioning on the live DB changes nothing: the admin is unchanged, no role is created, the
    password never reaches the output, and the admin still logs in."""
    from local import paths, proc

    if airflow.auth() != "fab":
        pytest.skip("LOCAL_AIRFLOW_AUTH=simple keeps no users in the DB")
    result = proc.run([str(paths.PYTHON), "-m", "local.airflow_provision", "--auth"], env=airflow.environment(),
                      cwd=paths.REPO, timeout=900)
    assert f"FAB admin '{airflow.ADMIN_USER}': unchanged" in result.stdout, result.stdout[-2000:]
    assert "(created)" not in result.stdout
    assert "FAB role team_security_operator: access_control of phase16_02_rbac_patterns" in result.stdout
    assert airflow.admin_password() not in result.stdout + result.stderr
    assert airflow.token()
