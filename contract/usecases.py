"""docs/usecases.md: each catalogue row (dags/airflow_usecases.md) with its DAG file, the tests that name it, the
services it runs against locally (real server or stand-in), and what each stand-in's real service does differently.

    .venv/bin/python -m contract.usecases            # writes docs/usecases.md
    .venv/bin/python -m contract.usecases --check    # exits 1 if the committed file is stale

Generated from the catalogue, the needs.yaml manifests, the tests folder and the local platform's service classes,
so a new DAG, test or stand-in shows up without editing the page.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CATALOGUE = REPO / "dags" / "airflow_usecases.md"
OUT = REPO / "docs" / "usecases.md"
ROW = re.compile(r"^\| `(phase(\d+)_(\d{2})_([a-z0-9_]+))` \| (.+?) \|", re.MULTILINE)

# What each stand-in's real service does that the stand-in doesn't; the full account, with the tests that pin each
# difference, is in local/README.md ("Stand-ins").
REAL_SERVICE_DIFFERS: dict[str, str] = {
    "marquez": "Marquez keeps a relational model and serves job and dataset versions, the lineage graph, column lineage, "
    "search and tags; the stand-in derives jobs, runs and datasets from stored events and serves the API subset the "
    "project calls, held to Marquez 0.51.1's OpenAPI specification.",
    "bigquery": "BigQuery speaks GoogleSQL (the stand-in: SQLite), loads from `gs://`, runs copy and extract jobs, "
    "partitions by ingestion time, detects and evolves schemas, authenticates every call and bills bytes processed.",
    "slack": "Slack answers `not_in_channel` until the app is invited and `missing_scope` without `chat:write`, "
    "validates Block Kit fully, rate-limits about one message per second per channel, and shows messages to people.",
    "http_api": "A real partner API throttles by time window, may send `Retry-After` as an HTTP date, revokes tokens "
    "mid-run, fails with 5xx and timeouts, and its data changes between pages.",
    "s3": "moto implements S3's API in memory: no IAM, no bucket policies, KMS or replication, and strong consistency "
    "and latency unlike the real service's.",
    "azure_blob": "Azurite is Microsoft's own emulator of the Blob service: shared-key auth only (no Entra ID), no "
    "geo-replication, tiers or lifecycle management.",
    "smtp": "A real relay authenticates, applies TLS, may defer or bounce; the aiosmtpd sink accepts every message "
    "and saves it as .eml for tests to read.",
}


# Contract services served by one shared stand-in process, each named by the part of it that it uses.
SHARED_PROCESS_LABELS = {
    "slack": "the Slack Web API (chat.postMessage, auth.test; the HTTP stand-ins process)",
    "http_api": "an OAuth2 partner API and a flaky dependency (the HTTP stand-ins process)",
}


def catalogue_rows(text: str) -> list[tuple[str, str]]:
    """(dag id, concept) of every catalogue row, in catalogue order."""
    return [(m.group(1), m.group(5).strip()) for m in ROW.finditer(text)]


def dag_file(dag_id: str) -> Path:
    phase, number, name = re.match(r"phase(\d+)_(\d{2})_(.+)", dag_id).groups()  # type: ignore[union-attr]
    return REPO / "dags" / f"phase{phase}" / f"{number}_{name}.py"


def id_constants(dag_ids: list[str]) -> dict[str, set[str]]:
    """dag id → the names of `dags/common` module constants holding it (tests often import those, not the string)."""
    import ast

    names: dict[str, set[str]] = {d: set() for d in dag_ids}
    for module in sorted((REPO / "dags" / "common").glob("*.py")):
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value in names:
                names[str(node.value.value)] |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def tests_naming(dag_ids: list[str], tests: dict[Path, str]) -> dict[str, list[str]]:
    """dag id → the test files that name it, as a string or through a `dags/common` constant."""
    constants = id_constants(dag_ids)
    return {
        d: sorted(str(p.relative_to(REPO)) for p, text in tests.items()
                  if d in text or any(re.search(rf"\b{c}\b", text) for c in constants[d]))
        for d in dag_ids
    }


def service_kinds() -> dict[str, str | None]:
    """Contract service → the product it stands in for (None: the real server runs locally)."""
    from local import platform as plat
    from local.contract import load

    kinds: dict[str, str | None] = {}
    for service in sorted({s for needs in load().dags.values() for s in needs["services"]}):
        if service == "filesystem":
            kinds[service] = None
            continue
        module_name, class_name = plat.SERVICES[plat.canonical(service)].split(":")
        kinds[service] = getattr(getattr(importlib.import_module(module_name), class_name), "stand_in_for", None)
    # One process (http_standins) serves several contract services: name each by its own part.
    kinds.update({s: label for s, label in SHARED_PROCESS_LABELS.items() if s in kinds})
    return {s: (k if s in REAL_SERVICE_DIFFERS else None) for s, k in kinds.items()}


def build() -> str:
    from local.contract import load

    rows = catalogue_rows(CATALOGUE.read_text())
    manifest = load().dags
    tests = {p: p.read_text() for p in sorted((REPO / "tests").rglob("test_*.py"))}
    named = tests_naming([d for d, _ in rows], tests)
    kinds = service_kinds()
    lines = [
        "# Use cases: each catalogue row, its DAG, its tests and the services it runs against",
        "",
        "Generated by `python -m contract.usecases` from `dags/airflow_usecases.md`, the `needs.yaml` manifests, `tests/`",
        "and the local platform's services; `tests/contract/test_usecases_doc.py` fails when it is stale. Services marked",
        "*stand-in* run locally as a stand-in (`./platform status` says so); what the real service does differently is",
        "under [Stand-ins](#stand-ins), in full with the tests that pin it in `local/README.md`.",
        "",
        "| catalogue row | concept | DAG | tests | services (local) |",
        "|---|---|---|---|---|",
    ]
    for dag_id, concept in rows:
        variants = sorted(d for d in manifest if d == dag_id or d.startswith(f"{dag_id}__"))
        services = sorted({s for d in variants for s in manifest[d]["services"]})
        shown = ", ".join(f"`{s}` *stand-in*" if kinds.get(s) else f"`{s}`" for s in services) or "—"
        path = dag_file(dag_id).relative_to(REPO)
        test_links = ", ".join(f"[`{Path(t).name}`](../{t})" for t in named[dag_id]) or "**none**"
        lines.append(f"| `{dag_id}` | {concept} | [`{path.name}`](../{path}) | {test_links} | {shown} |")
    lines += ["", "## Stand-ins", ""]
    for service, product in sorted(kinds.items()):
        if product:
            users = [d for d, _ in rows if any(service in manifest[v]["services"] for v in manifest if v.split("__")[0] == d)]
            lines.append(f"- **`{service}`** — locally: stand-in for {product}. Used by {len(users)} row(s). "
                         f"The real service: {REAL_SERVICE_DIFFERS[service]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contract.usecases", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/usecases.md is stale")
    args = parser.parse_args(argv)
    text = build()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(REPO)} is stale: run .venv/bin/python -m contract.usecases", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
