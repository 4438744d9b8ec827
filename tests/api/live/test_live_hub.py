"""The live-event hub, topics and log redaction, without servers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from api.live.hub import EventHub, TooManyClients
from api.live.redact import RedactSecrets, redact
from api.live.shapes import UnknownTopic, event_types, websocket_message


def event(n: int, kind: str = "heartbeat") -> dict[str, object]:
    return {"event": kind, "n": n, "device_id": f"d{n % 3}"}


async def test_a_slow_client_loses_its_own_oldest_events_and_nobody_waits() -> None:
    hub = EventHub(queue_size=10, max_clients=5)
    with hub.subscribe(lambda e: True) as slow, hub.subscribe(lambda e: True) as fast:
        received: list[int] = []

        async def read_fast() -> None:
            while len(received) < 100:
                received.append(int((await fast.next())["n"]))  # type: ignore[call-overload]

        reader = asyncio.create_task(read_fast())
        for n in range(100):
            hub.publish(event(n))  # never awaits anyone
            await asyncio.sleep(0)
        async with asyncio.timeout(5):
            await reader
        assert received == list(range(100))
        # The slow one kept the newest 10 and knows how many it missed.
        assert slow.take_dropped() == 90
        assert [int((await slow.next())["n"]) for _ in range(10)] == list(range(90, 100))  # type: ignore[call-overload]
    assert hub.clients == 0


async def test_filters_and_the_client_limit() -> None:
    hub = EventHub(queue_size=10, max_clients=1)
    with hub.subscribe(lambda e: e["event"] == "detection") as only_detections:
        with pytest.raises(TooManyClients), hub.subscribe(lambda e: True):
            pass
        hub.publish(event(1))
        hub.publish(event(2, "detection"))
        assert (await only_detections.next())["n"] == 2


def test_topics_map_to_event_types() -> None:
    assert event_types(["commands"]) == {"command_sent", "command_result"}
    assert "node_joined" in event_types(["device_status"])
    assert event_types(["device_joined", "alert"]) == {"node_joined", "alert"}
    assert len(event_types(["all"])) == 11
    with pytest.raises(UnknownTopic):
        event_types(["nope"])


def test_websocket_messages_use_the_seeds_names() -> None:
    message = websocket_message({"event": "node_joined", "device_id": "d", "node_name": "n"})
    assert message == {"type": "device_joined", "device_id": "d", "node_name": "n"}


def test_query_credentials_are_redacted_in_logs() -> None:
    assert redact("GET /api/kubeedge/monitor/stream?token=eyJ.abc&events=x") == (
        "GET /api/kubeedge/monitor/stream?token=***&events=x"
    )
    assert redact("/ws?api_key=ewk_1_2") == "/ws?api_key=***"
    assert redact("/a?x=1&b=token=2") == "/a?x=1&b=token=2"


@pytest.mark.parametrize(
    "query",
    ["%74oken=s3cr3t", "TOKEN=s3cr3t", "api%5Fkey=s3cr3t", "a=1&%74%6F%6B%65%6E=s3cr3t"],
)
def test_percent_encoded_credential_names_are_redacted(query: str) -> None:
    # The server decodes parameter names, so an encoded name still carries the credential.
    line = redact(f"GET /api/kubeedge/monitor/stream?{query}&events=x HTTP/1.1")
    assert "s3cr3t" not in line
    assert line.endswith("=***&events=x HTTP/1.1")
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s"',
        ("ip", "GET", "/x?token=s3cr3t"),
        None,
    )
    RedactSecrets().filter(record)
    assert "s3cr3t" not in record.getMessage()
