"""The data-parallel step of the engine (softmaxlab.fast.comm), with ranks as threads.

Each rank is a thread running the very fit of one process inside ``data_parallel``; their
``all_reduce`` meets at a barrier. No processes, so every option of the estimator is
checked against one process in a second (tests/distributed/test_distributed.py does the same with
real torch.distributed processes)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

import softmaxlab as sl
from softmaxlab.fast.comm import Comm, agree, current, data_parallel, is_main


class ThreadGroup:
    """``world`` threads that all-reduce and broadcast through a barrier."""

    def __init__(self, world: int) -> None:
        self.world = world
        self.barrier = threading.Barrier(world, timeout=60)
        self.slots: list = [None] * world

    def comm(self, rank: int) -> Comm:
        def all_reduce(t: torch.Tensor) -> None:
            self.slots[rank] = t.clone()
            self.barrier.wait()
            total = self.slots[0].clone()
            for other in self.slots[1:]:
                total += other
            self.barrier.wait()
            t.copy_(total)

        def broadcast(obj):
            if rank == 0:
                self.slots[0] = obj
            self.barrier.wait()
            value = self.slots[0]
            self.barrier.wait()
            return value

        return Comm(rank, self.world, all_reduce, broadcast)

    def run(self, body):
        """``body(rank)`` on every rank inside its data-parallel context; the results."""
        results: list = [None] * self.world
        errors: list = []

        def target(rank: int) -> None:
            try:
                with data_parallel(self.comm(rank)):
                    results[rank] = body(rank)
            except BaseException as exc:  # surfaced in the test thread
                errors.append(exc)
                self.barrier.abort()

        threads = [threading.Thread(target=target, args=(r,)) for r in range(self.world)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results


@pytest.fixture(scope="module")
def wine():
    x, y = load_wine(return_X_y=True)
    return (
        StandardScaler().fit_transform(x)[:150],
        y[:150],
        StandardScaler().fit_transform(x)[150:],
        y[150:],
    )


OPTION_SETS = {
    "plain, in order": dict(shuffle=False, tol=None, max_epochs=6, batch_size=32),
    "every SGD option": dict(
        momentum=0.9,
        nesterov=True,
        alpha=1e-3,
        class_weight="balanced",
        schedule="invscaling",
        batch_size=17,
        max_epochs=8,
        tol=None,
    ),
    "early stopping, adaptive": dict(
        early_stopping=True, schedule="adaptive", n_iter_no_change=2, batch_size=10, max_epochs=200
    ),
}


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("options", OPTION_SETS.values(), ids=OPTION_SETS.keys())
def test_estimator_on_ranks_equals_one_process(wine, options, world):
    x, y, _, _ = wine
    weight = np.linspace(0.5, 2.0, len(y))
    single = sl.SoftmaxRegression(random_state=4, **options).fit(x, y, weight)

    def fit(rank):
        return sl.SoftmaxRegression(random_state=4, **options).fit(x, y, weight)

    for est in ThreadGroup(world).run(fit):
        np.testing.assert_allclose(est.coef_, single.coef_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(est.intercept_, single.intercept_, rtol=0, atol=1e-10)
        assert est.n_iter_ == single.n_iter_ and est.stop_reason_ == single.stop_reason_
        np.testing.assert_allclose(est.loss_curve_, single.loss_curve_, rtol=1e-12)


def test_eval_set_is_reported_on_every_rank(wine):
    x, y, xv, yv = wine
    single = sl.SoftmaxRegression(max_epochs=4, tol=None, random_state=0).fit(
        x, y, eval_set=(xv, yv)
    )
    ranks = ThreadGroup(2).run(
        lambda r: sl.SoftmaxRegression(max_epochs=4, tol=None, random_state=0).fit(
            x, y, eval_set=(xv, yv)
        )
    )
    for est in ranks:
        np.testing.assert_allclose(
            est.history_["validation_loss"], single.history_["validation_loss"], rtol=1e-12
        )
        assert est.history_["validation_score"] == single.history_["validation_score"]


def test_lbfgs_full_passes_are_split_and_reduced(wine):
    x, y, _, _ = wine
    options = dict(solver="lbfgs", alpha=1e-2, tol=1e-10, max_epochs=500)
    single = sl.SoftmaxRegression(**options).fit(x, y)
    for est in ThreadGroup(2).run(lambda r: sl.SoftmaxRegression(**options).fit(x, y)):
        assert est.stop_reason_ == "converged"
        np.testing.assert_allclose(est.coef_, single.coef_, rtol=0, atol=1e-6)
        assert est.grad_norm_ == pytest.approx(single.grad_norm_, abs=1e-8)


def test_classifier_fit_on_uneven_shards_equals_one_process():
    d = sl.make_dataset(203, 5, 3, train_rows=150, seed=2, device="cpu")
    single = sl.SoftmaxClassifier(5, 3, gradient="fused", seed=1, device="cpu")
    h1 = single.fit(d.x_train, d.y_train, 3, 0.1, 16, d.x_valid, d.y_valid, verbose=False)

    def fit(rank):
        m = sl.SoftmaxClassifier(5, 3, gradient="fused", seed=1, device="cpu")
        return m, m.fit(d.x_train, d.y_train, 3, 0.1, 16, d.x_valid, d.y_valid, verbose=False)

    for m, h in ThreadGroup(3).run(fit):  # 16-row batches on 3 ranks: 5, 5, 6 rows
        torch.testing.assert_close(m.w, single.w, rtol=0, atol=1e-12)
        assert [r.line() for r in h] == [r.line() for r in h1]


def test_checkpoints_are_written_by_rank_zero_and_read_for_everyone(wine, tmp_path):
    x, y, _, _ = wine
    ck = tmp_path / "run.ckpt"
    options = dict(max_epochs=6, tol=None, momentum=0.5, random_state=1)
    single = sl.SoftmaxRegression(**options).fit(x, y)
    sl.SoftmaxRegression(**{**options, "max_epochs": 3}).fit(x, y, checkpoint=ck)

    def resume(rank):  # max_epochs is not part of the fingerprint: resume to 6
        return sl.SoftmaxRegression(**options).fit(x, y, checkpoint=ck, resume=True)

    for est in ThreadGroup(2).run(resume):
        np.testing.assert_allclose(est.coef_, single.coef_, rtol=0, atol=1e-12)


def test_an_error_on_rank_zero_reaches_every_rank():
    def body(rank):
        try:
            agree(lambda: 1 / 0)
        except ZeroDivisionError:
            return "raised"
        return "returned"

    assert ThreadGroup(2).run(body) == ["raised", "raised"]


def test_outside_a_run_nothing_is_shared():
    assert current() is None and is_main() and agree(lambda: 7) == 7


def test_data_parallel_refuses_other_formulations():
    d = sl.make_dataset(40, 3, 2, train_rows=30, seed=0, device="cpu")

    def fit(rank):
        m = sl.SoftmaxClassifier(3, 2, gradient="chain", seed=0, device="cpu")
        m.fit(d.x_train, d.y_train, 1, 0.1, 10, verbose=False)

    with pytest.raises(
        sl.InvalidInputError, match="gradient: data-parallel training uses the fused gradient"
    ):
        ThreadGroup(2).run(fit)
