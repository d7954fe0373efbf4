"""SMTP on aiosmtpd; every message is saved under .local/data/smtp/ as .eml (local/standins/smtp_server.py)."""

from __future__ import annotations

from pathlib import Path

from local import ports, proc
from local.services.base import Endpoint, Service, python_module_proc


def mail_dir() -> Path:
    return Smtp().data_dir()


class Smtp(Service):
    name = "smtp"
    tcp_ports = ("smtp",)
    stand_in_for = "a mail relay (aiosmtpd sink)"

    def processes(self) -> list[proc.ProcSpec]:
        return [python_module_proc("smtp", "local.standins.smtp_server", "--host", ports.HOST,
                                   "--port", str(ports.port("smtp")), "--dir", str(self.data_dir()))]

    def health(self) -> str | None:
        import smtplib

        try:
            with smtplib.SMTP(ports.HOST, ports.port("smtp"), timeout=2) as client:
                code, _ = client.noop()
        except OSError as error:
            return f"SMTP NOOP failed: {error}"
        return None if code == 250 else f"SMTP NOOP answered {code}"

    def endpoint(self) -> Endpoint:
        return Endpoint(url=f"smtp://{ports.HOST}:{ports.port('smtp')}", extra={"mail_dir": str(self.data_dir())})
