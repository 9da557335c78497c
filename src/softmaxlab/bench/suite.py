"""``softmaxlab bench`` as one function: the sections it asks for, measured in this
process, as one JSON-ready dict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import InvalidInputError
from . import bench as B
from . import growth

__all__ = ["SECTIONS", "run_sections"]


#: The sections of ``softmaxlab bench``, in the order they run.
SECTIONS = ("main", "growth", "scaling", "fit", "race", "text")


def run_sections(
    sections: Sequence[str] = SECTIONS,
    *,
    quick: bool = False,
    repeats: int = 5,
    keras: bool = True,
    progress: Any = None,
) -> dict[str, Any]:
    """``softmaxlab bench``: the chosen ``sections`` measured in this process, as one
    JSON-ready dict (``threads`` and one entry per section; ``main`` as
    ``MainResult.to_dict()``). ``quick`` takes smaller sizes (a smoke test, not numbers to
    publish); ``progress(text)`` is told each measurement."""
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise InvalidInputError(
            f"sections: unknown {unknown}; expected some of {', '.join(SECTIONS)}"
        )
    out: dict[str, Any] = {"threads": B.torch_threads()}
    if "main" in sections:
        configs = tuple(c.quick() for c in B.CONFIGS) if quick else B.CONFIGS
        dtypes = ("float64",) if quick else ("float64", "float32")
        out["main"] = B.run_main(
            configs, dtypes, repeats=repeats, keras=keras, progress=progress
        ).to_dict()
    if "growth" in sections:
        batches = growth.GROWTH_BATCHES[:6] if quick else growth.GROWTH_BATCHES
        out["growth"] = growth.run_growth(batches, repeats=max(repeats, 3), progress=progress)
    if "scaling" in sections:
        rows = (5_000, 10_000, 20_000, 40_000) if quick else (50_000, 100_000, 200_000, 400_000)
        out["scaling"] = growth.run_scaling(rows, repeats=repeats, progress=progress)
    if "fit" in sections:
        from .fitcost import fit_costs

        out["fit"] = fit_costs(
            rows=20_000 if quick else 200_000, repeats=repeats, progress=progress
        )
    if "race" in sections:
        from .race import race

        out["race"] = race(rows=20_000 if quick else 200_000, repeats=repeats, progress=progress)
    if "text" in sections:
        from .textbench import run_text

        n = 5_000 if quick else 50_000
        out["text"] = run_text(n_docs=n, n_terms=n, progress=progress)
    return out
