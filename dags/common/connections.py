"""Reading service endpoints from Airflow connections, one way for every DAG."""

from __future__ import annotations


def http_base_url(conn_id: str, what: str = "the service") -> str:
    """`scheme://host[:port]` of an HTTP-style connection, or its host when that is already a URL.

    A connection without a host fails naming the connection and what it should point at.
    """
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    if not conn.host:
        raise ValueError(f"connection {conn_id!r} has no host ({what})")
    if "://" in conn.host:
        return conn.host.rstrip("/")
    return f"{conn.schema or 'http'}://{conn.host}" + (f":{conn.port}" if conn.port else "")
