"""Lab 1 grader: flat buffers, dtypes and row-major memory."""

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.ndarray.strides as strides_module
from tinytorch.labs import check_close, check_equal, check_raises
from tinytorch.ndarray import array, zeros

TITLE = "flat buffers"
EXERCISES = {
    "1.1": "row_major_strides",
    "1.2": "flat_offset",
    "1.3": "unravel",
    "1.4": "nbytes and byte_strides",
}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {"1.1": ["tinytorch.ndarray.strides:row_major_strides"], "1.2": ["tinytorch.ndarray.strides:flat_offset"]}
SHAPES = [(5,), (2, 3), (2, 3, 4), (4, 1, 3), (3, 2, 1, 5), (1,), (7, 2, 3, 2)]


@pytest.mark.points(2, exercise="1.1", hint="walk the shape from the last axis to the first, multiplying as you go")
def test_row_major_strides_examples(lab):
    """row_major_strides on shapes from the chapter"""
    row_major_strides = lab.defined("row_major_strides")
    for shape, expected in [((2, 3, 4), (12, 4, 1)), ((5,), (1,)), ((3, 1), (1, 1)), ((), ())]:
        check_equal(row_major_strides(shape), expected, f"row_major_strides({shape})")


@pytest.mark.points(2, exercise="1.1", hint="numpy's strides are yours times the itemsize")
def test_row_major_strides_match_numpy(lab):
    """row_major_strides agrees with numpy for many shapes (incl. a zero-length axis)"""
    row_major_strides = lab.defined("row_major_strides")
    for shape in SHAPES + [(2, 0, 3)]:
        expected = tuple(s // 8 for s in np.zeros(shape, np.int64).strides) if 0 not in shape else (3, 3, 1)
        check_equal(tuple(row_major_strides(shape)), expected, f"row_major_strides({shape})")


@pytest.mark.points(2, exercise="1.1")
def test_row_major_strides_drive_ndarray(lab, monkeypatch):
    """real NDArrays built with your strides hold the right values"""
    lab.plug(monkeypatch, strides_module, "row_major_strides")
    for shape in SHAPES:
        data = np.arange(int(np.prod(shape))).reshape(shape)
        a = array(data, device="numpy")
        check_equal(a.strides, tuple(s // 8 for s in data.strides), f"array of shape {shape}: .strides")
        check_close(a.numpy(), data, f"array of shape {shape}: values read back through your strides")


@pytest.mark.points(2, exercise="1.2")
def test_flat_offset_examples(lab):
    """flat_offset on the chapter's examples"""
    flat_offset = lab.defined("flat_offset")
    check_equal(flat_offset((1, 2, 3), (12, 4, 1)), 23, "flat_offset((1, 2, 3), (12, 4, 1))")
    check_equal(flat_offset((0, 0), (3, 1)), 0, "flat_offset((0, 0), (3, 1))")
    check_equal(flat_offset((), ()), 0, "flat_offset((), ())")
    check_equal(flat_offset((2, 1), (1, 3), 5), 10, "flat_offset((2, 1), (1, 3), offset=5)",
                hint="the offset is where the view starts; add it")


@pytest.mark.points(3, exercise="1.2")
def test_flat_offset_reads_every_element(lab):
    """flat_offset finds every element of arrays and of views with odd strides"""
    flat_offset = lab.defined("flat_offset")
    rng = np.random.default_rng(1)
    for shape in SHAPES:
        data = rng.standard_normal(shape)
        base = np.ascontiguousarray(data)
        buf = base.reshape(-1)
        strides = tuple(s // 8 for s in base.strides)
        for index in np.ndindex(*shape):
            check_equal(buf[flat_offset(index, strides)], data[index], f"buffer[flat_offset({index}, {strides})]")
    # a transposed view with an offset: element (i, j) of the view is at 2 + i + 4*j
    for index in np.ndindex(4, 3):
        check_equal(flat_offset(index, (1, 4), 2), 2 + index[0] + 4 * index[1], f"flat_offset({index}, (1, 4), 2)")


@pytest.mark.points(3, exercise="1.3",
                    hint="peel off the last axis first: position % n is its index, position // n the rest")
def test_unravel_inverts_row_major_order(lab):
    """unravel(p, shape) is the p-th index in row-major order"""
    unravel = lab.defined("unravel")
    check_equal(tuple(unravel(23, (2, 3, 4))), (1, 2, 3), "unravel(23, (2, 3, 4))")
    for shape in SHAPES:
        for position, index in enumerate(np.ndindex(*shape)):
            check_equal(tuple(int(i) for i in unravel(position, shape)), index, f"unravel({position}, {shape})")


@pytest.mark.points(2, exercise="1.3")
def test_unravel_rejects_out_of_range(lab):
    """unravel raises IndexError for positions outside the array"""
    unravel = lab.defined("unravel")
    for position in (6, -1, 100):
        check_raises(IndexError, unravel, position, (2, 3), hint="check 0 <= position < size first")


@pytest.mark.points(2, exercise="1.4", hint="itemsize is the number of bytes one element takes")
def test_nbytes(lab):
    """nbytes for every dtype agrees with numpy and with real buffers"""
    nbytes = lab.defined("nbytes")
    for dtype in (tt.float32, tt.float64, tt.int64, tt.bool):
        for shape in SHAPES + [()]:
            expected = zeros(shape, dtype=dtype, device="numpy").numpy().nbytes
            check_equal(nbytes(shape, dtype), expected, f"nbytes({shape}, {dtype})")


@pytest.mark.points(2, exercise="1.4")
def test_byte_strides(lab):
    """byte_strides equals numpy's .strides for every dtype"""
    byte_strides = lab.defined("byte_strides")
    for dtype in (tt.float32, tt.float64, tt.int64, tt.bool):
        for shape in SHAPES:
            check_equal(tuple(byte_strides(shape, dtype)), np.zeros(shape, dtype.np_dtype).strides,
                        f"byte_strides({shape}, {dtype})")
