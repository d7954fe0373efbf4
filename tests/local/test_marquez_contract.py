"""The Marquez stand-in (local/standins/marquez.py) and the project's Marquez calls, held to Marquez 0.51.1's API
specification: `../shared/schemas/marquez-api/openapi.yml` (OpenAPI 3.0.2, unmodified from the Marquez repository).

- every route the stand-in registers is a path and method of the spec (path templates compared by structure);
- every Marquez call of the project is one too: `common.lineage.MARQUEZ_CALLS`, the one list of them, and every
  Marquez API path written anywhere in the project's code (scanned) is one of MARQUEZ_CALLS;
- the admin port serves what the Marquez chart probes;
- the stand-in, started as `./platform up marquez` starts it, answers each path with the spec's success status and
  JSON that validates against the spec's response schema (formats `date-time` and `uuid` checked), declares no
  field the spec does not (so no caller comes to depend on a stand-in-only field), and 404s what Marquez 404s.

The OpenAPI 3.0 schemas become JSON Schema through `json_schema`, with these conversions, each named because each
loosens or tightens what the spec says:
- `$ref: '#/components/schemas/X'` is inlined; `example`, `description`, `discriminator`, `deprecated` dropped,
  keywords left empty in the spec (`type:` with no value in SearchResult) dropped;
- null is accepted for a property only where the spec marks it `nullable`, where the schema's own `example` shows it
  null (Run/IncompleteRun `nominalStartTime`, `nominalEndTime`, `endedAt`, `durationMs`; Job `latestRun`; Dataset
  `lastModifiedAt`), and for the two properties in NULLABLE_EXTRA, which Marquez's Java models mark @Nullable;
- `Run: anyOf [IncompleteRun, {jobVersion, ...}]` is read as `allOf`: both describe parts of the one Run object
  Marquez writes, and under anyOf the second, all-optional member accepts any object, so nothing would be checked.
"""

from __future__ import annotations

import re
import tarfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml

from cluster.paths import REPO, charts_dir, shared_dir

SPEC_RELATIVE = Path("schemas/marquez-api/openapi.yml")
SCHEMAS_REF = "#/components/schemas/"
API_PREFIX = "/api/v1"  # the spec's server URL ends in /api/v1; its paths are relative to it
ALL_OF = {"Run"}
NULLABLE_EXTRA = {
    ("IncompleteRun", "startedAt"): "Run.java: @Nullable startedAt (a run whose START event never arrived)",
    ("Namespace", "description"): "Namespace.java: @Nullable description (namespaces created by OpenLineage events)",
}
# POST /lineage: the spec documents 200, Marquez's OpenLineageResource answers 201 (Response.status(201)) and the
# OpenLineage client accepts any 2xx; the stand-in answers 201 like the server.
POST_LINEAGE_STATUS = {"spec": "200", "server": 201}
SCAN_ROOTS = ("dags", "local", "tests", "components", "helm-values", "config", "checklist", "cluster", "bench",
              "scripts", "policy", "index.ts")
SCAN_SUFFIXES = {".py", ".ts", ".yaml", ".yml", ".sh", ".json"}
SCAN_EXCLUDED = {Path("local/standins/marquez.py"), Path(__file__).resolve().relative_to(REPO)}


# ------------------------------------------------------------------------------------------------ the spec
@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    shared = shared_dir()
    path = shared / SPEC_RELATIVE if shared else None
    if path is None or not path.is_file():
        pytest.skip(f"../shared is absent: no Marquez API specification ({SPEC_RELATIVE}) to hold the stand-in to")
    return yaml.safe_load(path.read_text())


def segments(path: str) -> tuple[str, ...]:
    """`/namespaces/{namespace}/jobs` → ('namespaces', '{}', 'jobs'): parameter names do not matter, positions do."""
    return tuple("{}" if re.fullmatch(r"\$?\{[^}]*\}", s) else s for s in path.strip("/").split("/"))


