"""`python -m simulator --devices N`: N simulated edge devices in one process.

    python -m simulator --devices 5000 --heartbeat 15            # MQTT only
    python -m simulator --devices 20 --join --edgecore           # sandbox: join and run

With `--edgecore` each device also plays edgecore in the Kubernetes sandbox (Node
registered with the edge labels and kept Ready, and the status of the workloads placed on
it reported, see simulator.workloads); with `--join` devices not joined yet
are joined through the API first (as `--api-key`, an API key or login token, or
EDGEWRIGHT_SIMULATOR_API_KEY; with `--stack-credentials`, as the `simulator` user that
`make run` creates, its password kept in the data directory). A joined device connects
with its own MQTT account (from its join answer, or its node's Secret); the others, and
the steering client, with the services' account (EDGEWRIGHT_MQTT_USERNAME). The broker,
API and sandbox addresses come from the usual EDGEWRIGHT_* settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator

import aiohttp
from kubernetes import client

from adapters.mqtt.credentials import service_credentials
from simulator.credentials import stack_login
from simulator.device import Timing
from simulator.edgecore import ApiAccess, ApiJoiner, NodeRegistry
from simulator.enroll import EdgecoreRole, JoinedDevices
from simulator.fleet import Fleet, FleetConfig
from simulator.workloads import WorkloadReporter
from store.settings import Settings

log = logging.getLogger("simulator")
STATE_FILE = "simulator-state.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--start", type=int, default=1, help="number of the first device")
    parser.add_argument("--prefix", default="sim-device-")
    parser.add_argument("--node-prefix", default="sim-node-")
    parser.add_argument("--device-type", default="mixed", help="a type, or mixed")
    parser.add_argument("--heartbeat", type=float, default=15.0, help="seconds")
    parser.add_argument("--detections", type=float, default=60.0, help="mean seconds; 0: off")
    parser.add_argument("--answer-delay", type=float, default=0.05, help="seconds")
    parser.add_argument("--fail-fraction", type=float, default=0.0)
    parser.add_argument("--hang-fraction", type=float, default=0.0)
    parser.add_argument("--connects-per-second", type=float, default=500.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--edgecore", action="store_true", help="play edgecore in the sandbox")
    parser.add_argument("--join", action="store_true", help="join unjoined devices via the API")
    parser.add_argument("--api-url", default=None, help="default: EDGEWRIGHT_API_* settings")
    parser.add_argument("--api-key", default=os.environ.get("EDGEWRIGHT_SIMULATOR_API_KEY"))
    parser.add_argument("--stack-credentials", action="store_true")
    parser.add_argument("--workload-interval", type=float, default=1.0, help="seconds")
    return parser.parse_args(argv)


def sandbox_client(settings: Settings) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = settings.sandbox_url.rstrip("/")
    return client.ApiClient(configuration)


def api_url(settings: Settings, given: str | None) -> str:
    if given:
        return given.rstrip("/")
    # A wildcard bind address is not where a client connects.
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}"


@contextlib.asynccontextmanager
async def edgecore_role(
    args: argparse.Namespace, settings: Settings
) -> AsyncIterator[EdgecoreRole | None]:
    if not args.edgecore:
        yield None
        return
    registry = NodeRegistry(
        api_client=sandbox_client(settings), namespace=settings.kubeedge_namespace
    )
    state = JoinedDevices(settings.data_dir / STATE_FILE)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        joiner = None
        if args.join:
            login = None
            if args.api_key is None and args.stack_credentials:
                login = await stack_login(settings)
            access = ApiAccess(
                base_url=api_url(settings, args.api_url), credential=args.api_key, login=login
            )
            joiner = ApiJoiner(http=http, access=access)
        yield EdgecoreRole(registry=registry, state=state, joiner=joiner)


async def run(args: argparse.Namespace, settings: Settings) -> None:
    config = FleetConfig(
        devices=args.devices,
        mqtt_host=settings.mqtt_host,
        mqtt_port=settings.mqtt_port,
        start=args.start,
        prefix=args.prefix,
        node_prefix=args.node_prefix,
        device_type=args.device_type,
        timing=Timing(
            heartbeat_interval=args.heartbeat,
            detection_interval=args.detections,
            answer_delay=args.answer_delay,
        ),
        fail_fraction=args.fail_fraction,
        hang_fraction=args.hang_fraction,
        connects_per_second=args.connects_per_second,
        seed=args.seed,
        credentials=service_credentials(settings),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with edgecore_role(args, settings) as edgecore:
        workloads = None
        if edgecore is not None:
            workloads = WorkloadReporter(
                api_client=sandbox_client(settings), interval=args.workload_interval
            )
        fleet = Fleet(config=config, edgecore=edgecore, workloads=workloads)
        starting = asyncio.create_task(fleet.start())
        await stop.wait()
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await fleet.stop()
    log.info("simulated fleet stopped")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(run(parse_args(argv), Settings()))


if __name__ == "__main__":
    main()
