"""Lab 11 grader: recurrent cells, graded alone and inside nn.RNN / nn.LSTM, and truncated BPTT."""

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
import tinytorch.nn.rnn as rnn_module
from tinytorch import nn, optim
from tinytorch.labs import check, check_close, check_equal

try:  # the oracle, where installed; imported here, before any notebook runs (importing it rebinds
    import torch  # some standard-library functions, which the grader would count as tampering)
except ImportError:
    torch = None

TITLE = "sequence models"
EXERCISES = {"11.1": "rnn_tanh_cell", "11.2": "lstm_cell", "11.3": "train_tbptt"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "11.1": ["tinytorch.nn.rnn:_rnn_tanh_step", "tinytorch.nn.rnn:RNNCellBase", "tinytorch.nn.rnn:RNNCell",
             "tinytorch.nn.rnn:RNNBase", "tinytorch.nn.rnn:_run_direction"],
    "11.2": ["tinytorch.nn.rnn:_lstm_step", "tinytorch.nn.rnn:RNNCellBase", "tinytorch.nn.rnn:LSTMCell",
             "tinytorch.nn.rnn:RNNBase", "tinytorch.nn.rnn:_run_direction", "tinytorch.ops.fused:LstmCell",
             "tinytorch.ops.fused:LstmHidden"],
}


def weights(cell, seed, bias=True):
    """A library cell's parameters drawn afresh (float64), as a state_dict to copy into others."""
    rng = np.random.default_rng(seed)
    return {name: tt.tensor(rng.uniform(-0.8, 0.8, tuple(p.shape)), dtype=tt.float64)
            for name, p in cell.named_parameters() if bias or "bias" not in name}


def cell_case(kind, batch, n_in, hidden, bias, seed):
    """A library cell with copied weights, an input and a state (leaves that require grad)."""
    cls = nn.RNNCell if kind == "rnn" else nn.LSTMCell
    cell = cls(n_in, hidden, bias=bias, dtype=tt.float64)
    cell.load_state_dict(weights(cell, seed, bias))
    rng = np.random.default_rng(100 + seed)
    x = tt.tensor(rng.standard_normal((batch, n_in)), requires_grad=True)
    states = [tt.tensor(rng.standard_normal((batch, hidden)), requires_grad=True)
              for _ in range(1 if kind == "rnn" else 2)]
    return cell, x, states


def params(cell):
    return [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]


def fresh(t):
    return None if t is None else t.detach().clone().requires_grad_()


CASES = [(3, 4, 5, True), (2, 3, 2, False), (1, 6, 3, True), (5, 1, 4, True)]  # batch, H_in, H, bias


def compare_cell(kind, fn, gradients):
    """The learner's function against the library's cell on every case: values and, if asked,
    the gradients of the input, the states and the four weights."""
    for k, (batch, n_in, hidden, bias) in enumerate(CASES):
        cell, x, states = cell_case(kind, batch, n_in, hidden, bias, k)
        what = f"{kind} cell with batch {batch}, input {n_in}, hidden {hidden}, bias={bias}"
        ref = cell(x, states[0] if kind == "rnn" else tuple(states))
        ref = (ref,) if kind == "rnn" else ref
        xs, ss = fresh(x), [fresh(s) for s in states]
        ws = [fresh(p) for p in params(cell)]
        got = fn(xs, ss[0] if kind == "rnn" else tuple(ss), *ws)
        got = (got,) if kind == "rnn" else tuple(got)
        check_equal(len(got), len(ref), f"the number of tensors your {kind} cell returns")
        for name, a, b in zip(("h'", "c'"), got, ref):
            check_equal(tuple(a.shape), tuple(b.shape), f"the shape of {name} of the {what}")
            check_close(a, b, f"{name} of the {what}", rtol=1e-10, atol=1e-12)
        if gradients:
            g = [tt.tensor(np.random.default_rng(50 + k).standard_normal(tuple(r.shape))) for r in ref]
            sum((r * gi).sum() for r, gi in zip(ref, g)).backward()
            sum((a * gi).sum() for a, gi in zip(got, g)).backward()
            for name, a, b in [("input", xs, x), *zip(("hx", "cx"), ss, states),
                               *zip(("w_ih", "w_hh", "b_ih", "b_hh"), ws, params(cell))]:
                if b is not None:
                    check(a.grad is not None, f"no gradient reached {name} of the {what}",
                          hint="use Tensor ops only; never .numpy() or .detach() inside the cell")
                    check_close(a.grad, b.grad, f"the gradient of {name} of the {what}", rtol=1e-9, atol=1e-11)


