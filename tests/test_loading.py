"""companion.loading.from_pretrained_checked and the loaders that use it (llm, translation): a checkpoint
without its backbone weights, or with a corrupt file, is an error naming the caller's argument."""
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoModelForCausalLM, BertConfig, BertModel, LlamaForCausalLM, MarianMTModel

from companion import llm
from companion import translation as tr
from companion.loading import from_pretrained_checked

ENGLISH = ["I like tea.", "The cat sleeps.", "We go home now.", "She reads a book.", "It is raining."] * 4
CHINESE = ["我喜欢茶。", "猫在睡觉。", "我们现在回家。", "她在看书。", "在下雨。"] * 4


def _weights(folder):
    return folder / "model.safetensors"


def _tamper(folder, how):
    """Rewrite the folder's weights file: a stranger's tensor, renamed keys, half the tensors, or garbage bytes."""
    path = _weights(folder)
    tensors = load_file(path)
    if how == "garbage":
        path.write_bytes(b"\x00\x01 not a safetensors file" * 10)
        return
    if how == "dummy":
        tensors = {"dummy": torch.zeros(1)}
    elif how == "renamed":
        tensors = {f"renamed.{k}": v for k, v in tensors.items()}
    elif how == "half":
        keys = sorted(tensors)
        tensors = {k: tensors[k] for k in keys[: len(keys) // 2]}
    save_file({k: v.contiguous() for k, v in tensors.items()}, path)


@pytest.fixture
def llama_folder(tmp_path):
    tokenizer = llm._tokenizer(llm.TINY_LLAMA)
    torch.manual_seed(0)
    model = LlamaForCausalLM(llm.tiny_llama_config(len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                                   eos_token_id=tokenizer.eos_token_id))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    return tmp_path, model


@pytest.fixture
def bert_folder(tmp_path):
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=64), add_pooling_layer=False)
    model.save_pretrained(tmp_path)
    return tmp_path, model


def test_an_intact_checkpoint_loads_with_the_same_weights(llama_folder):
    folder, original = llama_folder
    model = from_pretrained_checked(AutoModelForCausalLM, folder, "name")
    for (k, a), b in zip(original.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("how", ["dummy", "renamed", "half"])
def test_load_causal_lm_refuses_a_checkpoint_without_its_backbone(llama_folder, how):
    folder, _ = llama_folder
    _tamper(folder, how)
    with pytest.raises(ValueError, match=r"^name: .*model\.safetensors.*lacks \d+ of the \d+ backbone weights"):
        llm.load_causal_lm(str(folder), device="cpu")


def test_load_causal_lm_names_a_corrupt_weights_file(llama_folder):
    folder, _ = llama_folder
    _tamper(folder, "garbage")
    with pytest.raises((ValueError, OSError), match=r"^name: cannot load the model from .*model\.safetensors"):
        llm.load_causal_lm(str(folder), device="cpu")


def test_the_error_names_the_callers_argument(bert_folder):
    folder, _ = bert_folder
    _tamper(folder, "dummy")
    with pytest.raises(ValueError, match=r"^encoder: .*lacks \d+ of the \d+ backbone weights") as info:
        from_pretrained_checked(AutoModel, folder, "encoder")
    assert "name:" not in str(info.value)


@pytest.mark.parametrize("how", ["dummy", "half", "garbage"])
def test_build_encoder_decoder_refuses_a_broken_pretrained_encoder(bert_folder, how):
    folder, _ = bert_folder
    target = tr.train_char_tokenizer(CHINESE)
    tr.build_encoder_decoder(str(folder), target, num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32)
    _tamper(folder, how)
    with pytest.raises((ValueError, OSError), match=r"^encoder: "):
        tr.build_encoder_decoder(str(folder), target, num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32)


def test_build_encoder_decoder_keeps_an_intact_encoders_weights(bert_folder):
    folder, original = bert_folder
    target = tr.train_char_tokenizer(CHINESE)
    model = tr.build_encoder_decoder(str(folder), target, num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32)
    for k, v in original.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[k], v), k


@pytest.mark.parametrize("how", ["dummy", "renamed", "garbage"])
def test_load_marian_refuses_a_broken_checkpoint(tmp_path, how):
    model, tokenizer = tr.tiny_marian(ENGLISH, CHINESE, workdir=tmp_path / "work")
    folder = tmp_path / "marian"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    loaded, _ = tr.load_marian(str(folder))
    assert isinstance(loaded, MarianMTModel)
    _tamper(folder, how)
    with pytest.raises((ValueError, OSError), match=r"^model: "):
        tr.load_marian(str(folder))
