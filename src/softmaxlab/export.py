"""Shipping a fitted model: as scikit-learn's ``LogisticRegression`` (every scikit-learn
deployment tool then works) or as an ONNX graph (any ONNX runtime, no Python needed).

Both carry the same function: probabilities softmax(x W + b) (for two classes scikit-learn
keeps one log-odds vector, w₁ − w₀, whose logistic function is the same probability) and
the original class labels. A standardisation (``mean``/``scale`` of a model file) is
folded into the weights: (x − μ)/d · W + b = x · (W/d) + (b − (μ/d)·W).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .errors import InvalidInputError, MissingDependencyError

__all__ = ["folded", "to_onnx", "to_sklearn"]


def folded(model: Any, mean: Any = None, scale: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(W (N, C), b (C,))`` of a fitted ``SoftmaxRegression`` in float64 with the
    standardisation ``(x − mean) / scale`` folded in (none when ``mean`` is ``None``)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    w = model.coef_.T.astype(np.float64)
    b = model.intercept_.astype(np.float64)
    if mean is not None:
        d = np.asarray(scale, dtype=np.float64)
        w = w / d[:, None]
        b = b - (np.asarray(mean, dtype=np.float64) @ w)
    return w, b


def to_sklearn(model: Any, mean: Any = None, scale: Any = None) -> Any:
    """A fitted ``sklearn.linear_model.LogisticRegression`` whose ``predict_proba`` equals
    ``model``'s (multinomial for three or more classes; the log-odds w₁ − w₀ for two)."""
    from sklearn.linear_model import LogisticRegression

    w, b = folded(model, mean, scale)
    out = LogisticRegression()
    if len(model.classes_) == 2:
        out.coef_ = (w[:, 1] - w[:, 0])[None, :]
        out.intercept_ = np.array([b[1] - b[0]])
    else:
        out.coef_, out.intercept_ = w.T.copy(), b.copy()
    out.classes_ = model.classes_.copy()
    out.n_features_in_ = w.shape[0]
    if hasattr(model, "feature_names_in_") and mean is None:
        out.feature_names_in_ = model.feature_names_in_
    out.n_iter_ = np.array([getattr(model, "n_iter_", 0)])
    return out


def to_onnx(
    model: Any,
    path: str | os.PathLike[str],
    mean: Any = None,
    scale: Any = None,
    *,
    opset: int = 17,
) -> None:
    """Write an ONNX graph: input ``x`` (float32, n × N), outputs ``label`` (the original
    class labels: int64 or strings) and ``probabilities`` (float32, n × C); the graph is
    MatMul, Add, Softmax, ArgMax and a lookup of the labels. Written atomically."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise MissingDependencyError(
            "onnx: export needs the onnx package (pip install 'softmaxlab[export]')"
        ) from None
    from .io.atomic import atomic_write

    w, b = folded(model, mean, scale)
    classes = model.classes_
    if classes.dtype.kind in "iub":
        labels, label_type = np.asarray(classes, dtype=np.int64), TensorProto.INT64
    elif classes.dtype.kind in "US" or classes.dtype == object:
        labels, label_type = np.asarray([str(c) for c in classes], dtype=object), TensorProto.STRING
    else:
        raise InvalidInputError(
            f"model: ONNX export needs integer or text labels, not {classes.dtype}"
        )
    n, c = w.shape
    inits = [
        numpy_helper.from_array(w.astype(np.float32), "W"),
        numpy_helper.from_array(b.astype(np.float32), "b"),
        numpy_helper.from_array(labels, "classes"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["index"], axis=1, keepdims=0),
        helper.make_node("Gather", ["classes", "index"], ["label"], axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        "softmaxlab",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", n])],
        [
            helper.make_tensor_value_info("label", label_type, ["n"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", c]),
        ],
        inits,
    )
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="softmaxlab"
    )
    onnx.checker.check_model(proto)
    atomic_write(path, lambda tmp: onnx.save(proto, tmp))
