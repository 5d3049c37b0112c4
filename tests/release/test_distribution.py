"""The distribution as a user gets it: what the sdist and the wheel carry, PyPI's own check,
and the wheel installed with Airflow into a fresh virtualenv, where Airflow must find the
provider, its hook, its link and the example DAGs' imports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_schedulerx import __version__
from airflow_provider_schedulerx.get_provider_info import PACKAGE_NAME, get_provider_info
from tests.conftest import REPO
from tests.release.conftest import Distribution

pytestmark = [pytest.mark.release, pytest.mark.timeout(600)]

AIRFLOW = version("apache-airflow")
EXAMPLES = REPO / "example_dags"


def test_the_version_comes_from_one_place(distribution: Distribution):
    assert get_provider_info()["versions"] == [__version__]
    assert distribution.wheel.name == f"airflow_provider_schedulerx-{__version__}-py3-none-any.whl"
    assert distribution.sdist.name == f"airflow_provider_schedulerx-{__version__}.tar.gz"
    with zipfile.ZipFile(distribution.wheel) as wheel:
        metadata = wheel.read(f"airflow_provider_schedulerx-{__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {__version__}\n" in metadata
    assert "\nLicense-Expression: Apache-2.0\n" in metadata


def test_license_and_notice_ship_in_both(distribution: Distribution):
    license_text = (REPO / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    with zipfile.ZipFile(distribution.wheel) as wheel:
        licenses = f"airflow_provider_schedulerx-{__version__}.dist-info/licenses"
        assert wheel.read(f"{licenses}/LICENSE").decode() == license_text
        assert wheel.read(f"{licenses}/NOTICE").decode() == (REPO / "NOTICE").read_text()
        packaged = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert packaged == {"airflow_provider_schedulerx", f"airflow_provider_schedulerx-{__version__}.dist-info"}
    with tarfile.open(distribution.sdist) as sdist:
        root = f"airflow_provider_schedulerx-{__version__}"
        names = set(sdist.getnames())
    assert {f"{root}/LICENSE", f"{root}/NOTICE", f"{root}/CHANGELOG.md", f"{root}/README.md"} <= names
    assert f"{root}/example_dags/emulator_jobs.json" in names


def test_twine_check_strict_passes(distribution: Distribution):
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", distribution.sdist, distribution.wheel],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2, checked.stdout


def test_the_changelog_covers_this_version():
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert re.search(rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)


class FreshInstall:
    """A virtualenv with the built wheel and Airflow, and an Airflow home of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / "venv"
        self.home = root / "airflow-home"
        self.dags = self.home / "dags"

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("AIRFLOW") and name not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
        }
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{self.home}/airflow.db",
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
        )
        return env

    def run(self, *command: str | Path, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(part) for part in command],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def airflow_json(self, *arguments: str) -> Any:
        """An ``airflow ... -o json`` answer (its JSON is the last line; warnings may come first)."""
        out = self.run(self.bin / "airflow", *arguments, "-o", "json")
        (last,) = [line for line in out.splitlines() if line.startswith(("[", "{"))][-1:]
        return json.loads(last)


@pytest.fixture(scope="module")
def fresh_install(distribution: Distribution, tmp_path_factory: pytest.TempPathFactory) -> FreshInstall:
    install = FreshInstall(tmp_path_factory.mktemp("fresh-install"))
    subprocess.run([sys.executable, "-m", "venv", str(install.venv)], check=True, timeout=120)
    install.run(
        install.bin / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        str(distribution.wheel),
        f"apache-airflow=={AIRFLOW}",
        timeout=480,
    )
    install.dags.mkdir(parents=True)
    for example in EXAMPLES.glob("*.py"):
        shutil.copy(example, install.dags)
    install.run(install.bin / "airflow", "db", "migrate", timeout=180)
    return install


def test_the_provider_is_the_installed_wheel(fresh_install: FreshInstall):
    where = fresh_install.run(
        fresh_install.bin / "python", "-c", "import airflow_provider_schedulerx as p; print(p.__file__)"
    )
    assert Path(where.strip()).is_relative_to(fresh_install.venv)


def test_airflow_lists_the_provider(fresh_install: FreshInstall):
    providers = {p["package_name"]: p for p in fresh_install.airflow_json("providers", "list")}
    assert providers[PACKAGE_NAME]["version"] == __version__


def test_airflow_lists_the_connection_type(fresh_install: FreshInstall):
    hooks = {hook["connection_type"]: hook for hook in fresh_install.airflow_json("providers", "hooks")}
    assert hooks["schedulerx"]["class"] == "airflow_provider_schedulerx.hooks.schedulerx.SchedulerXHook"
    assert hooks["schedulerx"]["hook_name"] == "Alibaba Cloud SchedulerX"
    assert hooks["schedulerx"]["package_name"] == PACKAGE_NAME


def test_airflow_lists_the_console_link(fresh_install: FreshInstall):
    links = [link["extra_link_class_name"] for link in fresh_install.airflow_json("providers", "links")]
    assert "airflow_provider_schedulerx.links.schedulerx.SchedulerXJobInstanceLink" in links


def test_the_example_dags_parse(fresh_install: FreshInstall):
    assert fresh_install.airflow_json("dags", "list-import-errors", "--local") == []
    dag_ids = {dag["dag_id"] for dag in fresh_install.airflow_json("dags", "list", "--local")}
    assert dag_ids == {path.stem for path in EXAMPLES.glob("example_*.py")}


def test_the_emulator_command_is_installed(fresh_install: FreshInstall):
    shown = fresh_install.run(fresh_install.bin / "schedulerx-emulator", "--help")
    assert "usage: schedulerx-emulator" in shown
