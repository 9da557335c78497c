"""Raw text (softmaxlab.text, ``train --text``): TF-IDF fitted on the training rows, stored
in the model file as tensors and JSON (never pickle) and rebuilt to the same matrix;
predict and evaluate take the raw text column; bad text columns fail cleanly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from safetensors import safe_open

import softmaxlab as sl
from softmaxlab.cli import main
from softmaxlab.text import TextFeatures

TOPICS = {
    "sport": "goal match team score league coach",
    "politics": "vote party election law minister",
    "tech": "software chip data cloud code",
}
COMMON = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "it",
    "for",
    "on",
    "with",
    "as",
    "was",
    "at",
    "by",
]


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = str(rng.choice(list(TOPICS)))
        words = [*rng.choice(COMMON, 10), *rng.choice(TOPICS[label].split(), 2)]
        rng.shuffle(words)
        rows.append({"id": i, "body": " ".join(words), "label": label})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text")
    _frame(400, 0).to_csv(folder / "docs.csv", index=False)
    _frame(80, 1).drop(columns="label").to_csv(folder / "new.csv", index=False)
    _frame(80, 2).to_csv(folder / "labelled.csv", index=False)
    return folder


def test_stored_vectorizer_gives_the_fitted_matrix():
    docs = _frame(200, 3)["body"].to_numpy()
    features, x = TextFeatures.fit("body", docs, ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    tensors, meta = features.to_stored()
    back = TextFeatures.from_stored(tensors, meta, features.n_features)
    assert abs(back.transform(docs) - features.transform(docs)).max() == 0
    assert abs(back.transform(docs) - x).max() < 1e-15  # fit_transform rounds differently


def test_train_text_then_predict_and_evaluate_raw_text(corpus, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                str(corpus / "docs.csv"),
                "--target",
                "label",
                "--text",
                "body",
                "--ngrams",
                "1,2",
                "--sublinear-tf",
                "--min-df",
                "2",
                "--out",
                str(model),
                "--quiet",
            ]
        )
        == 0
    )
    with safe_open(str(model), "np") as fh:  # data, not a pickle
        assert {"text_vocabulary", "text_idf"} <= set(fh.keys())
        assert '"column": "body"' in fh.metadata()["text"]
    saved = sl.load_model(model)
    new = pd.read_csv(corpus / "new.csv")
    capsys.readouterr()
    assert main(["predict", "--model", str(model), "--data", str(corpus / "new.csv")]) == 0
    printed = capsys.readouterr().out.split()[1:]
    assert printed == list(saved.predict(saved.text.transform(new["body"])))
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model),
                "--data",
                str(corpus / "labelled.csv"),
                "--target",
                "label",
                "--json",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    assert pd.read_json(tmp_path / "e.json", typ="series")["accuracy"] > 0.9


@pytest.mark.parametrize("case", ["numbers", "missing", "min_df", "predict_missing"])
def test_bad_text_columns_fail_cleanly(corpus, tmp_path, fails_cleanly, case):
    out = str(tmp_path / "m.safetensors")
    base = ["train", "--data", str(corpus / "docs.csv"), "--target", "label", "--out", out]
    if case == "predict_missing":
        assert main([*base, "--text", "body", "--quiet"]) == 0
        pd.DataFrame({"other": ["x"]}).to_csv(tmp_path / "bad.csv", index=False)
        fails_cleanly(
            ["predict", "--model", out, "--data", str(tmp_path / "bad.csv")],
            tmp_path,
            "text: no column named 'body'",
        )
        return
    args, message = {
        "numbers": (["--text", "id"], "text: column 'id' holds numbers, not text"),
        "missing": (["--text", "nope"], "text: no column named 'nope'"),
        "min_df": (["--text", "body", "--min-df", "5000"], "text: column 'body'"),
    }[case]
    fails_cleanly([*base, *args], tmp_path, message)


def test_export_of_a_text_model_says_the_graph_takes_tfidf_features(corpus, tmp_path, capsys):
    pytest.importorskip("onnx")
    model = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                str(corpus / "docs.csv"),
                "--target",
                "label",
                "--text",
                "body",
                "--out",
                str(model),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["export", "--model", str(model), "--onnx", str(tmp_path / "m.onnx")]) == 0
    assert "note: this model reads the text column 'body'" in capsys.readouterr().out
