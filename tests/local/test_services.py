"""Each local service, brought up through the platform harness, does what the contract promises.

Stand-ins are named in each test: the HTTP stand-ins (Slack Web API, OAuth2 partner API, flaky service), moto
(S3), Azurite (Azure Blob), HashiCorp Vault (the real server), the BigQuery stand-in and the Marquez stand-in.
"""

from __future__ import annotations

import json
import smtplib
import time
import urllib.error
import urllib.request
import uuid
from email.message import EmailMessage
from typing import Any

import pytest


def _http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
          form: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    data = None
    headers = dict(headers or {})
    if form is not None:
        from urllib.parse import urlencode

        data = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw, status, got = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, dict(error.headers)
    try:
        return status, got, json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return status, got, raw.decode()


def test_postgres_has_one_role_per_database_and_rejects_wrong_password(postgres_service) -> None:
    import psycopg

    from local import ports
    from local.services import postgres

    for database in postgres.DATABASES:
        with psycopg.connect(postgres.dsn(database), connect_timeout=5) as conn:
            assert conn.execute("SELECT current_user, current_database()").fetchone() == (database, database)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host=ports.HOST, port=ports.port("postgres"), user="warehouse", password="wrong",
                        dbname="warehouse", connect_timeout=5)


def test_secrets_are_generated_files_readable_only_by_owner(postgres_service, redis_service) -> None:
    from local import paths

    files = sorted(paths.SECRETS.iterdir())
    assert {"postgres_warehouse", "postgres_superuser", "redis"} <= {f.name for f in files}
    assert all(f.stat().st_mode & 0o077 == 0 for f in files), "a secret file is readable by group/others"
    assert (paths.SECRETS.stat().st_mode & 0o077) == 0


def test_redis_requires_the_generated_password(redis_service) -> None:
    import redis as redis_lib

    from local import ports
    from local.services import redis

    client = redis_lib.Redis.from_url(redis.url())
    key = f"test:{uuid.uuid4().hex}"
    client.set(key, "v", ex=60)
    assert client.get(key) == b"v"
    with pytest.raises(redis_lib.AuthenticationError):
        redis_lib.Redis(host=ports.HOST, port=ports.port("redis"), password="wrong").ping()


def test_slack_stand_in_serves_the_web_api_to_the_slack_connection(http_standins_service, platform_connections) -> None:
    """Stand-in for the Slack Web API (HTTP stand-ins process): SlackHook on the platform's `slack_api_default` (bot
    token generated into .local/secrets, base_url the stand-in) authenticates and posts to a channel by name; the
    message is recorded with its channel; a wrong token is invalid_auth."""
    from airflow.providers.slack.hooks.slack import SlackHook

    base = http_standins_service.url
    hook = SlackHook(slack_conn_id="slack_api_default")
    assert hook.test_connection()[0] is True
    marker = uuid.uuid4().hex
    answer = hook.client.chat_postMessage(channel="#incidents", text=marker)
    assert answer["ok"] is True and answer["channel"].startswith("C")
    recorded = _http("GET", f"{base}/_recorded?kind=slack_api")[2]
    assert [(r["body"]["channel"], r["body"]["text"]) for r in recorded if r["body"]["text"] == marker] == [
        ("#incidents", marker)
    ]
    status, _, body = _http("POST", f"{base}/slack/api/chat.postMessage", {"channel": "#incidents", "text": marker},
                            headers={"Authorization": "Bearer xoxb-wrong"})
    assert (status, body) == (200, {"ok": False, "error": "invalid_auth"})


def test_oauth_partner_api_pages_rate_limits_and_requires_a_token(http_standins_service) -> None:
    """Stand-in for an OAuth2 client-credentials partner API (HTTP stand-ins process)."""
    from local.services import http_standins

    base = http_standins_service.url
    assert _http("POST", f"{base}/_control/rate_limit", {"every": 3, "retry_after": 2})[0] == 200
    assert _http("GET", f"{base}/api/items")[0] == 401
    denied = _http("POST", f"{base}/oauth/token", form={"grant_type": "client_credentials",
                                                        "client_id": http_standins.CLIENT_ID, "client_secret": "nope"})
    assert denied[0] == 401
    status, _, token = _http("POST", f"{base}/oauth/token", form={
        "grant_type": "client_credentials", "client_id": http_standins.CLIENT_ID,
        "client_secret": http_standins.client_secret()})
    assert status == 200 and token["token_type"] == "Bearer"
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    items, page, throttled = [], 1, 0
    while page:
        status, headers, body = _http("GET", f"{base}/api/items?page={page}&page_size=100", headers=auth)
        if status == 429:
            throttled += 1
            assert headers["Retry-After"] == "2"
            continue
        items += body["items"]
        page = body["next_page"]
    assert throttled >= 1
    assert [i["id"] for i in items] == list(range(1, body["total"] + 1))


