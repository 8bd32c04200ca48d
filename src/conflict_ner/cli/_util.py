"""What every command shares: the consoles, common options, and the one way an
error becomes a message and an exit code.

Exit codes: 0 fine, 1 bad input (files, credentials, configuration, a failed
training run, doccano refusing an import), 2 doccano unreachable (nothing
written); `doccano status` exits 3 when the local server is not running.
"""

from __future__ import annotations

import errno
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console, RenderableType
from rich.status import Status
from rich.text import Text

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

# True when this process is the `conflict-ner` program (cli.main), which runs one
# command and exits; False when a caller runs the app inside its own process (the tests).
standalone = False


def import_spacy_without_torch() -> None:
    """Import spaCy with torch hidden, for a command that only tokenizes (`validate`).

    thinc, under spaCy, imports torch whenever it is installed: 2.2 s of CPU on the
    standard machine, more than all the rest of `validate`. With torch hidden while spaCy
    is first imported, thinc takes torch for absent for the rest of the process, so only
    the program itself, which runs nothing after the command, may do it (``standalone``);
    anywhere else, or once spaCy or torch is imported, this does nothing.
    """
    if not standalone or "spacy" in sys.modules or "torch" in sys.modules:
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError
    try:
        import spacy  # noqa: F401
    finally:
        del sys.modules["torch"]



# Terminal control characters (C0 but newline and tab, DEL, C1), which a file name,
# a label or a span can carry and which would reach the terminal raw through rich.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """User text with every terminal control character escaped (ESC as ``\\x1b``)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class PlainConsole(Console):
    """A console that never reads markup in what it is given: paths, labels, span
    texts and project names print as they are (a ``[/x]`` in them is text, not a
    closing tag), with terminal control characters escaped. This is where user text
    meets the terminal; style comes from ``Text`` objects, never from markup in
    strings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, soft_wrap=True, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        """Every string printed (table cells too) with its control characters escaped."""
        return super().render_str(printable(text), **kwargs)

    def status(self, status: RenderableType, **kwargs: Any) -> Status:
        """A spinner whose message is plain text (rich reads markup there regardless)."""
        return super().status(Text(status) if isinstance(status, str) else status, **kwargs)


# Messages and progress go to stderr; results (tables, URLs) to stdout.
console = PlainConsole(stderr=True)
out = PlainConsole()

DATA_DIR = typer.Option(Path(".doccano"), "--data-dir", help="doccano's data folder")


def fail(problems: list[Problem] | str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print problems (user text as it is, never read as markup, control characters
    escaped) and exit with ``code``."""
    lines = [problems] if isinstance(problems, str) else [str(p) for p in problems]
    for line in lines:
        console.print(Text.assemble(("error", "red"), " ", printable(line)), highlight=False)
    raise typer.Exit(code)


def warn(kind: str, message: str) -> None:
    """A yellow note such as "snapped ..." (user text as it is)."""
    console.print(Text.assemble((kind, "yellow"), " ", printable(message)), highlight=False)


def say(message: str) -> None:
    """A plain message on stderr (user text as it is, control characters escaped)."""
    console.print(message, highlight=False)


def _command_name(cmd: object) -> str:
    """A short name for a failed command: "python3 -m spacy train", not its full line."""
    if isinstance(cmd, list | tuple) and cmd:
        return " ".join([Path(str(cmd[0])).name, *map(str, cmd[1:4])])
    return str(cmd)


# What to do about the OS errors a command meets at its edge, by errno.
_OS_ADVICE = {
    errno.ENOTDIR: "a part of the path is a file; choose an output under a folder",
    errno.EEXIST: "it exists already; remove it or choose another output",
    errno.EPERM: "the operating system refuses it; check the folder's permissions and flags",
    errno.EACCES: "permission denied; check the permissions or choose another path",
    errno.EADDRINUSE: "the port is taken; stop what listens there or choose another --port",
    errno.ENOSPC: "the disk is full; free space and run again",
    errno.ENOENT: "no such file or folder; check the path",
}


def os_error_line(err: OSError) -> str:
    """An OSError as one line: the path(s), what happened, what to do."""
    where = " -> ".join(str(f) for f in (err.filename, err.filename2) if f is not None)
    what = err.strerror or str(err)
    advice = _OS_ADVICE.get(err.errno or 0)
    return ": ".join(part for part in (where, what, advice) if part)


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
    except OSError as err:
        fail(os_error_line(err))
    except (DoccanoError, PackagingError, ValueError, RuntimeError) as err:
        fail(str(err))
