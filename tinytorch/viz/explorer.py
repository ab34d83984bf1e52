"""The explorer: an interactive picture of a computation graph, its views and its gradients.

``explore(*tensors)`` takes a snapshot of the graph behind ``tensors`` -- every tensor in it
with its shape, strides, offset, buffer and values, the op (``grad_fn``) that made it, and the
gradient backward gives it -- and returns an :class:`Explorer`. Shown in Jupyter (or a built
book page) or saved with :meth:`Explorer.save`, it is one self-contained HTML fragment: the
snapshot as JSON, the drawing code (``explorer.js``) and style (``explorer.css``) inline,
nothing loaded from the network, so it works with no kernel and offline.

What the page does (all in the browser, from the snapshot):

* the graph, one box per tensor: leaves on top (parameters blue, constants grey), each
  computed tensor labelled with its ``grad_fn`` name (``MulBackward0``), shape, dtype, device;
* clicking a box shows that tensor: shape, strides, offset, contiguity, its flat buffer with
  the elements the view reads highlighted (chapter 2's picture), statistics of its values,
  and its gradient;
* a slider steps the backward pass, one node at a time in the engine's order (reverse
  topological): a tensor's gradient appears when every op that used it has run;
* tensors holding NaN or inf are marked, and the first op that produced them (its inputs
  finite, its output not) is highlighted.

**Layout.** Boxes are placed by networkx (``topological_generations`` gives the layers,
``multipartite_layout`` the coordinates); the only layout code here orders each layer by the
mean position of its inputs, so that edges cross less. networkx is pure Python, so the
layout needs no system binary and no JavaScript build step (``docs/architecture.md``).

**Gradients.** While the graph is intact, the explorer computes the gradient of the roots
(of the sum of their elements: for a loss, of the loss) with respect to every tensor in the
graph with :func:`tinytorch.autograd.grad` (``retain_graph=True``): nothing is written to
``.grad`` (hooks registered on the tensors run, as in any backward pass). After
``backward()`` has freed the graph, only a graph recorded under :class:`keep_graphs` can be
drawn, and then the gradients shown are the leaves' ``.grad``.
"""

from __future__ import annotations

import html
import json
import math
import uuid
import weakref
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..autograd import grad as autograd_grad
from ..autograd import topo_order
from ..ops.creation import ones_like
from ..tensor import DispatchMode, Function, Tensor, active_modes

__all__ = ["explore", "Explorer", "keep_graphs", "MAX_BUFFER", "MAX_VALUES"]

MAX_BUFFER = 128  #: buffer cells drawn per tensor (a window of a larger buffer)
MAX_VALUES = 48  #: values (and gradient values) listed per tensor
_MAX_POSITIONS = 1 << 20  # views larger than this are not mapped element by element


class keep_graphs(DispatchMode):
    """Remember each op's inputs for as long as its node lives, so that :func:`explore` can
    still draw a graph after ``backward()`` freed it (``python -m tinytorch.viz run`` runs
    scripts under it). Memory: the inputs of the graphs still reachable, as if
    ``retain_graph=True`` kept only the inputs."""

    def __init__(self) -> None:
        self.inputs: "weakref.WeakKeyDictionary[Function, tuple]" = weakref.WeakKeyDictionary()

    def dispatch(self, op: type[Function], args: tuple[Any, ...], params: dict[str, Any],
                 run: Callable[[tuple[Any, ...], dict[str, Any]], Tensor]) -> Tensor:
        out = run(args, params)
        if out.grad_fn is not None:
            self.inputs[out.grad_fn] = args
        return out


def _recorded_inputs(node: Function) -> tuple | None:
    """A node's inputs: its own, or (freed by backward) those a :class:`keep_graphs` kept."""
    if node.inputs is not None:
        return tuple(node.inputs)
    for mode in active_modes():
        if isinstance(mode, keep_graphs) and node in mode.inputs:
            return mode.inputs[node]
    return None


_FREED = ("explore(): the graph behind this tensor was freed by backward(). Call explore() before "
          "backward(), call backward(retain_graph=True), or record the graph under tinytorch.viz.keep_graphs()")


