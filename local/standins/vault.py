"""Stand-in for HashiCorp Vault (no Vault/OpenBao build is installable here: their Go modules use replace directives).

Speaks the HTTP API subset that Airflow's VaultBackend (hvac) and the platform use, with Vault's paths, verbs and JSON:
- KV v2: GET/POST/PUT /v1/<mount>/data/<path>, DELETE (soft-delete latest), GET|LIST /v1/<mount>/metadata/<path>,
  DELETE /v1/<mount>/metadata/<path>; mounts from POST /v1/sys/mounts/<mount> (type kv, options.version 2)
- token auth: X-Vault-Token; GET /v1/auth/token/lookup-self; POST /v1/auth/token/create
- AppRole: POST /v1/auth/approle/role/<role>, GET .../role-id, POST .../secret-id, POST /v1/auth/approle/login
- Kubernetes auth: POST /v1/auth/kubernetes/role/<role> (bound_service_account_names/namespaces),
  POST /v1/auth/kubernetes/login {role, jwt}: the JWT's service-account claims are checked against the role; its
  signature is NOT verified (there is no cluster TokenReview API here) - the one deliberate gap.
- GET /v1/sys/health
Policies are not enforced: any valid token may read and write. State is kept Fernet-encrypted on disk (like Vault's
barrier) with the key in .local/secrets/, so secrets never sit in plaintext.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.standins.httpbase import HttpError, Request, Response, Router, serve

router = Router()
_lock = threading.Lock()
_state: dict[str, Any] = {"mounts": {"secret": {"type": "kv", "version": 2}}, "kv": {}, "tokens": {},
                          "approles": {}, "k8s_roles": {}}
_settings: dict[str, Any] = {"file": None, "fernet": None, "root_token": ""}
TOKEN_TTL = 3600


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _save() -> None:
    path: Path | None = _settings["file"]
    if path is None:
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(_settings["fernet"].encrypt(json.dumps(_state).encode()))
    tmp.chmod(0o600)
    tmp.replace(path)


def _load() -> None:
    path: Path | None = _settings["file"]
    if path is not None and path.exists():
        _state.update(json.loads(_settings["fernet"].decrypt(path.read_bytes())))


def _errors(status: int, *messages: str) -> HttpError:
    return HttpError(status, messages[0] if messages else "", {"errors": list(messages)})  # Vault's 404 has no message


def _auth(request: Request) -> dict[str, Any]:
    token = request.headers.get("x-vault-token") or request.headers.get("authorization", "").removeprefix("Bearer ")
    if token == _settings["root_token"]:
        return {"id": token, "policies": ["root"], "display_name": "root", "meta": None, "ttl": 0}
    info = _state["tokens"].get(token)
    if info is None or (info["expires"] and info["expires"] < time.time()):
        raise _errors(403, "permission denied")
    return info


def _issue(policies: list[str], meta: dict[str, str], display: str) -> dict[str, Any]:
    token = "hvs." + secrets.token_urlsafe(24)
    info = {"id": token, "policies": policies, "meta": meta, "display_name": display, "ttl": TOKEN_TTL,
            "expires": time.time() + TOKEN_TTL, "accessor": uuid.uuid4().hex}
    _state["tokens"][token] = info
    _save()
    return {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False, "lease_duration": 0, "data": None,
            "auth": {"client_token": token, "accessor": info["accessor"], "policies": policies,
                     "token_policies": policies, "metadata": meta, "lease_duration": TOKEN_TTL, "renewable": True,
                     "entity_id": "", "token_type": "service", "orphan": True}}


def _envelope(data: Any) -> dict[str, Any]:
    return {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": data, "wrap_info": None, "warnings": None, "auth": None}


# --- sys ---------------------------------------------------------------------------------
@router.route("GET", "/v1/sys/health")
def health(_: Request) -> dict:
    return {"initialized": True, "sealed": False, "standby": False, "version": "1.17.0+local-stand-in",
            "cluster_name": "local-platform", "server_time_utc": int(time.time())}


@router.route("POST", "/v1/sys/mounts/{mount:.+}")
def mount(request: Request) -> Response:
    _auth(request)
    body = request.json() or {}
    if body.get("type") not in ("kv", "kv-v2"):
        raise _errors(400, f"stand-in supports only kv secrets engines, not {body.get('type')!r}")
    version = int((body.get("options") or {}).get("version", 2 if body.get("type") == "kv-v2" else 1))
    if version != 2:
        raise _errors(400, "stand-in supports KV version 2 only")
    with _lock:
        if request.params["mount"] in _state["mounts"]:
            raise _errors(400, f"path is already in use at {request.params['mount']}/")
        _state["mounts"][request.params["mount"]] = {"type": "kv", "version": 2}
        _save()
    return Response(204)


@router.route("GET", "/v1/sys/mounts")
def mounts(request: Request) -> dict:
    _auth(request)
    data = {f"{name}/": {"type": "kv", "options": {"version": "2"}} for name in _state["mounts"]}
    return {**data, "data": data}


# --- token auth --------------------------------------------------------------------------
@router.route("GET", "/v1/auth/token/lookup-self")
def lookup_self(request: Request) -> dict:
    info = _auth(request)
    return _envelope({"id": info["id"], "policies": info["policies"], "display_name": info["display_name"],
                      "meta": info.get("meta"), "ttl": int(info["expires"] - time.time()) if info.get("expires") else 0})


@router.route("POST", "/v1/auth/token/create")
def token_create(request: Request) -> dict:
    _auth(request)
    body = request.json() or {}
    with _lock:
        return _issue(body.get("policies") or ["default"], body.get("meta") or {}, "token")


# --- AppRole -----------------------------------------------------------------------------
@router.route("POST", "/v1/auth/approle/role/{role}")
def approle_role(request: Request) -> Response:
    _auth(request)
    body = request.json() or {}
    with _lock:
        _state["approles"][request.params["role"]] = {
            "role_id": str(uuid.uuid4()), "secret_ids": [], "policies": body.get("token_policies") or body.get("policies") or ["default"]}
        _save()
    return Response(204)


@router.route("GET", "/v1/auth/approle/role/{role}/role-id")
def approle_role_id(request: Request) -> dict:
    _auth(request)
    role = _state["approles"].get(request.params["role"])
    if role is None:
        raise _errors(404)
    return _envelope({"role_id": role["role_id"]})


@router.route("POST", "/v1/auth/approle/role/{role}/secret-id")
def approle_secret_id(request: Request) -> dict:
    _auth(request)
    with _lock:
        role = _state["approles"].get(request.params["role"])
        if role is None:
            raise _errors(404)
        secret_id = str(uuid.uuid4())
        role["secret_ids"].append(secret_id)
        _save()
    return _envelope({"secret_id": secret_id, "secret_id_accessor": uuid.uuid4().hex, "secret_id_ttl": 0})


@router.route("POST", "/v1/auth/approle/login")
def approle_login(request: Request) -> dict:
    body = request.json() or {}
    with _lock:
        for name, role in _state["approles"].items():
            if role["role_id"] == body.get("role_id") and body.get("secret_id") in role["secret_ids"]:
                return _issue(role["policies"], {"role_name": name}, f"approle-{name}")
    raise _errors(400, "invalid role or secret ID")


# --- Kubernetes auth ---------------------------------------------------------------------
@router.route("POST", "/v1/auth/kubernetes/role/{role}")
def k8s_role(request: Request) -> Response:
    _auth(request)
    body = request.json() or {}
    as_list = lambda v: v if isinstance(v, list) else [s.strip() for s in str(v or "").split(",") if s.strip()]  # noqa: E731
    with _lock:
        _state["k8s_roles"][request.params["role"]] = {
            "names": as_list(body.get("bound_service_account_names")),
            "namespaces": as_list(body.get("bound_service_account_namespaces")),
            "policies": body.get("token_policies") or body.get("policies") or ["default"]}
        _save()
    return Response(204)


def _jwt_claims(jwt: str) -> dict[str, Any]:
    try:
        payload = jwt.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as error:
        raise _errors(400, f"could not parse JWT: {error}") from None


@router.route("POST", "/v1/auth/kubernetes/login")
def k8s_login(request: Request) -> dict:
    body = request.json() or {}
    role = _state["k8s_roles"].get(body.get("role", ""))
    if role is None:
        raise _errors(400, f'invalid role name "{body.get("role")}"')
    claims = _jwt_claims(body.get("jwt", ""))
    sa_name = claims.get("kubernetes.io/serviceaccount/service-account.name") or \
        (claims.get("kubernetes.io") or {}).get("serviceaccount", {}).get("name")
    sa_ns = claims.get("kubernetes.io/serviceaccount/namespace") or (claims.get("kubernetes.io") or {}).get("namespace")
    if not ("*" in role["names"] or sa_name in role["names"]) or not ("*" in role["namespaces"] or sa_ns in role["namespaces"]):
        raise _errors(403, "service account name not authorized" if sa_name not in role["names"] else "namespace not authorized")
    with _lock:
        return _issue(role["policies"], {"role": body["role"], "service_account_name": str(sa_name),
                                         "service_account_namespace": str(sa_ns)}, f"kubernetes-{sa_ns}-{sa_name}")


# --- KV v2 -------------------------------------------------------------------------------
def _kv(mount_name: str) -> dict[str, Any]:
    if mount_name not in _state["mounts"]:
        raise _errors(404, f"no handler for route '{mount_name}/'. route entry not found.")
    return _state["kv"].setdefault(mount_name, {})


def _metadata(entry: dict[str, Any]) -> dict[str, Any]:
    return {"created_time": entry["versions"]["1"]["created_time"], "current_version": entry["current"],
            "max_versions": 0, "oldest_version": 0, "updated_time": entry["versions"][str(entry["current"])]["created_time"],
            "cas_required": False, "delete_version_after": "0s", "custom_metadata": None,
            "versions": {v: {k: meta[k] for k in ("created_time", "deletion_time", "destroyed")}
                         for v, meta in entry["versions"].items()}}


@router.route("GET", "/v1/{mount}/data/{path:.+}")
def kv_read(request: Request) -> dict:
    _auth(request)
    entry = _kv(request.params["mount"]).get(request.params["path"])
    if entry is None:
        raise _errors(404)
    version = request.query.get("version") or str(entry["current"])
    stored = entry["versions"].get(version)
    if stored is None:
        raise _errors(404)
    meta = {k: stored[k] for k in ("created_time", "deletion_time", "destroyed")} | {"version": int(version), "custom_metadata": None}
    if stored["deletion_time"] or stored["destroyed"]:
        return Response(404, {"data": {"data": None, "metadata": meta}})  # type: ignore[return-value]
    return _envelope({"data": stored["data"], "metadata": meta})


def _kv_write(request: Request) -> dict:
    _auth(request)
    body = request.json() or {}
    if not isinstance(body.get("data"), dict):
        raise _errors(400, "no data provided")
    with _lock:
        store = _kv(request.params["mount"])
        entry = store.setdefault(request.params["path"], {"current": 0, "versions": {}})
        cas = (body.get("options") or {}).get("cas")
        if cas is not None and int(cas) != entry["current"]:
            raise _errors(400, "check-and-set parameter did not match the current version")
        entry["current"] += 1
        stored = {"data": body["data"], "created_time": _now(), "deletion_time": "", "destroyed": False}
        entry["versions"][str(entry["current"])] = stored
        _save()
        return _envelope({"created_time": stored["created_time"], "deletion_time": "", "destroyed": False,
                          "version": entry["current"], "custom_metadata": None})


router.route("POST", "/v1/{mount}/data/{path:.+}")(_kv_write)
router.route("PUT", "/v1/{mount}/data/{path:.+}")(_kv_write)


@router.route("DELETE", "/v1/{mount}/data/{path:.+}")
def kv_delete(request: Request) -> Response:
    _auth(request)
    with _lock:
        entry = _kv(request.params["mount"]).get(request.params["path"])
        if entry:
            entry["versions"][str(entry["current"])]["deletion_time"] = _now()
            _save()
    return Response(204)


def _kv_metadata(request: Request) -> dict:
    _auth(request)
    store = _kv(request.params["mount"])
    path = request.params.get("path") or ""
    if request.method == "LIST" or request.query.get("list") == "true":
        prefix = path.rstrip("/") + "/" if path else ""
        keys = sorted({k[len(prefix):].split("/")[0] + ("/" if "/" in k[len(prefix):] else "")
                       for k in store if k.startswith(prefix)})
        if not keys:
            raise _errors(404)
        return _envelope({"keys": keys})
    entry = store.get(path)
    if entry is None:
        raise _errors(404)
    return _envelope(_metadata(entry))


for verb in ("GET", "LIST"):
    router.route(verb, "/v1/{mount}/metadata/{path:.*}")(_kv_metadata)
    router.route(verb, "/v1/{mount}/metadata")(_kv_metadata)


@router.route("DELETE", "/v1/{mount}/metadata/{path:.+}")
def kv_destroy(request: Request) -> Response:
    _auth(request)
    with _lock:
        _kv(request.params["mount"]).pop(request.params["path"], None)
        _save()
    return Response(204)


def main() -> None:
    from cryptography.fernet import Fernet

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--root-token-file", type=Path, required=True)
    parser.add_argument("--unseal-key-file", type=Path, required=True)
    args = parser.parse_args()
    _settings.update(file=args.state_file, fernet=Fernet(args.unseal_key_file.read_text().strip().encode()),
                     root_token=args.root_token_file.read_text().strip())
    _load()
    serve(router, args.host, args.port, "vault-stand-in")


if __name__ == "__main__":
    main()
