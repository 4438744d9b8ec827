"""A small HTTP listener serving one registry at /metrics, in a thread of its own."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

log = logging.getLogger(__name__)


@dataclass
class MetricsListener:
    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(
    registry: CollectorRegistry, *, host: str, port: int, process: str
) -> MetricsListener | None:
    """Serve `registry` on host:port; None when `port` is 0 (off) or taken.

    A taken port is logged, not fatal: a process that cannot be scraped still works, and
    refusing to start over it would stop joins and commands for a chart.
    """
    if port == 0:
        return None
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as err:
        log.error("%s metrics not served on %s:%d: %s", process, host, port, err)
        return None
    listener = MetricsListener(server=server, thread=thread)
    log.info("%s metrics at http://%s:%d/metrics", process, host, listener.port)
    return listener
