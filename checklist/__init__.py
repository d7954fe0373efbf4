"""The production checklist as code: DAG rules here (Python), infrastructure rules in policy/ (TypeScript)."""
