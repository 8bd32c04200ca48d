"""Pictures for the reports: matplotlib without a display, written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from conflict_ner.files import write_bytes_atomic


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display here, and none needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path) -> Path:
    """Write a figure as a PNG (temp file, then rename) and close it."""
    plt = pyplot()
    image = io.BytesIO()
    try:
        fig.tight_layout()
        fig.savefig(image, format="png")
    finally:
        plt.close(fig)
    write_bytes_atomic(Path(path), image.getvalue())
    return Path(path)
