import math

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from companion import adapters, models as training  # count_parameters, tiny_bert_config: companion.models (issue 12)


def bert_base_config():
    return BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                      intermediate_size=3072, num_labels=2)


def test_field_case_bert_base_lora_counts():
    torch.manual_seed(0)
    model = adapters.lora_for_sequence_classification(BertForSequenceClassification(bert_base_config()), r=8)
    trainable, total = training.count_parameters(model)
    assert trainable == 296_450
    head = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad and "classifier" in n)
    assert trainable - head == 294_912 == adapters.lora_parameter_count(768, 768, 8, 12, 2)


def tiny():
    torch.manual_seed(0)
    return BertForSequenceClassification(training.tiny_bert_config(100))


def test_b_starts_at_zero_so_output_is_unchanged():
    base = tiny().eval()
    x = torch.randint(5, 100, (2, 7))
    before = base(input_ids=x).logits
    lora = adapters.lora_for_sequence_classification(base, r=4).eval()
    assert torch.allclose(lora(input_ids=x).logits, before)


def test_saved_adapter_reloads_onto_fresh_base_with_identical_logits(tmp_path):
    from peft import PeftModel

    base = tiny()
    base.save_pretrained(tmp_path / "base")
    lora = adapters.lora_for_sequence_classification(base, r=4)
    with torch.no_grad():  # stand-in for training: move the adapter and the head away from init
        for n, p in lora.named_parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.1)
    lora.save_pretrained(tmp_path / "adapter")
    x = torch.randint(5, 100, (3, 9))
    expected = lora.eval()(input_ids=x).logits

    fresh = BertForSequenceClassification.from_pretrained(tmp_path / "base")
    reloaded = PeftModel.from_pretrained(fresh, tmp_path / "adapter").eval()
    assert torch.equal(reloaded(input_ids=x).logits, expected)


@pytest.mark.parametrize("kw,name,exc", [
    (dict(r=0), "r", ValueError), (dict(r=2.5), "r", TypeError), (dict(lora_dropout=1.0), "lora_dropout", ValueError),
    (dict(target_modules=["q_proj"]), "target_modules", ValueError), (dict(lora_alpha=0), "lora_alpha", ValueError),
    (dict(lora_alpha=-16), "lora_alpha", ValueError), (dict(lora_alpha="16"), "lora_alpha", TypeError),
    (dict(lora_dropout="0.1"), "lora_dropout", TypeError), (dict(lora_dropout=None), "lora_dropout", TypeError),
    (dict(target_modules=[]), "target_modules", ValueError), (dict(target_modules=None), "target_modules", TypeError),
    (dict(target_modules=["LayerNorm"]), "target_modules", ValueError)])
def test_bad_arguments(kw, name, exc):
    with pytest.raises(exc, match=name):
        adapters.lora_for_sequence_classification(tiny(), **kw)


def test_unmatched_target_lists_real_names():
    with pytest.raises(ValueError, match="query"):
        adapters.lora_for_sequence_classification(tiny(), target_modules="q_proj")


def test_lora_parameter_count_validation():
    with pytest.raises(ValueError, match="r"):
        adapters.lora_parameter_count(8, 8, 0, 1)
    with pytest.raises(TypeError, match="d_in"):
        adapters.lora_parameter_count(True, True, True, True)
    with pytest.raises(TypeError, match="model"):
        adapters.lora_for_sequence_classification(None)


def test_modules_to_save_keeps_head_trainable_too():
    model = adapters.lora_for_sequence_classification(tiny(), r=2, modules_to_save=("pooler",))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("classifier" in n for n in trainable) and any("pooler" in n for n in trainable)
    with pytest.raises(ValueError, match="modules_to_save"):
        adapters.lora_for_sequence_classification(tiny(), modules_to_save=("pool",))


# ============================================================================ chapter 4.2: adapters from scratch
import copy  # noqa: E402

from torch import nn  # noqa: E402


