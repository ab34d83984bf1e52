"""The CUDA backend (device "cuda"), tested in three layers so that a machine without a GPU
still checks everything it can:

1. **Compile check** -- every ``.cu`` file compiles with ``nvcc --ptx`` for an old and a new
   architecture, and defines every kernel the interface needs. Needs nvcc, not a GPU (CI).
2. **Clean degradation** -- without pycuda, the driver, a GPU or nvcc, ``import tinytorch``
   works, "cuda" is unavailable, and the error says what is missing. Fake ``pycuda``
   modules put in ``sys.modules`` simulate each missing piece, on any machine.
3. **The backend against the numpy backend**, function by function, on three targets:

   * ``gpu`` -- the real backend on a real GPU (skipped, with the reason, elsewhere);
   * ``emulated`` -- the real binding (``tinytorch/backend_cuda/__init__.py``) driving a fake
     pycuda in which device memory is host memory and each kernel launch is carried out in
     numpy from its arguments. This checks the Python half of the backend: validation,
     view packing, launch shapes, the two-pass reductions, aliasing, memory bounds of every
     launch, and -- where nvcc exists -- that each launch's packed parameters match the
     compiled kernel's PTX signature;
   * ``simulated`` -- the same, but each launch runs the real kernel code: the ``.cu`` files
     compiled by g++ against a small CUDA-on-CPU shim (every CUDA thread a fiber, barriers
     and warp shuffles cooperative; see ``SIM_SHIM``). This checks the kernels' own logic
     (indexing, tiling, shuffle trees, shared memory, barriers) without a GPU -- but not
     nvcc's code generation, the GPU memory model or CUDA's math library.

The shared device-parametrized suites (tests/conftest.py) run on "cuda" by themselves when
it is available; nothing here duplicates them.
"""

from __future__ import annotations

import bisect
import ctypes
import hashlib
import importlib
import importlib.machinery
import os
import re
import shutil
import struct
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import tinytorch
from tinytorch.ndarray import backend_numpy as ref
from tinytorch.ndarray import interface
from tinytorch.ndarray.devices import unavailable_reason
from tinytorch.ndarray.dtypes import from_numpy_dtype

CUDA_DIR = Path(tinytorch.__file__).resolve().parent / "backend_cuda"
CU_FILES = sorted(CUDA_DIR.glob("*.cu"))
NVCC = shutil.which("nvcc")
GXX = shutil.which("g++")
DTYPES = [np.float32, np.float64, np.int64, np.bool_]
DTYPE_IDS = ["float32", "float64", "int64", "bool"]
ARITH = [np.float32, np.float64, np.int64]
FLOATS = [np.float32, np.float64]


# =====================================================================================================
# 1. nvcc compile check
# =====================================================================================================
@pytest.fixture(scope="session")
def nvcc_archs() -> set[str]:
    if NVCC is None:
        pytest.skip("nvcc is not on PATH: install the CUDA toolkit to compile-check the kernels")
    out = subprocess.run([NVCC, "--list-gpu-arch"], capture_output=True, text=True)
    return {a.replace("compute_", "sm_") for a in out.stdout.split()}


