"""The op table (tinytorch/ops/table.py) is the one place an op's public names come from.

These tests fail when an op lacks its ``tt.`` function, its ``Tensor`` method where PyTorch's
Tensor has one, or a gradient test in ``tests/test_tensor_ops.py``; and when a name of the
front door or a ``Tensor`` attribute does not come from the table.
"""

from __future__ import annotations

import pytest
from test_tensor_ops import OPS

import tinytorch as tt
from tinytorch.ops.table import TABLE, Entry, exports

try:
    import torch
except ImportError:  # the PyTorch comparison is skipped without it
    torch = None


def entry_names(e: Entry) -> set[str]:
    return set(e.functions) | set(e.methods) | set(e.reflected)


def test_each_function_name_is_the_entrys_function() -> None:
    for e in TABLE:
        for name in e.functions:
            assert getattr(tt, name) is e.fn, f"tt.{name} is not the op table's {e.fn.__qualname__}"
            assert getattr(tt.ops, name) is e.fn
            assert name in tt.__all__ and name in tt.ops.__all__


def test_each_method_is_bound_to_the_entrys_function() -> None:
    for e in TABLE:
        for name in e.methods:
            attr = vars(tt.Tensor)[name]
            bound = attr.fget if isinstance(attr, property) else attr
            assert bound is e.fn, f"Tensor.{name} is not the op table's {e.fn.__qualname__}"
        for name in e.reflected:
            x = tt.tensor([[2.0, 3.0], [4.0, 5.0]], device="numpy")
            assert getattr(x, name)(x + 1).tolist() == e.fn(x + 1, x).tolist()


def test_no_name_is_bound_twice() -> None:
    seen: dict[str, str] = {}
    for e in TABLE:
        for name in [f"tt.{n}" for n in e.functions] + [f"Tensor.{n}" for n in e.methods + e.reflected]:
            assert name not in seen, f"{name} is bound by both {seen[name]} and {e.fn.__qualname__}"
            seen[name] = e.fn.__qualname__


def test_the_front_door_exports_the_table() -> None:
    assert set(exports()) <= set(tt.__all__)
    assert len(exports()) == len(set(exports()))


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_every_op_has_its_tensor_method_where_pytorch_has_one() -> None:
    missing = sorted(n for e in TABLE for n in e.functions
                     if hasattr(torch.Tensor, n) and not hasattr(tt.Tensor, n))
    assert not missing, f"PyTorch's Tensor has these methods, tinytorch's does not: {missing}"


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_every_function_is_pytorchs_or_marked_ours() -> None:
    """A ``tt.`` name that torch does not have is a typo or an invention; only these are ours."""
    ours = {"from_numpy"} - {n for n in dir(torch)}
    unknown = sorted(n for n in exports() if not hasattr(torch, n) and n not in ours)
    assert not unknown, f"not names of torch: {unknown}"


def test_every_differentiable_op_has_a_gradient_test() -> None:
    """Every entry marked differentiable is exercised, forward and backward, by a row of the op
    test table whose name is one of the entry's names (``add``) or starts with it (``add_alpha``)."""
    rows = [op.name for op in OPS if op.grad]

    def covered(e: Entry) -> bool:
        names = {n.strip("_") for n in entry_names(e)}  # "__getitem__" is tested as "getitem"
        return any(r == n or r.startswith(n + "_") for n in names for r in rows)

    tested = {e.fn for e in TABLE if covered(e)}  # an alias (swapaxes) shares its op's test
    missing = sorted(e.fn.__qualname__ for e in TABLE if e.grad and e.fn not in tested)
    assert not missing, f"differentiable ops with no row in tests/test_tensor_ops.py: {missing}"


def test_pytorchs_aliases_are_entries_of_their_own() -> None:
    """An alias is the same function under PyTorch's other name, on ``tt`` and on ``Tensor``."""
    x = tt.tensor([[1.0, -2.0], [3.0, 4.0]], device="numpy")
    for alias, name in [("subtract", "sub"), ("multiply", "mul"), ("divide", "div"), ("negative", "neg"),
                        ("clip", "clamp"), ("swapaxes", "transpose")]:
        assert getattr(tt, alias) is getattr(tt, name), alias
        assert vars(tt.Tensor)[alias] is vars(tt.Tensor)[name], alias
        assert alias in tt.__all__
    assert tt.subtract(x, 1).tolist() == (x - 1).tolist() and x.negative().tolist() == (-x).tolist()
