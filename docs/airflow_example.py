"""An example Airflow DAG running sigbatch once per attribute group, daily.

Each group is a sigbatch project directory. A run reads the events loaded up to the end of the
data interval (`--until {{ data_interval_end }}`), so a rerun of an old interval reads what that
interval saw. sigbatch's exit codes are stable (README, "Exit codes"):

    0    success, including a run with nothing to do
    2    a problem with the project or the warehouse's contents: fix it, a retry will not help
    3    an internal or warehouse failure: retrying may help
    4    another run holds the project's lock or lease: retry later
    124  stopped by --timeout: committed windows stand, the next run goes on
    130  cancelled by SIGINT/SIGTERM (Airflow killed the task): committed windows stand

The run task retries (codes 3 and 4 are worth it); a branch after it reads the exit code from
`target/run_results.json` and either goes on to `sigbatch sync` (which registers the attributes
table with Signals and publishes the group; credentials from the SNOWPLOW_* environment
variables, e.g. an Airflow connection exported to the worker) or alerts. Adjust paths, the
schedule and the alerting to your deployment; this file is an example, not tested by CI.

With the Airflow OpenLineage provider installed and the worker's OPENLINEAGE_URL (and
OPENLINEAGE_API_KEY) set, the run task passes the task's lineage identity to sigbatch, whose run
events then carry it as their parent run (docs/lineage.md): lineage tools show the attributes
tables under this DAG's task.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import BranchPythonOperator

PROJECTS = Path("/opt/sigbatch/projects")
# one sigbatch project per attribute group
ATTRIBUTE_GROUPS = ["ecommerce_transaction_interactions_features_1"]


def branch_on_exit_code(group: str) -> str:
    """Picks the next task from the run's artifact (written also when the run fails)."""
    results = json.loads((PROJECTS / group / "target" / "run_results.json").read_text())
    code = results["exit_code"]
    if code == 0:
        # status is "success" or "nothing_to_do": both go on
        return f"sync_{group}"
    if code == 2:
        return f"tell_the_owner_{group}"
    return f"page_on_call_{group}"


with DAG(
    dag_id="sigbatch_attributes",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    # two runs of one project would only wait on each other's lock
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=5)},
) as dag:
    for group in ATTRIBUTE_GROUPS:
        run = BashOperator(
            task_id=f"run_{group}",
            bash_command=(
                "sigbatch run --project-dir {{ params.project }} "
                "--until '{{ data_interval_end.strftime(\"%Y-%m-%d %H:%M:%S\") }}' "
                "--lock-timeout 600 --timeout 2h"
            ),
            params={"project": str(PROJECTS / group)},
            # sigbatch's OpenLineage events name this task as their parent (docs/lineage.md)
            env={
                "OPENLINEAGE_PARENT_ID": (
                    "{{ macros.OpenLineageProviderPlugin.lineage_parent_id(task_instance) }}"
                ),
                "OPENLINEAGE_ROOT_PARENT_ID": (
                    "{{ macros.OpenLineageProviderPlugin.lineage_root_parent_id(task_instance) }}"
                ),
            },
            # keep the worker's environment (OPENLINEAGE_URL, warehouse credentials, PATH)
            append_env=True,
            # the branch below decides what a failure means, after the retries are spent
            skip_on_exit_code=None,
        )
        branch = BranchPythonOperator(
            task_id=f"branch_{group}",
            python_callable=branch_on_exit_code,
            op_args=[group],
            trigger_rule="all_done",
        )
        # register the attributes table with Signals and publish the group
        sync = BashOperator(
            task_id=f"sync_{group}",
            bash_command="sigbatch sync --project-dir {{ params.project }}",
            params={"project": str(PROJECTS / group)},
        )
        # replace with your alerting (a Slack or email operator)
        tell_the_owner = EmptyOperator(task_id=f"tell_the_owner_{group}")
        page_on_call = EmptyOperator(task_id=f"page_on_call_{group}")
        run >> branch >> [sync, tell_the_owner, page_on_call]
