"""What the job and workflow operators give OpenLineage, when its provider is installed:
nothing of it is imported before its provider asks (see
:mod:`~airflow_provider_schedulerx.utils.openlineage`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["OpenLineageMixin"]


class OpenLineageMixin:
    """The operator's OpenLineage methods, and the parent job information it passes to the
    instances it starts (``openlineage_inject_parent_job_info``)."""

    if TYPE_CHECKING:
        log: Any
        openlineage_inject_parent_job_info: bool
        last_seen: dict[str, Any] | None
        job_instance_id: int | None
        job_id_in_use: int | None
        _context: Any

        def given_id(self) -> int | None: ...

        def get_instance(self, owner_id: int, instance_id: int) -> Any: ...

    def sent_parameters(self, parameters: str | None, limit: int) -> str | None:
        """The instance parameters sent: the request's, with the OpenLineage parent job
        information when asked for (not part of the request: a retry's differs)."""
        if not self.openlineage_inject_parent_job_info:
            return parameters
        from airflow_provider_schedulerx.utils.openlineage import with_parent_info

        return with_parent_info(parameters, self._context["ti"], limit)

    def lineage_instance(self) -> dict[str, Any] | None:
        """The instance the try followed, as last seen (read now if it was not seen)."""
        if self.last_seen is not None or self.job_instance_id is None:
            return self.last_seen
        from airflow_provider_schedulerx.exceptions import SchedulerXError

        owner = self.job_id_in_use if self.job_id_in_use is not None else self.given_id()
        if owner is None:
            return None
        try:
            return dict(self.get_instance(owner, self.job_instance_id).to_dict())
        except SchedulerXError as error:
            self.log.warning("Could not read instance %d for OpenLineage: %s", self.job_instance_id, error)
            return None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from airflow_provider_schedulerx.utils.openlineage import operator_lineage

        return operator_lineage(self, task_instance, failed=False)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        from airflow_provider_schedulerx.utils.openlineage import operator_lineage

        return operator_lineage(self, task_instance, failed=True)
