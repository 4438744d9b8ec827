"""`make run`: the whole embedded stack in one terminal.

Runs the store bootstrap, then Temporal (SQLite in the data directory), an MQTT broker,
the sandbox Kubernetes API when no cluster is configured, the worker and the API under
honcho, which prefixes every line with the process's name and, when one process stops or
on Ctrl-C/SIGTERM, sends SIGTERM to all of them and waits for them to exit.

`python -m workers.stack --after HOST:PORT [--after HOST:PORT ...] -- COMMAND...` is how
the launcher starts a process that needs others to listen first: it waits, then execs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from honcho.manager import Manager

from adapters.mqtt.credentials import control_credentials, service_credentials
from store.files import private_dir
from store.settings import KubeMode, Settings
from workers.processes import (
    BrokerAccounts,
    bridge_command,
    broker_accounts,
    broker_command,
    simulator_command,
    temporal_dev_server_command,
    wait_for_port,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.stack", description=__doc__)
    parser.add_argument("--after", action="append", default=[], metavar="HOST:PORT")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        if command:
            wait_then_exec(args.after, command)
        return run_stack(Settings())
    except KeyboardInterrupt:
        return 130


def run_stack(settings: Settings) -> int:
    private_dir(settings.data_dir)
    kube = kube_target(settings)
    env = child_environment(settings, kube=kube)
    # Migrations and the first admin; its one-time password output goes straight through.
    bootstrap = subprocess.run([sys.executable, "-m", "store.bootstrap"], env=env, check=False)
    if bootstrap.returncode != 0:
        print(f"store bootstrap failed (exit {bootstrap.returncode})", file=sys.stderr)
        return bootstrap.returncode

    accounts = broker_accounts(
        settings.data_dir,
        service=service_credentials(settings),
        control=control_credentials(settings),
    )
    processes = stack_processes(settings, kube=kube, accounts=accounts)
    broker = next(name for name in processes if name in ("mosquitto", "amqtt"))
    env |= mqtt_environment(accounts, control=False)
    # Flushed now: honcho forks, and a forked copy of an unflushed buffer prints twice.
    print(banner(settings, kube=kube, broker=broker), flush=True)
    manager = Manager()
    for name, command in processes.items():
        own = env
        if name == "worker" and broker == "mosquitto":
            # Only the worker manages the devices' accounts, and only Mosquitto has them.
            own = env | mqtt_environment(accounts, control=True)
        # honcho runs a shell line; `exec` makes the process itself its child, so the pid it
        # reports and the exit code it sees are the process's own.
        manager.add_process(name, "exec " + shlex.join(command), env=own)
    manager.loop()
    return int(manager.returncode or 0)


def kube_target(settings: Settings) -> KubeMode:
    """What `auto` means here: a cluster when one is configured, else the sandbox."""
    if settings.kube_mode is not KubeMode.AUTO:
        return settings.kube_mode
    configured = (
        os.environ.get("KUBECONFIG")
        or os.environ.get("KUBERNETES_SERVICE_HOST")
        or (Path.home() / ".kube" / "config").exists()
    )
    return KubeMode.CLUSTER if configured else KubeMode.SANDBOX


def child_environment(settings: Settings, *, kube: KubeMode) -> dict[str, str]:
    env = dict(os.environ)
    env["EDGEWRIGHT_SECRET_KEY"] = secret_key(settings)
    # Decided once here, so every process and the banner agree on the target.
    env["EDGEWRIGHT_KUBE_MODE"] = kube.value
    if kube is KubeMode.SANDBOX and settings.cloudcore_address is None:
        # The sandbox has no CloudCore Service to read an address from; loopback lets the
        # seed's minimal join body (no cloud_ip) work out of the box.
        env["EDGEWRIGHT_CLOUDCORE_ADDRESS"] = "127.0.0.1"
    # Children write into honcho's pipes: show their lines as they come.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def mqtt_environment(accounts: BrokerAccounts, *, control: bool) -> dict[str, str]:
    """The services' MQTT account as settings (and the control account's, for the worker)."""
    env = {
        "EDGEWRIGHT_MQTT_USERNAME": accounts.service.username,
        "EDGEWRIGHT_MQTT_PASSWORD": accounts.service.password,
    }
    if control:
        env["EDGEWRIGHT_MQTT_CONTROL_USERNAME"] = accounts.control.username
        env["EDGEWRIGHT_MQTT_CONTROL_PASSWORD"] = accounts.control.password
    return env


def secret_key(settings: Settings) -> str:
    """EDGEWRIGHT_SECRET_KEY, else the key in data_dir/secret.key, created on first start."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = settings.data_dir / "secret.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key


