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
    """What the extra accepts, as a sentence (empty when anything of its type goes)."""
    if field.choices:
        values = ", ".join(_literal(choice) for choice in field.choices)
        if field.open_choices:
            return f"Suggested: {values}; others are used with a warning."
        return f"One of {values}."
    if field.within is not None:
        low, high = field.within
        return f"From {low:g} to {high:g}."
    if field.examples:
        return "For example " + ", ".join(_literal(example) for example in field.examples) + "."
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
            where = (
                f"form field *{field.label}*" if field.in_form else f"*{field.label}*, in the extra JSON only"
            )
            default = f"Default {_literal(field.default)}." if field.default is not None else ""
            parts = (field.description, default, _accepted(field), f"({where})")
            rows.append([f"{_literal(field.name)} ({kind})", " ".join(part for part in parts if part)])
        table = _list_table(["extra", "meaning"], rows, "30 70")
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
        table = _list_table(["kind", "flags", "what the request gets"], rows, "auto")
        return self.parse_text_to_nodes(table)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("schedulerx-connection-extras", ConnectionExtras)
    app.add_directive("schedulerx-emulator-help", EmulatorHelp)
    app.add_directive("schedulerx-emulator-faults", EmulatorFaults)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
