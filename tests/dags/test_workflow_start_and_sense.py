"""The example that starts a workflow without waiting and waits on it with the workflow
instance sensor, end to end against the emulator's jobs file, in each mode of the sensor."""

from __future__ import annotations

import pytest

from tests.airflow_versions import AIRFLOW_VERSION, RESCHEDULES_IN_DAG_TEST
from tests.dags.test_example_dags import load_dag, printed, task_states, xcom
from tests.dags.test_workflows import add_quick_workflows

pytestmark = pytest.mark.dag

DAG_ID = "example_schedulerx_workflow_start_and_sense"
SUCCEEDS, FAILS = 201, 202
SENSOR_MODES = {
    "rescheduled": {"mode": "reschedule", "deferrable": False},
    "deferred": {"mode": "poke", "deferrable": True},
}


@pytest.fixture
def quick_workflows(airflow_db, schedulerx_connection):
    return add_quick_workflows(schedulerx_connection)


@pytest.mark.parametrize("mode", SENSOR_MODES)
@pytest.mark.parametrize(("workflow_id", "state"), [(SUCCEEDS, "success"), (FAILS, "failed")])
def test_start_then_sense(quick_workflows, capfd, mode, workflow_id, state):
    if mode == "rescheduled" and not RESCHEDULES_IN_DAG_TEST:
        pytest.skip(f"dag.test() of Airflow {AIRFLOW_VERSION} cannot reschedule a sensor twice")
    dag = load_dag(DAG_ID)
    sensor = dag.get_task("wait_for_workflow")
    for attribute, value in {**SENSOR_MODES[mode], "poke_interval": 0.2, "timeout": 60}.items():
        setattr(sensor, attribute, value)
    dag_run = dag.test(run_conf={"workflow_id": workflow_id})
    assert task_states(dag_run) == {"start_workflow": "success", "wait_for_workflow": state}
    instance_id = xcom(dag_run, "start_workflow", "workflow_instance_id")
    assert xcom(dag_run, "start_workflow")["instance_id"] == instance_id
    if state == "success":
        assert xcom(dag_run, "wait_for_workflow")["instance_id"] == instance_id
    else:
        assert "java.sql.SQLException: table dw.orders is locked" in printed(capfd)
    assert quick_workflows.state.workflows.executions[workflow_id] == 1
