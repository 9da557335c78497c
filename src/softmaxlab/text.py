"""Raw text in, labels out: the TF-IDF features of ``softmaxlab train --text COL``
(docs/text.md#raw-text).

:class:`TextFeatures` is scikit-learn's ``TfidfVectorizer`` with the options a command line
can give (n-grams, ``min_df``, ``max_features``, sublinear tf), fitted on the training
rows only. A model file stores what it learnt as data, never as a pickle
(:func:`softmaxlab.persistence.save_model`):

* ``text_vocabulary``: the terms in column order, UTF-8, one per line, as a uint8 tensor
  (the default tokenizer's terms hold no line break; n-grams are joined by spaces);
* ``text_idf``: the inverse document frequencies (N,), float64;
* the ``text`` metadata entry: the column name and the options, as JSON.

:meth:`TextFeatures.from_stored` rebuilds the vectorizer from exactly these, and gives
the same matrix as the fitted one (tested to 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .errors import InvalidInputError

__all__ = ["TEXT_OPTIONS", "TextFeatures", "text_column"]

#: The TfidfVectorizer options ``--text`` exposes, with their defaults.
TEXT_OPTIONS: dict[str, Any] = {
    "ngram_range": (1, 1),
    "min_df": 1,
    "max_df": 1.0,
    "max_features": None,
    "sublinear_tf": False,
    "lowercase": True,
}


def text_column(frame: Any, column: Any, name: str = "text") -> Any:
    """The column ``column`` of ``frame`` as strings, refused by name when it is missing,
    numeric, or holds no text at all. Missing cells become empty documents."""
    from .io.tables import resolve_column

    col = resolve_column(frame, column, name)
    values = frame[col]
    if values.dtype.kind in "biufc":
        raise InvalidInputError(f"{name}: column {col!r} holds numbers, not text")
    if not values.map(lambda v: isinstance(v, str)).any():
        raise InvalidInputError(f"{name}: column {col!r} holds no text")
    return col, values.fillna("").astype(str)


@dataclass
class TextFeatures:
    """A fitted TF-IDF vectorizer of one text ``column`` (module docstring)."""

    column: str
    options: dict[str, Any] = field(default_factory=dict)
    vectorizer: Any = None

    @classmethod
    def fit(cls, column: str, docs: Any, **options: Any) -> tuple[TextFeatures, Any]:
        """Fit on the training documents ``docs``; returns the features and their CSR
        matrix (n, N)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        unknown = sorted(set(options) - set(TEXT_OPTIONS))
        if unknown:
            raise InvalidInputError(f"text options: unknown {unknown}")
        opts = {**TEXT_OPTIONS, **{k: v for k, v in options.items() if v is not None}}
        opts["ngram_range"] = tuple(int(v) for v in opts["ngram_range"])
        lo, hi = opts["ngram_range"]
        if not 1 <= lo <= hi:
            raise InvalidInputError(f"ngram_range: expected 1 <= min <= max, got {lo},{hi}")
        vec = TfidfVectorizer(**opts)
        try:
            x = vec.fit_transform(docs)
        except ValueError as exc:  # an empty vocabulary, min_df above the documents, ...
            raise InvalidInputError(f"text: column {column!r}: {exc}") from None
        return cls(column, opts, vec), x.tocsr()

    @property
    def n_features(self) -> int:
        return len(self.vectorizer.vocabulary_)

    def transform(self, docs: Any) -> Any:
        """The CSR TF-IDF matrix (n, N) of new documents."""
        return self.vectorizer.transform(docs).tocsr()

    # ------------------------------------------------------------------ model files
    def to_stored(self) -> tuple[dict[str, torch.Tensor], str]:
        """``(tensors, metadata JSON)`` for a model file."""
        terms = self.vectorizer.get_feature_names_out()
        if any("\n" in t for t in terms):
            raise InvalidInputError("text: a term holds a line break; it cannot be stored")
        raw = "\n".join(terms).encode("utf-8")
        tensors = {
            "text_vocabulary": torch.frombuffer(bytearray(raw), dtype=torch.uint8),
            "text_idf": torch.from_numpy(np.asarray(self.vectorizer.idf_, dtype=np.float64)),
        }
        meta = {
            "column": self.column,
            "options": {**self.options, "ngram_range": list(self.options["ngram_range"])},
        }
        return tensors, json.dumps(meta)

    @classmethod
    def from_stored(
        cls, tensors: dict[str, torch.Tensor], meta: str, n_features: int
    ) -> TextFeatures:
        """Rebuild from a model file's tensors and ``text`` metadata; ``n_features`` is
        the model's width, which the vocabulary must match."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        info = json.loads(meta)
        if (
            not isinstance(info, dict)
            or not isinstance(info.get("column"), str)
            or not isinstance(info.get("options"), dict)
        ):
            raise ValueError("text: expected {column, options}")
        # the vocabulary is fixed: min_df, max_df and max_features have done their work
        opts = {
            k: v
            for k, v in info["options"].items()
            if k in ("ngram_range", "sublinear_tf", "lowercase")
        }
        opts["ngram_range"] = tuple(int(v) for v in opts.get("ngram_range", (1, 1)))
        raw = tensors["text_vocabulary"]
        terms = bytes(raw.numpy().tobytes()).decode("utf-8").split("\n") if raw.numel() else []
        idf = tensors["text_idf"].double().numpy()
        if (
            len(terms) != n_features
            or idf.shape != (n_features,)
            or not np.isfinite(idf).all()
            or len(set(terms)) != len(terms)
        ):
            raise ValueError(
                f"text: {len(terms)} terms and {idf.shape} idf weights for {n_features} features"
            )
        vec = TfidfVectorizer(**opts, vocabulary={t: i for i, t in enumerate(terms)})
        vec.idf_ = idf
        return cls(info["column"], opts, vec)


def text_dataset(
    path: Any,
    column: Any,
    *,
    target: Any,
    valid: Any,
    shuffle: bool,
    stratify: bool,
    seed: Any,
    standardize: bool,
    dtype: Any,
    options: dict[str, Any],
) -> tuple[Any, TextFeatures]:
    """``load_dataset`` for a file with a text column: the split of
    :func:`softmaxlab.data.split_order`, the vectorizer fitted on the training rows only,
    then the held-out rows transformed by it. Returns ``(Dataset, TextFeatures)`` with
    CSR features."""
    from dataclasses import replace

    from .data import Dataset, _standardized, one_hot, split_order
    from .io.tables import encode_labels, read_table, resolve_column
    from .sparse import nonempty

    frame = read_table(path)
    col, docs = text_column(frame, column)
    target_col = resolve_column(frame, -1 if target is None else target, "target")
    if target_col == col:
        raise InvalidInputError(f"text: column {col!r} is also the target")
    classes, idx = encode_labels(frame[target_col], f"target column {target_col!r}")
    order, n_train = split_order(
        len(docs),
        idx,
        valid=0.2 if valid is None else valid,
        shuffle=shuffle,
        stratify=stratify,
        seed=seed,
    )
    docs = docs.to_numpy()
    features, x_train = TextFeatures.fit(col, docs[order[:n_train]], **options)
    nonempty(x_train, "text")
    np_dtype = np.float32 if str(dtype) in ("float32", "torch.float32") else np.float64
    x_valid = features.transform(docs[order[n_train:]]) if n_train < len(docs) else None
    y = one_hot(idx[order], len(classes), dtype=torch.float64)
    data = Dataset(
        x_train.astype(np_dtype),
        y[:n_train],
        None if x_valid is None else x_valid.astype(np_dtype),
        y[n_train:] if x_valid is not None else None,
        len(classes),
        classes=classes,
        name=str(path),
    )
    if standardize:
        data = _standardized(data)
    return replace(data, feature_names=None), features
