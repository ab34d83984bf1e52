"""The Module API around layers, against PyTorch: forward (pre-)hooks, full backward hooks,
removable handles, submodule/parameter/buffer lookup, module walks, buffers and gradients."""

import warnings

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt

pytestmark = needs_torch


def _np(values):
    """Hook arguments as comparable nested lists (None kept)."""
    return [None if v is None else np.round(v.detach().numpy(), 10).tolist() for v in values]


class _TwoInputs:
    """A module with two tensor inputs and a scalar between them, built in either library."""

    @staticmethod
    def make(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib.nn.Linear(3, 2)

            def forward(self, a, k, b):
                return self.lin(a) * b.sum() + k, self.lin(b)

        net = Net()
        weights = {"lin.weight": [[1.0, 2, 3], [4, 5, 6]], "lin.bias": [0.5, -1]}
        net.load_state_dict({k: lib.tensor(v) for k, v in weights.items()})
        return net.double() if lib is torch else net.to(tt.float64)


def _run_hooked(lib, device, modify):
    net = _TwoInputs.make(lib)
    if lib is tt:
        net = net.to(device)
    log = []

    def hook(module, grad_input, grad_output):
        log.append(("net", _np(grad_input), _np(grad_output)))
        if modify:
            return tuple(None if g is None else g * 3 for g in grad_input)

    net.register_full_backward_hook(hook)
    net.lin.register_full_backward_hook(lambda m, gi, go: log.append(("lin", len(gi), len(go))))
    kw = dict(device=device) if lib is tt else {}
    a = lib.tensor([[1.0, 2, 3]], dtype=lib.float64, requires_grad=True, **kw)
    b = lib.tensor([[0.5, -1, 2], [1, 1, 1]], dtype=lib.float64, requires_grad=True, **kw)
    out1, out2 = net(a, 3.0, b)
    (out1.sum() * 2 + (out2 * out2).sum()).backward()
    return log, a.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("modify", [False, True])
def test_full_backward_hook_sees_and_replaces_grad_input_as_torch(modify, device):
    ours, theirs = _run_hooked(tt, device, modify), _run_hooked(torch, None, modify)
    assert [e for e in ours[0] if e[0] == "net"] == [e for e in theirs[0] if e[0] == "net"]
    assert sorted(e for e in ours[0] if e[0] == "lin") == sorted(e for e in theirs[0] if e[0] == "lin")
    np.testing.assert_allclose(ours[1], theirs[1])
    np.testing.assert_allclose(ours[2], theirs[2])


def test_full_backward_hook_on_a_layer_whose_input_needs_no_grad(device):
    logs = []
    for lib in (tt, torch):
        lin = lib.nn.Linear(3, 2)
        lin.load_state_dict({"weight": lib.tensor([[1.0, 2, 3], [4, 5, 6]]), "bias": lib.tensor([0.5, -1.0])})
        log = []
        lin.register_full_backward_hook(lambda m, gi, go, log=log: log.append((gi, _np(go))))
        x = lib.tensor([[1.0, 2, 3]])
        with pytest.warns(UserWarning, match="no inputs require gradients"):
            (lin(x) * lib.tensor([[2.0, 5.0]])).sum().backward()
        logs.append(log)
    assert logs[0] == logs[1] == [((None,), [[[2.0, 5.0]]])]


def test_backward_hook_handle_removes_it():
    lin = tt.nn.Linear(2, 2)
    calls = []
    handle = lin.register_full_backward_hook(lambda *a: calls.append(1))
    x = tt.randn(1, 2, requires_grad=True)
    lin(x).sum().backward()
    handle.remove()
    lin(x).sum().backward()
    assert calls == [1]


def _hooked_linear_run(lib):
    lin = lib.nn.Linear(2, 2, bias=False)
    lin.load_state_dict({"weight": lib.tensor([[1.0, 2.0], [3.0, 4.0]])})
    order = []
    lin.register_forward_pre_hook(lambda m, args: order.append("pre1") or (args[0] * 2,))
    lin.register_forward_pre_hook(lambda m, args: order.append("pre0"), prepend=True)
    lin.register_forward_pre_hook(lambda m, args: args[0] + 1)  # a bare tensor is wrapped in a tuple
    lin.register_forward_hook(lambda m, args, out: order.append(("fwd", args[0].tolist())) or out * 10)
    lin.register_forward_hook(lambda m, args, out: order.append(("fwd2", out.tolist())))
    h = lin.register_forward_hook(lambda m, args, kwargs, out: order.append(("kw", sorted(kwargs))),
                                  with_kwargs=True)
    out = lin(lib.tensor([[1.0, -1.0]]))
    h.remove()
    lin(lib.tensor([[0.0, 0.0]]))
    return out.tolist(), order


def test_forward_pre_hooks_and_forward_hooks_as_torch():
    assert _hooked_linear_run(tt) == _hooked_linear_run(torch)


def test_forward_pre_hook_with_kwargs_replaces_args_and_kwargs():
    for lib in (tt, torch):
        class Scale(lib.nn.Module):
            def forward(self, x, factor=1.0):
                return x * factor

        m = Scale()
        m.register_forward_pre_hook(lambda mod, args, kwargs: ((args[0] + 1,), {"factor": 3.0}), with_kwargs=True)
        assert m(lib.tensor([1.0]), factor=2.0).tolist() == [6.0]
        m2 = Scale()
        m2.register_forward_pre_hook(lambda mod, args, kwargs: 5, with_kwargs=True)
        with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
            m2(lib.tensor([1.0]))


def test_forward_hook_always_call_runs_when_forward_raises():
    for lib in (tt, torch):
        class Boom(lib.nn.Module):
            def forward(self, x):
                raise ValueError("boom")

        m, seen = Boom(), []
        m.register_forward_hook(lambda mod, args, out, seen=seen: seen.append(out), always_call=True)
        m.register_forward_hook(lambda mod, args, out, seen=seen: seen.append("never"))
        with pytest.raises(ValueError, match="boom"):
            m(lib.tensor([1.0]))
        assert seen == [None]


def test_handle_as_context_manager():
    lin, seen = tt.nn.Linear(2, 2), []
    with lin.register_forward_hook(lambda *a: seen.append(1)):
        lin(tt.zeros(1, 2))
    lin(tt.zeros(1, 2))
    assert seen == [1] and not lin._forward_hooks


def _model(lib):
    shared = lib.nn.Linear(2, 2)
    model = lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.BatchNorm1d(2), shared, lib.nn.Sequential(shared))
    model.register_buffer("scale", lib.ones(2))
    model.register_buffer("cache", lib.zeros(1), persistent=False)
    return model


