"""Convolution, padding, pooling and resampling layers against PyTorch: the same weights (through
``load_state_dict``), outputs, input and parameter gradients, in float64 and float32, on every
device; and their functional forms, argument checks and printing."""

import numpy as np
import pytest
from layer_oracle import check_layer
from nn_helpers import gradcheck, needs_torch, torch

import tinytorch as tt

pytestmark = needs_torch
F = tt.nn.functional

# (id, constructor taking the nn namespace, input shape)
CONV = [
    ("conv1d", lambda m: m.Conv1d(3, 4, 3), (2, 3, 9)),
    ("conv1d_unbatched", lambda m: m.Conv1d(3, 4, 3, stride=2, padding=1), (3, 9)),
    ("conv1d_groups_dilation", lambda m: m.Conv1d(4, 6, 3, dilation=2, groups=2, bias=False), (2, 4, 11)),
    ("conv1d_same_even", lambda m: m.Conv1d(2, 3, 4, padding="same"), (2, 2, 7)),
    ("conv1d_same_dilated", lambda m: m.Conv1d(2, 3, 3, padding="same", dilation=3), (2, 2, 10)),
    ("conv1d_valid", lambda m: m.Conv1d(2, 3, 3, padding="valid"), (2, 2, 7)),
    ("conv1d_reflect", lambda m: m.Conv1d(2, 3, 3, padding=2, padding_mode="reflect"), (2, 2, 7)),
    ("conv1d_replicate", lambda m: m.Conv1d(2, 3, 3, padding=2, padding_mode="replicate"), (2, 2, 7)),
    ("conv1d_circular", lambda m: m.Conv1d(2, 3, 3, padding=1, padding_mode="circular"), (2, 2, 7)),
    ("conv1d_same_reflect", lambda m: m.Conv1d(2, 3, 4, padding="same", padding_mode="reflect"), (2, 2, 7)),
    ("conv2d_groups", lambda m: m.Conv2d(4, 6, 3, groups=2), (2, 4, 7, 6)),
    ("conv2d_depthwise", lambda m: m.Conv2d(3, 6, (3, 2), groups=3, stride=(2, 1), padding=(1, 0)), (2, 3, 7, 6)),
    ("conv2d_dilation_stride", lambda m: m.Conv2d(2, 3, 3, stride=2, dilation=(2, 1), padding=1), (1, 2, 9, 8)),
    ("conv2d_same_even", lambda m: m.Conv2d(2, 3, (4, 2), padding="same"), (2, 2, 6, 5)),
    ("conv2d_same_odd", lambda m: m.Conv2d(2, 3, 3, padding="same", dilation=2), (2, 2, 6, 5)),
    ("conv2d_reflect", lambda m: m.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect"), (2, 2, 6, 5)),
    ("conv2d_replicate", lambda m: m.Conv2d(2, 3, 3, padding=1, padding_mode="replicate", groups=1), (2, 2, 6, 5)),
    ("conv2d_circular", lambda m: m.Conv2d(2, 4, 3, padding=2, padding_mode="circular", groups=2), (2, 2, 6, 5)),
    ("conv2d_same_circular", lambda m: m.Conv2d(2, 3, 2, padding="same", padding_mode="circular"), (2, 2, 5, 5)),
    ("conv2d_unbatched", lambda m: m.Conv2d(2, 3, 3), (2, 6, 5)),
    ("convT1d", lambda m: m.ConvTranspose1d(3, 4, 3), (2, 3, 6)),
    ("convT1d_stride_pad_out", lambda m: m.ConvTranspose1d(4, 2, 4, stride=3, padding=2, output_padding=1,
                                                           groups=2), (2, 4, 5)),
    ("convT1d_unbatched_dilation", lambda m: m.ConvTranspose1d(2, 3, 3, dilation=2, padding=1), (2, 6)),
    ("convT2d", lambda m: m.ConvTranspose2d(3, 4, 3, stride=2), (2, 3, 4, 5)),
    ("convT2d_all", lambda m: m.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 1), output_padding=(1, 2),
                                                groups=2, dilation=(1, 2), bias=False), (2, 4, 4, 3)),
    ("convT2d_output_padding_from_dilation", lambda m: m.ConvTranspose2d(2, 2, 3, stride=1, padding=2,
                                                                         output_padding=1, dilation=2), (1, 2, 5, 5)),
]

