"""``einsum``: Einstein summation as a plan of views, sums and batched matrix products.

An equation such as ``"bij,bjk->bik"`` names every dim of every operand with a letter. The
plan, with no Python loop over elements:

1. **Parse** the equation into one list of labels per operand and one for the output. An
   ellipsis ``...`` stands for the dims no letter names; across operands these broadcast, right
   aligned, as in ``matmul``. Without ``->`` the output is the ellipsis dims, then the letters
   that occur exactly once, in alphabetical order.
2. **Diagonals**: a letter repeated within one operand (``"ii->i"``) takes that diagonal.
3. **Early sums**: a letter that occurs in one operand only and not in the output is summed
   away at once.
4. **Contract** the operands left to right, two at a time. The labels of the pair fall into
   batch labels (in both, needed later), contracted labels (in both, needed no more), and
   labels of one side only; a permute and a reshape make the pair ``(batch, left,
   contracted)`` and ``(batch, contracted, right)``, and one batched ``matmul`` multiplies
   them. (An outer product is the case with nothing contracted.)
5. **Permute** the result into the output's order.

Every step is a differentiable op, so gradients (of any order) come from the composition.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..ndarray.strides import broadcast_shapes
from ..tensor import Tensor
from .matmul import matmul
from .movement import diagonal, expand, permute, reshape
from .reduce import sum as reduce_sum
from .table import exports, op

Label = str  # a letter, or "...0", "...1", … for the dims under an ellipsis (counted from the left)


def _letters(term: str, where: str) -> list[str]:
    for c in term:
        if not c.isalpha():
            raise RuntimeError(f"einsum(): invalid subscript given at index {where}: {c!r} (subscripts must be "
                               "letters in [a-zA-Z])")
    return list(term)


def _term_labels(term: str, ndim: int | None, ellipsis_dims: int, where: str) -> list[Label]:
    """The labels of one term; ``ndim`` (the operand's) is None for the output. The ellipsis
    of an operand with ``e`` dims under it names the last ``e`` of the ``ellipsis_dims``."""
    if term.count("...") > 1 or term.replace("...", "").count(".") > 0:
        raise RuntimeError(f"einsum(): found more than one ellipsis, or a stray '.', in {term!r}")
    if "..." not in term:
        labels = _letters(term, where)
        if ndim is not None and len(labels) != ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(labels)}) does not match "
                               f"the number of dimensions ({ndim}) for operand {where} and no ellipsis was given")
        return labels
    before, after = term.split("...")
    left, right = _letters(before, where), _letters(after, where)
    covered = ellipsis_dims if ndim is None else ndim - len(left) - len(right)
    if covered < 0:
        raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(left) + len(right)}) is more "
                           f"than the number of dimensions ({ndim}) for operand {where}")
    return left + [f"...{i}" for i in range(ellipsis_dims - covered, ellipsis_dims)] + right


def parse(equation: str, ndims: Sequence[int]) -> tuple[list[list[Label]], list[Label]]:
    """The labels of each operand and of the output of ``equation`` for operands of ``ndims``."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise RuntimeError(f"einsum(): {len(terms)} operand subscripts for {len(ndims)} operands in {equation!r}")
    letters = [t.replace("...", "") for t in terms]
    ellipsis_dims = max([n - len(t) for n, t, term in zip(ndims, letters, terms) if "..." in term], default=0)
    inputs = [_term_labels(t, n, ellipsis_dims, str(i)) for i, (t, n) in enumerate(zip(terms, ndims))]
    if arrow:
        output = _term_labels(rhs, None, ellipsis_dims, "output")
        seen = set()
        for label in output:
            if label in seen:
                raise RuntimeError(f"einsum(): output subscript {label} appears more than once in the output")
            if not any(label in labels for labels in inputs):
                raise RuntimeError(f"einsum(): output subscript {label} does not appear in the equation for any "
                                   "input operand")
            seen.add(label)
    else:
        counts: dict[Label, int] = {}
        for labels in inputs:
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
        output = [f"...{i}" for i in range(ellipsis_dims)]
        output += sorted(lb for lb, c in counts.items() if c == 1 and not lb.startswith("..."))
    return inputs, output


def _take_diagonals(x: Tensor, labels: list[Label]) -> tuple[Tensor, list[Label]]:
    """``x`` with each repeated label reduced to its diagonal (moved to the last dim)."""
    while len(set(labels)) != len(labels):
        label = next(lb for lb in labels if labels.count(lb) > 1)
        first = labels.index(label)
        second = labels.index(label, first + 1)
        if x.shape[first] != x.shape[second]:
            raise RuntimeError(f"einsum(): subscript {label} is repeated for an operand but the sizes don't match, "
                               f"{x.shape[first]} != {x.shape[second]}")
        x = diagonal(x, 0, first, second)
        labels = [lb for i, lb in enumerate(labels) if i not in (first, second)] + [label]
    return x, labels


def _sum_labels(x: Tensor, labels: list[Label], drop: set[Label]) -> tuple[Tensor, list[Label]]:
    dims = tuple(i for i, lb in enumerate(labels) if lb in drop)
    if not dims:
        return x, labels
    return reduce_sum(x, dims), [lb for lb in labels if lb not in drop]


def _sizes(pairs: Sequence[tuple[Tensor, list[Label]]]) -> dict[Label, int]:
    """The size of each label across operands (a size 1 broadcasts), or RuntimeError."""
    sizes: dict[Label, int] = {}
    for x, labels in pairs:
        for label, n in zip(labels, x.shape):
            m = sizes.get(label, n)
            if n != m and 1 not in (n, m):
                raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes: subscript {label} has "
                                   f"size {m} in one operand and {n} in another")
            sizes[label] = max(n, m) if label in sizes else n
    return sizes