def compare_with_pytorch(kind, fn):
    """Where PyTorch is installed: the same numbers as torch.rnn_tanh_cell / torch.lstm_cell."""
    if torch is None:
        return
    for k, (batch, n_in, hidden, bias) in enumerate(CASES):
        cell, x, states = cell_case(kind, batch, n_in, hidden, bias, k)
        ws = params(cell)
        t = [None if w is None else torch.from_numpy(w.detach().numpy().copy()) for w in [x, *states, *ws]]
        if kind == "rnn":
            expected = (torch.rnn_tanh_cell(t[0], t[1], *t[2:]),)
            got = (fn(x, states[0], *ws),)
        else:
            expected = torch.lstm_cell(t[0], (t[1], t[2]), *t[3:])
            got = tuple(fn(x, tuple(states), *ws))
        for a, b in zip(got, expected):
            check_close(a, b.numpy(), f"your {kind} cell against PyTorch's (batch {batch}, hidden {hidden})",
                        rtol=1e-10, atol=1e-12)


def plug_into_library(monkeypatch, mode, fn):
    """Make every time step of the library's recurrent layers (and cells) of ``mode`` run ``fn``.

    The layers project the inputs of all time steps with W_ih in one matmul before the loop, and
    hand each step that projection ``gx`` (with both biases folded in); so the learner's cell gets
    ``gx`` as its input and the identity as its input weight."""
    def step(gx, state, w_hh, b_hh):
        eye = tt.eye(gx.shape[-1], dtype=gx.dtype, device=gx.device)
        gx = gx if b_hh is None else gx + b_hh
        if mode == "LSTM":
            return tuple(fn(gx, state, eye, w_hh, None, None))
        return (fn(gx, state[0], eye, w_hh, None, None),)
    monkeypatch.setitem(rnn_module._STEPS, mode, step)


def compare_layer(monkeypatch, kind, fn):
    """A 2-layer bidirectional batch-first layer run on the learner's cell vs the library's own."""
    cls, mode = (nn.RNN, "RNN_TANH") if kind == "rnn" else (nn.LSTM, "LSTM")
    for bias in (True, False):
        tt.manual_seed(3)
        ref = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True, bias=bias, dtype=tt.float64)
        mine = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True, bias=bias, dtype=tt.float64)
        mine.load_state_dict(ref.state_dict())
        rng = np.random.default_rng(7)
        x1 = tt.tensor(rng.standard_normal((2, 5, 3)), requires_grad=True)
        x2 = fresh(x1)
        h0 = tt.tensor(rng.standard_normal((4, 2, 4)))
        hx = h0 if kind == "rnn" else (h0, tt.tensor(rng.standard_normal((4, 2, 4))))
        out_ref, h_ref = ref(x1, hx)
        with monkeypatch.context() as m:
            plug_into_library(m, mode, fn)
            out_mine, h_mine = mine(x2, hx)
        what = f"nn.{cls.__name__}(3, 4, num_layers=2, bidirectional=True, bias={bias}) on your cell"
        check_close(out_mine, out_ref, f"the output of {what}", rtol=1e-10, atol=1e-12)
        finals = zip((h_mine,), (h_ref,)) if kind == "rnn" else zip(h_mine, h_ref)
        for a, b in finals:
            check_close(a, b, f"the final state of {what}", rtol=1e-10, atol=1e-12)
        g = tt.tensor(rng.standard_normal(tuple(out_ref.shape)))
        (out_ref * g).sum().backward()
        (out_mine * g).sum().backward()
        check_close(x2.grad, x1.grad, f"the input's gradient through {what}", rtol=1e-9, atol=1e-11)
        for (name, p), q in zip(ref.named_parameters(), mine.parameters()):
            check_close(q.grad, p.grad, f"the gradient of {name} in {what}", rtol=1e-9, atol=1e-11)
        compare_layer_with_pytorch(mine, x2, hx, g, out_mine, what)


