"""common.governance: secrets backend configs, RBAC matrices, PII masking, audit report, classification,
retention, access reviews, breaking changes and catalog entries."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from common import governance as g


def test_each_secrets_backend_has_its_provider_class_and_kwargs() -> None:
    vault = g.secrets_backend_config("vault", url="http://vault:8200")
    assert vault["backend"] == "airflow.providers.hashicorp.secrets.vault.VaultBackend"
    assert vault["backend_kwargs"]["mount_point"] == "airflow" and vault["backend_kwargs"]["url"] == "http://vault:8200"
    assert g.secrets_backend_config("aws")["backend"].endswith("SecretsManagerBackend")
    assert g.secrets_backend_config("gcp")["backend"].endswith("CloudSecretManagerBackend")
    with pytest.raises(ValueError, match="unknown secrets backend 'azure'"):
        g.secrets_backend_config("azure")
    with pytest.raises(ValueError, match=r"unknown backend_kwargs for vault: \['mountpoint'\]"):
        g.secrets_backend_config("vault", mountpoint="x")


def test_secrets_env_never_carries_credentials() -> None:
    env = g.secrets_env("aws")
    assert json.loads(env["AIRFLOW__SECRETS__BACKEND_KWARGS"])["connections_prefix"] == "airflow/connections"
    with pytest.raises(ValueError, match="credentials must not go into backend_kwargs"):
        g.secrets_env("vault", token="hvs.secret")


def test_backend_classes_accept_the_configured_kwargs() -> None:
    from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend
    from airflow.providers.hashicorp.secrets.vault import VaultBackend

    vault = VaultBackend(**g.secrets_backend_config("vault", url="http://vault.invalid:8200")["backend_kwargs"])
    assert vault.mount_point == "airflow" and list(vault.connections_path) == ["connections"]
    aws = SecretsManagerBackend(**g.secrets_backend_config("aws")["backend_kwargs"])
    assert aws.connections_prefix == "airflow/connections"


def test_fingerprint_is_stable_and_does_not_reveal_the_secret() -> None:
    assert g.fingerprint("s3cret") == g.fingerprint("s3cret") != g.fingerprint("s3cret2")
    assert "s3cret" not in g.fingerprint("s3cret") and len(g.fingerprint("x")) == 12


def test_dag_access_control_gives_owners_edit_and_readers_read() -> None:
    acl = g.dag_access_control("sales", readers=["auditors", "sales"])
    assert acl == {"team_sales_operator": {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create"}},
                   "team_auditors_viewer": {"DAGs": {"can_read"}, "DAG Runs": {"can_read"}}}
    with pytest.raises(ValueError, match="lower_snake_case"):
        g.team_role("Sales Team", "viewer")


def test_isolation_violations_find_cross_team_editors() -> None:
    acls = {"sales_dag": g.dag_access_control("sales"), "ml_dag": {"team_sales_operator": {"DAGs": {"can_edit"}}}}
    assert g.isolation_violations(acls, {"sales_dag": "sales", "ml_dag": "ml"}) == ["team_sales_operator can edit ml_dag owned by ml"]


def test_masking_pseudonymises_identities_and_redacts_free_text() -> None:
    rec = {"owner": "alice", "event": "trigger", "extra": "by alice@corp.com from 10.1.2.3 card 4111 1111 1111 1111",
           "nested": {"email": "bob@corp.com"}, "try_number": 2, "dag_id": None}
    masked = g.mask_record(rec, salt="s")
    assert masked["owner"] == g.pseudonym("alice", "s") != g.pseudonym("alice", "t")
    assert masked["extra"] == "by <email> from <ipv4> card <card>"
    assert masked["nested"]["email"].startswith("u_") and masked["try_number"] == 2 and masked["dag_id"] is None


def test_compliance_report_counts_tracks_sensitive_actions_and_leaks_nothing() -> None:
    events = [
        {"when": "t1", "event": "trigger_dag_run", "owner": "alice", "dag_id": "d", "extra": "alice@corp.com"},
        {"when": "t2", "event": "variable.edit", "owner": "bob", "dag_id": None, "extra": None},
        {"when": "t3", "event": "grid", "owner": "alice", "dag_id": "d", "extra": None},
    ]
    report = g.compliance_report(events, salt="s")
    assert report["total_events"] == 3
    assert report["events_by_type"] == {"grid": 1, "trigger_dag_run": 1, "variable.edit": 1}
    assert sorted(report["actors"].values()) == [1, 2]
    assert [e["event"] for e in report["sensitive_actions"]] == ["trigger_dag_run", "variable.edit"]
    g.assert_no_pii(report, {"alice", "bob", "alice@corp.com"})
    with pytest.raises(AssertionError, match=r"PII leaked into the report: \['alice'\]"):
        g.assert_no_pii({"owner": "alice"}, {"alice"})


def test_an_actor_named_in_free_text_is_pseudonymised_there_too() -> None:
    # Airflow's eventLog `extra` holds request bodies and paths, e.g. a run conf pointing into the user's temp dir.
    events = [
        {"when": "t1", "event": "trigger_dag_run", "owner": "root", "extra": '{"conf": {"dir": "/tmp/pytest-of-root/q"}}'},
        {"when": "t2", "event": "grid", "owner": "admin", "extra": "mounted rootfs read-only"},
    ]
    report = g.compliance_report(events, salt="s")
    extras = [e["extra"] for e in report["sensitive_actions"]]
    assert extras == ['{"conf": {"dir": "/tmp/pytest-of-' + g.pseudonym("root", "s") + '/q"}}']
    g.assert_no_pii(report, {"root", "admin"})
    # A name inside another word is not that user: no false alarm on "rootfs".
    g.assert_no_pii({"note": "mounted rootfs read-only"}, {"root"})
    with pytest.raises(AssertionError, match=r"\['root'\]"):
        g.assert_no_pii({"note": "/home/root/x"}, {"root"})


def test_classification_picks_the_most_sensitive_column() -> None:
    assert g.classify_table(["id", "segment"])["classification"] == "Public"
    assert g.classify_table(["id", "revenue"])["classification"] == "Confidential"
    table = g.classify_table(["id", "email", "salary"])
    assert table == {"columns": {"id": "Public", "email": "PII", "salary": "Confidential"}, "classification": "PII"}


def test_retention_cutoffs_and_safe_sql() -> None:
    now = datetime(2026, 6, 1)
    assert g.retention_cutoff("PII", now) == now - timedelta(days=30)
    assert g.retention_cutoff("Public", now) is None
    with pytest.raises(ValueError, match="classification 'Secret'"):
        g.retention_cutoff("Secret", now)
    assert g.retention_delete_sql("governed", "customers", "created_at") == \
        'DELETE FROM "governed"."customers" WHERE "created_at" < %(cutoff)s'
    with pytest.raises(ValueError, match="unsafe SQL identifier"):
        g.retention_delete_sql("governed", "customers; drop table x", "created_at")


def test_access_review_revokes_unapproved_pii_and_stale_grants() -> None:
    now = datetime(2026, 6, 1)
    grants = [g.Grant("alice", "crm.customers", now - timedelta(days=300), now - timedelta(days=1), "dpo"),
              g.Grant("bob", "crm.customers", now - timedelta(days=300), now - timedelta(days=1), None),
              g.Grant("carol", "fin.invoices", now - timedelta(days=300), now - timedelta(days=120), "cfo"),
              g.Grant("dave", "web.views", now - timedelta(days=10), None, None)]
    decisions = {d["principal"]: d for d in g.review_access(grants, {"crm.customers": "PII", "fin.invoices": "Confidential"}, now)}
    assert decisions["alice"]["action"] == "keep"
    assert decisions["bob"] == {**decisions["bob"], "action": "revoke", "reason": "PII access without an approver"}
    assert decisions["carol"]["action"] == "revoke" and decisions["carol"]["reason"] == "unused for 120 days"
    assert decisions["dave"]["action"] == "keep" and decisions["dave"]["classification"] == "Public"


def test_breaking_changes_are_removals_and_type_changes_only() -> None:
    old = {"id": "integer", "email": "text", "amount": "numeric"}
    assert g.breaking_changes(old, {**old, "new_col": "text"}) == []
    assert g.breaking_changes(old, {"id": "bigint", "amount": "numeric"}) == [
        "column id type changed integer -> bigint", "column email removed"]


def test_catalog_entries_carry_classification_tags_and_discovery_filters_by_tags() -> None:
    customers = g.catalog_entry("urn:li:dataset:(urn:li:dataPlatform:postgres,public.customers,PROD)", description="c",
                                owner="team-crm", columns={"id": "INT", "email": "TEXT"}, tags=["sales"])
    regions = g.catalog_entry("urn:li:dataset:(urn:li:dataPlatform:postgres,ref.regions,PROD)", description="r",
                              owner="team-a", columns={"region": "TEXT"}, tags=["reference"])
    assert customers["tags"] == ["PII", "sales"]
    assert customers["schema"] == [{"name": "id", "type": "INT", "tags": ["Public"]}, {"name": "email", "type": "TEXT", "tags": ["PII"]}]
    assert g.discover([customers, regions], ["PII"]) == [customers["urn"]]
    assert g.discover([customers, regions], ["Public"]) == [regions["urn"]]
    with pytest.raises(ValueError, match="must start with urn:li:dataset:"):
        g.catalog_entry("public.customers", description="", owner="", columns={}, tags=[])
    job = g.dag_catalog_entry("d", "team", ["b", "a"], ["o"], ["i"])
    assert job["urn"] == "urn:li:dataJob:(urn:li:dataFlow:(airflow,d,prod),d)" and job["tags"] == ["a", "b"]
