"""The performance suite: ``make bench`` (or ``python -m benchmarks``) measures what the
provider costs its users, each figure next to a baseline measured in the same run, and
writes ``docs/benchmarks.md`` and ``docs/benchmarks.png``.

1. DAG-parse cost: import time added on top of ``airflow.sdk``, and task construction.
2. Sync cost per API call: client CPU and wall time per signed ``GetJobInstance``.
3. Triggerer scale: N triggers polling in one event loop; the provider's trigger polling
   each instance, polling in its job's rounds (one poll per job), and without the poll grid.
4. The account's limit: N tasks on distinct jobs against an emulator that throttles beyond
   a rate, with the provider's call budget and without.

Baselines: the dbt Cloud and Airbyte providers' sensors (1), Alibaba's official Python SDK
(2 and 3), per-instance polling (3) and the run without a budget (4). Every server is the
provider's emulator, run in processes of its own. ``--only`` runs some of them.
"""
