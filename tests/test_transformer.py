import math

import pytest
import torch
from torch import nn

from companion import transformer as T


@pytest.mark.parametrize("norm_first", [False, True])
def test_blocks_match_torch_layers(norm_first):
    torch.manual_seed(0)
    x, memory = torch.randn(3, 7, 32), torch.randn(3, 5, 32)
    pad = torch.zeros(3, 5, dtype=torch.bool)
    pad[0, 3:] = True
    ref_enc = nn.TransformerEncoderLayer(32, 4, 64, 0.1, batch_first=True, norm_first=norm_first).eval()
    enc = T.Block(32, 4, 64, 0.1, norm_first=norm_first).eval()
    enc.load_state_dict(ref_enc.state_dict())  # same parameter names
    assert torch.allclose(enc(memory, key_padding_mask=pad), ref_enc(memory, src_key_padding_mask=pad), atol=1e-6)
    ref_dec = nn.TransformerDecoderLayer(32, 4, 64, 0.1, batch_first=True, norm_first=norm_first).eval()
    dec = T.Block(32, 4, 64, 0.1, cross_attention=True, norm_first=norm_first).eval()
    dec.load_state_dict(ref_dec.state_dict())
    mask = T.causal_mask(7)
    ours = dec(x, memory, attn_mask=mask, memory_key_padding_mask=pad)
    theirs = ref_dec(x, memory, tgt_mask=mask, memory_key_padding_mask=pad)
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_whole_model_matches_nn_transformer():
    torch.manual_seed(0)
    cfg = T.TransformerConfig(vocab_size=13, d_model=32, nhead=4, num_layers=2, dim_feedforward=64, dropout=0.0)
    model = T.Seq2SeqTransformer(cfg).eval()
    ref = nn.Transformer(32, 4, 2, 2, 64, 0.0, batch_first=True).eval()
    state = {}
    for k, v in ref.state_dict().items():
        k = (k.replace("encoder.layers.", "encoder.").replace("decoder.layers.", "decoder.")
             .replace("encoder.norm.", "encoder_norm.").replace("decoder.norm.", "decoder_norm."))
        state[k] = v
    missing = model.load_state_dict(state, strict=False)
    assert set(missing.missing_keys) == {"embedding.weight", "generator.weight", "generator.bias"}
    src, tgt = T.reversal_batch(4, max_len=6, generator=torch.Generator().manual_seed(1))
    tgt_in = T.shift_right(tgt)
    with torch.no_grad():
        out = ref(model.embed(src), model.embed(tgt_in), tgt_mask=T.causal_mask(tgt_in.shape[1]),
                  src_key_padding_mask=src == T.PAD, tgt_key_padding_mask=tgt_in == T.PAD,
                  memory_key_padding_mask=src == T.PAD)
        expected = model.generator(out)
        got = model(src, tgt_in)
    real = tgt_in != T.PAD  # padded query positions are never used (and nn.Transformer may leave them NaN)
    assert torch.allclose(got[real], expected[real], atol=1e-5)


def test_causal_mask_and_shift_right():
    m = T.causal_mask(4)
    assert m.tolist() == [[False, True, True, True], [False, False, True, True],
                          [False, False, False, True], [False, False, False, False]]
    tgt = torch.tensor([[5, 6, 7, T.EOS], [8, T.EOS, T.PAD, T.PAD]])
    assert T.shift_right(tgt).tolist() == [[T.BOS, 5, 6, 7], [T.BOS, 8, T.EOS, T.PAD]]
    with pytest.raises(ValueError, match="targets"):
        T.shift_right(torch.tensor([1, 2]))


def test_decoder_cannot_see_the_future():
    torch.manual_seed(0)
    model = T.Seq2SeqTransformer(T.TransformerConfig(vocab_size=13, d_model=32, num_layers=1, dropout=0.0)).eval()
    src = torch.tensor([[4, 5, 6]])
    a, b = torch.tensor([[T.BOS, 7, 8, 9]]), torch.tensor([[T.BOS, 7, 3, 3]])
    with torch.no_grad():
        la, lb = model(src, a), model(src, b)
    assert torch.allclose(la[:, :2], lb[:, :2], atol=1e-6)  # positions 0-1 do not depend on tokens 2-3
    assert not torch.allclose(la[:, 2:], lb[:, 2:])


