"""Generated credentials: one file per secret under `.local/secrets/`, mode 600, created once and reused across restarts."""

from __future__ import annotations

import os
import re
import secrets as _random
from collections.abc import Callable

from local import paths

_NAME = re.compile(r"^[a-z0-9_.-]+$")


def secret(name: str, *, length: int = 24, factory: Callable[[], str] | None = None) -> str:
    """The secret called `name`, generated on first use (hex, so it sits in connection URIs unquoted,
    or by `factory` when the consumer needs a format of its own, e.g. a Fernet key)."""
    if not _NAME.match(name):
        raise ValueError(f"secret name {name!r} must match {_NAME.pattern}")
    paths.ensure_dirs()
    path = paths.SECRETS / name
    if path.exists():
        return path.read_text().strip()
    value = factory() if factory else _random.token_hex(length // 2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
