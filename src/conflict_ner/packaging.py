"""Build the trained pipeline into a pip-installable wheel and check that it
installs and loads in a fresh virtual environment."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from dataclasses import asdict, dataclass
from importlib.metadata import requires
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conflict_ner.files import refuse_output_folder_in_inputs, write_text_atomic

# spaCy (and with it torch) and the evaluation stack are imported where they are used:
# the command line imports this module for PackagingError and MODEL_VERSION, and its
# `--help` must not wait seconds for them.
if TYPE_CHECKING:
    from conflict_ner.evaluation.results import Metrics

# Where the default backbone comes from, and under which licence it is shared.
BACKBONES = {
    "all-minilm-l6-v2": {
        "name": "sentence-transformers/all-MiniLM-L6-v2",
        "license": "Apache-2.0",
        "url": "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
    },
}
MODEL_VERSION = "0.1.0"  # the model wheel's own version, not the toolkit's
PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def torch_requirement() -> str:
    """The toolkit's torch pin (pyproject.toml, its one home): the CPU build on disk,
    where an unpinned torch would pull several GB of CUDA packages."""
    pins = [r.split(";")[0].strip() for r in requires("conflict-ner") or []]
    return next(r for r in pins if r.startswith("torch=="))

CHECK_SENTENCE = (
    "The YPG and the National Defence Forces fought in Hassakeh while ISIS "
    "shelled the Kawkab hills near Qamishli."
)
TRAINING_DATA = (
    "Hand-annotated FACTION and PLACE spans in news articles about the fighting "
    "around Hasakah in north-east Syria (2015-2016), one example per article; "
    "see corpus/gold.jsonl and configs/guidelines.md in the conflict-ner repository."
)


class PackagingError(RuntimeError):
    """Raised when a wheel cannot be built or does not install and load."""


@dataclass(frozen=True)
class CheckResult:
    """What a fresh environment printed after installing and loading a wheel."""

    package: str
    entities: list[tuple[str, str]]


def backbone_of(config: dict[str, Any]) -> dict[str, str] | None:
    """Name, licence and address of the pipeline's transformer backbone, if it has one."""
    component = config.get("components", {}).get("transformer")
    if not component:
        return None
    name = str(component.get("model", {}).get("name", ""))
    for key, info in BACKBONES.items():
        if key in name.lower().replace("_", "-"):
            return {**info, "path": name}
    return {"name": name, "license": "see the model's own card", "url": "", "path": name}


# The one module a trained pipeline may need from us; it imports spaCy only and
# is shipped inside the wheel (spaCy's --code), so the model needs no toolkit.
SHIPPED_MODULE = "conflict_ner.ruler_filters"
TOOLKIT_DISTRIBUTION = "conflict-ner"


def _registered_factory(name: str) -> bool:
    """Whether a component factory is known, loading it from its entry point if need be."""
    from catalogue import RegistryError
    from spacy.util import registry

    try:
        registry.factories.get(name)
    except RegistryError:
        return False
    return True


def custom_code_references(config: dict[str, Any]) -> dict[str, str]:
    """Registered conflict_ner functions that the runtime part of a config uses: name -> module."""
    from spacy.util import registry, walk_dict

    found = {}
    for section in ("nlp", "components"):
        for path, value in walk_dict(config.get(section, {})):
            if path[-1].startswith("@"):
                module = str(registry.find(path[-1][1:], value).get("module", ""))
                if module.startswith("conflict_ner"):
                    found[value] = module
    # Components built by our factories (the boundary step) need the code as well.
    for component in config.get("components", {}).values():
        factory = component.get("factory")
        if factory and _registered_factory(factory):
            module = str(registry.factories.find(factory).get("module", ""))
            if module.startswith("conflict_ner"):
                found[factory] = module
    return found


def shipped_code(config: dict[str, Any], where: Path) -> list[Path]:
    """The code files the wheel must carry; PackagingError when a function cannot be shipped."""
    references = custom_code_references(config)
    unshippable = {name: m for name, m in references.items() if m != SHIPPED_MODULE}
    if unshippable:
        raise PackagingError(
            f"{where}: the pipeline needs toolkit code at load time ({unshippable}); only "
            f"functions in {SHIPPED_MODULE} can ship in the wheel"
        )
    if not references:
        return []
    from conflict_ner import ruler_filters

    return [Path(ruler_filters.__file__)]


