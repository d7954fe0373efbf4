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
