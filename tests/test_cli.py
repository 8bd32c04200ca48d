"""The command line starts fast: registering the commands imports no model stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Run in a fresh interpreter: this test process has long imported spaCy and torch.
# Every command's --help, then the top-level --help; then what got imported.
PROBE = """
import json, sys
import typer
from conflict_ner.cli import app

def run(args):
    try:
        app(args, prog_name="conflict-ner")
    except SystemExit:
        pass

group = typer.main.get_command(app)
names = []
for name, command in group.commands.items():
    subcommands = getattr(command, "commands", {})
    names += [[name, sub] for sub in subcommands] or [[name]]
for args in names:
    run([*args, "--help"])
run(["--help"])
print(json.dumps({"commands": names, "modules": sorted(sys.modules)}))
"""
# What the commands themselves import when they run: seconds each, none of them for --help.
HEAVY = ("torch", "spacy", "spacy_transformers", "transformers", "sklearn")


def test_help_imports_no_model_stack() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            check=True)
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert ["validate"] in probe["commands"] and ["doccano", "up"] in probe["commands"]
    imported = {name.split(".")[0] for name in probe["modules"]}
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))


def test_train_curve_default_shares_are_the_librarys() -> None:
    """The CLI writes the default shares out (their home imports spaCy): they must agree."""
    from conflict_ner.cli import evaluation
    from conflict_ner.evaluation import train_curve

    assert evaluation.FRACTIONS == train_curve.FRACTIONS


# `validate` as the program runs it (cli.main), then as a caller's process runs the app.
VALIDATE = """
import json, sys
import conflict_ner.cli as cli
sys.argv = ["conflict-ner", "validate", sys.argv[1]]
code = None
try:
    cli.main() if {standalone} else cli.app(sys.argv[1:])
except SystemExit as done:
    code = done.code
import thinc.compat
print(json.dumps({{"code": code, "torch": "torch" in sys.modules,
                  "thinc_torch": thinc.compat.has_torch}}))
"""


def validate_in_fresh_process(path: Path, standalone: bool) -> dict:
    script = VALIDATE.format(standalone=standalone)
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                            text=True, check=True)
    assert "valid: " in result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_validate_as_the_program_tokenizes_without_torch(root: Path) -> None:
    """The program hides torch from thinc while spaCy is imported: validate only tokenizes."""
    probe = validate_in_fresh_process(root / "corpus" / "gold.jsonl", standalone=True)
    assert probe == {"code": 0, "torch": False, "thinc_torch": False}


def test_validate_in_a_callers_process_leaves_torch_to_thinc(root: Path) -> None:
    """Anywhere but the program (the tests run the app in-process, then train), nothing is
    hidden: thinc must still find torch."""
    probe = validate_in_fresh_process(root / "corpus" / "gold.jsonl", standalone=False)
    assert probe == {"code": 0, "torch": True, "thinc_torch": True}