def package_meta(
    model_dir: Path, name: str, version: str, metrics: Metrics | None
) -> dict[str, Any]:
    """The meta.json for ``spacy package``: labels, scores, backbone, data, requirements."""
    from spacy.util import load_config

    meta = json.loads((model_dir / "meta.json").read_text())
    config = load_config(model_dir / "config.cfg", interpolate=True)
    backbone = backbone_of(config)
    meta.update(
        name=name,
        version=version,
        description="FACTION and PLACE mentions in conflict news, trained with conflict-ner.",
        author="conflict-ner",
        license="MIT",
        sources=[{"name": "conflict-ner seed corpus", "description": TRAINING_DATA}],
        custom_code=sorted(custom_code_references(config)) or "none",
    )
    if backbone:
        meta["backbone"] = backbone
        meta["sources"].append(
            {"name": backbone["name"], "url": backbone["url"], "license": backbone["license"]}
        )
    if metrics:
        meta["performance"] = performance(metrics)
    # Only the runtime libraries: never doccano-client or this toolkit.
    meta["requirements"] = runtime_requirements(config)
    return meta


def read_metrics(path: Path) -> Metrics:
    """An evaluation's metrics.json; PackagingError naming the file when it is unusable."""
    from conflict_ner.evaluation.results import Metrics

    try:
        return Metrics.read(path)
    except (OSError, ValueError) as err:
        raise PackagingError(f"{path}: not an evaluation metrics.json ({err})") from None


def performance(metrics: Metrics) -> dict[str, Any]:
    """spaCy-style scores (ents_p/r/f, ents_per_type) from an evaluation's metrics,
    plus the micro F1 of every scheme, the strict bootstrap interval and the headline."""
    strict = metrics.overall["strict"]
    return {
        "ents_p": strict.micro.p,
        "ents_r": strict.micro.r,
        "ents_f": strict.micro.f1,
        "ents_per_type": {
            label: {"p": s.p, "r": s.r, "f": s.f1} for label, s in strict.per_label.items()
        },
        "f1_by_scheme": {k: v.micro.f1 for k, v in metrics.overall.items()},
        "strict_f1_interval": asdict(metrics.bootstrap["strict"]),
        "unseen_recall": metrics.headline.unseen_recall,
        "rules_alone_f1": metrics.headline.rules_alone_f1,
        "evaluated_on": {"data": metrics.data, "articles": metrics.articles},
    }


def runtime_requirements(config: dict[str, Any]) -> list[str]:
    """spacy-transformers when the pipeline has a transformer, else nothing beyond spaCy."""
    factories = {c.get("factory") for c in config.get("components", {}).values()}
    if "transformer" not in factories:
        return []
    from importlib.metadata import version

    from spacy.util import get_minor_version_range

    return [f"spacy-transformers{get_minor_version_range(version('spacy-transformers'))}"]


BACKBONE_LOOKUP = "conflict_ner.backbone_path.v1"


def _without_backbone_lookup(node: Any) -> Any:
    """The config tree with every backbone lookup replaced by the name it was given."""
    if isinstance(node, dict):
        if node.get("@misc") == BACKBONE_LOOKUP:
            return node["name"]
        return {key: _without_backbone_lookup(value) for key, value in node.items()}
    return node


def portable_copy(model_dir: Path, dest: Path) -> Path:
    """A copy of a pipeline whose config needs no conflict_ner code to load.

    The backbone lookup only matters when a transformer is first initialised
    from its files; a trained pipeline carries its weights, tokenizer and
    config, so the plain name is enough (and documents where it came from).
    """
    from confection import Config
    from spacy.util import load_config

    shutil.copytree(model_dir, dest)
    config = load_config(dest / "config.cfg", interpolate=False)
    portable = Config(_without_backbone_lookup(dict(config)), section_order=config.section_order)
    portable.to_disk(dest / "config.cfg")
    return dest


def check_version(version: str) -> None:
    """PackagingError unless ``version`` is a PEP 440 version (it becomes a folder
    name and a wheel's file name, so "../x" must never reach them)."""
    from packaging.version import InvalidVersion, Version

    try:
        Version(version)
    except InvalidVersion:
        raise PackagingError(f"--version {version!r}: not a version such as 0.1.0 "
                             "(PEP 440)") from None


