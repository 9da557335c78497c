"""The fast path (gradient="fused" in SoftmaxClassifier.fit) equals the chain rule."""

from __future__ import annotations

import pytest
import torch

import softmaxlab as sl
from softmaxlab.fast import FusedTrainer


def _fit(name, data, **kw):
    model = sl.SoftmaxClassifier(data.n_features, data.n_classes, gradient=name, seed=4,
                                 device="cpu", **kw)
    history = model.fit(data.x_train, data.y_train, 16, 0.05, 33, data.x_valid, data.y_valid,
                        verbose=False)
    return model, history


def test_fast_path_gives_the_chain_rule_parameters_and_log(seed_data):
    fast, h_fast = _fit("fused", seed_data)
    slow, h_slow = _fit("chain", seed_data)
    assert sl.mape(fast.w, slow.w) < 1e-12 and sl.mape(fast.b, slow.b) < 1e-12
    assert [r.line() for r in h_fast] == [r.line() for r in h_slow]
    for a, b in zip(h_fast, h_slow, strict=True):
        assert a.ce == pytest.approx(b.ce, rel=1e-12)
        assert a.ce_valid == pytest.approx(b.ce_valid, rel=1e-12)


def test_fast_path_keeps_the_parameter_tensors(seed_data):
    model = sl.SoftmaxClassifier(5, 3, gradient="fused", seed=0, device="cpu")
    w, b = model.w, model.b
    model.fit(seed_data.x_train, seed_data.y_train, 2, 0.1, 33, verbose=False)
    assert model.w is w and model.b is b and not torch.equal(w, w.new_zeros(w.shape))


def test_batch_losses_are_the_losses_before_each_step():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 3, generator=g, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.randint(0, 4, (10,), generator=g), 4).double()
    w_t, b = torch.randn(4, 3, dtype=torch.float64, generator=g), torch.zeros(4).double()
    model = sl.SoftmaxClassifier(3, 4, gradient="chain", device="cpu", seed=0)
    model.w.copy_(w_t.T)
    model.b.copy_(b)
    expected = []
    for s in range(0, 10, 4):  # batches of 4, 4, 2
        xb, yb = x[s:s + 4], y[s:s + 4]
        expected.append(model.evaluate(xb, yb))
        model.update(xb, yb, model.predict(xb), 0.3)
    trainer = FusedTrainer(x, y, 4, w_t.T, b)
    losses = trainer.epoch(0.3)
    torch.testing.assert_close(losses, torch.tensor(expected, dtype=torch.float64))
    w, b_out = torch.empty(3, 4, dtype=torch.float64), torch.empty(4, dtype=torch.float64)
    trainer.write_back(w, b_out)
    torch.testing.assert_close(w, model.w)
    torch.testing.assert_close(b_out, model.b)


def test_fast_path_in_float32(seed_data):
    fast, _ = _fit("fused", seed_data, dtype="float32")
    slow, _ = _fit("chain", seed_data, dtype="float32")
    assert fast.w.dtype == torch.float32
    assert sl.mape(fast.w, slow.w) < 1e-5


def test_losses_stay_finite_when_a_probability_underflows():
    # logits 2000 apart: ŷ_true = 0, so -log ŷ is inf; the stable fallback gives 2000
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    y = torch.eye(2, dtype=torch.float64)
    w = torch.tensor([[-1000.0, 1000.0], [1000.0, -1000.0]], dtype=torch.float64)
    trainer = FusedTrainer(x, y, 2, w, torch.zeros(2, dtype=torch.float64))
    losses = trainer.epoch(1e-3)
    assert losses.tolist() == pytest.approx([2000.0])
