"""tt.viz.explore: the snapshot (graph, views, gradients, NaN origin), the self-contained page,
``python -m tinytorch.viz run``, and the page driven in headless Chromium."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from chromium_cdp import Chromium, find_chromium

import tinytorch as tt
from tinytorch import nn
from tinytorch.viz import explore, keep_graphs, plot_training, show_graph, show_view
from tinytorch.viz.explorer import _positions


def small_graph():
    tt.manual_seed(0)
    x = tt.randn(3, 4, requires_grad=True)
    w = tt.randn(3, 2, requires_grad=True)
    xt = x.T  # a view: strides (1, 4)
    h = (xt @ w).tanh()
    loss = (h * h).sum()
    return x, w, xt, h, loss


def node_of(ex, label):
    return next(i for i, n in enumerate(ex.data["nodes"]) if n["label"] == label or n["name"] == label)


def test_nodes_are_the_tensors_with_grad_fn_names_and_layout():
    x, w, xt, h, loss = small_graph()
    ex = explore(loss, names={"x": x, "w": w, "loss": loss})
    nodes = ex.data["nodes"]
    assert [n["label"] for n in nodes] == ["x", "PermuteBackward0", "w", "MatmulBackward0", "TanhBackward0",
                                          "MulBackward0", "SumBackward0"]
    assert all(n["label"] == n["op"] for n in nodes if not n["is_leaf"])
    assert nodes[node_of(ex, "x")]["requires_grad"] and nodes[node_of(ex, "x")]["is_leaf"]
    assert {(nodes[a]["label"], nodes[b]["label"]) for a, b in ex.data["edges"]} == {
        ("x", "PermuteBackward0"), ("PermuteBackward0", "MatmulBackward0"), ("w", "MatmulBackward0"),
        ("MatmulBackward0", "TanhBackward0"), ("TanhBackward0", "MulBackward0"), ("MulBackward0", "SumBackward0")}
    for a, b in ex.data["edges"]:  # inputs drawn above the ops that use them
        assert nodes[a]["y"] < nodes[b]["y"]
    places = {(n["x"], n["y"]) for n in nodes}
    assert len(places) == len(nodes)  # no two boxes in one place


def test_view_picture_strides_and_buffer():
    x, w, xt, h, loss = small_graph()
    ex = explore(loss)
    n = ex.data["nodes"][node_of(ex, "PermuteBackward0")]
    assert n["shape"] == [4, 3] and n["strides"] == list(xt.stride()) == [1, 4] and n["offset"] == 0
    assert not n["contiguous"]
    assert n["buffer"]["cells"] == pytest.approx(x.detach().numpy().ravel().tolist(), rel=1e-3)
    reference = np.lib.stride_tricks.as_strided(np.arange(12), (4, 3), (8, 32)).ravel()  # int64: 8 bytes
    assert n["buffer"]["view_pos"] == reference.tolist()
    sliced = tt.arange(20.0).reshape(4, 5)[1:, ::2]
    pic = explore(sliced).data["nodes"][0]  # a tensor with no graph: one box
    assert pic["offset"] == 5 and pic["strides"] == [5, 2] and not pic["compact"]
    used = [p for first, last in pic["buffer"]["used"] for p in range(first, last + 1)]
    assert used == sorted(_positions((3, 3), (5, 2), 5).tolist())
    assert n["buffer"]["used"] == [[0, 11]]  # the transpose reads the whole buffer: one run


def test_gradients_match_backward_and_leave_grad_alone():
    x, w, xt, h, loss = small_graph()
    ex = explore(loss, names={"x": x, "w": w})
    assert x.grad is None and w.grad is None  # the explorer computes its own, writes none
    loss.backward()
    for name, t in (("x", x), ("w", w)):
        got = ex.data["nodes"][node_of(ex, name)]["grad"]["values"]
        np.testing.assert_allclose(got, t.grad.numpy().ravel(), rtol=2e-3, atol=1e-6)
    hn = ex.data["nodes"][node_of(ex, "TanhBackward0")]
    np.testing.assert_allclose(hn["grad"]["values"], (2 * h).detach().numpy().ravel(), rtol=2e-3, atol=1e-6)


def test_backward_steps_follow_the_engine():
    x, w, xt, h, loss = small_graph()
    ex = explore(loss)
    nodes, order = ex.data["nodes"], ex.data["backward_order"]
    assert sorted(order) == [i for i, n in enumerate(nodes) if not n["is_leaf"]]
    assert order[0] == ex.data["roots"][0] and nodes[order[0]]["grad_step"] == 0
    step = {i: s + 1 for s, i in enumerate(order)}
    for a, b in ex.data["edges"]:  # a gradient is complete once every op that used the tensor ran
        assert nodes[a]["grad_step"] >= step[b]
        assert step.get(a, 10 ** 9) > step[b]  # and an op runs backward after the ops that used it


def test_first_nonfinite_op_is_flagged():
    a = tt.tensor([1.0, -1.0, 2.0], requires_grad=True)
    s = a * 2
    bad = s.log()  # log of a negative number: the first NaN
    worse = (bad * 3).sum()
    ex = explore(worse)
    nodes = ex.data["nodes"]
    origin = ex.data["nonfinite_origin"]
    assert nodes[origin]["label"] == "LogBackward0" and nodes[origin]["stats"]["nan"] == 1
    assert nodes[node_of(ex, "MulBackward0")]["stats"]["nan"] == 0
    assert "nan" in nodes[origin]["values"]
    assert explore((a * 2).sum()).data["nonfinite_origin"] is None


def test_freed_graph_needs_keep_graphs():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="freed by backward"):
        explore(loss)
    with keep_graphs():
        loss = (x.exp() * 2).sum()
        x.grad = None
        loss.backward()
        ex = explore(loss, names={"x": x})
    assert [n["label"] for n in ex.data["nodes"]] == ["x", "ExpBackward0", "MulBackward0", "SumBackward0"]
    assert not ex.data["graph_intact"]
    np.testing.assert_allclose(ex.data["nodes"][0]["grad"]["values"], x.grad.numpy(), rtol=1e-3)


def test_page_is_self_contained(tmp_path):
    x, w, xt, h, loss = small_graph()
    ex = explore(loss, names={"</script><script>alert(1)</script>": x})
    page = ex.save(tmp_path / "e.html").read_text()
    assert page.count("</script>") == 2  # the data block and the code block: the name cannot close them
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "import(" not in page and "fetch(" not in page
    blob = re.search(r'<script type="application/json" class="ttx-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(blob)["nodes"][0]["name"].startswith("</script>")
    assert ex._repr_html_().startswith('<div class="ttx"')


def test_static_figures_still_importable():
    import tinytorch.viz as viz

    assert viz.show_view is show_view and viz.show_graph is show_graph and viz.plot_training is plot_training
    assert tt.viz.explore is explore


def run_viz(*args):
    """``python -m tinytorch.viz`` in a fresh interpreter that imports this checkout."""
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "tinytorch.viz", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=env)


def test_run_a_script(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import tinytorch as tt\n"
                      "w = tt.tensor([1.0, 2.0], requires_grad=True)\n"
                      "loss = (w * w).sum()\n"
                      "loss.backward()\n")
    out = tmp_path / "out.html"
    r = run_viz("run", "-o", out, "--no-open", script)
    assert r.returncode == 0, r.stderr
    assert "exploring the globals loss" in r.stdout
    data = json.loads(re.search(r'class="ttx-data">(.*?)</script>', out.read_text(), re.S).group(1))
    assert [n["label"] for n in data["nodes"]] == ["w", "MulBackward0", "SumBackward0"]
    script.write_text("import tinytorch as tt\nx = tt.ones(2, requires_grad=True)\n"
                      "tt.viz.explore(x.exp().sum())\ntt.viz.explore((x * 2).sum())\n")
    r = run_viz("run", "-o", out, "--no-open", script)
    assert r.returncode == 0 and "2 explorer(s)" in r.stdout and out.read_text().count('class="ttx"') == 2


# --- in a real browser ---------------------------------------------------------------------------------
CHROMIUM = find_chromium()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on this machine (apt-get install chromium)")
def test_explorer_in_chromium(tmp_path):
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = tt.randn(5, 4)
    first_layer, second_layer = model[0], model[2]  # written out, so the transposed weight is a node
    hidden = (x @ first_layer.weight.T + first_layer.bias).relu()
    logits = hidden @ second_layer.weight.T + second_layer.bias
    loss = nn.functional.cross_entropy(logits, tt.tensor([0, 1, 1, 0, 1]))
    params = dict(model.named_parameters())
    ex = explore(loss, names={"x": x, "loss": loss, **params})
    nan_ex = explore((tt.tensor([1.0, -1.0], requires_grad=True) * 2).log().sum())
    page = tmp_path / "explorer.html"
    page.write_text("<!DOCTYPE html><html><body>" + ex.html() + nan_ex.html() + "</body></html>")
    nodes = ex.data["nodes"]
    weight = node_of(ex, "0.weight")
    permute = next(i for i, (a, b) in enumerate(ex.data["edges"]) if a == weight)
    permute = ex.data["edges"][permute][1]
    first = 'div.ttx:nth-of-type(1)'
    with Chromium(CHROMIUM) as browser:
        browser.open(page)
        assert browser.eval("document.querySelectorAll('div.ttx').length") == 2
        assert browser.eval(f"document.querySelectorAll('{first} g.ttx-node').length") == len(nodes)
        # click the transposed weight: its strides are those of the tensor
        browser.click(f'{first} g.ttx-node[data-index="{permute}"]')
        assert browser.eval(f"document.querySelector('{first} .ttx-strides').textContent") == "(1, 4)"
        assert browser.eval(f"document.querySelectorAll('{first} .ttx-cell.ttx-used').length") == 12
        # the weight's gradient: pending at step 0, shown once the slider reaches its step
        browser.click(f'{first} g.ttx-node[data-index="{weight}"]')
        assert browser.eval(f"!!document.querySelector('{first} .ttx-grad-pending')")
        browser.click(f"{first} input.ttx-slider")  # focus the slider (the click may move it)
        browser.eval(f"(function(s){{s.value='0';s.dispatchEvent(new Event('input'))}})"
                     f"(document.querySelector('{first} input.ttx-slider'))")
        for _ in range(nodes[weight]["grad_step"]):
            browser.press("ArrowRight", 39)
        assert browser.eval(f"document.querySelector('{first} input.ttx-slider').value") == \
            str(nodes[weight]["grad_step"])
        shown = browser.eval(f"document.querySelector('{first} .ttx-grad-values').textContent")
        values = [float(v) for v in shown.strip("[]").split(", ")[:4]]
        loss.backward()
        np.testing.assert_allclose(values, params["0.weight"].grad.numpy().ravel()[:4], rtol=1e-2, atol=1e-4)
        running = browser.eval(f"document.querySelector('{first} g.ttx-running').getAttribute('data-index')")
        assert int(running) == ex.data["backward_order"][nodes[weight]["grad_step"] - 1]
        # the second explorer on the page flags the op that made the NaN
        origin = browser.eval("document.querySelector('div.ttx:nth-of-type(2) g.ttx-origin')"
                              ".getAttribute('data-index')")
        assert nan_ex.data["nodes"][int(origin)]["label"] == "LogBackward0"
        assert browser.errors() == []
