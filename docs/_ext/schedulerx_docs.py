"""Directives that render the provider's own definitions, so that the documentation says
what the code does: the connection's extras, the emulator's command line and its faults.

- ``.. schedulerx-connection-extras::`` a table of every extra of the connection;
- ``.. schedulerx-emulator-help::`` the output of ``schedulerx-emulator --help``;
- ``.. schedulerx-emulator-faults::`` a table of the fault kinds the emulator injects.
"""

from __future__ import annotations

import os
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

HELP_WIDTH = "100"


def _literal(value: Any) -> str:
    return f"``{value}``" if value not in (None, "") else ""


def _accepted(field: Any) -> str:
    if field.choices:
        values = ", ".join(_literal(choice) for choice in field.choices)
        return f"suggested: {values}; others are used with a warning" if field.open_choices else values
    if field.within is not None:
        low, high = field.within
        return f"{low:g} to {high:g}"
    if field.examples:
        return "e.g. " + ", ".join(_literal(example) for example in field.examples)
    return ""


def _cell(text: str) -> str:
    return text.replace("\n", " ").strip() or " "


def _list_table(header: list[str], rows: list[list[str]], widths: str) -> str:
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        first, *rest = row
        lines.append(f"   * - {_cell(first)}")
        lines.extend(f"     - {_cell(cell)}" for cell in rest)
    return "\n".join(lines)


class ConnectionExtras(SphinxDirective):
    """Every extra of the SchedulerX connection, from its definition in code."""

    def run(self) -> list[nodes.Node]:
        from airflow_provider_schedulerx.hooks.connection_form import EXTRA_FIELDS

        rows = []
        for field in EXTRA_FIELDS:
            kind = field.type + (", sensitive" if field.sensitive else "")
            where = field.label if field.in_form else f"{field.label} (extra JSON only)"
            default = _literal(field.default)
            rows.append([_literal(field.name), kind, default, _accepted(field), where, field.description])
        table = _list_table(
            ["extra", "type", "default", "accepted", "form field", "meaning"], rows, "14 8 10 22 16 30"
        )
        return self.parse_text_to_nodes(table)


class EmulatorHelp(SphinxDirective):
    """``schedulerx-emulator --help``, as the command prints it."""

    def run(self) -> list[nodes.Node]:
        from airflow_provider_schedulerx.emulator.cli import build_parser

        columns = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = HELP_WIDTH
        try:
            text = build_parser().format_help()
        finally:
            if columns is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = columns
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


class EmulatorFaults(SphinxDirective):
    """The fault kinds of the emulator, with their command-line flags."""

    def run(self) -> list[nodes.Node]:
        from airflow_provider_schedulerx.emulator import FAULT_KINDS

        rows = []
        for kind, meaning in FAULT_KINDS.items():
            flag = kind.replace("_", "-")
            rows.append([_literal(kind), f"``--{flag}-rate P``, ``--{flag}-count N``", meaning])
        table = _list_table(["kind", "flags", "what the request gets"], rows, "15 35 50")
        return self.parse_text_to_nodes(table)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("schedulerx-connection-extras", ConnectionExtras)
    app.add_directive("schedulerx-emulator-help", EmulatorHelp)
    app.add_directive("schedulerx-emulator-faults", EmulatorFaults)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
