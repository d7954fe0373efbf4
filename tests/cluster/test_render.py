"""Every Helm release of every stack rendered with a real helm, then judged as the cluster would judge it.

The program runs under the mock engine with its charts read from ../shared/charts (synth --charts); each release
is rendered with `helm template` (cluster/render.py). Then: strict schema validation of every object that would be
applied (Kubernetes 1.33 and 1.34 OpenAPI, CRDs from the charts and ../shared/schemas), a decision for every Helm
hook, no pod reference to an object nothing creates, and no duplicate keys in merged lists. Each check also has a
negative control that proves it can fail.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest

from cluster import figures
from cluster.hooks import check_hooks, load_decisions
from cluster.paths import REPO, charts_dir, shared_dir
from cluster.podsecurity import missing_resources, violations
from cluster.refs import containers, dangling_references, duplicate_names, pod_spec, references
from cluster.render import (
    STACKS,
    ReleaseSpec,
    Rendered,
    StackRender,
    helm_template,
    load_documents,
    with_namespace,
    write_render,
)
from cluster.validate import KUBE_VERSIONS, crd_index_for, is_builtin, validate_all, validate_object

pytestmark = pytest.mark.timeout(900)


@pytest.mark.parametrize("stack", STACKS)
def test_every_release_renders_with_its_name_and_namespace(renders: dict[str, StackRender], stack: str) -> None:
    render = renders[stack]
    assert render.releases, f"stack {stack} created no Helm release"
    for spec in render.releases:
        objects = [o for o in render.applied if o.origin == spec.release]
        assert objects, f"stack {stack}: release {spec.release} rendered no object"
        namespaced = [o for o in objects if o.namespace is not None]
        assert {o.namespace for o in namespaced} <= {spec.namespace}, f"release {spec.release} put objects outside {spec.namespace}"
    program = [o for o in render.applied if o.origin == "program"]
    assert any(o.kind == "Secret" for o in program), "the program's own Secrets are part of what is applied"
    figures.record("render", stack, releases=len(render.releases), objects=len(render.applied), hooks_skipped=len(render.hooks))


@pytest.mark.parametrize("stack", STACKS)
def test_every_applied_object_validates_strictly(renders: dict[str, StackRender], stack: str) -> None:
    render = renders[stack]
    problems = validate_all(render.applied, shared_dir())
    assert not problems, "\n".join(str(p) for p in problems)
    custom = [o for o in render.applied if not is_builtin(o.api_version, o.kind)]
    figures.record("validate", stack, objects=len(render.applied), kube_versions="/".join(KUBE_VERSIONS), custom_resources=len(custom))


@pytest.mark.parametrize("stack", STACKS)
def test_every_helm_hook_has_a_decision(renders: dict[str, StackRender], stack: str) -> None:
    problems = check_hooks(renders[stack], load_decisions())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("stack", STACKS)
def test_no_pod_references_an_object_nothing_creates(renders: dict[str, StackRender], stack: str) -> None:
    findings = dangling_references(renders[stack].applied)
    assert not findings, "\n".join(str(f) for f in findings)
    figures.record("references", stack, checked=sum(len(references(o.manifest)) for o in renders[stack].applied))


@pytest.mark.parametrize("stack", STACKS)
def test_no_duplicate_keys_in_merged_lists(renders: dict[str, StackRender], stack: str) -> None:
    findings = duplicate_names(renders[stack].applied)
    assert not findings, "\n".join(str(f) for f in findings)


# ---------------------------------------------------------------------------------- the three first-deploy defects
def _one(render: StackRender, kind: str, suffix: str) -> Rendered:
    found = [o for o in render.applied if o.kind == kind and o.name.endswith(suffix)]
    assert len(found) == 1, f"expected one {kind} *{suffix}, found {[o.name for o in found]}"
    return found[0]


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_operator_needs_no_hook_made_secret(renders: dict[str, StackRender], stack: str) -> None:
    operator = _one(renders[stack], "Deployment", "-kube-p-operator")
    volumes = operator.manifest["spec"]["template"]["spec"].get("volumes") or []
    assert not [v for v in volumes if "secret" in v], f"the operator mounts {volumes}, which only a skipped hook Job creates"
    assert not [o for o in renders[stack].applied if o.kind.endswith("WebhookConfiguration") and "kube-p-admission" in o.name]


@pytest.mark.parametrize("stack", STACKS)
def test_mlflow_secret_key_comes_from_the_program(renders: dict[str, StackRender], stack: str) -> None:
    secret = _one(renders[stack], "Secret", "-flask-server-secret-key")
    assert secret.origin == "program"
    assert list(secret.manifest["stringData"]) == ["MLFLOW_FLASK_SERVER_SECRET_KEY"]
    assert secret.manifest["stringData"]["MLFLOW_FLASK_SERVER_SECRET_KEY"] == "[secret]", "synth output keeps Secret values redacted"


def test_vault_dev_root_token_is_set_once(renders: dict[str, StackRender]) -> None:
    vault = _one(renders["dev"], "StatefulSet", "platform-vault")
    container = vault.manifest["spec"]["template"]["spec"]["containers"][0]
    names = [e["name"] for e in container["env"]]
    assert names.count("VAULT_DEV_ROOT_TOKEN_ID") == 1
    token = next(e for e in container["env"] if e["name"] == "VAULT_PLATFORM_DEV_ROOT_TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["name"] == "platform-vault-root-token"
    script = container["args"][0]
    assert '-dev-root-token-id="${VAULT_PLATFORM_DEV_ROOT_TOKEN}"' in script, script


# ---------------------------------------------------------------------------------- negative controls
def _fake(manifest: dict[str, object], origin: str = "fixture") -> Rendered:
    return Rendered("test", origin, manifest)


def test_validation_names_an_unknown_field_of_a_builtin_kind(renders: dict[str, StackRender]) -> None:
    deployment = copy.deepcopy(_one(renders["dev"], "Deployment", "-kube-p-operator").manifest)
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    deployment["spec"]["replicas"] = "two"
    problems = validate_object(_fake(deployment), crd_index_for([], None))
    fields = {p.field for p in problems}
    assert "spec.template.spec.containers[0]" in fields and "spec.replicas" in fields, problems
    assert any("imagePullPolicyy" in p.message for p in problems)
    assert {p.against.split(" OpenAPI")[0] for p in problems} == {f"Kubernetes {v}" for v in KUBE_VERSIONS}
    assert "Deployment airflow-dev/platform-monitoring-kube-p-operator" in str(problems[0])


def test_validation_names_an_unknown_field_of_a_custom_resource(renders: dict[str, StackRender]) -> None:
    applied = renders["dev"].applied
    kafka = copy.deepcopy(next(o for o in applied if o.kind == "Kafka").manifest)
    kafka["spec"]["kafka"]["listenerz"] = []
    problems = validate_all([*applied, _fake(kafka)], shared_dir())
    assert [p.field for p in problems] == ["spec.kafka"] * len(problems) and problems, problems
    assert any("listenerz" in p.message for p in problems)
    sources = {p.against for p in problems}
    assert any("chart release" in s for s in sources) and any("schemas/strimzi" in s for s in sources), sources


def test_validation_refuses_a_kind_no_schema_knows() -> None:
    problems = validate_object(_fake({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}), crd_index_for([], None))
    assert len(problems) == 1 and "no schema for example.com/v1 Widget" in problems[0].message


def test_reference_check_finds_the_hook_made_secrets() -> None:
    """The operator and MLflow pods as the charts render them by default: both reference hook-only Secrets."""
    pod = {"containers": [{"name": "mlflow", "envFrom": [{"secretRef": {"name": "mlflow-flask-server-secret-key"}}]}],
           "volumes": [{"name": "tls-secret", "secret": {"secretName": "kps-admission"}},
                       {"name": "opt", "secret": {"secretName": "maybe", "optional": True}}]}  # fmt: skip
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}, "spec": {"template": {"spec": pod}}}
    findings = dangling_references([_fake(deployment)])
    assert sorted(f.message for f in findings) == [
        "references Secret 'kps-admission', which no applied object creates",
        "references Secret 'mlflow-flask-server-secret-key', which no applied object creates",
    ]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "kps-admission", "namespace": "n"}}
    assert len(dangling_references([_fake(deployment), _fake(secret)])) == 1


def test_duplicate_check_finds_the_doubled_vault_env() -> None:
    container = {"name": "vault", "env": [{"name": "VAULT_DEV_ROOT_TOKEN_ID", "value": "root"}, {"name": "VAULT_DEV_ROOT_TOKEN_ID", "valueFrom": {}}],
                 "ports": [{"containerPort": 8200}, {"containerPort": 8200, "protocol": "TCP"}],
                 "volumeMounts": [{"name": "a", "mountPath": "/x"}, {"name": "b", "mountPath": "/x"}]}  # fmt: skip
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "v", "namespace": "n"},
           "spec": {"template": {"spec": {"containers": [container], "volumes": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}}}}  # fmt: skip
    messages = sorted(f.message for f in duplicate_names([_fake(sts)]))
    assert messages == [
        "env var 'VAULT_DEV_ROOT_TOKEN_ID' appears twice",
        "mountPath '/x' appears twice",
        "port 8200/TCP appears twice",
        "volume 'a' appears twice",
    ]


def test_hook_check_refuses_an_undecided_hook(renders: dict[str, StackRender]) -> None:
    render = renders["dev"]
    extra = _fake({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "platform-mlflow-migrate", "namespace": "airflow-dev",
                   "annotations": {"helm.sh/hook": "post-install"}}}, origin="platform-mlflow")  # fmt: skip
    broken = StackRender(render.stack, render.releases, render.applied, [*render.hooks, extra])
    problems = check_hooks(broken, load_decisions())
    assert len(problems) == 1 and "Job airflow-dev/platform-mlflow-migrate" in problems[0] and "no decision" in problems[0]
    without_secret = [o for o in render.applied if not o.name.endswith("flask-server-secret-key")]
    problems = check_hooks(StackRender(render.stack, render.releases, without_secret, render.hooks), load_decisions())
    assert any("nothing applies it" in p for p in problems), problems


def test_render_output_is_written_per_release(renders: dict[str, StackRender], tmp_path: Path) -> None:


    target = write_render(renders["dev"], tmp_path)
    files = sorted(p.name for p in target.glob("*.yaml"))
    assert files == sorted([*(f"{s.release}.yaml" for s in renders["dev"].releases), "program.yaml", "hooks.yaml"])


# ---------------------------------------------------------------------------------- hardening as rendered
@pytest.mark.parametrize("stack", STACKS)
def test_every_container_meets_the_restricted_pod_security_profile(renders: dict[str, StackRender], stack: str) -> None:
    findings, stale = violations(renders[stack].applied)
    assert not findings, "\n".join(str(f) for f in findings)
    assert not stale, f"exceptions that no longer match a workload (remove them): {stale}"


@pytest.mark.parametrize("stack", STACKS)
def test_log_volumes_only_where_logs_stay_in_the_cluster(renders: dict[str, StackRender], stack: str) -> None:
    """The chart's default is a 100Gi claim per worker and triggerer replica; remote-logging stacks need none."""
    claims = {
        (o.name, t["metadata"]["name"], t["spec"]["resources"]["requests"]["storage"])
        for o in renders[stack].applied
        if o.origin == "platform-airflow" and o.kind == "StatefulSet"
        for t in o.manifest["spec"].get("volumeClaimTemplates") or []
    }
    # dev keeps its logs in the cluster: its LocalExecutor runs tasks in the scheduler, which takes the workers' claim.
    expected = {("platform-airflow-triggerer", "logs", "10Gi"), ("platform-airflow-scheduler", "logs", "10Gi")} if stack == "dev" else set()
    assert claims == expected


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_git_sync_checks_out_the_configured_branch(renders: dict[str, StackRender], stack: str) -> None:
    processor = _one(renders[stack], "Deployment", "-dag-processor")
    sidecar = next(c for c in processor.manifest["spec"]["template"]["spec"]["containers"] if c["name"] == "git-sync")
    env = {e["name"]: e.get("value") for e in sidecar["env"]}
    assert env["GITSYNC_REF"] == env["GIT_SYNC_BRANCH"] != "v2-2-stable", env