POOL = [
    ("maxpool1d", lambda m: m.MaxPool1d(3, stride=2, padding=1), (2, 3, 9)),
    ("maxpool1d_ceil_dilation", lambda m: m.MaxPool1d(2, stride=2, dilation=2, ceil_mode=True), (2, 3, 10)),
    ("maxpool1d_unbatched", lambda m: m.MaxPool1d(2), (3, 8)),
    ("maxpool2d_ceil", lambda m: m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 8, 7)),
    ("maxpool2d_dilation", lambda m: m.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1)), (2, 2, 9, 6)),
    ("maxpool2d_ceil_no_pad", lambda m: m.MaxPool2d(2, ceil_mode=True), (1, 2, 5, 7)),
    ("avgpool1d", lambda m: m.AvgPool1d(3, stride=2, padding=1), (2, 3, 9)),
    ("avgpool1d_exclude_pad_ceil", lambda m: m.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 8)),
    ("avgpool2d_ceil", lambda m: m.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 8, 7)),
    ("avgpool2d_exclude_pad", lambda m: m.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 8, 7)),
    ("avgpool2d_divisor", lambda m: m.AvgPool2d((3, 2), padding=(1, 1), divisor_override=5), (2, 2, 7, 6)),
    ("avgpool2d_ceil_no_pad", lambda m: m.AvgPool2d(3, stride=2, ceil_mode=True), (1, 2, 8, 6)),
    ("lppool1d", lambda m: m.LPPool1d(2, 3, stride=2), (2, 3, 9)),
    ("lppool1d_ceil", lambda m: m.LPPool1d(3, 2, ceil_mode=True), (2, 3, 9)),
    ("lppool2d", lambda m: m.LPPool2d(2, (3, 2), stride=(2, 1)), (2, 3, 9, 8)),
    ("lppool2d_ceil", lambda m: m.LPPool2d(4, 2, ceil_mode=True), (1, 2, 5, 7)),
    ("adaptive_avg1d", lambda m: m.AdaptiveAvgPool1d(4), (2, 3, 10)),
    ("adaptive_avg1d_unbatched", lambda m: m.AdaptiveAvgPool1d(3), (3, 7)),
    ("adaptive_avg2d", lambda m: m.AdaptiveAvgPool2d((3, 4)), (2, 3, 7, 9)),
    ("adaptive_avg2d_none", lambda m: m.AdaptiveAvgPool2d((5, None)), (2, 3, 7, 6)),
    ("adaptive_avg2d_global", lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 5, 6)),
    ("adaptive_avg2d_up", lambda m: m.AdaptiveAvgPool2d((9, 8)), (1, 2, 5, 6)),
    ("adaptive_max1d", lambda m: m.AdaptiveMaxPool1d(4), (2, 3, 10)),
    ("adaptive_max2d", lambda m: m.AdaptiveMaxPool2d((3, 4)), (2, 3, 7, 9)),
    ("adaptive_max2d_none_unbatched", lambda m: m.AdaptiveMaxPool2d((None, 2)), (3, 5, 7)),
    ("adaptive_max2d_up", lambda m: m.AdaptiveMaxPool2d(6), (1, 2, 5, 4)),
    ("upsample_nearest", lambda m: m.Upsample(scale_factor=2), (2, 3, 4, 5)),
    ("upsample_nearest_size", lambda m: m.Upsample(size=(7, 3)), (2, 3, 4, 5)),
    ("upsample_nearest_frac", lambda m: m.Upsample(scale_factor=(1.7, 0.6)), (2, 3, 4, 5)),
    ("upsample_nearest_exact", lambda m: m.Upsample(size=(6, 7), mode="nearest-exact"), (2, 3, 4, 5)),
    ("upsample_bilinear", lambda m: m.Upsample(scale_factor=2, mode="bilinear"), (2, 3, 4, 5)),
    ("upsample_bilinear_size", lambda m: m.Upsample(size=(3, 8), mode="bilinear"), (2, 3, 4, 5)),
    ("upsample_bilinear_align", lambda m: m.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True),
     (2, 3, 4, 5)),
    ("upsample_bilinear_recompute", lambda m: m.Upsample(scale_factor=1.7, mode="bilinear",
                                                         recompute_scale_factor=True), (2, 3, 4, 5)),
    ("upsample_bicubic", lambda m: m.Upsample(size=(9, 4), mode="bicubic"), (2, 3, 5, 7)),
    ("upsample_bicubic_align", lambda m: m.Upsample(scale_factor=2.5, mode="bicubic", align_corners=True),
     (1, 2, 6, 6)),
    ("upsample_bicubic_down", lambda m: m.Upsample(scale_factor=0.6, mode="bicubic"), (1, 2, 4, 5)),
    ("upsample_linear", lambda m: m.Upsample(size=9, mode="linear"), (2, 3, 5)),
    ("upsample_linear_align", lambda m: m.Upsample(scale_factor=0.5, mode="linear", align_corners=True), (2, 3, 8)),
    ("upsample_nearest_1d", lambda m: m.Upsample(scale_factor=2.5), (2, 3, 5)),
    ("upsample_nearest_3d", lambda m: m.Upsample(scale_factor=(2, 1.5, 0.7)), (1, 2, 3, 4, 5)),
    ("upsample_trilinear", lambda m: m.Upsample(size=(4, 3, 7), mode="trilinear"), (1, 2, 3, 4, 5)),
    ("upsample_trilinear_align", lambda m: m.Upsample(scale_factor=2, mode="trilinear", align_corners=True),
     (1, 2, 2, 3, 2)),
    ("unfold", lambda m: m.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), (2, 3, 5, 6)),
    ("fold", lambda m: m.Fold((4, 5), 2), (2, 8, 12)),
    ("upsample_area", lambda m: m.Upsample(size=(3, 4), mode="area"), (2, 3, 7, 9)),
    ("upsample_area_1d", lambda m: m.Upsample(scale_factor=0.6, mode="area"), (2, 3, 8)),
    ("upsampling_nearest2d", lambda m: m.UpsamplingNearest2d(scale_factor=3), (1, 2, 3, 4)),
    ("upsampling_bilinear2d", lambda m: m.UpsamplingBilinear2d(size=(5, 7)), (1, 2, 3, 4)),
    ("pixel_shuffle", lambda m: m.PixelShuffle(2), (2, 8, 3, 4)),
    ("pixel_shuffle_5d", lambda m: m.PixelShuffle(3), (2, 2, 9, 2, 3)),
    ("pixel_unshuffle", lambda m: m.PixelUnshuffle(2), (2, 3, 4, 6)),
    ("constant_pad1d", lambda m: m.ConstantPad1d((2, 1), 3.5), (2, 3, 4)),
    ("constant_pad2d", lambda m: m.ConstantPad2d(1, -1.0), (3, 4, 5)),
    ("constant_pad3d", lambda m: m.ConstantPad3d((1, 0, 0, 2, 1, 1), 0.5), (1, 2, 3, 4, 5)),
    ("zero_pad1d", lambda m: m.ZeroPad1d(2), (2, 3, 4)),
    ("zero_pad2d", lambda m: m.ZeroPad2d((1, 0, 2, 1)), (2, 3, 4, 5)),
    ("zero_pad3d", lambda m: m.ZeroPad3d(1), (2, 3, 4, 5)),
    ("reflection_pad1d", lambda m: m.ReflectionPad1d((3, 1)), (2, 3, 4)),
    ("reflection_pad2d", lambda m: m.ReflectionPad2d(2), (2, 3, 4, 5)),
    ("reflection_pad3d", lambda m: m.ReflectionPad3d((1, 2, 0, 1, 1, 1)), (1, 2, 3, 4, 5)),
    ("replication_pad1d", lambda m: m.ReplicationPad1d(3), (3, 4)),
    ("replication_pad2d", lambda m: m.ReplicationPad2d((0, 2, 3, 1)), (2, 3, 4, 5)),
    ("replication_pad3d", lambda m: m.ReplicationPad3d(2), (1, 2, 3, 4, 5)),
    ("circular_pad1d", lambda m: m.CircularPad1d((2, 3)), (2, 3, 4)),
    ("circular_pad2d", lambda m: m.CircularPad2d(1), (2, 3, 4, 5)),
    ("circular_pad3d", lambda m: m.CircularPad3d((1, 0, 2, 1, 0, 3)), (1, 2, 3, 4, 5)),
    # --- 3-D: windows as views (F.conv3d, F.max_pool3d, F.avg_pool3d, F.adaptive_avg_pool3d) --------
    ("conv3d", lambda m: m.Conv3d(4, 6, 3, padding=1), (2, 4, 5, 6, 5)),
    ("conv3d_strided_groups", lambda m: m.Conv3d(4, 6, (3, 2, 2), stride=(2, 1, 2), padding=(1, 0, 1),
                                                 dilation=(1, 2, 1), groups=2), (2, 4, 7, 6, 5)),
    ("conv3d_same_reflect", lambda m: m.Conv3d(2, 3, 3, padding="same", padding_mode="reflect"), (3, 2, 4, 5, 4)),
    ("conv_transpose3d", lambda m: m.ConvTranspose3d(4, 6, (3, 2, 2), stride=2, padding=1, output_padding=1),
     (2, 4, 3, 4, 3)),
    ("conv_transpose3d_groups_dilation", lambda m: m.ConvTranspose3d(4, 6, 3, stride=(2, 1, 2), padding=(0, 1, 2),
                                                                     dilation=(1, 2, 1), groups=2), (2, 4, 3, 4, 3)),
    ("maxpool3d", lambda m: m.MaxPool3d(2), (2, 3, 4, 6, 4)),
    ("maxpool3d_ceil_dilation", lambda m: m.MaxPool3d(3, stride=2, padding=1, dilation=(1, 2, 1), ceil_mode=True),
     (1, 2, 7, 8, 6)),
    ("avgpool3d_pad", lambda m: m.AvgPool3d(3, stride=2, padding=1), (2, 3, 5, 6, 7)),
    ("avgpool3d_ceil_exclude", lambda m: m.AvgPool3d(3, 2, 1, ceil_mode=True, count_include_pad=False),
     (1, 2, 6, 7, 5)),
    ("avgpool3d_ceil_include", lambda m: m.AvgPool3d(3, 2, 1, ceil_mode=True), (1, 2, 6, 7, 5)),
    ("avgpool3d_divisor", lambda m: m.AvgPool3d(2, divisor_override=3), (3, 4, 4, 6)),
    ("adaptive_avgpool3d", lambda m: m.AdaptiveAvgPool3d((3, 4, None)), (2, 3, 7, 6, 5)),
    ("batchnorm3d", lambda m: m.BatchNorm3d(3), (2, 3, 3, 4, 5)),
    ("instancenorm3d", lambda m: m.InstanceNorm3d(3, affine=True), (2, 3, 3, 4, 5)),
]