def compare_layer_with_pytorch(mine, x, hx, g, out_mine, what):
    """Where PyTorch is installed: its layer, given the same weights through load_state_dict,
    gives the outputs and parameter gradients the layer running the learner's cell gave."""
    if torch is None:
        return
    cls = getattr(torch.nn, type(mine).__name__)
    theirs = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True, bias=mine.bias, dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in mine.state_dict().items()})
    as_torch = lambda t: torch.from_numpy(t.detach().numpy().copy())  # noqa: E731
    t_hx = as_torch(hx) if isinstance(hx, tt.Tensor) else tuple(as_torch(h) for h in hx)
    out, _ = theirs(as_torch(x), t_hx)
    check_close(out_mine, out.detach().numpy(), f"the output of {what}, against PyTorch's", rtol=1e-10,
                atol=1e-12)
    (out * as_torch(g)).sum().backward()
    for (name, p), q in zip(theirs.named_parameters(), mine.parameters()):
        check_close(q.grad, p.grad.numpy(), f"the gradient of {name} in {what}, against PyTorch's",
                    rtol=1e-9, atol=1e-11)


# --- 11.1 rnn_tanh_cell ---------------------------------------------------------------------------------
@pytest.mark.points(2, exercise="11.1", hint="h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh); a None bias adds nothing")
def test_rnn_cell_values(lab):
    """rnn_tanh_cell equals nn.RNNCell (and PyTorch) with and without biases, several shapes"""
    fn = lab.defined("rnn_tanh_cell")
    compare_cell("rnn", fn, gradients=False)
    compare_with_pytorch("rnn", fn)


@pytest.mark.points(2, exercise="11.1", hint="Tensor ops only: autograd then gives every gradient")
def test_rnn_cell_gradients(lab):
    """gradients of the input, the state and all four weights equal nn.RNNCell's"""
    compare_cell("rnn", lab.defined("rnn_tanh_cell"), gradients=True)


@pytest.mark.points(2, exercise="11.1")
def test_rnn_cell_inside_nn_rnn(lab, monkeypatch):
    """every step of a 2-layer bidirectional nn.RNN runs your cell: outputs, final state and gradients"""
    compare_layer(monkeypatch, "rnn", lab.defined("rnn_tanh_cell"))


# --- 11.2 lstm_cell -------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="11.2", hint="chunk the gates in PyTorch's order i, f, g, o; g uses tanh")
def test_lstm_cell_values(lab):
    """lstm_cell's (h', c') equal nn.LSTMCell's (and PyTorch's), with and without biases"""
    fn = lab.defined("lstm_cell")
    compare_cell("lstm", fn, gradients=False)
    compare_with_pytorch("lstm", fn)


@pytest.mark.points(2, exercise="11.2", hint="Tensor ops only: autograd then gives every gradient")
def test_lstm_cell_gradients(lab):
    """gradients of the input, h, c and all four weights equal nn.LSTMCell's"""
    compare_cell("lstm", lab.defined("lstm_cell"), gradients=True)


@pytest.mark.points(3, exercise="11.2")
def test_lstm_cell_inside_nn_lstm(lab, monkeypatch):
    """every step of a 2-layer bidirectional nn.LSTM runs your cell: outputs, (h_n, c_n) and gradients"""
    compare_layer(monkeypatch, "lstm", lab.defined("lstm_cell"))


