"""doccano's auto-labelling wired to a served model: a real doccano, a real trained
pipeline behind `conflict-ner serve`'s server, and an annotator's own account."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conflict_ner.cli import app
from conflict_ner.doccano import server as doccano_server_module
from conflict_ner.doccano.autolabel import MODEL_NAME, configure, rest_config
from conflict_ner.doccano.client import Connection, DoccanoAPI
from conflict_ner.doccano.errors import DoccanoError
from conflict_ner.doccano.push import push
from conflict_ner.serve import SpanServer, load_service, make_server

pytestmark = pytest.mark.doccano
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def service(cnn_model: Path) -> Iterator[SpanServer]:
    """The model service on a free loopback port (doccano's server process calls it)."""
    httpd = make_server(load_service(str(cnn_model)), "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def pushed(doccano_api: DoccanoAPI, project_name: str) -> int:
    """A project holding the seed articles, pushed without pre-annotations."""
    report = push(ROOT / "corpus" / "gold.jsonl", project_name, pre_annotate="none",
                  api=doccano_api, guidelines=None)  # fmt: skip
    assert report.added == 5 and report.spans == 0
    return report.project_id


def annotator(admin: DoccanoAPI, project_id: int) -> tuple[DoccanoAPI, int]:
    """A new user, made an annotator of the project, logged in under their own account."""
    name, password = f"ann-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.create_user(name, password)
    admin.add_member(project_id, name, "annotator")
    user_id = next(m["user_id"] for m in admin.members(project_id) if m["username"] == name)
    return DoccanoAPI(Connection(admin.connection.url, name, password)), user_id


def test_an_annotators_auto_labelling_gives_them_the_models_spans(
    doccano_api: DoccanoAPI, project_name: str, pushed: int, service: SpanServer
) -> None:
    report = configure(doccano_api, project_name, service.url)
    assert not report.replaced
    # doccano's own trial call went through the service and the mapping.
    sample = service.service.spans(
        "YPG fighters entered al-Hasakah on Monday, the Syrian army said."
    )
    assert report.sample_spans == [
        {"label": s["label"], "start_offset": s["start_offset"], "end_offset": s["end_offset"]}
        for s in sample
    ]
    ann, ann_id = annotator(doccano_api, pushed)
    example = doccano_api.list_examples(pushed)[0]
    expected = sorted((s["start_offset"], s["end_offset"], s["label"])
                      for s in service.service.spans(example["text"]))  # fmt: skip
    assert expected, "the test model should find something in a seed article"
    assert ann.example_spans(pushed, example["id"]) == []

    ann.auto_label(pushed, example["id"])

    got = ann.example_spans(pushed, example["id"])
    assert sorted((s["start"], s["end"], s["label"]) for s in got) == expected
    assert {s["user"] for s in got} == {ann_id}
    # Collaborative annotation is off: the admin who configured it has none of them.
    assert doccano_api.example_spans(pushed, example["id"]) == []
    # Asking again adds nothing: the new spans would overlap the annotator's own.
    ann.auto_label(pushed, example["id"])
    assert len(ann.example_spans(pushed, example["id"])) == len(expected)


def test_configuring_twice_keeps_one_config(
    doccano_api: DoccanoAPI, project_name: str, pushed: int, service: SpanServer
) -> None:
    first = configure(doccano_api, project_name, service.url)
    second = configure(doccano_api, project_name, service.url + "/predict")
    assert second.replaced and second.config_id == first.config_id
    configs = doccano_api.auto_labeling_configs(pushed)
    assert len(configs) == 1
    assert configs[0]["model_name"] == MODEL_NAME
    assert configs[0]["model_attrs"]["url"] == f"{service.url}/predict"
    assert configs[0]["model_attrs"]["body"] == {"text": "{{ text }}"}


def test_an_unreachable_service_fails_before_anything_is_saved(
    doccano_api: DoccanoAPI, project_name: str, pushed: int
) -> None:
    nowhere = f"http://127.0.0.1:{doccano_server_module.free_port()}"
    with pytest.raises(DoccanoError, match="call the model service"):
        configure(doccano_api, project_name, nowhere)
    assert doccano_api.auto_labeling_configs(pushed) == []


def test_a_label_the_project_lacks_is_refused(
    doccano_api: DoccanoAPI, project_name: str, pushed: int, service: SpanServer
) -> None:
    with pytest.raises(DoccanoError, match=r"no label.*ORG"):
        configure(doccano_api, project_name, service.url, {"FACTION": "ORG"})


def test_config_payload_is_what_doccano_validates(doccano_api: DoccanoAPI, pushed: int) -> None:
    config = rest_config("http://127.0.0.1:9/", {"FACTION": "FACTION"})
    config_id = doccano_api.save_auto_labeling_config(pushed, config)
    saved = next(c for c in doccano_api.auto_labeling_configs(pushed) if c["id"] == config_id)
    assert saved["model_attrs"]["url"] == "http://127.0.0.1:9/predict"
    assert saved["label_mapping"] == {"FACTION": "FACTION"}
    assert saved["template"] == config["template"]


def test_cli_autolabel(
    doccano_server: doccano_server_module.ServerInfo, doccano_api: DoccanoAPI,
    project_name: str, pushed: int, service: SpanServer, no_doccano_env: None,
) -> None:  # fmt: skip
    args = ["doccano", "autolabel", "--project", project_name, "--url", service.url,
            "--data-dir", str(doccano_server.data_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    missing = CliRunner().invoke(app, [*args[:3], "no-such-project", *args[4:]])
    assert missing.exit_code == 1
    assert "no project named 'no-such-project'" in missing.output
    bad_map = CliRunner().invoke(app, [*args, "--label-map", "FACTION"])
    assert bad_map.exit_code == 1 and "SOURCE=TARGET" in bad_map.output
    assert len(doccano_api.auto_labeling_configs(pushed)) == 1
