"""PostgreSQL from Debian, one cluster on loopback; a database and a login role per consumer (contract table)."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import signal
from pathlib import Path

from local import paths, ports, proc
from local.secrets import secret
from local.services.base import Endpoint, Service, ServiceError

DATABASES = ("airflow", "mlflow", "marquez", "warehouse", "feast")
SUPERUSER = "postgres"
OS_USER = "postgres"  # the server refuses to run as root; Debian's package creates this user


def _bindir() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(candidates[-1]) if candidates else None


def password(database: str) -> str:
    return secret(f"postgres_{database}")


def dsn(database: str, *, scheme: str = "postgresql") -> str:
    """SQLAlchemy/libpq URI of `database`, logged in as the role of the same name."""
    if database not in DATABASES:
        raise ServiceError(f"postgres: unknown database {database!r}; the platform creates {', '.join(DATABASES)}")
    return f"{scheme}://{database}:{password(database)}@{ports.HOST}:{ports.port('postgres')}/{database}"


class Postgres(Service):
    name = "postgres"
    tcp_ports = ("postgres",)
    install_script = "apt.sh"
    start_timeout = 60.0

    def installed(self) -> bool:
        return _bindir() is not None

    def _run_as(self) -> str | None:
        return OS_USER if os.geteuid() == 0 else None

    def base(self) -> Path:
        """Where the cluster lives: under the state dir, unless OS user postgres cannot reach it there (a checkout
        below a private directory, e.g. a CI clone in a mode-700 temp dir): then under /var/lib/postgresql."""
        base = self.data_dir()
        if os.geteuid() != 0 or self._reachable(base):
            return base
        digest = hashlib.sha256(str(paths.HOME).encode()).hexdigest()[:12]
        fallback = Path("/var/lib/postgresql") / f"local-platform-{digest}"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback

    @staticmethod
    def _reachable(base: Path) -> bool:
        """Every parent searchable by others; our own state dir's parents are made so (pass through, not list)."""
        for parent in reversed([p for p in base.parents if p != p.parent]):
            mode = parent.stat().st_mode
            if mode & 0o001:
                continue
            if parent == paths.HOME or paths.HOME in parent.parents:
                parent.chmod(mode | 0o001)
            else:
                return False
        return True

    def _datadir(self) -> Path:
        return self.base() / "pgdata"

    def _sockets(self) -> Path:
        return self.base() / "sockets"

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, OS_USER, OS_USER)

    def prepare(self) -> None:
        bindir = _bindir()
        if bindir is None:
            raise ServiceError("postgres: no server binary under /usr/lib/postgresql/*/bin (scripts/install/apt.sh)")
        base = self.base()
        self._chown(base)
        self._sockets().mkdir(parents=True, exist_ok=True)
        self._chown(self._sockets())
        datadir = self._datadir()
        if (datadir / "PG_VERSION").exists():
            return
        pwfile = base / ".initpw"
        pwfile.write_text(secret("postgres_superuser"))
        pwfile.chmod(0o600)
        self._chown(pwfile)
        try:
            proc.run([f"{bindir}/initdb", "-D", str(datadir), "-U", SUPERUSER, f"--pwfile={pwfile}",
                      "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"], user=self._run_as())
        finally:
            pwfile.unlink(missing_ok=True)

    def processes(self) -> list[proc.ProcSpec]:
        bindir = _bindir() or "/usr/lib/postgresql/15/bin"
        return [proc.ProcSpec(
            name="postgres",
            argv=[f"{bindir}/postgres", "-D", str(self._datadir()),
                  "-c", f"listen_addresses={ports.HOST}", "-c", f"port={ports.port('postgres')}",
                  "-c", f"unix_socket_directories={self._sockets()}",
                  "-c", "max_connections=200", "-c", "shared_buffers=128MB", "-c", "fsync=on"],
            user=self._run_as(),
            stop_signal=signal.SIGINT,  # "fast" shutdown: SIGTERM would wait for every client to leave
        )]

    def health(self) -> str | None:
        reason = super().health()
        if reason:
            return reason
        try:
            self._superuser_connect().close()
        except Exception as error:
            return f"login failed: {error}"
        return None

    def _superuser_connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(host=ports.HOST, port=ports.port("postgres"), user=SUPERUSER,
                               password=secret("postgres_superuser"), dbname=database, autocommit=True,
                               connect_timeout=3)

    def provision(self) -> None:
        from psycopg import sql

        with self._superuser_connect() as conn:
            for database in DATABASES:
                role = sql.Identifier(database)
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (database,)).fetchone()
                verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
                conn.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(verb, role, sql.Literal(password(database))))
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                    conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(role, role))

    def endpoint(self) -> Endpoint:
        return Endpoint(
            url=f"postgresql://{ports.HOST}:{ports.port('postgres')}",
            login=f"role = database name; passwords in {paths.SECRETS}/postgres_<db>",
        )