# --- 11.3 truncated BPTT --------------------------------------------------------------------------------
class Forecaster(nn.Module):
    """An LSTM and a linear read-out; records whether each state it is handed still has a graph."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 6)
        self.head = nn.Linear(6, 1)
        self.calls = []  # per call: (chunk length, None or whether any state tensor requires grad)

    def forward(self, x, state=None):
        self.calls.append((x.shape[0], None if state is None else any(s.requires_grad for s in state)))
        out, state = self.lstm(x, state)
        return self.head(out), state


def sequence(length, seed):
    """Inputs (T, 3, 2) and targets: a running, decaying sum of the inputs' difference."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((length, 3, 2)).astype(np.float32)
    y = np.zeros((length, 3, 1), np.float32)
    for t in range(length):
        y[t] = (0.7 * y[t - 1] if t else 0) + 0.5 * (x[t, :, :1] - x[t, :, 1:])
    return tt.tensor(x), tt.tensor(y)


def reference_tbptt(model, x, y, k, optimizer):
    state, losses = None, []
    for t in range(0, x.shape[0], k):
        prediction, state = model(x[t:t + k], state)
        loss = F.mse_loss(prediction, y[t:t + k])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        state = tuple(s.detach() for s in state)
        losses.append(loss.item())
    return losses


@pytest.mark.points(3, exercise="11.3", hint="detach every tensor of the state before the next chunk")
def test_tbptt_cuts_the_graph(lab):
    """chunks of k steps (the last one shorter), the first from no state, every later one from a
    detached state, so no gradient flows past a chunk's start"""
    train_tbptt = lab.defined("train_tbptt")
    tt.manual_seed(0)
    model = Forecaster()
    x, y = sequence(23, 1)
    losses = train_tbptt(model, x, y, 5, optim.SGD(model.parameters(), lr=0.05))
    check_equal([n for n, _ in model.calls], [5, 5, 5, 5, 3], "the chunk lengths train_tbptt ran (23 steps, k=5)")
    check(model.calls[0][1] is None, "the first chunk must start from no state (None)")
    for i, (_, carries_graph) in enumerate(model.calls[1:], start=2):
        check(carries_graph is False, f"chunk {i} was handed a state that is still attached to the graph of the "
              "chunk before: the gradient would flow past the truncation",
              hint="state = tuple(s.detach() for s in state)")
    check(isinstance(losses, list) and len(losses) == 5 and all(isinstance(v, float) for v in losses),
          f"train_tbptt returned {losses!r}; expected a list of 5 floats, one loss per chunk")


@pytest.mark.points(3, exercise="11.3", hint="zero the gradients, backward, step: once per chunk")
def test_tbptt_equals_the_reference_and_learns(lab):
    """losses and final weights equal a reference loop's, with Adam and k=7; over 6 passes the
    loss falls well below its start"""
    train_tbptt = lab.defined("train_tbptt")
    x, y = sequence(40, 2)
    tt.manual_seed(4)
    mine, ref = Forecaster(), Forecaster()
    ref.load_state_dict(mine.state_dict())
    opt_mine, opt_ref = optim.Adam(mine.parameters(), lr=0.02), optim.Adam(ref.parameters(), lr=0.02)
    passes_mine, passes_ref = [], []
    for _ in range(6):
        passes_mine.append(train_tbptt(mine, x, y, 7, opt_mine))
        passes_ref.append(reference_tbptt(ref, x, y, 7, opt_ref))
    check_close(np.array(passes_mine[0]), np.array(passes_ref[0]), "the chunk losses of the first pass",
                rtol=1e-4, atol=1e-6)
    for (name, p), q in zip(ref.named_parameters(), mine.parameters()):
        check_close(q, p, f"{name} after 6 passes of truncated BPTT", rtol=1e-3, atol=1e-5)
    first, last = np.mean(passes_mine[0]), np.mean(passes_mine[-1])
    check(last < 0.6 * first, f"the mean chunk loss went from {first:.4f} to {last:.4f} in 6 passes; "
          "expected it to fall well below its start")
