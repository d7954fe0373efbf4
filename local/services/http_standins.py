"""The HTTP stand-ins process (Slack webhook, OAuth2 paginated API, flaky service, recorder): local/standins/http_api.py."""

from __future__ import annotations

from local import paths, ports, proc
from local.secrets import secret
from local.services.base import Endpoint, Service, http_ok, python_module_proc

CLIENT_ID = "local-platform-client"


def base_url() -> str:
    return f"http://{ports.HOST}:{ports.port('http_standins')}"


def client_secret() -> str:
    return secret("http_api_client_secret")


class HttpStandins(Service):
    name = "http_standins"
    tcp_ports = ("http_standins",)
    stand_in_for = "Slack incoming webhooks, an OAuth2 partner API, a flaky dependency"

    def prepare(self) -> None:
        client_secret()

    def processes(self) -> list[proc.ProcSpec]:
        return [python_module_proc(
            "http_standins", "local.standins.http_api",
            "--host", ports.HOST, "--port", str(ports.port("http_standins")), "--client-id", CLIENT_ID,
            "--client-secret-file", str(paths.SECRETS / "http_api_client_secret"),
            "--record-file", str(self.data_dir() / "recorded.jsonl"),
        )]

    def health(self) -> str | None:
        return http_ok(f"{base_url()}/_health")

    def endpoint(self) -> Endpoint:
        return Endpoint(url=base_url(), login=f"OAuth2 client {CLIENT_ID}, secret in {paths.SECRETS}/http_api_client_secret",
                        extra={"slack": f"{base_url()}/slack/", "oauth_token": f"{base_url()}/oauth/token",
                               "items": f"{base_url()}/api/items", "flaky": f"{base_url()}/flaky/",
                               "recorded": f"{base_url()}/_recorded"})
