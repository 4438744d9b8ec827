"""The worker's and bridge's /metrics listener: served, off at port 0, harmless when taken."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.prometheus.listener import serve_metrics
from adapters.prometheus.registry import PROCESS_START, process_registry
from workers.processes import LOOPBACK, free_port


def test_serves_the_registry_it_is_given() -> None:
    listener = serve_metrics(
        process_registry("worker"), host=LOOPBACK, port=free_port(), process="worker"
    )
    assert listener is not None
    try:
        answer = httpx.get(f"http://{LOOPBACK}:{listener.port}/metrics", timeout=10)
    finally:
        listener.stop()
    assert answer.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(answer.text)}
    assert families[PROCESS_START].samples[0].labels == {"process": "worker"}


def test_port_zero_is_off() -> None:
    assert (
        serve_metrics(process_registry("bridge"), host=LOOPBACK, port=0, process="bridge") is None
    )


def test_a_taken_port_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR):
            listener = serve_metrics(
                process_registry("bridge"), host=LOOPBACK, port=port, process="bridge"
            )
    assert listener is None
    assert f"bridge metrics not served on {LOOPBACK}:{port}" in caplog.text
