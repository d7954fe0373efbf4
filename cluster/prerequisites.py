"""What a target cluster must already run for a stack: cluster-wide add-ons the platform uses but does not install.

KEDA scales the Celery workers when `airflow.keda.enabled` (staging, prod): it is one per cluster, shared by every
tenant, so the platform expects it installed (README, "Deploying a stack") and only creates ScaledObjects. A test
cluster gets the add-on's CRDs from ../shared/schemas, the same upstream files the validation reads, so that the
custom resources the stack creates are served as on a real cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cluster.render import Rendered, load_documents

# API group -> the add-on that serves it, and its CRD files under ../shared/schemas.
CLUSTER_ADDONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "keda.sh": ("KEDA 2.20", ("keda/keda.sh_scaledobjects.yaml",)),
}


def required_addons(objects: list[Rendered]) -> dict[str, str]:
    """API group -> add-on, for the groups the stack's objects use that none of its own CRDs serves."""
    served = {str(o.manifest["spec"]["group"]) for o in objects if o.kind == "CustomResourceDefinition"}
    used = {o.api_version.rpartition("/")[0] for o in objects if "/" in o.api_version}
    return {group: CLUSTER_ADDONS[group][0] for group in sorted(used - served) if group in CLUSTER_ADDONS}


def addon_crds(objects: list[Rendered], shared: Path) -> list[dict[str, Any]]:
    """The CRDs of every add-on the stack needs, for a test cluster standing in for the target one."""
    crds: list[dict[str, Any]] = []
    for group in required_addons(objects):
        for relative in CLUSTER_ADDONS[group][1]:
            crds.extend(load_documents((shared / "schemas" / relative).read_text()))
    return crds