def _peft_and_ours(r=4, alpha=8):
    from peft import LoraConfig, get_peft_model

    base = tiny().eval()
    # init_lora_weights=False: peft draws B at random too, so the comparison is not trivially "B = 0"
    theirs = get_peft_model(copy.deepcopy(base), LoraConfig(r=r, lora_alpha=alpha, target_modules=["query", "value"],
                                                            init_lora_weights=False)).eval()
    ours = adapters.inject_lora(copy.deepcopy(base), ("query", "value"), r=r, lora_alpha=alpha).eval()
    params = dict(theirs.named_parameters())
    copied = 0
    for name, module in ours.named_modules():
        if isinstance(module, adapters.LoRALinear):
            module.lora_A.data.copy_(params[f"base_model.model.{name}.lora_A.default.weight"])
            module.lora_B.data.copy_(params[f"base_model.model.{name}.lora_B.default.weight"])
            copied += 1
    assert copied == 2 * 2  # query and value in each of the 2 layers
    return base, theirs, ours


def test_lora_linear_matches_peft_given_same_A_and_B():
    base, theirs, ours = _peft_and_ours()
    x = torch.randint(5, 100, (3, 11))
    with torch.no_grad():
        ref, out, plain = theirs(input_ids=x).logits, ours(input_ids=x).logits, base(input_ids=x).logits
    assert (ref - plain).abs().max() > 1e-4  # the adapters really change the output
    assert (out - ref).abs().max() <= 1e-6


def test_lora_merge_matches_peft_merge_and_unload():
    _, theirs, ours = _peft_and_ours(r=2, alpha=6)
    x = torch.randint(5, 100, (2, 9))
    with torch.no_grad():
        unmerged = ours(input_ids=x).logits
        merged_theirs = theirs.merge_and_unload()
        merged_ours = adapters.merge_lora(ours)
        q_theirs = merged_theirs.bert.encoder.layer[1].attention.self.query
        q_ours = merged_ours.bert.encoder.layer[1].attention.self.query
        assert type(q_ours) is nn.Linear
        assert (q_ours.weight - q_theirs.weight).abs().max() <= 1e-6
        assert (merged_ours(input_ids=x).logits - merged_theirs(input_ids=x).logits).abs().max() <= 1e-6
        assert (merged_ours(input_ids=x).logits - unmerged).abs().max() <= 1e-5
    with pytest.raises(ValueError, match="model"):
        adapters.merge_lora(merged_ours)


def test_lora_linear_starts_as_base_and_trains_only_A_B_and_head():
    base = tiny().eval()
    x = torch.randint(5, 100, (2, 7))
    before = base(input_ids=x).logits
    model = adapters.inject_lora(base, ("query", "value"), r=4)
    assert torch.equal(model(input_ids=x).logits, before)  # B = 0 at the start
    trainable, _ = training.count_parameters(model)
    assert trainable == adapters.lora_parameter_count(32, 32, 4, 2, 2) + (32 * 2 + 2)
    layer = model.bert.encoder.layer[0].attention.self.query
    assert layer.delta_weight().shape == layer.base.weight.shape and not layer.base.weight.requires_grad


def test_lora_clear_errors():
    with pytest.raises(TypeError, match="base"):
        adapters.LoRALinear(nn.Embedding(10, 4))
    with pytest.raises(TypeError, match="word_embeddings"):
        adapters.inject_lora(tiny(), ("word_embeddings",))
    with pytest.raises(ValueError, match="query"):  # the message lists the real Linear names
        adapters.inject_lora(tiny(), ("q_proj",))
    for r, exc in ((0, ValueError), (-1, ValueError), (1.5, TypeError)):
        with pytest.raises(exc, match="r"):
            adapters.LoRALinear(nn.Linear(4, 4), r=r)
        with pytest.raises(exc, match="r"):
            adapters.inject_lora(tiny(), r=r)
    with pytest.raises(ValueError, match="lora_dropout"):
        adapters.LoRALinear(nn.Linear(4, 4), lora_dropout=1.0)
    with pytest.raises(ValueError, match="trainable_modules"):
        adapters.inject_lora(tiny(), trainable_modules=("head",))


def test_houlsby_adapters_start_as_identity_and_count():
    base = tiny().eval()
    x = torch.randint(5, 100, (2, 7))
    before = base(input_ids=x).logits
    model = adapters.add_houlsby_adapters(base, bottleneck=8).eval()
    assert torch.equal(model(input_ids=x).logits, before)
    n_adapters = sum(isinstance(m, adapters.HoulsbyAdapter) for m in model.modules())
    assert n_adapters == 2 * 2  # after attention and after the feed-forward block, in each of 2 layers
    trainable, _ = training.count_parameters(model)
    layer_norms = sum(p.numel() for n, p in model.named_parameters() if "LayerNorm" in n)
    assert trainable == adapters.houlsby_parameter_count(32, 8, 2) + layer_norms + (32 * 2 + 2)
    frozen = adapters.add_houlsby_adapters(tiny(), bottleneck=8, train_layer_norm=False)
    assert training.count_parameters(frozen)[0] == adapters.houlsby_parameter_count(32, 8, 2) + 66


