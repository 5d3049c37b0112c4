"""The targets of the performance issues, in one place."""

PARSE_IMPORT_MS = 10.0
SYNC_CPU_RATIO = 0.75
TRIGGER_CPU_RATIO = 0.4
SCALE_COUNT = 5000
SCALE_INTERVAL = 10.0
SCALE_CORE_SHARE = 0.25
SCALE_LAG_P99_MS = 50.0
#: Above this share of a core, an emulator process could be what limits a measurement.
EMULATOR_BUSY_SHARE = 0.7

#: One poll per job: the instances of one job waited on, and the batched triggerer's CPU
#: at most this share of per-instance polling's.
BATCHED_COUNT = 1000
BATCHED_CPU_RATIO = 0.3
#: The poll grid on trial: the N at which it runs against plain sleeps, and the least
#: saving (of CPU per poll or of p99 loop lag, at either N) that keeps it.
GRID_TRIAL_COUNTS = (1000, 5000)
GRID_MIN_SAVING = 0.15
#: The account's limit: deferred tasks on distinct jobs, the emulator's flow control and
#: the budget of the run with one (calls per second), their poll interval, how long each
#: instance runs, and how long after the last one ends a run gives up.
QUOTA_COUNT = 5000
QUOTA_LIMIT = 50.0
QUOTA_INTERVAL = 10.0
QUOTA_RUN_SECONDS = 60.0
QUOTA_SPARE_SECONDS = 300.0
#: "Within about N / budget": the p99 of a completion's extra delay at most this many times
#: N / budget.
QUOTA_DELAY_ALLOWANCE = 1.2
