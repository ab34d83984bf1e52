"""Lab 4 grader: CUDA's execution model (simulated on the CPU) and a real CUDA kernel."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.labs import LabFailure, check, check_close, check_equal

TITLE = "the GPU"
EXERCISES = {"4.1": "num_blocks and global_index", "4.2": "scale_add_kernel (grid-stride loop)",
             "4.3": "ewise_mul_f32 in CUDA C"}
NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA compiler) is not installed here")
needs_gpu = pytest.mark.skipif(not tt.cuda.is_available(),
                               reason="no usable GPU here (tinytorch.cuda.is_available() is False)")


def launch(kernel, grid, block, *args):
    """The grader's own simulator of a 1-D launch (the notebook's copy is only for trying things)."""
    for block_idx in range(grid):
        for thread_idx in range(block):
            kernel(block_idx, block, grid, thread_idx, *args)


# --- 4.1 ------------------------------------------------------------------------------------------------
@pytest.mark.points(2, exercise="4.1", hint="round up: (n + threads - 1) // threads")
def test_num_blocks(lab):
    """num_blocks covers every element with as few blocks as possible"""
    num_blocks = lab.defined("num_blocks")
    for n, t, expected in [(1000, 256, 4), (1024, 256, 4), (1025, 256, 5), (1, 128, 1), (0, 256, 0), (7, 1, 7)]:
        check_equal(num_blocks(n, t), expected, f"num_blocks({n}, {t})")


@pytest.mark.points(2, exercise="4.1")
def test_global_index(lab):
    """global_index numbers the threads of a launch 0, 1, 2, ... without gaps or repeats"""
    global_index = lab.defined("global_index")
    got = [global_index(b, 4, t) for b in range(3) for t in range(4)]
    check_equal(got, list(range(12)), "global_index over 3 blocks of 4 threads")


# --- 4.2 ------------------------------------------------------------------------------------------------
@pytest.mark.points(6, exercise="4.2",
                    hint="start at block_idx * block_dim + thread_idx, step by block_dim * grid_dim, stop at n")
def test_grid_stride_kernel(lab):
    """scale_add_kernel is right for grids smaller and larger than n, and never writes past n"""
    kernel = lab.defined("scale_add_kernel")
    rng = np.random.default_rng(4)
    for n, grid, block in [(10, 1, 4), (10, 2, 4), (37, 3, 8), (5, 4, 8), (64, 2, 32), (0, 1, 4)]:
        x, y = rng.standard_normal(n + 3), rng.standard_normal(n + 3)
        out = np.full(n + 3, 99.0)
        launch(kernel, grid, block, 1.5, x, y, out, n)
        check_close(out[:n], 1.5 * x[:n] + y[:n], f"out[:n] with n={n}, grid={grid}, block={block}")
        check((out[n:] == 99.0).all(), f"the kernel wrote past n={n} (grid={grid}, block={block})")


# --- 4.3 ------------------------------------------------------------------------------------------------
def _source(lab):
    source = lab.defined("EWISE_MUL_CU")
    if "TT_NOT_IMPLEMENTED" in source:
        raise NotImplementedError("ewise_mul_f32 still returns TT_NOT_IMPLEMENTED")
    return source


@needs_nvcc
@pytest.mark.points(4, exercise="4.3", hint="the kernel must be extern \"C\" __global__ and keep its name")
def test_cuda_kernel_compiles(lab):
    """nvcc compiles your kernel to PTX, exporting ewise_mul_f32"""
    source = _source(lab)
    with tempfile.TemporaryDirectory() as tmp:
        cu, ptx = Path(tmp, "lab.cu"), Path(tmp, "lab.ptx")
        cu.write_text(source)
        proc = subprocess.run([NVCC, "--ptx", "-o", str(ptx), str(cu)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise LabFailure("nvcc could not compile your kernel:\n" + "\n".join(proc.stderr.splitlines()[:12]))
        check(".entry ewise_mul_f32" in ptx.read_text(), "the PTX has no entry point ewise_mul_f32")


@needs_gpu
@pytest.mark.points(2, exercise="4.3")
def test_cuda_kernel_runs(lab):
    """your kernel multiplies 100,003 floats on the GPU, with a grid smaller than needed"""
    import pycuda.driver as cuda
    from pycuda.compiler import SourceModule

    fn = SourceModule(_source(lab), no_extern_c=True).get_function("ewise_mul_f32")
    n = 100_003
    a, b = np.random.default_rng(0).standard_normal((2, n)).astype(np.float32)
    out = np.zeros(n, np.float32)
    fn(cuda.In(a), cuda.In(b), cuda.Out(out), np.int64(n), block=(256, 1, 1), grid=(64, 1))
    check_close(out, a * b, "out after ewise_mul_f32 on the GPU")