# --- the snapshot ---------------------------------------------------------------------------------
def _walk(roots: Sequence[Tensor]) -> tuple[list[Tensor], list[tuple[int, int]], bool]:
    """Every tensor reachable from ``roots`` through ``grad_fn`` inputs, inputs before the
    tensors made from them; the (input index, output index) edges; whether the graph is intact
    (no node freed). A computed tensor is identified by its node, a leaf by itself."""
    key = lambda t: id(t.grad_fn) if t.grad_fn is not None else id(t)  # noqa: E731
    index: dict[int, int] = {}
    tensors: list[Tensor] = []
    edges: list[tuple[int, int]] = []
    intact = True
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        t, expanded = stack.pop()
        if key(t) in index:
            continue
        inputs = _recorded_inputs(t.grad_fn) if t.grad_fn is not None else ()
        if inputs is None:
            raise RuntimeError(_FREED)
        intact = intact and (t.grad_fn is None or t.grad_fn.inputs is not None)
        parents = [a for a in inputs if isinstance(a, Tensor)]
        if not expanded and any(key(p) not in index for p in parents):
            stack.append((t, True))
            stack.extend((p, False) for p in reversed(parents) if key(p) not in index)
            continue
        index[key(t)] = len(tensors)
        tensors.append(t)
        edges.extend((index[key(p)], index[key(t)]) for p in dict.fromkeys(parents))
    return tensors, sorted(set(edges)), intact


def _number(v: Any) -> Any:
    """A JSON value for one element: 4 significant digits; NaN and inf as strings."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    f = float(v)
    if math.isfinite(f):
        return float(f"{f:.4g}")
    return "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")


def _stats(values: np.ndarray) -> dict[str, Any]:
    """min, max, mean, std of the finite values; counts of NaN and inf."""
    if values.dtype == np.bool_:
        values = values.astype(np.int64)
    flat = values.astype(np.float64).ravel()
    finite = flat[np.isfinite(flat)]
    out: dict[str, Any] = {"nan": int(np.isnan(flat).sum()), "inf": int(np.isinf(flat).sum())}
    if finite.size:
        out.update(min=_number(finite.min()), max=_number(finite.max()), mean=_number(finite.mean()),
                   std=_number(finite.std()))
    return out


def _positions(shape: tuple[int, ...], strides: tuple[int, ...], offset: int) -> np.ndarray:
    """The buffer position each element of a view reads, in row-major order of the view."""
    pos = np.array(offset, dtype=np.int64)
    for n, s in zip(shape, strides):
        pos = np.add.outer(pos, np.arange(n, dtype=np.int64) * s)
    return pos.ravel()


def _buffer_picture(t: Tensor) -> dict[str, Any]:
    """Chapter 2's picture of ``t``: a window of its flat buffer, which cells the view reads,
    and the buffer position of each of the view's first elements."""
    buf = t._data.buffer_values()
    info: dict[str, Any] = {"size": int(buf.size)}
    if t.numel() > _MAX_POSITIONS:
        return {**info, "start": 0, "cells": [], "used": [], "view_pos": []}
    pos = _positions(tuple(t.shape), tuple(t.stride()), t.storage_offset())
    first = int(pos.min()) if pos.size else 0
    start = 0 if buf.size <= MAX_BUFFER else max(0, min(first, buf.size - MAX_BUFFER))
    stop = min(buf.size, start + MAX_BUFFER)
    used = np.unique(pos[(pos >= start) & (pos < stop)])
    return {**info, "start": start, "cells": [_number(v) for v in buf[start:stop]],
            "used": _runs(used), "view_pos": pos[:MAX_VALUES].tolist()}


def _runs(sorted_positions: np.ndarray) -> list[list[int]]:
    """Sorted distinct ints as ``[first, last]`` runs of consecutive values (a compact view is one run)."""
    if not sorted_positions.size:
        return []
    breaks = np.flatnonzero(np.diff(sorted_positions) != 1)
    firsts = np.concatenate([[sorted_positions[0]], sorted_positions[breaks + 1]])
    lasts = np.concatenate([sorted_positions[breaks], [sorted_positions[-1]]])
    return [[int(a), int(b)] for a, b in zip(firsts, lasts)]


def _describe(t: Tensor, name: str | None) -> dict[str, Any]:
    values = t.detach().numpy()
    fn = t.grad_fn
    return {
        "label": fn.name() if fn is not None else (name or ("parameter" if t.requires_grad else "leaf")),
        "name": name, "op": fn.name() if fn is not None else None,
        "shape": list(t.shape), "strides": list(t.stride()), "offset": t.storage_offset(),
        "dtype": str(t.dtype).replace("tinytorch.", ""), "device": str(t.device),
        "requires_grad": t.requires_grad, "is_leaf": fn is None, "contiguous": t.is_contiguous(),
        "compact": t._data.is_compact(), "numel": t.numel(),
        "values": [_number(v) for v in values.ravel()[:MAX_VALUES]],
        "stats": _stats(values), "buffer": _buffer_picture(t),
    }


def _gradients(roots: Sequence[Tensor], tensors: list[Tensor], intact: bool) -> list[Tensor | None]:
    """Each tensor's gradient: computed here when the graph is intact, else the leaves' ``.grad``."""
    wanted = [t for t in tensors if t.requires_grad]
    outs = [r for r in roots if r.requires_grad]
    if not intact or not outs or not wanted:
        return [t.grad if t.grad_fn is None else None for t in tensors]
    grads = autograd_grad(outs, wanted, grad_outputs=[ones_like(r) for r in outs], retain_graph=True,
                          allow_unused=True)
    found = {id(t): g for t, g in zip(wanted, grads)}
    return [found.get(id(t)) for t in tensors]


