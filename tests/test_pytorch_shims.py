"""Names a CPU PyTorch program touches on its way to the model: device questions, copies that
are no-ops here, parameters as one vector. Each behaves as PyTorch's on a machine without a GPU."""

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn.utils import parameters_to_vector, vector_to_parameters


def test_to_accepts_non_blocking_and_copies_only_when_asked(device):
    x = tt.ones(3, device=device)
    assert x.to(device, non_blocking=True) is x
    y = x.to(copy=True)
    assert y is not x and y.tolist() == x.tolist()
    y[0] = 5.0
    assert x[0].item() == 1.0  # a real copy
    assert x.to(tt.float64, copy=True).dtype is tt.float64


def test_pin_memory_is_the_tensor_itself():
    x = tt.arange(4)
    assert x.pin_memory() is x


def test_no_mps_backend():
    assert tt.backends.mps.is_available() is False and tt.backends.mps.is_built() is False


def test_parameters_round_trip_through_one_vector(device):
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(device)
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    np.testing.assert_array_equal(vec[:12].detach().numpy(), model[0].weight.detach().numpy().reshape(-1))
    vector_to_parameters(tt.arange(26, dtype=tt.float32, device=device), model.parameters())
    assert model[2].bias.tolist() == [24.0, 25.0] and model[0].weight[1, 0].item() == 3.0
    with pytest.raises(RuntimeError, match=r"shape \[25\], the parameters 26 elements"):
        vector_to_parameters(tt.zeros(25, device=device), model.parameters())


def test_parameters_to_vector_is_differentiable(device):
    w = nn.Parameter(tt.ones(2, 2, device=device))
    (parameters_to_vector([w]) * tt.arange(4, dtype=tt.float32, device=device)).sum().backward()
    assert w.grad.tolist() == [[0.0, 1.0], [2.0, 3.0]]


# --- process settings and dtype facts ---------------------------------------------------------
def test_finfo_and_iinfo_give_the_dtypes_limits():
    f32, f64 = tt.finfo(tt.float32), tt.finfo(tt.float64)
    assert f32.eps == float(np.finfo(np.float32).eps) and f32.bits == 32 and f32.dtype == "float32"
    assert f64.max == float(np.finfo(np.float64).max) and f64.tiny == f64.smallest_normal > 0
    assert tt.finfo().eps == f32.eps  # the default dtype
    assert f32.resolution == 1e-6 and f32.min == -f32.max
    i64 = tt.iinfo(tt.int64)
    assert (i64.min, i64.max, i64.bits) == (-(2**63), 2**63 - 1, 64)
    with pytest.raises(TypeError, match="int64"):
        tt.finfo(tt.int64)
    with pytest.raises(TypeError):
        tt.iinfo(tt.float32)
    with pytest.raises(TypeError):
        tt.iinfo(tt.bool)


def test_the_default_dtype_is_float32_and_says_so_when_asked_to_change():
    assert tt.get_default_dtype() is tt.float32 and tt.tensor([1.5]).dtype is tt.get_default_dtype()
    tt.set_default_dtype(tt.float32)
    with pytest.raises(NotImplementedError, match="float64"):
        tt.set_default_dtype(tt.float64)
    with pytest.raises(TypeError, match="floating-point"):
        tt.set_default_dtype(tt.int64)
    assert tt.tensor([1.5]).dtype is tt.float32


def test_set_printoptions_changes_the_repr():
    x = tt.tensor([1.23456, 2.5])
    try:
        tt.set_printoptions(precision=2)
        assert repr(x) == "tensor([1.23, 2.50])"
        tt.set_printoptions(sci_mode=True)  # precision stays 2
        assert repr(x) == "tensor([1.23e+00, 2.50e+00])"
        tt.set_printoptions(profile="default")
        assert repr(x) == "tensor([1.2346, 2.5000])"
        tt.set_printoptions(threshold=5, edgeitems=1)
        assert repr(tt.arange(10)) == "tensor([0, ..., 9])"
        tt.set_printoptions(profile="full")
        assert "..." not in repr(tt.arange(2000))
        with pytest.raises(ValueError, match="profile"):
            tt.set_printoptions(profile="tiny")
    finally:
        tt.set_printoptions(profile="default")
    assert "..." in repr(tt.arange(2000)) and repr(x) == "tensor([1.2346, 2.5000])"


def test_settings_programs_make_are_recorded():
    assert not tt.are_deterministic_algorithms_enabled()
    try:
        tt.use_deterministic_algorithms(True, warn_only=True)
        assert tt.are_deterministic_algorithms_enabled() and tt.is_deterministic_algorithms_warn_only_enabled()
        with pytest.raises(TypeError):
            tt.use_deterministic_algorithms(1)
    finally:
        tt.use_deterministic_algorithms(False)
    assert tt.get_float32_matmul_precision() == "highest"
    try:
        tt.set_float32_matmul_precision("high")
        assert tt.get_float32_matmul_precision() == "high"
        with pytest.warns(UserWarning, match="no effect"):
            tt.set_float32_matmul_precision("fast")
        assert tt.get_float32_matmul_precision() == "high"
    finally:
        tt.set_float32_matmul_precision("highest")