@pytest.mark.parametrize("name,make,shape", CONV + POOL, ids=[s[0] for s in CONV + POOL])
def test_layer_matches_torch_float64(name, make, shape, device, rng):
    check_layer(make, [rng.standard_normal(shape)], device)


@pytest.mark.parametrize("name,make,shape", CONV[::3] + POOL[::4], ids=[s[0] for s in CONV[::3] + POOL[::4]])
def test_layer_matches_torch_float32(name, make, shape, device, rng):
    check_layer(make, [rng.standard_normal(shape)], device, "float32")


RESAMPLE = [spec for spec in POOL if spec[0].startswith(("upsample", "pixel", "adaptive"))]


@pytest.mark.parametrize("name,make,shape", RESAMPLE, ids=[s[0] for s in RESAMPLE])
def test_resampling_matches_torch_float32(name, make, shape, device, rng):
    # the source indices and weights are computed in the input's float type, as PyTorch's kernels do
    check_layer(make, [rng.standard_normal(shape)], device, "float32")


@pytest.mark.parametrize("return_indices", [False, True])
@pytest.mark.parametrize("make,shape", [
    (lambda m, r: m.MaxPool1d(3, 2, 1, return_indices=r), (2, 3, 9)),
    (lambda m, r: m.MaxPool2d(3, 2, 1, dilation=1, return_indices=r, ceil_mode=True), (2, 3, 8, 7)),
    (lambda m, r: m.AdaptiveMaxPool1d(4, return_indices=r), (2, 3, 10)),
    (lambda m, r: m.AdaptiveMaxPool2d((3, 5), return_indices=r), (2, 3, 7, 9)),
])
def test_max_pools_return_indices_as_torch(make, shape, return_indices, device, rng):
    check_layer(lambda m: make(m, return_indices), [rng.standard_normal(shape)], device)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)])
