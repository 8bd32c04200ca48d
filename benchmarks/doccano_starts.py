"""Fresh starts of a local doccano: does every `doccano up` on a new data folder come up?

    python benchmarks/doccano_starts.py [--runs 20]

Each run starts doccano (server.up, reusing the doccano venv in
$CONFLICT_NER_DOCCANO_VENV or .doccano/venv) in a brand-new data folder on a
free loopback port: a new SQLite database, migrations, the admin user, the
Celery worker, then the web server; a run succeeds when /v1/health/ answers
200. Then server.down, and the folder is deleted. A failed run prints the
error and the tail of the logs. This is the start that once failed about one
time in ten (the worker and the web server raced to create Celery's queue)
and one in 64 (an admin password starting with "-").

Figures: runs started / runs attempted, and the seconds each start took, with
the slowest over the median as the ratio (how uneven starts are on the
machine as loaded at the time).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import console, finish, machine_info, print_machine, ratio, table
from doccano_io import doccano_venv

from conflict_ner.doccano import server
from conflict_ner.doccano.errors import DoccanoError


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--venv", type=Path, default=None, help="doccano's venv to reuse")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to become healthy")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args()


def one_start(number: int, venv: Path, timeout: float) -> dict[str, Any]:
    """Start doccano in a new data folder, stop it, delete the folder; report how it went."""
    work = Path(tempfile.mkdtemp(prefix=f"conflict-ner-start-{number:02d}-"))
    data_dir = work / "doccano"
    started = time.perf_counter()
    try:
        info = server.up(data_dir, port=server.free_port(), venv=venv, timeout=timeout)
        seconds = time.perf_counter() - started
        healthy = server.healthy(info.url)
        return {"run": number, "ok": healthy, "seconds": seconds, "error": None}
    except DoccanoError as err:
        logs = "".join(p.read_text(errors="replace")[-800:] for p in (data_dir / "logs").glob("*"))
        console.print(f"[red]run {number} failed[/red]: {err}\n{logs}", markup=False)
        return {"run": number, "ok": False, "seconds": time.perf_counter() - started,
                "error": str(err)}  # fmt: skip
    finally:
        server.down(data_dir, quiet=True)
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    """Run the starts; exit 1 unless every one came up."""
    args = parse_args()
    info = machine_info()
    print_machine(info)
    venv = doccano_venv(args.venv)
    runs = []
    for number in range(1, args.runs + 1):
        with console.status(f"fresh start {number} of {args.runs}"):
            run = one_start(number, venv, args.timeout)
        state = "up" if run["ok"] else "FAILED"
        console.print(f"run {number:2d}: {state} in {run['seconds']:.1f} s")
        runs.append(run)
    ok = sum(r["ok"] for r in runs)
    times = [r["seconds"] for r in runs if r["ok"]]
    median = statistics.median(times) if times else 0.0
    slowest = max(times) if times else 0.0
    row = [str(ok), str(len(runs)), f"{median:.1f}", f"{slowest:.1f}"]
    console.print(table("fresh doccano starts", ["started", "attempted", "median s", "slowest s"],
                        [row]))  # fmt: skip
    ratios = {"slowest/median start": ratio(slowest, median)}
    console.print(f"ratio slowest/median start: {ratios['slowest/median start']:.2f}")
    figures = {"runs": runs, "started": ok, "attempted": len(runs), "ratios": ratios}
    finish(info, figures, args.json)
    return 0 if ok == len(runs) else 1


if __name__ == "__main__":
    sys.exit(main())
