"""Where the demo's minutes go: project.yml's `all` workflow, step by step, timed.

    python benchmarks/demo_steps.py [--json PATH] [--workflow all]

Runs every command of the workflow in order, as `python -m weasel run all`
runs it (each script line a subprocess in the project folder, with the venv's
bin/ first on PATH), and records each step's wall time and the CPU time (user
and system) of its processes, so that system time spent by the allocator
shows. Stops doccano at the end, as `make demo` does. The baseline of the
ratios is the whole run: each step's share of the wall time.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import srsly
from _common import ROOT, console, finish, machine_info, print_machine, table


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workflow", default="all")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    return parser.parse_args()


def expand(line: str, variables: dict[str, Any]) -> str:
    """A script line with ${vars.NAME} replaced, as weasel does."""
    for name, value in variables.items():
        line = line.replace("${vars." + name + "}", str(value))
    return line


def run_step(lines: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run a step's script lines; wall, user and system seconds of all of them."""
    wall = user = system = 0.0
    for line in lines:
        start = time.monotonic()
        process = subprocess.Popen(shlex.split(line), cwd=ROOT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall += time.monotonic() - start
        user, system = user + usage.ru_utime, system + usage.ru_stime
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"step failed: {line}")
    return {"wall": wall, "user": user, "system": system}


def main() -> None:
    args = parse_args()
    info = machine_info()
    print_machine(info)
    project = srsly.read_yaml(ROOT / "project.yml")
    commands = {c["name"]: c for c in project["commands"]}
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    steps: dict[str, dict[str, float]] = {}
    try:
        for name in project["workflows"][args.workflow]:
            console.rule(name)
            script = [expand(line, project.get("vars", {})) for line in commands[name]["script"]]
            steps[name] = run_step(script, env)
    finally:
        subprocess.run([f"{bin_dir}/conflict-ner", "doccano", "down"], cwd=ROOT, env=env,
                       capture_output=True, check=False)
    total = {k: sum(s[k] for s in steps.values()) for k in ("wall", "user", "system")}
    rows = [[name, f"{s['wall'] / 60:.2f}", f"{s['user'] / 60:.2f}", f"{s['system'] / 60:.2f}",
             f"{s['wall'] / total['wall']:.2f}"] for name, s in steps.items()]
    rows.append(["total", *(f"{total[k] / 60:.2f}" for k in ("wall", "user", "system")), "1.00"])
    console.print(table(f"workflow {args.workflow}: minutes per step",
                        ["step", "wall", "user CPU", "system CPU", "share of wall"], rows))
    finish(info, {"steps": steps, "total": total}, args.json)


if __name__ == "__main__":
    main()
