"""Sphinx configuration of the documentation site (``make docs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
# autodoc imports Airflow, which writes its configuration into AIRFLOW_HOME.
os.environ.setdefault("AIRFLOW_HOME", str(DOCS / "_build" / "airflow-home"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_schedulerx import __version__  # noqa: E402

project = "airflow-provider-schedulerx"
author = "The airflow-provider-schedulerx authors"
copyright = f"2026, {author}"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "myst_parser",
    "schedulerx_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# The benchmark report is written by `make bench` and included by performance.md.
exclude_patterns = ["_build", "benchmarks.md"]

html_theme = "furo"
html_title = f"Alibaba Cloud SchedulerX provider {release}"

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"

myst_heading_anchors = 3
