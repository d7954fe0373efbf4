"""S3 stand-in: moto's server mode (from the Python lock). Buckets of every needs.yaml are created at start."""

from __future__ import annotations

from typing import Any

from local import paths, ports, proc
from local.secrets import secret
from local.services.base import Endpoint, Service, http_ok, python_module_proc

REGION = "us-east-1"
ACCESS_KEY_ID = "local-platform"


def endpoint_url() -> str:
    return f"http://{ports.HOST}:{ports.port('s3')}"


def credentials() -> dict[str, str]:
    return {"aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": secret("s3_secret_key"), "region_name": REGION}


def client() -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url(), **credentials())


class S3(Service):
    name = "s3"
    tcp_ports = ("s3",)
    stand_in_for = "AWS S3 (moto server)"

    def processes(self) -> list[proc.ProcSpec]:
        return [python_module_proc("s3", "moto.server", "-H", ports.HOST, "-p", str(ports.port("s3")))]

    def health(self) -> str | None:
        return http_ok(f"{endpoint_url()}/moto-api/data.json")

    def provision(self) -> None:
        from local import contract

        s3 = client()
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        for bucket in sorted(contract.all_buckets() - existing):
            s3.create_bucket(Bucket=bucket)

    def endpoint(self) -> Endpoint:
        return Endpoint(url=endpoint_url(), login=f"key {ACCESS_KEY_ID}, secret in {paths.SECRETS}/s3_secret_key")
