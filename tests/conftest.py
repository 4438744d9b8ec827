"""Fixtures shared by every test package: real servers, started and stopped here."""

from tests.kube_fixtures import kube_sandbox_url
from tests.mqtt_fixtures import mqtt_broker
from tests.store_fixtures import database_url, postgres_dsn, sessions
from tests.temporal_fixtures import dev_env, time_skipping_env

__all__ = [
    "database_url",
    "dev_env",
    "kube_sandbox_url",
    "mqtt_broker",
    "postgres_dsn",
    "sessions",
    "time_skipping_env",
]
