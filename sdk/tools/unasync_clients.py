"""Write the sync clients (`_sync/`) from the async ones (`_async/`) with unasync.

One source for both: `async def` becomes `def`, `await` goes, and the names below are
swapped token by token. `make sdk-sync` runs it; a test fails when `_sync/` is stale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sdk" / "src" / "kubeedge_cloudcore"
RENAMES = {
    "AsyncClient": "Client",
    "aconnect_sse": "connect_sse",
    "aiter_sse": "iter_sse",
    "aclose": "close",
    "aread": "read",
    "asleep": "sleep",
    "AsyncTransport": "SyncTransport",
    "AsyncBase": "SyncBase",
    "AsyncDevices": "SyncDevices",
    "AsyncCommands": "SyncCommands",
    "AsyncBackups": "SyncBackups",
    "AsyncAccess": "SyncAccess",
    "AsyncOperations": "SyncOperations",
    "AsyncLive": "SyncLive",
    "AsyncEdgeAPI": "SyncEdgeAPI",
    "AsyncEdgeClient": "EdgeClient",
    "AsyncCloudCoreClient": "CloudCoreClient",
    "asubscribe": "subscribe",
    "AsyncSubscription": "Subscription",
    "AbstractAsyncContextManager": "AbstractContextManager",
}


def main(out: Path = PACKAGE / "_sync") -> None:
    rule = unasync.Rule(str(PACKAGE / "_async") + "/", str(out) + "/", RENAMES)
    files = sorted(str(path) for path in (PACKAGE / "_async").glob("*.py"))
    unasync.unasync_files(files, [rule])
    init = out / "__init__.py"
    init.write_text('"""Generated from `_async/` by sdk/tools/unasync_clients.py: edit those."""\n')
    # Renamed names sort and wrap differently: the project's import order and format.
    config = ["--config", str(ROOT / "pyproject.toml")]
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run(
        [*ruff, "check", "--quiet", "--fix", "--select", "I", *config, str(out)], check=True
    )
    subprocess.run([*ruff, "format", "--quiet", *config, str(out)], check=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE / "_sync")
