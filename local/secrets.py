"""Credentials: one file per secret under `.local/secrets/`, mode 600. Generated ones are created once and reused across
restarts (`secret`); ones a service hands out (Vault's unseal key, AppRole secret ids) are stored as given
(`write_secret`) and read back (`read_secret`)."""

from __future__ import annotations

import os
import re
import secrets as _random
from collections.abc import Callable
from pathlib import Path

from local import paths

_NAME = re.compile(r"^[a-z0-9_.-]+$")


def _path(name: str) -> Path:
    if not _NAME.match(name):
        raise ValueError(f"secret name {name!r} must match {_NAME.pattern}")
    paths.ensure_dirs()
    return paths.SECRETS / name


def _create_private(path: Path, value: str) -> None:
    """Create `path` with mode 0600 from the start (never readable by others, even briefly); fails if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)


def secret(name: str, *, length: int = 24, factory: Callable[[], str] | None = None) -> str:
    """The secret called `name`, generated on first use (hex, so it sits in connection URIs unquoted,
    or by `factory` when the consumer needs a format of its own, e.g. a Fernet key)."""
    path = _path(name)
    if path.exists():
        return path.read_text().strip()
    value = factory() if factory else _random.token_hex(length // 2)
    _create_private(path, value)
    return value


def read_secret(name: str) -> str | None:
    """The stored secret called `name`, or None when there is none."""
    path = _path(name)
    return path.read_text().strip() if path.exists() else None


def write_secret(name: str, value: str) -> None:
    """Store (or replace) the secret called `name`: written to a private temporary file, then renamed into place."""
    path = _path(name)
    partial = path.with_name(f".{name}.partial")
    partial.unlink(missing_ok=True)
    _create_private(partial, value)
    partial.replace(path)
