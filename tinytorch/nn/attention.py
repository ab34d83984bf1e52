"""``MultiheadAttention``: attention with learned projections, split into heads, as PyTorch's.

The computation lives in :func:`tinytorch.nn.functional.multi_head_attention_forward` (and
:func:`~tinytorch.nn.functional.scaled_dot_product_attention` under it); this module holds the
parameters under PyTorch's names, so a PyTorch state dict loads unchanged:

- ``in_proj_weight`` ``(3E, E)`` (q, k and v stacked) when keys and values have the embedding
  size, else ``q_proj_weight`` ``(E, E)``, ``k_proj_weight`` ``(E, kdim)``, ``v_proj_weight`` ``(E, vdim)``;
- ``in_proj_bias`` ``(3E)``, ``out_proj.weight`` / ``out_proj.bias``, and ``bias_k`` / ``bias_v``
  ``(1, 1, E)`` with ``add_bias_kv``.
"""

from __future__ import annotations

from typing import Any

from ..ops import empty
from ..tensor import Tensor
from . import functional as F
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter


class NonDynamicallyQuantizableLinear(Linear):
    """PyTorch's name for the output projection of :class:`MultiheadAttention`: a plain ``Linear``
    (the name only tells PyTorch's quantisation tools to leave it alone)."""


class MultiheadAttention(Module):
    r"""Multi-head attention: :math:`\text{concat}(head_1, ..., head_h) W^O` with
    :math:`head_i = \text{softmax}(Q W_i^Q (K W_i^K)^T / \sqrt{d}) V W_i^V`, ``d = embed_dim / num_heads``.

    Args:
        embed_dim: the model dimension E (of the queries and the output).
        num_heads: the number of heads; must divide ``embed_dim``.
        dropout: dropout on the attention weights, in training. Default: 0.
        bias: biases for the input and output projections. Default: True.
        add_bias_kv: learn one extra key and value appended to every sequence. Default: False.
        add_zero_attn: append a zero key and value to every sequence. Default: False.
        kdim, vdim: feature sizes of keys and values (default ``embed_dim``); when they differ from
            it the projections are three separate weights.
        batch_first: inputs and output are ``(N, L, E)`` rather than ``(L, N, E)``. Default: False.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns ``(output, weights)``:

    Shape:
        - query ``(L, N, E)``, key ``(S, N, kdim)``, value ``(S, N, vdim)`` (batch first if
          ``batch_first``), or unbatched ``(L, E)``, ``(S, kdim)``, ``(S, vdim)``.
        - key_padding_mask ``(N, S)``, attn_mask ``(L, S)`` or ``(N * num_heads, L, S)``: bool True
          means the position may *not* be attended; float masks are added to the scores.
        - output like query; weights ``(N, L, S)`` averaged over the heads, ``(N, num_heads, L, S)``
          with ``average_attn_weights=False``, None with ``need_weights=False``.

    Examples::

        >>> mha = MultiheadAttention(16, 4, batch_first=True)
        >>> x = tt.randn(2, 5, 16)
        >>> out, weights = mha(x, x, x)
        >>> out.shape, weights.shape
        ((2, 5, 16), (2, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None, dtype: Any = None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError(f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim} and "
                                 f"num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        kw = dict(device=device, dtype=dtype)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **kw))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **kw))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **kw))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's initialisation: Xavier-uniform projections, zero biases, Xavier-normal ``bias_k/v``
        (``out_proj.weight`` keeps the ``Linear`` initialisation)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        if query.ndim not in (2, 3):
            raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D "
                                 "query tensor")
        batched = query.ndim == 3
        if self.batch_first and batched:  # to time-major, keeping "is the same tensor" (self-attention)
            if key is value:
                if query is key:
                    query = key = value = query.transpose(0, 1)
                else:
                    query, key = query.transpose(0, 1), key.transpose(0, 1)
                    value = key
            else:
                query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        out, weights = F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        if self.batch_first and batched:
            out = out.transpose(0, 1)
        return out, weights
