"""The merge policy, agreement and connection config, on in-memory data (no server)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conflict_ner.doccano import server
from conflict_ner.doccano.agreement import Agreement, agreement
from conflict_ner.doccano.client import resolve_connection
from conflict_ner.doccano.errors import ConfigError
from conflict_ner.doccano.merge import decide, merge
from conflict_ner.doccano.push import push
from conflict_ner.doccano.votes import ExampleVotes
from conflict_ner.files import InvalidInput

TEXT = "The YPG attacked ISIS near Raqqa and Manbij."
YPG, ISIS, RAQQA, MANBIJ = (
    (4, 7, "FACTION"),
    (17, 21, "FACTION"),
    (27, 32, "PLACE"),
    (37, 43, "PLACE"),
)


def _votes(spans: dict, confirmed: set[str] = frozenset()) -> ExampleVotes:
    return ExampleVotes(1, TEXT, {"article_id": "a"}, spans=spans, confirmed_by=set(confirmed))


def _kept(ex: ExampleVotes, roles: dict | None = None) -> list:
    return sorted(d.span for d in decide(ex, roles or {}) if d.keep)


def test_single_annotator_merge_is_their_spans() -> None:
    assert _kept(_votes({"ann": [YPG, RAQQA]})) == [YPG, RAQQA]


def test_majority_kept_minority_left_out() -> None:
    ex = _votes({"a": [YPG, RAQQA], "b": [YPG, RAQQA], "c": [YPG, MANBIJ]})
    decisions = {d.span: d for d in decide(ex, {})}
    assert _kept(ex) == [YPG, RAQQA]
    assert decisions[MANBIJ].reason == "minority 1/3"


def test_tie_settled_by_approver_version() -> None:
    ex = _votes({"a": [YPG, RAQQA], "boss": [YPG, MANBIJ]}, confirmed={"a", "boss"})
    roles = {"a": "annotator", "boss": "annotation_approver"}
    assert _kept(ex, roles) == [YPG, MANBIJ]
    reasons = {d.span: d.reason for d in decide(ex, roles)}
    assert "rejected by approver boss" in reasons[RAQQA]


def test_tie_without_approver_or_with_disagreeing_confirmers_is_a_conflict() -> None:
    nobody = _votes({"a": [YPG, RAQQA], "b": [YPG]})
    assert _kept(nobody) == [YPG]
    both = _votes({"a": [YPG, RAQQA], "b": [YPG]}, confirmed={"a", "b"})
    assert _kept(both, {"a": "annotator", "b": "annotator"}) == [YPG]
    assert "disagree" in next(d.reason for d in decide(both, {}) if d.span == RAQQA)


def test_merge_writes_conflicts_and_skips_unannotated() -> None:
    annotated = _votes({"a": [YPG, ISIS], "b": [YPG]})
    untouched = ExampleVotes(2, TEXT, {"article_id": "b"})
    merged, conflicts = merge([annotated, untouched], {}, "p")
    assert len(merged) == 1
    assert [(s["start"], s["annotators"]) for s in merged[0]["spans"]] == [(4, ["a", "b"])]
    assert [(c.text, c.annotators_with_span) for c in conflicts] == [("ISIS", ["a"])]


def test_agreement_f1_and_kappa() -> None:
    same = _votes({"a": [YPG, RAQQA], "b": [YPG, RAQQA]})
    assert agreement([same]).pairs[0].span_f1 == 1.0
    assert agreement([same]).pairs[0].token_kappa == 1.0
    differ = _votes({"a": [YPG, RAQQA], "b": [YPG, MANBIJ]})
    result = agreement([differ])
    pair = result.pairs[0]
    assert pair.span_f1 == 0.5 and pair.matching_spans == 1
    assert pair.token_kappa is not None and 0 < pair.token_kappa < 1
    assert Agreement.from_json(json.loads(json.dumps(result.to_json()))) == result


# -- connection configuration ---------------------------------------------------------------
@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("CONFLICT_NER_DOCCANO_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_config_from_env_with_password_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"s3cret\n")
    os.close(fd)
    clean_env.setenv("CONFLICT_NER_DOCCANO_URL", "https://doccano.example.org/")
    clean_env.setenv("CONFLICT_NER_DOCCANO_USERNAME", "ann")
    clean_env.setenv("CONFLICT_NER_DOCCANO_PASSWORD_FILE", str(secret))
    conn = resolve_connection(tmp_path / "nothing-here")
    assert (conn.url, conn.username, conn.password) == (
        "https://doccano.example.org",
        "ann",
        "s3cret",
    )
    assert "s3cret" not in repr(conn)
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="0600"):
        resolve_connection(tmp_path)


def test_config_from_local_credentials_and_missing(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="doccano up"):
        resolve_connection(tmp_path)
    creds = {"url": "http://127.0.0.1:9", "username": "admin", "password": "pw", "secret_key": "k"}
    server.write_secret_json(server.credentials_path(tmp_path), creds)
    assert server.credentials_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert resolve_connection(tmp_path).username == "admin"
    clean_env.setenv("CONFLICT_NER_DOCCANO_URL", "http://x")
    with pytest.raises(ConfigError, match="USERNAME"):
        resolve_connection(tmp_path)


def test_a_missing_gold_file_stops_the_push_before_anything_is_sent(tmp_path: Path) -> None:
    articles = tmp_path / "articles.jsonl"
    articles.write_text('{"id": "a1", "text": "YPG fighters entered Hasakah."}\n')
    missing = tmp_path / "nope.jsonl"
    # No doccano and no credentials here: the gold is checked before either is needed.
    with pytest.raises(InvalidInput, match=r"nope\.jsonl"):
        push(articles, "p", "gold", [missing], data_dir=tmp_path / "no-doccano")
