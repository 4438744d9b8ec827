"""The configured backup schedule: refused when it runs too often or keeps everything."""

from __future__ import annotations

import hashlib

import pytest

from store.settings import Settings
from workers.schedules import ScheduleRefused, config_fingerprint, configured_schedule


def settings(**values: object) -> Settings:
    return Settings.model_validate(values)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"backup_schedule_interval_seconds": 1}, "EDGEWRIGHT_BACKUP_SCHEDULE_INTERVAL_SECONDS"),
        ({"backup_schedule_cron": "* * * * *"}, "EDGEWRIGHT_BACKUP_SCHEDULE_CRON"),
        ({"backup_keep_last": 0, "backup_keep_days": 0}, "EDGEWRIGHT_BACKUP_KEEP_LAST=0"),
    ],
)
def test_a_configured_schedule_that_would_fill_the_disk_is_refused(
    values: dict[str, object], named: str
) -> None:
    with pytest.raises(ScheduleRefused, match=named):
        configured_schedule(settings(**values))


def test_keeping_everything_and_a_lower_floor_are_opt_in() -> None:
    config = configured_schedule(
        settings(
            backup_schedule_interval_seconds=60,
            backup_schedule_min_interval_seconds=60,
            backup_keep_last=0,
            backup_keep_days=0,
            backup_schedule_keep_forever=True,
        )
    )
    assert (config.interval_seconds, config.keep_forever) == (60, True)


def test_the_default_schedule_keeps_its_fingerprint() -> None:
    # An upgrade alone must not look like a changed configuration to the worker.
    config = configured_schedule(settings())
    before = config.model_dump_json(exclude={"keep_forever"}) + "edgewright"
    expected = hashlib.sha256(before.encode()).hexdigest()[:32]
    assert config_fingerprint(config, task_queue="edgewright") == expected