def test_houlsby_adapters_learn_while_the_base_stays_frozen():
    model = adapters.add_houlsby_adapters(tiny(), bottleneck=8).train()
    frozen_before = model.bert.encoder.layer[0].attention.self.query.weight.clone()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x, y = torch.randint(5, 100, (8, 7)), torch.tensor([0, 1] * 4)
    losses = []
    for _ in range(15):
        loss = model(input_ids=x, labels=y).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1
    up = model.bert.encoder.layer[0].output.dense.adapter.up.weight
    assert up.abs().sum() > 0
    assert torch.equal(model.bert.encoder.layer[0].attention.self.query.weight, frozen_before)


def _tiny_gpt2(lm=True):
    from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=2, n_positions=64, bos_token_id=1,
                     eos_token_id=2, pad_token_id=0, num_labels=2)
    return GPT2LMHeadModel(cfg) if lm else GPT2ForSequenceClassification(cfg)


def test_houlsby_rejects_unsupported_architecture():
    with pytest.raises(TypeError, match="BERT"):
        adapters.add_houlsby_adapters(_tiny_gpt2(), bottleneck=4, trainable_modules=())
    with pytest.raises(ValueError, match="bottleneck"):
        adapters.add_houlsby_adapters(tiny(), bottleneck=0)
    with pytest.raises(ValueError, match="hidden_size"):
        adapters.HoulsbyAdapter(0)


def test_prompt_tuning_trains_prompt_and_head():
    model = adapters.prompt_tuning_for_sequence_classification(tiny(), num_virtual_tokens=5)
    trainable, _ = training.count_parameters(model)
    assert trainable == 5 * 32 + (32 * 2 + 2)
    x = torch.randint(5, 100, (2, 7))
    out = model(input_ids=x, attention_mask=torch.ones_like(x), labels=torch.tensor([0, 1]))
    out.loss.backward()
    assert out.logits.shape == (2, 2)
    with pytest.raises(ValueError, match="num_virtual_tokens"):
        adapters.prompt_tuning_for_sequence_classification(tiny(), num_virtual_tokens=0)


def test_prefix_tuning_on_causal_lm_and_clear_error_on_encoder():
    model = adapters.prefix_tuning_for_causal_lm(_tiny_gpt2(), num_virtual_tokens=5)
    assert training.count_parameters(model)[0] == 5 * 2 * 2 * 32  # tokens x (key, value) x layers x hidden
    x = torch.randint(5, 100, (2, 7))
    out = model(input_ids=x, attention_mask=torch.ones_like(x), labels=x)
    out.loss.backward()
    assert out.logits.shape == (2, 7, 100)
    with pytest.raises(TypeError, match="prompt tuning"):
        adapters.prefix_tuning_for_causal_lm(tiny(), num_virtual_tokens=5)


def test_prefix_tuning_passes_the_prefixes_as_cache_without_deprecated_arguments():
    import copy
    import warnings

    base = _tiny_gpt2().eval()
    model = adapters.prefix_tuning_for_causal_lm(copy.deepcopy(base), num_virtual_tokens=5).eval()
    x = torch.randint(5, 100, (2, 7))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*past_key_values.*")  # removed in transformers 5.40
        with torch.no_grad():
            out = model(input_ids=x, attention_mask=torch.ones_like(x))
            plain = base(input_ids=x, attention_mask=torch.ones_like(x))
    # The prefixes reached the attention layers: the logits differ from the model without them.
    assert out.logits.shape == plain.logits.shape == (2, 7, 100)
    assert not torch.allclose(out.logits, plain.logits, atol=1e-4)


