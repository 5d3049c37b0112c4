"""One definition per action: the hook's API methods are the sync client's, and the client's
are the catalogue's, signature and docstring alike, so that they cannot drift apart."""

from __future__ import annotations

import inspect

import pytest

from airflow_provider_schedulerx.client import AsyncSchedulerXClient, SchedulerXClient
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from airflow_provider_schedulerx.rpc import actions, logs, workflows

#: The hook's API methods, as DESIGN.md names them, and the client's.
API = [
    "call",
    "get_job_instance",
    "list_job_instances",
    "execute_job",
    "stop_instance",
    "retry_job_instance",
    "set_job_instance_success",
    "get_log",
    "get_job_info",
    "list_jobs",
    "find_job",
    "list_namespaces",
    "execute_workflow",
    "get_workflow_instance",
    "list_workflow_instances",
    "set_workflow_instance_success",
    "get_workflow",
    "list_workflows",
    "find_workflow",
]
#: Where the actions are defined.
CATALOGUE = (actions, logs, workflows)


def definition_of(name: str):
    return next((getattr(module, name) for module in CATALOGUE if hasattr(module, name)), None)


@pytest.mark.parametrize("name", API)
def test_the_hook_forwards_with_the_clients_signature(name):
    hook_method, client_method = getattr(SchedulerXHook, name), getattr(SchedulerXClient, name)
    assert inspect.signature(hook_method) == inspect.signature(client_method)
    assert hook_method.__doc__ == client_method.__doc__


@pytest.mark.parametrize("name", [name for name in API if definition_of(name) is not None])
def test_the_clients_methods_are_the_catalogues(name):
    definition = definition_of(name)
    for client in (SchedulerXClient, AsyncSchedulerXClient):
        method = getattr(client, name, None)
        if method is None:
            continue
        own = list(inspect.signature(method).parameters.values())
        assert own[0].name == "self"
        assert own[1:] == list(inspect.signature(definition).parameters.values())
        assert method.__doc__ == definition.__doc__


def test_every_hook_api_method_is_there():
    assert all(callable(getattr(SchedulerXHook, name)) for name in API)


def test_a_bound_method_shows_its_own_parameters():
    parameters = list(inspect.signature(SchedulerXHook().get_job_instance).parameters)
    assert parameters[:2] == ["job_id", "job_instance_id"]