def spec_path(spec: dict[str, Any], template: str) -> str | None:
    """The spec's path with the same structure as `template` (relative to /api/v1), or None."""
    wanted = segments(template)
    return next((p for p in spec["paths"] if segments(p) == wanted), None)


def fills(concrete: tuple[str, ...], template: tuple[str, ...]) -> bool:
    """A concrete path (a name where a parameter goes) fits a template."""
    return len(concrete) == len(template) and all(t in ("{}", c) for c, t in zip(concrete, template, strict=True))


def success(spec: dict[str, Any], method: str, template: str) -> tuple[str, dict[str, Any] | None]:
    """The documented 2xx status of an operation and its JSON response schema (None when it has no body)."""
    responses = spec["paths"][spec_path(spec, template)][method.lower()]["responses"]
    code = next(str(c) for c in responses if str(c).startswith("2"))
    body = responses.get(code, responses.get(int(code)))
    return code, ((body.get("content") or {}).get("application/json") or {}).get("schema")


def json_schema(spec: dict[str, Any], node: Any, name: str | None = None, stack: tuple[str, ...] = ()) -> Any:
    """An OpenAPI 3.0 schema as a self-contained JSON Schema (conversions: module docstring)."""
    if isinstance(node, list):
        return [json_schema(spec, n, None, stack) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith(SCHEMAS_REF), f"unexpected $ref {ref}"
        target = ref[len(SCHEMAS_REF):]
        assert target not in stack, f"recursive schema {' -> '.join((*stack, target))}"
        return json_schema(spec, spec["components"]["schemas"][target], target, (*stack, target))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if value is None or key in ("example", "description", "discriminator", "deprecated", "nullable"):
            continue
        if key == "properties":
            out[key] = {prop: json_schema(spec, sub, None, stack) for prop, sub in value.items()}
        else:
            out[key] = json_schema(spec, value, None, stack)
    if name in ALL_OF and "anyOf" in out:
        out["allOf"] = out.pop("anyOf")
    example = node.get("example") if isinstance(node.get("example"), dict) else {}
    nullable = {p for p, v in example.items() if v is None}
    nullable |= {p for (schema, p) in NULLABLE_EXTRA if schema == name}
    nullable |= {p for p, v in (node.get("properties") or {}).items() if isinstance(v, dict) and v.get("nullable")}
    for prop in nullable & set(out.get("properties") or {}):
        out["properties"][prop] = {"anyOf": [out["properties"][prop], {"type": "null"}]}
    return out


def _declared(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Properties a schema declares (through allOf/anyOf/oneOf) and whether it admits others."""
    props: dict[str, Any] = dict(schema.get("properties") or {})
    open_ = schema.get("additionalProperties") not in (None, False)
    members = [m for key in ("allOf", "anyOf", "oneOf") for m in schema.get(key, []) if m != {"type": "null"}]
    for member in members:
        member_props, member_open = _declared(member)
        props.update(member_props)
        open_ = open_ or member_open
    return props, open_ or not props  # an object schema that names no property at all is open


def undeclared(instance: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Fields of `instance` that its schema does not declare (JSON Schema alone would let them through)."""
    found: list[str] = []
    if isinstance(instance, dict):
        props, open_ = _declared(schema)
        extra = schema.get("additionalProperties")
        for key, value in instance.items():
            if key in props:
                found += undeclared(value, props[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                found += undeclared(value, extra, f"{where}.{key}")
            elif not open_:
                found.append(f"{where}.{key}")
    elif isinstance(instance, list):
        items = schema.get("items") or next((m.get("items") for m in schema.get("anyOf", []) if m.get("items")), None)
        if isinstance(items, dict):
            for index, value in enumerate(instance):
                found += undeclared(value, items, f"{where}[{index}]")
    return found


def problems(spec: dict[str, Any], template: str, body: Any) -> list[str]:
    """Everything wrong with `body` as the GET answer of `template` per the spec; empty when it conforms."""
    _, raw = success(spec, "GET", template)
    assert raw is not None, f"the spec documents no JSON body for GET {template}"
    schema = json_schema(spec, raw)
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in validator.iter_errors(body)]
    return errors + [f"{path}: not declared by the spec" for path in undeclared(body, schema)]


# ------------------------------------------------------------------------------------------------ the code
def standin_routes(router: Any) -> list[tuple[str, str]]:
    """(method, template) of every route a stand-in Router registered, read back from its compiled patterns."""
    routes = []
    for method, regex, _ in router.routes:
        template = re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", regex.pattern)
        assert template.startswith("^") and template.endswith("$"), regex.pattern
        template = template[1:-1]
        assert not re.search(r"[\\^$()*+?\[\]|]", template), f"route {regex.pattern} is not a plain path template"
        routes.append((method, template))
    return routes


def api_routes() -> list[tuple[str, str]]:
    from local.standins import marquez

    routes = standin_routes(marquez.api)
    assert all(t.startswith(API_PREFIX + "/") for _, t in routes), routes
    return [(m, t.removeprefix(API_PREFIX)) for m, t in routes]


def project_calls() -> tuple[tuple[str, str], ...]:
    from common.lineage import MARQUEZ_CALLS

    return MARQUEZ_CALLS


def marquez_paths_in_code(roots: set[str]) -> Iterator[tuple[Path, int, str]]:
    """(file, line, path) of every Marquez API path literal (`api/v1/<a Marquez resource>...`) in files that talk
    about Marquez or OpenLineage; `roots` are the spec's first path segments (namespaces, jobs, lineage, ...)."""
    pattern = re.compile(r"api/v1(/[A-Za-z0-9_.{}$\-/]*)")
    for root in SCAN_ROOTS:
        base = REPO / root
        files = [base] if base.is_file() else sorted(base.rglob("*")) if base.is_dir() else []
        for file in files:
            relative = file.relative_to(REPO)
            if file.suffix not in SCAN_SUFFIXES or not file.is_file() or relative in SCAN_EXCLUDED \
                    or {"node_modules", "fixtures", "__pycache__"} & set(relative.parts):
                continue
            text = file.read_text(errors="replace")
            if not re.search(r"marquez|openlineage", text, re.IGNORECASE):
                continue
            for number, line in enumerate(text.splitlines(), 1):
                for match in pattern.finditer(line):
                    path = match[1].rstrip("/.-")
                    if segments(path)[0] in roots:
                        yield relative, number, path


# ------------------------------------------------------------------------------------------------ static checks
def test_the_spec_is_the_marquez_version_the_platform_deploys(spec) -> None:
    values = (REPO / "components/values/marquez.ts").read_text()
    deployed = re.search(r'MARQUEZ_IMAGE_TAG = "([^"]+)"', values)
    assert deployed, "components/values/marquez.ts no longer pins MARQUEZ_IMAGE_TAG"
    assert spec["info"]["version"] == deployed[1] == "0.51.1"
    assert spec["servers"][0]["url"].endswith(API_PREFIX)


def test_every_stand_in_route_is_a_path_and_method_of_the_spec(spec) -> None:
    routes = api_routes()
    missing = [f"{m} {API_PREFIX}{t}" for m, t in routes
               if spec_path(spec, t) is None or m.lower() not in spec["paths"][spec_path(spec, t)]]
    assert not missing, f"the Marquez stand-in serves routes Marquez 0.51.1 does not have: {missing}"
    assert ("GET", "/jobs/runs/{id}") in routes, "a run is GET /api/v1/jobs/runs/{id} in Marquez"
    assert len(set(routes)) == len(routes), f"a route is registered twice: {routes}"


def test_every_marquez_call_of_the_project_is_in_the_spec_and_served_by_the_stand_in(spec) -> None:
    calls = project_calls()
    missing = [f"{m} {t}" for m, t in calls
               if spec_path(spec, t) is None or m.lower() not in spec["paths"][spec_path(spec, t)]]
    assert not missing, f"common.lineage.MARQUEZ_CALLS holds calls Marquez 0.51.1 does not answer: {missing}"
    served = {(m, segments(t)) for m, t in api_routes()}
    unserved = [f"{m} {t}" for m, t in calls if (m, segments(t)) not in served]
    assert not unserved, f"the Marquez stand-in does not serve these calls of the project: {unserved}"


def test_every_marquez_path_in_the_code_is_one_of_the_declared_calls(spec) -> None:
    roots = {segments(p)[0] for p in spec["paths"]}
    templates = [segments(t) for _, t in project_calls()]
    found = list(marquez_paths_in_code(roots))
    stray = [f"{file}:{line}: {API_PREFIX}{path}" for file, line, path in found
             if not any(fills(segments(path), t) for t in templates)]
    assert not stray, f"Marquez API paths not in common.lineage.MARQUEZ_CALLS (add them there, checked against the spec): {stray}"
    where = {str(file) for file, _, _ in found}
    # the scan sees the call sites outside common.lineage: Airflow's transport locally and on the cluster, the health check
    assert {"local/services/airflow.py", "local/services/marquez.py", "components/values/marquez.ts"} <= where, where


def test_the_admin_port_serves_what_the_marquez_chart_probes() -> None:
    from local.standins import marquez

    admin = {t for m, t in standin_routes(marquez.admin) if m == "GET"}
    charts = charts_dir()
    tarballs = sorted(charts.glob("marquez-*.tgz")) if charts else []
    if not tarballs:
        pytest.skip("../shared is absent: no Marquez chart tarball to read its probes from")
    with tarfile.open(tarballs[-1]) as chart:
        deployment = chart.extractfile("marquez/templates/marquez/deployment.yaml").read().decode()
        helm_test = chart.extractfile("marquez/templates/tests/marquez-test-connection.yaml").read().decode()
    probes = set(re.findall(r"path:\s*(\S+)\s+port:\s*http-admin", deployment))
    assert probes == {"/healthcheck"} and probes <= admin, (probes, admin)
    (tested,) = re.findall(r"/api/v1(/\S+?)'", helm_test)
    assert ("GET", tested) in project_calls(), f"the chart's helm test calls GET {API_PREFIX}{tested}"


def test_the_validator_catches_drift(spec) -> None:
    """The checks below are only as good as the validator: shapes the stand-in once had, or could drift to, fail."""
    run = {"id": str(uuid.uuid4()), "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:05Z",
           "nominalStartTime": None, "nominalEndTime": None, "state": "COMPLETED", "startedAt": "2026-01-01T00:00:00Z",
           "endedAt": "2026-01-01T00:00:05Z", "durationMs": 5000, "args": {}, "facets": {},
           "jobVersion": {"namespace": "ns", "name": "job", "version": str(uuid.uuid4())}}
    assert problems(spec, "/jobs/runs/{id}", run) == []
    drifted = {
        "createdAt": "2026-01-01 00:00:00+00:00",  # str(datetime), what the stand-in wrote for namespaces
        "state": "DONE",
        "id": "not-a-uuid",
        "updatedAt": None,
        "jobVersion": {"namespace": "ns", "name": "job", "version": "1"},
        "facets": {"governance": {"classification": "PII"}},  # a facet without _producer/_schemaURL
    }
    for key, value in drifted.items():
        assert problems(spec, "/jobs/runs/{id}", {**run, key: value}), f"{key}={value!r} passed validation"
    assert problems(spec, "/namespaces/{namespace}/jobs/{job}/runs", {"runs": [run], "totalCount": 1}) == \
        ["$.totalCount: not declared by the spec"]
    assert problems(spec, "/namespaces/{namespace}/jobs/{job}/runs", {"runs": [{**run, "endedAt": None}]}) == []


# ------------------------------------------------------------------------------------------------ the live stand-in
@pytest.fixture(scope="module")
def seeded(marquez_service) -> dict[str, Any]:  # noqa: ANN001
    """Events sent the way the project sends them (common.lineage builders, emit through the OpenLineage client)."""
    from common.governance import catalog_entry
    from common.lineage import GovernanceRunFacet, build_run_events, catalog_publish_events, emit

    since = datetime.now(UTC) - timedelta(seconds=1)
    tag = uuid.uuid4().hex[:8]
    namespace, source = f"contract-{tag}", f"contract-{tag}-src"
    facet = GovernanceRunFacet(ownerTeam="analytics", classification="Confidential", retentionDays=365,
                               dataContractVersion="1.0")
    completed = build_run_events(namespace=namespace, job_name="contract.aggregate",
                                 inputs=[(source, "public.orders", {"order_id": "VARCHAR", "amount": "DECIMAL"})],
                                 outputs=[(namespace, "analytics.daily", {"day": "DATE", "revenue": "DECIMAL"})],
                                 run_facets={"governance": facet})
    running = build_run_events(namespace=namespace, job_name="contract.still_running", inputs=[],
                               outputs=[], run_facets={"governance": facet})[:1]  # START only
    entry = catalog_entry("urn:li:dataset:(urn:li:dataPlatform:postgres,public.customers,PROD)",
                          description="One row per customer", owner="team-crm",
                          columns={"customer_id": "VARCHAR", "email": "VARCHAR"}, tags=["sales"])
    catalog = catalog_publish_events(namespace, "contract.catalog_sync", [entry], "team-data-platform", ["catalog"])
    assert emit([*completed, *running, *catalog], marquez_service.url) == 5
    return {"url": marquez_service.url, "namespace": namespace, "source": source,
            "completed_job": "contract.aggregate", "running_job": "contract.still_running",
            "catalog_job": "contract.catalog_sync",
            "completed_run": str(completed[0].run.runId), "running_run": str(running[0].run.runId),
            "since": since.isoformat()}


# (template, path parameters as keys of `seeded`, query): every GET the stand-in serves, in the states that matter.
CASES = [
    ("/namespaces", {}, {}),
    ("/namespaces/{namespace}/jobs", {"namespace": "namespace"}, {}),
    ("/namespaces/{namespace}/jobs", {"namespace": "namespace"}, {"limit": "1", "offset": "1"}),
    ("/namespaces/{namespace}/jobs/{job}", {"namespace": "namespace", "job": "completed_job"}, {}),
    ("/namespaces/{namespace}/jobs/{job}", {"namespace": "namespace", "job": "running_job"}, {}),
    ("/namespaces/{namespace}/jobs/{job}", {"namespace": "namespace", "job": "catalog_job"}, {}),
    ("/namespaces/{namespace}/jobs/{job}/runs", {"namespace": "namespace", "job": "completed_job"}, {}),
    ("/namespaces/{namespace}/jobs/{job}/runs", {"namespace": "namespace", "job": "running_job"}, {"limit": "5"}),
    ("/jobs/runs/{id}", {"id": "completed_run"}, {}),
    ("/jobs/runs/{id}", {"id": "running_run"}, {}),
    ("/namespaces/{namespace}/datasets", {"namespace": "namespace"}, {"limit": "1000"}),
    ("/namespaces/{namespace}/datasets", {"namespace": "source"}, {}),
    ("/events/lineage", {}, {"limit": "5", "sortDirection": "asc"}),
]


def _get(seeded: dict[str, Any], template: str, params: dict[str, str], query: dict[str, str]) -> requests.Response:
    from urllib.parse import quote

    path = template.format(**{k: quote(seeded[v], safe="") for k, v in params.items()})
    return requests.get(f"{seeded['url']}{API_PREFIX}{path}", params=query, timeout=10)


def test_every_get_route_of_the_stand_in_has_a_case() -> None:
    routes = {segments(t) for m, t in api_routes() if m == "GET"}
    assert routes == {segments(t) for t, _, _ in CASES}


@pytest.mark.parametrize(("template", "params", "query"), CASES,
                         ids=[f"{t}{'?' + '&'.join(q) if q else ''}:{'/'.join(p.values())}" for t, p, q in CASES])
def test_stand_in_answers_are_valid_per_the_spec(spec, seeded, template: str, params: dict[str, str],
                                                  query: dict[str, str]) -> None:
    response = _get(seeded, template, params, query)
    code, _ = success(spec, "GET", template)
    assert response.status_code == int(code), response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert problems(spec, template, response.json()) == []


def test_post_lineage_answers_like_marquez(spec, seeded) -> None:
    code, schema = success(spec, "POST", "/lineage")
    assert (code, schema) == (POST_LINEAGE_STATUS["spec"], None), "the spec's POST /lineage changed: revisit the deviation"
    event = {"eventType": "COMPLETE", "eventTime": "2026-01-01T00:00:05Z", "producer": "contract-test",
             "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": f"{seeded['namespace']}-raw", "name": "contract.raw"},
             "inputs": [], "outputs": []}
    created = requests.post(f"{seeded['url']}{API_PREFIX}/lineage", json=event, timeout=10)
    assert (created.status_code, created.content) == (POST_LINEAGE_STATUS["server"], b"")
    invalid = requests.post(f"{seeded['url']}{API_PREFIX}/lineage", json={"eventType": "START"}, timeout=10)
    assert invalid.status_code == 422 and invalid.json()["errors"], invalid.text


def test_unknown_names_answer_404_as_marquez_does(seeded) -> None:
    from common.lineage import MarquezClient

    unknown = {"nowhere": f"nowhere-{uuid.uuid4().hex[:6]}", "nobody": "nobody", "run": str(uuid.uuid4())}
    for template, params in [("/namespaces/{namespace}/jobs", {"namespace": "nowhere"}),
                             ("/namespaces/{namespace}/datasets", {"namespace": "nowhere"}),
                             ("/namespaces/{namespace}/jobs/{job}", {"namespace": "namespace", "job": "nobody"}),
                             ("/namespaces/{namespace}/jobs/{job}/runs", {"namespace": "namespace", "job": "nobody"}),
                             ("/jobs/runs/{id}", {"id": "run"})]:
        response = _get({**seeded, **unknown}, template, params, {})
        assert response.status_code == 404, (template, response.text)
        assert set(response.json()) == {"code", "message"} and response.json()["code"] == 404
    assert MarquezClient(seeded["url"]).run(unknown["run"]) is None
    # the stand-in once served runs at /api/v1/runs/{id}, which Marquez does not have
    assert requests.get(f"{seeded['url']}{API_PREFIX}/runs/{seeded['completed_run']}", timeout=10).status_code == 404


def test_the_project_client_calls_only_spec_paths_and_gets_valid_answers(spec, seeded, monkeypatch) -> None:
    """MarquezClient's real requests, recorded: each is a MARQUEZ_CALLS path, and each answer conforms to the spec."""
    import common.lineage as lineage

    seen: list[tuple[str, Any]] = []
    real_get = requests.get

    def recording_get(url: str, **kwargs: Any) -> requests.Response:
        response = real_get(url, **kwargs)
        path = url.split(API_PREFIX, 1)[1]
        template = next(t for m, t in lineage.MARQUEZ_CALLS if m == "GET" and fills(segments(path), segments(t)))
        seen.append((template, response.json()))
        return response

    monkeypatch.setattr(requests, "get", recording_get)
    client = lineage.MarquezClient(seeded["url"])
    namespace = seeded["namespace"]

    assert {seeded["namespace"], seeded["source"]} <= {n["name"] for n in client.namespaces()}
    monkeypatch.setattr(lineage, "PAGE_SIZE", 1)  # the listings below take several pages, following Marquez's offset
    assert {j["name"] for j in client.jobs(namespace)} == {seeded["completed_job"], seeded["running_job"],
                                                           seeded["catalog_job"]}
    assert client.job(namespace, seeded["completed_job"])["latestRun"]["id"] == seeded["completed_run"]
    assert [r["id"] for r in client.runs(namespace, seeded["completed_job"])] == [seeded["completed_run"]]
    assert client.run(seeded["running_run"])["state"] == "RUNNING"
    assert client.discover(namespace, ["PII"]) == ["public.customers"]
    assert {d["name"] for d in client.datasets(namespace)} == {"analytics.daily", "public.customers"}

    used = {template for template, _ in seen}
    assert used == {t for m, t in lineage.MARQUEZ_CALLS if m == "GET"}, "a MARQUEZ_CALLS entry no client call uses"
    bad = {template: found for template, body in seen if (found := problems(spec, template, body))}
    assert not bad, bad


def test_answers_carry_what_the_events_said(seeded) -> None:
    """Beyond the shapes: the values Marquez derives from the events."""
    def get(template: str, params: dict[str, str], query: dict[str, str] | None = None) -> Any:
        response = _get(seeded, template, params, query or {})
        assert response.status_code == 200, response.text
        return response.json()

    done = get("/jobs/runs/{id}", {"id": "completed_run"})
    assert done["state"] == "COMPLETED" and done["startedAt"] and done["endedAt"] and done["durationMs"] >= 0
    assert done["facets"]["governance"]["classification"] == "Confidential"
    assert done["jobVersion"]["name"] == seeded["completed_job"]
    running = get("/jobs/runs/{id}", {"id": "running_run"})
    assert (running["state"], running["endedAt"], running["durationMs"]) == ("RUNNING", None, None)

    job = get("/namespaces/{namespace}/jobs/{job}", {"namespace": "namespace", "job": "completed_job"})
    assert job["inputs"] == [{"namespace": seeded["source"], "name": "public.orders"}]
    assert job["outputs"] == [{"namespace": seeded["namespace"], "name": "analytics.daily"}]
    assert job["latestRun"]["id"] == seeded["completed_run"] and job["currentVersion"] == done["jobVersion"]["version"]
    catalog_job = get("/namespaces/{namespace}/jobs/{job}", {"namespace": "namespace", "job": "catalog_job"})
    assert catalog_job["facets"]["ownership"]["owners"][0]["name"] == "team-data-platform"

    datasets = {d["name"]: d for d in get("/namespaces/{namespace}/datasets", {"namespace": "namespace"})["datasets"]}
    customers = datasets["public.customers"]
    assert customers["description"] == "One row per customer"
    assert [(f["name"], f["type"]) for f in customers["fields"]] == [("customer_id", "VARCHAR"), ("email", "VARCHAR")]
    assert {t["key"] for t in customers["facets"]["tags"]["tags"]} >= {"sales", "PII"}
    assert datasets["analytics.daily"]["lastModifiedAt"] is not None  # written by a COMPLETE run
    page = get("/namespaces/{namespace}/jobs", {"namespace": "namespace"}, {"limit": "1", "offset": "1"})
    assert len(page["jobs"]) == 1 and page["totalCount"] >= 3
    names = {n["name"] for n in get("/namespaces", {})["namespaces"]}
    assert {seeded["namespace"], seeded["source"]} <= names, "dataset namespaces are namespaces too, as in Marquez"
    events = get("/events/lineage", {}, {"after": seeded["since"], "limit": "1000", "sortDirection": "asc"})["events"]
    mine = [e for e in events if e["run"]["runId"] == seeded["completed_run"]]
    assert [e["eventType"] for e in mine] == ["START", "COMPLETE"], "the run's events are served back as received"
    first_field = mine[0]["inputs"][0]["facets"]["schema"]["fields"][0]
    assert (first_field["name"], first_field["type"]) == ("order_id", "VARCHAR")
