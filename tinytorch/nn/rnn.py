r"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their one-step ``...Cell`` forms, as PyTorch's.

A recurrent layer reads a sequence one step at a time and carries a hidden state ``h`` (an LSTM
also a cell state ``c``) from step to step:

- RNN:  :math:`h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})` (or ReLU)
- LSTM: gates :math:`i, f, g, o` (in this order) from one matmul of ``h`` with :math:`W_{hh}`,
  :math:`c' = \sigma(f) c + \sigma(i) \tanh(g)`, :math:`h' = \sigma(o) \tanh(c')`
- GRU:  :math:`r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr})`, :math:`z` likewise,
  :math:`n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn}))`, :math:`h' = (1 - z) n + z h`

Everything is made of graph nodes, so autograd differentiates it (backpropagation through time
is just ``backward`` through the unrolled loop). Three things keep the unrolled graph small:
the input projection :math:`W_{ih} x + b` of *every* step is one matmul before the loop; each
step does one matmul with :math:`W_{hh}` for all of its gates at once (the four LSTM gates are
one ``(B, H) @ (H, 4H)``); and an LSTM step's gate arithmetic is two nodes,
:class:`~tinytorch.ops.fused.LstmCell` for :math:`c'` and ``LstmHidden`` for :math:`h'`, with
hand-derived gradients (RNN and GRU steps stay compositions of Tensor ops).

A batch of sequences of different lengths arrives as a :class:`~tinytorch.nn.utils.rnn.PackedSequence`;
it is run padded, with a per-step mask that keeps a finished sequence's state unchanged: so the
final state is the one after the sequence's last real element, and a reverse direction starts
each sequence at its own end.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Callable

from ..ops import cat, stack, where, zeros
from ..ops.fused import LstmCell, LstmHidden
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, pack_steps, pad_steps, step_mask

State = tuple[Tensor, ...]  # (h,) or, for an LSTM, (h, c)
Step = Callable[[Tensor, State, Tensor, "Tensor | None"], State]


