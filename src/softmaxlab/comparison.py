"""The seed experiment (docs/seed.md#the-comparison) as a function: softmaxlab against its references.

For each reference (PyTorch nn, Keras) and each gradient formulation:

1. build the reference and a :class:`~softmaxlab.SoftmaxClassifier`; MAPE of their
   validation predictions *before copying* (expected far apart: different inits);
2. copy the reference's parameters into softmaxlab's model; MAPE of predictions and of
   validation CE *after copying* (expected 0);
3. train both on the same in-order batches; MAPE of predictions, W and b *after training*
   (expected ≈1e-14 in float64).

Every check except (1) must be below the tolerance (1e-10 in float64) for the comparison
to pass. :func:`compare` only computes; ``softmaxlab compare`` prints.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from . import gradients as G
from ._validation import check_positive_float, check_positive_int, resolve_device, resolve_dtype
from .data import Dataset, make_dataset
from .errors import InvalidInputError, InvalidTypeError
from .metrics import mape
from .model import SoftmaxClassifier, linear_params
from .references import KerasSoftmax, TorchSoftmax, keras_available
from .training import EpochRecord

__all__ = [
    "OPTIMUM_QUANTITIES",
    "QUANTITIES",
    "REFERENCES",
    "Check",
    "CompareConfig",
    "CompareResult",
    "compare",
    "resolve_for",
    "sklearn_optimum_checks",
]

#: Rows of the parity table, in order; ``required`` ones must be below the tolerance.
QUANTITIES: tuple[tuple[str, bool], ...] = (
    ("predictions before copy", False),
    ("predictions after copy", True),
    ("CE after copy", True),
    ("predictions after training", True),
    ("W after training", True),
    ("b after training", True),
)
REFERENCES = ("torch", "keras", "sklearn")
#: References trained alongside softmaxlab on the same batches (parity of the whole path).
TRAINED = ("torch", "keras")
#: Rows of the scikit-learn check: softmaxlab (L-BFGS, alpha = 1/(C·n)) against
#: LogisticRegression(C) at the optimum, compared by max |a − b| / max |b|.
OPTIMUM_QUANTITIES = ("coef_ (centred)", "intercept_ (centred)", "predict_proba")
SKLEARN_TOLERANCE = 1e-4
#: Default parity tolerance on MAPE, per dtype.
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


@dataclass(frozen=True)
class CompareConfig:
    """Settings of one comparison; the defaults are the seed's run (docs/seed.md#data, docs/seed.md#the-comparison).

    ``batch_size=None`` means ``train_rows // 3`` (33 for the seed). ``gradients`` is a
    tuple of formulation names or ``("all",)``; ``references`` a tuple drawn from
    ``("torch", "keras")`` or ``("auto",)`` (Keras only when TensorFlow is installed).
    ``tolerance=None`` takes :data:`TOLERANCE` for the dtype. The ``"sklearn"`` reference
    is not trained alongside: softmaxlab's L-BFGS solver with ``alpha = 1/(sklearn_C·n)``
    is compared with ``LogisticRegression(C=sklearn_C)`` at the optimum.
    """

    n_samples: int = 10_100
    n_features: int = 5
    n_classes: int = 3
    train_rows: int = 100
    lr: float = 0.01
    epochs: int = 16
    batch_size: int | None = None
    gradients: tuple[str, ...] = ("all",)
    references: tuple[str, ...] = ("auto",)
    seed: int = 0
    device: str | None = None
    dtype: str = "float64"
    tolerance: float | None = None
    sklearn_C: float = 1.0

    def resolved(self) -> CompareConfig:
        """A copy with every value checked and every default filled in."""
        for name in ("n_samples", "n_features", "n_classes", "train_rows", "epochs"):
            check_positive_int(getattr(self, name), name)
        check_positive_float(self.lr, "lr")
        batch = self.train_rows // 3 if self.batch_size is None else self.batch_size
        if self.batch_size is None and batch == 0:
            batch = self.train_rows
        check_positive_int(batch, "batch_size")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise InvalidTypeError(f"seed: expected an integer, got {self.seed!r}")
        dtype = resolve_dtype(self.dtype)
        device = resolve_device(self.device)
        tol = TOLERANCE[dtype] if self.tolerance is None else self.tolerance
        check_positive_float(tol, "tolerance")
        grads = _expand(self.gradients, G.names(), "gradient")
        for name in grads:
            G.get(name)
        refs = tuple(self.references)
        if refs == ("auto",):
            refs = TRAINED if keras_available() else ("torch",)
        refs = _expand(refs, REFERENCES, "reference")
        for name in refs:
            if name not in REFERENCES:
                raise InvalidInputError(
                    f"reference: unknown reference {name!r}; choose from "
                    f"{', '.join(REFERENCES)}, both (torch and keras) or all"
                )
        check_positive_float(self.sklearn_C, "sklearn_C")
        return CompareConfig(
            self.n_samples,
            self.n_features,
            self.n_classes,
            self.train_rows,
            float(self.lr),
            self.epochs,
            batch,
            grads,
            refs,
            int(self.seed),
            str(device),
            "float64" if dtype == torch.float64 else "float32",
            float(tol),
            float(self.sklearn_C),
        )


def _expand(values: tuple[str, ...], every: tuple[str, ...], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    out: list[str] = []
    groups = {"all": every, "both": TRAINED}
    for v in values:
        for item in groups.get(v, [v]):
            if item not in out:
                out.append(item)
    if not out:
        raise InvalidInputError(f"{what}: no {what} selected")
    return tuple(out)


@dataclass(frozen=True)
class Check:
    """One cell of the parity table: MAPE of ``quantity`` between softmaxlab (with
    formulation ``gradient``) and ``reference``."""

    quantity: str
    reference: str
    gradient: str
    mape: float
    required: bool
    passed: bool
    threshold: float = 0.0


@dataclass
class CompareResult:
    """Everything :func:`compare` measured: the parity checks and every training log."""

    config: CompareConfig
    checks: list[Check] = field(default_factory=list)
    reference_logs: dict[str, list[EpochRecord]] = field(default_factory=dict)
    model_logs: dict[str, dict[str, list[EpochRecord]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every required check is below the tolerance."""
        return all(c.passed for c in self.checks if c.required)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.required and not c.passed]

    def value(self, quantity: str, reference: str, gradient: str) -> float:
        for c in self.checks:
            if (c.quantity, c.reference, c.gradient) == (quantity, reference, gradient):
                return c.mape
        raise KeyError((quantity, reference, gradient))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: configuration, every check and every epoch record."""

        def logs(h: list[EpochRecord]) -> list[dict[str, Any]]:
            return [r.as_dict() for r in h]

        return {
            "config": asdict(self.config),
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
            "reference_logs": {r: logs(h) for r, h in self.reference_logs.items()},
            "model_logs": {
                r: {g: logs(h) for g, h in per.items()} for r, per in self.model_logs.items()
            },
        }


def _reference(name: str, cfg: CompareConfig, data: Dataset) -> TorchSoftmax | KerasSoftmax:
    n, c = data.n_features, data.n_classes
    if name == "torch":
        return TorchSoftmax(n, c, dtype=cfg.dtype, device=cfg.device, seed=cfg.seed)
    return KerasSoftmax(n, c, dtype=cfg.dtype, seed=cfg.seed)


def resolve_for(config: CompareConfig, data: Dataset | None) -> CompareConfig:
    """``config.resolved()``, with the sizes taken from ``data`` when it is given."""
    if data is not None:
        if data.x_valid is None or data.y_valid is None:
            raise InvalidInputError("data: compare needs validation rows (valid > 0)")
        n_train = data.x_train.shape[0]
        config = replace(
            config,
            n_samples=n_train + data.x_valid.shape[0],
            n_features=data.n_features,
            n_classes=data.n_classes,
            train_rows=n_train,
        )
    return config.resolved()


def compare(config: CompareConfig | None = None, *, data: Dataset | None = None) -> CompareResult:
    """Run the seed comparison (docs/seed.md#the-comparison) and return every MAPE and log; prints nothing.

    ``data`` (for example from :func:`~softmaxlab.load_dataset`) replaces the synthetic
    data set built from ``config``; the sizes in the result's configuration then come
    from ``data``, and ``batch_size=None`` means a third of its training rows.
    """
    cfg = resolve_for(config or CompareConfig(), data)
    if data is None:
        data = make_dataset(
            cfg.n_samples,
            cfg.n_features,
            cfg.n_classes,
            train_rows=cfg.train_rows,
            seed=cfg.seed,
            dtype=cfg.dtype,
            device=cfg.device,
        )
    xt, yt, xv, yv = data.x_train, data.y_train, data.x_valid, data.y_valid
    # Fail before training anything if a formulation cannot take this batch size.
    rows = min(cfg.batch_size or 1, xt.shape[0])
    for g in cfg.gradients:
        G.get(g).check_budget(rows, data.n_features, data.n_classes, xt.element_size())
    result = CompareResult(cfg)
    tol = cfg.tolerance or 0.0

    def record(quantity: str, ref: str, grad: str, value: float) -> None:
        required = dict(QUANTITIES)[quantity]
        passed = value < tol  # NaN never passes
        result.checks.append(Check(quantity, ref, grad, value, required, passed, tol))

    fit_args: tuple[Any, ...] = (cfg.epochs, cfg.lr, cfg.batch_size, xv, yv)
    for ref_name in cfg.references:
        if ref_name == "sklearn":
            result.checks.extend(sklearn_optimum_checks(data, cfg.sklearn_C))
            continue
        ref = _reference(ref_name, cfg, data)
        ref_pred, ref_ce = ref.predict(xv), ref.evaluate(xv, yv)
        models: dict[str, SoftmaxClassifier] = {}
        for g in cfg.gradients:
            model = SoftmaxClassifier(
                data.n_features,
                data.n_classes,
                gradient=g,
                dtype=cfg.dtype,
                device=cfg.device,
                seed=cfg.seed + 1,
            )
            record("predictions before copy", ref_name, g, mape(model.predict(xv), ref_pred))
            model.copy_params(ref)
            record("predictions after copy", ref_name, g, mape(model.predict(xv), ref_pred))
            record("CE after copy", ref_name, g, mape(model.evaluate(xv, yv), ref_ce))
            models[g] = model
        result.reference_logs[ref_name] = ref.fit(xt, yt, *fit_args, verbose=False)
        ref_pred = ref.predict(xv)
        ref_w, ref_b = linear_params(ref)
        result.model_logs[ref_name] = {}
        for g, model in models.items():
            result.model_logs[ref_name][g] = model.fit(xt, yt, *fit_args, verbose=False)
            pred = model.predict(xv).to(ref_pred.device)
            record("predictions after training", ref_name, g, mape(pred, ref_pred))
            record("W after training", ref_name, g, mape(model.w.cpu(), ref_w.cpu()))
            record("b after training", ref_name, g, mape(model.b.cpu(), ref_b.cpu()))
    return result


def _relative(a: Any, b: Any) -> float:
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(b))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else float(np.max(np.abs(a)))


def sklearn_optimum_checks(
    data: Dataset, C: float = 1.0, *, sample_weight: Any = None
) -> list[Check]:
    """softmaxlab at the optimum against scikit-learn's multinomial ``LogisticRegression``.

    Both minimise the same objective once ``alpha = 1/(C·n)`` (n: the sum of the sample
    weights): LogisticRegression's ``C·Σ sᵢℓᵢ + ½‖W‖²`` is ``C·n`` times softmaxlab's
    ``Σ sᵢℓᵢ / n + α/2 ‖W‖²``. For two classes LogisticRegression keeps one log-odds
    vector, and the mapping is ``alpha = 2/(C·n)`` (see docs/conventions.md). Softmax is unchanged by a shift shared by all classes, so
    ``coef_`` and ``intercept_`` are compared after centring them over the classes.
    Uses the training rows of ``data``; both solvers run to a tight tolerance.
    """
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from .estimator import SoftmaxRegression

    x = data.x_train.detach().cpu().double().numpy()
    y = data.y_train.argmax(dim=1).cpu().numpy()
    n = float(len(y) if sample_weight is None else np.sum(sample_weight))
    # Two classes: LogisticRegression fits one log-odds vector d = w₁ − w₀ with penalty
    # ½‖d‖²; softmaxlab's centred optimum has w₁ = −w₀ = d/2, whose penalty α/2·(‖w₀‖² +
    # ‖w₁‖²) is α/4·‖d‖², so the same problem needs twice the alpha.
    binary = len(np.unique(y)) == 2
    alpha = (2.0 if binary else 1.0) / (C * n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = LogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(
            x, y, sample_weight=sample_weight
        )
        ours = SoftmaxRegression(solver="lbfgs", alpha=alpha, tol=1e-12, max_epochs=100_000).fit(
            x, y, sample_weight=sample_weight
        )
    if ref.coef_.shape[0] == 1:  # binary: LogisticRegression keeps one log-odds vector
        pairs = [
            (ours.coef_[1] - ours.coef_[0], ref.coef_[0]),
            (ours.intercept_[1:] - ours.intercept_[:1], ref.intercept_),
        ]
    else:
        pairs = [
            (ours.coef_ - ours.coef_.mean(0), ref.coef_ - ref.coef_.mean(0)),
            (ours.intercept_ - ours.intercept_.mean(), ref.intercept_ - ref.intercept_.mean()),
        ]
    pairs.append((ours.predict_proba(x), ref.predict_proba(x)))
    checks = []
    for quantity, (a, b) in zip(OPTIMUM_QUANTITIES, pairs, strict=True):
        value = _relative(a, b)
        checks.append(
            Check(
                quantity,
                "sklearn",
                "lbfgs",
                value,
                True,
                value < SKLEARN_TOLERANCE,
                SKLEARN_TOLERANCE,
            )
        )
    return checks