def _backward_steps(roots: Sequence[Tensor], tensors: list[Tensor],
                    edges: list[tuple[int, int]]) -> tuple[list[int], list[int | None]]:
    """The engine's order: the tensors whose node runs backward at steps 1, 2…, and for each
    tensor the step after which its gradient is complete (every op that used it has run;
    0 for the roots, which are seeded; None when no gradient reaches it)."""
    node_index = {id(t.grad_fn): i for i, t in enumerate(tensors) if t.grad_fn is not None}
    live = [r.grad_fn for r in roots if r.grad_fn is not None and r.grad_fn.inputs is not None]
    if len(live) == len([r for r in roots if r.grad_fn is not None]):
        order = [node_index[id(n)] for n in reversed(topo_order(live))]
    else:  # a freed graph: the same order, from the snapshot (inputs before outputs, reversed)
        order = [i for i in reversed(range(len(tensors))) if tensors[i].grad_fn is not None]
    step_of = {i: s + 1 for s, i in enumerate(order)}
    done: list[int | None] = [None] * len(tensors)
    for r in roots:
        if r.requires_grad:
            done[_index_of(r, tensors)] = 0
    for parent, child in edges:
        if tensors[parent].requires_grad and child in step_of:
            done[parent] = max(done[parent] or 0, step_of[child])
    return order, done


def _index_of(t: Tensor, tensors: list[Tensor]) -> int:
    for i, u in enumerate(tensors):
        if u is t or (t.grad_fn is not None and u.grad_fn is t.grad_fn):
            return i
    raise ValueError("tensor not in graph")


def _first_nonfinite(tensors: list[Tensor], edges: list[tuple[int, int]], stats: list[dict]) -> int | None:
    """The first tensor (in the order the forward pass made them) holding NaN or inf while
    all its inputs are finite: the op that made it produced the first bad value."""
    bad = [s["nan"] + s["inf"] > 0 for s in stats]
    parents: dict[int, list[int]] = {}
    for p, c in edges:
        parents.setdefault(c, []).append(p)
    for i in range(len(tensors)):
        if bad[i] and tensors[i].grad_fn is not None and not any(bad[p] for p in parents.get(i, [])):
            return i
    return None


def _layout(n: int, edges: list[tuple[int, int]]) -> list[tuple[float, float]]:
    """(x, y) of each node in layout units (one unit: one node slot, one layer).

    networkx gives the order and the coordinates: a tensor that nothing uses (a root) sits in
    its topological generation, every other tensor in the layer just above its first user
    (so a weight and its transpose sit next to the product that uses them); within a layer,
    nodes are ordered by the mean x of their inputs (the barycenter heuristic), so that edges
    cross less, and ``multipartite_layout`` spaces each layer evenly about the centre."""
    try:
        import networkx as nx
    except ImportError as e:  # pragma: no cover - networkx is in the dev, book and viz extras
        raise ImportError('the explorer lays graphs out with networkx: pip install "tinytorch[viz]"') from e
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    layer = {v: depth for depth, gen in enumerate(nx.topological_generations(g)) for v in gen}
    for v in reversed(list(nx.topological_sort(g))):
        users = [layer[c] for c in g.successors(v)]
        if users:
            layer[v] = min(users) - 1
    top = min(layer.values())
    rows: dict[int, list[int]] = {}
    for v in range(n):
        rows.setdefault(layer[v] - top, []).append(v)
    x: dict[int, float] = {}
    for depth in sorted(rows):
        def mean_input_x(v: int) -> float:
            xs = [x[p] for p in g.predecessors(v)]
            return sum(xs) / len(xs) if xs else float("inf")  # leaves join from the right
        rows[depth].sort(key=mean_input_x)
        for i, v in enumerate(rows[depth]):
            x[v] = i - (len(rows[depth]) - 1) / 2
    pos = nx.multipartite_layout(g, subset_key={d: rows[d] for d in sorted(rows)}, align="horizontal", scale=1.0)
    # multipartite_layout scales the whole picture by one factor: divide by the step between
    # neighbours in a layer to get units of one node slot
    unit = _slot(pos, rows)
    return [(float(pos[v][0] / unit), float(layer[v] - top)) for v in range(n)]


def _slot(pos: Mapping[int, Any], rows: Mapping[int, list[int]]) -> float:
    for row in rows.values():
        if len(row) > 1:
            return float(abs(pos[row[1]][0] - pos[row[0]][0])) or 1.0
    return 1.0