def test_flaky_service_fails_n_times_then_recovers(http_standins_service) -> None:
    """Stand-in for a flaky downstream dependency (circuit-breaker DAGs)."""
    base = http_standins_service.url
    name = f"svc-{uuid.uuid4().hex[:6]}"
    _http("POST", f"{base}/_control/flaky/{name}", {"mode": "fail_n", "n": 2})
    statuses = [_http("GET", f"{base}/flaky/{name}")[0] for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert _http("GET", f"{base}/_control/flaky/{name}")[2]["failures"] == 2


def test_smtp_saves_every_message_as_eml(smtp_service) -> None:
    from local.services import smtp

    subject = f"test {uuid.uuid4().hex}"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "airflow@platform.local", "oncall@platform.local", subject
    message.set_content("body")
    with smtplib.SMTP("127.0.0.1", int(smtp_service.url.rsplit(":", 1)[1]), timeout=10) as client:
        client.send_message(message)
    saved = [p for p in smtp.mail_dir().glob("*.eml") if subject in p.read_text()]
    assert len(saved) == 1 and "X-Envelope-To: oncall@platform.local" in saved[0].read_text()


def test_s3_stand_in_round_trips_an_object(s3_service) -> None:
    """Stand-in for AWS S3: moto server."""
    from local.services import s3

    client = s3.client()
    bucket = f"test-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="a/b.json", Body=b'{"x": 1}')
    assert client.get_object(Bucket=bucket, Key="a/b.json")["Body"].read() == b'{"x": 1}'


def test_azure_blob_stand_in_round_trips_a_blob(azure_blob_service) -> None:
    """Stand-in for Azure Blob Storage: Azurite, with the generated account key."""
    from azure.storage.blob import BlobServiceClient

    from local.services import azurite

    client = BlobServiceClient.from_connection_string(azurite.connection_string())
    container = client.create_container(f"test-{uuid.uuid4().hex[:8]}")
    container.upload_blob("x.txt", b"hello")
    assert container.download_blob("x.txt").readall() == b"hello"


def test_vault_holds_the_platform_connections_for_the_airflow_secrets_backend(vault_service) -> None:
    """The real Vault is provisioned like the Pulumi program provisions it: airflow/connections/<id>, read as role airflow."""
    from airflow.providers.hashicorp.secrets.vault import VaultBackend

    from local.services import vault

    backend = VaultBackend(**{k: v for k, v in vault.secrets_backend_kwargs().items() if v is not None})
    conn = json.loads(backend.get_conn_value("postgres_default"))
    assert conn["conn_type"] == "postgres" and conn["schema"] == "warehouse"


def test_bigquery_stand_in_serves_the_google_client(bigquery_service) -> None:
    """Stand-in for Google BigQuery (REST v2 subset on SQLite), through google-cloud-bigquery."""
    from google.cloud import bigquery as bq

    from local.services import bigquery

    client = bigquery.client()
    dataset = f"ds_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    client.create_table(bq.Table(f"{bigquery.PROJECT}.{dataset}.orders",
                                 schema=[bq.SchemaField("id", "INTEGER"), bq.SchemaField("amount", "FLOAT")]))
    rows = [{"id": 1, "amount": 2.5}, {"id": 2, "amount": 4.0}]
    assert client.insert_rows_json(f"{bigquery.PROJECT}.{dataset}.orders", rows, row_ids=["a", "b"]) == []
    assert client.insert_rows_json(f"{bigquery.PROJECT}.{dataset}.orders", rows, row_ids=["a", "b"]) == []  # retried
    result = list(client.query(f"SELECT count(*) AS n, sum(amount) AS total FROM `{bigquery.PROJECT}.{dataset}.orders`").result())
    assert (result[0]["n"], result[0]["total"]) == (2, 6.5)
    bad = client.insert_rows_json(f"{bigquery.PROJECT}.{dataset}.orders", [{"id": 3, "nope": 1}])
    assert bad and bad[0]["errors"][0]["reason"] == "invalid"


def test_kafka_broker_round_trips_a_message(kafka_service) -> None:
    from confluent_kafka import Consumer, Producer

    from local.services import kafka

    topic = f"test.{uuid.uuid4().hex[:8]}"
    kafka.create_topics({topic: (1, 3_600_000)})
    producer = Producer({"bootstrap.servers": kafka.bootstrap(), "enable.idempotence": True})
    producer.produce(topic, key=b"k", value=b"hello")
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap(), "group.id": topic, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    deadline, got = time.monotonic() + 30, None
    while got is None and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            got = message.value()
    consumer.close()
    assert got == b"hello"


def test_mlflow_tracks_runs_in_postgres(mlflow_service) -> None:
    import mlflow
    import psycopg

    from local.services import postgres

    mlflow.set_tracking_uri(mlflow_service.url)
    experiment = f"local-platform-test-{uuid.uuid4().hex[:6]}"
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        mlflow.log_metric("rmse", 0.42)
    assert mlflow.get_run(run.info.run_id).data.metrics["rmse"] == 0.42
    with psycopg.connect(postgres.dsn("mlflow")) as conn:
        assert conn.execute("SELECT count(*) FROM experiments WHERE name = %s", (experiment,)).fetchone()[0] == 1


def test_marquez_stand_in_accepts_openlineage_events(marquez_service) -> None:
    """Stand-in for Marquez: OpenLineage RunEvents in, Marquez's jobs/runs API out."""
    namespace, job, run_id = f"test-{uuid.uuid4().hex[:6]}", "dag.task", str(uuid.uuid4())
    for event_type, at in (("START", "2026-01-01T00:00:00Z"), ("COMPLETE", "2026-01-01T00:00:05Z")):
        event = {"eventType": event_type, "eventTime": at, "producer": "test", "run": {"runId": run_id},
                 "job": {"namespace": namespace, "name": job}, "inputs": [],
                 "outputs": [{"namespace": "postgres://warehouse", "name": "public.orders"}],
                 "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"}
        assert _http("POST", f"{marquez_service.url}/api/v1/lineage", event)[0] == 201
    found = _http("GET", f"{marquez_service.url}/api/v1/namespaces/{namespace}/jobs/{job}")[2]
    assert found["latestRun"]["state"] == "COMPLETED" and found["outputs"][0]["name"] == "public.orders"
    assert _http("POST", f"{marquez_service.url}/api/v1/lineage", {"eventType": "START"})[0] == 422
