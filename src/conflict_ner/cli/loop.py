"""`serve`, `doccano autolabel`, `next`: the model in the annotation loop."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.table import Table

from conflict_ner.cli._util import DATA_DIR, app, console, doccano_app, exit_on_error, out, warn
from conflict_ner.net import check_port, is_loopback


@app.command()
def serve(
    model: str = typer.Argument(..., help="A trained pipeline: path or installed package name"),
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default)"),
    port: int = typer.Option(8090, help="Port to listen on (0: any free port)"),
    max_chars: int = typer.Option(100_000, help="Longest text the service takes"),
) -> None:
    """Answer POST /predict {"text": ...} with the model's spans (doccano auto-labelling)."""
    from conflict_ner import serve as service

    if not is_loopback(host):
        warn(
            "exposed",
            f"binding to {host}: anyone who can reach this machine can call "
            "the model (there is no authentication); use 127.0.0.1 unless you mean it",
        )
    with exit_on_error():
        check_port(port, any_free=True)  # before the model's load, which takes seconds
        loaded = service.load_service(model, max_chars)
        server = service.make_server(loaded, host, port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    console.print(
        f"serving {loaded.name} at {server.url}{service.PREDICT_PATH} "
        f"(health: {server.url}{service.HEALTH_PATH}); Ctrl-C stops",
        markup=False,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@doccano_app.command("autolabel")
def autolabel(
    project: str = typer.Option(..., help="doccano project name"),
    url: str = typer.Option(..., help="Where `conflict-ner serve` listens, as doccano reaches it"),
    label_map: str = typer.Option(
        "",
        help="MODEL=PROJECT label pairs, comma-separated, when the project names labels "
        "otherwise (default: FACTION and PLACE as they are)",
    ),
    check: bool = typer.Option(True, help="Have doccano call the service once before saving"),
    data_dir: Path = DATA_DIR,
) -> None:
    """Point a project's auto-labelling at the model service, for every annotator."""
    from conflict_ner.doccano.autolabel import configure
    from conflict_ner.doccano.client import DoccanoAPI, resolve_connection
    from conflict_ner.evaluation.systems import parse_label_map

    with exit_on_error():
        api = DoccanoAPI(resolve_connection(data_dir))
        report = configure(api, project, url, parse_label_map(label_map) or None, check)
    verb = "updated" if report.replaced else "created"
    console.print(
        f"project {project!r}: auto-labelling config {report.config_id} {verb}, calling {url}",
        markup=False,
    )
    if check:
        spans = (
            ", ".join(
                f"{s['label']} {s['start_offset']}-{s['end_offset']}" for s in report.sample_spans
            )
            or "none"
        )
        console.print(f"doccano's trial call returned spans: {spans}", markup=False)
    console.print("annotators: switch on Auto Labeling in the annotation page's menu", markup=False)


@app.command("next")
def next_articles(
    model: str = typer.Option(..., help="Trained pipeline that ranks (path or package)"),
    articles: Path = typer.Option(
        ..., help="The pool: articles or Prodigy JSONL (a file or a folder)"
    ),
    n: int = typer.Option(20, help="How many articles to rank"),
    out_path: Path = typer.Option(Path("ranking.jsonl"), "--out", help="Ranking JSONL"),
    exclude: list[Path] = typer.Option(
        [], help="Already annotated: JSONL files or folders "
        "(e.g. corpus/annotations/merged.jsonl); repeatable"
    ),
    project: str | None = typer.Option(
        None, help="Also leave out the articles confirmed in this doccano project"
    ),
    data_dir: Path = DATA_DIR,
) -> None:
    """Rank the articles not yet annotated by the model's uncertainty, most uncertain first."""
    from conflict_ner import active

    with exit_on_error():
        ranked = active.next_articles(model, articles, n, exclude, project, data_dir)
        active.write_ranking(out_path, ranked)
    table = Table(title=f"next {len(ranked)} article(s) to annotate")
    for column in ("rank", "article", "score", "title", "least certain"):
        table.add_column(column, justify="right" if column in ("rank", "score") else "left")
    for r in ranked:
        doubt = ", ".join(f"{c.shown} {c.label} {c.p:.2f}" for c in r.candidates[:2])
        table.add_row(
            str(r.rank), r.article_id, f"{r.score:.2f}", r.title or "", doubt
        )
    out.print(table)
    console.print(
        f"ranking written to {out_path}; push it with "
        f"`conflict-ner push {articles} --order {out_path}`",
        markup=False,
    )