def test_activation_memory_orders_methods():
    x, y = torch.randint(5, 100, (4, 16)), torch.tensor([0, 1, 0, 1])
    batch = dict(input_ids=x, labels=y)
    full = adapters.activation_memory(tiny().train(), batch)
    lora = adapters.activation_memory(adapters.inject_lora(tiny(), r=2).train(), batch)
    head = tiny().train()
    for n, p in head.named_parameters():
        p.requires_grad = n.startswith("classifier")
    head_only = adapters.activation_memory(head, batch)
    assert full > lora > head_only > 0
    assert head_only < full / 50  # only the head's input and output are saved, not the layers' activations


# ---------------------------------------------------------------------------- 8.2 sequence-to-sequence LoRA
def test_field_case_opus_mt_en_zh_shape_lora_counts():
    from transformers import MarianMTModel

    from companion.translation import opus_mt_en_zh_config

    torch.manual_seed(0)
    model = adapters.lora_for_seq2seq(MarianMTModel(opus_mt_en_zh_config()), r=8)
    trainable, total = training.count_parameters(model)
    # q/v in 6 encoder self-attention, 6 decoder self-attention and 6 decoder cross-attention blocks
    assert trainable == 294_912 == adapters.lora_parameter_count(512, 512, 8, 18, 2)
    adapted = {n.rsplit(".lora_A", 1)[0] for n, p in model.named_parameters() if p.requires_grad and "lora_A" in n}
    assert sum(".encoder_attn." in n for n in adapted) == 12  # cross-attention is adapted too


def test_lora_for_seq2seq_wrong_names_list_the_real_ones():
    from transformers import MarianConfig, MarianMTModel

    tiny = MarianMTModel(MarianConfig(vocab_size=50, d_model=16, encoder_layers=1, decoder_layers=1,
                                      encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                                      decoder_ffn_dim=32, pad_token_id=49, decoder_start_token_id=49))
    with pytest.raises(ValueError, match="q_proj"):
        adapters.lora_for_seq2seq(tiny, target_modules=("query", "value"))
    with pytest.raises(ValueError, match="r"):
        adapters.lora_for_seq2seq(tiny, r=0)
    with pytest.raises(ValueError, match="modules_to_save"):
        adapters.lora_for_seq2seq(tiny, modules_to_save=("head",))
    with pytest.raises(ValueError, match="target_modules"):
        adapters.lora_for_seq2seq(tiny, target_modules=())


def test_lora_for_seq2seq_starts_at_the_base_model():
    from transformers import MarianConfig, MarianMTModel

    torch.manual_seed(0)
    base = MarianMTModel(MarianConfig(vocab_size=50, d_model=16, encoder_layers=1, decoder_layers=1,
                                      encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                                      decoder_ffn_dim=32, pad_token_id=49, decoder_start_token_id=49)).eval()
    x, y = torch.randint(1, 48, (2, 5)), torch.randint(1, 48, (2, 4))
    before = base(input_ids=x, labels=y).logits
    lora = adapters.lora_for_seq2seq(base, r=2).eval()
    assert torch.allclose(lora(input_ids=x, labels=y).logits, before)


# ---------------------------------------------------------------------------- bad inputs (issue 16)
BAD_ALPHA = [(0, ValueError), (0.0, ValueError), (-16, ValueError), (math.nan, ValueError), (math.inf, ValueError),
             (-math.inf, ValueError), ("16", TypeError), (True, TypeError), (None, TypeError), ([16], TypeError)]
BAD_RANK = [(0, ValueError), (-4, ValueError), (True, TypeError), (2.0, TypeError), ("8", TypeError), (None, TypeError)]
BAD_DROPOUT = [(1.0, ValueError), (-0.1, ValueError), (math.nan, ValueError), (math.inf, ValueError),
               ("0.1", TypeError), (True, TypeError)]


def _lora_entry_points():
    from transformers import MarianConfig, MarianMTModel

    def marian():
        return MarianMTModel(MarianConfig(vocab_size=50, d_model=16, encoder_layers=1, decoder_layers=1,
                                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                                          decoder_ffn_dim=32, pad_token_id=49, decoder_start_token_id=49))

    return {
        "LoRALinear": lambda **kw: adapters.LoRALinear(nn.Linear(4, 4), **kw),
        "inject_lora": lambda **kw: adapters.inject_lora(tiny(), **kw),
        "lora_for_sequence_classification": lambda **kw: adapters.lora_for_sequence_classification(tiny(), **kw),
        "lora_for_seq2seq": lambda **kw: adapters.lora_for_seq2seq(marian(), **kw),
    }


