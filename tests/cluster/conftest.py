"""Fixtures for tests against the local Kubernetes control plane (cluster/controlplane.py).

`control_plane` (session-scoped) starts one plane in a temporary state directory and stops it at the end of the
session. Without the binaries (`bash scripts/install/kube.sh` builds them) the tests are skipped on a developer's
machine, and fail under CI (env CI set), where setup must have built them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster import controlplane
from cluster.paths import shared_dir
from cluster.render import StackRender, helm_binary, render_all


def require_binaries() -> None:
    """Skip (or, under CI, fail) when the control plane's binaries are not built."""
    missing = controlplane.missing_binaries()
    if not missing:
        return
    message = f"control-plane binaries missing in {controlplane.bin_dir()}: {', '.join(missing)} (bash scripts/install/kube.sh)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kube_binaries() -> Path:
    """The directory of the built binaries (skips, or fails under CI, when they are missing)."""
    require_binaries()
    return controlplane.bin_dir()


@pytest.fixture(scope="session")
def control_plane(kube_binaries: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[controlplane.ControlPlane]:
    """A running plane (3 kwok nodes) in its own state directory; stopped, with all its processes, afterwards."""
    state: Path = tmp_path_factory.mktemp("cluster")
    plane = controlplane.start(state)
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackRender]:
    """Every stack evaluated with the local chart tarballs and rendered with a real helm (cluster/render.py)."""
    if shared_dir() is None:
        pytest.skip("../shared is absent: no chart tarballs or upstream schemas to render and validate against")
    if not helm_binary().is_file():
        pytest.fail(f"helm is not built at {helm_binary()}: scripts/setup.sh runs scripts/install/helm.sh")
    return render_all(tmp_path_factory.mktemp("render"))
