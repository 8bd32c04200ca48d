"""Tagged output at rest: one pair of shards per batch of articles, and the files an
analyst reads, assembled from them.

A batch is committed by two atomic writes (temporary file + rename): its mentions
shard, then its articles shard. A run killed at any moment leaves whole shards
only; a mentions shard without its articles shard is an uncommitted batch and is
dropped on resume. The articles shards are the record of what is done.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

from conflict_ner.files import iter_jsonl, write_bytes_atomic, write_jsonl

SHARDS = "shards"
SHARD = re.compile(r"^(\d{6})\.(mentions|articles)\.jsonl$")


# Mention-row fields the tables are built from that older versions did not write.
MENTION_FIELDS = ("sentence_start",)


class ShardStore:
    """The shards folder of a tagging output folder."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.dir = self.out / SHARDS

    def _path(self, index: int, kind: str) -> Path:
        return self.dir / f"{index:06d}.{kind}.jsonl"

    def indexes(self, kind: str = "articles") -> list[int]:
        """Indexes of the shards of one kind, in order."""
        if not self.dir.is_dir():
            return []
        found = (SHARD.match(p.name) for p in self.dir.iterdir())
        return sorted(int(m[1]) for m in found if m and m[2] == kind)

    def open(self, resume: bool) -> set[str]:
        """Ready the folder for a run; the ids of the articles already tagged.

        Without ``resume`` the folder must hold no shards (an earlier run's work is
        never replaced silently). On resume, uncommitted batches and temporary files
        left by a killed run are removed.
        """
        committed = self.indexes()
        if committed and not resume:
            raise ValueError(
                f"{self.out} already holds tagged articles: pass --resume to continue "
                "that run, or choose another folder"
            )
        self._refuse_older_shards(committed)
        if self.dir.is_dir():
            for path in self.dir.glob(".*.tmp"):
                path.unlink()
            for index in set(self.indexes("mentions")) - set(committed):
                self._path(index, "mentions").unlink()
        return {row["article_id"] for index in committed for row in self._rows(index, "articles")}

    def _refuse_older_shards(self, committed: list[int]) -> None:
        """ValueError when committed mentions lack the fields this version's tables need
        (written by an older conflict-ner): said before any article is tagged."""
        for index in committed:
            rows = self._rows(index, "mentions")
            if rows:
                missing = sorted(set(MENTION_FIELDS) - set(rows[0]))
                if missing:
                    raise ValueError(
                        f"{self._path(index, 'mentions')}: mention rows without "
                        f"{', '.join(missing)} (written by an older conflict-ner); tag into "
                        "a new folder, without --resume"
                    )
                return

    def write(self, index: int, articles: list[dict[str, Any]],
              mentions: list[dict[str, Any]]) -> None:
        """Commit one batch: its mentions, then its articles (the commit)."""
        write_jsonl(self._path(index, "mentions"), mentions)
        write_jsonl(self._path(index, "articles"), articles)

    def _rows(self, index: int, kind: str) -> list[dict[str, Any]]:
        path = self._path(index, kind)
        rows = []
        for number, row in iter_jsonl(path):
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: corrupt shard ({row.message})")
            rows.append(row)
        return rows

    def articles(self) -> Iterator[dict[str, Any]]:
        """Every committed article record, in batch order."""
        for index in self.indexes():
            yield from self._rows(index, "articles")

    def mentions(self) -> Iterator[dict[str, Any]]:
        """Every committed mention row, in batch order."""
        for index in self.indexes():
            yield from self._rows(index, "mentions")

    def mentions_by_article(self) -> Iterator[list[dict[str, Any]]]:
        """Each committed article's mention rows (articles with none are left out)."""
        for _, rows in groupby(self.mentions(), key=lambda row: row["article_id"]):
            yield list(rows)

    def concatenate(self, kind: str, target: Path) -> Path:
        """One JSONL file of every committed shard of a kind, written atomically."""
        parts = [self._path(i, kind).read_bytes() for i in self.indexes()]
        write_bytes_atomic(target, b"".join(parts))
        return target