def build_wheel(
    model_dir: Path,
    out_dir: Path = Path("packages"),
    name: str = "conflict_ner",
    version: str = MODEL_VERSION,
    metrics: Metrics | None = None,
) -> Path:
    """Run ``spacy package`` on a trained pipeline; return the wheel's path."""
    from spacy.util import load_config

    # The name becomes a folder under out_dir and a Python module: a path such as
    # "../x" would write outside out_dir.
    if not PACKAGE_NAME.fullmatch(name):
        raise PackagingError(f"package name {name!r}: use letters, digits and underscores, "
                             "starting with a letter")
    check_version(version)
    model_dir = Path(model_dir)
    if not (model_dir / "meta.json").is_file():
        raise PackagingError(f"{model_dir}: not a spaCy pipeline folder (no meta.json)")
    # A package inside the model's folder would ride along in the next package of it.
    refuse_output_folder_in_inputs(out_dir, [], [model_dir])
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = portable_copy(model_dir, Path(tmp) / "pipeline")
        code = shipped_code(load_config(pipeline / "config.cfg"), model_dir)
        meta_path = Path(tmp) / "meta.json"
        write_text_atomic(meta_path, json.dumps(package_meta(pipeline, name, version, metrics)))
        command = [
            sys.executable, "-m", "spacy", "package", str(pipeline), str(out_dir),
            "--name", name, "--version", version, "--meta-path", str(meta_path),
            "--build", "none", "--force",
            *(["--code", ",".join(map(str, code))] if code else []),
        ]
        run(command, "spacy package")
    lang = json.loads((model_dir / "meta.json").read_text()).get("lang", "en")
    package_dir = out_dir / f"{lang}_{name}-{version}"
    drop_toolkit_requirement(package_dir)
    # Built here rather than by spacy package, after the requirements are mended;
    # no isolation: setuptools is installed, and nothing needs fetching.
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", str(package_dir)],
        "building the wheel")
    wheels = sorted((package_dir / "dist").glob("*.whl"))
    if not wheels:
        raise PackagingError(f"spacy package wrote no wheel under {out_dir}")
    return wheels[-1]


def drop_toolkit_requirement(package_dir: Path) -> None:
    """Remove conflict-ner from the generated package's requirements.

    spacy package adds the distribution of every registered function a config
    names, and catalogue finds ours through the toolkit's entry points even
    though the code ships in the wheel.
    """
    for meta_path in package_dir.rglob("meta.json"):
        meta = json.loads(meta_path.read_text())
        if "requirements" in meta:
            meta["requirements"] = [
                r for r in meta["requirements"] if not r.startswith(TOOLKIT_DISTRIBUTION)
            ]
            write_text_atomic(meta_path, json.dumps(meta, indent=2))


def run(command: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command; raise PackagingError with its output when it fails."""
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-25:]
        raise PackagingError(f"{what} failed (exit {result.returncode}):\n" + "\n".join(tail))
    return result


LOAD_SCRIPT = """
import json, sys, spacy
nlp = spacy.load(sys.argv[1])
doc = nlp(sys.argv[2])
print(json.dumps([[e.text, e.label_] for e in doc.ents]))
"""


def check_wheel(wheel: Path, venv_dir: Path | None = None) -> CheckResult:
    """Install a wheel into a fresh venv, ``spacy.load`` it and return its entities."""
    from conflict_ner.training import OFFLINE_ENV

    wheel = Path(wheel).resolve()
    package = wheel.name.split("-")[0]
    owned = venv_dir is None
    target = Path(venv_dir or tempfile.mkdtemp(prefix="wheel-check-"))
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
        python = str(target / "bin" / "python")
        # --no-compile: the venv lives for one load, and byte-compiling all of torch
        # and spaCy up front costs more than compiling the modules the load imports.
        pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-compile"]
        run([*pip, torch_requirement()], "installing torch (CPU)")
        run([*pip, str(wheel)], f"installing {wheel.name}")
        env = {**os.environ, **OFFLINE_ENV}
        result = run([python, "-c", LOAD_SCRIPT, package, CHECK_SENTENCE], "loading", env=env)
        entities = [tuple(e) for e in json.loads(result.stdout.strip().splitlines()[-1])]
        return CheckResult(package, entities)  # type: ignore[arg-type]
    finally:
        if owned:
            shutil.rmtree(target, ignore_errors=True)