def test_max_pool_of_integers_keeps_the_dtype(kwargs, device, rng):
    """int64 images pool to int64 values (padding reads as the smallest int64), as in PyTorch."""
    a = rng.integers(-50, 50, (2, 3, 5, 6))
    out, at = F.max_pool2d(tt.tensor(a, device=device), return_indices=True, **kwargs)
    ref, ref_at = torch.nn.functional.max_pool2d(torch.tensor(a), return_indices=True, **kwargs)
    assert out.dtype == tt.int64
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    np.testing.assert_array_equal(at.numpy(), ref_at.numpy())


def test_max_pool_gradient_goes_to_the_first_maximum(device):
    # ties everywhere: PyTorch gives each window's gradient to its first maximum
    x = np.ones((1, 1, 4, 4))
    check_layer(lambda m: m.MaxPool2d(3, stride=1, return_indices=True), [x], device)
    check_layer(lambda m: m.AdaptiveMaxPool2d(3, return_indices=True), [x], device)


@pytest.mark.parametrize("nd,kernel,stride,padding,shape,output_size", [
    (2, 2, None, 0, (2, 3, 8, 6), None),
    (2, 3, 2, 1, (2, 3, 9, 7), None),
    (2, 3, 2, 1, (2, 3, 9, 7), (9, 7)),
    (2, 3, 1, 0, (1, 2, 6, 6), None),         # overlapping windows: an element can be chosen twice
    (1, 2, None, 0, (2, 3, 8), None),
    (1, 3, 2, 1, (2, 3, 9), (2, 3, 9)),
])
def test_max_unpool_inverts_max_pool_as_torch(nd, kernel, stride, padding, shape, output_size, device, rng):
    pool = getattr(torch.nn.functional, f"max_pool{nd}d")
    values, indices = pool(torch.tensor(rng.standard_normal(shape)), kernel, stride, padding, return_indices=True)

    def make(m):
        return getattr(m, f"MaxUnpool{nd}d")(kernel, stride, padding)

    def call(mod, v, i):
        return mod(v, i, output_size=output_size)

    check_layer(make, [values.numpy(), indices.numpy()], device, call=call)