# --------------------------------------------------------------------- one time step of each kind
# ``gx`` is the input's projection W_ih x + b_ih (for RNN and LSTM with b_hh folded in as well, by
# the layers, which then pass b_hh=None); ``state`` the carried (h,) or (h, c).
def _rnn_tanh_step(gx: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> State:
    return (F.linear(state[0], w_hh, b_hh).add(gx).tanh(),)


def _rnn_relu_step(gx: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> State:
    return (F.linear(state[0], w_hh, b_hh).add(gx).relu(),)


def _lstm_step(gx: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> State:
    h, c = state
    z = F.linear(h, w_hh, b_hh).add(gx)  # the four gates' pre-activations, from one matmul
    c = LstmCell.apply(z, c)  # sigmoid(f) * c + sigmoid(i) * tanh(g), one node
    return LstmHidden.apply(z, c), c  # sigmoid(o) * tanh(c), one node


def _gru_step(gx: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None) -> State:
    h = state[0]
    gh = F.linear(h, w_hh, b_hh)  # b_hn must stay inside r * (...), so b_hh is never folded
    x_rz, x_n = gx.split([2 * h.shape[-1], h.shape[-1]], -1)
    h_rz, h_n = gh.split([2 * h.shape[-1], h.shape[-1]], -1)
    r, z = (x_rz + h_rz).sigmoid().chunk(2, -1)
    n = (x_n + r * h_n).tanh()
    return (n + z * (h - n),)  # = (1 - z) * n + z * h


_STEPS: dict[str, Step] = {"RNN_TANH": _rnn_tanh_step, "RNN_RELU": _rnn_relu_step, "LSTM": _lstm_step,
                           "GRU": _gru_step}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _run_direction(step: Step, gx: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None,
                   mask: Tensor | None, reverse: bool) -> tuple[Tensor, State]:
    """Unroll ``step`` over the time-major projections ``gx`` (T, B, G*H) from ``state``, backwards
    in time if ``reverse``. Where ``mask[t]`` (B, 1) is False the state is carried unchanged.
    Returns the hidden states of every step (T, B, H), in time order, and the final state."""
    steps = gx.unbind(0)
    outputs: list[Tensor] = [state[0]] * len(steps)
    for t in (reversed(range(len(steps))) if reverse else range(len(steps))):
        new = step(steps[t], state, w_hh, b_hh)
        if mask is not None:
            new = tuple(where(mask[t], n, s) for n, s in zip(new, state))
        state = new
        outputs[t] = state[0]
    return stack(outputs), state


# --------------------------------------------------------------------- the layers
class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters of every layer and direction (PyTorch's names
    ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, with the suffix
    ``_reverse`` for the backward direction), argument checks, and the unrolled forward pass."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):  # type: ignore[operator]
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:  # type: ignore[operator]
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=3)
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size != 0:
            raise ValueError(f"proj_size={proj_size}: LSTM projections (proj_size > 0) are not supported by "
                             "tinytorch; use proj_size=0")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)  # type: ignore[arg-type]
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes: dict[str, tuple[int, ...]] = {"weight_ih": (gate_size, layer_input),
                                                      "weight_hh": (gate_size, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                for name, shape in shapes.items():
                    setattr(self, name + suffix, Parameter(zeros(*shape, device=device, dtype=dtype)))
                self._all_weights.append([name + suffix for name in shapes])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self) -> None:
        """A no-op (PyTorch compacts the weights for cuDNN here); programs call it, so it exists."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters per layer and direction: ``[[w_ih, w_hh, b_ih, b_hh], ...]``."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _state_count(self) -> int:
        return 2 if self.mode == "LSTM" else 1

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        directions = 2 if self.bidirectional else 1
        packed = isinstance(input, PackedSequence)
        if packed:
            sizes = [int(n) for n in input.batch_sizes.tolist()]
            x = pad_steps(input.data, sizes)  # (T, B, H_in), batch sorted by length
            mask: Tensor | None = step_mask(sizes, x.device).unsqueeze(-1)
            batched = True
        else:
            if input.ndim not in (2, 3):
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.ndim}D "
                                 "tensor instead")
            batched = input.ndim == 3
            x = input if batched else input.unsqueeze(1)
            if self.batch_first and batched:
                x = x.transpose(0, 1)
            mask = None
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {x.shape[-1]}")
        states = self._initial_states(hx, x, batched, input.sorted_indices if packed else None)
        step = _STEPS[self.mode]
        finals: list[State] = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                w_ih, w_hh, *biases = self.all_weights[index]
                b_ih: Tensor | None = biases[0] if biases else None
                b_hh: Tensor | None = biases[1] if biases else None
                if self.mode != "GRU" and b_ih is not None:  # both biases in the one projection up front
                    b_ih, b_hh = b_ih + b_hh, None
                gx = F.linear(x, w_ih, b_ih)  # (T, B, G*H): every step's input projection in one matmul
                out, final = _run_direction(step, gx, tuple(s[index] for s in states), w_hh, b_hh, mask,
                                            reverse=direction == 1)
                outputs.append(out)
                finals.append(final)
            x = outputs[0] if directions == 1 else cat(outputs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n = tuple(stack([f[k] for f in finals]) for k in range(self._state_count()))
        if packed:
            output: Any = PackedSequence(pack_steps(x, sizes), input.batch_sizes, input.sorted_indices,
                                         input.unsorted_indices)
            if input.unsorted_indices is not None:
                h_n = tuple(h.index_select(1, input.unsorted_indices) for h in h_n)
        else:
            output = x.transpose(0, 1) if self.batch_first and batched else x
            if not batched:
                output, h_n = output.squeeze(1), tuple(h.squeeze(1) for h in h_n)
        return output, (h_n if self.mode == "LSTM" else h_n[0])

    def _initial_states(self, hx: Any, x: Tensor, batched: bool, sorted_indices: Tensor | None) -> State:
        """``hx`` as a tuple of ``(layers * directions, B, H)`` tensors (zeros when None), checked,
        given a batch dimension when the input has none, and sorted like a packed batch."""
        expected = (self.num_layers * (2 if self.bidirectional else 1), x.shape[1], self.hidden_size)
        if hx is None:
            zero = zeros(*expected, dtype=x.dtype, device=x.device)
            return (zero,) * self._state_count()
        given = tuple(hx) if self.mode == "LSTM" else (hx,)
        if len(given) != self._state_count() or not all(isinstance(h, Tensor) for h in given):
            raise TypeError(f"{type(self).__name__}: hx must be " +
                            ("a tuple (h_0, c_0) of tensors" if self.mode == "LSTM" else "a tensor"))
        states = []
        for k, h in enumerate(given):
            want = 3 if batched else 2
            if h.ndim != want:
                raise RuntimeError(f"For {'batched 3-D' if batched else 'unbatched 2-D'} input, hx "
                                   f"{'and cx ' if self.mode == 'LSTM' else ''}should also be {want}-D but got "
                                   f"{h.ndim}-D tensor")
            h = h if batched else h.unsqueeze(1)
            if tuple(h.shape) != expected:
                name = f"hidden[{k}]" if self.mode == "LSTM" else "hidden"
                raise RuntimeError(f"Expected {name} size {expected}, got {list(h.shape)}")
            states.append(h if sorted_indices is None else h.index_select(1, sorted_indices))
        return tuple(states)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            text += f", bidirectional={self.bidirectional}"
        return text


_LAYER_DOC = """
    Args:
        input_size: the number of features of each input step.
        hidden_size: the number of features of the hidden state.
        num_layers: recurrent layers stacked on each other (each reads the previous one's outputs).
            Default: 1.
        bias: if False, no ``bias_ih`` / ``bias_hh``. Default: True.
        batch_first: inputs and outputs are ``(N, L, H)`` rather than ``(L, N, H)`` (the states keep
            their ``(layers * directions, N, H)`` shape). Default: False.
        dropout: dropout on the outputs of every layer but the last, in training. Default: 0.
        bidirectional: run a second pass backwards in time; outputs concatenate both. Default: False.

    Shape:
        - input: ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``), ``(L, H_in)`` unbatched, or a
          :class:`~tinytorch.nn.utils.rnn.PackedSequence`.
        - output: ``(L, N, D * H)`` (D = 2 if bidirectional else 1), or a PackedSequence for a packed input.
        - states: ``(D * num_layers, N, H)`` (``(D * num_layers, H)`` unbatched), zeros if not given.

    Parameters: ``weight_ih_l{k}`` ``(G * H, H_in or D * H)``, ``weight_hh_l{k}`` ``(G * H, H)``,
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` ``(G * H)`` (G gates), ``..._reverse`` for the backward
    direction; all from U(-1/sqrt(H), 1/sqrt(H)).
"""


class RNN(RNNBase):
    __doc__ = r"""A multi-layer Elman RNN: :math:`h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`.

    ``nonlinearity`` ("tanh" or "relu") is the fourth argument, as PyTorch's. ``forward(input, hx=None)``
    returns ``(output, h_n)``.
    """ + _LAYER_DOC + """
    Examples::

        >>> rnn = RNN(10, 20, 2)
        >>> output, h_n = rnn(tt.randn(5, 3, 10))
        >>> output.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    __doc__ = r"""A multi-layer long short-term memory layer (gates i, f, g, o; see the module docstring).

    ``forward(input, (h_0, c_0)=None)`` returns ``(output, (h_n, c_n))``. ``proj_size`` (LSTM with
    projections) is not supported: any value but 0 is a ``ValueError``.
    """ + _LAYER_DOC + """
    Examples::

        >>> lstm = LSTM(10, 20, 2)
        >>> output, (h_n, c_n) = lstm(tt.randn(5, 3, 10))
        >>> output.shape, c_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    __doc__ = r"""A multi-layer gated recurrent unit (gates r, z, n; see the module docstring).

    ``forward(input, h_0=None)`` returns ``(output, h_n)``.
    """ + _LAYER_DOC + """
    Examples::

        >>> gru = GRU(10, 20, 2)
        >>> output, h_n = gru(tt.randn(5, 3, 10))
        >>> output.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


# --------------------------------------------------------------------- the cells
class RNNCellBase(Module):
    """One time step: parameters ``weight_ih`` ``(G * H, H_in)``, ``weight_hh`` ``(G * H, H)``,
    ``bias_ih``, ``bias_hh`` ``(G * H)``, all from U(-1/sqrt(H), 1/sqrt(H))."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool, device: Any, dtype: Any):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = _GATES[mode] * hidden_size
        self.weight_ih = Parameter(zeros(gates, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(zeros(gates, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(zeros(gates, device=device, dtype=dtype))
            self.bias_hh = Parameter(zeros(gates, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def _step(self, input: Tensor, hx: Any) -> Any:
        """Check shapes, run one step of the cell's kind; an unbatched ``(H_in,)`` input gives
        unbatched states. ``hx`` is a tensor, a pair for an LSTM, or None (zeros)."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        count = 2 if self.mode == "LSTM" else 1
        if hx is None:
            state = (zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device),) * count
        else:
            given = tuple(hx) if count == 2 else (hx,)
            for h in given:
                if h.ndim != input.ndim:
                    raise RuntimeError(f"{name}: Expected hidden to be {input.ndim}D, got {h.ndim}D instead")
            state = tuple(h if batched else h.unsqueeze(0) for h in given)
            for h in state:
                if tuple(h.shape) != (x.shape[0], self.hidden_size):
                    raise RuntimeError(f"hidden has inconsistent shape: got {list(h.shape)}, expected "
                                       f"{[x.shape[0], self.hidden_size]}")
        new = _STEPS[self.mode](F.linear(x, self.weight_ih, self.bias_ih), state, self.weight_hh, self.bias_hh)
        new = new if batched else tuple(h.squeeze(0) for h in new)
        return new if count == 2 else new[0]

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            text += f", nonlinearity={nonlinearity}"
        return text


class RNNCell(RNNCellBase):
    r"""One step of an Elman RNN: :math:`h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})` (or ReLU).

    Args:
        input_size, hidden_size: feature counts of the input and the hidden state.
        bias: if False, no ``bias_ih`` / ``bias_hh``. Default: True.
        nonlinearity: "tanh" or "relu". Default: "tanh".

    Shape: input ``(N, H_in)`` or ``(H_in)``; ``hx`` and the result ``(N, H)`` or ``(H)`` (zeros if no hx).

    Examples::

        >>> cell = RNNCell(10, 20)
        >>> cell(tt.randn(3, 10)).shape
        (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, bias,
                         device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx)


class LSTMCell(RNNCellBase):
    r"""One LSTM step: the gates i, f, g, o from one matmul each for x and h, then
    :math:`c' = \sigma(f) c + \sigma(i) \tanh(g)`, :math:`h' = \sigma(o) \tanh(c')`.

    Args:
        input_size, hidden_size: feature counts of the input and the states.
        bias: if False, no ``bias_ih`` / ``bias_hh``. Default: True.

    Shape: input ``(N, H_in)`` or ``(H_in)``; ``hx = (h, c)`` and the result ``(h', c')`` each
    ``(N, H)`` or ``(H)`` (zeros if no hx).

    Examples::

        >>> cell = LSTMCell(10, 20)
        >>> h, c = cell(tt.randn(3, 10))
        >>> h.shape, c.shape
        ((3, 20), (3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        return self._step(input, hx)


class GRUCell(RNNCellBase):
    r"""One GRU step: :math:`r, z = \sigma(\cdot)`, :math:`n = \tanh(W_{in} x + b_{in} + r (W_{hn} h + b_{hn}))`,
    :math:`h' = (1 - z) n + z h`.

    Args:
        input_size, hidden_size: feature counts of the input and the hidden state.
        bias: if False, no ``bias_ih`` / ``bias_hh``. Default: True.

    Shape: input ``(N, H_in)`` or ``(H_in)``; ``hx`` and the result ``(N, H)`` or ``(H)`` (zeros if no hx).

    Examples::

        >>> cell = GRUCell(10, 20)
        >>> cell(tt.randn(3, 10)).shape
        (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx)
