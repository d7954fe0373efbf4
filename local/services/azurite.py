"""Azurite (npm), the Azure Blob Storage stand-in, blob service only, with a generated account key."""

from __future__ import annotations

import base64

from local import paths, ports, proc
from local.secrets import secret
from local.services.base import Endpoint, Service, http_ok

ACCOUNT = "platformlocal"


def account_key() -> str:
    # Azure account keys are base64 of 64 bytes; derive one from the generated secret so it is stable across restarts.
    return base64.b64encode(bytes.fromhex(secret("azurite_account_key", length=128))).decode()


def blob_endpoint() -> str:
    return f"http://{ports.HOST}:{ports.port('azure_blob')}/{ACCOUNT}"


def connection_string() -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={account_key()};"
            f"BlobEndpoint={blob_endpoint()};")


def azurite_bin():
    return paths.OPT / "azurite" / "node_modules" / ".bin" / "azurite-blob"


class Azurite(Service):
    name = "azure_blob"
    tcp_ports = ("azure_blob",)
    install_script = "azurite.sh"
    stand_in_for = "Azure Blob Storage (Azurite)"

    def installed(self) -> bool:
        return azurite_bin().exists()

    def processes(self) -> list[proc.ProcSpec]:
        return [proc.ProcSpec(
            name="azure_blob",
            argv=[str(azurite_bin()), "--blobHost", ports.HOST, "--blobPort", str(ports.port("azure_blob")),
                  "--location", str(self.data_dir()), "--skipApiVersionCheck", "--loose"],
            env={"AZURITE_ACCOUNTS": f"{ACCOUNT}:{account_key()}"},  # by environment: argv is visible in `ps`
        )]

    def health(self) -> str | None:
        # Any HTTP answer (an unauthenticated request gets 4xx) means the blob service is serving.
        return http_ok(f"{blob_endpoint()}?comp=list", expect=(200, 400, 403))

    def provision(self) -> None:
        from azure.storage.blob import BlobServiceClient

        from local import contract

        client = BlobServiceClient.from_connection_string(connection_string())
        existing = {c.name for c in client.list_containers()}
        for bucket in sorted(contract.all_buckets() - existing):
            client.create_container(bucket)

    def endpoint(self) -> Endpoint:
        return Endpoint(url=blob_endpoint(), login=f"account {ACCOUNT}, key in {paths.SECRETS}/azurite_account_key")
