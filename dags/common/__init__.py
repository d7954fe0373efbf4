"""Shared, plain-Python business logic for the use-case DAGs. Nothing here touches Airflow at import time."""