def test_sequence_loss_reshapes_and_ignores_padding():
    torch.manual_seed(0)
    logits, targets = torch.randn(2, 3, 5), torch.tensor([[1, 2, 3], [4, T.PAD, T.PAD]])
    manual = [nn.functional.cross_entropy(logits[i, t][None], targets[i, t][None])
              for i in range(2) for t in range(3) if targets[i, t] != T.PAD]
    assert T.sequence_loss(logits, targets).item() == pytest.approx(torch.stack(manual).mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="targets"):
        T.sequence_loss(logits, targets[:, :2])


def test_positional_encoding_values():
    pe = T.sinusoidal_positional_encoding(10, 8)
    assert pe.shape == (10, 8)
    assert pe[0].tolist() == [0.0, 1.0] * 4
    assert pe[3, 0].item() == pytest.approx(math.sin(3)) and pe[3, 3].item() == pytest.approx(math.cos(3 / 10000 ** (2 / 8)))
    with pytest.raises(ValueError, match="d_model"):
        T.sinusoidal_positional_encoding(10, 7)


def test_reversal_batch_and_accuracy():
    src, tgt = T.reversal_batch(5, min_len=2, max_len=4, generator=torch.Generator().manual_seed(0))
    for s, t in zip(src.tolist(), tgt.tolist()):
        seq = [v for v in s if v != T.PAD]
        assert 2 <= len(seq) <= 4 and min(seq) >= T.FIRST_SYMBOL
        assert t[: len(seq) + 1] == seq[::-1] + [T.EOS] and set(t[len(seq) + 1:]) <= {T.PAD}
    assert T.sequence_accuracy(tgt, tgt) == 1.0
    wrong = tgt.clone()
    wrong[0, 0] = T.EOS
    assert T.sequence_accuracy(wrong, tgt) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="min_len"):
        T.reversal_batch(2, min_len=5, max_len=3)


def test_greedy_decode_shapes_and_stop_at_eos():
    torch.manual_seed(0)
    model = T.Seq2SeqTransformer(T.TransformerConfig(vocab_size=13, d_model=32, num_layers=1))
    src, tgt = T.reversal_batch(3, max_len=5)
    out = T.greedy_decode(model, src, tgt.shape[1])
    assert out.shape == tgt.shape and model.training  # restores training mode
    for row in out.tolist():
        if T.EOS in row:
            assert set(row[row.index(T.EOS) + 1:]) <= {T.PAD}


def test_structure_variants_run_and_differ():
    torch.manual_seed(0)
    src, tgt = T.reversal_batch(2, max_len=5)
    outs = []
    for kw in [dict(), dict(norm_first=True), dict(residual=False)]:
        torch.manual_seed(0)
        model = T.Seq2SeqTransformer(T.TransformerConfig(vocab_size=13, d_model=32, num_layers=2, dropout=0.0, **kw))
        outs.append(model.eval()(src, T.shift_right(tgt)))
    assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[0], outs[2])
    with pytest.raises(ValueError, match="nhead"):
        T.Block(30, 4, 64)


def test_parameter_counts():
    layer = nn.TransformerEncoderLayer(64, 4, 128)
    assert sum(p.numel() for p in layer.parameters()) == T.encoder_layer_parameters(64, 128)
    model = T.Seq2SeqTransformer(T.TransformerConfig(vocab_size=13, d_model=64, num_layers=2, dim_feedforward=128))
    parts = T.parameters_by_component(model)
    assert sum(parts.values()) == sum(p.numel() for p in model.parameters())
    assert parts["encoder"] == 2 * T.encoder_layer_parameters(64, 128)
    assert parts["embedding"] == 13 * 64 and parts["generator"] == 64 * 13 + 13


