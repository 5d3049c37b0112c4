"""Everything the README shows stays true: each shell command runs (or, where it cannot run
offline and quickly, is checked as far as it can be), each Python example compiles and its
tasks construct inside their DAG, the demo credentials it names are the emulator's, and its
links point at files that exist."""

from __future__ import annotations

import ast
import json
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_schedulerx.emulator import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_GROUP_ID,
    DEFAULT_NAMESPACE,
)
from airflow_provider_schedulerx.emulator.cli import READY_LINE
from airflow_provider_schedulerx.get_provider_info import PACKAGE_NAME
from tests.conftest import REPO

pytestmark = pytest.mark.release

README = (REPO / "README.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
#: The task classes a user meets; the README shows each in an example.
TASKS = {
    "SchedulerXExecuteJobOperator",
    "SchedulerXGetJobInstanceOperator",
    "SchedulerXJobInstanceSensor",
    "SchedulerXJobSensor",
    "SchedulerXExecuteWorkflowOperator",
    "SchedulerXWorkflowInstanceSensor",
    "SchedulerXJobEventTrigger",
}


def code_blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def shell_commands(block: str) -> list[list[str]]:
    """The commands of a shell block, comments left out; a quoted value may span lines."""
    commands, pending = [], ""
    for line in block.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        pending = ""
        if words:
            commands.append(words)
    assert not pending, f"unterminated command: {pending}"
    return commands


PYTHON_BLOCKS = code_blocks(README, "python")
COMMANDS = [command for block in code_blocks(README, "bash") for command in shell_commands(block)]


# -- Python


def with_dags_named(source: str) -> tuple[ast.Module, list[str]]:
    """The block's syntax tree, each ``with DAG(...):`` bound to a name that the test reads."""
    tree = ast.parse(source)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            item = node.items[0]
            call = item.context_expr
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "DAG":
                if item.optional_vars is None:
                    item.optional_vars = ast.Name(id=f"readme_dag_{len(names)}", ctx=ast.Store())
                names.append(ast.unparse(item.optional_vars))
    return ast.fix_missing_locations(tree), names


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"python-{i}" for i in range(len(PYTHON_BLOCKS))])
def test_each_python_example_builds_its_dag(block: str):
    tree, dag_names = with_dags_named(block)
    namespace: dict[str, Any] = {}
    exec(compile(tree, "<README>", "exec"), namespace)
    assert dag_names, "each example shows its tasks inside a DAG"
    for name in dag_names:
        assert namespace[name].task_ids, f"{name} has no task"


def test_every_task_has_an_example():
    shown = {name for block in PYTHON_BLOCKS for name in TASKS if f"{name}(" in block}
    assert shown == TASKS


def test_the_asset_watcher_example_watches_with_the_event_trigger():
    from airflow_provider_schedulerx.triggers.schedulerx import SchedulerXJobEventTrigger

    (block,) = [block for block in PYTHON_BLOCKS if "AssetWatcher(" in block]
    namespace: dict[str, Any] = {}
    exec(compile(with_dags_named(block)[0], "<README>", "exec"), namespace)
    (watcher,) = namespace["orders_sync"].watchers
    assert isinstance(watcher.trigger, SchedulerXJobEventTrigger)


# -- shell commands, each checked by the first rule that takes it


def check_make(command: list[str]) -> None:
    """A make target: it must exist (a dry run; running it is the whole suite or the demo)."""
    dry_run = subprocess.run(
        ["make", "-n", "--no-print-directory", *command[1:]], cwd=REPO, capture_output=True, text=True
    )
    assert dry_run.returncode == 0, dry_run.stderr


def check_pip_install(command: list[str]) -> None:
    """Installing the package: its name, and its extra, are this project's (the release test
    installs the built wheel)."""
    (requirement,) = command[2:]
    name, _, extra = requirement.partition("[")
    assert name == PACKAGE_NAME
    if extra:
        import tomllib

        extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
        assert extra.rstrip("]") in extras


def check_connection_variable(command: list[str]) -> None:
    """``export AIRFLOW_CONN_...='...'``: a connection the provider reads without complaint."""
    from airflow.models.connection import Connection

    from airflow_provider_schedulerx.hooks.connection import ConnectionSettings

    (assignment,) = command[1:]
    name, _, value = assignment.partition("=")
    assert name == "AIRFLOW_CONN_SCHEDULERX_DEFAULT"
    if value.lstrip().startswith("{"):
        fields = json.loads(value)
        connection = Connection(conn_id="schedulerx_default", **fields)
    else:
        connection = Connection(conn_id="schedulerx_default", uri=value)
    assert connection.conn_type == "schedulerx"
    settings = ConnectionSettings.from_fields(
        login=connection.login, password=connection.password, host=connection.host, extra=connection.extra
    )
    assert settings.warnings == ()


def check_emulator(command: list[str]) -> None:
    """The emulator command: it starts with the options shown (on a free port) and stops
    cleanly on SIGTERM."""
    program, *options = command
    assert Path(program).name == "schedulerx-emulator"
    if "--port" in options:
        options[options.index("--port") + 1] = "0"
    executable = Path(sys.executable).with_name("schedulerx-emulator")
    with subprocess.Popen(
        [str(executable), *options], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as emulator:
        try:
            ready = emulator.stdout.readline() if emulator.stdout else ""
            assert ready.startswith(READY_LINE.format(url="http://127.0.0.1:")), ready + (
                emulator.stderr.read() if emulator.stderr else ""
            )
        finally:
            emulator.send_signal(signal.SIGTERM)
            assert emulator.wait(timeout=30) == 0


RULES: list[tuple[Callable[[list[str]], bool], Callable[[list[str]], None]]] = [
    (lambda command: command[0] == "make", check_make),
    (lambda command: command[:2] == ["pip", "install"], check_pip_install),
    (lambda command: command[0] == "export", check_connection_variable),
    (lambda command: Path(command[0]).name == "schedulerx-emulator", check_emulator),
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c)[:60] for c in COMMANDS])
def test_each_shell_command(command: list[str]):
    for applies, check in RULES:
        if applies(command):
            check(command)
            return
    pytest.fail(f"the README shows a command this test does not check: {shlex.join(command)}")


def test_the_emulator_help_it_points_to():
    assert "`schedulerx-emulator --help`" in README
    executable = Path(sys.executable).with_name("schedulerx-emulator")
    shown = subprocess.run([str(executable), "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "--jobs FILE" in shown.stdout


# -- what it says


def test_the_demo_credentials_are_the_emulators():
    stated = re.findall(r"AccessKey (\S+) / (\S+), namespace (\S+), group (\S+)", README)
    assert stated == [(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_NAMESPACE, DEFAULT_GROUP_ID)]


def test_the_links_point_at_files_that_exist():
    targets = [target for target in re.findall(r"\]\(([^)\s]+)\)", README) if "://" not in target]
    assert targets
    missing = [target for target in targets if not (REPO / target.split("#", 1)[0]).exists()]
    assert missing == []
