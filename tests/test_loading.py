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
    model.save_pretrained(tmp_path / "bert")
    return tmp_path / "bert", model


def test_an_intact_checkpoint_loads_with_the_same_weights(llama_folder):
    folder, original = llama_folder
    model = from_pretrained_checked(AutoModelForCausalLM, folder, "name")
    for (k, a), b in zip(original.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("how", ["dummy", "renamed", "half"])
def test_load_causal_lm_refuses_a_checkpoint_without_its_backbone(llama_folder, how):
    folder, _ = llama_folder
    _tamper(folder, how)
    with pytest.raises(ValueError, match=r"^name: .*model\.safetensors.*lacks \d+ of the \d+ weights"):
        llm.load_causal_lm(str(folder), device="cpu")


def test_load_causal_lm_names_a_corrupt_weights_file(llama_folder):
    folder, _ = llama_folder
    _tamper(folder, "garbage")
    with pytest.raises((ValueError, OSError), match=r"^name: cannot load the model from .*model\.safetensors"):
        llm.load_causal_lm(str(folder), device="cpu")


def test_the_error_names_the_callers_argument(bert_folder):
    folder, _ = bert_folder
    _tamper(folder, "dummy")
    with pytest.raises(ValueError, match=r"^encoder: .*lacks \d+ of the \d+ weights") as info:
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


# ---- round 2: a newcomer's inputs (whole models: no weight may be new, no saved weight unused)
import json  # noqa: E402
from pathlib import Path  # noqa: E402


def _edit_config(folder, **changes):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


@pytest.fixture
def untied_llama_folder(tmp_path):
    tokenizer = llm._tokenizer(llm.TINY_LLAMA)
    torch.manual_seed(0)
    model = LlamaForCausalLM(llm.tiny_llama_config(len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                                   eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    return tmp_path


def test_load_causal_lm_refuses_a_checkpoint_without_its_output_layer(untied_llama_folder):
    path = _weights(untied_llama_folder)
    save_file({k: v.contiguous() for k, v in load_file(path).items() if not k.startswith("lm_head.")}, path)
    with pytest.raises(ValueError, match=r"^name: .*lacks 1 of .*lm_head"):
        llm.load_causal_lm(str(untied_llama_folder), device="cpu")


def test_load_causal_lm_refuses_a_tied_checkpoint_read_as_untied(llama_folder):
    folder, _ = llama_folder
    _edit_config(folder, tie_word_embeddings=False)
    with pytest.raises(ValueError, match=r"^name: .*lm_head"):
        llm.load_causal_lm(str(folder), device="cpu")


def test_a_config_with_fewer_layers_than_the_weights_is_refused(llama_folder, bert_folder):
    folder, original = llama_folder
    _edit_config(folder, num_hidden_layers=original.config.num_hidden_layers - 1)
    with pytest.raises(ValueError, match=r"^name: .*no place for"):
        llm.load_causal_lm(str(folder), device="cpu")
    folder, original = bert_folder
    _edit_config(folder, num_hidden_layers=0)
    target = tr.train_char_tokenizer(CHINESE)
    with pytest.raises(ValueError, match=r"^encoder: .*no place for"):
        tr.build_encoder_decoder(str(folder), target, num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32)


@pytest.mark.parametrize("config", ["{not json", "[1, 2]", '"a string"', ""])
def test_load_causal_lm_names_a_broken_config(llama_folder, config):
    folder, _ = llama_folder
    (folder / "config.json").write_text(config)
    with pytest.raises((ValueError, OSError), match=r"^name: cannot load the (tokenizer|model) from .*config\.json"):
        llm.load_causal_lm(str(folder), device="cpu")


def test_load_causal_lm_names_missing_tokenizer_files(llama_folder):
    folder, _ = llama_folder
    for path in folder.glob("tokenizer*"):
        path.unlink()
    with pytest.raises((ValueError, OSError), match=r"^name: "):
        llm.load_causal_lm(str(folder), device="cpu")


@pytest.mark.parametrize("bad, error", [
    ("/no/such/model", FileNotFoundError), ("./no-such-model", FileNotFoundError), ("a/b/c", FileNotFoundError),
    ("~/no-such-model", FileNotFoundError), (Path("/no/such/model"), FileNotFoundError), ("", ValueError),
    (None, TypeError), (3, TypeError), (b"/tmp", TypeError)])
def test_the_loaders_name_a_location_that_is_not_a_model(bad, error):
    target = tr.train_char_tokenizer(CHINESE)
    with pytest.raises(error, match=r"^name: "):
        llm.load_causal_lm(bad, device="cpu")
    with pytest.raises(error, match=r"^encoder: "):
        tr.build_encoder_decoder(bad, target, num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32)
    with pytest.raises(error, match=r"^model: "):
        tr.load_marian(bad)


def test_a_file_is_not_a_model_directory(llama_folder):
    folder, _ = llama_folder
    with pytest.raises(FileNotFoundError, match=r"^name: .*a file, not a model directory"):
        llm.load_causal_lm(str(_weights(folder)), device="cpu")


def test_a_path_object_loads_like_its_string(llama_folder, bert_folder):
    folder, original = llama_folder
    model, _ = llm.load_causal_lm(folder, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(original.state_dict().values(), model.state_dict().values()))
    folder, original = bert_folder
    target = tr.train_char_tokenizer(CHINESE)
    model = tr.build_encoder_decoder(folder, target, num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32)
    assert all(torch.equal(model.encoder.state_dict()[k], v) for k, v in original.state_dict().items())


def test_a_random_encoder_names_a_broken_config(bert_folder):
    folder, _ = bert_folder
    (folder / "config.json").write_text("{not json")
    target = tr.train_char_tokenizer(CHINESE)
    with pytest.raises((ValueError, OSError), match=r"^encoder: cannot load the config"):
        tr.build_encoder_decoder(str(folder), target, pretrained=False, num_layers=1, hidden_size=16, num_heads=2,
                                 intermediate_size=32)


def test_from_pretrained_checked_checks_its_own_arguments(bert_folder):
    folder, _ = bert_folder
    with pytest.raises(TypeError, match=r"^model_class: "):
        from_pretrained_checked(None, folder, "encoder")
    with pytest.raises(TypeError, match=r"^encoder: "):
        from_pretrained_checked(AutoModel, None, "encoder")
    with pytest.raises(TypeError, match=r"^argument: "):
        from_pretrained_checked(AutoModel, folder, None)


def test_a_classification_checkpoint_still_serves_as_an_encoder(tmp_path):
    """Unused classifier and pooler weights are normal when a task model's backbone is loaded as an encoder."""
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                             intermediate_size=32, max_position_embeddings=64)).save_pretrained(tmp_path)
    target = tr.train_char_tokenizer(CHINESE)
    tr.build_encoder_decoder(str(tmp_path), target, num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32)


# ---- round 3: unused head weights are allowed for an encoder only, at the top level only; tokenizers must fit
@pytest.mark.parametrize("extra", ["classifier.weight", "pooler.dense.weight", "model.layers.0.score.weight"])
def test_load_causal_lm_refuses_weights_it_would_leave_unused(llama_folder, extra):
    folder, _ = llama_folder
    path = _weights(folder)
    save_file({**{k: v.contiguous() for k, v in load_file(path).items()}, extra: torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match=r"^name: .*no place for"):
        llm.load_causal_lm(str(folder), device="cpu")


def test_an_encoder_refuses_unused_weights_inside_its_layers(bert_folder):
    folder, _ = bert_folder
    path = _weights(folder)
    save_file({**{k: v.contiguous() for k, v in load_file(path).items()},
               "encoder.layer.0.attention.self.score": torch.zeros(2)}, path)
    target = tr.train_char_tokenizer(CHINESE)
    with pytest.raises(ValueError, match=r"^encoder: .*no place for"):
        tr.build_encoder_decoder(str(folder), target, num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32)


def test_load_marian_refuses_a_tokenizer_of_another_model(tmp_path):
    model, tokenizer = tr.tiny_marian(ENGLISH, CHINESE, workdir=tmp_path / "work")
    folder = tmp_path / "marian"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    for path in folder.glob("*.json"):
        if path.name != "config.json" and path.name != "generation_config.json":
            path.unlink()
    for path in folder.glob("*.spm"):
        path.unlink()
    llm._tokenizer(llm.TINY_LLAMA).save_pretrained(folder)
    with pytest.raises(ValueError, match=r"^model: .*tokens but the model embeds only"):
        tr.load_marian(str(folder))
