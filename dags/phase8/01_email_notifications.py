"""Phase 8 · Email notifications: EmailOperator with a Jinja template file, and failure emails from a callback.

Teaches: EmailOperator (smtp provider, `smtp_default`) rendering `templates/daily_report.html` with the task context
and XCom, and SmtpNotifier as an `on_failure_callback` whose subject and body are Jinja templates too. The threshold
check fails when too many orders were quarantined, which sends the failure email instead of the report.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.providers.smtp.operators.smtp import EmailOperator
from airflow.sdk import Param, task

from common.dag_header import platform_dag
from common.defaults import on_task_failure
from common.run_dates import BATCH_DATE_MACROS, batch_date

SMTP_CONN_ID = "smtp_default"
REPORT_RECIPIENTS = ["data-eng-team@example.com"]
ORDERS_PER_DAY = 60

failure_email = SmtpNotifier(
    smtp_conn_id=SMTP_CONN_ID,
    to=REPORT_RECIPIENTS,
    subject="[Airflow] {{ ti.dag_id }}.{{ ti.task_id }} failed for {{ batch_date() }}",
    html_content=(
        "<p>Task <code>{{ ti.task_id }}</code> of run <code>{{ run_id }}</code> failed on try {{ ti.try_number }}.</p>"
        "<p>Error: <code>{{ exception }}</code></p>"
    ),
)


@task
def summarize_orders(params: dict[str, Any], ds: str | None = None, dag_run: Any = None) -> dict[str, Any]:
    from common.order_report import daily_facts

    return daily_facts(batch_date(ds, dag_run), ORDERS_PER_DAY, params["bad_every"])


@task(retries=0, on_failure_callback=[on_task_failure, failure_email])
def check_thresholds(facts: dict[str, Any], params: dict[str, Any]) -> float:
    from common.order_report import check_bad_ratio

    return check_bad_ratio(facts, params["max_bad_ratio"])


with platform_dag(
    __file__, __doc__, owner="data-eng", team="data-eng", severity="P3", tags=["notifications", "email"],
    description="Templated EmailOperator report and SmtpNotifier failure emails", schedule="@daily",
    params={
        "bad_every": Param(10, type="integer", minimum=0, description="every n-th sample order is malformed"),
        "max_bad_ratio": Param(0.2, type="number", minimum=0, maximum=1, description="quarantine share that fails"),
    },
    # {{ batch_date() }} in the report and the failure e-mail: ds, or run_after's UTC day in a run without one.
    user_defined_macros=BATCH_DATE_MACROS,
) as dag:
    facts = summarize_orders()
    send_report = EmailOperator(
        task_id="send_report",
        conn_id=SMTP_CONN_ID,
        to=REPORT_RECIPIENTS,
        subject="[Airflow] Daily orders report {{ batch_date() }}",
        html_content="templates/daily_report.html",
        retries=3,
        retry_delay=timedelta(seconds=30),
        execution_timeout=timedelta(minutes=2),
    )
    check_thresholds(facts) >> send_report
