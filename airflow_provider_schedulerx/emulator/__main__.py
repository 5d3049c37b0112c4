"""``python -m airflow_provider_schedulerx.emulator``."""

import sys

from airflow_provider_schedulerx.emulator.cli import main

sys.exit(main())