@pytest.mark.parametrize("size", [None, (9, 10), (2, 3, 10, 12)])
def test_conv_transpose_output_size_argument(size, device, rng):
    def call(mod, x):
        return mod(x, output_size=size)

    check_layer(lambda m: m.ConvTranspose2d(2, 3, 3, stride=(2, 3), padding=1), [rng.standard_normal((2, 2, 5, 4))],
                device, call=call)


def test_conv_transpose_output_size_out_of_range():
    x = np.zeros((1, 2, 5, 4))
    with pytest.raises(ValueError):
        torch.nn.ConvTranspose2d(2, 3, 3, stride=(2, 3), padding=1)(torch.tensor(x).float(), output_size=(10, 13))
    with pytest.raises(ValueError, match="valid sizes range from 10 to 12"):
        tt.nn.ConvTranspose2d(2, 3, 3, stride=(2, 3), padding=1)(tt.tensor(x).float(), output_size=(10, 13))


# --------------------------------------------------------------------------- functional forms
def _compare_functional(fn, ref_fn, arrays, device):
    tol = dict(rtol=1e-10, atol=1e-12)
    xs = [tt.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
    rs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out, ref = fn(*xs), ref_fn(*rs)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), **tol)
    w = np.random.default_rng(2).standard_normal(tuple(ref.shape))
    (out * tt.tensor(w, device=device)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for x, r in zip(xs, rs):
        if r.requires_grad:
            np.testing.assert_allclose(x.grad.numpy(), r.grad.numpy(), **tol)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((2, 5), (2, 1)), ((2, 3, 6), (3, 2)), ((2, 3, 6), (0, 4)),
                                       ((1, 2, 5, 4), (2, 1, 3, 0)), ((2, 5, 4), (1, 3, 2, 2)),
                                       ((1, 2, 3, 5, 4), (1, 2, 2, 1, 1, 0))])
def test_pad_modes_match_torch(mode, shape, pad, device, rng):
    if mode == "reflect" and any(p >= n for p, n in zip(pad, np.repeat(shape[::-1], 2))):
        pytest.skip("reflect needs a pad smaller than the size")
    _compare_functional(lambda x: F.pad(x, pad, mode=mode), lambda x: torch.nn.functional.pad(x, pad, mode=mode),
                        [rng.standard_normal(shape)], device)


