"""The transformer of "Attention Is All You Need" (Vaswani et al., 2017), as PyTorch's ``nn.Transformer``.

An encoder layer is self-attention then a two-layer feed-forward network, each wrapped in a
residual connection and a layer norm: ``x = norm(x + block(x))`` (post-norm, the paper's), or
``x = x + block(norm(x))`` with ``norm_first`` (pre-norm, which trains more easily when deep). A
decoder layer adds attention over the encoder's output (the *memory*) between the two. The stacks
(:class:`TransformerEncoder`, :class:`TransformerDecoder`) hold independent copies of one layer,
and :class:`Transformer` is an encoder stack and a decoder stack, each followed by a layer norm.

Submodules carry PyTorch's names (``self_attn``, ``multihead_attn``, ``linear1``, ``linear2``,
``norm1..3``, ``layers.0...``), so PyTorch's state dicts load unchanged.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from ..ndarray import bool_
from ..ops import full, where
from ..tensor import Tensor, is_grad_enabled
from . import functional as F
from . import init
from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

Activation = str | Callable[[Tensor], Tensor]


def _activation(activation: Activation) -> Callable[[Tensor], Tensor]:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if isinstance(activation, str):
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    return activation


def _relu_or_gelu(activation: Any) -> bool:
    return activation in (F.relu, F.gelu) or isinstance(activation, (ReLU, GELU))


def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
    """The causal mask of size ``(sz, sz)``: 0 on and below the diagonal (a position may attend to
    itself and the past), -inf above (not to the future). A float mask, added to the scores."""
    return full((sz, sz), float("-inf"), device=device, dtype=dtype).triu(1)


def _is_causal(mask: Tensor | None, is_causal: bool | None, size: int) -> bool:
    """``is_causal`` when given; otherwise whether ``mask`` is exactly the causal mask (as PyTorch
    detects it, so that the layers may take the causal path)."""
    if is_causal is not None:
        return is_causal
    if mask is None or tuple(mask.shape) != (size, size):
        return False
    causal = generate_square_subsequent_mask(size, device=mask.device, dtype=mask.dtype)
    return bool((mask == causal).all().item())


class TransformerEncoderLayer(Module):
    r"""Self-attention and a feed-forward network, each with a residual connection and a layer norm.

    Args:
        d_model: the model dimension. nhead: attention heads.
        dim_feedforward: the hidden size of the feed-forward network. Default: 2048.
        dropout: dropout after attention, inside and after the feed-forward network. Default: 0.1.
        activation: "relu", "gelu" or a callable. Default: relu.
        layer_norm_eps: the layer norms' eps. Default: 1e-5.
        batch_first: ``(N, S, E)`` rather than ``(S, N, E)``. Default: False.
        norm_first: pre-norm ``x + block(norm(x))`` rather than post-norm. Default: False.
        bias: biases in the linear layers, attention and layer norms. Default: True.

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``: the masks are
    those of :class:`MultiheadAttention`.

    Examples::

        >>> layer = TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32)
        >>> layer(tt.randn(10, 2, 16)).shape
        (10, 2, 16)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = F.relu, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, mask: Tensor | None, padding: Tensor | None, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    r"""Self-attention over the target, attention over the encoder's output (``memory``), and a
    feed-forward network, each with a residual connection and a layer norm.

    Arguments are those of :class:`TransformerEncoderLayer`. ``forward(tgt, memory, tgt_mask=None,
    memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False,
    memory_is_causal=False)``.

    Examples::

        >>> layer = TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32)
        >>> layer(tt.randn(7, 2, 16), tt.randn(10, 2, 16)).shape
        (7, 2, 16)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = F.relu, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                                 **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, mask: Tensor | None, padding: Tensor | None, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding, is_causal=is_causal,
                           need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, mem: Tensor, mask: Tensor | None, padding: Tensor | None,
                   is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=mask, key_padding_mask=padding, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _clones(module: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoder(Module):
    """``num_layers`` independent copies of ``encoder_layer`` applied in turn, then ``norm`` if given.

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``; ``is_causal=None``
    means: detect whether ``mask`` is the causal mask.

    ``enable_nested_tensor``: PyTorch runs inference (eval mode, no gradients wanted) on a padded
    batch as a nested tensor when the layers allow it, and so returns zeros at the padded positions;
    tinytorch has no nested tensors but gives the same zeros under the same conditions (see
    :meth:`_pads_with_zeros`). ``mask_check``: that path requires padding at the ends only.

    Examples::

        >>> encoder = TransformerEncoder(TransformerEncoderLayer(16, 4, 32), num_layers=2)
        >>> encoder(tt.randn(10, 2, 16)).shape
        (10, 2, 16)
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        batch_first = self.layers[0].self_attn.batch_first if self.num_layers else False
        causal = _is_causal(mask, is_causal, src.shape[1 if batch_first and src.ndim == 3 else 0])
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, is_causal=causal, src_key_padding_mask=src_key_padding_mask)
        x = x if self.norm is None else self.norm(x)
        if src_key_padding_mask is not None and self._pads_with_zeros(src, mask, src_key_padding_mask):
            x = where(src_key_padding_mask.unsqueeze(-1), 0.0, x)
        return x

    def _pads_with_zeros(self, src: Tensor, mask: Tensor | None, padding: Tensor) -> bool:
        """Whether PyTorch would take its nested-tensor inference path, which returns zeros at the
        padded positions: the conditions of PyTorch's ``TransformerEncoder`` for it, in its order."""
        layer = self.layers[0] if self.num_layers else None
        if not self.enable_nested_tensor or not isinstance(layer, TransformerEncoderLayer):
            return False
        attn = layer.self_attn
        if (layer.norm_first or not attn.batch_first or not attn._qkv_same_embed_dim or attn.in_proj_bias is None
                or not _relu_or_gelu(layer.activation) or layer.norm1.eps != layer.norm2.eps or attn.num_heads % 2):
            return False
        if layer.training or src.ndim != 3 or padding.dtype != bool_ or mask is not None:
            return False
        if is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            return False
        # left aligned: in every row the kept positions come first (a row is kept, then padding)
        kept = padding.logical_not().long()
        return not self.mask_check or bool((kept[:, 1:] <= kept[:, :-1]).all().item())


