"""What the documentation shows beside the example DAGs (which it includes, and the DAG tests
run): its Python snippets compile, its connection JSON is one the provider reads, and the
demo credentials it names are the emulator's, defined once."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from airflow_provider_schedulerx.emulator import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_GROUP_ID,
    DEFAULT_NAMESPACE,
    DEFAULT_REGION_ID,
)
from tests.conftest import REPO

pytestmark = pytest.mark.release

DOCS = REPO / "docs"
PAGES = sorted(path for path in DOCS.rglob("*.rst") if "_build" not in path.parts)
DEMO_VALUES = (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_NAMESPACE,
    DEFAULT_GROUP_ID,
    DEFAULT_REGION_ID,
)


def rst_code_blocks(page: Path, language: str) -> list[str]:
    """The bodies of a page's ``.. code-block:: <language>`` directives."""
    blocks = []
    lines = page.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.strip() == f".. code-block:: {language}":
            body = []
            for following in lines[number + 1 :]:
                if following.strip() and not following.startswith(" "):
                    break
                body.append(following)
            blocks.append(textwrap.dedent("\n".join(body)).strip("\n"))
    return blocks


SNIPPETS = [(page, block) for page in PAGES for block in rst_code_blocks(page, "python")]


@pytest.mark.parametrize(
    ("page", "snippet"),
    SNIPPETS,
    ids=[f"{page.relative_to(DOCS)}-{i}" for i, (page, _) in enumerate(SNIPPETS)],
)
def test_python_snippets_compile(page: Path, snippet: str):
    compile(snippet, str(page), "exec")


def test_the_emulator_connection_is_the_demo_one():
    from airflow_provider_schedulerx.hooks.connection import ConnectionSettings

    (block,) = [b for b in rst_code_blocks(DOCS / "connection.rst", "bash") if '"host": "http://127' in b]
    fields = json.loads(block.split("=", 1)[1].strip().strip("'"))
    assert (fields["login"], fields["password"]) == (DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    extra = fields["extra"]
    assert (extra["namespace"], extra["group_id"], extra["region_id"]) == DEMO_VALUES[2:]
    ConnectionSettings.from_fields(login=fields["login"], password=fields["password"], host=fields["host"])


def test_the_emulator_page_names_the_demo_credentials():
    page = (DOCS / "emulator.rst").read_text()
    stated = re.findall(r"AccessKey (\S+) / (\S+), namespace (\S+), group (\S+)", page)
    assert stated == [DEMO_VALUES[:4]]
    for value in DEMO_VALUES:
        assert f"``{value}``" in page


@pytest.mark.parametrize("folder", ["scripts", "example_dags"])
def test_the_demo_credentials_are_defined_once(folder: str):
    """The demo and the deployment script import the emulator's defaults instead of repeating
    the AccessKey (an example DAG names none)."""
    for path in (REPO / folder).glob("*.py"):
        text = path.read_text()
        assert DEFAULT_ACCESS_KEY_ID not in text and DEFAULT_ACCESS_KEY_SECRET not in text, path
