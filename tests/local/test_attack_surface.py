"""The local platform's attack surface, enumerated rather than assumed (issue #19):

- every socket a platform process (or any of its children) listens on is bound to loopback: TCP listeners, and UDP
  sockets on a service's port. The one wildcard binding left is the StatsD client's: Airflow sends metrics from an
  unconnected UDP socket, which the kernel binds to 0.0.0.0 on an ephemeral port at the first send; nothing reads it.
  Those are listed apart and must be Airflow processes on ephemeral ports, never a service port;
- every file under .local/secrets is mode 0600 and owned by the user running the platform.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat

import psutil
import pytest

from local import paths, ports, proc
from local import platform as plat

EPHEMERAL_PORTS = range(32768, 61000 + 1)  # Linux's default ip_local_port_range


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1, and IPv4-mapped loopback (::ffff:127.0.0.1, how a JVM shows an IPv4 bind)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def _platform_processes() -> dict[int, str]:
    """pid → service process name, for every running process of every service, children included."""
    found: dict[int, str] = {}
    for name in plat.SERVICES:
        for spec in plat.service(name).processes():
            pid = proc.running(spec)
            if pid is None:
                continue
            try:
                root = psutil.Process(pid)
                for p in [root, *root.children(recursive=True)]:
                    found[p.pid] = spec.name
            except psutil.NoSuchProcess:
                continue
    return found


def test_every_listening_socket_of_the_platform_is_on_loopback(local_platform) -> None:  # noqa: ANN001
    local_platform.ensure(*plat.SERVICES)
    processes = _platform_processes()
    assert len(set(processes.values())) >= len(plat.SERVICES), "every service has a running process"
    service_ports = {ports.port(name) for name in ports.DEFAULTS}
    listening: list[tuple[str, str, int]] = []
    exposed: list[str] = []
    udp_clients: list[tuple[str, int]] = []
    for conn in psutil.net_connections(kind="inet"):
        if conn.pid not in processes or not conn.laddr:
            continue
        tcp = conn.type == socket.SOCK_STREAM
        if tcp and conn.status != psutil.CONN_LISTEN:
            continue
        address, port = conn.laddr.ip, conn.laddr.port
        if is_loopback(address):
            listening.append((processes[conn.pid], address, port))
        elif not tcp and port not in service_ports and not conn.raddr:
            udp_clients.append((processes[conn.pid], port))
        else:
            exposed.append(f"{processes[conn.pid]} (pid {conn.pid}) on {address}:{port}")
    assert len(listening) >= len(plat.SERVICES), listening
    assert exposed == [], "listening beyond loopback"
    assert all(name.startswith("airflow-") and port in EPHEMERAL_PORTS for name, port in udp_clients), udp_clients


def test_every_secret_file_is_owner_only(local_platform) -> None:  # noqa: ANN001
    local_platform.ensure("postgres", "vault")
    files = [f for f in paths.SECRETS.iterdir() if f.is_file()]
    assert len(files) >= 5
    loose = [f"{f.name}: {oct(stat.S_IMODE(f.stat().st_mode))}" for f in files if stat.S_IMODE(f.stat().st_mode) != 0o600]
    foreign = [f.name for f in files if f.stat().st_uid != os.getuid()]
    assert loose == [] and foreign == []
    assert stat.S_IMODE(paths.SECRETS.stat().st_mode) & 0o077 == 0, "the secrets folder is closed to group and others"


@pytest.mark.parametrize("address,loopback", [("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.1", True),
                                              ("0.0.0.0", False), ("::", False), ("::ffff:10.0.0.5", False)])
def test_the_loopback_rule_refuses_wildcard_binds(address: str, loopback: bool) -> None:
    """Negative control: 0.0.0.0 and :: (every interface) and a mapped private address are not loopback."""
    assert is_loopback(address) is loopback
