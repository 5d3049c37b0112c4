"""The performance suite: ``make bench`` (or ``python -m benchmarks``) measures what the
provider costs its users, each figure next to a baseline measured in the same run, and
writes ``docs/benchmarks.md`` and ``docs/benchmarks.png``.

1. DAG-parse cost: import time added on top of ``airflow.sdk``, and task construction.
2. Sync cost per API call: client CPU and wall time per signed ``GetJobInstance``.
3. Triggerer scale: N triggers polling in one event loop.

Baselines: the dbt Cloud and Airbyte providers' sensors (1), Alibaba's official Python SDK
(2 and 3). Every server is the provider's emulator, run in processes of its own.
"""
