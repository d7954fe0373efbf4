"""The HTTP stand-ins process (Slack Web API, OAuth2 paginated API, flaky service, recorder): local/standins/http_api.py."""

from __future__ import annotations

import secrets as _random

from local import paths, ports, proc
from local.secrets import secret
from local.services.base import Endpoint, Service, http_ok, python_module_proc

CLIENT_ID = "local-platform-client"


def base_url() -> str:
    return f"http://{ports.HOST}:{ports.port('http_standins')}"


def client_secret() -> str:
    return secret("http_api_client_secret")


def slack_api_url() -> str:
    """The Slack Web API base URL (WebClient joins the method name to it, so it ends with a slash)."""
    return f"{base_url()}/slack/api/"


def slack_bot_token() -> str:
    """The workspace's bot token, generated once into .local/secrets/slack_bot_token, shaped like Slack's (xoxb-...)."""
    return secret("slack_bot_token", factory=lambda: f"xoxb-local-{_random.token_hex(16)}")


class HttpStandins(Service):
    name = "http_standins"
    tcp_ports = ("http_standins",)
    stand_in_for = "the Slack Web API (chat.postMessage, auth.test), an OAuth2 partner API, a flaky dependency"

    def prepare(self) -> None:
        client_secret()
        slack_bot_token()

    def processes(self) -> list[proc.ProcSpec]:
        return [python_module_proc(
            "http_standins", "local.standins.http_api",
            "--host", ports.HOST, "--port", str(ports.port("http_standins")), "--client-id", CLIENT_ID,
            "--client-secret-file", str(paths.SECRETS / "http_api_client_secret"),
            "--slack-bot-token-file", str(paths.SECRETS / "slack_bot_token"),
            "--record-file", str(self.data_dir() / "recorded.jsonl"),
        )]

    def health(self) -> str | None:
        return http_ok(f"{base_url()}/_health")

    def endpoint(self) -> Endpoint:
        return Endpoint(url=base_url(), login=f"OAuth2 client {CLIENT_ID}, secret in {paths.SECRETS}/http_api_client_secret; "
                                              f"Slack bot token in {paths.SECRETS}/slack_bot_token",
                        extra={"slack_api": slack_api_url(), "oauth_token": f"{base_url()}/oauth/token",
                               "items": f"{base_url()}/api/items", "flaky": f"{base_url()}/flaky/",
                               "recorded": f"{base_url()}/_recorded"})
