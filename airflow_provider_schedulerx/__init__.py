"""Apache Airflow provider for Alibaba Cloud SchedulerX."""

__version__ = "0.1.0"
