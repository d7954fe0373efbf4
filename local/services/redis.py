"""Redis from Debian on loopback, password-protected, append-only file in the data dir."""

from __future__ import annotations

import shutil

from local import paths, ports, proc
from local.secrets import secret
from local.services.base import Endpoint, Service


def password() -> str:
    return secret("redis")


def url(db: int = 0) -> str:
    return f"redis://:{password()}@{ports.HOST}:{ports.port('redis')}/{db}"


class Redis(Service):
    name = "redis"
    tcp_ports = ("redis",)
    install_script = "apt.sh"

    def installed(self) -> bool:
        return shutil.which("redis-server") is not None

    def _config(self):
        # The config carries the password, so it lives with the other secrets (mode 600).
        return paths.SECRETS / "redis.conf"

    def prepare(self) -> None:
        config = self._config()
        config.write_text(
            f"bind {ports.HOST}\nport {ports.port('redis')}\nprotected-mode yes\ndaemonize no\n"
            f"dir {self.data_dir()}\nappendonly yes\nrequirepass {password()}\nsave 60 1\n"
        )
        config.chmod(0o600)

    def processes(self) -> list[proc.ProcSpec]:
        return [proc.ProcSpec(name="redis", argv=[shutil.which("redis-server") or "redis-server", str(self._config())])]

    def health(self) -> str | None:
        reason = super().health()
        if reason:
            return reason
        import redis

        try:
            redis.Redis.from_url(url(), socket_timeout=2).ping()
        except Exception as error:
            return f"PING failed: {error}"
        return None

    def endpoint(self) -> Endpoint:
        return Endpoint(url=f"redis://{ports.HOST}:{ports.port('redis')}", login=f"password in {paths.SECRETS}/redis")
