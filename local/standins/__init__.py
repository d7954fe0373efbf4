"""Stand-ins for products that cannot run here (Slack, an OAuth2 partner API, Vault, BigQuery, Marquez): small servers speaking the real HTTP API subset the DAGs use."""
