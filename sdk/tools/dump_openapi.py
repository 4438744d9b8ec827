"""Print the OpenAPI document the API serves, built from `api.main.create_app()`.

No server, no network: `make sdk-models` feeds it to datamodel-code-generator. Run from
the repository root (`python sdk/tools/dump_openapi.py`), so `api` is importable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from api.main import create_app


def main() -> None:
    spec = create_app().openapi()
    sys.stdout.write(json.dumps(spec, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
