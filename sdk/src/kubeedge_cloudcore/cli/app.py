"""`edgewright`: the command line of the SDK.

Exit status: 0 done; 1 the operation ran and something failed; 2 the request was
refused (every field error printed); 3 the server could not be reached.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..errors import ApiError, ConnectionFailed, StreamRevoked, WaitTimeout
from . import commands, fleet, ops, rollout
from .context import DEFAULT_URL, Context, Output
from .output import stderr

app = typer.Typer(
    name="edgewright",
    help="Drive an edgewright control plane: devices, joins, commands, rollouts, backups.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option(envvar="EDGEWRIGHT_URL", help="the API's base URL")
    ] = DEFAULT_URL,
    output: Annotated[Output, typer.Option("--output", "-o", help="output format")] = Output.TABLE,
) -> None:
    ctx.obj = Context(url=url.rstrip("/"), output=output)


app.command("login")(fleet.login)
app.command("join")(fleet.join)
app.command("batch-join")(fleet.batch_join)
app.command("batch-status")(fleet.batch_status)
app.command("events")(fleet.events)
app.add_typer(fleet.devices, name="devices")
app.add_typer(commands.command, name="command")
app.add_typer(rollout.rollout, name="rollout")
app.add_typer(ops.backup, name="backup")
app.add_typer(ops.alerts, name="alerts")
app.add_typer(ops.webhooks, name="webhooks")
app.add_typer(ops.maintenance, name="maintenance")

REFUSED, FAILED, UNREACHABLE = 2, 1, 3


def _refused(err: ApiError) -> int:
    stderr.print(f"[red]error:[/] {err}", highlight=False)
    for line in err.field_errors():
        stderr.print(f"  {line}", highlight=False)
    return REFUSED if err.status < 500 else FAILED


def hoist_output(argv: list[str]) -> list[str]:
    """`-o FORMAT` anywhere on the line (`edgewright devices list -o json`) moves to the
    front, where the root option reads it."""
    rest: list[str] = []
    front: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in ("-o", "--output"):
            front += [arg, next(args, "")]
        elif arg.startswith("--output="):
            front.append(arg)
        elif arg == "--":
            rest += [arg, *args]
        else:
            rest.append(arg)
    return front + rest


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(app)
    args = hoist_output(sys.argv[1:] if argv is None else argv)
    try:
        result = command.main(args=args, prog_name="edgewright", standalone_mode=False)
    except typer.Abort:
        code = FAILED
    except typer.TyperException as err:
        # Usage errors (typer's own click): shown as click would, exit 2 like a refusal.
        show = getattr(err, "show", None)
        if show is not None:
            show()
        else:
            stderr.print(f"[red]error:[/] {err}", highlight=False)
        code = REFUSED
    except ConnectionFailed as err:
        stderr.print(f"[red]cannot connect:[/] {err}", highlight=False)
        code = UNREACHABLE
    except ApiError as err:
        code = _refused(err)
    except (WaitTimeout, StreamRevoked) as err:
        stderr.print(f"[red]error:[/] {err}", highlight=False)
        code = FAILED
    except KeyboardInterrupt:
        code = 130
    else:
        code = result if isinstance(result, int) else 0
    sys.exit(code)
