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

from . import checks

PAD, BOS, EOS = 0, 1, 2
#: Token ids below this are special (PAD, BOS, EOS); the reversal task's symbols start here.
FIRST_SYMBOL = 3


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """The fixed positional encodings of Vaswani et al. (2017), shape ``(max_len, d_model)``, float32.

    ``PE[p, 2i] = sin(p / 10000^(2i/d_model))`` and ``PE[p, 2i+1] = cos(p / 10000^(2i/d_model))``.

    Raises:
        TypeError: if an argument is not an int (bools included).
        ValueError: if ``max_len`` < 1 or ``d_model`` is not a positive even int.
    """
    max_len = checks.integer(max_len, "max_len")
    d_model = checks.integer(d_model, "d_model")
    if d_model % 2:
        raise ValueError(f"d_model: expected a positive even int, got {d_model!r}")
    return _positional_encoding(max_len, d_model)


def _positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return pe


def causal_mask(size: int, device=None) -> torch.Tensor:
    """Boolean ``(size, size)`` mask, ``True`` where attention is *forbidden*: position ``i`` may
    attend to ``j <= i`` only. (``torch.nn.MultiheadAttention`` convention for boolean masks.)

    Raises:
        TypeError: ``size`` not an int. ValueError: ``size`` < 1.
    """
    return _causal_mask(checks.integer(size, "size"), device)


def _causal_mask(size: int, device=None) -> torch.Tensor:
    return torch.triu(torch.ones(size, size, dtype=torch.bool, device=device), diagonal=1)


def shift_right(targets: torch.Tensor, bos_id: int = BOS, pad_id: int = PAD) -> torch.Tensor:
    """Decoder input for teacher forcing: ``[BOS, y_1, ..., y_{T-1}]`` from targets ``[y_1, ..., y_T]``.

    Args:
        targets: integer tensor ``(batch, T)`` of ids >= 0 (padded with ``pad_id`` at the end).
        bos_id, pad_id: ids (ints >= 0).

    Returns:
        A tensor like ``targets``, ``(batch, T)``; position ``t`` holds the token the decoder has *seen*
        when it predicts ``targets[:, t]``.

    Raises:
        TypeError: ``targets`` not integer ids, an id argument not an int.
        ValueError: if ``targets`` is not 2-D or holds a negative id, or an id argument is negative.
    """
    bos_id, pad_id = checks.integer(bos_id, "bos_id", minimum=0), checks.integer(pad_id, "pad_id", minimum=0)
    targets = checks.token_ids(targets, "targets", ndim=2)
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

    Raises:
        TypeError: a size that is not an int, ``dropout`` not a number, a flag not a bool.
        ValueError: a size < 1, ``d_model`` not divisible by ``nhead``, ``dropout`` not in [0, 1).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float = 0.1, *,
                 cross_attention: bool = False, norm_first: bool = False, residual: bool = True):
        super().__init__()
        d_model, nhead = checks.integer(d_model, "d_model"), checks.integer(nhead, "nhead")
        if d_model % nhead:
            raise ValueError(f"nhead: d_model={d_model} is not divisible by nhead={nhead}")
        self._setup(d_model, nhead, checks.integer(dim_feedforward, "dim_feedforward"),
                    checks.probability(dropout, "dropout", allow_one=False),
                    checks.boolean(cross_attention, "cross_attention"), checks.boolean(norm_first, "norm_first"),
                    checks.boolean(residual, "residual"))

    @classmethod
    def _unchecked(cls, d_model, nhead, dim_feedforward, dropout, cross_attention, norm_first, residual) -> "Block":
        """Build from arguments that :class:`Seq2SeqTransformer` has already checked."""
        block = cls.__new__(cls)
        nn.Module.__init__(block)
        block._setup(d_model, nhead, dim_feedforward, dropout, cross_attention, norm_first, residual)
        return block

    def _setup(self, d_model, nhead, dim_feedforward, dropout, cross_attention, norm_first, residual) -> None:
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


