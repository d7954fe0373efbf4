"""The local harness's rendering of config/vault-layout.json, the one definition of the platform's Vault layout.

`render()` is the Python twin of `vaultLayout()` in components/values/vault.ts: same inputs, same output shape (Vault's
API vocabulary), so tests/local/test_vault_layout.py can compare the two renderings, and `read_live()` reads the same
shape back from a running server to prove what the harness applied is what the file says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local import paths

LAYOUT_FILE = paths.REPO / "config" / "vault-layout.json"


@dataclass(frozen=True)
class Team:
    name: str
    namespace: str
    service_accounts: list[str]


@dataclass(frozen=True)
class LayoutInput:
    """What one Vault component is rendered for (VaultLayoutInput in TypeScript)."""

    mount: str
    prefix: str
    airflow_namespace: str
    airflow_service_accounts: list[str]
    teams: list[Team] = field(default_factory=list)


def load() -> dict[str, Any]:
    return json.loads(LAYOUT_FILE.read_text())


def _fill(template: str, variables: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) not in variables:
            raise ValueError(f"config/vault-layout.json: unknown placeholder {match.group(0)} in {template!r}")
        return variables[match.group(1)]

    return re.sub(r"\{(\w+)\}", one, template)


def policy_hcl(policy: dict[str, Any], variables: dict[str, str]) -> str:
    """One policy's HCL, byte for byte what policyHcl() writes: a description comment, then one block per rule."""
    def block(rule: dict[str, Any]) -> str:
        capabilities = ", ".join(f'"{c}"' for c in rule["capabilities"])
        return f'path "{_fill(rule["path"], variables)}" {{\n  capabilities = [{capabilities}]\n}}\n'

    blocks = [block(rule) for rule in policy["rules"]]
    return "\n".join([f"# {policy['description']}\n", *blocks])


def render(spec: LayoutInput, layout: dict[str, Any] | None = None) -> dict[str, Any]:
    layout = layout or load()
    ttls = {"token_ttl": layout["tokenTtlSeconds"], "token_max_ttl": layout["tokenMaxTtlSeconds"]}
    name = lambda policy: f"{spec.prefix}-{policy}"  # noqa: E731
    team_policy = lambda team: f"{spec.prefix}-team-{team}"  # noqa: E731

    policies = {name(p): policy_hcl(body, {"mount": spec.mount}) for p, body in layout["policies"].items()}
    for team in spec.teams:
        policies[team_policy(team.name)] = policy_hcl(layout["teamPolicy"], {"mount": spec.mount, "team": team.name})

    def roles(method: str, bound: Callable[[str | None], dict[str, Any]]) -> dict[str, Any]:
        auth = layout["auth"][method]
        out = {role: {**bound(None), "token_policies": [name(p) for p in body["policies"]], **ttls}
               for role, body in auth["roles"].items()}
        if auth["teamRoles"]:
            for team in spec.teams:
                out[f"team-{team.name}"] = {**bound(team.name), "token_policies": [team_policy(team.name)], **ttls}
        return out

    by_team = {team.name: team for team in spec.teams}

    def kubernetes_binding(team: str | None) -> dict[str, Any]:
        if team is None:
            return {"bound_service_account_names": list(spec.airflow_service_accounts),
                    "bound_service_account_namespaces": [spec.airflow_namespace]}
        return {"bound_service_account_names": list(by_team[team].service_accounts),
                "bound_service_account_namespaces": [by_team[team].namespace]}

    return {
        "mount": {"path": spec.mount, "type": "kv", "options": {"version": "2"}},
        "policies": policies,
        "auth": {
            "approle": {"path": f"{spec.prefix}-approle", "roles": roles("approle", lambda _: {})},
            "kubernetes": {"path": f"{spec.prefix}-kubernetes", "roles": roles("kubernetes", kubernetes_binding)},
        },
    }