def _snapshot(roots: Sequence[Tensor], names: Mapping[str, Tensor]) -> dict[str, Any]:
    tensors, edges, intact = _walk(roots)
    name_of = {id(v): k for k, v in names.items() if isinstance(v, Tensor)}
    nodes = [_describe(t, name_of.get(id(t))) for t in tensors]
    for node, g in zip(nodes, _gradients(roots, tensors, intact)):
        if g is not None:
            node["grad"] = {"shape": list(g.shape), "values": [_number(v) for v in g.numpy().ravel()[:MAX_VALUES]],
                            "stats": _stats(g.numpy())}
    order, done = _backward_steps(roots, tensors, edges)
    for node, step in zip(nodes, done):
        node["grad_step"] = step
    xy = _layout(len(tensors), edges)
    for node, (x, y) in zip(nodes, xy):
        node["x"], node["y"] = x, y
    origin = _first_nonfinite(tensors, edges, [n["stats"] for n in nodes])
    return {"nodes": nodes, "edges": edges, "backward_order": order, "nonfinite_origin": origin,
            "roots": [_index_of(r, tensors) for r in roots], "graph_intact": intact,
            "limits": {"buffer": MAX_BUFFER, "values": MAX_VALUES}}


# --- the page ---------------------------------------------------------------------------------------
def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON that is safe inside a <script> element (no ``</script>`` or ``<!--`` can end it)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class Explorer:
    """A snapshot of a computation graph, shown as an interactive page.

    ``_repr_html_()`` (Jupyter, and the book) and :meth:`html` give the fragment;
    :meth:`save` writes it as a complete HTML file. ``data`` is the snapshot (a dict that
    JSON can hold): ``nodes`` (one per tensor), ``edges`` (input, output) index pairs,
    ``backward_order``, ``nonfinite_origin`` (index of the first op's output holding NaN/inf).
    """

    def __init__(self, data: dict[str, Any], title: str = "tinytorch explorer"):
        self.data, self.title = data, title

    def html(self) -> str:
        """The explorer as one HTML fragment: a <div> with its style, data and script inline."""
        uid = "ttx-" + uuid.uuid4().hex[:10]
        return (f'<div class="ttx" id="{uid}">'
                f"<style>{_asset('explorer.css')}</style>"
                f'<script type="application/json" class="ttx-data">{_script_json(self.data)}</script>'
                f"<script>{_asset('explorer.js')}\ntinytorchExplore(document.getElementById('{uid}'));</script>"
                "</div>")

    def _repr_html_(self) -> str:
        return self.html()

    def save(self, path: str | Path) -> Path:
        """Write a complete, self-contained HTML page (open it in any browser, offline)."""
        path = Path(path)
        page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}'
                f'</title></head><body style="margin:12px">\n{self.html()}\n</body></html>\n')
        path.write_text(page, encoding="utf-8")
        return path

    def __repr__(self) -> str:
        n = self.data["nodes"]
        return f"<Explorer of {len(n)} tensors, {sum(not x['is_leaf'] for x in n)} ops>"


def explore(*tensors: Tensor, names: Mapping[str, Tensor] | None = None, title: str = "tinytorch explorer",
            ) -> Explorer:
    """An interactive picture of the graph behind ``tensors`` (see the module docstring).

    ``names`` labels tensors (``names=locals()`` or ``{"w": w}``); the gradient shown is that
    of the sum of the elements of ``tensors`` that require grad. The snapshot is taken now:
    values changed later are not seen. Inside :func:`collecting` (as ``python -m
    tinytorch.viz run`` does) each explorer is also handed to the collector.

    >>> import tinytorch as tt
    >>> w = tt.tensor([1.0, -2.0], requires_grad=True)
    >>> loss = (w * 3).relu().sum()
    >>> ex = explore(loss, names={"w": w, "loss": loss})
    >>> [n["label"] for n in ex.data["nodes"]]
    ['w', 'MulBackward0', 'ReluBackward0', 'SumBackward0']
    >>> ex.data["nodes"][0]["grad"]["values"]
    [3.0, 0.0]
    """
    if not tensors:
        raise TypeError("explore() needs at least one Tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"explore(): argument {i} must be a Tensor, not {type(t).__name__}")
    ex = Explorer(_snapshot(tensors, names or {}), title)
    for collector in _collectors:
        collector.append(ex)
    return ex


_collectors: list[list[Explorer]] = []  # explicit context: open collecting() blocks, innermost last


class collecting:
    """``with collecting() as found:`` -- every :func:`explore` call inside appends its
    explorer to ``found`` (how ``python -m tinytorch.viz run`` finds a script's explorers)."""

    def __enter__(self) -> list[Explorer]:
        self.found: list[Explorer] = []
        _collectors.append(self.found)
        return self.found

    def __exit__(self, *exc: Any) -> None:
        _collectors.remove(self.found)