def _nvcc_ptx(source: Path, arch: str, out: Path, include: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [NVCC, "--ptx", f"-arch={arch}", "-Werror", "all-warnings", "-o", str(out), str(source)]
    if include is not None:
        cmd[1:1] = ["-I", str(include)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_there_are_kernel_sources():
    assert {p.stem for p in CU_FILES} == {"memory", "elementwise", "reduce", "matmul", "indexing"}
    assert (CUDA_DIR / "common.cuh").is_file()


# sm_70 (Volta) is the oldest GPU the kernels target; CUDA 13 dropped it, so sm_75 stands in there.
@pytest.mark.parametrize("arch", ["sm_70", "sm_75", "sm_90"])
@pytest.mark.parametrize("cu", CU_FILES, ids=lambda p: p.name)
def test_kernels_compile_with_nvcc(nvcc_archs, tmp_path, cu, arch):
    if arch not in nvcc_archs:
        pytest.skip(f"this nvcc does not support {arch} (it lists {sorted(nvcc_archs)})")
    proc = _nvcc_ptx(cu, arch, tmp_path / "out.ptx", include=CUDA_DIR)
    assert proc.returncode == 0, f"nvcc failed on {cu.name} for {arch}:\n{proc.stderr}"


def _expected_kernels() -> set[str]:
    """Every kernel name the binding may launch, from the interface's lists of ops."""
    all_t, arith, floats = DTYPE_IDS, DTYPE_IDS[:3], DTYPE_IDS[:2]
    names = {f"{k}_{t}" for k in ("fill", "compact", "ewise_setitem", "scalar_setitem", "where", "gather",
                                 "scatter", "scatter_add") for t in all_t}
    names |= {f"scatter_{op}_{t}" for op in interface.SCATTER_OPS if op != "add" for t in arith}
    names |= {f"cast_{s}_to_{d}" for s in all_t for d in all_t}
    for op in interface.ARITHMETIC_OPS:
        for t in floats if op == "div" else arith:
            names |= {f"ewise_{op}_{t}", f"scalar_{op}_{t}"}
    names |= {f"{k}_{op}_{t}" for k in ("ewise", "scalar") for op in interface.COMPARISON_OPS for t in all_t}
    names |= {f"scalar_r{op}_{t}" for op in interface.REVERSED_SCALAR_OPS for t in (floats if op == "div" else arith)}
    names |= {f"ewise_{fn}_{t}" for fn in interface.UNARY_OPS_ANY for t in arith}
    names |= {f"ewise_{fn}_{t}" for fn in interface.UNARY_OPS_FLOAT for t in floats}
    names |= {f"reduce_{op}_{t}" for op in interface.REDUCE_OPS for t in all_t}
    names |= {f"matmul_{t}" for t in arith}
    kinds = {**{op: floats for op in interface.FLOAT_BINARY_OPS}, **{op: arith for op in interface.DIVISION_OPS},
             **{op: ["int64", "bool"] for op in interface.BITWISE_OPS}, **{op: ["int64"] for op in interface.SHIFT_OPS}}
    names |= {f"{k}{op}_{t}" for op, ts in kinds.items() for t in ts for k in ("ewise_", "scalar_", "scalar_r")}
    names |= {"ewise_bitwise_not_int64", "ewise_bitwise_not_bool"}
    return names


_ENTRY = re.compile(r"\.entry\s+(\w+)\s*\(([^)]*)\)", re.S)
_PARAM = re.compile(r"\.param\s+(?:\.align\s+\d+\s+)?\.(\w+)\s+\w+(?:\[(\d+)\])?")


def ptx_signatures(ptx: str) -> dict[str, list[str]]:
    """{kernel name: its parameter types} of a PTX file, e.g. ['u64', 'u64', 'b8[272]', 'f32']."""
    return {name: [f"{t}[{n}]" if n else t for t, n in _PARAM.findall(params)]
            for name, params in _ENTRY.findall(ptx)}


def test_every_interface_kernel_is_defined(nvcc_archs, tmp_path):
    arch = "sm_90" if "sm_90" in nvcc_archs else sorted(nvcc_archs)[0]
    defined: dict[str, list[str]] = {}
    for cu in CU_FILES:
        out = tmp_path / f"{cu.stem}.ptx"
        assert _nvcc_ptx(cu, arch, out, include=CUDA_DIR).returncode == 0
        defined |= ptx_signatures(out.read_text())
    missing = _expected_kernels() - set(defined)
    assert not missing, f"kernels not defined by any .cu file: {sorted(missing)}"


# =====================================================================================================
# A fake pycuda: device memory is host memory, kernel launches are emulated in numpy
# =====================================================================================================
class FakeGPU:
    """Device memory as host memory. Each allocation is a numpy array at a real address (so the
    simulated kernels can run on it), aligned like cudaMalloc, with canary bytes on both sides
    that are checked after every launch; the numpy emulation also checks that every access
    lies inside one live allocation."""

    PAD = 256  # canary bytes before and after every block; also the alignment

    def __init__(self) -> None:
        self.blocks: dict[int, tuple[np.ndarray, int, int]] = {}  # base -> (memory, data offset, nbytes)
        self.bases: list[int] = []  # sorted, to find the block of a pointer by bisection
        self.launches: list[tuple[str, tuple, tuple]] = []

    def allocate(self, nbytes: int) -> FakeAllocation:
        assert isinstance(nbytes, int) and nbytes >= 1, f"bad allocation size {nbytes!r}"
        mem = np.full(nbytes + 3 * self.PAD, 0x5A, dtype=np.uint8)  # canary everywhere...
        off = self.PAD + (-(mem.ctypes.data + self.PAD)) % self.PAD
        mem[off:off + nbytes] = 0xA5  # ...and garbage in the block itself, like fresh GPU memory
        base = mem.ctypes.data + off
        self.blocks[base] = (mem, off, nbytes)
        bisect.insort(self.bases, base)
        return FakeAllocation(self, base)

    def free(self, base: int) -> None:
        if self.blocks.pop(base, None) is not None:
            del self.bases[bisect.bisect_left(self.bases, base)]

    def block_of(self, ptr: int) -> int | None:
        """The base of the live block that contains ``ptr``, if any."""
        k = bisect.bisect_right(self.bases, ptr) - 1
        if k >= 0 and ptr < self.bases[k] + self.blocks[self.bases[k]][2]:
            return self.bases[k]
        return None

    def view(self, ptr: int, dtype, count: int) -> np.ndarray:
        dtype = np.dtype(dtype)
        assert isinstance(ptr, int) and ptr, f"bad device pointer {ptr!r}"
        base = self.block_of(ptr)
        assert base is not None, f"pointer {ptr:#x} is not inside any live allocation"
        mem, off, nbytes = self.blocks[base]
        assert ptr + count * dtype.itemsize <= base + nbytes, (
            f"access of {count} x {dtype} at +{ptr - base} overruns a block of {nbytes} bytes")
        assert (ptr - base) % dtype.itemsize == 0, "misaligned access"
        start = off + ptr - base
        return mem[start:start + count * dtype.itemsize].view(dtype)

    def check_canaries(self, kernel: str, args: tuple) -> None:
        """The canaries of every block a launch was handed a pointer into are intact."""
        for arg in args:
            base = self.block_of(arg) if isinstance(arg, int) and arg > 0 else None
            if base is not None:
                mem, off, nbytes = self.blocks[base]
                assert (mem[:off] == 0x5A).all() and (mem[off + nbytes:] == 0x5A).all(), (
                    f"{kernel} wrote outside a buffer of {nbytes} bytes")


class FakeAllocation:
    def __init__(self, gpu: FakeGPU, base: int):
        self.gpu, self.base = gpu, base

    def __int__(self) -> int:
        return self.base

    def __del__(self) -> None:
        self.gpu.free(self.base)


_PTX_CACHE: dict[str, dict[str, list[str]]] = {}


def _compile_to_signatures(source: str) -> dict[str, list[str]] | None:
    """Compile the exact source text the binding hands to SourceModule; None without nvcc."""
    if NVCC is None:
        return None
    key = hashlib.sha256(source.encode()).hexdigest()
    if key not in _PTX_CACHE:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            cu, ptx = Path(tmp) / "k.cu", Path(tmp) / "k.ptx"
            cu.write_text(source)
            proc = _nvcc_ptx(cu, "sm_90", ptx)  # no -I: the pasted source must stand alone
            assert proc.returncode == 0, proc.stderr
            _PTX_CACHE[key] = ptx_signatures(ptx.read_text())
    return _PTX_CACHE[key]


_FORMAT_TO_PTX = {"P": "u64", "q": "u64", "f": "f32", "d": "f64", "B": "u8"}


def format_to_ptx(fmt: str) -> list[str]:
    """pycuda's prepare() format as PTX parameter types ('PPq272s' -> u64, u64, u64, b8[272])."""
    params = []
    for count, c in re.findall(r"(\d*)([A-Za-z])", fmt):
        if c == "s":
            params.append(f"b8[{count}]")
        else:
            params += [_FORMAT_TO_PTX[c]] * int(count or 1)
    return params



# --- a CUDA-on-CPU simulator: the real kernel code, compiled as C++ --------------------------------------
# With this header force-included, g++ compiles the .cu sources as plain C++: each CUDA thread
# of a block runs as a fiber (ucontext) on one OS thread, and __syncthreads / __shfl_down_sync
# are cooperative barriers between the fibers (a barrier that can never complete is reported
# as a deadlock). Blocks run one after another. This runs the kernels' own logic -- index
# arithmetic, tiling, shuffles, shared memory, bounds checks -- but not nvcc's code, the GPU's
# memory model or its libm, so it complements a real GPU rather than replacing one.
SIM_SHIM = r"""// CUDA-on-CPU shim (tests only): every CUDA thread of a block runs as a fiber (ucontext) on one
// OS thread; __syncthreads and warp shuffles are cooperative barriers between the fibers.
#pragma once
#include <ucontext.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

struct dim3 { unsigned x = 1, y = 1, z = 1; };

namespace ttsim {
struct Barrier { int expected = 0; int count = 0; long gen = 0; };
struct Block {
    int nthreads = 0;
    std::vector<ucontext_t> ctx;
    std::vector<std::vector<char>> stacks;
    std::vector<char> done;
    std::vector<dim3> tidx;
    ucontext_t sched;
    int current = 0;
    bool progress = false;
    Barrier block_bar;
    std::vector<Barrier> warp_bars;
    std::vector<uint64_t> warp_buf;
    void (*job)(void *) = nullptr;
    void *job_args = nullptr;
};
inline Block g_block;
inline dim3 g_grid, g_bdim, g_bidx;

inline void yield_() {
    Block &b = g_block;
    swapcontext(&b.ctx[b.current], &b.sched);
}
inline void wait(Barrier &bar) {
    const long my = bar.gen;
    if (++bar.count == bar.expected) {
        bar.count = 0;
        ++bar.gen;
        g_block.progress = true;
        return;
    }
    while (bar.gen == my) yield_();
}
}  // namespace ttsim

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define threadIdx (ttsim::g_block.tidx[ttsim::g_block.current])
#define blockIdx (ttsim::g_bidx)
#define blockDim (ttsim::g_bdim)
#define gridDim (ttsim::g_grid)

inline void __syncthreads() { ttsim::wait(ttsim::g_block.block_bar); }

template <class T>
inline T __shfl_down_sync(unsigned, T v, int d) {
    ttsim::Block &b = ttsim::g_block;
    const int t = b.current, lane = t % 32, warp = t / 32;
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    b.warp_buf[t] = bits;
    ttsim::wait(b.warp_bars[warp]);
    const uint64_t got = b.warp_buf[lane + d < 32 ? t + d : t];
    ttsim::wait(b.warp_bars[warp]);  // nobody overwrites warp_buf before every lane has read
    T r;
    std::memcpy(&r, &got, sizeof(T));
    return r;
}

template <class T>
inline T atomicAdd(T *p, T v) { T old = *p; *p = old + v; return old; }  // one OS thread: no races
template <class T>
inline T atomicCAS(T *p, T expected, T v) { T old = *p; if (old == expected) *p = v; return old; }

inline float __int_as_float(int x) { float f; std::memcpy(&f, &x, 4); return f; }
inline double __longlong_as_double(long long x) { double f; std::memcpy(&f, &x, 8); return f; }
inline long long min(long long a, long long b) { return a < b ? a : b; }

namespace ttsim {
inline void fiber_entry() {
    Block &b = g_block;
    b.job(b.job_args);
    b.done[b.current] = 1;
    b.progress = true;
}  // returns to b.sched through uc_link

// Run every block of the grid, one after the other; returns 0, or 1 on a barrier deadlock.
inline int launch(unsigned gx, unsigned gy, unsigned gz, unsigned bx, void (*job)(void *), void *args) {
    Block &b = g_block;
    const int n = (int)bx;
    if (b.nthreads != n) {
        b.nthreads = n;
        b.ctx.assign(n, ucontext_t{});
        b.stacks.assign(n, std::vector<char>(1 << 16));
        b.done.assign(n, 0);
        b.tidx.assign(n, dim3{});
        b.warp_bars.assign((n + 31) / 32, Barrier{});
        b.warp_buf.assign(n, 0);
    }
    b.job = job;
    b.job_args = args;
    g_grid = dim3{gx, gy, gz};
    g_bdim = dim3{bx, 1, 1};
    for (unsigned z = 0; z < gz; ++z)
        for (unsigned y = 0; y < gy; ++y)
            for (unsigned x = 0; x < gx; ++x) {
                g_bidx = dim3{x, y, z};
                b.block_bar = Barrier{n, 0, 0};
                for (auto &w : b.warp_bars) w = Barrier{32, 0, 0};
                for (int t = 0; t < n; ++t) {
                    getcontext(&b.ctx[t]);
                    b.ctx[t].uc_stack.ss_sp = b.stacks[t].data();
                    b.ctx[t].uc_stack.ss_size = b.stacks[t].size();
                    b.ctx[t].uc_link = &b.sched;
                    makecontext(&b.ctx[t], fiber_entry, 0);
                    b.done[t] = 0;
                    b.tidx[t] = dim3{(unsigned)t, 0, 0};
                }
                int remaining = n;
                while (remaining) {
                    b.progress = false;
                    for (int t = 0; t < n; ++t) {
                        if (b.done[t]) continue;
                        b.current = t;
                        swapcontext(&b.sched, &b.ctx[t]);
                        if (b.done[t]) --remaining;
                    }
                    if (remaining && !b.progress) {
                        std::fprintf(stderr, "ttsim: deadlock in block (%u,%u,%u): %d threads wait at a barrier "
                                     "the others never reach\n", x, y, z, remaining);
                        return 1;
                    }
                }
            }
    return 0;
}
}  // namespace ttsim
"""

_SIM_TYPES = {"u64": ("uint64_t", "Q"), "f32": ("float", "f"), "f64": ("double", "d"), "u8": ("uint8_t", "B")}


def sim_wrappers(signatures: dict[str, list[str]]) -> str:
    """C++ launchers ``launch_<kernel>(gx, gy, gz, bx, packed_args)``, one per kernel.

    Each unpacks the argument bytes exactly as pycuda packed them (native struct layout) and
    calls the kernel through a declaration with ABI-equivalent parameter types (pointers and
    int64 as uint64_t, the View struct as an 8-aligned blob of its size).
    """
    out, blobs = [], set()
    for name, params in signatures.items():
        types_, items = [], []
        for p in params:
            blob = re.fullmatch(r"b8\[(\d+)\]", p)
            if blob:
                blobs.add(int(blob.group(1)))
                types_.append(f"Blob{blob.group(1)}")
                items.append(f"{blob.group(1)}s")
            else:
                types_.append(_SIM_TYPES[p][0])
                items.append(_SIM_TYPES[p][1])
        offsets = [struct.calcsize("@" + "".join(items[:k + 1])) - struct.calcsize("@" + it)
                   for k, it in enumerate(items)]
        fields = " ".join(f"{t} a{k};" for k, t in enumerate(types_))
        unpack = " ".join(f"std::memcpy(&a.a{k}, buf + {o}, sizeof(a.a{k}));" for k, o in enumerate(offsets))
        call = ", ".join(f"a.a{k}" for k in range(len(types_)))
        out += [f'extern "C" void {name}({", ".join(types_)});',
                f"struct Args_{name} {{ {fields} }};",
                f"static void run_{name}(void *p) {{ Args_{name} &a = *(Args_{name} *)p; {name}({call}); }}",
                f'extern "C" int launch_{name}(unsigned gx, unsigned gy, unsigned gz, unsigned bx, '
                f"const unsigned char *buf) {{ Args_{name} a; {unpack} "
                f"return ttsim::launch(gx, gy, gz, bx, run_{name}, &a); }}"]
    head = [f"struct alignas(8) Blob{n} {{ unsigned char b[{n}]; }};" for n in sorted(blobs)]
    return "\n".join(head + out) + "\n"


_SIM_LIBS: dict[str, ctypes.CDLL] = {}
_SIM_DIR: list[Path] = []


def build_simulator(source: str, signatures: dict[str, list[str]] | None) -> ctypes.CDLL:
    """The kernels of one pasted .cu source compiled for the CPU simulator (cached per source)."""
    assert signatures is not None, "the simulator needs nvcc for the kernels' signatures"
    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    if key not in _SIM_LIBS:
        import tempfile
        if not _SIM_DIR:
            _SIM_DIR.append(Path(tempfile.mkdtemp(prefix="ttsim-")))
        d = _SIM_DIR[0]
        (d / "shim.h").write_text(SIM_SHIM)
        (d / f"{key}.cpp").write_text(source)
        (d / f"{key}_launch.cpp").write_text(sim_wrappers(signatures))
        lib = d / f"lib{key}.so"
        proc = subprocess.run([GXX, "-std=c++20", "-O1", "-shared", "-fPIC", "-w", "-include", str(d / "shim.h"),
                               str(d / f"{key}.cpp"), str(d / f"{key}_launch.cpp"), "-o", str(lib)],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"the kernels do not compile as C++ for the simulator:\n{proc.stderr}"
        _SIM_LIBS[key] = ctypes.CDLL(str(lib))
    return _SIM_LIBS[key]


class FakeFunction:
    def __init__(self, gpu: FakeGPU, name: str, signature: list[str] | None, sim: ctypes.CDLL | None):
        self.gpu, self.name, self.signature, self.sim, self.fmt = gpu, name, signature, sim, None

    def prepare(self, fmt: str) -> FakeFunction:
        assert isinstance(fmt, str)
        self.fmt = fmt
        return self

    def prepared_call(self, grid: tuple, block: tuple, *args) -> None:
        assert self.fmt is not None, "prepared_call before prepare"
        assert block == (256, 1, 1), f"{self.name}: block {block}; the kernels assume 256 threads"
        assert len(grid) == 3 and all(isinstance(g, int) and g >= 1 for g in grid), grid
        assert grid[0] < 2**31 and grid[1] <= 65535 and grid[2] <= 65535, grid
        packed = struct.pack("@" + self.fmt, *args)  # what pycuda hands the driver
        if self.signature is not None:
            assert format_to_ptx(self.fmt) == self.signature, (
                f"{self.name}: launched as {self.fmt!r} = {format_to_ptx(self.fmt)}, "
                f"but the kernel takes {self.signature}")
        self.gpu.launches.append((self.name, grid, args))
        if self.sim is None:
            emulate(self.gpu, self.name, grid, args)
        else:
            launch = getattr(self.sim, f"launch_{self.name}")
            launch.argtypes = [ctypes.c_uint] * 4 + [ctypes.c_char_p]
            launch.restype = ctypes.c_int
            assert launch(*grid, block[0], packed) == 0, f"{self.name}: deadlock at a barrier"
        self.gpu.check_canaries(self.name, args)


def fake_pycuda(gpu: FakeGPU, *, init_error: Exception | None = None, device_count: int = 1,
                capability: tuple[int, int] = (9, 0), sm_count: int = 2,
                simulate: bool = False) -> dict[str, types.ModuleType]:
    """The modules ``pycuda``, ``pycuda.driver``, ``.compiler``, ``.tools`` as fakes.

    Only the pycuda API the binding uses exists here, with pycuda's signatures, so a call
    the real pycuda would not accept fails here too. A small SM count makes grid caps and
    split reductions happen on small test arrays.
    """
    pkg = types.ModuleType("pycuda")
    pkg.__path__ = []
    pkg.__spec__ = importlib.machinery.ModuleSpec("pycuda", None, is_package=True)
    drv = types.ModuleType("pycuda.driver")
    compiler = types.ModuleType("pycuda.compiler")
    tools = types.ModuleType("pycuda.tools")

    def init(flags: int = 0) -> None:
        if init_error is not None:
            raise init_error

    class device_attribute:  # noqa: N801 (pycuda's spelling)
        MULTIPROCESSOR_COUNT = "MULTIPROCESSOR_COUNT"

    class Context:
        def push(self) -> None:
            pass

        def pop(self) -> None:
            pass

        @staticmethod
        def synchronize() -> None:
            pass

        @staticmethod
        def get_device() -> Device:
            return Device(0)

    class Device:
        def __init__(self, ordinal: int):
            assert ordinal < device_count

        @staticmethod
        def count() -> int:
            return device_count

        def compute_capability(self) -> tuple[int, int]:
            return capability

        def name(self) -> str:
            return "Fake GPU"

        def retain_primary_context(self) -> Context:
            return Context()

        def get_attribute(self, attr: str) -> int:
            assert attr == device_attribute.MULTIPROCESSOR_COUNT
            return sm_count

    def memcpy_htod(dest: int, src: np.ndarray) -> None:
        host = np.ascontiguousarray(src).reshape(-1).view(np.uint8)
        gpu.view(dest, np.uint8, host.size)[:] = host

    def memcpy_dtoh(dest: np.ndarray, src: int) -> None:
        assert dest.flags.c_contiguous and dest.flags.writeable
        dest.reshape(-1).view(np.uint8)[:] = gpu.view(src, np.uint8, dest.nbytes)

    def memcpy_dtod(dest: int, src: int, size: int) -> None:
        gpu.view(dest, np.uint8, size)[:] = gpu.view(src, np.uint8, size).copy()

    drv.init, drv.Device, drv.Context, drv.device_attribute = init, Device, Context, device_attribute
    drv.memcpy_htod, drv.memcpy_dtoh, drv.memcpy_dtod = memcpy_htod, memcpy_dtoh, memcpy_dtod

    class DeviceMemoryPool:
        def allocate(self, size: int) -> FakeAllocation:
            return gpu.allocate(size)

        def free_held(self) -> None:
            pass

    tools.DeviceMemoryPool = DeviceMemoryPool
    tools.clear_context_caches = lambda: None

    class SourceModule:
        def __init__(self, source: str, nvcc: str = "nvcc", options=None, keep=False, no_extern_c=False,
                     arch=None, code=None, cache_dir=None, include_dirs=()):
            assert no_extern_c, "the sources declare extern \"C\" themselves"
            assert "#include" not in source, "pasted sources must not include anything (pycuda's cache key)"
            self.signatures = _compile_to_signatures(source)
            self.sim = build_simulator(source, self.signatures) if simulate else None

        def get_function(self, name: str) -> FakeFunction:
            if self.signatures is not None and name not in self.signatures:
                raise AssertionError(f"no kernel {name!r} in this module")  # pycuda: LogicError
            return FakeFunction(gpu, name, None if self.signatures is None else self.signatures[name], self.sim)

    compiler.SourceModule = SourceModule
    pkg.driver, pkg.compiler, pkg.tools = drv, compiler, tools
    return {"pycuda": pkg, "pycuda.driver": drv, "pycuda.compiler": compiler, "pycuda.tools": tools}


def import_backend_with(monkeypatch: pytest.MonkeyPatch, modules: dict) -> types.ModuleType:
    """Import tinytorch.backend_cuda afresh with ``modules`` standing in for pycuda.

    Returns the module; monkeypatch puts sys.modules (and the package attribute) back at
    the end of the test, so the device registry never sees this copy.
    """
    for key in [k for k in sys.modules if k == "pycuda" or k.startswith("pycuda.")]:
        monkeypatch.delitem(sys.modules, key)
    for key, mod in modules.items():
        monkeypatch.setitem(sys.modules, key, mod)
    monkeypatch.setitem(sys.modules, "tinytorch.backend_cuda", None)  # records what to restore
    monkeypatch.delitem(sys.modules, "tinytorch.backend_cuda")
    monkeypatch.setattr(tinytorch, "backend_cuda", None, raising=False)
    return importlib.import_module("tinytorch.backend_cuda")


# --- kernel emulation (numpy), one branch per kernel family ----------------------------------------
def _parse_view(raw: bytes) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    v = np.frombuffer(raw, dtype=np.int64)
    ndim, offset, dims = int(v[0]), int(v[1]), (len(v) - 2) // 2
    assert 0 <= ndim <= dims
    shape, strides = tuple(int(x) for x in v[2:2 + ndim]), tuple(int(x) for x in v[2 + dims:2 + dims + ndim])
    assert all(n >= 2 for n in shape), f"size-0/1 axes should have been dropped: {shape}"
    return offset, shape, strides


def _positions(offset: int, shape: tuple, strides: tuple) -> np.ndarray:
    pos = np.full(shape, offset, dtype=np.int64)
    for axis, (n, s) in enumerate(zip(shape, strides)):
        pos += (np.arange(n, dtype=np.int64) * s).reshape((n,) + (1,) * (len(shape) - axis - 1))
    return pos.reshape(-1)


def _reduce_segment(op: str, vals: np.ndarray, idx: np.ndarray):
    if op == "sum":
        return (vals.any() if vals.dtype == np.bool_ else vals.sum(dtype=vals.dtype)), 0
    nan = vals != vals
    if op in ("max", "min"):
        if nan.any():
            return vals[nan][0], 0
        return (vals.max() if op == "max" else vals.min()), 0
    if nan.any():
        cand = nan
    else:
        best = vals.max() if op == "argmax" else vals.min()
        cand = vals == best
    k = np.argmin(np.where(cand, idx, np.iinfo(np.int64).max))
    return vals[k], idx[k]


def emulate(gpu: FakeGPU, name: str, grid: tuple, args: tuple) -> None:
    if name.startswith("cast_"):
        src, dst = name[len("cast_"):].split("_to_")
        a, out, n = args
        with np.errstate(all="ignore"):  # NaN/inf -> int64 is INT64_MIN, as the kernel makes it
            ref.cast(gpu.view(a, src, n), gpu.view(out, dst, n))
        return
    kind, dt = name.rsplit("_", 1)
    if kind == "fill":
        out, n, value = args
        gpu.view(out, dt, n)[:] = np.asarray(value).astype(dt)
    elif kind in ("compact", "ewise_setitem", "scalar_setitem"):
        if kind == "scalar_setitem":
            out, n, raw, value = args
        else:
            a, out, n, raw = args
        offset, shape, strides = _parse_view(raw)
        assert n == int(np.prod(shape)), (n, shape)
        pos = _positions(offset, shape, strides)
        assert pos.min() >= 0, "a view position below the buffer's start"
        if kind == "compact":
            gpu.view(out, dt, n)[:] = gpu.view(a, dt, int(pos.max()) + 1)[pos]
        elif kind == "ewise_setitem":
            gpu.view(out, dt, int(pos.max()) + 1)[pos] = gpu.view(a, dt, n)
        else:
            gpu.view(out, dt, int(pos.max()) + 1)[pos] = np.asarray(value).astype(dt)
    elif kind == "where":
        c, a, b, out, n = args
        ref.where(gpu.view(c, np.bool_, n), gpu.view(a, dt, n), gpu.view(b, dt, n), gpu.view(out, dt, n))
    elif kind.startswith("reduce_"):
        op = kind[len("reduce_"):]
        a, a_idx, out_val, out_idx, nseg, length, chunks, chunk_len, warps = args
        assert warps in (1, 2, 4, 8) and length >= 1 and chunks >= 1
        assert chunks * chunk_len >= length > (chunks - 1) * chunk_len, "chunks must cover rows, none empty"
        rows = nseg // chunks
        assert rows * chunks == nseg
        assert grid[0] * (8 // warps) >= 1
        x = gpu.view(a, dt, rows * length).reshape(rows, length)
        xi = gpu.view(a_idx, np.int64, rows * length).reshape(rows, length) if a_idx else None
        ov = gpu.view(out_val, dt, nseg) if out_val else None
        oi = gpu.view(out_idx, np.int64, nseg) if out_idx else None
        assert ov is not None or oi is not None
        for s in range(nseg):
            row, c = divmod(s, chunks)
            lo, hi = c * chunk_len, min(length, (c + 1) * chunk_len)
            idx = xi[row, lo:hi] if xi is not None else np.arange(lo, hi, dtype=np.int64)
            v, i = _reduce_segment(op, x[row, lo:hi], idx)
            if ov is not None:
                ov[s] = v
            if oi is not None:
                oi[s] = i
    elif kind == "matmul":
        a, b, out, m, n, p, batch = args
        assert grid[0] * 64 >= p, "the grid's x dimension must cover every column tile"
        A = gpu.view(a, dt, batch * m * n).reshape(batch, m, n)
        B = gpu.view(b, dt, batch * n * p).reshape(batch, n, p)
        gpu.view(out, dt, batch * m * p)[:] = np.matmul(A, B).reshape(-1)
    elif kind in ("gather", "scatter", "scatter_add"):
        a, index, out, n, size = args
        idx = gpu.view(index, np.int64, n).copy()
        ok = (idx >= 0) & (idx < size)  # the kernels skip an index outside the buffer
        if kind == "gather":
            o = gpu.view(out, dt, n)
            o[ok] = gpu.view(a, dt, size)[idx[ok]]
        elif kind == "scatter":
            gpu.view(out, dt, size)[idx[ok]] = gpu.view(a, dt, n)[ok]
        else:
            o = gpu.view(out, dt, size)
            if dt == "bool":
                o[idx[ok & gpu.view(a, dt, n)]] = True
            else:
                np.add.at(o, idx[ok], gpu.view(a, dt, n)[ok])
    elif kind in ("scatter_mul", "scatter_max", "scatter_min"):
        a, index, out, n, size = args
        idx = gpu.view(index, np.int64, n).copy()
        ok = (idx >= 0) & (idx < size)
        ufunc = {"scatter_mul": np.multiply, "scatter_max": np.maximum, "scatter_min": np.minimum}[kind]
        ufunc.at(gpu.view(out, dt, size), idx[ok], gpu.view(a, dt, n)[ok])
    elif kind.startswith(("ewise_", "scalar_")):
        family, op = kind.split("_", 1)
        fn = getattr(ref, kind)
        if family == "ewise" and op in interface.BINARY_OPS + interface.MORE_BINARY_OPS:
            a, b, out, n = args
            out_dt = np.bool_ if op in interface.COMPARISON_OPS else dt
            fn(gpu.view(a, dt, n), gpu.view(b, dt, n), gpu.view(out, out_dt, n))
        elif family == "ewise":
            a, out, n = args
            fn(gpu.view(a, dt, n), gpu.view(out, dt, n))
        else:
            a, out, n, s = args
            out_dt = np.bool_ if op in interface.COMPARISON_OPS else dt
            fn(gpu.view(a, dt, n), np.asarray(s).astype(dt), gpu.view(out, out_dt, n))
    else:
        raise AssertionError(f"no emulation for kernel {name}")


# --- the two targets ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fake_gpu():
    return FakeGPU()


@pytest.fixture(scope="module")
def emulated(fake_gpu):
    """The real binding over the fake pycuda, kernels emulated in numpy (see the module docstring)."""
    with pytest.MonkeyPatch.context() as mp:
        mod = import_backend_with(mp, fake_pycuda(fake_gpu))
    return mod


@pytest.fixture(scope="module")
def simulated():
    """The real binding over the fake pycuda, running the real kernels in the CPU simulator."""
    if NVCC is None or GXX is None:
        pytest.skip("the CUDA-on-CPU simulator needs nvcc (kernel signatures) and g++")
    with pytest.MonkeyPatch.context() as mp:
        mod = import_backend_with(mp, fake_pycuda(FakeGPU(), sm_count=1, simulate=True))
    return mod


@pytest.fixture(params=["emulated", "simulated", "gpu"])
def cuda(request):
    """The CUDA backend module: emulated and simulated everywhere, the real one where a GPU exists."""
    if request.param != "gpu":
        return request.getfixturevalue(request.param)
    reason = unavailable_reason("cuda")
    if reason:
        pytest.skip(reason)
    from tinytorch.ndarray import get_backend
    return get_backend("cuda")


# =====================================================================================================
# 2. clean degradation
# =====================================================================================================
def test_without_cuda_tinytorch_imports_and_says_why():
    reason = unavailable_reason("cuda")
    if reason is None:
        pytest.skip("cuda is available on this machine")
    proc = subprocess.run([sys.executable, "-c", "import tinytorch, sys; "
                           "assert 'tinytorch.backend_cuda' not in sys.modules"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    from tinytorch.ndarray import array, available, is_available
    assert is_available("cuda") is False
    assert "cuda" not in available() and "cuda" not in tinytorch.backends.available()
    assert any(word in reason for word in ("pycuda", "driver", "GPU", "nvcc")), reason
    with pytest.raises(RuntimeError, match="device 'cuda' is not available: .+"):
        array([1.0, 2.0], device="cuda")
    if importlib.util.find_spec("tinytorch.cuda") is not None:  # tt.cuda, written with the Tensor layer
        assert importlib.import_module("tinytorch.cuda").is_available() is False


def test_no_pycuda_says_how_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pycuda" else real_find_spec(name, *a))
    with pytest.raises(ImportError, match=r"pycuda is not installed: pip install 'tinytorch\[cuda\]'"):
        import_backend_with(monkeypatch, {})


def test_pycuda_without_driver_library(monkeypatch):
    modules = fake_pycuda(FakeGPU())
    modules["pycuda.driver"] = None  # "import pycuda.driver" raises ImportError, as without libcuda.so
    with pytest.raises(ImportError, match="cannot load the NVIDIA driver library"):
        import_backend_with(monkeypatch, modules)


def test_no_driver(monkeypatch):
    modules = fake_pycuda(FakeGPU(), init_error=RuntimeError("cuInit failed: no CUDA-capable device is detected"))
    with pytest.raises(ImportError, match="no usable NVIDIA driver or GPU: cuInit failed"):
        import_backend_with(monkeypatch, modules)


def test_no_gpu(monkeypatch):
    with pytest.raises(ImportError, match="no CUDA GPU found"):
        import_backend_with(monkeypatch, fake_pycuda(FakeGPU(), device_count=0))


def test_old_gpu(monkeypatch):
    with pytest.raises(ImportError, match="compute capability 5.2"):
        import_backend_with(monkeypatch, fake_pycuda(FakeGPU(), capability=(5, 2)))


def test_no_nvcc(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    monkeypatch.setenv("CUDA_HOME", "/nonexistent")
    monkeypatch.setenv("CUDA_PATH", "/nonexistent")
    real_access = __import__("os").access
    monkeypatch.setattr("os.access", lambda p, m: False if str(p).endswith("nvcc") else real_access(p, m))
    with pytest.raises(ImportError, match="nvcc"):
        import_backend_with(monkeypatch, fake_pycuda(FakeGPU()))


def test_fake_import_leaves_the_registry_alone(emulated):
    from tinytorch.ndarray import devices
    assert emulated.name == "cuda"
    assert sys.modules.get("tinytorch.backend_cuda") is not emulated
    assert devices._loaded.get("cuda") is not emulated
    assert not any(isinstance(m, types.ModuleType) and m.__spec__ and m.__spec__.origin is None
                   and k.startswith("pycuda") for k, m in sys.modules.items()), "a fake pycuda module leaked"


# =====================================================================================================
# 3. the backend against the numpy backend
# =====================================================================================================
def _dt(dtype):
    return from_numpy_dtype(np.dtype(dtype))


def data(rng, n, dtype, kind="normal"):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(n) < 0.5
    if dtype == np.int64:
        lo, hi = {"normal": (-40, 40), "positive": (1, 9), "exponent": (0, 5)}[kind]
        return rng.integers(lo, hi, n, dtype=np.int64)
    x = {"normal": lambda: rng.standard_normal(n) * 3, "positive": lambda: rng.random(n) * 4 + 0.1,
         "exponent": lambda: rng.random(n) * 4 - 2}[kind]()
    return x.astype(dtype)


def specials(x):
    """x with NaN, inf, -inf and -0.0 spread through it (float arrays of 8 or more)."""
    if x.dtype.kind == "f" and x.size >= 8:
        x = x.copy()
        x[np.arange(4) * (x.size // 4) + 1] = [np.nan, np.inf, -np.inf, -0.0]
    return x


def host(be, buf):
    return be.to_numpy(buf, (buf.size,), (1,), 0)


def same(got, want, rtol=0.0):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if rtol and got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-2, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


ULP = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-14}


def test_every_interface_function_is_callable(cuda):
    missing = [n for n in interface.interface_functions() if not callable(getattr(cuda, n, None))]
    assert not missing
    assert cuda.name == "cuda"


def test_every_optional_function_is_defined(cuda):
    """No CUDA kernel exists yet for the optional fast paths: each is an explicit None."""
    for name in interface.optional_functions():
        assert hasattr(cuda, name), name
        assert getattr(cuda, name) is None or callable(getattr(cuda, name)), name


@pytest.mark.parametrize("name", ["ewise_add", "ewise_pow", "ewise_maximum", "scalar_mul", "scalar_rsub",
                                  "ewise_exp", "ewise_relu", "ewise_sigmoid"])
def test_elementwise_out_may_be_an_input(cuda, rng, name):
    """The interface guarantees ``out`` may be ``a`` (or ``b``): every element is read before it is written."""
    a, b = (rng.random(5000) * 2 + 0.5).astype(np.float32), (rng.random(5000) * 4 - 2).astype(np.float32)
    fn, binary = getattr(cuda, name), name[6:] in interface.BINARY_OPS and name.startswith("ewise_")
    args = (cuda.from_numpy(b),) if binary else (1.5,) if name.startswith("scalar") else ()
    separate = cuda.alloc(a.size, _dt(np.float32))
    fn(cuda.from_numpy(a), *args, separate)
    x = cuda.from_numpy(a)
    fn(x, *args, x)
    same(host(cuda, x), host(cuda, separate))
    if binary:
        fn(cuda.from_numpy(a), args[0], args[0])
        same(host(cuda, args[0]), host(cuda, separate))


# --- memory ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_from_numpy_to_numpy_alloc(cuda, rng, dtype, n):
    x = data(rng, n, dtype)
    buf = cuda.from_numpy(x)
    assert buf.size == n and buf.dtype == np.dtype(dtype)
    same(host(cuda, buf), x)
    empty = cuda.alloc(n, _dt(dtype))
    assert empty.size == n and empty.dtype == np.dtype(dtype)
    scalar = cuda.from_numpy(np.asarray(x[:1].reshape(()) if n else np.zeros((), dtype)))
    assert scalar.size == 1 and host(cuda, scalar).tolist() == (x[:1].tolist() if n else [np.zeros((), dtype).item()])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("value", [0, 1, -3, 2.75, True, np.float64(-1.5), np.int64(7)])
def test_fill(cuda, dtype, value):
    r, c = ref.alloc(1000, _dt(dtype)), cuda.alloc(1000, _dt(dtype))
    ref.fill(r, value)
    cuda.fill(c, value)
    same(host(cuda, c), r)


def test_memory_errors(cuda):
    with pytest.raises(ValueError):
        cuda.alloc(-1, _dt(np.float32))
    with pytest.raises(TypeError):
        cuda.alloc(3, np.int32)
    with pytest.raises(TypeError):
        cuda.from_numpy(np.zeros(3, np.complex64))
    with pytest.raises(TypeError):
        cuda.ewise_add(np.zeros(4, np.float32), cuda.alloc(4, _dt(np.float32)), cuda.alloc(4, _dt(np.float32)))
    with pytest.raises(OverflowError):
        cuda.fill(cuda.alloc(2, _dt(np.int64)), 2**70)
    with pytest.raises(ValueError):
        cuda.fill(cuda.alloc(2, _dt(np.int64)), float("nan"))


# --- strided views --------------------------------------------------------------------------------
# (buffer size, shape, strides, offset): transposes, broadcasts, flips, steps, offsets, 0-d, empty
VIEWS = [
    (12, (3, 4), (4, 1), 0),
    (20, (3, 4), (4, 1), 5),
    (12, (4, 3), (1, 4), 0),
    (12, (2, 3, 2), (6, 1, 3), 0),
    (5, (3, 5), (0, 1), 0),
    (5, (5, 3), (1, 0), 0),
    (1, (4, 1, 3), (0, 7, 0), 0),
    (10, (10,), (-1,), 9),
    (20, (2, 5), (-10, -2), 19),
    (24, (2, 3, 4), (-12, -4, -1), 23),
    (30, (2, 2, 3), (15, 5, 2), 3),
    (7, (), (), 4),
    (7, (0,), (1,), 0),
    (7, (3, 0, 2), (5, 100, -4), 2),
    (240, (5, 4, 3, 2), (1, 5, 20, 60), 0),
    (100_000, (400, 125), (250, 2), 1),
    (1, (300, 300), (0, 0), 0),
    (2**18, (2,) * 18, tuple(2**k for k in range(18)), 0),  # 18 axes, no two mergeable
]
VIEW_IDS = [str(v[1:])[:60] for v in VIEWS]


def _too_many_axes(view) -> bool:
    return len([n for n in view[1] if n != 1]) > 16


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("view", VIEWS, ids=VIEW_IDS)
def test_compact_and_to_numpy(cuda, rng, dtype, view):
    size, shape, strides, offset = view
    x = data(rng, size, dtype)
    ra, ca = ref.from_numpy(x), cuda.from_numpy(x)
    n = interface.prod(shape)
    ro, co = ref.alloc(n, _dt(dtype)), cuda.alloc(n, _dt(dtype))
    ref.compact(ra, ro, shape, strides, offset)
    if _too_many_axes(view):  # a documented limit of the CUDA backend (TT_MAX_DIMS)
        with pytest.raises(ValueError, match="at most 16"):
            cuda.compact(ca, co, shape, strides, offset)
        return
    cuda.compact(ca, co, shape, strides, offset)
    same(host(cuda, co), ro)
    same(cuda.to_numpy(ca, shape, strides, offset), ref.to_numpy(ra, shape, strides, offset))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("view", [v for v in VIEWS if (0 not in v[2] or interface.prod(v[1]) <= 1)
                                  and not _too_many_axes(v)], ids=str)
def test_ewise_and_scalar_setitem(cuda, rng, dtype, view):
    size, shape, strides, offset = view
    base, src = data(rng, size, dtype), data(rng, interface.prod(shape), dtype)
    ro, co = ref.from_numpy(base), cuda.from_numpy(base)
    ref.ewise_setitem(ref.from_numpy(src), ro, shape, strides, offset)
    cuda.ewise_setitem(cuda.from_numpy(src), co, shape, strides, offset)
    same(host(cuda, co), ro)
    for value in (5, True, -2.5):
        ref.scalar_setitem(value, ro, shape, strides, offset)
        cuda.scalar_setitem(value, co, shape, strides, offset)
        same(host(cuda, co), ro)


def test_setitem_and_compact_on_one_buffer(cuda):
    """Reading and writing one buffer behaves as if the source were copied first (x[::-1] = x)."""
    x = np.arange(10, dtype=np.float32)
    r, c = ref.from_numpy(x), cuda.from_numpy(x)
    ref.ewise_setitem(r.copy(), r, (10,), (-1,), 9)
    cuda.ewise_setitem(c, c, (10,), (-1,), 9)
    same(host(cuda, c), r)
    r, c = ref.from_numpy(x), cuda.from_numpy(x)
    ref.compact(r.copy(), r, (10,), (-1,), 9)
    cuda.compact(c, c, (10,), (-1,), 9)
    same(host(cuda, c), r)


def test_views_outside_the_buffer_raise_index_error(cuda):
    a, out = cuda.alloc(10, _dt(np.float32)), cuda.alloc(4, _dt(np.float32))
    for shape, strides, offset in [((4,), (3,), 1), ((2, 2), (9, 1), 0), ((4,), (-1,), 2), ((4,), (1,), -1),
                                   ((4,), (0,), 10), ((2, 2), (2**62, 1), 0), ((2, 2), (-(2**64), 1), 0)]:
        with pytest.raises(IndexError):
            cuda.compact(a, out, shape, strides, offset)
    with pytest.raises(IndexError):
        cuda.to_numpy(a, (11,), (1,), 0)
    with pytest.raises(IndexError):
        cuda.ewise_setitem(out, a, (2, 2), (5, 5), 0)
    with pytest.raises(IndexError):
        cuda.scalar_setitem(1.0, a, (3, 3), (-4, 1), 5)
    with pytest.raises(ValueError):
        cuda.compact(a, out, (2, 2), (1,), 0)
    with pytest.raises(ValueError):
        cuda.compact(a, cuda.alloc(3, _dt(np.float32)), (2, 2), (2, 1), 0)
    with pytest.raises(TypeError):
        cuda.compact(a, cuda.alloc(4, _dt(np.int64)), (4,), (1,), 0)
    cuda.compact(a, out, (4, 1), (1, 2**80), 0)  # an axis of length 1 is never stepped
    cuda.compact(a, cuda.alloc(0, _dt(np.float32)), (0, 5), (2**70, 2**70), 2**70)  # empty: nothing read


# --- elementwise ----------------------------------------------------------------------------------
def _applies(op, dtype):
    dtype = np.dtype(dtype)
    if op in interface.COMPARISON_OPS:
        return True
    if op == "div":
        return dtype.kind == "f"
    return dtype != np.bool_


def _inputs(rng, op, dtype, n):
    a = data(rng, n, dtype, "positive" if op == "pow" else "normal")
    b = data(rng, n, dtype, "exponent" if op == "pow" else "normal")
    if op != "pow":
        a, b = specials(a), specials(b[::-1].copy())
        b[: n // 3] = a[: n // 3]  # ties
    return a, b


@pytest.mark.parametrize("n", [0, 1, 1001, 40_000])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("op", interface.BINARY_OPS)
def test_binary(cuda, rng, op, dtype, n):
    a, b = _inputs(rng, op, dtype, n)
    out_dt = np.bool_ if op in interface.COMPARISON_OPS else dtype
    ca, cb, co = cuda.from_numpy(a), cuda.from_numpy(b), cuda.alloc(n, _dt(out_dt))
    if not _applies(op, dtype):
        with pytest.raises(TypeError):
            getattr(cuda, f"ewise_{op}")(ca, cb, co)
        with pytest.raises(TypeError):
            getattr(cuda, f"scalar_{op}")(ca, 1, co)
        return
    ro = ref.alloc(n, _dt(out_dt))
    tol = ULP.get(np.dtype(dtype), 0.0) if op == "pow" else 0.0
    getattr(ref, f"ewise_{op}")(ref.from_numpy(a), ref.from_numpy(b), ro)
    getattr(cuda, f"ewise_{op}")(ca, cb, co)
    same(host(cuda, co), ro, tol)
    scalars = {"f": [2.5, -0.25, 0, np.float64(1e-3)], "i": [3, -2, 0], "b": [True, False]}[np.dtype(dtype).kind]
    for s in scalars:
        if op == "pow" and np.dtype(dtype).kind == "i" and s < 0:
            continue
        getattr(ref, f"scalar_{op}")(ref.from_numpy(a), s, ro)
        getattr(cuda, f"scalar_{op}")(ca, s, co)
        same(host(cuda, co), ro, tol)


@pytest.mark.parametrize("n", [0, 1, 1001])
@pytest.mark.parametrize("dtype", ARITH, ids=DTYPE_IDS[:3])
@pytest.mark.parametrize("op", interface.REVERSED_SCALAR_OPS)
def test_scalar_reversed(cuda, rng, op, dtype, n):
    a = data(rng, n, dtype, "exponent" if op == "pow" else "positive")
    ca, co = cuda.from_numpy(a), cuda.alloc(n, _dt(dtype))
    if not _applies(op, dtype):
        with pytest.raises(TypeError):
            getattr(cuda, f"scalar_r{op}")(ca, 2, co)
        return
    ro = ref.alloc(n, _dt(dtype))
    for s in (2, 0.5, 3) if np.dtype(dtype).kind == "f" else (2, -3, 0):
        getattr(ref, f"scalar_r{op}")(ref.from_numpy(a), s, ro)
        getattr(cuda, f"scalar_r{op}")(ca, s, co)
        same(host(cuda, co), ro, ULP.get(np.dtype(dtype), 0.0) if op == "pow" else 0.0)


def test_integer_arithmetic_wraps_like_numpy(cuda):
    big = np.array([2**62, -(2**63), 2**63 - 1, 3], dtype=np.int64)
    ra, ca = ref.from_numpy(big), cuda.from_numpy(big)
    ro, co = ref.alloc(4, _dt(np.int64)), cuda.alloc(4, _dt(np.int64))
    for op in ("add", "sub", "mul", "pow"):
        getattr(ref, f"scalar_{op}")(ra, 3, ro)
        getattr(cuda, f"scalar_{op}")(ca, 3, co)
        same(host(cuda, co), ro)
    for fn in ("neg", "abs"):
        getattr(ref, f"ewise_{fn}")(ra, ro)
        getattr(cuda, f"ewise_{fn}")(ca, co)
        same(host(cuda, co), ro)


def test_integer_pow_with_negative_exponent_raises(cuda):
    a, out = cuda.from_numpy(np.array([1, 2, 3], np.int64)), cuda.alloc(3, _dt(np.int64))
    neg = cuda.from_numpy(np.array([1, -2, 0], np.int64))
    for call in (lambda: cuda.ewise_pow(a, neg, out), lambda: cuda.scalar_pow(a, -1, out),
                 lambda: cuda.scalar_rpow(neg, 2, out)):
        with pytest.raises(ValueError, match="negative integer powers"):
            call()
    cuda.ewise_pow(a, a, out)
    assert host(cuda, out).tolist() == [1, 4, 27]


# --- the further binary ops (interface.MORE_BINARY_OPS) and bitwise_not ------------------------------
@pytest.mark.parametrize("n", [0, 1, 1001])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("op", interface.MORE_BINARY_OPS)
def test_more_binary_ops(cuda, rng, op, dtype, n):
    from more_binary_cases import applies, binary_inputs, nonzero, scalars
    a, b = binary_inputs(rng, op, dtype, n)
    ca, cb, co = cuda.from_numpy(a), cuda.from_numpy(b), cuda.alloc(n, _dt(dtype))
    if not applies(op, dtype):
        for kind, arg in (("ewise_", cb), ("scalar_", 1), ("scalar_r", 1)):
            with pytest.raises(TypeError):
                getattr(cuda, f"{kind}{op}")(ca, arg, co)
        return
    tol = ULP.get(np.dtype(dtype), 0.0) if op == "atan2" else 0.0  # the GPU's atan2 is not numpy's
    ro = ref.alloc(n, _dt(dtype))
    getattr(ref, f"ewise_{op}")(ref.from_numpy(a), ref.from_numpy(b), ro)
    getattr(cuda, f"ewise_{op}")(ca, cb, co)
    same(host(cuda, co), ro, tol)
    d = nonzero(a)
    rd, cd = ref.from_numpy(d), cuda.from_numpy(d)
    for s in scalars(op, dtype):
        getattr(ref, f"scalar_{op}")(ref.from_numpy(a), s, ro)
        getattr(cuda, f"scalar_{op}")(ca, s, co)
        same(host(cuda, co), ro, tol)
        getattr(ref, f"scalar_r{op}")(rd, s, ro)
        getattr(cuda, f"scalar_r{op}")(cd, s, co)
        same(host(cuda, co), ro, tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_bitwise_not(cuda, rng, dtype):
    x = data(rng, 1001, dtype)
    cx, co = cuda.from_numpy(x), cuda.alloc(x.size, _dt(dtype))
    if np.dtype(dtype).kind not in "ib":
        with pytest.raises(TypeError):
            cuda.ewise_bitwise_not(cx, co)
        return
    cuda.ewise_bitwise_not(cx, co)
    same(host(cuda, co), ~x)


def test_integer_division_by_zero_raises_before_the_launch(cuda):
    a, zero_at_2 = cuda.from_numpy(np.array([7, -7, 5], np.int64)), cuda.from_numpy(np.array([2, 3, 0], np.int64))
    out = cuda.from_numpy(np.array([11, 11, 11], np.int64))
    for op in interface.DIVISION_OPS:
        for kind, args in (("ewise_", (a, zero_at_2)), ("scalar_", (a, 0)), ("scalar_r", (zero_at_2, 5))):
            with pytest.raises(ZeroDivisionError):
                getattr(cuda, f"{kind}{op}")(*args, out)
        assert host(cuda, out).tolist() == [11, 11, 11]
    cuda.ewise_floor_divide(a, a, out)  # no zero: it runs
    assert host(cuda, out).tolist() == [1, 1, 1]


@pytest.mark.parametrize("n", [0, 1, 1001, 40_000])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("fn", interface.UNARY_OPS)
def test_unary(cuda, rng, fn, dtype, n):
    x = data(rng, n, dtype, "positive" if fn in ("log", "sqrt") else "normal")
    if np.dtype(dtype).kind == "f":
        x = specials(x)
        if fn == "sigmoid" and n > 10:
            x[-4:] = [-1000, 1000, -89, 89]
    ca, co = cuda.from_numpy(x), cuda.alloc(n, _dt(dtype))
    if np.dtype(dtype) == np.bool_ or (fn in interface.UNARY_OPS_FLOAT and np.dtype(dtype).kind != "f"):
        with pytest.raises(TypeError):
            getattr(cuda, f"ewise_{fn}")(ca, co)
        return
    ro = ref.alloc(n, _dt(dtype))
    getattr(ref, f"ewise_{fn}")(ref.from_numpy(x), ro)
    getattr(cuda, f"ewise_{fn}")(ca, co)
    exact = fn in interface.UNARY_OPS_ANY or fn == "sqrt"
    same(host(cuda, co), ro, 0.0 if exact else ULP[np.dtype(dtype)])


@pytest.mark.parametrize("src", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("dst", DTYPES, ids=DTYPE_IDS)
def test_cast(cuda, rng, src, dst):
    x = data(rng, 1001, src)
    if np.dtype(src).kind == "f":
        x = x * 1e3 + 0.5
        x[:8] = [-0.0, 2.9999, -2.9999, 1e-30, np.nan, np.inf, -np.inf, 1e30]
    ro, co = ref.alloc(x.size, _dt(dst)), cuda.alloc(x.size, _dt(dst))
    with np.errstate(all="ignore"):
        ref.cast(ref.from_numpy(x), ro)
    cuda.cast(cuda.from_numpy(x), co)
    same(host(cuda, co), ro)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cond_dtype", [np.bool_, np.float32], ids=["bool_cond", "float_cond"])
def test_where(cuda, rng, dtype, cond_dtype):
    n = 3001
    cond = (rng.random(n) < 0.3).astype(cond_dtype)
    a, b = data(rng, n, dtype), data(rng, n, dtype)
    ro, co = ref.alloc(n, _dt(dtype)), cuda.alloc(n, _dt(dtype))
    ref.where(ref.from_numpy(cond), ref.from_numpy(a), ref.from_numpy(b), ro)
    cuda.where(cuda.from_numpy(cond), cuda.from_numpy(a), cuda.from_numpy(b), co)
    same(host(cuda, co), ro)


def test_elementwise_errors(cuda):
    f = lambda n, dt=np.float32: cuda.alloc(n, _dt(dt))  # noqa: E731
    with pytest.raises(ValueError):
        cuda.ewise_add(f(5), f(4), f(5))
    with pytest.raises(ValueError):
        cuda.scalar_mul(f(5), 2.0, f(6))
    with pytest.raises(ValueError):
        cuda.ewise_exp(f(5), f(6))
    with pytest.raises(ValueError):
        cuda.cast(f(5), f(6, np.int64))
    with pytest.raises(ValueError):
        cuda.where(f(5, np.bool_), f(5), f(5), f(4))
    with pytest.raises(TypeError):
        cuda.ewise_add(f(5), f(5, np.float64), f(5))
    with pytest.raises(TypeError):
        cuda.ewise_add(f(5), f(5), f(5, np.float64))
    with pytest.raises(TypeError):
        cuda.ewise_eq(f(5), f(5), f(5))
    with pytest.raises(TypeError):
        cuda.where(f(5, np.bool_), f(5), f(5, np.int64), f(5))
    with pytest.raises(TypeError):
        cuda.scalar_div(f(5, np.int64), 2, f(5, np.int64))


# --- reductions --------------------------------------------------------------------------------------
# (rows, reduce_size): empty, one, short rows (a warp per row), long rows (a block per row),
# and few very long rows (split across blocks, then a second pass)
REDUCE_SHAPES = [(0, 5), (1, 1), (3, 7), (300, 33), (5, 1500), (4, 1024), (3, 20_011), (1, 100_003)]


@pytest.mark.parametrize("shape", REDUCE_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("op", interface.REDUCE_OPS)
def test_reduce(cuda, rng, op, dtype, shape):
    rows, k = shape
    x = data(rng, rows * k, dtype)
    if np.dtype(dtype) == np.int64 and op != "sum":
        x = x % 7  # many ties: the first index must win
    arg = op.startswith("arg")
    out_dt = np.int64 if arg else dtype
    ro, co = ref.alloc(rows, _dt(out_dt)), cuda.alloc(rows, _dt(out_dt))
    getattr(ref, f"reduce_{op}")(ref.from_numpy(x), ro, k)
    getattr(cuda, f"reduce_{op}")(cuda.from_numpy(x), co, k)
    if op == "sum" and np.dtype(dtype).kind == "f":  # different summation order: relative to sum |x|
        scale = np.abs(x.astype(np.float64)).reshape(rows, k).sum(axis=1)
        tol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-13
        assert np.all(np.abs(host(cuda, co).astype(np.float64) - ro) <= tol * scale + 1e-30)
    else:
        same(host(cuda, co), ro)


@pytest.mark.parametrize("shape", [(4, 5), (3, 3000), (1, 100_003), (200, 4)], ids=str)
@pytest.mark.parametrize("dtype", FLOATS, ids=DTYPE_IDS[:2])
@pytest.mark.parametrize("op", ["max", "min", "argmax", "argmin"])
def test_reduce_nan_and_inf(cuda, rng, op, dtype, shape):
    """NaN wins max/min, arg* return the first NaN's index, inf/-inf are ordinary values."""
    rows, k = shape
    x = data(rng, rows * k, dtype).reshape(rows, k)
    x[0, k // 2] = x[0, k - 1] = np.nan
    x[-1, 0], x[-1, k // 3] = np.inf, -np.inf
    ro = ref.alloc(rows, _dt(np.int64 if op.startswith("arg") else dtype))
    co = cuda.alloc(rows, _dt(np.int64 if op.startswith("arg") else dtype))
    getattr(ref, f"reduce_{op}")(ref.from_numpy(x.reshape(-1)), ro, k)
    getattr(cuda, f"reduce_{op}")(cuda.from_numpy(x.reshape(-1)), co, k)
    same(host(cuda, co), ro)


def test_reduce_edge_cases(cuda):
    co = cuda.alloc(6, _dt(np.float32))
    cuda.reduce_sum(cuda.alloc(0, _dt(np.float32)), co, 0)
    same(host(cuda, co), np.zeros(6, np.float32))
    x = cuda.from_numpy(np.array([1, 3, 3, 0, 3, -1, -1, 2], np.float32))
    out = cuda.alloc(2, _dt(np.int64))
    cuda.reduce_argmax(x, out, 4)
    assert host(cuda, out).tolist() == [1, 0]
    cuda.reduce_argmin(x, out, 4)
    assert host(cuda, out).tolist() == [3, 1]
    with pytest.raises(ValueError, match="empty axis"):
        cuda.reduce_max(cuda.alloc(0, _dt(np.float32)), cuda.alloc(3, _dt(np.float32)), 0)
    with pytest.raises(ValueError):
        cuda.reduce_sum(cuda.alloc(10, _dt(np.float32)), cuda.alloc(3, _dt(np.float32)), 3)
    with pytest.raises(TypeError):
        cuda.reduce_argmax(cuda.alloc(6, _dt(np.float32)), cuda.alloc(2, _dt(np.float32)), 3)
    with pytest.raises(TypeError):
        cuda.reduce_sum(cuda.alloc(6, _dt(np.float32)), cuda.alloc(2, _dt(np.float64)), 3)


def test_long_rows_are_reduced_in_two_passes(emulated, fake_gpu, rng):
    """Few long rows are split across blocks: pass 1 writes a partial per chunk, pass 2 reduces them."""
    x = emulated.from_numpy(data(rng, 100_003, np.float32))
    out = emulated.alloc(1, _dt(np.int64))
    start = len(fake_gpu.launches)
    emulated.reduce_argmax(x, out, 100_003)
    launches = [(name, args[4:8]) for name, _, args in fake_gpu.launches[start:]]
    assert [name for name, _ in launches] == ["reduce_argmax_float32"] * 2
    (_, (nseg1, length1, chunks1, _)), (_, (nseg2, length2, chunks2, clen2)) = launches
    assert length1 == 100_003 and chunks1 > 1 and nseg1 == chunks1
    assert (nseg2, length2, chunks2, clen2) == (1, chunks1, 1, chunks1)


def test_short_rows_get_a_warp_long_rows_a_block(emulated, fake_gpu, rng):
    for k, warps in ((33, 1), (5000, 8)):
        start = len(fake_gpu.launches)
        emulated.reduce_sum(emulated.from_numpy(data(rng, 64 * k, np.float64)), emulated.alloc(64, _dt(np.float64)), k)
        (name, _, args), = fake_gpu.launches[start:]
        assert name == "reduce_sum_float64" and args[-1] == warps


# --- matmul ---------------------------------------------------------------------------------------------
MATMUL_SHAPES = [(1, 1, 1, 1), (1, 17, 33, 9), (3, 4, 5, 6), (2, 1, 64, 1), (1, 0, 3, 4), (2, 3, 0, 4),
                 (1, 65, 128, 70), (5, 31, 7, 63), (1, 130, 40, 129)]


@pytest.mark.parametrize("dtype", ARITH, ids=DTYPE_IDS[:3])
@pytest.mark.parametrize("bmnp", MATMUL_SHAPES, ids=str)
def test_matmul(cuda, rng, dtype, bmnp):
    batch, m, n, p = bmnp
    a, b = data(rng, batch * m * n, dtype), data(rng, batch * n * p, dtype)
    ro, co = ref.alloc(batch * m * p, _dt(dtype)), cuda.alloc(batch * m * p, _dt(dtype))
    ref.matmul(ref.from_numpy(a), ref.from_numpy(b), ro, m, n, p, batch)
    cuda.matmul(cuda.from_numpy(a), cuda.from_numpy(b), co, m, n, p, batch)
    rtol = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}.get(np.dtype(dtype), 0.0)
    np.testing.assert_allclose(host(cuda, co), ro, rtol=rtol, atol=rtol * np.sqrt(n + 1) * 10)


def test_matmul_out_aliasing_an_input_and_errors(cuda):
    x = np.arange(9, dtype=np.float64).reshape(3, 3)
    c = cuda.from_numpy(x)
    cuda.matmul(c, c, c, 3, 3, 3, 1)
    np.testing.assert_allclose(host(cuda, c).reshape(3, 3), x @ x)
    f = lambda n, dt=np.float32: cuda.alloc(n, _dt(dt))  # noqa: E731
    with pytest.raises(ValueError):
        cuda.matmul(f(6), f(6), f(4), 2, 3, 2, 2)
    with pytest.raises(TypeError):
        cuda.matmul(f(4), f(4, np.float64), f(4), 2, 2, 2, 1)
    with pytest.raises(TypeError):
        cuda.matmul(f(4, np.bool_), f(4, np.bool_), f(4, np.bool_), 2, 2, 2, 1)


# --- indexing --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("n", [0, 1, 1001, 30_000])
def test_gather_scatter_scatter_add(cuda, rng, dtype, n):
    size = max(n // 3, 1)
    idx = rng.integers(0, size, n)  # with repeats
    a = data(rng, size, dtype)
    ra, ca = ref.from_numpy(a), cuda.from_numpy(a)
    ro, co = ref.alloc(n, _dt(dtype)), cuda.alloc(n, _dt(dtype))
    ref.gather(ra, ref.from_numpy(idx), ro)
    cuda.gather(ca, cuda.from_numpy(idx), co)
    same(host(cuda, co), ro)

    unique = rng.permutation(size)[: min(n, size)]
    src = data(rng, n, dtype)
    ref.scatter(ref.from_numpy(src[: unique.size]), ref.from_numpy(unique), ra)
    cuda.scatter(cuda.from_numpy(src[: unique.size]), cuda.from_numpy(unique), ca)
    same(host(cuda, ca), ra)

    if np.dtype(dtype) == np.int64:
        src = src * 10**15  # wraps like numpy on overflow
    before = ra.copy()
    ref.scatter_add(ref.from_numpy(src), ref.from_numpy(idx), ra)
    cuda.scatter_add(cuda.from_numpy(src), cuda.from_numpy(idx), ca)
    if np.dtype(dtype).kind == "f":  # atomics add in any order: compare relative to the sum of |terms|
        scale = np.abs(before).astype(np.float64)
        np.add.at(scale, idx, np.abs(src))
        tol = 1e-6 if np.dtype(dtype) == np.float32 else 1e-14
        assert np.all(np.abs(host(cuda, ca).astype(np.float64) - ra) <= tol * scale + 1e-30)
    else:
        same(host(cuda, ca), ra)


@pytest.mark.parametrize("op", ["mul", "max", "min"])
@pytest.mark.parametrize("dtype", ARITH, ids=DTYPE_IDS[:3])
@pytest.mark.parametrize("n", [0, 1, 1001])
def test_scatter_mul_max_min(cuda, rng, op, dtype, n):
    """Repeated indices combine every value (compare-and-swap loops); NaN wins in max/min."""
    size = max(n // 3, 1)
    idx = rng.integers(0, size, n)
    src = data(rng, n, dtype, "positive" if op == "mul" else "normal")
    if op == "mul" and np.dtype(dtype).kind == "f":
        src = (src / 2 + 0.75).astype(dtype)  # products of ~3 factors near 1 stay finite
    if op != "mul" and np.dtype(dtype).kind == "f" and n > 1:
        src[rng.integers(0, n, 3)] = np.nan
    start = data(rng, size, dtype, "positive")
    ra, ca = ref.from_numpy(start), cuda.from_numpy(start)
    getattr(ref, f"scatter_{op}")(ref.from_numpy(src), ref.from_numpy(idx), ra)
    getattr(cuda, f"scatter_{op}")(cuda.from_numpy(src), cuda.from_numpy(idx), ca)
    same(host(cuda, ca), ra, rtol=1e-5 if op == "mul" and np.dtype(dtype) == np.float32 else 1e-13 * (op == "mul"))
    with pytest.raises(TypeError):
        getattr(cuda, f"scatter_{op}")(cuda.alloc(1, _dt(np.bool_)), cuda.from_numpy(np.zeros(1, np.int64)),
                                       cuda.alloc(1, _dt(np.bool_)))
    with pytest.raises(IndexError, match="out of range"):
        getattr(cuda, f"scatter_{op}")(ca, cuda.from_numpy(np.full(size, size, np.int64)), ca)


def test_bad_indices_raise_before_writing(cuda):
    for dt in DTYPES:
        a, out = cuda.alloc(10, _dt(dt)), cuda.alloc(3, _dt(dt))
        cuda.fill(a, 1)
        for bad in ([0, 10, 1], [-1, 0, 0], [0, 1, 2**62], [0, 1, -(2**63)]):
            idx = cuda.from_numpy(np.array(bad, np.int64))
            for fn, args in ((cuda.gather, (a, idx, out)), (cuda.scatter, (out, idx, a)),
                             (cuda.scatter_add, (out, idx, a))):
                with pytest.raises(IndexError, match="out of range"):
                    fn(*args)
            assert np.all(host(cuda, a) == 1), "nothing may be written when an index is bad"
    f = lambda n, dt=np.float32: cuda.alloc(n, _dt(dt))  # noqa: E731
    with pytest.raises(TypeError):
        cuda.gather(f(4), f(2), f(2))
    with pytest.raises(ValueError):
        cuda.gather(f(10), f(3, np.int64), f(4))
    with pytest.raises(TypeError):
        cuda.scatter_add(f(2, np.float64), f(2, np.int64), f(4))


def test_scatter_with_its_own_output_as_index(cuda):
    x = cuda.from_numpy(np.array([1, 0, 2], np.int64))
    cuda.scatter(cuda.from_numpy(np.array([100, 200, 300], np.int64)), x, x)
    assert host(cuda, x).tolist() == [200, 100, 300]


# --- the NDArray layer on the emulated device (end to end through NDArray's own calls) -----------------
def test_ndarray_program_on_the_emulated_backend(emulated, rng):
    """A small NDArray program whose device is the emulated backend gives numpy's answer."""
    from tinytorch.ndarray import NDArray, float32
    from tinytorch.ndarray.devices import Device

    dev = object.__new__(Device)  # a Device without the registry: its backend is the emulated module
    dev.type, dev.backend = "cuda", emulated
    x = rng.standard_normal((6, 5)).astype(np.float32)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    ax = NDArray(emulated.from_numpy(x.reshape(-1)), x.shape, (5, 1), 0, float32, dev)
    aw = NDArray(emulated.from_numpy(w.reshape(-1)), w.shape, (3, 1), 0, float32, dev)
    y = ((ax.T[::-1].T @ aw).relu() + 1.0).exp().sum(axis=1) / 3.0
    want = (np.exp(np.maximum(x[:, ::-1] @ w, 0) + 1.0).sum(axis=1) / 3.0).astype(np.float32)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5)
    idx = (ax.argmax(axis=1)).numpy()
    np.testing.assert_array_equal(idx, x.argmax(axis=1))
    ax[1:3, ::2] = 0.0
    x[1:3, ::2] = 0.0
    np.testing.assert_array_equal(ax.numpy(), x)


def test_benchmark_quick_mode_on_the_emulated_backend(emulated, monkeypatch, capsys):
    """benchmarks/bench_cuda.py --quick runs end to end (here on the emulated device)."""
    import importlib.util as iu

    from tinytorch.ndarray import devices
    dev = object.__new__(devices.Device)
    dev.type, dev.backend = "cuda", emulated
    monkeypatch.setitem(devices._loaded, "cuda", emulated)
    monkeypatch.setitem(devices._devices, "cuda", dev)
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_cuda.py"
    spec = iu.spec_from_file_location("bench_cuda", path)
    bench = iu.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "_reference", lambda: (None, None))
    monkeypatch.setattr(sys, "argv", ["bench_cuda.py", "--quick"])
    assert bench.main() == 0
    out = capsys.readouterr().out
    assert "GPU: Fake GPU" in out and "matmul 128x128" in out and "transpose + compact" in out


# --- the shared suites on the simulated device ----------------------------------------------------------
def run_suites_on_simulated_cuda(pytest_args: list[str]) -> int:
    """Run pytest with device "cuda" served by the simulated backend (the real kernels on the CPU).

    ``python tests/test_backend_cuda.py tests/test_ndarray.py`` runs that suite's "cuda" cases
    this way; with no arguments, every device-parametrized suite. Needs nvcc and g++.
    """
    from tinytorch.ndarray import devices
    if not pytest_args:
        pytest_args = ["tests"]
    with pytest.MonkeyPatch.context() as mp:
        mod = import_backend_with(mp, fake_pycuda(FakeGPU(), sm_count=1, simulate=True))
    devices._loaded["cuda"] = mod
    return pytest.main(["-q", "-p", "no:cacheprovider", "-k", "cuda", f"--ignore={__file__}", *pytest_args])


@pytest.mark.slow
def test_ndarray_suite_on_the_simulated_device():
    """The shared NDArray suite passes with "cuda" running the real kernels in the simulator."""
    if NVCC is None or GXX is None:
        pytest.skip("the CUDA-on-CPU simulator needs nvcc (kernel signatures) and g++")
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))  # not installed
    proc = subprocess.run([sys.executable, __file__, str(root / "tests" / "test_ndarray.py")],
                          capture_output=True, text=True, cwd=root, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], proc.stdout[-500:]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    raise SystemExit(run_suites_on_simulated_cuda(sys.argv[1:]))


# --- issue 13: a Buffer's fields cannot be changed from Python --------------------------------------
def test_buffer_fields_are_read_only(cuda):
    buf = cuda.alloc(8, _dt(np.float32))
    for field in ("ptr", "size", "dtype", "nbytes"):
        before = getattr(buf, field)
        with pytest.raises(AttributeError):
            setattr(buf, field, 10**9)
        with pytest.raises(AttributeError):
            object.__setattr__(buf, field, 10**9)
        assert getattr(buf, field) == before
    assert buf == buf and buf != cuda.alloc(8, _dt(np.float32))
