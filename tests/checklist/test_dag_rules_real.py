"""The whole checklist on the real repository: every rule of checklist.dag_rules passes over the parsed dags/ folder
and the real needs.yaml manifests, with evidence (what `python -m checklist.dag_rules` and `npm run checklist` report)."""

from __future__ import annotations

from checklist import dag_rules


def test_every_rule_passes_on_the_real_dagbag(dagbag) -> None:  # noqa: ANN001
    from local.contract import load

    assert dagbag.import_errors == {}
    ctx = dag_rules.Context(dagbag, load().dags)
    results = [run(ctx) for _, _, run in dag_rules.RULES]
    failing = {r.item: r.evidence for r in results if not r.ok}
    assert failing == {}
    assert all(r.evidence for r in results)
