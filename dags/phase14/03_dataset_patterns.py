"""Asset patterns: fan-out, a conditional expression `(orders | customers) & fx_rates`, AssetOrTimeSchedule,
an asset-driven ML retraining trigger, and event-driven scheduling from Kafka through AssetWatcher.

Schedule: `AssetOrTimeSchedule(cron 06:00 UTC, ((orders | customers) & fx_rates) | kafka_retrain_signal)`.
- Either sales asset AND fresh FX rates start a run; sales data without new rates does not.
- A JSON message with a `model` key on the `ml.retrain-requests` Kafka topic starts a run through the
  triggerer (AssetWatcher + MessageQueueTrigger), with no sensor task holding a worker slot.
- The cron part guarantees at least a daily run even if no producer published.
The run fans out one orders partition into one asset per region (each region's consumers run independently),
and when retraining is warranted it emits `churn_model_retrain_request`, which phase18_03_auto_retraining
is scheduled on — the asset-driven ML pipeline. Orders are read from, and the regional outputs written to, the
assets' `s3://` locations through `ObjectStoragePath` (connection `aws_default`).
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, task
from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

from common.assets import CUSTOMERS, FX_RATES, MODEL_RETRAIN_REQUEST, ORDERS, REGIONAL_SALES, retrain_signal_asset
from common.dag_header import platform_dag

KAFKA_RETRAIN_SIGNAL = retrain_signal_asset()
AWS_CONN_ID = "aws_default"  # the object store the assets' s3:// URIs are on
DRIFT_THRESHOLD = 0.2

with platform_dag(
    __file__, __doc__, owner="team-analytics", team="analytics", tags=["assets", "conditional", "kafka"],
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 * * *", timezone="UTC"),
        assets=((ORDERS | CUSTOMERS) & FX_RATES) | KAFKA_RETRAIN_SIGNAL,
    ),
    max_active_runs=1,
):

    @task
    def classify_trigger(**context) -> dict:
        from common.assets import latest_events

        events = latest_events(context.get("triggering_asset_events") or {})
        return {name: e.extra for name, e in events.items()}

    @task(outlets=list(REGIONAL_SALES.values()))
    def fan_out_by_region(events: dict, **context) -> dict:
        from common.assets import asset_object, event_extra, read_announced, split_by_region, write_jsonl

        orders_extra = events.get(ORDERS.name)
        if orders_extra is None:
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException("no new orders in this run: nothing to fan out (no regional events)")
        parts = split_by_region(read_announced(orders_extra, conn_id=AWS_CONN_ID), REGIONAL_SALES)
        counts = {}
        for region, rows in parts.items():
            asset = REGIONAL_SALES[region]
            target = asset_object(asset, orders_extra["partition"], "orders.jsonl", conn_id=AWS_CONN_ID)
            info = write_jsonl(target, rows)
            context["outlet_events"][asset].extra = event_extra(
                info,
                partition=orders_extra["partition"],
                schema_version=orders_extra["schema_version"],
                producer="phase14_03_dataset_patterns",
            )
            counts[region] = len(rows)
        return counts

    @task
    def score_feature_drift(events: dict) -> float | None:
        """PSI of order amounts against a fixed reference distribution (the training window)."""
        if ORDERS.name not in events:
            return None
        from common.assets import read_announced
        from common.drift import population_stability_index

        amounts = [float(r["amount"]) for r in read_announced(events[ORDERS.name], conn_id=AWS_CONN_ID)]
        reference = [10.0 + i * 4.5 for i in range(200)]
        return population_stability_index(reference, amounts)

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def needs_retraining(events: dict, drift: float | None) -> bool:
        from common.assets import ReceivedEvent, retrain_reason

        received = {n: ReceivedEvent(n, "", extra, None) for n, extra in events.items()}
        reason = retrain_reason(received, drift, DRIFT_THRESHOLD)
        print(f"retraining decision: {reason or 'not needed'}")
        return reason is not None

    @task(outlets=[MODEL_RETRAIN_REQUEST])
    def request_retraining(events: dict, drift: float | None, **context) -> dict:
        from common.assets import ReceivedEvent, retrain_reason

        received = {n: ReceivedEvent(n, "", extra, None) for n, extra in events.items()}
        extra = {
            "model": "churn",
            "reason": retrain_reason(received, drift, DRIFT_THRESHOLD),
            "drift": drift,
            "requested_by": context["run_id"],
        }
        context["outlet_events"][MODEL_RETRAIN_REQUEST].extra = extra
        return extra

    events = classify_trigger()
    drift = score_feature_drift(events)
    fan_out_by_region(events)
    needs_retraining(events, drift) >> request_retraining(events, drift)