def test_pad_constant_value_and_crop(device, rng):
    x = rng.standard_normal((2, 3, 4))
    _compare_functional(lambda x: F.pad(x, (1, -1, -1, 2), value=2.5),
                        lambda x: torch.nn.functional.pad(x, (1, -1, -1, 2), value=2.5), [x], device)


def test_pad_gradient_against_finite_differences(device, rng):
    gradcheck(lambda x: F.pad(x, (2, 3, 1, 2), mode="reflect"), [rng.standard_normal((1, 2, 4, 5))], device, rng)
    gradcheck(lambda x: F.pad(x, (3, 1), mode="circular"), [rng.standard_normal((2, 3))], device, rng)


def test_pad_errors_as_torch():
    x = tt.zeros(1, 2, 3)
    with pytest.raises(RuntimeError, match="Padding size should be less"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError):
        F.pad(tt.zeros(5), (1, 1), mode="reflect")
    with pytest.raises(NotImplementedError):
        F.pad(x, (1, 1), mode="wrap")
    with pytest.raises(RuntimeError, match="wrapping around"):
        F.pad(x, (4, 0), mode="circular")


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
                                    dict(padding="same", dilation=2, groups=2), dict(padding="valid", stride=2)])
def test_conv2d_functional(kwargs, device, rng):
    args = [rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2 if "groups" in kwargs else 4, 3, 2)),
            rng.standard_normal(6)]
    _compare_functional(lambda x, w, b: F.conv2d(x, w, b, **kwargs),
                        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kwargs), args, device)


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1, output_padding=1, groups=2, dilation=2)])
def test_conv_transpose_functional(kwargs, device, rng):
    args = [rng.standard_normal((2, 4, 5)), rng.standard_normal((4, 3, 3)), rng.standard_normal(6 if kwargs else 3)]
    _compare_functional(lambda x, w, b: F.conv_transpose1d(x, w, b, **kwargs),
                        lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, **kwargs), args, device)
    args = [rng.standard_normal((2, 4, 5, 3)), rng.standard_normal((4, 3, 3, 2)),
            rng.standard_normal(6 if kwargs else 3)]
    _compare_functional(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
                        lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kwargs), args, device)


def test_conv_transpose_is_the_gradient_of_conv(device, rng):
    # <conv(x, w), y> = <x, conv_transpose(y, w)>: the adjoint identity that defines it
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 3))
    kw = dict(stride=2, padding=1, dilation=1, groups=2)
    y = rng.standard_normal(F.conv2d(tt.tensor(x), tt.tensor(w), **kw).shape)
    lhs = (F.conv2d(tt.tensor(x, device=device), tt.tensor(w, device=device), **kw) * tt.tensor(y, device=device))
    rhs = F.conv_transpose2d(tt.tensor(y, device=device), tt.tensor(w, device=device), output_padding=(0, 1), **kw)
    np.testing.assert_allclose(lhs.sum().item(), (rhs * tt.tensor(x, device=device)).sum().item(), rtol=1e-10)


def test_conv_functional_gradients_against_finite_differences(device, rng):
    gradcheck(lambda x, w: F.conv1d(x, w, padding="same", groups=2), [rng.standard_normal((1, 2, 5)),
                                                                       rng.standard_normal((2, 1, 2))], device, rng)
    gradcheck(lambda x, w: F.conv_transpose2d(x, w, stride=2, output_padding=1),
              [rng.standard_normal((1, 2, 2, 3)), rng.standard_normal((2, 1, 2, 2))], device, rng)


@pytest.mark.parametrize("mode,align", [("nearest", None), ("nearest-exact", None), ("bilinear", False),
                                        ("bilinear", True)])
@pytest.mark.parametrize("kwargs", [dict(size=(8, 4)), dict(scale_factor=2), dict(scale_factor=(1.7, 0.6)),
                                    dict(scale_factor=1.5, recompute_scale_factor=True), dict(size=(3, 11))])
def test_interpolate_matches_torch(mode, align, kwargs, device, rng):
    _compare_functional(lambda x: F.interpolate(x, mode=mode, align_corners=align, **kwargs),
                        lambda x: torch.nn.functional.interpolate(x, mode=mode, align_corners=align, **kwargs),
                        [rng.standard_normal((2, 3, 5, 7))], device)


