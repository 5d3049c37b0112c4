"""The targets of the performance issue, in one place."""

PARSE_IMPORT_MS = 10.0
SYNC_CPU_RATIO = 0.75
TRIGGER_CPU_RATIO = 0.4
SCALE_COUNT = 5000
SCALE_INTERVAL = 10.0
SCALE_CORE_SHARE = 0.25
SCALE_LAG_P99_MS = 50.0
#: Above this share of a core, an emulator process could be what limits a measurement.
EMULATOR_BUSY_SHARE = 0.7
