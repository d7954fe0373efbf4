"""Each stack's rendered objects applied to a real Kubernetes 1.37 API server (kwok nodes), as a first deploy would.

Every object the stack would apply (cluster/render.py: chart releases without their hooks, plus the program's own
objects) goes in with server-side apply and strict field validation, in dependency order (cluster/apply.py). Each
stack gets its own control plane, as it gets its own cluster: the charts' cluster-scoped objects (ClusterRoles,
CRDs) carry the same names in every stack. Then every Deployment and StatefulSet must become fully available and
every Job complete, with pods scheduled by the real scheduler onto kwok's simulated nodes and PVCs bound.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from cluster import apply as kube_apply
from cluster import controlplane, figures
from cluster.paths import shared_dir
from cluster.prerequisites import addon_crds, required_addons
from cluster.render import STACKS, StackRender

pytestmark = pytest.mark.timeout(1200)

FIELD_MANAGER = "pulumi-kubernetes"


@pytest.fixture(scope="module")
def first_deploys(renders: dict[str, StackRender], kube_binaries: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[kube_apply.ApplyReport, kube_apply.ReadyReport]]:
    results = {}
    for stack in STACKS:
        state: Path = tmp_path_factory.mktemp(f"cluster-{stack}")
        plane = controlplane.start(state)
        try:
            shared = shared_dir()
            assert shared is not None
            # The cluster's own add-ons first (KEDA's CRDs for staging and prod), as on the target cluster.
            addons = addon_crds(renders[stack].applied, shared)
            if addons:
                installed = kube_apply.apply(plane.kubeconfig, addons, "cluster-admin")
                assert installed.ok, installed.summary()
            manifests = [o.manifest for o in renders[stack].applied]
            namespace = next(s.namespace for s in renders[stack].releases)
            report = kube_apply.apply(plane.kubeconfig, manifests, FIELD_MANAGER, default_namespace=namespace)
            ready = kube_apply.wait_ready(plane.kubeconfig, manifests, timeout=300, default_namespace=namespace)
            results[stack] = (report, ready)
        finally:
            plane.stop()
    return results


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_is_accepted_by_the_api_server(first_deploys: dict[str, tuple[kube_apply.ApplyReport, kube_apply.ReadyReport]], renders: dict[str, StackRender], stack: str) -> None:
    report, _ = first_deploys[stack]
    assert report.ok, report.summary()
    assert len(report.applied) == len(renders[stack].applied), "every rendered object was applied once"
    kinds = Counter(ref.kind for ref in report.applied)
    figures.record("apply", stack, objects_applied=len(report.applied), rejections=len(report.rejections), crds=kinds["CustomResourceDefinition"], seconds=round(report.seconds, 1))


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_becomes_ready(first_deploys: dict[str, tuple[kube_apply.ApplyReport, kube_apply.ReadyReport]], stack: str) -> None:
    _, ready = first_deploys[stack]
    assert ready.ok, ready.summary()
    assert len(ready.ready) >= 8, f"too few workloads for a whole platform: {ready.ready}"
    kinds = Counter(ref.kind for ref in ready.ready)
    figures.record("apply", stack, workloads_ready=len(ready.ready), deployments=kinds["Deployment"], statefulsets=kinds["StatefulSet"], jobs=kinds["Job"])


def test_keda_is_the_only_cluster_add_on_and_only_where_workers_autoscale(renders: dict[str, StackRender]) -> None:
    assert {stack: required_addons(renders[stack].applied) for stack in STACKS} == {
        "dev": {},
        "staging": {"keda.sh": "KEDA 2.20"},
        "prod": {"keda.sh": "KEDA 2.20"},
    }
