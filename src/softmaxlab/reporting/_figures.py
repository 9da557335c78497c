"""What every figure of :mod:`softmaxlab.reporting` shares: matplotlib on the Agg backend,
and one atomic PNG write per figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io.atomic import atomic_write

__all__: list[str] = []


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _records(history: Sequence[Any]) -> list[dict[str, Any]]:
    return [r.as_dict() if hasattr(r, "as_dict") else dict(r) for r in history]


def _save(fig: Any, path: str | Path) -> None:
    plt = _plt()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)
