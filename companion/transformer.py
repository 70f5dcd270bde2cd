"""A small encoder-decoder Transformer, written out, for chapter 4's experiments.

Vaswani et al. (NeurIPS 2017, "Attention Is All You Need"): token embeddings scaled by
``sqrt(d_model)`` plus sinusoidal positional encodings; an encoder of self-attention +
feed-forward blocks; a decoder whose self-attention is causally masked and which also attends to
the encoder output; a linear layer to vocabulary logits. Each block is wired from
``nn.MultiheadAttention``, ``nn.Linear`` and ``nn.LayerNorm`` so that the *structure* can be
varied: the LayerNorm before the sub-layer ("pre-LN", Xiong et al., ICML 2020) or after the
residual sum ("post-LN", the original), residual connections on or off, and dropout. With the
defaults a block computes exactly what ``torch.nn.TransformerEncoderLayer`` /
``TransformerDecoderLayer`` compute (same parameter names, so their ``state_dict`` loads; the tests
check the outputs agree).

Also here: the masks (:func:`causal_mask`, padding masks from ``pad_id``), teacher forcing
(:func:`shift_right`), the toy task of sequence reversal (:func:`reversal_batch`),
:func:`greedy_decode`, :func:`sequence_accuracy` and :func:`parameters_by_component`.

Book section: chapter 4.1 ("The Transformer, correctly").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

PAD, BOS, EOS = 0, 1, 2
#: Token ids below this are special (PAD, BOS, EOS); the reversal task's symbols start here.
FIRST_SYMBOL = 3


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """The fixed positional encodings of Vaswani et al. (2017), shape ``(max_len, d_model)``, float32.

    ``PE[p, 2i] = sin(p / 10000^(2i/d_model))`` and ``PE[p, 2i+1] = cos(p / 10000^(2i/d_model))``.

    Raises:
        ValueError: if ``max_len`` is not positive or ``d_model`` is not a positive even int.
    """
    if not isinstance(max_len, int) or max_len <= 0:
        raise ValueError(f"max_len: expected a positive int, got {max_len!r}")
    if not isinstance(d_model, int) or d_model <= 0 or d_model % 2:
        raise ValueError(f"d_model: expected a positive even int, got {d_model!r}")
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return pe


def causal_mask(size: int, device=None) -> torch.Tensor:
    """Boolean ``(size, size)`` mask, ``True`` where attention is *forbidden*: position ``i`` may
    attend to ``j <= i`` only. (``torch.nn.MultiheadAttention`` convention for boolean masks.)"""
    return torch.triu(torch.ones(size, size, dtype=torch.bool, device=device), diagonal=1)


def shift_right(targets: torch.Tensor, bos_id: int = BOS, pad_id: int = PAD) -> torch.Tensor:
    """Decoder input for teacher forcing: ``[BOS, y_1, ..., y_{T-1}]`` from targets ``[y_1, ..., y_T]``.

    Args:
        targets: int64 tensor ``(batch, T)`` (padded with ``pad_id`` at the end).

    Returns:
        int64 tensor ``(batch, T)``; position ``t`` holds the token the decoder has *seen* when it
        predicts ``targets[:, t]``.

    Raises:
        ValueError: if ``targets`` is not 2-D.
    """
    if targets.dim() != 2:
        raise ValueError(f"targets: expected shape (batch, T), got {tuple(targets.shape)}")
    shifted = targets.new_full(targets.shape, pad_id)
    shifted[:, 0] = bos_id
    shifted[:, 1:] = targets[:, :-1]
    return shifted


class Block(nn.Module):
    """One Transformer layer: self-attention (+ cross-attention in a decoder) and a feed-forward net.

    Post-LN (``norm_first=False``, the 2017 original) computes ``x = LN(x + Sublayer(x))``; pre-LN
    computes ``x = x + Sublayer(LN(x))``. With ``residual=False`` the ``x +`` is dropped (post-LN:
    ``x = LN(Sublayer(x))``; pre-LN: ``x = Sublayer(LN(x))``). The feed-forward net is
    ``linear2(dropout(relu(linear1(x))))``; dropout is also applied to each sub-layer's output and
    inside attention.

    Args:
        d_model, nhead, dim_feedforward, dropout: sizes as in ``nn.TransformerEncoderLayer``.
        cross_attention: add a cross-attention sub-layer over an encoder ``memory`` (decoder).
        norm_first: pre-LN instead of post-LN.
        residual: keep the residual connections.

    Input ``x``: float ``(batch, T, d_model)``; output the same shape.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float = 0.1, *,
                 cross_attention: bool = False, norm_first: bool = False, residual: bool = True):
        super().__init__()
        if d_model % nhead:
            raise ValueError(f"nhead: d_model={d_model} is not divisible by nhead={nhead}")
        self.norm_first, self.residual, self.cross = norm_first, residual, cross_attention
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        if cross_attention:
            self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        n_norms = 3 if cross_attention else 2
        for i in range(1, n_norms + 1):
            setattr(self, f"norm{i}", nn.LayerNorm(d_model))
            setattr(self, f"dropout{i}", nn.Dropout(dropout))

    def _sublayer(self, x, fn, norm, drop):
        if self.norm_first:
            out = drop(fn(norm(x)))
            return x + out if self.residual else out
        out = drop(fn(x))
        return norm(x + out if self.residual else out)

    def forward(self, x, memory=None, *, attn_mask=None, key_padding_mask=None, memory_key_padding_mask=None):
        x = self._sublayer(x, lambda h: self.self_attn(h, h, h, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                                       need_weights=False)[0], self.norm1, self.dropout1)
        last = 2
        if self.cross:
            if memory is None:
                raise ValueError("memory: a decoder block needs the encoder output")
            x = self._sublayer(x, lambda h: self.multihead_attn(h, memory, memory, key_padding_mask=memory_key_padding_mask,
                                                                need_weights=False)[0], self.norm2, self.dropout2)
            last = 3
        ff = lambda h: self.linear2(self.dropout(F.relu(self.linear1(h))))  # noqa: E731
        return self._sublayer(x, ff, getattr(self, f"norm{last}"), getattr(self, f"dropout{last}"))


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes and structure of :class:`Seq2SeqTransformer`.

    Attributes:
        vocab_size: number of token ids (shared by source and target), including PAD/BOS/EOS.
        d_model: width of every token vector.
        nhead: attention heads (``d_model % nhead == 0``).
        num_layers: encoder layers = decoder layers.
        dim_feedforward: inner width of the feed-forward nets.
        dropout: dropout probability everywhere.
        norm_first: pre-LN (True) or post-LN (False).
        residual: residual connections on or off.
        max_len: longest sequence the positional encodings cover.
        pad_id: id of the padding token (masked out of attention and the loss).
    """

    vocab_size: int = 16
    d_model: int = 64
    nhead: int = 4
    num_layers: int = 2
    dim_feedforward: int = 128
    dropout: float = 0.1
    norm_first: bool = False
    residual: bool = True
    max_len: int = 64
    pad_id: int = PAD


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer: ``model(src, tgt_in)`` returns logits ``(batch, T_tgt, vocab_size)``.

    Args:
        config: a :class:`TransformerConfig`.

    ``src``: int64 ``(batch, T_src)``; ``tgt_in``: int64 ``(batch, T_tgt)``, the shifted-right
    targets (:func:`shift_right`). Padding (``pad_id``) is masked in every attention; the decoder's
    self-attention is also causally masked. One embedding table serves source and target (they
    share a vocabulary here); the final LayerNorm after each stack matches ``nn.Transformer``.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        c = self.config = config
        self.embedding = nn.Embedding(c.vocab_size, c.d_model, padding_idx=c.pad_id)
        self.register_buffer("positional_encoding", sinusoidal_positional_encoding(c.max_len, c.d_model),
                             persistent=False)
        self.dropout = nn.Dropout(c.dropout)
        kw = dict(norm_first=c.norm_first, residual=c.residual)
        self.encoder = nn.ModuleList(Block(c.d_model, c.nhead, c.dim_feedforward, c.dropout, **kw)
                                     for _ in range(c.num_layers))
        self.decoder = nn.ModuleList(Block(c.d_model, c.nhead, c.dim_feedforward, c.dropout, cross_attention=True, **kw)
                                     for _ in range(c.num_layers))
        self.encoder_norm = nn.LayerNorm(c.d_model)
        self.decoder_norm = nn.LayerNorm(c.d_model)
        self.generator = nn.Linear(c.d_model, c.vocab_size)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > self.config.max_len:
            raise ValueError(f"ids: length {ids.shape[1]} exceeds max_len {self.config.max_len}")
        x = self.embedding(ids) * math.sqrt(self.config.d_model)
        return self.dropout(x + self.positional_encoding[: ids.shape[1]])

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder output ``(batch, T_src, d_model)`` and the source padding mask ``(batch, T_src)``."""
        pad = src == self.config.pad_id
        x = self.embed(src)
        for block in self.encoder:
            x = block(x, key_padding_mask=pad)
        return self.encoder_norm(x), pad

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_pad: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, T_tgt, vocab_size)`` for every target position."""
        mask = causal_mask(tgt_in.shape[1], tgt_in.device)
        pad = tgt_in == self.config.pad_id
        x = self.embed(tgt_in)
        for block in self.decoder:
            x = block(x, memory, attn_mask=mask, key_padding_mask=pad, memory_key_padding_mask=src_pad)
        return self.generator(self.decoder_norm(x))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, src_pad = self.encode(src)
        return self.decode(tgt_in, memory, src_pad)


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, pad_id: int = PAD) -> torch.Tensor:
    """Mean cross-entropy over non-padding target tokens.

    ``nn.CrossEntropyLoss`` wants ``(N, C)`` logits and ``(N,)`` targets, so ``(batch, T, V)``
    logits are reshaped to ``(batch·T, V)`` and targets to ``(batch·T,)``; padding is ignored.

    Raises:
        ValueError: if the shapes do not match.
    """
    if logits.shape[:2] != targets.shape:
        raise ValueError(f"targets: shape {tuple(targets.shape)} does not match logits {tuple(logits.shape)}")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id)


def reversal_batch(batch_size: int, *, min_len: int = 3, max_len: int = 10, n_symbols: int = 10,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the toy task "reverse the sequence".

    Each example is ``min_len``-``max_len`` random symbols (ids ``FIRST_SYMBOL`` ...
    ``FIRST_SYMBOL + n_symbols - 1``). ``src`` is the sequence, ``targets`` the reversed sequence
    followed by ``EOS``; both are right-padded with ``PAD``.

    Returns:
        ``(src, targets)``: int64 tensors ``(batch_size, max_len)`` and ``(batch_size, max_len + 1)``.

    Raises:
        ValueError: for non-positive sizes or ``min_len > max_len``.
    """
    if batch_size <= 0 or n_symbols <= 0 or not 1 <= min_len <= max_len:
        raise ValueError(f"min_len: need batch_size, n_symbols > 0 and 1 <= min_len <= max_len, got "
                         f"{batch_size}, {n_symbols}, {min_len}, {max_len}")
    lengths = torch.randint(min_len, max_len + 1, (batch_size,), generator=generator)
    symbols = torch.randint(FIRST_SYMBOL, FIRST_SYMBOL + n_symbols, (batch_size, max_len), generator=generator)
    src = torch.full((batch_size, max_len), PAD, dtype=torch.long)
    targets = torch.full((batch_size, max_len + 1), PAD, dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        src[i, :n] = symbols[i, :n]
        targets[i, :n] = symbols[i, :n].flip(0)
        targets[i, n] = EOS
    return src, targets


@torch.no_grad()
def greedy_decode(model: Seq2SeqTransformer, src: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Generate targets token by token, always taking the most probable token.

    Returns:
        int64 ``(batch, max_new_tokens)``; positions after an example's ``EOS`` are ``PAD``.
    """
    was_training = model.training
    model.eval()
    memory, src_pad = model.encode(src)
    out = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    for _ in range(max_new_tokens):
        nxt = model.decode(out, memory, src_pad)[:, -1].argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == EOS
        if done.all():
            break
    model.train(was_training)
    result = out[:, 1:]
    if result.shape[1] < max_new_tokens:
        result = F.pad(result, (0, max_new_tokens - result.shape[1]), value=PAD)
    return result


def sequence_accuracy(predicted: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of examples whose prediction equals the target exactly (PAD positions included)."""
    if predicted.shape != targets.shape:
        raise ValueError(f"predicted: shape {tuple(predicted.shape)} differs from targets {tuple(targets.shape)}")
    return float((predicted == targets).all(dim=1).float().mean())


def parameters_by_component(model: nn.Module, depth: int = 1) -> dict[str, int]:
    """Parameter counts grouped by the first ``depth`` parts of each parameter's name.

    Example: ``{"embedding": 1024, "encoder": 66816, ...}`` for depth 1; each shared tensor is
    counted once (under its first name).
    """
    counts: dict[str, int] = {}
    seen = set()
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        key = ".".join(name.split(".")[:depth])
        counts[key] = counts.get(key, 0) + p.numel()
    return counts


def encoder_layer_parameters(d_model: int, dim_feedforward: int) -> int:
    """Parameters of one encoder layer: attention ``4·d² + 4·d`` (Q, K, V, output projections with
    biases), feed-forward ``2·d·d_ff + d_ff + d``, two LayerNorms ``4·d``."""
    d, f = d_model, dim_feedforward
    return (4 * d * d + 4 * d) + (2 * d * f + f + d) + 4 * d


__all__ = [
    "PAD", "BOS", "EOS", "FIRST_SYMBOL", "Block", "TransformerConfig", "Seq2SeqTransformer", "causal_mask",
    "encoder_layer_parameters", "greedy_decode", "parameters_by_component", "reversal_batch", "sequence_accuracy",
    "sequence_loss", "shift_right", "sinusoidal_positional_encoding",
]
