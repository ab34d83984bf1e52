"""Run a kernel generated at run time (by :mod:`tinytorch.compiler`) on NDArrays.

A generated elementwise kernel has the C type ``void kernel(int64_t n, void **ptrs)``: it
writes ``n`` elements to ``ptrs[0]`` and reads its inputs from ``ptrs[1:]``, input ``i``
at positions ``[0, reads[i])``. This is the one place where such a kernel meets memory,
through the backend's optional ``call_fused`` (see :mod:`.interface`): the layers above
never see a buffer or an address.
"""

from __future__ import annotations

from typing import Any, Sequence

from .devices import Device
from .dtypes import DType
from .interface import Shape
from .ndarray import NDArray


def can_call_fused(device: Device) -> bool:
    """True when ``device``'s backend can run host kernels on its buffers (``call_fused``)."""
    return device.backend.call_fused is not None


def call_fused(kernel: Any, shape: Shape, dtype: DType, device: Device, inputs: Sequence[NDArray],
               reads: Sequence[int]) -> NDArray:
    """A new compact array of ``shape`` and ``dtype`` written by ``kernel`` from ``inputs``.

    Each input is made compact first; input ``i`` must have ``reads[i]`` elements (the
    kernel reads exactly those), the output's dtype and ``device``: ``ValueError`` /
    ``TypeError`` otherwise, before the kernel runs.
    """
    fn = device.backend.call_fused
    if fn is None:
        raise NotImplementedError(f"the {device.type} backend cannot run generated host kernels")
    ins = [a.compact() for a in inputs]
    for i, (a, n) in enumerate(zip(ins, reads)):
        if a.size != n:
            raise ValueError(f"call_fused: input {i} has {a.size} elements, the kernel reads {n}")
        if a.dtype is not dtype or a.device != device:
            raise TypeError(f"call_fused: input {i} is {a.dtype.name} on {a.device}, "
                            f"the kernel wants {dtype.name} on {device}")
    out = NDArray.make(shape, dtype, device)
    if out.size:
        fn(kernel, out.size, [out._buf] + [a._buf for a in ins], [0] * (len(ins) + 1))
    return out
