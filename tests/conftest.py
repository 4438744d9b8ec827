"""Fixtures shared by every test package: real servers, started and stopped here."""

import os
import sys

import pytest

from tests.support.kube_fixtures import kube_sandbox_url
from tests.support.modes import usual_umask
from tests.support.mqtt_fixtures import mqtt_broker
from tests.support.storage_fixtures import backup_target, s3_bucket, s3_server
from tests.support.store_fixtures import database_url, postgres_dsn, sessions
from tests.support.temporal_fixtures import dev_env, time_skipping_env

__all__ = [
    "backup_target",
    "database_url",
    "dev_env",
    "kube_sandbox_url",
    "mqtt_broker",
    "postgres_dsn",
    "s3_bucket",
    "s3_server",
    "sessions",
    "time_skipping_env",
    "usual_umask",
]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave with pytest's own status once its report is printed.

    temporalio can abort at interpreter exit (PyGILState_Release, exit 134) after every
    test passed (sdk-python#300); exiting here skips the interpreter's teardown.
    """
    if "status" not in _EXIT_STATUS:
        return  # the session never ran (usage error): let pytest exit its own way
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_EXIT_STATUS["status"])


_EXIT_STATUS: dict[str, int] = {}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS["status"] = int(exitstatus)
