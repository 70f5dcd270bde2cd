import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from companion import adapters, training


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
                                     (dict(target_modules=["q_proj"]), "target_modules")])
def test_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=name):
        adapters.lora_for_sequence_classification(tiny(), **kw)


def test_unmatched_target_lists_real_names():
    with pytest.raises(ValueError, match="query"):
        adapters.lora_for_sequence_classification(tiny(), target_modules="q_proj")


def test_lora_parameter_count_validation():
    with pytest.raises(ValueError, match="r"):
        adapters.lora_parameter_count(8, 8, 0, 1)


def test_modules_to_save_keeps_head_trainable_too():
    model = adapters.lora_for_sequence_classification(tiny(), r=2, modules_to_save=("pooler",))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("classifier" in n for n in trainable) and any("pooler" in n for n in trainable)
    with pytest.raises(ValueError, match="modules_to_save"):
        adapters.lora_for_sequence_classification(tiny(), modules_to_save=("pool",))


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
