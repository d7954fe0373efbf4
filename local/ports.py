"""Loopback ports of every local service (docs/team-contract.md); each is overridable with env LOCAL_PORT_<NAME>."""

from __future__ import annotations

import os
import socket

HOST = "127.0.0.1"

DEFAULTS: dict[str, int] = {
    "postgres": 15432,
    "redis": 16379,
    "kafka": 19092,
    "kafka_controller": 19093,
    "mlflow": 15000,
    "marquez": 15050,
    "marquez_admin": 15051,
    "prometheus": 19090,
    "statsd": 19125,  # UDP
    "statsd_metrics": 19102,
    "smtp": 11025,
    "s3": 15055,
    "azure_blob": 15100,
    "http_standins": 15070,
    "vault": 18200,
    "bigquery": 15090,
    "airflow": 18080,
}


def port(name: str) -> int:
    """The port for `name`: LOCAL_PORT_<NAME> if set, else the contract default."""
    if name not in DEFAULTS:
        raise KeyError(f"unknown port name {name!r}; known: {', '.join(sorted(DEFAULTS))}")
    raw = os.environ.get(f"LOCAL_PORT_{name.upper()}")
    if raw is None or raw == "":
        return DEFAULTS[name]
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"LOCAL_PORT_{name.upper()}={raw!r} is not a port number") from None
    if not 0 < value < 65536:
        raise ValueError(f"LOCAL_PORT_{name.upper()}={value} is outside 1..65535")
    return value


def tcp_open(port_number: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port_number), timeout=timeout):
            return True
    except OSError:
        return False


def udp_free(port_number: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port_number))
        except OSError:
            return False
    return True


def tcp_free(port_number: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port_number))
        except OSError:
            return False
    return True
