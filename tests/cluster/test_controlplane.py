"""The local Kubernetes control plane (cluster/controlplane.py) and the applier (cluster/apply.py), for real.

One plane per session (fixture `control_plane` in conftest.py): etcd, kube-apiserver, kube-controller-manager and
kube-scheduler v1.37 built from source, kwok playing three nodes. Workloads are applied with server-side apply and
strict validation and must become ready the way they would on a real cluster.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from cluster import apply as applier
from cluster import controlplane
from cluster.controlplane import ControlPlane

NS = "cp-test"


def kubectl(plane: ControlPlane, *args: str) -> Any:
    proc = subprocess.run(
        [controlplane.kubectl_path(), f"--kubeconfig={plane.kubeconfig}", *args, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(proc.stdout)


def workload_objects() -> list[dict[str, Any]]:
    labels = {"app": "web"}
    container = {
        "name": "main",
        "image": "registry.example/web:1.0",
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}},
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},  # no namespace: the default_namespace is used
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [container],
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": "topology.kubernetes.io/zone",
                                "whenUnsatisfiable": "DoNotSchedule",
                                "labelSelector": {"matchLabels": labels},
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": NS},
            "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": NS},
            "spec": {
                "serviceName": "db",
                "replicas": 2,
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "postgres",
                                "image": "postgres:17",
                                "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
                                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
                            }
                        ]
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
                    }
                ],
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate", "namespace": NS},
            "spec": {
                "backoffLimit": 1,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "migrate", "image": "busybox:1.36", "command": ["true"]}],
                    }
                },
            },
        },
    ]


def test_api_server_reports_v1_37(control_plane: ControlPlane) -> None:
    assert control_plane.version.startswith("v1.37."), control_plane.version
    version = kubectl(control_plane, "version")
    assert version["serverVersion"]["gitVersion"] == control_plane.version
    assert version["clientVersion"]["gitVersion"].startswith("v1.37."), "kubectl must match the server's minor"
    assert all(h == "ok" for h in control_plane.healthy().values()), control_plane.healthy()


def test_kwok_nodes_are_ready_in_three_zones(control_plane: ControlPlane) -> None:
    nodes = kubectl(control_plane, "get", "nodes")["items"]
    assert len(nodes) == 3
    for node in nodes:
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert ready.get("Ready") == "True", node["metadata"]["name"]
        assert node["status"]["allocatable"]["cpu"] == "16"
        assert not node["spec"].get("taints"), node["spec"].get("taints")
    zones = sorted(n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes)
    assert zones == ["local-a", "local-b", "local-c"]


def test_default_storage_class(control_plane: ControlPlane) -> None:
    classes = kubectl(control_plane, "get", "storageclasses")["items"]
    defaults = [
        c["metadata"]["name"]
        for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"
    ]
    assert defaults == ["standard"]


def test_workloads_become_ready(control_plane: ControlPlane) -> None:
    objects = workload_objects()
    report = applier.apply(control_plane.kubeconfig, objects, "cp-test", default_namespace=NS)
    assert report.ok, report.summary()
    assert len(report.applied) == len(objects)
    ready = applier.wait_ready(control_plane.kubeconfig, objects, timeout=120, default_namespace=NS)
    assert ready.ok, ready.summary()
    assert {str(r) for r in ready.ready} == {f"Deployment {NS}/web", f"StatefulSet {NS}/db", f"Job {NS}/migrate"}

    pvcs = kubectl(control_plane, "get", "pvc", "-n", NS)["items"]
    assert sorted(p["metadata"]["name"] for p in pvcs) == ["data-db-0", "data-db-1"]
    assert {p["status"]["phase"] for p in pvcs} == {"Bound"}
    assert {p["spec"]["storageClassName"] for p in pvcs} == {"standard"}  # the default class, by admission
    job = kubectl(control_plane, "get", "job", "migrate", "-n", NS)
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])
    web_pods = kubectl(control_plane, "get", "pods", "-n", NS, "-l", "app=web")["items"]
    assert len({p["spec"]["nodeName"] for p in web_pods}) == 2, "topology spread puts the replicas in two zones"

    again = applier.apply(control_plane.kubeconfig, objects, "cp-test", default_namespace=NS)
    assert again.ok, again.summary()  # server-side apply is idempotent


def test_unschedulable_workload_is_reported_with_the_reason(control_plane: ControlPlane) -> None:
    big = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "too-big", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "too-big"}},
            "template": {
                "metadata": {"labels": {"app": "too-big"}},
                "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "64"}}}]},
            },
        },
    }
    assert applier.apply(control_plane.kubeconfig, [big], "cp-test").ok
    ready = applier.wait_ready(control_plane.kubeconfig, [big], timeout=10, poll=1)
    assert not ready.ok
    text = ready.summary()
    assert "Deployment default/too-big" in text
    assert "Insufficient cpu" in text, text


def test_strict_validation_rejects_unknown_field(control_plane: ControlPlane) -> None:
    good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good"}, "data": {"k": "v"}}
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "typo", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "typo"}},
            "template": {
                "metadata": {"labels": {"app": "typo"}},
                "spec": {"containers": [{"name": "c", "image": "x", "imagePullPolicyy": "Always"}]},
            },
        },
    }
    report = applier.apply(control_plane.kubeconfig, [good, bad], "cp-test", default_namespace="default")
    assert [str(r) for r in report.applied] == ["ConfigMap default/good"]
    assert len(report.rejections) == 1, report.summary()
    rejection = report.rejections[0]
    assert (rejection.ref.kind, rejection.ref.namespace, rejection.ref.name) == ("Deployment", "default", "typo")
    assert "imagePullPolicyy" in rejection.message, rejection.message
    # Server-side apply's strict validation: the typed patch does not accept a field the schema lacks.
    assert "field not declared in schema" in rejection.message, rejection.message


def test_crd_then_custom_resource_in_one_call(control_plane: ControlPlane) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": {"size": {"type": "integer", "maximum": 10}}}
                            },
                        }
                    },
                }
            ],
        },
    }
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}
    too_big = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2"}, "spec": {"size": 11}}
    # Listed CR first: the applier still orders the CRD (and waits until it is Established) before it.
    report = applier.apply(control_plane.kubeconfig, [widget, too_big, crd], "cp-test", default_namespace="default")
    assert [str(r) for r in report.applied] == ["CustomResourceDefinition widgets.example.com", "Widget default/w"]
    assert [r.ref.name for r in report.rejections] == ["w2"]
    assert "spec.size" in report.rejections[0].message, report.rejections[0].message


def test_webhook_configurations_are_stored_but_not_called(control_plane: ControlPlane) -> None:
    webhook = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "simulated-operator"},
        "webhooks": [
            {
                "name": "vconfigmap.example.com",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "clientConfig": {"service": {"name": "nobody-home", "namespace": "default", "path": "/validate"}},
                "rules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}
                ],
            }
        ],
    }
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after-webhook", "namespace": "default"}}
    assert applier.apply(control_plane.kubeconfig, [webhook], "cp-test").ok
    # On this plane the webhook is never called (documented in cluster/controlplane.py), so a create succeeds.
    report = applier.apply(control_plane.kubeconfig, [cm], "cp-test")
    assert report.ok, report.summary()
    # A malformed webhook configuration is still rejected by the API server's own validation.
    broken = json.loads(json.dumps(webhook))
    broken["metadata"]["name"] = "broken"
    broken["webhooks"][0]["sideEffects"] = "Sometimes"
    report = applier.apply(control_plane.kubeconfig, [broken], "cp-test")
    assert len(report.rejections) == 1 and "sideEffects" in report.rejections[0].message, report.summary()


def test_listening_sockets_are_loopback_only(control_plane: ControlPlane) -> None:
    listening: list[tuple[str, str, int]] = []
    for name, pid in control_plane.pids.items():
        proc = psutil.Process(pid)
        for p in [proc, *proc.children(recursive=True)]:
            for conn in p.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    listening.append((name, conn.laddr.ip, conn.laddr.port))
    assert {name for name, _, _ in listening} == set(controlplane.COMPONENTS), listening
    assert all(ip == "127.0.0.1" for _, ip, _ in listening), listening


def test_start_reuses_the_running_plane(control_plane: ControlPlane) -> None:
    again = controlplane.start(control_plane.state_dir)
    assert again.reused
    assert again.server == control_plane.server
    assert again.pids == control_plane.pids


def test_memory_within_budget(control_plane: ControlPlane) -> None:
    total = sum(control_plane.memory_bytes().values())
    assert total < 800 * 2**20, control_plane.memory_bytes()  # budget ~0.6 GB; a margin for GC timing


def test_stop_leaves_no_process_and_restart_keeps_data(kube_binaries: Path, tmp_path: Path) -> None:
    plane = controlplane.start(tmp_path, nodes=1)
    try:
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept", "namespace": "default"}}
        assert applier.apply(plane.kubeconfig, [cm], "cp-test").ok
        pids = list(plane.pids.values())
    finally:
        plane.stop()
    time.sleep(0.2)
    assert [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"] == []
    assert controlplane.running(tmp_path) is None

    plane = controlplane.start(tmp_path, nodes=1)  # same state dir: etcd data and certificates are reused
    try:
        assert not plane.reused
        assert kubectl(plane, "get", "configmap", "kept", "-n", "default")["metadata"]["name"] == "kept"
    finally:
        plane.stop()


def test_cli_status_and_help(control_plane: ControlPlane) -> None:
    from cluster.controlplane import main

    assert main(["status", "--state", str(control_plane.state_dir)]) == 0
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0


def test_a_component_that_fails_is_named_with_its_log(
    kube_binaries: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "tools" / "bin"
    fake.mkdir(parents=True)
    for name in controlplane.BINARIES:
        (fake / name).symlink_to(kube_binaries / name)
    (fake.parent / "stages").symlink_to(controlplane.stages_dir(kube_binaries))
    (fake / "kube-apiserver").unlink()
    (fake / "kube-apiserver").write_text("#!/bin/sh\necho 'E1207 cannot listen: simulated failure' >&2\nexit 3\n")
    (fake / "kube-apiserver").chmod(0o755)
    monkeypatch.setenv("KUBE_BIN_DIR", str(fake))
    state = tmp_path / "state"
    with pytest.raises(controlplane.ControlPlaneError) as err:
        controlplane.start(state, nodes=1, timeout=30)
    message = str(err.value)
    assert message.startswith("kube-apiserver exited during start-up (exit code 3)"), message
    assert "simulated failure" in message
    assert controlplane.running(state) is None
    assert not (state / "plane.json").exists()  # etcd, already started, was stopped again
