"""DispatchMode: the one hook into every op (profiler, capture, vmap build on it)."""

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.tensor import DispatchMode, active_modes


class Log(DispatchMode):
    def __init__(self, tag, log):
        self.tag, self.log = tag, log

    def dispatch(self, op, args, params, run):
        self.log.append((self.tag, op.__name__))
        return run(args, params)


def test_mode_sees_each_op_and_result_is_unchanged():
    log = []
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    with Log("a", log):
        y = (x * 2).exp().sum()
    assert [name for _, name in log] == ["Mul", "Exp", "Sum"]
    np.testing.assert_allclose(y.item(), np.exp([2.0, 4.0]).sum(), rtol=1e-6)
    y.backward()  # the graph recorded under the mode is a normal graph
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([2.0, 4.0]), rtol=1e-6)
    assert active_modes() == ()


def test_modes_nest_inner_first_and_are_inactive_while_handling():
    log = []

    class Doubler(DispatchMode):
        def dispatch(self, op, args, params, run):
            out = run(args, params)
            assert active_modes() == (outer,)  # self is inactive here
            return out * 1  # an op run by the mode goes only to the modes outside it

    outer = Log("outer", log)
    with outer, Doubler():
        tt.tensor([1.0]).neg()
    assert log == [("outer", "Neg"), ("outer", "Mul")]


def test_mode_may_replace_the_call():
    class AddOne(DispatchMode):
        def dispatch(self, op, args, params, run):
            return run(args, params) + 1 if op.__name__ == "Neg" else run(args, params)

    with AddOne():
        y = tt.tensor([3.0]).neg()
    assert y.item() == -2.0


def test_error_inside_block_leaves_no_mode_behind():
    with pytest.raises(ValueError):
        with Log("a", []):
            raise ValueError("boom")
    assert active_modes() == ()


def test_exit_of_inactive_mode_is_an_error():
    m = Log("a", [])
    with pytest.raises(RuntimeError, match="not active"):
        m.__exit__(None, None, None)


def test_order_statistics_and_their_indices_run_through_ops():
    """The ops that find indices from values (sort order, running and pooled maxima, the
    median's place, slogdet's sign, nonzero) run through Function.apply, so a mode sees them."""
    F = tt.nn.functional
    x = tt.tensor(np.random.default_rng(0).normal(size=(2, 3, 4)))
    calls = {
        "sort": (lambda: tt.sort(x, 1), "IndicesAlong"), "topk": (lambda: tt.topk(x, 2), "IndicesAlong"),
        "median": (lambda: tt.median(x, 0), "IndicesAlong"), "cummax": (lambda: tt.cummax(x, 2), "IndicesAlong"),
        "max": (lambda: tt.max(x, 1), "ReducedConstant"), "slogdet": (lambda: tt.linalg.slogdet(x[:, :, :3]),
                                                                    "SlogdetSign"),
        "nonzero": (lambda: tt.nonzero(x > 0), "Nonzero"),
        "max_pool2d": (lambda: F.max_pool2d(x, 2, return_indices=True), "MaxPoolIndices"),
        "max_unpool2d": (lambda: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2), "Unpool"),
    }
    for name, (call, op) in calls.items():
        log = []
        with Log("m", log):
            call()
        assert op in [n for _, n in log], name
