"""Ingest, cleaning, duplicates, splits and folds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conflict_ner.articles import (
    Article,
    Splits,
    article_folds,
    clean_text,
    content_id,
    fold_groups,
    ingest,
    load_articles,
    load_splits,
    make_splits,
    parse_date,
)
from conflict_ner.cli import app
from conflict_ner.files import Code, InvalidInput

runner = CliRunner()

RAW = """Kurds take the city

Kurds take the city

Fighters took  the\tcity on Monday.
2 min read
22 August, 2016
{blank}
      [Click to enlarge]
A second paragraph about Qamishli.
COMMENTS
Please let us know if you're having issues with commenting.
""".format(blank="     ")


def test_clean_text_removes_furniture_keeps_sentences() -> None:
    text, title, date = clean_text(RAW)
    assert title == "Kurds take the city"
    assert date == "2016-08-22"
    assert text == (
        "Kurds take the city\n\nFighters took the city on Monday.\n\n"
        "A second paragraph about Qamishli."
    )


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("22 August, 2016", "2016-08-22"),
        ("August 22, 2016", "2016-08-22"),
        ("Monday, 22 August 2016", "2016-08-22"),
        ("2015-06-01", "2015-06-01"),
        ("On 22 August, 2016 the YPG attacked", None),
        ("31 February 2016", None),
    ],
)
def test_parse_date(line: str, iso: str | None) -> None:
    assert parse_date(line) == iso


def test_ids_are_content_hashes_of_the_cleaned_text(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(RAW)
    (tmp_path / "b.txt").write_text(RAW.replace("  ", " ") + "\n\n\n")
    report = ingest([tmp_path])
    [article] = report.articles
    assert article.id == content_id(article.text)
    assert report.exact_duplicates == [("b.txt", "a.txt")]


def test_jsonl_input_with_text_field(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        json.dumps({"text": "YPG fighters entered Hasakah.", "meta": {"url": "https://x"}}) + "\n"
    )
    [article] = ingest([path]).articles
    assert article.source == "in.jsonl:1" and article.url == "https://x"


@pytest.mark.parametrize(
    ("setup", "code", "message"),
    [
        (lambda d: d, Code.EMPTY, "folder holds no .txt or .jsonl files"),
        (lambda d: (d / "x.txt").write_bytes(b"caf\xe9 au lait\n") and d, Code.ENCODING,
         "not UTF-8"),
        (lambda d: (d / "x.txt").write_text("\ufeff \n\n") and d, Code.EMPTY, "empty file"),
        (lambda d: (d / "x.jsonl").write_text('{"title": "no text"}\n') and d, Code.SHAPE,
         "'text'"),
        (lambda d: (d / "x.jsonl").write_text('{"text": "YPG.", "title": ["T"]}\n') and d,
         Code.SHAPE, "'title' must be text"),
        (lambda d: (d / "x.jsonl").write_text("{broken\n") and d, Code.JSON, "malformed JSON"),
        (lambda d: (d / "x.pdf").write_text("x") and d / "x.pdf", Code.UNREADABLE,
         "expected a .txt or .jsonl"),
        (lambda d: d / "missing.txt", Code.UNREADABLE, "no such file"),
    ],
)
def test_bad_input_names_the_problem(tmp_path: Path, setup, code: Code, message: str) -> None:
    target = setup(tmp_path)
    with pytest.raises(InvalidInput) as err:
        ingest([target])
    assert [p.code for p in err.value.problems] == [code]
    assert message in str(err.value)


def test_a_byte_order_mark_is_no_part_of_the_text(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(RAW, encoding="utf8")
    (tmp_path / "b.txt").write_text("\ufeff" + RAW, encoding="utf8")
    (tmp_path / "c.jsonl").write_bytes(
        b"\xef\xbb\xbf" + json.dumps({"text": "\ufeff" + RAW}).encode() + b"\n"
    )
    report = ingest([tmp_path])
    [article] = report.articles
    assert not article.text.startswith("\ufeff") and article.id == content_id(article.text)
    assert report.exact_duplicates == [("b.txt", "a.txt"), ("c.jsonl:1", "a.txt")]


def test_files_a_folder_holds_are_read_whatever_the_case_or_named(tmp_path: Path) -> None:
    (tmp_path / "A.TXT").write_text("YPG fighters entered Hasakah.")
    (tmp_path / "b.Jsonl").write_text(json.dumps({"text": "The NDF left Qamishli."}) + "\n")
    (tmp_path / "c.json").write_text(json.dumps([{"text": "not read"}]))
    (tmp_path / "sub").mkdir()
    report = ingest([tmp_path])
    assert sorted(a.source for a in report.articles) == ["A.TXT", "b.Jsonl:1"]
    assert report.skipped == [
        f"{tmp_path / 'c.json'}: not a .txt or .jsonl file",
        f"{tmp_path / 'sub'}: a folder inside a folder (not searched)",
    ]
    result = runner.invoke(app, ["ingest", str(tmp_path), "--out", str(tmp_path / "o.jsonl"),
                                 "--splits", str(tmp_path / "s.json")])
    assert result.exit_code == 0, result.output
    assert f"left out {tmp_path / 'c.json'}: not a .txt or .jsonl file" in result.output


def test_a_huge_file_is_refused_unread_and_a_long_text_named(tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as handle:  # 50 MB on one line, sparse: no time spent writing
        handle.truncate(50 * 2**20)
    with pytest.raises(InvalidInput) as err:
        ingest([huge])
    [problem] = err.value.problems
    assert (problem.path, problem.code) == (huge, Code.TOO_LARGE)
    assert "the limit is 1,000,000 characters" in problem.message
    long = tmp_path / "long.jsonl"
    long.write_text(json.dumps({"text": "word " * 200_001}) + "\n")
    with pytest.raises(InvalidInput) as err:
        ingest([long])
    assert [(p.line, p.code) for p in err.value.problems] == [(1, Code.TOO_LARGE)]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("", Code.JSON),
        ("{nope", Code.JSON),
        ("[1, 2]", Code.SHAPE),
        ('{"seed": 0}', Code.SHAPE),
        ('{"splits": {"train": "abc"}}', Code.SHAPE),
        ('{"splits": {"train": ["a"]}, "groups": [[1]]}', Code.SHAPE),
        ('{"splits": {"train": ["a"]}, "groups": [["a"]], "theatres": {"a": 5}}', Code.SHAPE),
    ],
)
def test_a_broken_splits_file_is_named(tmp_path: Path, content: str, code: Code) -> None:
    path = tmp_path / "splits.json"
    path.write_text(content)
    with pytest.raises(InvalidInput) as err:
        load_splits(path)
    assert [(p.path, p.code) for p in err.value.problems] == [(path, code)]
    with pytest.raises(InvalidInput):
        load_splits(tmp_path / "missing.json")


def test_cli_ingest_bad_input_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_bytes(b"\xff\xfe bad")
    out = tmp_path / "out" / "articles.jsonl"
    result = runner.invoke(app, ["ingest", str(tmp_path), "--out", str(out),
                                 "--splits", str(tmp_path / "s.json")])
    assert result.exit_code == 1
    assert f"{tmp_path / 'x.txt'}:1: not UTF-8" in result.output
    assert not out.exists() and not (tmp_path / "s.json").exists()


def test_load_articles_rejects_records_of_the_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    good = {"id": "a", "title": None, "date": None, "source": "x.txt", "text": "YPG.", "url": None}
    lines = [good, {**good, "text": None}, {"text": "no id"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    with pytest.raises(InvalidInput) as err:
        load_articles(path)
    assert [(p.line, p.message.split(":")[0]) for p in err.value.problems] == [
        (2, "id, text and source must be non-empty strings"),
        (3, "not an article record"),
    ]


def test_ingest_matches_the_committed_corpus(root: Path, tmp_path: Path) -> None:
    out, splits = tmp_path / "articles.jsonl", tmp_path / "splits.json"
    inputs = [str(root / "seeds"), str(root / "corpus" / "composed")]
    result = runner.invoke(app, ["ingest", *inputs, "--origin", "seed", "--out", str(out),
                                 "--splits", str(splits)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (root / "corpus" / "articles.jsonl").read_bytes()
    assert load_splits(splits) == load_splits(root / "corpus" / "splits.json")
    assert splits.read_bytes() == (root / "corpus" / "splits.json").read_bytes()
    assert "near-duplicates" in result.output


def test_seed_articles_are_cleaned(root: Path) -> None:
    seeds = [a for a in load_articles(root / "corpus" / "articles.jsonl") if a.origin == "seed"]
    articles = {a.source[:3]: a for a in seeds}
    assert len(articles) == 5
    assert articles["000"].date == "2016-08-22" and articles["001"].date == "2016-08-21"
    for article in articles.values():
        for furniture in ("2 min read", "[Click to enlarge]", "COMMENTS", "having issues with"):
            assert furniture not in article.text
        assert "\n\n\n" not in article.text and "  " not in article.text
    assert articles["000"].text.count("Kurds launch assault to oust Syrian regime") == 1
    # Every sentence stays verbatim.
    raw = (root / "seeds" / "002_cd501c4de0cb735a.txt").read_text()
    assert "which also inlcude al-Qaeda’s Syrian affiliate al Nusra Front." in raw
    assert "which also inlcude al-Qaeda’s Syrian affiliate al Nusra Front." in articles["002"].text


def test_near_duplicate_seeds_share_a_split(root: Path) -> None:
    everything = load_articles(root / "corpus" / "articles.jsonl")
    articles = {a.source[:3]: a for a in everything if a.origin == "seed"}
    splits = load_splits(root / "corpus" / "splits.json")
    where = splits.split_of()
    assert where[articles["000"].id] == where[articles["001"].id]
    flagged = {frozenset((p.a, p.b)) for p in splits.near_duplicates}
    assert frozenset((articles["000"].id, articles["001"].id)) in flagged
    assert sorted(where) == sorted(a.id for a in everything)
    seeds = {a.id for a in articles.values()}
    assert all(set(splits.splits[name]) & seeds for name in ("train", "dev", "test"))


def test_theatre_splits_hold_out_whole_theatres(root: Path) -> None:
    articles = load_articles(root / "corpus" / "articles.jsonl")
    splits = load_splits(root / "corpus" / "splits.json")
    where = splits.split_of()
    ids = [i for name in ("train", "dev", "test") for i in splits.splits[name]]
    assert len(ids) == len(set(ids)) == len(articles)
    theatres_in: dict[str, set[str]] = {"train": set(), "dev": set(), "test": set()}
    for article in articles:
        if article.theatre:
            theatres_in[where[article.id]].add(article.theatre)
    assert not theatres_in["train"] & theatres_in["dev"]
    assert not theatres_in["train"] & theatres_in["test"]
    assert not theatres_in["dev"] & theatres_in["test"]
    for name in ("dev", "test"):
        assert len(theatres_in[name]) >= 4 and "north-east Syria" not in theatres_in[name]


def test_near_duplicates_across_split_theatres_are_refused() -> None:
    text = " ".join(f"word{i}" for i in range(30))
    a = Article("a", None, None, "x", text + " one.", theatre="Ukraine")
    b = Article("b", None, None, "x", text + " two.", theatre="Sudan")
    with pytest.raises(ValueError, match="go to different splits"):
        make_splits([a, b], held_out={"dev": (), "test": ("Ukraine",)})


def test_cross_validation_holds_out_whole_theatres(root: Path) -> None:
    splits = load_splits(root / "corpus" / "splits.json")
    theatres = splits.theatres
    for _, held_out in article_folds(splits):
        assert len({theatres.get(i) for i in held_out}) == 1


def test_splits_are_deterministic_and_change_with_seed(root: Path) -> None:
    articles = load_articles(root / "corpus" / "articles.jsonl")
    assert make_splits(articles) == make_splits(list(reversed(articles)))
    seeds = {json.dumps(make_splits(articles, seed=s).splits) for s in range(6)}
    assert len(seeds) > 1


def test_folds_hold_near_duplicates_out_together(root: Path) -> None:
    splits = load_splits(root / "corpus" / "splits.json")
    folds = article_folds(splits)
    assert len(folds) == len(fold_groups(splits))
    held_out = [sorted(test) for _, test in folds]
    assert sorted(held_out) == sorted(sorted(g) for g in fold_groups(splits))
    for group in splits.groups:
        assert any(set(group) <= set(test) for test in held_out)
    for train, test in folds:
        assert not set(train) & set(test)


def test_splits_file_round_trips_and_bad_files_are_named(root: Path, tmp_path: Path) -> None:
    committed = json.loads((root / "corpus" / "splits.json").read_text())
    splits = Splits.from_json(committed)
    assert splits.to_json() == committed
    assert splits.split_of()[splits.splits["test"][0]] == "test"
    bad = tmp_path / "splits.json"
    bad.write_text(json.dumps({"seed": 0}))
    with pytest.raises(ValueError, match=r"splits\.json.*needs 'splits'"):
        load_splits(bad)
