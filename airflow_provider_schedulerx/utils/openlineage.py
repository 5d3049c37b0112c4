"""OpenLineage of the job and workflow operators.

The SchedulerX job (or workflow) is an OpenLineage job of its own, in the namespace
``schedulerx://<region>/<namespace>/<group>``, named ``job/<id>`` (``workflow/<id>``): each
instance a task followed is one run of it, a child of the task's run (``parent`` facet),
with a START event and, once it ended, a COMPLETE, FAIL or ABORT event. The task's own
events carry the same ``schedulerx`` run facet, and an ``errorMessage`` facet on failure.

Imported only when the OpenLineage provider asks an operator for its lineage, or when
``openlineage_inject_parent_job_info`` is on: never at DAG parse.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import attr
import pendulum
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.facet_v2 import RunFacet, error_message_run, job_type_job, parent_run
from openlineage.client.uuid import generate_static_uuid

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

__all__ = ["SchedulerXRunFacet", "operator_lineage", "with_parent_info"]

log = logging.getLogger(__name__)

#: The facet's schema, by name and version (the facet is this provider's own).
FACET_SCHEMA = "urn:airflow-provider-schedulerx:facet:SchedulerXRunFacet:1-0-0"
#: The integration named in the SchedulerX jobs' ``jobType`` facet.
INTEGRATION = "SCHEDULERX"


@attr.define
class SchedulerXRunFacet(RunFacet):
    """The SchedulerX instance a run stands for."""

    kind: str
    region: str
    namespace: str
    groupId: str
    ownerId: int
    instanceId: int
    status: str
    startTime: str | None = None
    endTime: str | None = None
    result: str | None = None
    consoleUrl: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA


def _parent(task_instance: Any) -> dict[str, Any]:
    """The task run's OpenLineage identifiers, and its DAG run's (the root)."""
    from airflow.providers.openlineage.plugins import macros

    return {
        "parent": {
            "run": {"runId": macros.lineage_run_id(task_instance)},
            "job": {
                "namespace": macros.lineage_job_namespace(),
                "name": macros.lineage_job_name(task_instance),
            },
        },
        "root": {
            "run": {"runId": macros.lineage_root_run_id(task_instance)},
            "job": {
                "namespace": macros.lineage_root_job_namespace(task_instance),
                "name": macros.lineage_root_job_name(task_instance),
            },
        },
    }


def with_parent_info(parameters: str | None, task_instance: Any, limit: int) -> str | None:
    """``parameters`` with the task run's OpenLineage identifiers under ``"openlineage"``, for
    a job to link its own lineage back to the Airflow run. Parameters that are empty or a
    JSON object get the key (the root run's dropped if both do not fit in ``limit`` bytes);
    any others are left as they are, with a warning."""
    try:
        info = _parent(task_instance)
    except ImportError:
        log.warning("The OpenLineage provider is not installed: no parent job information is added")
        return parameters
    try:
        given = json.loads(parameters) if parameters else {}
    except ValueError:
        given = None
    if not isinstance(given, dict):
        log.warning(
            "instance_parameters are not a JSON object: no OpenLineage parent job information is added"
        )
        return parameters
    for payload in (info, {"parent": info["parent"]}):
        text = json.dumps({**given, "openlineage": payload}, separators=(",", ":"))
        if len(text.encode()) <= limit:
            return text
    log.warning("The OpenLineage parent job information does not fit in %d bytes: it is not added", limit)
    return parameters


def _facets_of(task: Any, data: dict[str, Any]) -> tuple[str, str, SchedulerXRunFacet]:
    """The SchedulerX job's OpenLineage namespace and name, and the instance's run facet."""
    kind = task.noun
    owner = int(data.get("workflow_id" if kind == "workflow" else "job_id") or 0)
    namespace, group = task.hook.scope_of(task.namespace, task.group_id)
    region = task.hook.settings.config.region_id
    facet = SchedulerXRunFacet(
        kind=kind,
        region=region,
        namespace=namespace or "",
        groupId=group or "",
        ownerId=owner,
        instanceId=int(data["instance_id"]),
        status=str(data.get("status_name") or "unknown"),
        startTime=data.get("start_time"),
        endTime=data.get("end_time"),
        result=data.get("result") or None,
        consoleUrl=task.console_url(owner, int(data["instance_id"])),
    )
    return f"schedulerx://{region}/{namespace}/{group}", f"{kind}/{owner}", facet


def _end_state(data: dict[str, Any]) -> RunState | None:
    if not data.get("is_finished"):
        return None
    if data.get("is_success"):
        return RunState.COMPLETE
    return RunState.ABORT if data.get("status_name") == "killed" else RunState.FAIL


def _emit_instance_run(
    task: Any,
    task_instance: Any,
    namespace: str,
    name: str,
    facets: dict[str, RunFacet],
    data: dict[str, Any],
) -> None:
    """The instance's run of the SchedulerX job: START, and its end once it ended."""
    from airflow.providers.openlineage.api import emit
    from airflow.providers.openlineage.plugins.adapter import _PRODUCER

    parent = _parent(task_instance)
    facets = {
        **facets,
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent["parent"]["run"]["runId"]),
            job=parent_run.Job(**parent["parent"]["job"]),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=parent["root"]["run"]["runId"]),
                job=parent_run.RootJob(**parent["root"]["job"]),
            ),
        ),
    }
    started = _instant(data.get("start_time"))
    run_id = str(generate_static_uuid(started, f"{namespace}/{name}/{data['instance_id']}".encode()))
    job = Job(
        namespace=namespace,
        name=name,
        facets={
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration=INTEGRATION, jobType=task.noun.upper()
            )
        },
    )
    events = [(RunState.START, started)]
    end = _end_state(data)
    if end is not None:
        events.append((end, _instant(data.get("end_time"))))
    for state, moment in events:
        emit(
            RunEvent(
                eventType=state,
                eventTime=moment.isoformat(),
                run=Run(runId=run_id, facets=facets),
                job=job,
                producer=_PRODUCER,
                inputs=[],
                outputs=[],
            )
        )


def _instant(value: str | None) -> Any:
    return pendulum.parse(value) if value else pendulum.now("UTC")


def operator_lineage(task: Any, task_instance: Any, *, failed: bool) -> OperatorLineage:
    """What the OpenLineage provider asks of a job or workflow operator at the task's end."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    data = task.lineage_instance()
    if data is None:
        return OperatorLineage()
    namespace, name, facet = _facets_of(task, data)
    facets: dict[str, RunFacet] = {"schedulerx": facet}
    if failed:
        message = f"SchedulerX {task.noun} {facet.ownerId} instance {facet.instanceId} ended {facet.status}"
        if facet.result:
            message += f": {facet.result}"
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=message, programmingLanguage=INTEGRATION
        )
    try:
        _emit_instance_run(task, task_instance, namespace, name, facets, data)
    except Exception:
        log.warning("Could not emit the OpenLineage events of the SchedulerX instance", exc_info=True)
    return OperatorLineage(run_facets=facets)
