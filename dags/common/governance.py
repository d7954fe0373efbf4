"""Security and governance logic (phases 16–17): secrets backends, RBAC role matrices, audit trails, PII masking,
data classification, retention, access reviews, catalog entries and breaking-schema-change detection.

Plain functions over plain data; the DAGs do the I/O (Vault, Airflow REST API, Postgres, Marquez, the catalog).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# ---------------------------------------------------------------- secrets backends

SECRETS_BACKENDS: dict[str, dict[str, Any]] = {
    "vault": {
        "backend": "airflow.providers.hashicorp.secrets.vault.VaultBackend",
        "backend_kwargs": {
            "mount_point": "airflow", "kv_engine_version": 2,
            "connections_path": "connections", "variables_path": "variables", "config_path": None,
            "auth_type": "kubernetes", "kubernetes_role": "airflow",
        },
    },
    "aws": {
        "backend": "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        "backend_kwargs": {"connections_prefix": "airflow/connections", "variables_prefix": "airflow/variables",
                           "config_prefix": None, "region_name": "eu-west-1"},
    },
    "gcp": {
        "backend": "airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend",
        "backend_kwargs": {"connections_prefix": "airflow-connections", "variables_prefix": "airflow-variables",
                           "config_prefix": None, "sep": "-"},
    },
}


def secrets_backend_config(kind: str, **overrides: Any) -> dict[str, Any]:
    """The `[secrets] backend` / `backend_kwargs` pair for one backend kind, with per-environment overrides."""
    if kind not in SECRETS_BACKENDS:
        raise ValueError(f"unknown secrets backend {kind!r}; known: {', '.join(sorted(SECRETS_BACKENDS))}")
    base = SECRETS_BACKENDS[kind]
    unknown = sorted(set(overrides) - set(base["backend_kwargs"]) - {"url", "token", "role_id", "secret_id", "auth_type",
                                                                      "endpoint_url", "project_id"})
    if unknown:
        raise ValueError(f"unknown backend_kwargs for {kind}: {unknown}")
    return {"backend": base["backend"], "backend_kwargs": {**base["backend_kwargs"], **overrides}}


def secrets_env(kind: str, **overrides: Any) -> dict[str, str]:
    """The same configuration as AIRFLOW__SECRETS__* environment variables (how the Helm chart injects it)."""
    import json

    cfg = secrets_backend_config(kind, **overrides)
    if any(k in cfg["backend_kwargs"] for k in ("token", "secret_id")):
        raise ValueError("credentials must not go into backend_kwargs env; use token_path / Kubernetes auth")
    return {"AIRFLOW__SECRETS__BACKEND": cfg["backend"],
            "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(cfg["backend_kwargs"], sort_keys=True)}


def fingerprint(secret: str) -> str:
    """A short, non-reversible identifier of a secret value, safe to log when proving a rotation happened."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


# ---------------------------------------------------------------- RBAC

