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


@pytest.mark.parametrize("kw,name", [(dict(r=0), "r"), (dict(r=2.5), "r"), (dict(lora_dropout=1.0), "lora_dropout"),
                                     (dict(target_modules=["q_proj"]), "target_modules"),
                                     (dict(lora_alpha=0), "lora_alpha"), (dict(lora_alpha=-16), "lora_alpha"),
                                     (dict(lora_alpha="16"), "lora_alpha"), (dict(lora_dropout="0.1"), "lora_dropout"),
                                     (dict(lora_dropout=None), "lora_dropout"), (dict(target_modules=[]), "target_modules"),
                                     (dict(target_modules=None), "target_modules"),
                                     (dict(target_modules=["LayerNorm"]), "target_modules")])
def test_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=name):
        adapters.lora_for_sequence_classification(tiny(), **kw)


def test_unmatched_target_lists_real_names():
    with pytest.raises(ValueError, match="query"):
        adapters.lora_for_sequence_classification(tiny(), target_modules="q_proj")


def test_lora_parameter_count_validation():
    with pytest.raises(ValueError, match="r"):
        adapters.lora_parameter_count(8, 8, 0, 1)
    with pytest.raises(ValueError, match="d_in"):
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
    for r in (0, -1, 1.5):
        with pytest.raises(ValueError, match="r"):
            adapters.LoRALinear(nn.Linear(4, 4), r=r)
        with pytest.raises(ValueError, match="r"):
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
