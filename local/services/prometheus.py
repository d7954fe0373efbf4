"""Prometheus from Debian, scraping statsd_exporter (Airflow metrics) every 5 s; TSDB in the data dir."""

from __future__ import annotations

import shutil

from local import ports, proc
from local.services.base import Endpoint, Service, http_ok


def base_url() -> str:
    return f"http://{ports.HOST}:{ports.port('prometheus')}"


class Prometheus(Service):
    name = "prometheus"
    depends = ("statsd",)
    tcp_ports = ("prometheus",)
    install_script = "apt.sh"

    def installed(self) -> bool:
        return shutil.which("prometheus") is not None

    def prepare(self) -> None:
        (self.data_dir() / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n"
            "scrape_configs:\n"
            "  - job_name: airflow-statsd\n"
            f"    static_configs: [{{targets: ['{ports.HOST}:{ports.port('statsd_metrics')}']}}]\n"
            "  - job_name: prometheus\n"
            f"    static_configs: [{{targets: ['{ports.HOST}:{ports.port('prometheus')}']}}]\n"
        )

    def processes(self) -> list[proc.ProcSpec]:
        data = self.data_dir()
        return [proc.ProcSpec(name="prometheus", argv=[
            shutil.which("prometheus") or "prometheus",
            f"--config.file={data / 'prometheus.yml'}",
            f"--storage.tsdb.path={data / 'tsdb'}",
            f"--web.listen-address={ports.HOST}:{ports.port('prometheus')}",
            "--storage.tsdb.retention.time=7d",
        ])]

    def health(self) -> str | None:
        return http_ok(f"{base_url()}/-/ready")

    def endpoint(self) -> Endpoint:
        return Endpoint(url=base_url())
