"""Tagging on dask.distributed (the optional extra ``conflict-ner[dask]``).

Articles go out in partitions of one batch each; a worker process loads the model
once (a worker plugin warms the per-process cache of ``load_tagger``), tags its
partition and sends back the raw rows. The client commits each partition as the
plain engine commits a batch, in input order, so both engines write the same rows.
Only a few partitions per worker are in flight at a time, so memory stays flat
however large the corpus. With ``scheduler`` the run uses an existing cluster (its
workers need conflict-ner and the model at the same path); without, a LocalCluster
of ``workers`` single-threaded processes is started for the run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any

from distributed import Client, LocalCluster, WorkerPlugin
from spacy.util import minibatch

from conflict_ner.articles import Article
from conflict_ner.tagging.pipeline import Tagged, load_tagger, tag_partition
from conflict_ner.tagging.tag import Engine, TagOptions

IN_FLIGHT_PER_WORKER = 2


class TaggerPlugin(WorkerPlugin):
    """Loads the model when a worker starts, and keeps torch to the worker's threads."""

    name = "conflict-ner-tagger"

    def __init__(self, model: str, quantize: str | None) -> None:
        self.model = model
        self.quantize = quantize

    def setup(self, worker: Any) -> None:
        import torch

        torch.set_num_threads(max(1, worker.state.nthreads))
        load_tagger(self.model, self.quantize)

    def teardown(self, worker: Any) -> None:
        """Nothing to release: the model goes with the process."""


@contextmanager
def client_for(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A client of the given scheduler, or of a LocalCluster started for the run."""
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def dask_engine(model: str, options: TagOptions, scheduler: str | None = None,
                workers: int = 2) -> Engine:
    """An engine for ``tag`` that runs on Dask."""
    def run(articles: list[Article]) -> Iterator[list[Tagged]]:
        with client_for(scheduler, workers) as client:
            client.register_plugin(TaggerPlugin(model, options.quantize))
            window = IN_FLIGHT_PER_WORKER * max(1, len(client.scheduler_info()["workers"]))
            partitions = minibatch(articles, options.batch_size)

            def submit(part: list[Article]) -> Any:
                return client.submit(tag_partition, model, options.quantize, part,
                                     pure=False)

            pending = deque(submit(part) for part in islice(partitions, window))
            while pending:
                result = pending.popleft().result()
                pending.extend(submit(part) for part in [next(partitions, None)] if part)
                yield result

    return run
