"""A tour of the NDArray layer: one flat buffer, many zero-copy views, pluggable backends.

Run with ``make demo`` (or ``python examples/demo.py``). It prints what each movement op does
to the (shape, strides, offset) metadata, shows that views share one buffer, and runs the
same computation on every available backend.
"""

import time

import numpy as np

from tinytorch.ndarray import array, available


def show(name, a):
    print(f"  {name:<28} shape={a.shape!s:<12} strides={a.strides!s:<12} offset={a.offset:<3} "
          f"compact={a.is_compact()}")


def main():
    print(f"available devices: {available()}\n")
    a = array(np.arange(12), device="numpy").reshape((3, 4))
    print("One buffer of 12 elements, seen through views (no copies):")
    show("a = arange(12).reshape(3,4)", a)
    show("a.T", a.T)
    show("a[1:, ::2]", a[1:, ::2])
    show("a.flip((1,))", a.flip((1,)))
    show("a[:, 1:2].broadcast_to((3,5))", a[:, 1:2].broadcast_to((3, 5)))
    b = a.T
    b[0, 0] = 100
    print(f"  after b = a.T; b[0, 0] = 100 -> a[0, 0] == {a[0, 0].item()} (same buffer)\n")

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((512, 512), dtype=np.float32), rng.standard_normal((512, 512), dtype=np.float32)
    expected = np.tanh(x @ y).sum(axis=1)
    print("tanh(x @ y).sum(axis=1) for 512x512 float32 on each backend:")
    for dev in available():
        a, b = array(x, device=dev), array(y, device=dev)
        (a @ b).tanh().sum(axis=1)  # warm up (first call may compile or page in)
        t = time.perf_counter()
        out = (a @ b).tanh().sum(axis=1).numpy()
        ms = (time.perf_counter() - t) * 1e3
        err = np.abs(out - expected).max()
        print(f"  {dev:<6} {ms:8.2f} ms   max |difference from numpy| = {err:.2e}")


if __name__ == "__main__":
    main()
