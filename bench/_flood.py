"""`python -m bench._flood`: publish status heartbeats as fast as possible (for bridge_ingest).

Round-robin over `--devices` device IDs on a few connections, QoS 0 like real heartbeats,
flat out or at `--rate` messages/s; prints the number sent and the seconds it took.
"""

from __future__ import annotations

import argparse
import json
import socket
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from adapters.mqtt.credentials import service_credentials
from adapters.mqtt.tcp import nodelay
from store.settings import Settings


def _nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    # A plain threaded paho client on purpose: the load comes from outside the process.
    if isinstance(sock, socket.socket):
        nodelay(sock)


def flood(
    *, port: int, devices: int, messages: int, connections: int, prefix: str, rate: float
) -> float:
    """Publish; `rate` > 0 paces the messages evenly at that many per second."""
    clients = []
    credentials = service_credentials(Settings())  # EDGEWRIGHT_MQTT_*, as bridge_ingest sets
    for index in range(connections):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"flood-{index}")
        if credentials is not None:
            client.username_pw_set(credentials.username, credentials.password)
        client.on_socket_open = _nodelay
        client.connect("127.0.0.1", port, keepalive=60)
        client.loop_start()
        clients.append(client)
    time.sleep(0.5)
    payload = json.dumps(
        {"online": True, "cpu": "42%", "memory": "1.9GB", "temperature": 51.5, "apps": []}
    )
    start = time.perf_counter()
    for n in range(messages):
        device = f"{prefix}{n % devices + 1:05d}"
        clients[n % connections].publish(f"cloudcore/device/{device}/status", payload, qos=0)
        if rate > 0 and n % 100 == 99:
            ahead = start + (n + 1) / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    elapsed = time.perf_counter() - start
    time.sleep(1.0)  # let the network threads write out what they queued
    for client in clients:
        client.disconnect()
        client.loop_stop()
    return elapsed


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--prefix", default="ingest-")
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s; 0: flat out")
    args = parser.parse_args()
    seconds = flood(
        port=args.port,
        devices=args.devices,
        messages=args.messages,
        connections=args.connections,
        prefix=args.prefix,
        rate=args.rate,
    )
    print(json.dumps({"sent": args.messages, "seconds": round(seconds, 3)}), flush=True)