def input_of(rendered: dict[str, Any]) -> LayoutInput:
    """The inputs a rendered layout was made for (to re-render the cluster's layout with the Python renderer)."""
    kubernetes = rendered["auth"]["kubernetes"]["roles"]
    prefix = rendered["auth"]["approle"]["path"].removesuffix("-approle")
    teams = [Team(role.removeprefix("team-"), body["bound_service_account_namespaces"][0], body["bound_service_account_names"])
             for role, body in kubernetes.items() if role.startswith("team-")]
    return LayoutInput(mount=rendered["mount"]["path"], prefix=prefix,
                       airflow_namespace=kubernetes["airflow"]["bound_service_account_namespaces"][0],
                       airflow_service_accounts=kubernetes["airflow"]["bound_service_account_names"], teams=teams)


# --- applying to and reading from a real server -------------------------------------------------------------------
Request = Callable[..., Any]  # request(method, path, body=None) -> parsed JSON or None


def apply(rendered: dict[str, Any], request: Request, *, kubernetes_config: dict[str, Any] | None = None) -> None:
    """Makes the server hold the rendered layout (idempotent). Kubernetes roles are written only when an API server
    is given to validate tokens against (kubernetes_config: kubernetes_host, kubernetes_ca_cert, token_reviewer_jwt)."""
    mounts = request("GET", "/v1/sys/mounts") or {}
    mount = rendered["mount"]
    if f"{mount['path']}/" not in (mounts.get("data") or mounts):
        request("POST", f"/v1/sys/mounts/{mount['path']}", {"type": mount["type"], "options": mount["options"]})
    for policy, hcl in rendered["policies"].items():
        request("PUT", f"/v1/sys/policies/acl/{policy}", {"policy": hcl})
    enabled = (request("GET", "/v1/sys/auth") or {}).get("data") or {}
    methods = [("approle", rendered["auth"]["approle"])]
    if kubernetes_config is not None:
        methods.append(("kubernetes", rendered["auth"]["kubernetes"]))
    for method, auth in methods:
        if f"{auth['path']}/" not in enabled:
            request("POST", f"/v1/sys/auth/{auth['path']}", {"type": method})
        if method == "kubernetes":
            request("POST", f"/v1/auth/{auth['path']}/config", kubernetes_config)
        for role, body in auth["roles"].items():
            request("POST", f"/v1/auth/{auth['path']}/role/{role}", body)


def read_live(request: Request, *, prefix: str, mount: str, with_kubernetes: bool) -> dict[str, Any]:
    """The layout as the server holds it, in render()'s shape: only this component's policies and auth paths."""
    mounts = (request("GET", "/v1/sys/mounts") or {}).get("data") or {}
    live_mount = mounts.get(f"{mount}/") or {}
    names = (request("LIST", "/v1/sys/policies/acl") or {})["data"]["keys"]
    policies = {n: request("GET", f"/v1/sys/policies/acl/{n}")["data"]["policy"] for n in names if n.startswith(f"{prefix}-")}

    def roles(path: str, keys: tuple[str, ...]) -> dict[str, Any]:
        listed = request("LIST", f"/v1/auth/{path}/role") or {"data": {"keys": []}}
        return {role: {k: request("GET", f"/v1/auth/{path}/role/{role}")["data"][k] for k in keys}
                for role in listed["data"]["keys"]}

    ttl_keys = ("token_policies", "token_ttl", "token_max_ttl")
    auth: dict[str, Any] = {"approle": {"path": f"{prefix}-approle", "roles": roles(f"{prefix}-approle", ttl_keys)}}
    if with_kubernetes:
        auth["kubernetes"] = {"path": f"{prefix}-kubernetes", "roles": roles(
            f"{prefix}-kubernetes", ("bound_service_account_names", "bound_service_account_namespaces", *ttl_keys))}
    return {"mount": {"path": mount, "type": live_mount.get("type"), "options": live_mount.get("options")},
            "policies": policies, "auth": auth}