class TransformerDecoder(Module):
    """``num_layers`` independent copies of ``decoder_layer`` applied in turn, then ``norm`` if given.

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``.

    Examples::

        >>> decoder = TransformerDecoder(TransformerDecoderLayer(16, 4, 32), num_layers=2)
        >>> decoder(tt.randn(7, 2, 16), tt.randn(10, 2, 16)).shape
        (7, 2, 16)
    """

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        batch_first = self.layers[0].self_attn.batch_first if self.num_layers else False
        causal = _is_causal(tgt_mask, tgt_is_causal, tgt.shape[1 if batch_first and tgt.ndim == 3 else 0])
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=causal,
                      memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    r"""An encoder-decoder transformer: ``decoder(tgt, encoder(src))``.

    Args:
        d_model: the model dimension. Default: 512. nhead: attention heads. Default: 8.
        num_encoder_layers, num_decoder_layers: stack depths. Default: 6 each.
        dim_feedforward: the feed-forward hidden size. Default: 2048.
        dropout, activation, layer_norm_eps, batch_first, norm_first, bias: as in
            :class:`TransformerEncoderLayer`.
        custom_encoder, custom_decoder: modules used instead of the default stacks.

    Every parameter with more than one dimension is initialised Xavier-uniform, as PyTorch.
    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
    memory_is_causal=False)`` returns ``(T, N, E)`` (``(N, T, E)`` with ``batch_first``).

    Examples::

        >>> model = Transformer(d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32)
        >>> model(tt.randn(10, 2, 16), tt.randn(7, 2, 16)).shape
        (7, 2, 16)
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: Activation = F.relu,
                 custom_encoder: Any = None, custom_decoder: Any = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first,
                      bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*layer_args, **kw), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*layer_args, **kw), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.ndim == 2 and tgt.ndim != 2:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)