ENTRY_POINTS = list(_lora_entry_points())


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("value,exc", BAD_ALPHA)
def test_lora_alpha_must_be_a_finite_positive_number(entry, value, exc):
    with pytest.raises(exc, match="lora_alpha"):
        _lora_entry_points()[entry](lora_alpha=value)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("value,exc", BAD_RANK)
def test_lora_rank_must_be_a_positive_int(entry, value, exc):
    with pytest.raises(exc, match="r:"):
        _lora_entry_points()[entry](r=value)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("value,exc", BAD_DROPOUT)
def test_lora_dropout_must_be_in_0_1(entry, value, exc):
    with pytest.raises(exc, match="lora_dropout"):
        _lora_entry_points()[entry](lora_dropout=value)


def test_lora_alpha_as_float_gives_the_same_layer_as_int():
    torch.manual_seed(0)
    a = adapters.LoRALinear(nn.Linear(4, 4), r=2, lora_alpha=16)
    torch.manual_seed(0)
    b = adapters.LoRALinear(nn.Linear(4, 4), r=2, lora_alpha=16.0)
    x = torch.randn(3, 4)
    assert a.scaling == b.scaling == 8.0 and torch.equal(a(x), b(x))


@pytest.mark.parametrize("model", [nn.Linear(4, 4), nn.Sequential(nn.Linear(4, 4)), nn.Embedding(3, 4)])
def test_houlsby_on_a_non_bert_model_names_the_model(model):
    with pytest.raises(TypeError, match="model: .*BERT"):
        adapters.add_houlsby_adapters(model)


@pytest.mark.parametrize("kw,exc,name", [
    (dict(bottleneck=True), TypeError, "bottleneck"), (dict(bottleneck=8.0), TypeError, "bottleneck"),
    (dict(bottleneck=-1), ValueError, "bottleneck"), (dict(bottleneck="8"), TypeError, "bottleneck"),
    (dict(train_layer_norm=1), TypeError, "train_layer_norm"), (dict(train_layer_norm="yes"), TypeError, "train_layer_norm"),
    (dict(trainable_modules=[3]), TypeError, "trainable_modules"), (dict(trainable_modules=None), TypeError, "trainable_modules"),
])
def test_houlsby_bad_arguments(kw, exc, name):
    with pytest.raises(exc, match=name):
        adapters.add_houlsby_adapters(tiny(), **kw)
    with pytest.raises(TypeError, match="model"):
        adapters.add_houlsby_adapters("bert")


@pytest.mark.parametrize("value,exc", BAD_RANK)
def test_parameter_counts_and_virtual_tokens(value, exc):
    with pytest.raises(exc, match="bottleneck"):
        adapters.houlsby_parameter_count(32, value, 2)
    with pytest.raises(exc, match="n_layers"):
        adapters.lora_parameter_count(32, 32, 8, value)
    with pytest.raises(exc, match="hidden_size"):
        adapters.HoulsbyAdapter(value)
    with pytest.raises(exc, match="num_virtual_tokens"):
        adapters.prompt_tuning_for_sequence_classification(tiny(), num_virtual_tokens=value)
    with pytest.raises(exc, match="num_virtual_tokens"):
        adapters.prefix_tuning_for_causal_lm(_tiny_gpt2(), num_virtual_tokens=value)


@pytest.mark.parametrize("entry", ["inject_lora", "lora_for_sequence_classification"])
@pytest.mark.parametrize("targets,exc", [((3,), TypeError), ([None], TypeError), (5, TypeError), ([], ValueError)])
def test_target_module_names_must_be_strings(entry, targets, exc):
    with pytest.raises(exc, match="target_modules"):
        _lora_entry_points()[entry](target_modules=targets)


def test_model_arguments_are_modules():
    for fn in (adapters.inject_lora, adapters.merge_lora, adapters.prompt_tuning_for_sequence_classification,
               adapters.lora_for_seq2seq):
        with pytest.raises(TypeError, match="model"):
            fn({"weight": torch.zeros(2)})
    with pytest.raises(TypeError, match="batch"):
        adapters.activation_memory(tiny(), [torch.zeros(2, 3, dtype=torch.long)])
    with pytest.raises(TypeError, match="loss_fn"):
        adapters.activation_memory(tiny(), {"input_ids": torch.zeros(2, 3, dtype=torch.long)}, loss_fn="loss")
