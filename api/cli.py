"""`edgewright`: a command-line client of the edgewright API.

    edgewright batch-join devices.csv         # or .yaml / .json
    edgewright batch-status BATCH_ID

The API address comes from --url or EDGEWRIGHT_URL (default http://127.0.0.1:8000).
Credentials: EDGEWRIGHT_API_KEY, or EDGEWRIGHT_TOKEN, or --username with the password
from EDGEWRIGHT_PASSWORD or a prompt. Exit status: 0 when every device succeeded, 1 when
some failed, 2 when the request itself failed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

console = Console(stderr=True)
CONTENT_TYPES = {".csv": "text/csv", ".yaml": "application/yaml", ".yml": "application/yaml"}


class CliError(Exception):
    """The request could not be made or was refused; exit status 2."""


def _client(args: argparse.Namespace) -> httpx.Client:
    url = args.url or os.environ.get("EDGEWRIGHT_URL", "http://127.0.0.1:8000")
    http = httpx.Client(base_url=url, timeout=120)
    if key := os.environ.get("EDGEWRIGHT_API_KEY"):
        http.headers["X-API-Key"] = key
    elif token := os.environ.get("EDGEWRIGHT_TOKEN"):
        http.headers["Authorization"] = f"Bearer {token}"
    elif args.username:
        password = os.environ.get("EDGEWRIGHT_PASSWORD") or getpass.getpass("Password: ")
        login = _checked(
            http.post("/api/auth/login", json={"username": args.username, "password": password})
        )
        http.headers["Authorization"] = f"Bearer {login['token']}"
    else:
        raise CliError(
            "no credentials: set EDGEWRIGHT_API_KEY or EDGEWRIGHT_TOKEN, or pass --username"
        )
    return http


def _checked(response: httpx.Response) -> dict[str, Any]:
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {"message": response.text}
    if response.status_code >= 400:
        details = body.get("details") or {}
        lines = [f"{response.status_code}: {body.get('message', response.reason_phrase)}"]
        lines += [f"  {field}: {problem}" for field, problem in details.items()]
        raise CliError("\n".join(lines))
    return body


def _follow(http: httpx.Client, batch_id: str, total: int) -> dict[str, Any]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"batch {batch_id}", total=total, failed=0)
        while True:
            status = _checked(http.get(f"/api/kubeedge/batch-join/{batch_id}"))
            progress.update(
                task, completed=status["success"] + status["failed"], failed=status["failed"]
            )
            if status["status"] in ("completed", "cancelled"):
                return _full_report(http, batch_id, status)
            time.sleep(1)


def _full_report(http: httpx.Client, batch_id: str, first: dict[str, Any]) -> dict[str, Any]:
    results = list(first["results"])
    pages = first.get("pagination", {}).get("pages", 1)
    for page in range(2, pages + 1):
        more = _checked(
            http.get(f"/api/kubeedge/batch-join/{batch_id}", params={"page": page, "limit": 100})
        )
        results += more["results"]
    return {**first, "results": results}


def _print_report(report: dict[str, Any]) -> None:
    console.print(
        f"batch [bold]{report['batch_id']}[/]: {report['total']} devices, "
        f"[green]{report['success']} succeeded[/], [red]{report['failed']} failed[/]"
    )
    failed = [r for r in report["results"] if r["status"] == "failed"]
    if failed:
        table = Table("device", "step", "error", title="failed devices")
        for result in failed:
            table.add_row(
                result["device"], result.get("failed_step") or "", result.get("error") or ""
            )
        console.print(table)
    if link := report.get("temporal_ui_url"):
        console.print(f"Temporal UI: {link}")


def batch_join(args: argparse.Namespace) -> int:
    path = Path(args.file)
    content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/json")
    params = {
        "batch_id": args.batch_id,
        "cloud_ip": args.cloud_ip,
        "max_concurrency": args.concurrency,
    }
    with _client(args) as http:
        body = path.read_bytes()
        if content_type == "application/json" and any(params.values()):
            raise CliError("options go inside the JSON document for .json files")
        query = {k: v for k, v in params.items() if v}
        answer = http.post(
            "/api/kubeedge/batch-join",
            content=body,
            params=query,
            headers={"Content-Type": content_type},
        )
        report = _checked(answer)
        if answer.status_code == 202:
            report = _follow(http, report["batch_id"], report["total"])
    _print_report(report)
    return 1 if report["failed"] else 0


def batch_status(args: argparse.Namespace) -> int:
    with _client(args) as http:
        report = _full_report(
            http, args.batch_id, _checked(http.get(f"/api/kubeedge/batch-join/{args.batch_id}"))
        )
    _print_report(report)
    return 1 if report["failed"] else 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="edgewright", description="edgewright API client")
    root.add_argument("--url", help="API base URL (EDGEWRIGHT_URL)")
    root.add_argument(
        "--username", help="log in as this user (password: EDGEWRIGHT_PASSWORD or prompt)"
    )
    commands = root.add_subparsers(dest="command", required=True)
    join = commands.add_parser("batch-join", help="join every device of a CSV, YAML or JSON file")
    join.add_argument("file")
    join.add_argument("--batch-id", help="name the batch (default: derived from the content)")
    join.add_argument("--cloud-ip", help="CloudCore address the devices join")
    join.add_argument("--concurrency", type=int, help="joins in flight at once")
    join.set_defaults(run=batch_join)
    status = commands.add_parser("batch-status", help="show a batch's report")
    status.add_argument("batch_id")
    status.set_defaults(run=batch_status)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        code = int(args.run(args))
    except (CliError, httpx.HTTPError, OSError) as err:
        console.print(f"[red]error:[/] {err}")
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