TEAM_PERMISSIONS = {
    "viewer": {"DAGs": {"can_read"}, "DAG Runs": {"can_read"}},
    "operator": {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create"}},
}


def team_role(team: str, level: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", team):
        raise ValueError(f"team name {team!r} must be lower_snake_case")
    if level not in TEAM_PERMISSIONS:
        raise ValueError(f"role level {level!r} must be one of {sorted(TEAM_PERMISSIONS)}")
    return f"team_{team}_{level}"


def dag_access_control(owning_team: str, readers: Iterable[str] = ()) -> dict[str, dict[str, set[str]]]:
    """DAG-level access_control: the owning team operates the DAG, listed teams (e.g. auditors) may only read it."""
    acl = {team_role(owning_team, "operator"): {k: set(v) for k, v in TEAM_PERMISSIONS["operator"].items()}}
    for team in readers:
        if team == owning_team:
            continue
        acl[team_role(team, "viewer")] = {k: set(v) for k, v in TEAM_PERMISSIONS["viewer"].items()}
    return acl


def isolation_violations(acls: Mapping[str, Mapping[str, Mapping[str, set[str]]]], owners: Mapping[str, str]) -> list[str]:
    """Roles that can edit a DAG of another team (dag_id → acl, dag_id → owning team)."""
    violations = []
    for dag_id, acl in acls.items():
        owner = owners[dag_id]
        for role, perms in acl.items():
            if "can_edit" in perms.get("DAGs", set()) and not role.startswith(f"team_{owner}_"):
                violations.append(f"{role} can edit {dag_id} owned by {owner}")
    return violations


# FAB names a DAG-level permission's resource by prefixing the DAG id: `DAG:<dag_id>`, `DAG Run:<dag_id>`. The global
# resources "DAGs" and "DAG Runs" mean every DAG, so a team role must never hold them.
DAG_RESOURCE_PREFIX = {"DAGs": "DAG:", "DAG Runs": "DAG Run:"}
GLOBAL_DAG_RESOURCES = frozenset(DAG_RESOURCE_PREFIX)
# What every team role holds globally: the UI's home page, its own profile and password, and reading task instances
# and their logs. The API routes of the last two also check the DAG's own permission, so they open nothing outside
# the team's DAGs (FAB: `is_authorized_dag` with an access entity checks both).
ROLE_BASELINE = frozenset({
    ("can_read", "Website"),
    ("can_read", "My Profile"), ("can_edit", "My Profile"),
    ("can_read", "My Password"), ("can_edit", "My Password"),
    ("can_read", "Task Instances"), ("can_read", "Task Logs"),
})


def team_of(tags: Iterable[str]) -> str | None:
    """The owning team of a DAG from its `team:<name>` tag (None when untagged)."""
    return next((t.split(":", 1)[1] for t in tags if t.startswith("team:")), None)


def team_dags(dags: Iterable[Mapping[str, Any]], teams: Iterable[str]) -> dict[str, list[str]]:
    """team → its DAG ids, from DAGs as the REST API lists them ({"dag_id", "tags": [{"name"}]}), for known teams."""
    known = set(teams)
    owned: dict[str, list[str]] = {team: [] for team in sorted(known)}
    for dag in dags:
        team = team_of(tag["name"] if isinstance(tag, Mapping) else str(tag) for tag in dag.get("tags") or [])
        if team in known:
            owned[team].append(dag["dag_id"])
    return {team: sorted(ids) for team, ids in owned.items()}


def team_dag_access_control(owning_team: str, readers: Iterable[str] = ()) -> dict[str, dict[str, set[str]]]:
    """A team DAG's access_control: `dag_access_control`, plus the owning team's own viewer role, which reads it."""
    return {**dag_access_control(owning_team, readers),
            team_role(owning_team, "viewer"): {k: set(v) for k, v in TEAM_PERMISSIONS["viewer"].items()}}


def team_access_controls(owned: Mapping[str, Iterable[str]], readers: Mapping[str, Iterable[str]]) -> dict[str, dict[str, dict[str, set[str]]]]:
    """dag_id → its access_control: the owning team operates and views it, the teams reading that team's DAGs view
    it. For a DAG that declares `access_control` this is exactly what it declares (`team_dag_access_control`)."""
    return {dag_id: team_dag_access_control(team, readers.get(team, ()))
            for team, dag_ids in owned.items() for dag_id in dag_ids}


def role_permissions(acls: Mapping[str, Mapping[str, Mapping[str, Iterable[str]]]], teams: Iterable[str]) -> dict[str, set[tuple[str, str]]]:
    """The full FAB permission set of every team role (each team x level): ROLE_BASELINE plus, per DAG, the pairs
    its access_control grants the role, on the DAG's own resources (`DAG:<id>`, `DAG Run:<id>`)."""
    roles = {team_role(team, level): set(ROLE_BASELINE) for team in sorted(set(teams)) for level in TEAM_PERMISSIONS}
    for dag_id, acl in acls.items():
        for role, grants in acl.items():
            if role not in roles:
                raise ValueError(f"{dag_id}: access_control names {role!r}, not a team role of {sorted(roles)}")
            for resource, actions in grants.items():
                if resource not in DAG_RESOURCE_PREFIX:
                    raise ValueError(f"{dag_id}: access_control resource {resource!r} is not one of {sorted(DAG_RESOURCE_PREFIX)}")
                roles[role] |= {(action, DAG_RESOURCE_PREFIX[resource] + dag_id) for action in actions}
    return roles


def global_dag_grants(roles: Mapping[str, Iterable[tuple[str, str]]]) -> list[str]:
    """Team roles holding a permission on every DAG at once: each one breaks team isolation."""
    return sorted(f"{role} holds {action} on all {resource}" for role, perms in roles.items()
                  for action, resource in perms if resource in GLOBAL_DAG_RESOURCES)


def fab_role_body(name: str, perms: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The body of FAB's roles API (POST/PATCH /auth/fab/v1/roles) for one role."""
    return {"name": name, "actions": [{"action": {"name": action}, "resource": {"name": resource}}
                                      for action, resource in sorted(perms)]}


def role_perms_of(body: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The (action, resource) pairs of a role as FAB's roles API returns it."""
    return {(a["action"]["name"], a["resource"]["name"]) for a in body.get("actions") or []}


ACCESS = ("read", "trigger")


def allowed(perms: Iterable[tuple[str, str]], dag_id: str, access: str) -> bool:
    """Whether a role with `perms` may read a DAG (GET /api/v2/dags/<id>) or trigger it (POST .../dagRuns), as the
    FAB auth manager decides it: reading needs can_read on the DAG; a run needs can_create on its runs and can_edit
    on the DAG itself."""
    held = set(perms)
    if access == "read":
        return ("can_read", "DAGs") in held or ("can_read", f"DAG:{dag_id}") in held
    if access == "trigger":
        runs = ("can_create", "DAG Runs") in held or ("can_create", f"DAG Run:{dag_id}") in held
        return runs and (("can_edit", "DAGs") in held or ("can_edit", f"DAG:{dag_id}") in held)
    raise ValueError(f"access {access!r} must be one of {ACCESS}")


def isolation_probes(roles: Mapping[str, Iterable[tuple[str, str]]], probed: Iterable[str], dag_ids: Iterable[str],
                     own_dag: str) -> list[dict[str, Any]]:
    """The API calls that prove the matrix, each with its expected outcome: every probed role reads every DAG, and
    triggers every DAG it must not trigger (a 403 creates nothing) plus `own_dag` (the one run a probe may create)."""
    probes = []
    for role in probed:
        perms = set(roles[role])
        for dag_id in sorted(set(dag_ids)):
            probes.append({"role": role, "dag_id": dag_id, "access": "read", "allowed": allowed(perms, dag_id, "read")})
            may_trigger = allowed(perms, dag_id, "trigger")
            if not may_trigger or dag_id == own_dag:
                probes.append({"role": role, "dag_id": dag_id, "access": "trigger", "allowed": may_trigger})
    return probes


def pending_probes(probes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The probes not yet answered as the matrix says (a permitted trigger that succeeded is not repeated)."""
    return [p for p in probes if p.get("status") != (200 if p["allowed"] else 403)]


def probe_mismatches(probes: Iterable[Mapping[str, Any]]) -> list[str]:
    """Probes whose observed HTTP status contradicts the matrix: allowed must be 200, refused must be 403."""
    wrong = []
    for probe in probes:
        expected = 200 if probe["allowed"] else 403
        if probe.get("status") != expected:
            wrong.append(f"{probe['role']} {probe['access']} {probe['dag_id']}: HTTP {probe.get('status')}, expected {expected}")
    return wrong


def visible_dags_mismatch(perms: Iterable[tuple[str, str]], listed: Iterable[str], all_dags: Iterable[str]) -> dict[str, list[str]]:
    """GET /api/v2/dags as a role must list exactly the DAGs it may read: what it sees beyond, what it misses."""
    held = set(perms)
    readable = {dag_id for dag_id in all_dags if allowed(held, dag_id, "read")}
    seen = set(listed)
    return {"unexpected": sorted(seen - readable), "missing": sorted(readable - seen)}


# ---------------------------------------------------------------- PII masking and audit

PII_PATTERNS = {
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
    "ipv4": re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
    "card": re.compile(r"\b(?:\d[ -]?){13,16}\b"),
    "phone": re.compile(r"\+\d{7,15}\b"),
}
PII_FIELDS = {"owner", "user", "username", "email", "ip", "ip_address", "phone", "name"}


def pseudonym(value: str, salt: str) -> str:
    """Stable pseudonym: the same user maps to the same token in every report, without revealing who it is."""
    return "u_" + hashlib.sha256((salt + value).encode()).hexdigest()[:10]


def _identity_pattern(identities: Iterable[str]) -> re.Pattern[str] | None:
    """Known identities as whole tokens: `root` in `/tmp/pytest-of-root/` matches, `root` in `rootfs` does not."""
    names = sorted({i for i in identities if i}, key=len, reverse=True)
    if not names:
        return None
    return re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(map(re.escape, names)) + r")(?![A-Za-z0-9_])")


def mask_text(text: str, identities: re.Pattern[str] | None = None, salt: str = "") -> str:
    for kind, pattern in PII_PATTERNS.items():
        text = pattern.sub(f"<{kind}>", text)
    if identities is not None:  # a user named in free text (a path, a command line) gets the same pseudonym
        text = identities.sub(lambda match: pseudonym(match.group(0), salt), text)
    return text


def mask_record(record: Mapping[str, Any], salt: str, identities: re.Pattern[str] | None = None) -> dict[str, Any]:
    """Pseudonymise identity fields, redact PII patterns and known identities in free text; structure is preserved."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if value is None:
            out[key] = None
        elif key in PII_FIELDS:
            out[key] = pseudonym(str(value), salt)
        elif isinstance(value, str):
            out[key] = mask_text(value, identities, salt)
        elif isinstance(value, Mapping):
            out[key] = mask_record(value, salt, identities)
        else:
            out[key] = value
    return out


def audit_window_start(interval_start: datetime, interval_end: datetime, fallback: timedelta = timedelta(days=1)) -> datetime:
    """The scheduled run audits its data interval; a manual run (empty interval) audits the last day."""
    return interval_start if interval_end > interval_start else interval_end - fallback


SENSITIVE_EVENTS = ("variable", "connection", "trigger", "delete", "clear", "login", "pause", "patch")


def compliance_report(events: Sequence[Mapping[str, Any]], salt: str, since: datetime | None = None) -> dict[str, Any]:
    """Summarise Airflow eventLogs (REST API v2 shape) into an access-tracking report with PII masked."""
    identities = _identity_pattern(str(e[key]) for e in events for key in PII_FIELDS if e.get(key))
    masked = [mask_record(e, salt, identities) for e in events]
    by_event = Counter(str(e.get("event")) for e in masked)
    by_user = Counter(str(e.get("owner")) for e in masked)
    sensitive = [e for e in masked if any(s in str(e.get("event", "")).lower() for s in SENSITIVE_EVENTS)]
    return {
        "since": since.isoformat() if since else None,
        "total_events": len(masked),
        "events_by_type": dict(sorted(by_event.items())),
        "actors": dict(sorted(by_user.items())),
        "sensitive_actions": [{k: e.get(k) for k in ("when", "event", "owner", "dag_id", "task_id", "extra")}
                              for e in sensitive],
        "controls": {"pii_masked": True, "actor_pseudonymised": True},
    }


def assert_no_pii(document: Any, raw_values: Iterable[str]) -> None:
    """Fails if any of the original identifying values survived masking anywhere in the document."""
    text = repr(document)
    leaked = sorted(v for v in raw_values if v and (pattern := _identity_pattern([v])) and pattern.search(text))
    if leaked:
        raise AssertionError(f"PII leaked into the report: {leaked}")


# ---------------------------------------------------------------- classification, retention, access review

CLASSIFICATIONS = ("Public", "Confidential", "PII")
_PII_COLUMN = re.compile(r"(email|phone|ssn|birth|first_name|last_name|full_name|address|ip_addr)", re.I)
_CONFIDENTIAL_COLUMN = re.compile(r"(salary|revenue|margin|price|cost|contract|iban|account)", re.I)


def classify_column(name: str) -> str:
    if _PII_COLUMN.search(name):
        return "PII"
    if _CONFIDENTIAL_COLUMN.search(name):
        return "Confidential"
    return "Public"


def classify_table(columns: Iterable[str]) -> dict[str, Any]:
    """Column tags plus the table's overall level: the most sensitive column wins."""
    tags = {c: classify_column(c) for c in columns}
    level = max(tags.values(), key=CLASSIFICATIONS.index) if tags else "Public"
    return {"columns": tags, "classification": level}


RETENTION_DAYS = {"PII": 30, "Confidential": 365, "Public": None}


def retention_cutoff(classification: str, now: datetime) -> datetime | None:
    if classification not in RETENTION_DAYS:
        raise ValueError(f"classification {classification!r} not one of {CLASSIFICATIONS}")
    days = RETENTION_DAYS[classification]
    return None if days is None else now - timedelta(days=days)


def retention_delete_sql(schema: str, table: str, ts_column: str) -> str:
    """Parameterised DELETE for rows older than the cutoff; identifiers are validated, never interpolated raw."""
    for ident in (schema, table, ts_column):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", ident):
            raise ValueError(f"unsafe SQL identifier {ident!r}")
    return f'DELETE FROM "{schema}"."{table}" WHERE "{ts_column}" < %(cutoff)s'


@dataclass(frozen=True)
class Grant:
    principal: str
    dataset: str
    granted_at: datetime
    last_used: datetime | None
    approved_by: str | None


def review_access(grants: Iterable[Grant], classification_of: Mapping[str, str], now: datetime,
                  stale_after: timedelta = timedelta(days=90)) -> list[dict[str, Any]]:
    """Access review: revoke stale grants and unapproved grants on PII; keep the rest. Every decision has a reason."""
    decisions = []
    for g in grants:
        level = classification_of.get(g.dataset, "Public")
        last = g.last_used or g.granted_at
        if level == "PII" and not g.approved_by:
            action, reason = "revoke", "PII access without an approver"
        elif now - last > stale_after:
            action, reason = "revoke", f"unused for {(now - last).days} days"
        else:
            action, reason = "keep", "in use and approved" if g.approved_by else "in use"
        decisions.append({"principal": g.principal, "dataset": g.dataset, "classification": level,
                          "action": action, "reason": reason})
    return decisions


def breaking_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Column → type maps. Removing a column or changing its type breaks consumers; adding one does not."""
    changes = []
    for col, typ in old.items():
        if col not in new:
            changes.append(f"column {col} removed")
        elif new[col] != typ:
            changes.append(f"column {col} type changed {typ} -> {new[col]}")
    return changes


# ---------------------------------------------------------------- data catalog

def catalog_entry(urn: str, *, description: str, owner: str, columns: Mapping[str, str],
                  tags: Iterable[str], upstream: Iterable[str] = (), platform: str = "postgres") -> dict[str, Any]:
    """A dataset entry in a DataHub-like shape (urn, schema, ownership, global tags, upstream lineage)."""
    if not urn.startswith("urn:li:dataset:"):
        raise ValueError(f"dataset urn must start with urn:li:dataset:, got {urn!r}")
    classification = classify_table(columns)
    all_tags = sorted(set(tags) | {classification["classification"]})
    return {
        "urn": urn, "platform": platform, "description": description, "owner": owner,
        "schema": [{"name": c, "type": t, "tags": [classification["columns"][c]]}
                   for c, t in columns.items()],
        "tags": all_tags, "upstream": sorted(upstream),
    }


def dag_catalog_entry(dag_id: str, owner: str, tags: Iterable[str], produces: Iterable[str],
                      consumes: Iterable[str]) -> dict[str, Any]:
    """An Airflow DAG as a catalog 'dataJob', so data users can find which pipeline writes a dataset."""
    return {"urn": f"urn:li:dataJob:(urn:li:dataFlow:(airflow,{dag_id},prod),{dag_id})", "owner": owner,
            "tags": sorted(tags), "outputs": sorted(produces), "inputs": sorted(consumes)}


def discover(entries: Iterable[Mapping[str, Any]], required_tags: Iterable[str]) -> list[str]:
    """Tag-based discovery: urns of entries carrying every required tag."""
    need = set(required_tags)
    return sorted(e["urn"] for e in entries if need <= set(e.get("tags", [])))
