"""Parity with the references on real training runs (docs/seed.md#references, #copying-parameters, #the-comparison)."""

from __future__ import annotations

import pytest
import torch

import softmaxlab as sl
from softmaxlab import gradients as G
from softmaxlab.model import linear_params
from tests.helpers import requires_keras

PARITY = 1e-10  # MAPE, float64


def assert_trains_to_reference(name, seed_data, reference_run):
    """Start softmaxlab (formulation ``name``) from the reference's initial parameters,
    train the seed run, and require the reference's parameters, predictions and log."""
    ref, (w0, b0), ref_history = reference_run
    d = seed_data
    model = sl.SoftmaxClassifier(5, 3, gradient=name, device="cpu", seed=123)
    model.w.copy_(w0)
    model.b.copy_(b0)
    history = model.fit(d.x_train, d.y_train, 16, 0.01, 33, d.x_valid, d.y_valid, verbose=False)
    w_ref, b_ref = linear_params(ref)
    assert sl.mape(model.w, w_ref) < PARITY
    assert sl.mape(model.b, b_ref) < PARITY
    assert sl.mape(model.predict(d.x_valid), ref.predict(d.x_valid)) < PARITY
    assert [r.line() for r in history] == [r.line() for r in ref_history]


@pytest.mark.parametrize("name", G.names())
def test_every_formulation_trains_the_seed_run_to_torch_parameters(name, seed_data, seed_torch_run):
    assert_trains_to_reference(name, seed_data, seed_torch_run)


def test_torch_reference_is_the_seed_nn_model(seed_data):
    ref = sl.TorchSoftmax(5, 3, seed=0, device="cpu")
    assert isinstance(ref.layer, torch.nn.Linear) and isinstance(
        ref.loss, torch.nn.CrossEntropyLoss
    )
    x = seed_data.x_valid[:10]
    torch.testing.assert_close(ref.predict(x), torch.softmax(ref.layer(x), 1).detach())
    again = sl.TorchSoftmax(5, 3, seed=0, device="cpu")
    assert torch.equal(again.layer.weight, ref.layer.weight)


def test_torch_reference_seed_does_not_touch_global_rng():
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    sl.TorchSoftmax(5, 3, seed=0, device="cpu")
    assert torch.equal(torch.rand(3), expected)


def test_torch_reference_rejects_bad_input(seed_data):
    ref = sl.TorchSoftmax(5, 3, seed=0, device="cpu")
    w0 = ref.layer.weight.detach().clone()
    with pytest.raises(sl.InvalidInputError, match="x_train: expected 5 features"):
        ref.fit(seed_data.x_train[:, :3], seed_data.y_train, 1, 0.01, 33)
    with pytest.raises(sl.InvalidInputError, match="lr: must be a finite number > 0"):
        ref.fit(seed_data.x_train, seed_data.y_train, 1, -1.0, 33)
    assert torch.equal(ref.layer.weight, w0)
    with pytest.raises(sl.InvalidInputError, match="n_classes: needs at least 2"):
        sl.TorchSoftmax(5, 1)


def test_compare_without_keras_when_asked_for_torch_only(seed_data):
    result = sl.compare(
        sl.CompareConfig(references=("torch",), gradients=("chain", "fused"), device="cpu")
    )
    assert result.ok
    assert {c.reference for c in result.checks} == {"torch"}
    assert result.value("predictions before copy", "torch", "chain") > 1e-2
    assert result.value("predictions after copy", "torch", "chain") < PARITY


def test_compare_reports_failure_when_tolerance_cannot_be_met():
    result = sl.compare(
        sl.CompareConfig(
            references=("torch",), gradients=("chain",), device="cpu", tolerance=1e-300, epochs=2
        )
    )
    assert not result.ok and result.failures
    assert all(c.required and not c.mape < 1e-300 for c in result.failures)


# ----------------------------------------------------------------- Keras


@pytest.fixture(scope="module")
def keras_run(seed_data):
    ref = sl.KerasSoftmax(5, 3, seed=0)
    start = tuple(t.clone() for t in linear_params(ref))
    d = seed_data
    history = ref.fit(d.x_train, d.y_train, 16, 0.01, 33, d.x_valid, d.y_valid, verbose=False)
    return ref, start, history


@requires_keras
@pytest.mark.parametrize("name", G.names())
def test_every_formulation_trains_the_seed_run_to_keras_parameters(name, seed_data, keras_run):
    assert_trains_to_reference(name, seed_data, keras_run)


@requires_keras
def test_keras_reference_is_float64_and_does_not_change_floatx(keras_run):
    import keras

    ref = keras_run[0]
    assert keras.config.floatx() == "float32"
    assert ref.dense.kernel.dtype == "float64"
    assert ref.model.optimizer.learning_rate.dtype == "float64"


@requires_keras
def test_copy_params_from_keras_dense_and_model(seed_data):
    ref = sl.KerasSoftmax(5, 3, seed=4)
    kernel = torch.from_numpy(ref.dense.kernel.numpy())
    for source in (ref.dense, ref.model, ref):
        model = sl.SoftmaxClassifier(5, 3, device="cpu", seed=0)
        model.copy_params(source)
        assert torch.equal(model.w, kernel)
        assert sl.mape(model.predict(seed_data.x_valid), ref.predict(seed_data.x_valid)) < 1e-14
        assert (
            sl.mape(
                model.evaluate(seed_data.x_valid, seed_data.y_valid),
                ref.evaluate(seed_data.x_valid, seed_data.y_valid),
            )
            < 1e-14
        )


@requires_keras
def test_copy_params_from_keras_model_with_two_dense_layers_is_refused():
    import keras

    two = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), keras.layers.Dense(3)])
    model = sl.SoftmaxClassifier(5, 3, device="cpu", seed=0)
    w0 = model.w.clone()
    with pytest.raises(sl.InvalidInputError, match="exactly one Dense layer, it holds 2"):
        model.copy_params(two)
    assert torch.equal(model.w, w0)


@requires_keras
def test_keras_reference_rejects_bad_input(seed_data):
    ref = sl.KerasSoftmax(5, 3, seed=0)
    with pytest.raises(sl.InvalidInputError, match="y_train: targets must be one-hot"):
        ref.fit(seed_data.x_train, seed_data.y_train * 3, 1, 0.01, 33)
    with pytest.raises(sl.InvalidInputError, match="batch_size: must be a positive integer"):
        ref.fit(seed_data.x_train, seed_data.y_train, 1, 0.01, -4)


def test_missing_keras_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tf(name, *args, **kwargs):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tf)
    with pytest.raises(sl.MissingDependencyError, match=r"pip install 'softmaxlab\[keras\]'"):
        sl.KerasSoftmax(5, 3)
