"""common.lineage: the custom facet, run events and catalog events as they go on the wire."""

from __future__ import annotations

import json

from openlineage.client.serde import Serde

from common import governance, lineage


def test_governance_facet_serialises_with_its_schema_url() -> None:
    facet = lineage.GovernanceRunFacet(ownerTeam="ml", classification="PII", retentionDays=30, dataContractVersion="1.0")
    wire = json.loads(Serde.to_json(facet))
    assert wire["_schemaURL"].endswith("GovernanceRunFacet.json")
    assert {k: wire[k] for k in ("ownerTeam", "classification", "retentionDays")} == {"ownerTeam": "ml", "classification": "PII", "retentionDays": 30}


def test_run_events_carry_schema_and_custom_facets() -> None:
    facet = lineage.GovernanceRunFacet(ownerTeam="a", classification="Public", retentionDays=None, dataContractVersion="1")
    start, complete = lineage.build_run_events(namespace="ns", job_name="j", inputs=[("s3://b", "in", {"a": "INT"})],
                                               outputs=[("pg://w", "out", {"b": "TEXT"})], run_facets={"governance": facet})
    wire = json.loads(Serde.to_json(complete))
    assert start.run.runId == complete.run.runId and wire["eventType"] == "COMPLETE"
    assert wire["run"]["facets"]["governance"]["classification"] == "Public"
    assert [(f["name"], f["type"]) for f in wire["outputs"][0]["facets"]["schema"]["fields"]] == [("b", "TEXT")]


def test_catalog_events_publish_tags_owner_and_column_tags() -> None:
    entry = governance.catalog_entry("urn:li:dataset:(urn:li:dataPlatform:postgres,public.customers,PROD)", description="c",
                                     owner="team-crm", columns={"id": "INT", "email": "TEXT"}, tags=["sales"])
    raw = governance.catalog_entry("urn:li:dataset:(urn:li:dataPlatform:postgres,raw.x,PROD)", description="r",
                                   owner="team-crm", columns={"id": "INT"}, tags=["raw"])
    events = lineage.catalog_publish_events("warehouse", "catalog_sync", [entry], "team-x", ["catalog"], inputs=[raw])
    wire = json.loads(Serde.to_json(events[-1]))
    dataset = wire["outputs"][0]
    assert dataset["name"] == "public.customers" and [i["name"] for i in wire["inputs"]] == ["raw.x"]
    assert lineage.dataset_tags(wire["inputs"][0]) == {"raw", "Public"}, "inputs keep their catalog facets"
    assert lineage.dataset_tags(dataset) == {"PII", "sales", "Public"}
    assert {(t["key"], t.get("field")) for t in dataset["facets"]["tags"]["tags"]} >= {("PII", "email"), ("sales", None)}
    assert dataset["facets"]["ownership"]["owners"] == [{"name": "team-crm", "type": "OWNER"}]
    assert wire["job"]["facets"]["tags"]["tags"][0]["key"] == "catalog"


def test_provider_hook_derives_the_facet_from_dag_tags() -> None:
    from types import SimpleNamespace

    ti = SimpleNamespace(task=SimpleNamespace(dag=SimpleNamespace(tags=["team:ml", "classification:PII"])))
    facet = lineage.governance_run_facets(ti, "success")["governance"]
    assert (facet.ownerTeam, facet.classification, facet.retentionDays) == ("ml", "PII", 30)
    bare = lineage.governance_run_facets(SimpleNamespace(), "success")["governance"]
    assert (bare.ownerTeam, bare.classification, bare.retentionDays) == ("platform", "Public", None)