def test_predicates_and_constants():
    assert tt.is_tensor(tt.ones(1)) and tt.is_tensor(nn.Parameter(tt.ones(1))) and not tt.is_tensor(np.ones(1))
    assert tt.is_floating_point(tt.ones(1)) and not tt.is_floating_point(tt.arange(2))
    assert tt.is_nonzero(tt.tensor([2])) and not tt.is_nonzero(tt.tensor(0.0))
    with pytest.raises(RuntimeError):
        tt.is_nonzero(tt.ones(2))
    assert tt.pi == np.pi and tt.e == np.e and tt.inf == np.inf and np.isnan(tt.nan)
    assert tt.arange(3)[:, tt.newaxis].shape == (3, 1)
    assert tt.float64.is_signed and not tt.bool.is_signed and not tt.float32.is_complex


# --- conversions and mixed precision ----------------------------------------------------------
def test_as_tensor_and_asarray_share_when_they_can():
    x = tt.ones(3, requires_grad=True)
    assert tt.as_tensor(x) is x and tt.asarray(x) is x
    y = tt.as_tensor(x, dtype=tt.float64)
    assert y.dtype is tt.float64 and y.grad_fn is not None  # converted in the graph, as Tensor.to
    assert tt.asarray(x, requires_grad=False).grad_fn is None and not tt.asarray(x, requires_grad=False).requires_grad
    c = tt.asarray(x, copy=True)
    assert c is not x and c.tolist() == x.tolist()
    with pytest.raises(ValueError, match="copy=False"):
        tt.asarray([1, 2], copy=False)
    with pytest.raises(ValueError, match="copy=False"):
        tt.asarray(x, dtype=tt.float64, copy=False)
    assert tt.as_tensor(np.arange(3)).dtype is tt.int64 and tt.asarray([1.5]).dtype is tt.float32
    assert tt.asarray([1.0], requires_grad=True).requires_grad


def test_type_names_and_converts():
    assert tt.ones(1).type() == "torch.FloatTensor" and tt.arange(2).type() == "torch.LongTensor"
    assert tt.ones(1, dtype=tt.float64).type() == "torch.DoubleTensor"
    assert tt.ones(1).bool().type() == "torch.BoolTensor"
    assert tt.ones(2).type(tt.int64).dtype is tt.int64 and tt.arange(2).type("torch.DoubleTensor").dtype is tt.float64
    with pytest.raises(ValueError, match="invalid type"):
        tt.ones(1).type("torch.HalfTensor")


def _scaled_training(L):
    w = L.nn.Parameter(L.tensor([1.0, -2.0]))
    opt = L.optim.SGD([w], lr=0.1)
    scaler = L.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=2)
    history = []
    for i in range(6):
        opt.zero_grad()
        loss = (w**2).sum() * (float("inf") if i == 2 else 1.0)  # step 2 overflows: skipped, scale halved
        scaler.scale(loss).backward()
        if i == 4:
            scaler.unscale_(opt)  # the gradients are the true ones after unscale_
            history.append(w.grad.tolist())
        scaler.step(opt)
        scaler.update()
        history.append((w.tolist(), scaler.get_scale()))
    return history


def test_grad_scaler_skips_overflowing_steps_and_adapts_its_scale():
    history = _scaled_training(tt)
    scales = [h[1] for h in history if isinstance(h, tuple)]
    assert scales == [2.0**10, 2.0**11, 2.0**10, 2.0**10, 2.0**11, 2.0**11]
    w, expected = np.array([1.0, -2.0]), []
    for i in range(6):  # plain SGD on sum(w^2), step 2 skipped
        if i != 2:
            w = w - 0.1 * 2 * w
        expected.append(w)
    np.testing.assert_allclose([h[0] for h in history if isinstance(h, tuple)], expected, rtol=1e-6)
    np.testing.assert_allclose(history[4], 2 * expected[3], rtol=1e-6)  # unscaled: the true gradient 2w
    scaler = tt.amp.GradScaler("cpu")
    opt = tt.optim.SGD([tt.nn.Parameter(tt.ones(1))], lr=0.1)
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)


@needs_torch
def test_grad_scaler_matches_pytorch():
    assert _scaled_training(tt) == _scaled_training(torch)


def test_cuda_scaler_without_cuda_and_autocast_pass_through():
    with pytest.warns(UserWarning, match="CUDA is not available"):
        scaler = tt.amp.GradScaler()
    loss = tt.ones(1)
    assert not scaler.is_enabled() and scaler.scale(loss) is loss and scaler.get_scale() == 1.0
    assert not tt.is_autocast_enabled()
    with tt.autocast("cpu", dtype=tt.float32):
        assert tt.is_autocast_enabled()
        assert (tt.ones(2) @ tt.ones(2)).dtype is tt.float32
    with tt.autocast("cpu", enabled=False):
        assert not tt.is_autocast_enabled()

    @tt.autocast("cpu")
    def f(x):
        return tt.is_autocast_enabled()

    assert f(1) and not tt.is_autocast_enabled()


