"""statsd_exporter (go install): receives Airflow's StatsD over UDP, exposes Prometheus metrics (local/config/statsd_mapping.yml)."""

from __future__ import annotations

from local import paths, ports, proc
from local.services.base import Endpoint, Service, http_ok

MAPPING = paths.REPO / "local" / "config" / "statsd_mapping.yml"


class StatsdExporter(Service):
    name = "statsd"
    tcp_ports = ("statsd_metrics",)
    udp_ports = ("statsd",)
    install_script = "statsd_exporter.sh"

    def installed(self) -> bool:
        return (paths.BIN / "statsd_exporter").exists()

    def processes(self) -> list[proc.ProcSpec]:
        return [proc.ProcSpec(name="statsd", argv=[
            str(paths.BIN / "statsd_exporter"),
            f"--statsd.listen-udp={ports.HOST}:{ports.port('statsd')}",
            "--statsd.listen-tcp=",
            f"--web.listen-address={ports.HOST}:{ports.port('statsd_metrics')}",
            f"--statsd.mapping-config={MAPPING}",
        ])]

    def health(self) -> str | None:
        return http_ok(f"http://{ports.HOST}:{ports.port('statsd_metrics')}/metrics")

    def endpoint(self) -> Endpoint:
        return Endpoint(url=f"http://{ports.HOST}:{ports.port('statsd_metrics')}/metrics",
                        extra={"statsd_udp": f"{ports.HOST}:{ports.port('statsd')}"})
