"""`python -m workers.dynsec_state PATH`: write Mosquitto's dynamic security state file.

For a broker that runs outside `make run` (the try-it overlay's Mosquitto, an init
container of its pod): the services' account (EDGEWRIGHT_MQTT_USERNAME and _PASSWORD),
the worker's control account (EDGEWRIGHT_MQTT_CONTROL_USERNAME and _PASSWORD) and our
roles, in the format `make run` writes (adapters/mqtt/dynsec.py). Run with the broker
stopped; the devices' accounts already in the file are kept, so a restarted broker still
knows every joined device. Exit 2 when an account is missing: a broker without them would
refuse every edgewright process.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from adapters.mqtt.credentials import control_credentials, service_credentials
from adapters.mqtt.dynsec import write_state
from store.settings import Settings

log = logging.getLogger("edgewright.dynsec_state")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.dynsec_state", description=__doc__)
    parser.add_argument("path", type=Path, help="the plugin's plugin_opt_config_file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    service, control = service_credentials(settings), control_credentials(settings)
    if service is None or control is None:
        unset = [
            f"EDGEWRIGHT_MQTT_{prefix}USERNAME and _PASSWORD"
            for prefix, account in (("", service), ("CONTROL_", control))
            if account is None
        ]
        log.error("%s not set: no state written", "; ".join(unset))
        return 2
    write_state(args.path, service=service, control=control)
    log.info("Wrote %s: accounts %r and %r", args.path, service.username, control.username)
    return 0


if __name__ == "__main__":
    sys.exit(main())
