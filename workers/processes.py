"""Command lines for the processes the embedded stack runs.

`workers.stack` (`make run`) and the test fixtures start the same Temporal dev server and
MQTT broker from these functions, so tests run against what operators run. Every binary
comes from this environment or the system: nothing is downloaded at run time.
"""

from __future__ import annotations

import glob
import ipaddress
import json
import os
import pwd
import secrets
import shutil
import socket
import string
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from temporalio.common import SearchAttributeIndexedValueType

from adapters.mqtt import dynsec
from adapters.mqtt.credentials import MqttCredentials
from store.files import private_dir
from workflows.contracts.common import SEARCH_ATTRIBUTES

LOOPBACK = "127.0.0.1"
# WAL with synchronous=normal: close to `synchronous=off` in throughput (measured on 2
# cores: about 70 one-activity workflows/s, against 25-28 with the defaults), but a power
# cut loses at most the last transactions instead of corrupting the file.
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")
DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
MOSQUITTO_TEMPLATE = DEPLOY / "mosquitto.conf.template"
MOSQUITTO_ACL = DEPLOY / "mosquitto.acl"
# Where Debian (multiarch) and source builds put Mosquitto's dynamic security plugin.
DYNSEC_PLUGIN_PATTERNS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/*/mosquitto_dynamic_security.so",
)
ACCOUNTS_FILE = "mqtt-accounts.json"
DYNSEC_STATE_FILE = "dynamic-security.json"
SERVICE_USERNAME = "edgewright-service"
CONTROL_USERNAME = "edgewright-control"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now (for tests and benchmarks)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def scripts_dir() -> Path:
    """Where this environment's console scripts live (`temporal`, `amqtt`, ...)."""
    return Path(sysconfig.get_path("scripts"))


def temporal_binary() -> Path:
    return scripts_dir() / "temporal"


def temporal_dev_server_command(
    *,
    port: int,
    ui_port: int,
    db_file: Path | None,
    headless: bool,
    ip: str = LOOPBACK,
    log_level: str = "warn",
) -> list[str]:
    """`temporal server start-dev` with our search attributes registered.

    `db_file=None` keeps everything in memory (fastest, for tests); the UI listens on
    `ui_port` unless `headless`.
    """
    command = [str(temporal_binary()), "server", "start-dev", "--ip", ip, "--port", str(port)]
    command += ["--headless"] if headless else ["--ui-port", str(ui_port)]
    if db_file is not None:
        command += ["--db-filename", str(db_file)]
        for pragma in SQLITE_PRAGMAS:
            command += ["--sqlite-pragma", pragma]
    for key in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}={_cli_type(key.indexed_value_type)}"]
    return [*command, "--log-level", log_level]


def _cli_type(value_type: SearchAttributeIndexedValueType) -> str:
    # KEYWORD_LIST -> KeywordList, the spelling the CLI expects.
    return "".join(word.capitalize() for word in value_type.name.split("_"))


def mosquitto_binary() -> str | None:
    """Mosquitto's path, also when /usr/sbin (Debian's place for it) is not on PATH."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def dynsec_plugin() -> Path | None:
    for pattern in DYNSEC_PLUGIN_PATTERNS:
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[0])
    return None


@dataclass(frozen=True, kw_only=True)
class BrokerAccounts:
    """The services' MQTT accounts: `service` for every process, `control` for the worker."""

    service: MqttCredentials
    control: MqttCredentials


def broker_accounts(
    data_dir: Path,
    *,
    service: MqttCredentials | None = None,
    control: MqttCredentials | None = None,
) -> BrokerAccounts:
    """The accounts given, else those in DATA_DIR/mqtt-accounts.json, created on first use.

    Generated like the admin's password, never a built-in default; the file is mode 0600
    and its passwords are never logged.
    """
    path = data_dir / ACCOUNTS_FILE
    if service is None or control is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            kept = json.loads(path.read_text(encoding="utf-8"))
        else:
            kept = {
                "service": {"username": SERVICE_USERNAME, "password": secrets.token_urlsafe(32)},
                "control": {"username": CONTROL_USERNAME, "password": secrets.token_urlsafe(32)},
            }
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(kept, file)
        service = service or MqttCredentials(**kept["service"])
        control = control or MqttCredentials(**kept["control"])
    return BrokerAccounts(service=service, control=control)


def broker_command(
    *,
    port: int,
    data_dir: Path,
    host: str = LOOPBACK,
    use_mosquitto: bool | None = None,
    accounts: BrokerAccounts | None = None,
) -> list[str]:
    """Write a broker config into `data_dir` and return the command that runs the broker.

    Mosquitto when installed (or when `use_mosquitto` is true; then it must be), with the
    dynamic security plugin and `accounts` (default: broker_accounts(data_dir)); else
    amqtt from this environment (MQTT 3.1.1 only, sessions kept in memory, and no
    authentication to speak of: docs/api-notes.md).
    """
    mosquitto = mosquitto_binary() if use_mosquitto is not False else None
    if use_mosquitto and mosquitto is None:
        raise FileNotFoundError("mosquitto is not installed (make system-deps)")
    data_dir = data_dir.resolve()
    private_dir(data_dir)
    if mosquitto is not None:
        config = write_mosquitto_config(
            port=port, host=host, data_dir=data_dir, accounts=accounts or broker_accounts(data_dir)
        )
        return [mosquitto, "-c", str(config)]
    config = write_amqtt_config(port=port, host=host, data_dir=data_dir)
    return [str(scripts_dir() / "amqtt"), "-c", str(config)]


def write_mosquitto_config(
    *, port: int, host: str, data_dir: Path, accounts: BrokerAccounts
) -> Path:
    plugin = dynsec_plugin()
    if plugin is None:
        raise FileNotFoundError(
            "Mosquitto's dynamic security plugin (mosquitto_dynamic_security.so) is missing; "
            "Debian's mosquitto package ships it"
        )
    dynsec.write_state(
        data_dir / DYNSEC_STATE_FILE, service=accounts.service, control=accounts.control
    )
    text = string.Template(MOSQUITTO_TEMPLATE.read_text()).substitute(
        port=port,
        host=host,
        dynsec_plugin=plugin,
        acl_file=MOSQUITTO_ACL,
        persistence_dir=data_dir,
        user=pwd.getpwuid(os.getuid()).pw_name,
    )
    path = data_dir / "mosquitto.conf"
    path.write_text(text)
    return path


def write_amqtt_config(*, port: int, host: str, data_dir: Path) -> Path:
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        # Only authentication: amqtt's packet and event loggers would print every message.
        # asyncio already sets TCP_NODELAY on its sockets.
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {
                "allow_anonymous": is_loopback(host)
            }
        },
    }
    path = data_dir / "amqtt.yaml"
    path.write_text(json.dumps(config, indent=2) + "\n")  # JSON is valid YAML
    return path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def wait_for_port(host: str, port: int, *, timeout: float = 60.0) -> None:
    """Block until something accepts TCP connections on host:port, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout:.0f} s"
                ) from None
            time.sleep(0.1)


# --- the device side of the stack -----------------------------------------------------


def bridge_command(*, python: str, broker: str) -> list[str]:
    """`python -m workers.bridge`; amqtt knows no `$share/...`, so plain subscriptions there."""
    command = [python, "-m", "workers.bridge"]
    return [*command, "--share-group", ""] if broker == "amqtt" else command


def simulator_command(*, python: str, devices: int, sandbox: bool) -> list[str]:
    """The simulated fleet of `SIMULATED_DEVICES=N make run`.

    In the sandbox the devices also play edgecore and are joined through the API on first
    start (with the operator API key the simulator keeps in the data directory). Against
    a real cluster they only speak MQTT: their nodes would have to be real.
    """
    command = [python, "-m", "simulator", "--devices", str(devices)]
    if sandbox:
        command += ["--edgecore", "--join", "--stack-credentials"]
    return command