def stack_processes(
    settings: Settings, *, kube: KubeMode, accounts: BrokerAccounts
) -> dict[str, list[str]]:
    """Name -> command line of every process, in start order."""
    python = sys.executable
    temporal_host, temporal_port = _host_port(settings.temporal_address)
    mqtt = f"{settings.mqtt_host}:{settings.mqtt_port}"
    broker = broker_command(
        port=settings.mqtt_port,
        host=settings.mqtt_host,
        data_dir=settings.data_dir,
        accounts=accounts,
    )
    processes = {
        "temporal": temporal_dev_server_command(
            ip=temporal_host,
            port=temporal_port,
            ui_port=urlsplit(settings.temporal_ui_url).port or 8233,
            db_file=settings.data_dir / "temporal.db",
            headless=False,
        ),
        Path(broker[0]).name: broker,
    }
    worker_needs = [settings.temporal_address, mqtt]
    if kube is KubeMode.SANDBOX:
        sandbox_port = urlsplit(settings.sandbox_url).port or 80
        state = settings.data_dir / "sandbox-kube.json"
        processes["sandbox"] = [python, "-m", "simulator.kube_sandbox", "--host", "127.0.0.1"]
        processes["sandbox"] += ["--port", str(sandbox_port), "--state", str(state)]
        worker_needs.append(f"127.0.0.1:{sandbox_port}")
    processes["worker"] = _after(worker_needs, [python, "-m", "workers"])
    listen = ["--host", settings.api_host, "--port", str(settings.api_port)]
    processes["api"] = _after(
        [settings.temporal_address, mqtt], [python, "-m", "uvicorn", "api.main:app", *listen]
    )
    processes["bridge"] = _after(
        [settings.temporal_address, mqtt],
        bridge_command(python=python, broker=Path(broker[0]).name),
    )
    if settings.simulated_devices:
        sandbox = kube is KubeMode.SANDBOX
        api_host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::") else settings.api_host
        needs = [mqtt, f"{api_host}:{settings.api_port}", *worker_needs[2:]]
        fleet = simulator_command(
            python=python, devices=settings.simulated_devices, sandbox=sandbox
        )
        processes["simulator"] = _after(needs, fleet)
    return processes


def _after(addresses: list[str], command: list[str]) -> list[str]:
    waits = [arg for address in addresses for arg in ("--after", address)]
    return [sys.executable, "-m", "workers.stack", *waits, "--", *command]


def wait_then_exec(addresses: list[str], command: list[str]) -> NoReturn:
    try:
        for address in addresses:
            host, port = _host_port(address)
            wait_for_port(host, port)
    except TimeoutError as error:
        sys.exit(f"{shlex.join(command)}: not started: {error}")
    os.execvp(command[0], command)  # noqa: S606 (a command line from stack_processes)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def metrics_line(settings: Settings) -> str:
    """Where each process serves /metrics (EDGEWRIGHT_*_METRICS_PORT, 0 turns one off)."""

    def where(port: int) -> str:
        return f"http://{settings.metrics_host}:{port}/metrics" if port else "off"

    api = f"{settings.public_api_url}/metrics" + ("" if settings.metrics_public else " (login)")
    worker, bridge = where(settings.worker_metrics_port), where(settings.bridge_metrics_port)
    return f"API {api}, worker {worker}, bridge {bridge}"


def banner(settings: Settings, *, kube: KubeMode, broker: str) -> str:
    api = settings.public_api_url
    if kube is KubeMode.SANDBOX:
        kubernetes = f"sandbox (local API emulator at {settings.sandbox_url}, not a real cluster)"
    else:
        kubernetes = "cluster (KUBECONFIG, ~/.kube/config or in-cluster configuration)"
    if settings.admin_password is not None:
        admin = f"user {settings.admin_username!r}, password from EDGEWRIGHT_ADMIN_PASSWORD"
    else:
        admin = (
            f"user {settings.admin_username!r}, password generated on the first start and "
            "printed once by the bootstrap (only its hash is kept)"
        )
    if broker == "mosquitto":
        mqtt_auth = "accounts in data/mqtt-accounts.json and one per device"
    else:
        mqtt_auth = "no authentication: docs/api-notes.md"
    rows = [
        ("API", api),
        ("API docs", f"{api}/docs"),
        ("Temporal UI", settings.temporal_ui_url),
        ("Metrics", metrics_line(settings)),
        ("Temporal gRPC", settings.temporal_address),
        ("MQTT broker", f"{settings.mqtt_host}:{settings.mqtt_port} ({broker}, {mqtt_auth})"),
        ("Kubernetes", kubernetes),
        ("Data", str(settings.data_dir.resolve())),
        ("Admin login", admin),
    ]
    if settings.simulated_devices:
        rows.append(("Simulated", f"{settings.simulated_devices} devices, sim-device-0001..."))
    lines = [f"  {label:<14} {value}" for label, value in rows]
    return "\n".join(["", "edgewright embedded stack", *lines, "  Ctrl-C stops everything.", ""])


if __name__ == "__main__":
    sys.exit(main())
