"""What every command shares: the consoles, common options, and the one way an
error becomes a message and an exit code.

Exit codes: 0 fine, 1 bad input (files, credentials, configuration, a failed
training run, doccano refusing an import), 2 doccano unreachable (nothing
written); `doccano status` exits 3 when the local server is not running.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from conflict_ner.doccano.errors import DoccanoError, DoccanoUnreachable
from conflict_ner.files import InvalidInput, Problem
from conflict_ner.packaging import PackagingError

app = typer.Typer(
    help="From conflict news articles to a spaCy FACTION/PLACE model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
doccano_app = typer.Typer(
    help="Run a local doccano (own venv, SQLite) for annotation.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(doccano_app, name="doccano")

EXIT_BAD_INPUT = 1
EXIT_UNREACHABLE = 2
EXIT_NOT_RUNNING = 3

# Messages and progress go to stderr; results (tables, URLs) to stdout.
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

DATA_DIR = typer.Option(Path(".doccano"), "--data-dir", help="doccano's data folder")


def fail(problems: list[Problem] | str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print problems (user text escaped, never read as markup) and exit with ``code``."""
    lines = [problems] if isinstance(problems, str) else [str(p) for p in problems]
    for line in lines:
        console.print(f"[red]error[/red] {escape(line)}", highlight=False)
    raise typer.Exit(code)


def warn(kind: str, message: str) -> None:
    """A yellow note such as "snapped ..." (user text escaped)."""
    console.print(f"[yellow]{kind}[/yellow] {escape(message)}", highlight=False)


def _command_name(cmd: object) -> str:
    """A short name for a failed command: "python3 -m spacy train", not its full line."""
    if isinstance(cmd, list | tuple) and cmd:
        return " ".join([Path(str(cmd[0])).name, *map(str, cmd[1:4])])
    return str(cmd)


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Turn the toolkit's errors into a message on stderr and the documented exit code."""
    try:
        yield
    except DoccanoUnreachable as err:
        fail(str(err), EXIT_UNREACHABLE)
    except InvalidInput as err:
        fail(err.problems)
    except subprocess.CalledProcessError as err:
        fail(f"`{_command_name(err.cmd)}` failed with exit code {err.returncode}")
    except (DoccanoError, PackagingError, ValueError, OSError, RuntimeError) as err:
        fail(str(err))
