"""SoftmaxClassifier: the seed's methods (docs/seed.md), numerics and bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import softmaxlab as sl
from softmaxlab import functional as F
from softmaxlab import gradients as G
from tests.helpers import TOL, random_problem

LINE = re.compile(r"^epoch: \d+ - CE: \d+\.\d{1,4} - CE_v: \d+\.\d{1,4} - acc_v: \d(\.\d{1,4})?$")


def _model(**kw) -> sl.SoftmaxClassifier:
    return sl.SoftmaxClassifier(5, 3, device="cpu", seed=kw.pop("seed", 0), **kw)


def test_parameters_are_standard_normal_with_seed_repeatable():
    a, b = _model(seed=1), _model(seed=1)
    assert a.w.shape == (5, 3) and a.b.shape == (3,)
    assert a.w.dtype == torch.float64 and a.w.device.type == "cpu"
    assert torch.equal(a.w, b.w) and torch.equal(a.b, b.b)
    big = sl.SoftmaxClassifier(400, 50, device="cpu", seed=2)
    assert abs(float(big.w.mean())) < 0.02 and abs(float(big.w.std()) - 1) < 0.02


def test_no_seed_uses_torch_global_generator_like_the_notebook():
    torch.manual_seed(3)
    a = sl.SoftmaxClassifier(5, 3, device="cpu")
    torch.manual_seed(3)
    b = sl.SoftmaxClassifier(5, 3, device="cpu")
    assert torch.equal(a.w, b.w)
    torch.manual_seed(3)
    assert torch.equal(a.w, torch.randn(5, 3, dtype=torch.float64))


def test_device_default_is_cuda_when_available_else_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert sl.SoftmaxClassifier(2, 2).w.device.type == expected


def test_predict_returns_probabilities_from_the_seed_formula(seed_data):
    model = _model()
    x = seed_data.x_valid
    probs = model.predict(x)
    z = x @ model.w + model.b
    expected = torch.exp(z - z.max(dim=1, keepdim=True).values)
    expected = expected / expected.sum(1, keepdim=True)
    torch.testing.assert_close(probs, expected, **TOL[torch.float64])
    torch.testing.assert_close(probs.sum(1), torch.ones(len(x), dtype=torch.float64))


def test_evaluate_is_cross_entropy_and_matches_torch(seed_data):
    model = _model()
    x, y = seed_data.x_valid, seed_data.y_valid
    literal = -(y * torch.log(model.predict(x))).sum().item() / len(y)
    logits = x @ model.w + model.b
    torch_ce = torch.nn.functional.cross_entropy(logits, y).item()
    assert model.evaluate(x, y) == pytest.approx(literal, rel=1e-12)
    assert model.evaluate(x, y) == pytest.approx(torch_ce, rel=1e-14)


def test_accuracy_is_mean_argmax_agreement():
    model = _model()
    y_true = torch.eye(3, dtype=torch.float64)[[0, 1, 2, 2]]
    y_pred = torch.tensor([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0, 0, 1.0]])
    assert model.accuracy(y_true, y_pred) == 0.75


@pytest.mark.parametrize("name", G.names())
def test_update_is_one_sgd_step_of_the_formulation(name):
    x, y, _, _ = random_problem(33, 5, 3, seed=4)
    model = _model(gradient=name)
    w0, b0 = model.w.clone(), model.b.clone()
    y_hat = model.predict(x)
    model.update(x, y, y_hat, lr=0.1)
    ref = G.autograd(x, y, w0, b0)
    torch.testing.assert_close(model.w, w0 - 0.1 * ref.d_w, **TOL[torch.float64])
    torch.testing.assert_close(model.b, b0 - 0.1 * ref.d_b, **TOL[torch.float64])


def test_fit_prints_the_seed_line_and_returns_history(seed_data, capsys):
    d = seed_data
    model = _model()
    history = model.fit(d.x_train, d.y_train, 3, 0.01, 33, d.x_valid, d.y_valid)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and len(history) == 3
    for i, (line, rec) in enumerate(zip(lines, history, strict=True)):
        assert LINE.match(line), line
        assert rec.epoch == i
        assert line == (
            f"epoch: {i} - CE: {round(rec.ce, 4)} - CE_v: {round(rec.ce_valid, 4)}"
            f" - acc_v: {round(rec.acc_valid, 4)}"
        )
    assert history[-1].ce_valid == pytest.approx(model.evaluate(d.x_valid, d.y_valid), rel=1e-14)


def test_epoch_ce_is_mean_of_batch_losses_before_each_step(seed_data):
    d = seed_data
    model = _model(seed=5)
    twin = _model(seed=5)
    history = model.fit(d.x_train, d.y_train, 1, 0.05, 33, verbose=False)
    losses = []
    for start in range(0, 100, 33):  # 33, 33, 33, 1: the last batch is short
        xb, yb = d.x_train[start : start + 33], d.y_train[start : start + 33]
        losses.append(twin.evaluate(xb, yb))
        twin.update(xb, yb, twin.predict(xb), 0.05)
    assert len(losses) == 4
    assert history[0].ce == pytest.approx(sum(losses) / 4, rel=1e-13)
    torch.testing.assert_close(model.w, twin.w, **TOL[torch.float64])


def test_fit_without_validation_logs_train_ce_only(seed_data, capsys):
    d = seed_data
    history = _model().fit(d.x_train, d.y_train, 2, 0.01, 50)
    assert history[0].ce_valid is None and history[0].acc_valid is None
    assert re.fullmatch(r"epoch: 0 - CE: [\d.]+", capsys.readouterr().out.splitlines()[0])


def test_fit_computes_each_batch_logits_once(seed_data, monkeypatch):
    d = seed_data
    calls = []
    real = F.logits
    monkeypatch.setattr(F, "logits", lambda *a: calls.append(1) or real(*a))
    _model().fit(d.x_train, d.y_train, 2, 0.01, 33, d.x_valid, d.y_valid, verbose=False)
    assert len(calls) == 2 * 4 + 2  # 4 batches per epoch + one validation pass per epoch


def test_fit_verbose_false_prints_nothing(seed_data, capsys):
    d = seed_data
    _model().fit(d.x_train, d.y_train, 2, 0.01, 33, d.x_valid, d.y_valid, verbose=False)
    assert capsys.readouterr().out == ""


def test_float32_model_trains_in_float32(seed_data):
    d = seed_data
    model = _model(dtype="float32")
    history = model.fit(d.x_train, d.y_train, 2, 0.01, 33, d.x_valid, d.y_valid, verbose=False)
    assert model.w.dtype == torch.float32 and np.isfinite(history[-1].ce)


def test_inputs_are_converted_from_numpy_and_lists():
    model = _model()
    x = np.random.default_rng(0).normal(size=(4, 5))
    torch.testing.assert_close(model.predict(x), model.predict(x.tolist()))


# ----------------------------------------------------------------- copy_params (docs/seed.md#copying-parameters)


def test_copy_params_from_nn_linear_transposes_weight():
    layer = torch.nn.Linear(5, 3, dtype=torch.float64)
    model = _model()
    model.copy_params(layer)
    assert torch.equal(model.w, layer.weight.detach().T) and torch.equal(model.b, layer.bias)
    x = torch.randn(7, 5, dtype=torch.float64)
    torch.testing.assert_close(model.predict(x), torch.softmax(layer(x), 1).detach())


def test_copy_params_from_models():
    src = _model(seed=9)
    model = _model()
    model.copy_params(src)
    assert torch.equal(model.w, src.w) and model.w is not src.w
    ref = sl.TorchSoftmax(5, 3, device="cpu", seed=1)
    model.copy_params(ref)
    assert torch.equal(model.w, ref.layer.weight.detach().T)


def test_copy_params_converts_dtype():
    layer = torch.nn.Linear(5, 3)  # float32
    model = _model()
    model.copy_params(layer)
    assert model.w.dtype == torch.float64
    assert torch.equal(model.w, layer.weight.detach().T.double())


# ----------------------------------------------------------------- numerics


def _far_apart_problem(dtype):
    # logits near ±1000 after one look at the data: the true class has probability 0
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    y = torch.eye(2, dtype=dtype)
    model = sl.SoftmaxClassifier(2, 2, device="cpu", dtype=dtype, seed=0)
    model.w.copy_(torch.tensor([[-1000.0, 1000.0], [1000.0, -1000.0]]))
    model.b.zero_()
    return model, x, y


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_evaluate_stays_finite_for_logits_near_1000(dtype):
    model, x, y = _far_apart_problem(dtype)
    assert model.evaluate(x, y) == pytest.approx(2000.0)
    literal = F.cross_entropy_from_probs(y, model.predict(x))
    assert not torch.isfinite(literal)  # the seed's formula gives inf here


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_chain_training_stops_with_numeric_error_not_nan(dtype, capsys):
    model, x, y = _far_apart_problem(dtype)
    w0, b0 = model.w.clone(), model.b.clone()
    with pytest.raises(sl.NumericalError, match=r"epoch 0, batch 0: .*gradient='fused'"):
        model.fit(x, y, 3, 0.1, 2)
    assert torch.equal(model.w, w0) and torch.equal(model.b, b0)
    assert "nan" not in capsys.readouterr().out


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_trains_through_logits_near_1000(dtype):
    model, x, y = _far_apart_problem(dtype)
    model = sl.SoftmaxClassifier(2, 2, device="cpu", dtype=dtype, gradient="fused", seed=0)
    model.w.copy_(torch.tensor([[-1000.0, 1000.0], [1000.0, -1000.0]]))
    model.b.zero_()
    history = model.fit(x, y, 3, 10.0, 2, x, y, verbose=False)
    assert all(np.isfinite(r.ce) and np.isfinite(r.ce_valid) for r in history)
    assert history[-1].ce < history[0].ce
    assert torch.isfinite(model.w).all()


# ----------------------------------------------------------------- bad input


def _unchanged(model, w0, b0):
    return torch.equal(model.w, w0) and torch.equal(model.b, b0)


def test_constructor_errors_name_the_argument():
    cases = [
        (lambda: sl.SoftmaxClassifier(0, 3), "n_features: must be a positive integer"),
        (lambda: sl.SoftmaxClassifier(5, 1), "n_classes: needs at least 2 classes"),
        (lambda: sl.SoftmaxClassifier(5.5, 3), "n_features: expected a positive integer"),
        (lambda: sl.SoftmaxClassifier(5, 3, dtype=torch.int64), "dtype: expected float64"),
        (lambda: sl.SoftmaxClassifier(5, 3, device="tpu9"), "device: not a device"),
        (lambda: sl.SoftmaxClassifier(5, 3, seed="x"), "seed: expected an integer"),
        (lambda: sl.SoftmaxClassifier(5, 3, gradient="sgd"), "gradient: unknown formulation"),
    ]
    for make, message in cases:
        with pytest.raises(sl.SoftmaxlabError, match=message):
            make()


def test_fit_bad_input_is_refused_and_leaves_parameters_untouched(seed_data):
    d = seed_data
    x, y, xv, yv = d.x_train, d.y_train, d.x_valid, d.y_valid
    nan_x = x.clone()
    nan_x[3, 1] = float("nan")
    inf_xv = xv.clone()
    inf_xv[0, 0] = float("inf")
    not_one_hot = y.clone()
    not_one_hot[5] = torch.tensor([0.5, 0.5, 0.0])
    ragged = [[1.0, 2.0, 3.0, 4.0, 5.0]] * 3 + [[1.0, 2.0]]
    cases = [
        ((nan_x, y, 2, 0.1, 10), {}, "x_train: contains NaN or infinite values \\(first at row 3"),
        ((x[:, :4], y, 2, 0.1, 10), {}, "x_train: expected 5 features, got 4"),
        ((x[None], y, 2, 0.1, 10), {}, "x_train: expected a 2-D matrix"),
        ((ragged, y[:4], 2, 0.1, 10), {}, "x_train: rows have different lengths"),
        ((x, y[:50], 2, 0.1, 10), {}, "y_train: has 50 rows but the inputs have 100"),
        ((x, not_one_hot, 2, 0.1, 10), {}, "y_train: targets must be one-hot.*row 5"),
        ((x, y[:, :2], 2, 0.1, 10), {}, "y_train: expected 3 classes, got 2"),
        ((x[:0], y[:0], 2, 0.1, 10), {}, "x_train: is empty"),
        ((x, y, 0, 0.1, 10), {}, "epochs: must be a positive integer, got 0"),
        ((x, y, 2, -0.1, 10), {}, "lr: must be a finite number > 0"),
        ((x, y, 2, float("nan"), 10), {}, "lr: must be a finite number > 0"),
        ((x, y, 2, 0.1, 0), {}, "batch_size: must be a positive integer"),
        ((x, y, 2, 0.1, 2.5), {}, "batch_size: expected a positive integer"),
        ((x, y, 2, 0.1, 10, inf_xv, yv), {}, "x_valid: contains NaN"),
        ((x, y, 2, 0.1, 10, xv), {}, "y_valid: must be given together with x_valid"),
        ((x, y, 2, 0.1, 10), {"verbose": "yes"}, "verbose: expected True or False"),
        (([["a"] * 5] * 4, y[:4], 2, 0.1, 10), {}, "x_train: values must be numeric"),
    ]
    for name in ("chain", "fused"):
        model = _model(gradient=name)
        w0, b0 = model.w.clone(), model.b.clone()
        for args, kwargs, message in cases:
            with pytest.raises(sl.SoftmaxlabError, match=message):
                model.fit(*args, **kwargs)
            assert _unchanged(model, w0, b0), message


def test_update_bad_input_leaves_parameters_untouched():
    x, y, _, _ = random_problem(6, 5, 3, seed=2)
    model = _model()
    w0, b0 = model.w.clone(), model.b.clone()
    y_hat = model.predict(x)
    cases = [
        ((x, y, y_hat, 0.0), "lr: must be a finite number > 0"),
        ((x, y, y_hat[:3], 0.1), "y_pred: has 3 rows but x has 6"),
        ((x, y, y_hat[:, :2], 0.1), "y_pred: expected 3 classes"),
        ((x, y[:, [0, 0, 1]], y_hat, 0.1), "y_true: targets must be one-hot"),
    ]
    for args, message in cases:
        with pytest.raises(sl.SoftmaxlabError, match=message):
            model.update(*args)
        assert _unchanged(model, w0, b0)


def test_jacobian_model_refuses_too_large_batch_before_training(seed_data):
    d = seed_data
    model = _model(gradient="jacobian")
    w0, b0 = model.w.clone(), model.b.clone()
    before = G.get_memory_budget()
    try:
        G.set_memory_budget(10_000)
        with pytest.raises(sl.JacobianTooLargeError, match="batch_size"):
            model.fit(d.x_train, d.y_train, 2, 0.1, 33)
    finally:
        G.set_memory_budget(before)
    assert _unchanged(model, w0, b0)


def test_copy_params_bad_sources_leave_parameters_untouched():
    model = _model()
    w0, b0 = model.w.clone(), model.b.clone()
    nan_layer = torch.nn.Linear(5, 3, dtype=torch.float64)
    with torch.no_grad():
        nan_layer.weight[0, 0] = float("nan")
    cases = [
        (torch.nn.Linear(4, 3), r"source: has W \(4, 3\).*needs W \(5, 3\)"),
        (torch.nn.Linear(5, 3, bias=False), "source: the nn.Linear has no bias"),
        (nan_layer, "source weights: contains NaN"),
        ("weights.bin", "source: expected a torch.nn.Linear"),
        (sl.SoftmaxClassifier(5, 4, device="cpu"), "source: has W"),
    ]
    for source, message in cases:
        with pytest.raises(sl.SoftmaxlabError, match=message):
            model.copy_params(source)
        assert _unchanged(model, w0, b0)


def test_predict_and_evaluate_bad_input():
    model = _model()
    with pytest.raises(sl.InvalidInputError, match="x: expected 5 features, got 6"):
        model.predict(torch.zeros(2, 6))
    with pytest.raises(sl.InvalidTypeError, match="x: expected a tensor"):
        model.predict("data.csv")
    with pytest.raises(sl.InvalidInputError, match="y_true: has 1 rows but the inputs have 2"):
        model.evaluate(torch.zeros(2, 5), torch.eye(3)[:1])
    with pytest.raises(sl.InvalidInputError, match="y_pred: has 2 rows but y_true has 3"):
        model.accuracy(torch.eye(3), torch.eye(3)[:2])
