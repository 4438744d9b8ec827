"""`python -m workers.search_attributes`: register our search attributes in the namespace.

Run once per namespace before the first worker starts (the Kubernetes base runs it in the
migration Job); running it again changes nothing. `--check` only reports what is missing
(exit 1 when something is). Temporal Cloud does not let a client add attributes: there
the command prints the `tcld` line that does, and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from temporalio.service import RPCError, RPCStatusCode

from adapters.temporal import connect_temporal
from adapters.temporal_namespace import (
    SearchAttributeConflict,
    ensure_search_attributes,
    missing_and_conflicting,
    registered_search_attributes,
)
from store.settings import Settings
from workflows.contracts.common import SEARCH_ATTRIBUTES

log = logging.getLogger("edgewright.search_attributes")
_REFUSED = (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED)


async def run(settings: Settings, *, check: bool) -> int:
    client = await connect_temporal(settings)
    namespace = settings.temporal_namespace
    if check:
        registered = await registered_search_attributes(client, namespace=namespace)
        missing, conflicts = missing_and_conflicting(SEARCH_ATTRIBUTES, registered)
        for problem in conflicts:
            log.error("%s: %s", namespace, problem)
        if missing:
            log.error("%s lacks %s", namespace, ", ".join(key.name for key in missing))
        return 1 if missing or conflicts else 0
    try:
        result = await ensure_search_attributes(
            client, namespace=namespace, wanted=SEARCH_ATTRIBUTES
        )
    except SearchAttributeConflict as err:
        log.error("%s: %s; rename or remove it in Temporal first", namespace, err)
        return 2
    except RPCError as err:
        if err.status not in _REFUSED:
            raise
        log.error("%s: this server does not let clients add search attributes (%s)", namespace, err)
        log.error("Temporal Cloud: %s", tcld_command(namespace))
        return 1
    log.info(
        "%s: added %s; already present: %s",
        namespace,
        ", ".join(result.added) or "nothing",
        ", ".join(result.present) or "none",
    )
    return 0


def tcld_command(namespace: str) -> str:
    attributes = " ".join(
        f"--sa '{key.name}={key.indexed_value_type.name.title().replace('_', '')}'"
        for key in SEARCH_ATTRIBUTES
    )
    return f"tcld namespace search-attributes add --namespace {namespace} {attributes}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workers.search_attributes", description=__doc__
    )
    parser.add_argument("--check", action="store_true", help="report only; change nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(run(Settings(), check=args.check))


if __name__ == "__main__":
    sys.exit(main())