@pytest.mark.parametrize("stack", STACKS)
def test_parser_warm_up_is_switched_on_for_the_dag_processor_process_only(renders: dict[str, StackRender], stack: str) -> None:
    everywhere = [
        (o.name, c["name"])
        for o in renders[stack].applied
        if (spec := pod_spec(o.manifest)) is not None
        for _, c in containers(spec)
        if any(e.get("name") == "AIRFLOW_PLATFORM_WARM_PARSER" for e in c.get("env") or [])
    ]
    assert everywhere == [], "on a container's env, probes and kubectl exec would warm up too"
    processor = _one(renders[stack], "Deployment", "-dag-processor")
    main = next(c for c in processor.manifest["spec"]["template"]["spec"]["containers"] if c["name"] == "dag-processor")
    assert main["args"] == ["bash", "-c", "exec env AIRFLOW_PLATFORM_WARM_PARSER=true airflow dag-processor"]
    probe = " ".join(main["livenessProbe"]["exec"]["command"])
    assert "AIRFLOW_PLATFORM_WARM_PARSER" not in probe


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_ha_vault_unseals_with_its_kms_key_and_is_ready_before_init(renders: dict[str, StackRender], stack: str) -> None:
    """Auto-unseal with the KMS key the stack creates; a sealed or uninitialised server still passes readiness, so the
    first `pulumi up` does not wait forever on a StatefulSet nobody has initialised yet."""
    render = renders[stack]
    vault = _one(render, "StatefulSet", "platform-vault")
    container = vault.manifest["spec"]["template"]["spec"]["containers"][0]
    probe = container["readinessProbe"]["httpGet"]["path"]
    assert "sealedcode=204" in probe and "uninitcode=204" in probe
    config = _one(render, "ConfigMap", "platform-vault-config").manifest["data"]["extraconfig-from-values.hcl"]
    assert 'seal "awskms"' in config and 'kms_key_id = "' in config
    account = _one(render, "ServiceAccount", "platform-vault")
    assert account.manifest["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    assert vault.manifest["spec"]["template"]["spec"]["serviceAccountName"] == "platform-vault"


@pytest.mark.parametrize("stack", STACKS)
def test_airflow_pods_roll_when_their_secrets_change(renders: dict[str, StackRender], stack: str) -> None:
    """Every Airflow workload that reads one of the component's Secrets carries the digest of them in its pod template."""
    workloads = [
        o
        for o in renders[stack].applied
        if o.origin == "platform-airflow"
        and o.kind in ("Deployment", "StatefulSet")
        and any(r.kind == "Secret" and r.name.startswith("platform-airflow-") for r in references(o.manifest))
    ]
    assert len(workloads) >= 4
    digests = {o.name: (o.manifest["spec"]["template"]["metadata"].get("annotations") or {}).get("airflow-platform/secrets-digest") for o in workloads}
    assert all(d and len(d) == 64 for d in digests.values()), digests
    assert len(set(digests.values())) == 1


def test_mlflow_replicas_have_a_disruption_budget_that_selects_them(renders: dict[str, StackRender]) -> None:
    render = renders["prod"]
    deployment = _one(render, "Deployment", "platform-mlflow")
    assert deployment.manifest["spec"]["replicas"] == 2
    pdb = _one(render, "PodDisruptionBudget", "platform-mlflow")
    labels = deployment.manifest["spec"]["template"]["metadata"]["labels"]
    assert pdb.manifest["spec"]["maxUnavailable"] == 1
    assert pdb.manifest["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert not [o for o in renders["dev"].applied if o.kind == "PodDisruptionBudget" and "mlflow" in o.name], "one replica needs no budget"


@pytest.fixture(scope="module")
def airflow_variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Rendered]]:
    """Each stack's Airflow values under every executor (scripts/airflow-variants.ts), rendered with helm."""
    if charts_dir() is None:
        pytest.skip("../shared is absent: no chart tarballs")
    proc = subprocess.run(["npx", "--no-install", "ts-node", "--transpile-only", "scripts/airflow-variants.ts"], cwd=REPO, capture_output=True, text=True, check=True)
    chart = next(charts_dir().glob("airflow-*.tgz"))  # type: ignore[union-attr]
    folder = tmp_path_factory.mktemp("variants")
    rendered = {}
    for key, values in json.loads(proc.stdout).items():
        file = folder / f"{key.replace('/', '-')}.json"
        file.write_text(json.dumps(values))
        spec = ReleaseSpec(key, "platform-airflow", "platform-airflow", "airflow", str(chart), None, file)
        docs = [with_namespace(m, "airflow", set()) for m in load_documents(helm_template(spec, "1.34.0"))]
        rendered[key] = [o for o in (Rendered(key, "platform-airflow", m) for m in docs) if not o.hook]
    return rendered


def test_every_executor_variant_is_restricted_and_sized(airflow_variants: dict[str, list[Rendered]]) -> None:
    assert len(airflow_variants) == 12
    for key, objects in airflow_variants.items():
        kinds = {(o.kind, o.name) for o in objects}
        if "celery-chart-redis" in key:
            assert ("StatefulSet", "platform-airflow-redis") in kinds, f"{key}: the chart's Redis is rendered"
        if "celery" in key:
            assert any(name == "platform-airflow-worker" for _, name in kinds), f"{key}: Celery workers are rendered"
        findings, _ = violations(objects)
        assert not findings, f"{key}:\n" + "\n".join(map(str, findings))
        unsized = missing_resources(objects)
        assert not unsized, f"{key}:\n" + "\n".join(map(str, unsized))


@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_container_has_requests_and_limits(renders: dict[str, StackRender], stack: str) -> None:
    unsized = missing_resources(renders[stack].applied)
    # The MLflow chart's db-check init container has no resources value (waived in policy/exceptions.ts too).
    unsized = [f for f in unsized if not (f.obj.origin == "platform-mlflow" and "dbchecker" in f.where)]
    assert not unsized, "\n".join(map(str, unsized))
