"""The dependency contract: the manifest schema (needs.schema.json) and the analysis of what DAG code really uses."""