def _contract(a: Tensor, la: list[Label], b: Tensor, lb: list[Label], keep: set[Label],
              sizes: dict[Label, int]) -> tuple[Tensor, list[Label]]:
    """The product of two labelled operands summed over their shared labels not in ``keep``,
    as one batched matmul: ``(batch, left, contracted) @ (batch, contracted, right)``."""
    shared = [lab for lab in la if lab in lb]
    batch = [lab for lab in shared if lab in keep]
    summed = [lab for lab in shared if lab not in keep]
    left = [lab for lab in la if lab not in shared]
    right = [lab for lab in lb if lab not in shared]

    def arrange(x: Tensor, labels: list[Label], order: list[Label], groups: list[list[Label]]) -> Tensor:
        x = permute(x, tuple(labels.index(lab) for lab in order))
        shape = tuple(sizes[lab] if lab in batch or lab in summed else x.shape[i] for i, lab in enumerate(order))
        x = expand(x, shape)  # shared labels of size 1 broadcast against the other side
        size = {lab: n for lab, n in zip(order, shape)}
        return reshape(x, tuple(_prod(size[lab] for lab in g) for g in groups))

    a3 = arrange(a, la, batch + left + summed, [batch, left, summed])
    b3 = arrange(b, lb, batch + summed + right, [batch, summed, right])
    out = matmul(a3, b3)
    shape = tuple(sizes[lab] for lab in batch) + tuple(a.shape[la.index(lab)] for lab in left) + \
        tuple(b.shape[lb.index(lab)] for lab in right)
    return reshape(out, shape), batch + left + right


def _prod(values: Any) -> int:
    n = 1
    for v in values:
        n *= v
    return n


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _sublist_equation(args: tuple) -> tuple[str, tuple]:
    """PyTorch's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` as an equation and its
    operands: labels 0..51 are the letters A..Z, a..z, and ``...`` (Ellipsis) is the ellipsis."""
    def term(sublist: Any) -> str:
        out = []
        for label in sublist:
            if label is Ellipsis:
                out.append("...")
            elif isinstance(label, int) and 0 <= label < len(_LETTERS):
                out.append(_LETTERS[label])
            else:
                raise RuntimeError(f"einsum(): subscript in subscript list is not within the valid range [0, 52), "
                                   f"got {label!r}")
        return "".join(out)

    has_output = len(args) % 2 == 1  # operand, sublist, operand, sublist, ..., [output sublist]
    pairs = args[:-1] if has_output else args
    operands, inputs = pairs[0::2], [term(x) for x in pairs[1::2]]
    return ",".join(inputs) + ("->" + term(args[-1]) if has_output else ""), tuple(operands)


@op(method=False)
def einsum(equation: Any, *operands: Any) -> Tensor:
    """Einstein summation: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``, ``einsum("ii", a)`` the
    trace, ``einsum("...ij->...ji", a)`` a batched transpose. Operands may also be given as
    one list, or in PyTorch's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``. Letters
    repeated within an operand take a diagonal; letters shared by operands and absent from
    the output are summed; ``...`` broadcasts. The operands (any number) are contracted left
    to right, each pair with one batched matrix product (see the module docstring for the
    plan)."""
    if isinstance(equation, Tensor):
        equation, operands = _sublist_equation((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be str, not {type(equation).__name__}")
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): expected Tensor as operand {i}, got {type(t).__name__}")
    inputs, output = parse(equation, [t.ndim for t in operands])
    pairs = [_take_diagonals(t, labels) for t, labels in zip(operands, inputs)]
    sizes = _sizes(pairs)
    # 3. early sums: a label of one operand only, not in the output
    for i, (x, labels) in enumerate(pairs):
        elsewhere = set(output).union(*(lb for j, (_, lb) in enumerate(pairs) if j != i))
        pairs[i] = _sum_labels(x, labels, set(labels) - elsewhere)
    # 4. contract left to right
    x, labels = pairs[0]
    for i in range(1, len(pairs)):
        keep = set(output).union(*(lb for _, lb in pairs[i + 1:]))
        x, labels = _contract(x, labels, pairs[i][0], pairs[i][1], keep, sizes)
        x, labels = _sum_labels(x, labels, set(labels) - keep)
    # 5. the output's order; a label left at size 1 by broadcasting takes its full size
    x = permute(x, tuple(labels.index(lab) for lab in output))
    full = tuple(sizes[lab] for lab in output)
    return x if x.shape == full else expand(x, broadcast_shapes(x.shape, full))


__all__ = exports(__name__)