def test_the_legacy_tensor_constructor():
    """``Tensor(...)`` as PyTorch's: sizes make a float32 tensor of that shape, data is copied as
    float32 whatever its type; NDArrays and tensors are wrapped without a copy."""
    assert tt.Tensor(2, 3).shape == (2, 3) and tt.Tensor(2, 3).dtype is tt.float32
    assert tt.Tensor().shape == (0,)
    t = tt.Tensor([1, 2])
    assert t.dtype is tt.float32 and t.tolist() == [1.0, 2.0]
    assert tt.Tensor(np.arange(3)).dtype is tt.float32 and tt.Tensor([True, False]).tolist() == [1.0, 0.0]
    assert tt.Tensor([1, 2], dtype=tt.int64).dtype is tt.int64
    x = tt.ones(3)
    y = tt.Tensor(x)
    y[0] = 5.0
    assert x[0].item() == 5.0  # shares x's storage
    with pytest.raises(TypeError):
        tt.Tensor(3.5)


def test_indexing_and_joining_errors_are_pytorchs():
    x = tt.arange(6).reshape(2, 3)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[:, ::-2] = 0
    assert x.flip(0)[0].tolist() == [3, 4, 5]  # reversing is flip's job
    with pytest.raises(ValueError, match="non-empty"):
        tt.cat([])
    with pytest.raises(RuntimeError, match="non-empty"):
        tt.stack([])


def test_device_predicates_and_sum_dtype():
    x = tt.ones(2, 3)
    assert x.is_cpu and not x.is_cuda
    assert x.sum(dtype=tt.float64).dtype is tt.float64 and tt.arange(4).mean(dtype=tt.float32).item() == 1.5
    assert tt.arange(4).sum(dtype=tt.float32).dtype is tt.float32


def test_get_default_device_is_a_device():
    d = tt.get_default_device()
    assert isinstance(d, tt.device) and d == d.type and str(d) == d.type
    assert tt.ones(1).device == d


def test_jit_passes_code_through_unchanged():
    def f(x):
        return x * 2

    tt.jit._Warned.done = False  # the warning comes once per process
    with pytest.warns(UserWarning, match="no TorchScript"):
        scripted = tt.jit.script(f)
    assert scripted is f and tt.jit.trace(f, (tt.ones(2),)) is f
    m = nn.Linear(2, 2)
    assert tt.jit.script(m) is m and not tt.jit.is_scripting() and not tt.jit.is_tracing()
    assert tt.jit.ignore(f) is f and tt.jit.ignore(drop=True)(f) is f and tt.jit.annotate(list, [1]) == [1]
    with pytest.raises(RuntimeError, match="TorchScript"):
        tt.jit.save(m, "model.pt")
    with pytest.raises(RuntimeError, match="TorchScript"):
        tt.jit.load("model.pt")


def test_data_ptr_tells_shared_memory(device):
    a = tt.arange(10.0, device=device)
    assert a.view(2, 5).data_ptr() == a.data_ptr() == a[:3].data_ptr()
    assert a[2:].data_ptr() - a.data_ptr() == 2 * a.element_size()  # the address of the first element
    assert a.clone().data_ptr() != a.data_ptr() and a.t().data_ptr() == a.data_ptr()


def test_a_real_tensor_answers_the_complex_questions():
    x = tt.ones(2)
    assert not x.is_complex() and not tt.is_complex(x) and not x.is_conj() and not x.is_neg()
    assert x.conj() is x and tt.conj(x) is x and x.resolve_conj() is x and x.real is x
    assert x.get_device() == -1
    with pytest.raises(RuntimeError, match="non-complex"):
        x.imag  # noqa: B018


def test_size_builds_shapes():
    s = tt.Size([2, 3])
    assert s == (2, 3) and s.numel() == 6 and tt.ones(2, 3).shape == s and tt.Size().numel() == 1
    assert tt.zeros(s).shape == (2, 3) and tt.arange(6).view(s).shape == (2, 3)
    assert repr(s) == "tinytorch.Size([2, 3])"


def test_cuda_queries_without_a_gpu():
    """What a training script asks of tt.cuda on a machine without CUDA, answered as PyTorch's
    CPU build answers (raising where it raises)."""
    if tt.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert tt.cuda.device_count() == 0 and tt.cuda.memory_allocated() == 0 and tt.cuda.max_memory_allocated() == 0
    assert not tt.cuda.is_bf16_supported() and tt.cuda.empty_cache() is None
    tt.cuda.reset_peak_memory_stats()
    for call in (tt.cuda.synchronize, tt.cuda.current_device, tt.cuda.get_device_name, lambda: tt.cuda.set_device(0)):
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            call()
    with pytest.warns(UserWarning, match="CUDA is not available"):
        scaler = tt.cuda.amp.GradScaler(init_scale=1024.0)
    loss = tt.ones(1)
    assert not scaler.is_enabled() and scaler.scale(loss) is loss
    with tt.cuda.amp.autocast(enabled=False):
        assert not tt.is_autocast_enabled()
    from tinytorch.cuda.amp import GradScaler, autocast  # the import PyTorch scripts write
    assert GradScaler is tt.cuda.amp.GradScaler and autocast is tt.cuda.amp.autocast