def _check_config(config) -> TransformerConfig:
    c = checks.instance(config, "config", TransformerConfig, what="a TransformerConfig")
    vocab_size = checks.integer(c.vocab_size, "config.vocab_size", minimum=FIRST_SYMBOL)  # PAD, BOS, EOS, ...
    d_model, nhead = checks.integer(c.d_model, "config.d_model"), checks.integer(c.nhead, "config.nhead")
    if d_model % 2:
        raise ValueError(f"config.d_model: expected an even int (sinusoidal encodings pair sin and cos), got {d_model}")
    if d_model % nhead:
        raise ValueError(f"config.nhead: d_model={d_model} is not divisible by nhead={nhead}")
    checks.integer(c.num_layers, "config.num_layers")
    checks.integer(c.dim_feedforward, "config.dim_feedforward")
    checks.probability(c.dropout, "config.dropout", allow_one=False)
    checks.boolean(c.norm_first, "config.norm_first")
    checks.boolean(c.residual, "config.residual")
    checks.integer(c.max_len, "config.max_len")
    checks.integer(c.pad_id, "config.pad_id", minimum=0, maximum=vocab_size - 1)
    return c


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer: ``model(src, tgt_in)`` returns logits ``(batch, T_tgt, vocab_size)``.

    Args:
        config: a :class:`TransformerConfig`.

    ``src``: integer ids ``(batch, T_src)``; ``tgt_in``: integer ids ``(batch, T_tgt)``, the
    shifted-right targets (:func:`shift_right`); every id in ``[0, vocab_size)``, every length at most
    ``max_len``. Padding (``pad_id``) is masked in every attention; the decoder's self-attention is
    also causally masked. One embedding table serves source and target (they share a vocabulary
    here); the final LayerNorm after each stack matches ``nn.Transformer``.

    Raises:
        TypeError, ValueError: for a config field of the wrong kind or out of range (named
            ``config.<field>``); when called, for ids that are not integers, outside the vocabulary
            (the embedding would raise an IndexError naming nothing), longer than ``max_len``, or
            batches of different sizes.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        c = self.config = _check_config(config)
        self.embedding = nn.Embedding(c.vocab_size, c.d_model, padding_idx=c.pad_id)
        self.register_buffer("positional_encoding", _positional_encoding(c.max_len, c.d_model), persistent=False)
        self.dropout = nn.Dropout(c.dropout)
        args = (c.d_model, c.nhead, c.dim_feedforward, c.dropout)
        self.encoder = nn.ModuleList(Block._unchecked(*args, False, c.norm_first, c.residual)
                                     for _ in range(c.num_layers))
        self.decoder = nn.ModuleList(Block._unchecked(*args, True, c.norm_first, c.residual)
                                     for _ in range(c.num_layers))
        self.encoder_norm = nn.LayerNorm(c.d_model)
        self.decoder_norm = nn.LayerNorm(c.d_model)
        self.generator = nn.Linear(c.d_model, c.vocab_size)

    def _ids(self, ids, name: str) -> torch.Tensor:
        ids = checks.token_ids(ids, name, vocab_size=self.config.vocab_size, ndim=2)
        if ids.shape[1] > self.config.max_len:
            raise ValueError(f"{name}: length {ids.shape[1]} exceeds max_len {self.config.max_len}")
        return ids

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Scaled token embeddings plus positional encodings, ``(batch, T, d_model)``."""
        return self._embed(self._ids(ids, "ids"))

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids) * math.sqrt(self.config.d_model)
        return self.dropout(x + self.positional_encoding[: ids.shape[1]])

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder output ``(batch, T_src, d_model)`` and the source padding mask ``(batch, T_src)``."""
        return self._encode(self._ids(src, "src"))

    def _encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pad = src == self.config.pad_id
        x = self._embed(src)
        for block in self.encoder:
            x = block(x, key_padding_mask=pad)
        return self.encoder_norm(x), pad

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_pad: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, T_tgt, vocab_size)`` for every target position (``memory, src_pad`` from
        :meth:`encode`)."""
        tgt_in = self._ids(tgt_in, "tgt_in")
        memory = checks.float_tensor(memory, "memory", ndim=3)
        src_pad = checks.binary_mask(src_pad, "src_pad", shape=memory.shape[:2], like="memory[..., 0]")
        if memory.shape[0] != tgt_in.shape[0] or memory.shape[2] != self.config.d_model:
            raise ValueError(f"memory: expected shape ({tgt_in.shape[0]}, T_src, {self.config.d_model}), got "
                             f"{tuple(memory.shape)}")
        return self._decode(tgt_in, memory, src_pad)

    def _decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_pad: torch.Tensor) -> torch.Tensor:
        mask = _causal_mask(tgt_in.shape[1], tgt_in.device)
        pad = tgt_in == self.config.pad_id
        x = self._embed(tgt_in)
        for block in self.decoder:
            x = block(x, memory, attn_mask=mask, key_padding_mask=pad, memory_key_padding_mask=src_pad)
        return self.generator(self.decoder_norm(x))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        src, tgt_in = self._ids(src, "src"), self._ids(tgt_in, "tgt_in")
        if src.shape[0] != tgt_in.shape[0]:
            raise ValueError(f"tgt_in: batch size {tgt_in.shape[0]} differs from src's {src.shape[0]}")
        memory, src_pad = self._encode(src)
        return self._decode(tgt_in, memory, src_pad)


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, pad_id: int = PAD) -> torch.Tensor:
    """Mean cross-entropy over non-padding target tokens.

    ``nn.CrossEntropyLoss`` wants ``(N, C)`` logits and ``(N,)`` targets, so ``(batch, T, V)``
    logits are reshaped to ``(batch·T, V)`` and targets to ``(batch·T,)``; padding is ignored.

    Raises:
        TypeError: ``logits`` not a float tensor, ``targets`` not integers, ``pad_id`` not an int.
        ValueError: if the shapes do not match, or a target is neither ``pad_id`` nor in ``[0, vocab)``.
    """
    logits = checks.float_tensor(logits, "logits", ndim=3)
    pad_id = checks.integer(pad_id, "pad_id", minimum=0)
    targets = checks.class_labels(targets, "targets", num_labels=logits.shape[-1], ignore_index=pad_id)
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
        TypeError: a size that is not an int (bools included).
        ValueError: for sizes < 1 or ``min_len > max_len``.
    """
    batch_size, n_symbols = checks.integer(batch_size, "batch_size"), checks.integer(n_symbols, "n_symbols")
    min_len, max_len = checks.integer(min_len, "min_len"), checks.integer(max_len, "max_len")
    if min_len > max_len:
        raise ValueError(f"min_len: {min_len} is more than max_len ({max_len})")
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

    Args:
        model: a :class:`Seq2SeqTransformer`, or any ``nn.Module`` with the same ``encode(src) ->
            (memory, src_pad)`` and ``decode(tgt_in, memory, src_pad) -> logits`` (chapter 4.1's
            hand-written ``TransformerModel``).
        src: integer ids ``(batch, T_src)``, in the vocabulary of a :class:`Seq2SeqTransformer`.
        max_new_tokens: tokens to generate, an int >= 1 (and at most ``config.max_len`` for a
            :class:`Seq2SeqTransformer`: its decoder sees at most ``max_len`` positions).

    Returns:
        int64 ``(batch, max_new_tokens)``; positions after an example's ``EOS`` are ``PAD``.

    Raises:
        TypeError: ``model`` not an ``nn.Module`` with ``encode``/``decode``, ``src`` not integer ids,
            ``max_new_tokens`` not an int.
        ValueError: a negative id (or, for a :class:`Seq2SeqTransformer`, one outside the vocabulary or
            ``src`` longer than ``max_len``), or ``max_new_tokens`` out of range.
    """
    checks.instance(model, "model", nn.Module, what="a Seq2SeqTransformer (or an nn.Module with encode/decode)")
    if isinstance(model, Seq2SeqTransformer):  # checked once here, then the unchecked cores
        src = model._ids(src, "src")
        max_new_tokens = checks.integer(max_new_tokens, "max_new_tokens", maximum=model.config.max_len)
        encode, decode = model._encode, model._decode
    else:
        if not (callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None))):
            raise TypeError(f"model: {type(model).__name__} has no encode(src) and decode(tgt_in, memory, src_pad) "
                            "methods; greedy_decode needs both (see Seq2SeqTransformer)")
        src = checks.token_ids(src, "src", ndim=2)
        max_new_tokens = checks.integer(max_new_tokens, "max_new_tokens")
        encode, decode = model.encode, model.decode
    was_training = model.training
    model.eval()
    memory, src_pad = encode(src)
    out = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    for _ in range(max_new_tokens):
        nxt = decode(out, memory, src_pad)[:, -1].argmax(-1)
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
    """Share of examples whose prediction equals the target exactly (PAD positions included).

    Raises:
        TypeError: not integer tensors. ValueError: the shapes differ or are not ``(batch, T)``.
    """
    predicted = checks.token_ids(predicted, "predicted", ndim=2)
    targets = checks.token_ids(targets, "targets", ndim=2)
    if predicted.shape != targets.shape:
        raise ValueError(f"predicted: shape {tuple(predicted.shape)} differs from targets {tuple(targets.shape)}")
    return float((predicted == targets).all(dim=1).float().mean())


def parameters_by_component(model: nn.Module, depth: int = 1) -> dict[str, int]:
    """Parameter counts grouped by the first ``depth`` parts of each parameter's name.

    Example: ``{"embedding": 1024, "encoder": 66816, ...}`` for depth 1; each shared tensor is
    counted once (under its first name).

    Raises:
        TypeError: ``model`` not an ``nn.Module``, ``depth`` not an int. ValueError: ``depth`` < 1.
    """
    checks.instance(model, "model", nn.Module, what="a torch.nn.Module")
    depth = checks.integer(depth, "depth")
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
    biases), feed-forward ``2·d·d_ff + d_ff + d``, two LayerNorms ``4·d``.

    Raises:
        TypeError: an argument that is not an int. ValueError: one < 1.
    """
    d, f = checks.integer(d_model, "d_model"), checks.integer(dim_feedforward, "dim_feedforward")
    return (4 * d * d + 4 * d) + (2 * d * f + f + d) + 4 * d


__all__ = [
    "PAD", "BOS", "EOS", "FIRST_SYMBOL", "Block", "TransformerConfig", "Seq2SeqTransformer", "causal_mask",
    "encoder_layer_parameters", "greedy_decode", "parameters_by_component", "reversal_batch", "sequence_accuracy",
    "sequence_loss", "shift_right", "sinusoidal_positional_encoding",
]
