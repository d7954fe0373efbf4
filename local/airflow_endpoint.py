"""Where the local Airflow API answers and who logs in to it: a leaf module, read by the service
(local/services/airflow.py) and by the connections built from endpoints (local/connections.py, `airflow_api`)."""

from __future__ import annotations

from local import ports
from local.secrets import secret

ADMIN_USER = "admin"


def base_url() -> str:
    return f"http://{ports.HOST}:{ports.port('airflow')}"


def admin_password() -> str:
    return secret("airflow_admin_password")
