"""The local platform: Airflow 3.3 and every dependency as real processes on loopback (no Docker, no cluster).

`./platform up|down|status|logs` drives it; the pytest fixtures in tests/conftest.py use the same harness.
"""