def test_toy_task_is_learnable_quickly():
    # a short run on very short sequences: the loss must fall far below its starting value and
    # below chance (ln 6 ~ 1.8 for five symbols + EOS)
    torch.manual_seed(0)
    model = T.Seq2SeqTransformer(T.TransformerConfig(vocab_size=8, d_model=32, nhead=2, num_layers=1,
                                                     dim_feedforward=64, dropout=0.0, max_len=8))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(150):
        src, tgt = T.reversal_batch(32, min_len=2, max_len=3, n_symbols=5, generator=g)
        loss = T.sequence_loss(model(src, T.shift_right(tgt)), tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 1.0 and last < 0.5 * first


# ------------------------------------------------------------------ bad inputs (issue 16)
BAD_INT = [(True, TypeError), (2.0, TypeError), ("4", TypeError), (None, TypeError), (0, ValueError), (-1, ValueError)]


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return T.Seq2SeqTransformer(T.TransformerConfig(vocab_size=13, d_model=16, nhead=2, num_layers=1, max_len=8))


@pytest.mark.parametrize("src,tgt_in,exc,name", [
    (torch.tensor([[3, 99]]), torch.tensor([[1, 3]]), ValueError, "src"),  # the reproducer of bad-inputs.md
    (torch.tensor([[3, 13]]), torch.tensor([[1, 3]]), ValueError, "src"),
    (torch.tensor([[3, -1]]), torch.tensor([[1, 3]]), ValueError, "src"),
    (torch.tensor([[3, 4]]), torch.tensor([[1, 10**12]]), ValueError, "tgt_in"),
    (torch.tensor([[3.0, 4.0]]), torch.tensor([[1, 3]]), TypeError, "src"),
    (torch.tensor([[3, 4]]), torch.tensor([[True, False]]), TypeError, "tgt_in"),
    (torch.tensor([3, 4]), torch.tensor([[1, 3]]), ValueError, "src"),
    (torch.tensor([[3] * 9]), torch.tensor([[1, 3]]), ValueError, "src"),  # longer than max_len
    (torch.tensor([[3, 4]] * 2), torch.tensor([[1, 3]] * 3), ValueError, "tgt_in"),
    ("3 4", torch.tensor([[1, 3]]), TypeError, "src"),
])
def test_forward_bad_ids(small, src, tgt_in, exc, name):
    with pytest.raises(exc, match=name):
        small(src, tgt_in)


def test_encode_decode_embed_check_their_inputs(small):
    with pytest.raises(ValueError, match="src"):
        small.encode(torch.tensor([[3, 99]]))
    with pytest.raises(ValueError, match="ids"):
        small.embed(torch.tensor([[3, 99]]))
    memory, pad = small.encode(torch.tensor([[3, 4]]))
    assert small.decode(torch.tensor([[1, 3]]), memory, pad).shape == (1, 2, 13)
    with pytest.raises(ValueError, match="tgt_in"):
        small.decode(torch.tensor([[1, 99]]), memory, pad)
    with pytest.raises(TypeError, match="memory"):
        small.decode(torch.tensor([[1, 3]]), memory.long(), pad)
    with pytest.raises(ValueError, match="src_pad"):
        small.decode(torch.tensor([[1, 3]]), memory, pad[:, :1])
    with pytest.raises(ValueError, match="memory"):
        small.decode(torch.tensor([[1, 3]] * 2), memory, pad)


@pytest.mark.parametrize("value,exc", BAD_INT + [(9, ValueError)])  # 9 > max_len 8
def test_greedy_decode_max_new_tokens(small, value, exc):
    with pytest.raises(exc, match="max_new_tokens"):
        T.greedy_decode(small, torch.tensor([[3, 4]]), value)


def test_greedy_decode_checks_model_and_src(small):
    assert T.greedy_decode(small, torch.tensor([[3, 4]]), 8).shape == (1, 8)
    with pytest.raises(ValueError, match="src"):
        T.greedy_decode(small, torch.tensor([[3, 99]]), 3)
    with pytest.raises(TypeError, match="model"):
        T.greedy_decode(nn.Transformer(d_model=16, nhead=2), torch.tensor([[3, 4]]), 3)
    with pytest.raises(TypeError, match="model"):
        T.greedy_decode("model", torch.tensor([[3, 4]]), 3)


class _DuckModel(nn.Module):
    """encode/decode like Seq2SeqTransformer's, as chapter 4.1's hand-written TransformerModel has."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def encode(self, src):
        return self.inner.encode(src)

    def decode(self, tgt_in, memory, src_pad):
        return self.inner.decode(tgt_in, memory, src_pad)


def test_greedy_decode_takes_any_model_with_encode_and_decode(small):
    src = torch.tensor([[3, 4, 5], [6, 7, 0]])
    assert torch.equal(T.greedy_decode(_DuckModel(small), src, 6), T.greedy_decode(small, src, 6))
    with pytest.raises(ValueError, match="src"):
        T.greedy_decode(_DuckModel(small), torch.tensor([[3, -4]]), 3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        T.greedy_decode(_DuckModel(small), src, 0)


@pytest.mark.parametrize("field,value,exc", [
    ("vocab_size", 2, ValueError), ("vocab_size", True, TypeError), ("d_model", 15, ValueError), ("d_model", 16.0, TypeError),
    ("nhead", 3, ValueError), ("nhead", 0, ValueError), ("num_layers", 0, ValueError), ("num_layers", "2", TypeError),
    ("dim_feedforward", -1, ValueError), ("dropout", 1.0, ValueError), ("dropout", math.nan, ValueError),
    ("dropout", "0.1", TypeError), ("norm_first", 1, TypeError), ("residual", "yes", TypeError), ("max_len", 0, ValueError),
    ("pad_id", 13, ValueError), ("pad_id", -1, ValueError),
])
def test_config_fields_are_checked(field, value, exc):
    cfg = dict(vocab_size=13, d_model=16, nhead=2, num_layers=1) | {field: value}
    with pytest.raises(exc, match=f"config.{field}"):
        T.Seq2SeqTransformer(T.TransformerConfig(**cfg))
    with pytest.raises(TypeError, match="config"):
        T.Seq2SeqTransformer(dict(cfg))


@pytest.mark.parametrize("kw,exc,name", [
    (dict(d_model=True), TypeError, "d_model"), (dict(nhead=0), ValueError, "nhead"), (dict(dim_feedforward=2.5), TypeError, "dim_feedforward"),
    (dict(dropout=-0.1), ValueError, "dropout"), (dict(dropout=math.inf), ValueError, "dropout"),
    (dict(cross_attention=1), TypeError, "cross_attention"), (dict(norm_first=None), TypeError, "norm_first"),
])
def test_block_arguments(kw, exc, name):
    args = dict(d_model=16, nhead=2, dim_feedforward=32) | kw
    with pytest.raises(exc, match=name):
        T.Block(**args)


@pytest.mark.parametrize("value,exc", BAD_INT)
def test_sizes_are_ints(value, exc):
    for fn, name in [(lambda v: T.reversal_batch(v), "batch_size"), (lambda v: T.reversal_batch(2, min_len=v), "min_len"),
                     (lambda v: T.reversal_batch(2, max_len=v), "max_len"), (lambda v: T.reversal_batch(2, n_symbols=v), "n_symbols"),
                     (lambda v: T.sinusoidal_positional_encoding(v, 8), "max_len"),
                     (lambda v: T.sinusoidal_positional_encoding(4, v), "d_model"), (lambda v: T.causal_mask(v), "size"),
                     (lambda v: T.encoder_layer_parameters(v, 8), "d_model"),
                     (lambda v: T.parameters_by_component(nn.Linear(2, 2), v), "depth")]:
        with pytest.raises(exc, match=name):
            fn(value)


@pytest.mark.parametrize("logits,targets,exc,name", [
    (torch.randn(1, 2, 5), torch.tensor([[1, 5]]), ValueError, "targets"), (torch.randn(1, 2, 5), torch.tensor([[1, -3]]), ValueError, "targets"),
    (torch.randn(1, 2, 5), torch.tensor([[1.0, 2.0]]), TypeError, "targets"), (torch.randn(1, 2, 5).long(), torch.tensor([[1, 2]]), TypeError, "logits"),
    (torch.randn(2, 5), torch.tensor([1, 2]), ValueError, "logits"),
])
def test_sequence_loss_bad_inputs(logits, targets, exc, name):
    with pytest.raises(exc, match=name):
        T.sequence_loss(logits, targets)


def test_shift_right_and_accuracy_bad_inputs():
    with pytest.raises(ValueError, match="targets"):
        T.shift_right(torch.tensor([[3, -1]]))
    with pytest.raises(TypeError, match="targets"):
        T.shift_right(torch.tensor([[3.0, 4.0]]))
    with pytest.raises(ValueError, match="bos_id"):
        T.shift_right(torch.tensor([[3, 4]]), bos_id=-1)
    with pytest.raises(TypeError, match="pad_id"):
        T.shift_right(torch.tensor([[3, 4]]), pad_id=True)
    with pytest.raises(TypeError, match="predicted"):
        T.sequence_accuracy(torch.tensor([[1.0]]), torch.tensor([[1]]))
    with pytest.raises(ValueError, match="predicted"):
        T.sequence_accuracy(torch.tensor([[1]]), torch.tensor([[1, 2]]))
