"""Static pictures the library draws of itself (matplotlib): memory layouts, graphs, training curves.

Every figure in the book is made by these functions at build time, from real objects:

* :func:`show_view` — a view's flat buffer with the elements the view reaches highlighted,
  next to the view's logical grid where each cell names the buffer position it reads;
* :func:`show_graph` — the computation graph behind a Tensor (nodes = tensors and ops);
* :func:`plot_training` — loss/accuracy curves from a dict of lists.

matplotlib only, no system binaries: graphs are laid out by depth here rather than with
Graphviz's ``dot``, so the book builds anywhere ``pip install`` works (the graphs in the
book are small).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..ndarray.ndarray import NDArray
from ..ndarray.strides import flat_offset

_UNUSED = "#e8e8e8"


def _pyplot() -> Any:
    import matplotlib.pyplot as plt

    return plt


def _as_ndarray(x: Any) -> NDArray:
    if isinstance(x, NDArray):
        return x
    inner = getattr(x, "_data", None)  # a Tensor's NDArray
    if isinstance(inner, NDArray):
        return inner
    raise TypeError(f"expected an NDArray or Tensor, got {type(x).__name__}")


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "T" if v else "F"
    if isinstance(v, (float, np.floating)):
        return f"{v:.3g}"
    return str(v)


def _cell(ax: Any, x: float, y: float, text: str, color: str, sub: str = "", size: float = 0.9) -> None:
    plt = _pyplot()
    ax.add_patch(plt.Rectangle((x, y), size, size, facecolor=color, edgecolor="#333333", linewidth=1))
    ax.text(x + size / 2, y + size * 0.55, text, ha="center", va="center", fontsize=9)
    if sub:
        ax.text(x + size / 2, y + size * 0.18, sub, ha="center", va="center", fontsize=7, color="#333333")


def _grid_2d(shape: Sequence[int]) -> tuple[int, int, int]:
    """(blocks, rows, cols) for drawing a view of ``shape`` (up to 3-D) as 2-D blocks."""
    if len(shape) == 0:
        return 1, 1, 1
    if len(shape) == 1:
        return 1, 1, shape[0]
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    if len(shape) == 3:
        return shape[0], shape[1], shape[2]
    raise ValueError(f"show_view draws views of up to 3 dimensions, got shape {tuple(shape)}")


def show_view(x: Any, title: str | None = None, max_buffer: int = 48) -> Any:
    """Draw a view and its buffer: which buffer element each element of the view reads.

    Top: the flat buffer, one box per element with its position underneath; the elements
    the view reaches are coloured (by position), the others grey. Bottom: the view as a grid
    (a 3-D view as one block per leading index); each cell shows its value and ``@k``, the
    buffer position ``offset + sum(index * strides)`` it reads. Two cells with the same colour
    read the same element (a stride of 0: broadcasting). Returns the matplotlib Figure.
    """
    plt = _pyplot()
    a = _as_ndarray(x)
    values = a.buffer_values()
    if values.size > max_buffer:
        raise ValueError(f"the buffer has {values.size} elements; show_view draws at most {max_buffer}")
    blocks, rows, cols = _grid_2d(a.shape)
    index_shape = a.shape if a.ndim else ()
    cmap = plt.get_cmap("viridis")
    n = max(values.size, 1)

    def color(pos: int) -> Any:
        r, g, b, _ = cmap(0.15 + 0.8 * pos / max(n - 1, 1))
        return (r, g, b, 0.55)

    used = {flat_offset(i, a.strides, a.offset) for i in np.ndindex(*index_shape)}
    grid_w = blocks * cols + (blocks - 1)
    width = max(values.size, grid_w, 6)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * width + 1), 0.5 * (rows + 2.5) + 0.8))
    top = rows + 0.9
    ax.text(-0.2, top + 0.45, "buffer", ha="right", va="center", fontsize=9)
    for pos, v in enumerate(values):
        _cell(ax, pos, top, _fmt(v.item()), color(pos) if pos in used else _UNUSED)
        ax.text(pos + 0.45, top - 0.2, str(pos), ha="center", va="center", fontsize=7, color="#555555")
    ax.text(-0.2, rows / 2, "view", ha="right", va="center", fontsize=9)
    for index in np.ndindex(*index_shape):
        pos = flat_offset(index, a.strides, a.offset)
        b, r, c = ((0, 0, 0) if a.ndim == 0 else (0, 0, index[0]) if a.ndim == 1
                   else (0,) + tuple(index) if a.ndim == 2 else tuple(index))
        _cell(ax, b * (cols + 1) + c, rows - 1 - r, _fmt(values[pos].item()), color(pos), f"@{pos}")
    if a.ndim == 3:
        for b in range(blocks):
            ax.text(b * (cols + 1) + cols / 2 - 0.05, -0.25, f"[{b}, :, :]", ha="center", va="center", fontsize=8)
    ax.set_xlim(-1.6, width + 0.2)
    ax.set_ylim(-0.5, top + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    head = title + "\n" if title else ""
    ax.set_title(f"{head}shape {a.shape}   strides {a.strides}   offset {a.offset}", fontsize=10)
    fig.tight_layout()
    return fig


# --- computation graphs ------------------------------------------------------------------------
def _graph(root: Any) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """Tensors reachable from ``root`` through ``grad_fn`` inputs, and (input, output) edges."""
    nodes: list[Any] = []
    edges: list[tuple[Any, Any]] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        nodes.append(t)
        for parent in _parents(t):
            edges.append((parent, t))
            stack.append(parent)
    return nodes, edges


def _parents(t: Any) -> list[Any]:
    fn = getattr(t, "grad_fn", None)
    if fn is None:
        return []
    for attr in ("inputs", "parents", "_inputs"):
        inputs = getattr(fn, attr, None)
        if inputs is not None:
            return [i for i in inputs if hasattr(i, "grad_fn")]
    return []


def _op_name(t: Any) -> str:
    fn = getattr(t, "grad_fn", None)
    if fn is None:
        return ""
    name = type(fn).__name__
    return name[:-8] if name.endswith("Backward") else name


def show_graph(root: Any, names: Mapping[str, Any] | None = None, title: str | None = None) -> Any:
    """Draw the computation graph that produced the Tensor ``root``, top to bottom.

    Leaves are at the top and ``root`` at the bottom, so the picture reads in the order the
    forward pass ran and backward walks it upwards. Each tensor is a box (its name from
    ``names`` if given, its shape, and "requires grad"); each op is an ellipse just above the
    tensor it made, with arrows from its inputs. A tensor's row is its longest distance from a
    leaf (a leaf sits just above its first consumer). Arrows are clipped to the box edges.
    Returns the matplotlib figure (about 6.5 inches wide: readable at page width, even as SVG).
    """
    plt = _pyplot()
    label_of = {id(v): k for k, v in (names or {}).items()}
    nodes, edges = _graph(root)
    depth = _depths(nodes, edges)
    rows: dict[int, list[Any]] = {}
    for t in nodes:
        rows.setdefault(depth[id(t)], []).append(t)
    width = max(len(r) for r in rows.values())
    fig, ax = plt.subplots(figsize=(max(4.0, min(6.5, 2.2 * width)), 1.25 * (max(rows) + 1) + 0.4))
    pos = {id(t): (i - (len(row) - 1) / 2, -1.0 * d) for d, row in rows.items() for i, t in enumerate(row)}
    boxes, ovals = {}, {}
    for t in nodes:
        x, y = pos[id(t)]
        lines = [s for s in (label_of.get(id(t), ""), f"{tuple(t.shape)}" if tuple(t.shape) else "scalar") if s]
        if getattr(t, "requires_grad", False):
            lines.append("requires grad")
        leaf = getattr(t, "grad_fn", None) is None
        boxes[id(t)] = ax.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=9,
                               bbox={"boxstyle": "round,pad=0.35", "facecolor": "#dbe9f6" if leaf else "#fdf1d6",
                                     "edgecolor": "#333333"})
        if not leaf:
            ovals[id(t)] = ax.text(x, y + 0.48, _op_name(t), ha="center", va="center", fontsize=9, style="italic",
                                   bbox={"boxstyle": "round,pad=0.25,rounding_size=0.6", "facecolor": "white",
                                         "edgecolor": "#999999"})
    fig.canvas.draw()  # lay the labels out so that arrows can be clipped to their boxes
    arrow = {"arrowstyle": "-|>", "color": "#555555", "lw": 1, "shrinkA": 1, "shrinkB": 1}
    for t in nodes:
        if id(t) in ovals:
            _connect(ax, ovals[id(t)], boxes[id(t)], arrow)
    for parent, child in edges:
        _connect(ax, boxes[id(parent)], ovals[id(child)], arrow)
    xs = [x for x, _ in pos.values()]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(-max(rows) - 0.5, 0.5)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    return fig


def _depths(nodes: list[Any], edges: list[tuple[Any, Any]]) -> dict[int, int]:
    """Each tensor's row: its longest distance from a leaf; a leaf sits just above its first consumer."""
    depth = {id(t): 0 for t in nodes}
    changed = True
    while changed:
        changed = False
        for parent, child in edges:
            if depth[id(child)] < depth[id(parent)] + 1:
                depth[id(child)] = depth[id(parent)] + 1
                changed = True
    for t in nodes:
        users = [depth[id(c)] for p, c in edges if p is t]
        if not _parents(t) and users:
            depth[id(t)] = min(users) - 1
    return depth


def _connect(ax: Any, start: Any, end: Any, arrowprops: dict) -> None:
    """An arrow from one label to another, clipped to their bounding boxes."""
    ax.annotate("", xy=end.get_position(), xytext=start.get_position(),
                arrowprops={**arrowprops, "patchA": start.get_bbox_patch(), "patchB": end.get_bbox_patch()})


# --- training curves ------------------------------------------------------------------------------
def plot_training(history: Mapping[str, Sequence[float]], xlabel: str = "step", title: str | None = None) -> Any:
    """Curves of a training run: one panel for losses (keys containing "loss"), one for the rest.

    >>> fig = plot_training({"train loss": [2.3, 1.1, 0.7], "test accuracy": [0.3, 0.7, 0.8]})
    """
    plt = _pyplot()
    losses = {k: v for k, v in history.items() if "loss" in k}
    others = {k: v for k, v in history.items() if "loss" not in k}
    panels = [p for p in (losses, others) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for name, values in panel.items():
            ax.plot(np.arange(1, len(values) + 1), values, label=name, marker="o" if len(values) < 30 else None)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