def test_module_walks_and_lookups_as_torch():
    ours, theirs = _model(tt), _model(torch)
    for remove_duplicate in (True, False):
        assert [n for n, _ in ours.named_modules(remove_duplicate=remove_duplicate)] == \
            [n for n, _ in theirs.named_modules(remove_duplicate=remove_duplicate)]
        assert [n for n, _ in ours.named_parameters(remove_duplicate=remove_duplicate)] == \
            [n for n, _ in theirs.named_parameters(remove_duplicate=remove_duplicate)]
        assert [n for n, _ in ours.named_buffers(remove_duplicate=remove_duplicate)] == \
            [n for n, _ in theirs.named_buffers(remove_duplicate=remove_duplicate)]
    assert [n for n, _ in ours.named_buffers(prefix="m", recurse=False)] == \
        [n for n, _ in theirs.named_buffers(prefix="m", recurse=False)]
    assert list(ours.state_dict()) == list(theirs.state_dict())          # "cache" is not persistent
    assert ours.get_submodule("3.0") is ours[2]
    assert ours.get_submodule("") is ours
    assert ours.get_parameter("1.weight") is ours[1].weight
    assert ours.get_buffer("1.running_mean") is ours[1].running_mean
    assert ours.get_buffer("cache") is ours.cache
    for name, getter in (("3.9", "get_submodule"), ("0.weight.x", "get_submodule"), ("0.nothing", "get_parameter"),
                         ("1.running_mean", "get_parameter"), ("1.weight", "get_buffer")):
        with pytest.raises(AttributeError):
            getattr(theirs, getter)(name)
        with pytest.raises(AttributeError):
            getattr(ours, getter)(name)


def test_apply_requires_grad_and_zero_grad():
    model, names, ref_names = _model(tt), [], []
    assert model.apply(lambda m: names.append(type(m).__name__)) is model
    _model(torch).apply(lambda m: ref_names.append(type(m).__name__))
    assert names == ref_names
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    model[1].eval()
    model(tt.randn(4, 3)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_extra_repr_is_printed_as_torch():
    class Scaled(tt.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = tt.nn.Linear(2, 3)

        def extra_repr(self):
            return "factor=2"

    class ScaledRef(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = torch.nn.Linear(2, 3)

        def extra_repr(self):
            return "factor=2"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert repr(Scaled()) == repr(ScaledRef()).replace("ScaledRef", "Scaled")


def _pre_hooked_run(lib):
    lin = lib.nn.Linear(2, 2)
    lin.load_state_dict({"weight": lib.tensor([[1.0, 2.0], [3.0, 4.0]]), "bias": lib.tensor([0.0, 1.0])})
    seen = []
    lin.register_full_backward_pre_hook(lambda m, go: seen.append(_np(go)) or (go[0] * 10,))
    lin.register_full_backward_hook(lambda m, gi, go: seen.append((_np(gi), _np(go))))
    x = lib.tensor([[1.0, -1.0]], requires_grad=True)
    (lin(x) * lib.tensor([[1.0, 2.0]])).sum().backward()
    return seen, x.grad.tolist(), lin.weight.grad.tolist()


def test_full_backward_pre_hook_replaces_grad_output_as_torch():
    assert _pre_hooked_run(tt) == _pre_hooked_run(torch)


def test_full_backward_pre_hook_needs_a_single_output():
    class Two(tt.nn.Module):
        def forward(self, x):
            return x * 2, x * 3

    m = Two()
    m.register_full_backward_pre_hook(lambda mod, go: None)
    with pytest.raises(NotImplementedError, match="one output"):
        m(tt.ones(2, requires_grad=True))
