"""MQTT user names and passwords: the services' accounts, read from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from store.settings import Settings


@dataclass(frozen=True, kw_only=True)
class MqttCredentials:
    username: str
    password: str = field(repr=False)  # never in a log line or a traceback's locals


def service_credentials(settings: Settings) -> MqttCredentials | None:
    """The account the worker, bridge, API and simulator connect with; None: anonymous."""
    if settings.mqtt_username is None or settings.mqtt_password is None:
        return None
    return MqttCredentials(
        username=settings.mqtt_username, password=settings.mqtt_password.get_secret_value()
    )


def control_credentials(settings: Settings) -> MqttCredentials | None:
    """The account that manages the broker's clients (the worker only); None: unmanaged."""
    if settings.mqtt_control_username is None or settings.mqtt_control_password is None:
        return None
    return MqttCredentials(
        username=settings.mqtt_control_username,
        password=settings.mqtt_control_password.get_secret_value(),
    )