@pytest.mark.filterwarnings("ignore:.*is deprecated")
def test_upsample_functional_aliases(device, rng):
    with pytest.warns(UserWarning, match="deprecated"):
        F.upsample(tt.zeros(1, 1, 2, 2), scale_factor=2)
    _compare_functional(lambda x: F.upsample_nearest(x, scale_factor=2),
                        lambda x: torch.nn.functional.upsample_nearest(x, scale_factor=2),
                        [rng.standard_normal((1, 2, 3, 4))], device)
    _compare_functional(lambda x: F.upsample_bilinear(x, size=(5, 6)),
                        lambda x: torch.nn.functional.upsample_bilinear(x, size=(5, 6)),
                        [rng.standard_normal((1, 2, 3, 4))], device)


def test_interpolate_errors_as_torch():
    x = tt.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=3, align_corners=True)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(NotImplementedError):
        F.interpolate(x, size=3, mode="linear")


@pytest.mark.parametrize("fn,args", [
    ("adaptive_avg_pool2d", ((3, 4),)), ("adaptive_max_pool2d", ((4, 3),)), ("max_pool2d", (3, 2, 1, 2, True)),
    ("avg_pool2d", (3, 2, 1, True, False, None)), ("pixel_shuffle", (1,)),
])
def test_pooling_functional_forms(fn, args, device, rng):
    _compare_functional(lambda x: getattr(F, fn)(x, *args), lambda x: getattr(torch.nn.functional, fn)(x, *args),
                        [rng.standard_normal((2, 3, 9, 8))], device)


def test_argument_errors_as_torch():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        tt.nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="strided convolutions"):
        tt.nn.Conv1d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        tt.nn.Conv2d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="zeros"):
        tt.nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(RuntimeError, match="expected input.* to have 4 channels"):
        F.conv2d(tt.zeros(1, 3, 5, 5), tt.zeros(2, 2, 3, 3), groups=2)
    with pytest.raises(RuntimeError, match="at most half"):
        F.max_pool2d(tt.zeros(1, 1, 5, 5), 3, padding=2)
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        F.conv_transpose2d(tt.zeros(1, 1, 3, 3), tt.zeros(1, 1, 3, 3), stride=2, output_padding=2)
    with pytest.raises(RuntimeError, match="divisible"):
        F.pixel_shuffle(tt.zeros(1, 3, 2, 2), 2)


def test_conv_initialisation_bounds_as_torch():
    # U(-b, b) with b = 1 / sqrt(fan_in); fan_in of a transposed weight is (out / groups) * k
    conv = tt.nn.Conv1d(4, 6, 5, groups=2)
    b = 1 / np.sqrt(2 * 5)
    assert np.abs(conv.weight.detach().numpy()).max() <= b and np.abs(conv.bias.detach().numpy()).max() <= b
    assert conv.weight.detach().numpy().std() > b / 3
    convt = tt.nn.ConvTranspose2d(4, 6, 3, groups=2)
    b = 1 / np.sqrt(3 * 9)
    assert tuple(convt.weight.shape) == (4, 3, 3, 3)
    assert np.abs(convt.weight.detach().numpy()).max() <= b and np.abs(convt.bias.detach().numpy()).max() <= b


def test_bicubic_reproduces_a_linear_ramp_away_from_the_edges(device):
    """Cubic convolution reproduces linear functions: with the corners aligned, outputs whose four
    source samples lie inside the image equal the ramp at their source position."""
    i, j = np.meshgrid(np.arange(6.0), np.arange(6.0), indexing="ij")
    x = tt.tensor((i + 2 * j)[None, None], device=device)
    y = tt.nn.functional.interpolate(x, size=(11, 11), mode="bicubic", align_corners=True).numpy()[0, 0]
    src = np.arange(11) * 0.5  # the source position of each output
    inside = (src >= 1) & (src <= 4)
    expected = src[:, None] + 2 * src[None, :]
    np.testing.assert_allclose(y[np.ix_(inside, inside)], expected[np.ix_(inside, inside)], atol=1e-12)
    np.testing.assert_allclose(y[::2, ::2], (i + 2 * j), atol=1e-12)  # on the samples themselves
    with pytest.raises(NotImplementedError, match="4D input"):
        tt.nn.functional.interpolate(tt.ones(1, 1, 4), size=8, mode="bicubic")
