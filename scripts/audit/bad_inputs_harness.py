"""Bad-input audit of companion's harness modules (models, loop, trainer, optimizers, book, data); issue 16.

Run from the repository root:  .venv/bin/python scripts/audit/bad_inputs_harness.py [-v]

Each case calls one public function with one bad input and classifies the outcome:
  CLEAR    an exception whose message names the argument (or the file)
  UNCLEAR  an exception whose message names none of them (a library traceback)
  SILENT   no exception (accepted, presumably wrong)
  HANG     no answer within 20 s
"""
from __future__ import annotations

import collections
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("COMPANION_PROGRESS", "0")
warnings.filterwarnings("ignore")

sys.path.insert(0, os.getcwd())  # the worktree's companion, not an installed copy (run from the worktree)

import numpy as np
import torch

import companion
from companion import book, loop, models, optimizers, trainer
from companion import data
from companion.data import imdb, negation, paraphrases, tatoeba, text

VERBOSE = "-v" in sys.argv
RESULTS: list[tuple[str, str, str, str]] = []  # (case, class, outcome, message)
TMP = Path(tempfile.mkdtemp(prefix="badA_probe_"))


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


signal.signal(signal.SIGALRM, _alarm)


def case(label: str, klass: str, fn, names, timeout: int = 20, accepted: str | None = None):
    """Run ``fn()``; CLEAR if it raises with one of ``names`` in the message. ``accepted``: why a return
    without an error is right for this input (then ACCEPTED instead of SILENT)."""
    names = [names] if isinstance(names, str) else list(names)
    signal.alarm(timeout)
    try:
        out = fn()
        signal.alarm(0)
        outcome, msg = ("ACCEPTED", f"{accepted}") if accepted else ("SILENT", f"returned {repr(out)[:80]}")
    except Hang:
        outcome, msg = "HANG", "no answer"
    except MemoryError as err:
        signal.alarm(0)
        outcome, msg = "OOM", str(err)[:120]
    except Exception as err:  # noqa: BLE001
        signal.alarm(0)
        text_ = f"{type(err).__name__}: {err}"
        outcome = "CLEAR" if any(n in str(err) for n in names) else "UNCLEAR"
        msg = text_.replace("\n", " ")[:160]
    RESULTS.append((label, klass, outcome, msg))
    if VERBOSE or outcome not in ("CLEAR",):
        print(f"{outcome:8s} [{klass}] {label}: {msg}", flush=True)


# ------------------------------------------------------------------ fixtures
TEXTS = ["a good film", "a bad film with no plot", "i did not like it at all", "great acting and music"] * 5
tok = data.train_wordpiece_tokenizer(TEXTS, vocab_size=100)
net, _ = models.build_model("tiny-random-bert", tokenizer=tok)
params = list(net.parameters())
hidden = torch.randn(2, 5, 8)
mask = torch.ones(2, 5, dtype=torch.long)
logits2 = torch.zeros(2, 2)
enc = [{"input_ids": ids, "attention_mask": [1] * len(ids), "label": i % 2}
       for i, ids in enumerate(data.encode(tok, TEXTS[:8], 16))]
good_loader = data.dataloader(enc, tok, 4)

NUM_BAD = [("True", True), ("'1'", "1"), ("1.5", 1.5), ("-1", -1), ("0", 0), ("nan", math.nan), ("inf", math.inf),
           ("None", None)]
POS_FLOAT_BAD = [("True", True), ("'1e-3'", "1e-3"), ("nan", math.nan), ("inf", math.inf), ("-1.0", -1.0),
                 ("None", None)]


def counts(label, fn, name, bad=NUM_BAD, skip=()):
    for shown, v in bad:
        if shown in skip:
            continue
        case(f"{label} {name}={shown}", "number", lambda v=v: fn(v), name)


# ------------------------------------------------------------------ models
counts("models.tiny_bert_config", lambda v: models.tiny_bert_config(v), "vocab_size")
counts("models.tiny_bert_config", lambda v: models.tiny_bert_config(100, v), "num_labels")
for nm, v in [("None", None), ("5", 5), ("'/nonexistent/dir'", "/nonexistent/dir")]:
    case(f"models.model_location name={nm}", "path", lambda v=v: models.model_location(v), ["name", "/nonexistent"])
    case(f"models.load_tokenizer name={nm}", "path", lambda v=v: models.load_tokenizer(v), ["name", "/nonexistent"])
case("models.load_tokenizer tiny texts='abc'", "type", lambda: models.load_tokenizer("tiny-random-bert", texts="abc"),
     "texts")
case("models.load_tokenizer tiny texts=[]", "empty", lambda: models.load_tokenizer("tiny-random-bert", texts=[]), "texts")
for nm, v in [("None", None), ("[1,2]", [1, 2]), ("int tensor", torch.ones(2, 5, 8, dtype=torch.long)),
              ("2-D", torch.randn(2, 8))]:
    case(f"models.mean_pool hidden_states={nm}", "type", lambda v=v: models.mean_pool(v, mask), "hidden_states")
for nm, v in [("values 2", torch.full((2, 5), 2)), ("nan", torch.full((2, 5), math.nan)), ("list", [[1, 1]]),
              ("0.5", torch.full((2, 5), 0.5))]:
    case(f"models.mean_pool attention_mask={nm}", "mask", lambda v=v: models.mean_pool(hidden, v), "attention_mask")
case("models.use_mean_pooling model=None", "type", lambda: models.use_mean_pooling(None), "model")
case("models.keep_layers model=None", "type", lambda: models.keep_layers(None, 1), "model")
counts("models.keep_layers", lambda v: models.keep_layers(models.build_model("tiny-random-bert", tokenizer=tok)[0], v),
       "num_layers")
case("models.keep_layers num_layers=99", "count", lambda: models.keep_layers(
    models.build_model("tiny-random-bert", tokenizer=tok)[0], 99), "num_layers")
case("models.count_parameters model=None", "type", lambda: models.count_parameters(None), "model")
B = lambda **kw: models.build_model(kw.pop("name", "tiny-random-bert"), **{"tokenizer": tok, **kw})  # noqa: E731
counts("models.build_model", lambda v: B(num_labels=v), "num_labels")
counts("models.build_model", lambda v: B(num_layers=v), "num_layers", skip=("None",))
counts("models.build_model", lambda v: B(seed=v), "seed", skip=("0",))
for shown, v in [("True", True), ("'0.1'", "0.1"), ("nan", math.nan), ("inf", math.inf), ("-0.1", -0.1), ("1.0", 1.0)]:
    case(f"models.build_model dropout={shown}", "number", lambda v=v: B(dropout=v), "dropout")
case("models.build_model task='qa'", "choice", lambda: B(task="qa"), "task")
case("models.build_model task=None", "choice", lambda: B(task=None), "task")
case("models.build_model pooling='max'", "choice", lambda: B(pooling="max"), "pooling")
case("models.build_model name=None", "type", lambda: B(name=None), "name")
case("models.build_model name='/nonexistent/model-dir'", "path", lambda: B(name="/nonexistent/model-dir"), "name")
case("models.build_model tokenizer=5", "type", lambda: B(tokenizer=5), "tokenizer")
case("models.build_model tokenizer='abc'", "type", lambda: B(tokenizer="abc"), "tokenizer")
case("models.build_model tiny no texts", "empty", lambda: models.build_model("tiny-random-bert"), "texts")
case("models.build_model tiny texts=[]", "empty", lambda: models.build_model("tiny-random-bert", texts=[]), "texts")
# corrupt model directories
saved = TMP / "saved"
net.save_pretrained(saved)
tok.save_pretrained(saved)


def corrupt_dir(label, mutate):
    d = TMP / label
    shutil.copytree(saved, d)
    mutate(d)
    return d


rnd = np.random.default_rng(0)
d = corrupt_dir("rand_weights", lambda d: (d / "model.safetensors").write_bytes(rnd.bytes(5000)))
case("models.build_model random-bytes model.safetensors", "file", lambda: B(name=str(d)), ["model.safetensors"])
case("models.build_model random-bytes model.safetensors (own tokenizer)", "file",
     lambda: models.build_model(str(d)), ["model.safetensors"])
d2 = corrupt_dir("trunc_weights", lambda d: (d / "model.safetensors").write_bytes(
    (saved / "model.safetensors").read_bytes()[:3000]))
case("models.build_model truncated model.safetensors", "file", lambda: B(name=str(d2)), ["model.safetensors"])
d3 = corrupt_dir("bad_config", lambda d: (d / "config.json").write_text("{not json"))
case("models.build_model non-JSON config.json", "file", lambda: B(name=str(d3)), ["config.json"])
d4 = corrupt_dir("no_weights", lambda d: (d / "model.safetensors").unlink())
case("models.build_model no weights file", "file", lambda: B(name=str(d4)), [str(d4), "model.safetensors"])
d5 = corrupt_dir("empty_weights", lambda d: (d / "model.safetensors").write_bytes(b""))
case("models.build_model empty model.safetensors", "file", lambda: B(name=str(d5)), ["model.safetensors"])
d6 = corrupt_dir("bad_tokenizer", lambda d: (d / "tokenizer.json").write_bytes(rnd.bytes(300)))
case("models.load_tokenizer corrupt tokenizer.json", "file", lambda: models.load_tokenizer(str(d6)),
     ["tokenizer.json", str(d6)])
case("models.build_model corrupt tokenizer.json", "file", lambda: models.build_model(str(d6)),
     ["tokenizer.json", str(d6)])
# weights that parse but do not fit the model (round 2): must not load a randomly initialised backbone
from safetensors.torch import load_file as _load_st, save_file as _save_st  # noqa: E402

_sd = _load_st(saved / "model.safetensors")
for label, change in [("dummy tensor only", lambda sd: {"dummy": torch.zeros(1)}),
                      ("renamed keys", lambda sd: {k.replace("bert.", "roberta."): v for k, v in sd.items()}),
                      ("half the tensors", lambda sd: {k: v for i, (k, v) in enumerate(sorted(sd.items())) if i % 2}),
                      ("one tensor dropped", lambda sd: {k: v for k, v in sd.items() if "layer.1.output.dense.weight" not in k}),
                      ("embedding of another shape", lambda sd: {**sd, "bert.embeddings.word_embeddings.weight":
                                                                 sd["bert.embeddings.word_embeddings.weight"][:10]})]:
    dw = corrupt_dir("w_" + label.replace(" ", "_"), lambda d, c=change: _save_st(c(_sd), d / "model.safetensors"))
    for task in ("classification", "token_classification"):
        case(f"models.build_model model.safetensors with {label} ({task})", "file",
             lambda dw=dw, task=task: B(name=str(dw), task=task), ["model.safetensors"])
dn = corrupt_dir("no_head", lambda d: _save_st({k: v for k, v in _sd.items() if "classifier" not in k},
                                               d / "model.safetensors"))
case("models.build_model model.safetensors without its head", "file", lambda: B(name=str(dn), num_labels=3),
     ["model.safetensors"], accepted="a new head (of any number of labels) is initialised for the task: normal")
# a broken config.json must be named as the config (not blamed on the tokenizer files, which also read it)
BLAME_CONFIG = "name: cannot load the config"
case("models.build_model non-JSON config.json (own tokenizer)", "file", lambda: models.build_model(str(d3)),
     BLAME_CONFIG)
d7 = corrupt_dir("config_no_model_type", lambda d: (d / "config.json").write_text(json.dumps(
    {k: v for k, v in json.loads((d / "config.json").read_text()).items() if k != "model_type"})))
case("models.build_model config.json without model_type", "file", lambda: B(name=str(d7)), BLAME_CONFIG)
case("models.build_model config.json without model_type (own tokenizer)", "file", lambda: models.build_model(str(d7)),
     BLAME_CONFIG)
d8 = corrupt_dir("config_list", lambda d: (d / "config.json").write_text("[1]"))
case("models.build_model config.json a list (own tokenizer)", "file", lambda: models.build_model(str(d8)), BLAME_CONFIG)

# ------------------------------------------------------------------ loop
case("loop.item_losses label 5 >= 2 classes", "label", lambda: loop.item_losses(logits2, torch.tensor([0, 5])), "labels")
case("loop.item_losses label -3", "label", lambda: loop.item_losses(logits2, torch.tensor([0, -3])), "labels")
case("loop.item_losses labels list", "type", lambda: loop.item_losses(logits2, [0, 1]), "labels")
case("loop.item_losses logits None", "type", lambda: loop.item_losses(None, torch.tensor([0, 1])), "logits")
case("loop.item_losses bool labels", "label", lambda: loop.item_losses(logits2, torch.tensor([True, False])), "labels")
case("loop.item_losses float labels 0.4/1.6 (2 classes)", "label",
     lambda: loop.item_losses(logits2, torch.tensor([0.4, 1.6])), "labels")
case("loop.item_losses regression nan label", "number",
     lambda: loop.item_losses(torch.zeros(2, 1), torch.tensor([0.5, math.nan])), "labels")
case("loop.item_losses int logits", "type",
     lambda: loop.item_losses(torch.zeros(2, 2, dtype=torch.long), torch.tensor([0, 1])), "logits")
case("loop.item_losses ignore_index=True", "number",
     lambda: loop.item_losses(logits2, torch.tensor([0, 1]), ignore_index=True), "ignore_index")
case("loop.item_losses ignore_index='-100'", "number",
     lambda: loop.item_losses(logits2, torch.tensor([0, 1]), ignore_index="-100"), "ignore_index")
case("loop.count_items labels None", "type", lambda: loop.count_items(None), "labels")
case("loop.count_items labels list", "type", lambda: loop.count_items([0, 1]), "labels")
case("loop.summed_loss label 9", "label", lambda: loop.summed_loss(logits2, torch.tensor([0, 9])), "labels")
for f in (loop.naive_accumulated_mean, loop.token_weighted_mean):
    for shown, v in [("[]", []), ("[[]]", [[]]), ("[['1.0','2']]", [["1.0", "2"]]), ("[[nan]]", [[math.nan]]),
                     ("[[True]]", [[True]]), ("'abc'", "abc"), ("None", None), ("[[inf]]", [[math.inf]])]:
        case(f"loop.{f.__name__} {shown}", "number", lambda v=v, f=f: f(v), "micro_batch_losses")
for shown, v in [("'fp64'", "fp64"), ("None", None), ("True", True), ("'FP32'", "FP32")]:
    case(f"loop.resolve_precision {shown}", "choice", lambda v=v: loop.resolve_precision(v), "precision")
    case(f"loop.autocast precision={shown}", "choice", lambda v=v: loop.autocast("cpu", v), "precision")
    case(f"loop.grad_scaler precision={shown}", "choice", lambda v=v: loop.grad_scaler("cpu", v), "precision")
case("loop.resolve_precision device='gpu0'", "choice", lambda: loop.resolve_precision("auto", "gpu0"), "device")
case("loop.autocast device='gpu0'", "choice", lambda: loop.autocast("gpu0", "bf16"), "device")
case("loop.grad_scaler device=None", "choice", lambda: loop.grad_scaler(None, "fp16"), "device")
case("loop.check_finite loss='abc'", "type", lambda: loop.check_finite("abc", 1), "loss")
case("loop.check_finite loss=None", "type", lambda: loop.check_finite(None, 1), "loss")
case("loop.check_finite precision='fp64'", "choice", lambda: loop.check_finite(torch.tensor(1.0), 1, "fp64"), "precision")
case("loop.evaluate loader=[]", "empty", lambda: loop.evaluate(net, []), "loader")
case("loop.evaluate loader=None", "type", lambda: loop.evaluate(net, None), "loader")
case("loop.evaluate model=None", "type", lambda: loop.evaluate(None, good_loader), "model")
case("loop.evaluate precision='x'", "choice", lambda: loop.evaluate(net, good_loader, precision="x"), "precision")
bad_label_loader = [{**b, "labels": torch.full_like(b["labels"], 7)} for b in good_loader]
case("loop.evaluate label 7 >= 2", "label", lambda: loop.evaluate(net, bad_label_loader), "labels")
for shown, v in [("True", True), ("'8'", "8"), ("0", 0), ("-1", -1), ("1.5", 1.5)]:
    case(f"loop.predict batch_size={shown}", "number", lambda v=v: loop.predict(net, enc, tok, batch_size=v), "batch_size")
case("loop.predict dataset=[]", "empty", lambda: loop.predict(net, [], tok), "dataset")
case("loop.predict dataset=None", "type", lambda: loop.predict(net, None, tok), "dataset")
case("loop.predict ids 999 outside vocab", "ids", lambda: loop.predict(
    net, [{"input_ids": [2, 999, 3], "attention_mask": [1, 1, 1]}], tok), ["input_ids", "999"])
case("loop.predict ids -5", "ids", lambda: loop.predict(
    net, [{"input_ids": [2, -5, 3], "attention_mask": [1, 1, 1]}], tok), ["input_ids", "-5"])
case("loop.predict model=None", "type", lambda: loop.predict(None, enc, tok), "model")
for shown, v in [("[2, True, 3]", [2, True, 3]), ("[2, np.array(True), 3]", [2, np.array(True), 3]),
                 ("[2, torch.tensor(True), 3]", [2, torch.tensor(True), 3]), ("bool array", np.array([True, False])),
                 ("[2, 3.0]", [2, 3.0])]:
    case(f"loop.predict input_ids={shown} (list dataset)", "ids",
         lambda v=v: loop.predict(net, [{"input_ids": [2, 5, 3]}, {"input_ids": v}], tok), "['input_ids']")
case("loop.predict tensor ids 999", "ids", lambda: loop.predict(net, [{"input_ids": torch.tensor([2, 999, 3])}], tok),
     ["input_ids", "999"])
case("loop.predict token_type_ids 2", "ids", lambda: loop.predict(
    net, [{"input_ids": [2, 5, 3], "token_type_ids": [0, 2, 0]}], tok), ["token_type_ids", "2"])
case("loop.predict sequence of 200 > 128 positions", "count",
     lambda: loop.predict(net, [{"input_ids": [5] * 200}], tok), "input_ids")
for shown, v in [("None", None), ("5", 5)]:
    case(f"loop.predict tokenizer={shown}", "type", lambda v=v: loop.predict(net, enc, v), "tokenizer")
case("loop.predict np.int64 ids", "ids", lambda: loop.predict(net, [{"input_ids": [np.int64(i) for i in enc[0]["input_ids"]]}],
                                                              tok), "input_ids", accepted="valid NumPy ids are ids")


def T(**kw):
    m = models.build_model("tiny-random-bert", tokenizer=tok)[0]
    loader = kw.pop("loader", good_loader)
    return loop.train(m, loader, torch.optim.AdamW(m.parameters(), lr=1e-3), **kw)


counts("loop.train", lambda v: T(epochs=v), "epochs")
counts("loop.train", lambda v: T(grad_accum_steps=v), "grad_accum_steps")
counts("loop.train", lambda v: T(max_steps=v), "max_steps", skip=("None",))
counts("loop.train", lambda v: T(max_grad_norm=v), "max_grad_norm", bad=POS_FLOAT_BAD[:-1])
counts("loop.train", lambda v: T(early_stopping_patience=v, eval_loaders={"validation": good_loader}),
       "early_stopping_patience", skip=("None",))
case("loop.train precision='fp64'", "choice", lambda: T(precision="fp64"), "precision")
case("loop.train train_loader=[]", "empty", lambda: T(loader=[]), "train_loader")
case("loop.train train_loader=None", "type", lambda: T(loader=None), "train_loader")
case("loop.train label 5 >= num_labels", "label", lambda: T(loader=[{**b, "labels": torch.full_like(b["labels"], 5)}
                                                              for b in good_loader]), "labels")
case("loop.train float labels 0.4/1.6", "label", lambda: T(loader=[{**b, "labels": b["labels"].float() + 0.4}
                                                                  for b in good_loader]), "labels")
case("loop.train ids 999 outside vocab", "ids", lambda: T(loader=[{**b, "input_ids": torch.full_like(b["input_ids"], 999)}
                                                                 for b in good_loader]), ["input_ids", "999"])
case("loop.train every label -100", "label", lambda: T(loader=[{**b, "labels": torch.full_like(b["labels"], -100)}
                                                              for b in good_loader]), ["labels", "-100"])
case("loop.train every label -1 with ignore_index=-1", "label", lambda: T(
    loader=[{**b, "labels": torch.full_like(b["labels"], -1)} for b in good_loader], ignore_index=-1), ["labels", "-1"])
for shown, v in [("2", 2), ("-1", -1), ("10**6", 10**6)]:
    case(f"loop.train token_type_ids {shown}", "ids", lambda v=v: T(loader=[
        {**b, "token_type_ids": torch.full_like(b["input_ids"], v)} for b in good_loader]), ["token_type_ids", str(v)])
case("loop.evaluate token_type_ids 2", "ids", lambda: loop.evaluate(net, [
    {**b, "token_type_ids": torch.full_like(b["input_ids"], 2)} for b in good_loader]), ["token_type_ids", "2"])
case("loop.train sequence of 200 > 128 positions", "count", lambda: T(loader=[
    {"input_ids": torch.full((2, 200), 5), "attention_mask": torch.ones(2, 200, dtype=torch.long),
     "labels": torch.tensor([0, 1])}]), "input_ids")
case("loop.train batch is a list", "type", lambda: T(loader=[[b["input_ids"], b["labels"]] for b in good_loader]),
     "train_loader")
case("loop.train batch is a tensor", "type", lambda: T(loader=[b["input_ids"] for b in good_loader]), "train_loader")
case("loop.train batch without labels", "type", lambda: T(loader=[{"input_ids": b["input_ids"]} for b in good_loader]),
     "train_loader")
case("loop.train batch with a list value", "type", lambda: T(loader=[{**b, "input_ids": b["input_ids"].tolist()}
                                                                    for b in good_loader]), ["input_ids", "train_loader"])
case("loop.evaluate batch without labels", "type", lambda: loop.evaluate(net, [{"input_ids": b["input_ids"]}
                                                                               for b in good_loader]), "loader")
case("loop.train loss_fn=5", "type", lambda: T(loss_fn=5), "loss_fn")
case("loop.train on_step='x'", "type", lambda: T(on_step="x"), "on_step")
case("loop.train metric_fn=5", "type", lambda: T(metric_fn=5, eval_loaders={"validation": good_loader}), "metric_fn")
case("loop.train eval_loaders=[loader]", "type", lambda: T(eval_loaders=[good_loader]), "eval_loaders")
case("loop.train monitor='dev' with patience", "choice",
     lambda: T(early_stopping_patience=1, eval_loaders={"validation": good_loader}, monitor="dev"), "monitor")
case("loop.train ignore_index=True", "number", lambda: T(ignore_index=True), "ignore_index")
case("loop.train ignore_index='x'", "number", lambda: T(ignore_index="x"), "ignore_index")
case("loop.train optimizer=None", "type", lambda: loop.train(net, good_loader, None), "optimizer")
case("loop.train model=None", "type", lambda: loop.train(None, good_loader, torch.optim.SGD(params, lr=0.1)), "model")
case("loop.saved_activation_bytes fn=5", "type", lambda: loop.saved_activation_bytes(5), "fn")
for shown, v in [("True", True), ("-1", -1), ("1.5", 1.5), ("'10'", "10"), ("nan", math.nan)]:
    case(f"loop.memory_breakdown activations={shown}", "number", lambda v=v: loop.memory_breakdown(net, activations=v),
         "activations")
case("loop.memory_breakdown gradients=1", "type", lambda: loop.memory_breakdown(net, gradients=1), "gradients")
case("loop.memory_breakdown model=None", "type", lambda: loop.memory_breakdown(None), "model")
case("loop.memory_breakdown optimizer=5", "type", lambda: loop.memory_breakdown(net, 5), "optimizer")

# ------------------------------------------------------------------ optimizers
case("optimizers.decay_parameter_names None", "type", lambda: optimizers.decay_parameter_names(None), "model")
case("optimizers.num_encoder_layers None", "type", lambda: optimizers.num_encoder_layers(None), "model")
case("optimizers.optimizer_state_bytes None", "type", lambda: optimizers.optimizer_state_bytes(None), "optimizer")
case("optimizers.param_groups model=None", "type", lambda: optimizers.param_groups(None, 0.01), "model")
counts("optimizers.param_groups", lambda v: optimizers.param_groups(net, v), "weight_decay", bad=POS_FLOAT_BAD)
counts("optimizers.param_groups", lambda v: optimizers.param_groups(net, 0.0, lr=v), "lr", bad=POS_FLOAT_BAD[:-1])
case("optimizers.param_groups lr_by_prefix={'zzz.':1e-3}", "choice",
     lambda: optimizers.param_groups(net, 0.0, lr=1e-3, lr_by_prefix={"zzz.": 1e-3}), "lr_by_prefix")
case("optimizers.param_groups lr_by_prefix={'bert.':nan}", "number",
     lambda: optimizers.param_groups(net, 0.0, lr=1e-3, lr_by_prefix={"bert.": math.nan}), "lr_by_prefix")
case("optimizers.param_groups lr_by_prefix=[1]", "type",
     lambda: optimizers.param_groups(net, 0.0, lr=1e-3, lr_by_prefix=[1]), "lr_by_prefix")
counts("optimizers.layer_index", lambda v: optimizers.layer_index("bert.encoder.layer.0.x", v), "num_layers")
case("optimizers.layer_index name=None", "type", lambda: optimizers.layer_index(None, 2), "name")
case("optimizers.layer_index name=5", "type", lambda: optimizers.layer_index(5, 2), "name")
counts("optimizers.layerwise_lr_groups", lambda v: optimizers.layerwise_lr_groups(net, v, 0.9), "lr", bad=POS_FLOAT_BAD)
counts("optimizers.layerwise_lr_groups", lambda v: optimizers.layerwise_lr_groups(net, 1e-3, v), "decay",
       bad=POS_FLOAT_BAD + [("0", 0), ("1.5", 1.5)])
counts("optimizers.layerwise_lr_groups", lambda v: optimizers.layerwise_lr_groups(net, 1e-3, 0.9, v), "weight_decay",
       bad=POS_FLOAT_BAD)
case("optimizers.layerwise_lr_groups model=Linear", "type",
     lambda: optimizers.layerwise_lr_groups(torch.nn.Linear(2, 2), 1e-3, 0.9), "model")
counts("optimizers.freeze_lower_layers",
       lambda v: optimizers.freeze_lower_layers(models.build_model("tiny-random-bert", tokenizer=tok)[0], v),
       "n_layers", skip=("0",))
case("optimizers.freeze_lower_layers n_layers=9", "count",
     lambda: optimizers.freeze_lower_layers(models.build_model("tiny-random-bert", tokenizer=tok)[0], 9), "n_layers")
case("optimizers.freeze_lower_layers freeze_embeddings=1", "type",
     lambda: optimizers.freeze_lower_layers(models.build_model("tiny-random-bert", tokenizer=tok)[0], 1, 1),
     "freeze_embeddings")
case("optimizers.freeze_lower_layers model=None", "type", lambda: optimizers.freeze_lower_layers(None, 0), "model")
counts("optimizers.make_optimizer", lambda v: optimizers.make_optimizer("adamw", params, v), "lr", bad=POS_FLOAT_BAD)
counts("optimizers.make_optimizer", lambda v: optimizers.make_optimizer("adamw", params, 1e-3, v), "weight_decay",
       bad=POS_FLOAT_BAD)
case("optimizers.make_optimizer name='lion'", "choice", lambda: optimizers.make_optimizer("lion", params, 1e-3), "name")
case("optimizers.make_optimizer groups=[]", "empty", lambda: optimizers.make_optimizer("adamw", [], 1e-3), "groups")
case("optimizers.make_optimizer groups=None", "type", lambda: optimizers.make_optimizer("adamw", None, 1e-3), "groups")
case("optimizers.make_optimizer groups=[1,2]", "type", lambda: optimizers.make_optimizer("adamw", [1, 2], 1e-3), "groups")
lin = torch.nn.Linear(2, 1)
lf = lambda: lin(torch.ones(1, 2)).sum()  # noqa: E731
counts("optimizers.mezo_step", lambda v: optimizers.mezo_step(list(lin.parameters()), lf, lr=v, seed=0), "lr",
       bad=POS_FLOAT_BAD)
counts("optimizers.mezo_step", lambda v: optimizers.mezo_step(list(lin.parameters()), lf, lr=1e-3, eps=v, seed=0), "eps",
       bad=POS_FLOAT_BAD)
counts("optimizers.mezo_step", lambda v: optimizers.mezo_step(list(lin.parameters()), lf, lr=1e-3, seed=v), "seed",
       skip=("0",))
case("optimizers.mezo_step params=[]", "empty", lambda: optimizers.mezo_step([], lf, lr=1e-3, seed=0), "params")
case("optimizers.mezo_step loss_fn=5", "type",
     lambda: optimizers.mezo_step(list(lin.parameters()), 5, lr=1e-3, seed=0), "loss_fn")
case("optimizers.mezo_step loss_fn -> nan", "number",
     lambda: optimizers.mezo_step(list(lin.parameters()), lambda: math.nan, lr=1e-3, seed=0), "loss_fn")
case("optimizers.mezo_step loss_fn -> 'abc'", "type",
     lambda: optimizers.mezo_step(list(lin.parameters()), lambda: "abc", lr=1e-3, seed=0), "loss_fn")
case("optimizers.mezo_step params=[1.0]", "type", lambda: optimizers.mezo_step([1.0], lf, lr=1e-3, seed=0), "params")
counts("optimizers.MeZO", lambda v: optimizers.MeZO(lin.parameters(), lr=v), "lr", bad=POS_FLOAT_BAD)
counts("optimizers.MeZO", lambda v: optimizers.MeZO(lin.parameters(), lr=1e-3, eps=v), "eps", bad=POS_FLOAT_BAD)
counts("optimizers.MeZO", lambda v: optimizers.MeZO(lin.parameters(), lr=1e-3, seed=v), "seed", skip=("0",))
case("optimizers.MeZO params=[]", "empty", lambda: optimizers.MeZO([], lr=1e-3), "params")
case("optimizers.MeZO params=None", "type", lambda: optimizers.MeZO(None, lr=1e-3), "params")
case("optimizers.MeZO params=[1.0]", "type", lambda: optimizers.MeZO([1.0], lr=1e-3), "params")
case("optimizers.MeZO.step loss_fn=5", "type", lambda: optimizers.MeZO(lin.parameters(), lr=1e-3).step(5), "loss_fn")

# ------------------------------------------------------------------ book
SIZES = {p: {"n": 1} for p in ("smoke", "cpu", "gpu")}
case("book.resolve_profile 'fast'", "choice", lambda: book.resolve_profile("fast"), "profile")
case("book.resolve_profile None", "type", lambda: book.resolve_profile(None), "profile")
case("book.check_sizes missing gpu", "choice", lambda: book.check_sizes({"smoke": {}, "cpu": {}}), "sizes")
case("book.check_sizes None", "type", lambda: book.check_sizes(None), "sizes")
case("book.check_sizes list entry", "type", lambda: book.check_sizes({"smoke": [], "cpu": {}, "gpu": {}}), "sizes")
counts("book.seed_everything", lambda v: book.seed_everything(v), "seed", skip=("0",))
counts("book.setup", lambda v: book.setup("smoke", SIZES, seed=v, show=False), "seed", skip=("0",))
case("book.setup show='yes'", "type", lambda: book.setup("smoke", SIZES, show="yes"), "show")
case("book.setup profile=1", "type", lambda: book.setup(1, SIZES), "profile")
case("book.glue name=''", "type", lambda: book.glue("", 1), "name")
case("book.glue name=None", "type", lambda: book.glue(None, 1), "name")
case("book.glue display='x'", "type", lambda: book.glue("x", 1, display="x"), "display")
case("book.progress total=-1", "number", lambda: book.progress([1], total=-1), "total")
case("book.progress total='3'", "number", lambda: book.progress([1], total="3"), "total")
case("book.progress iterable=None", "type", lambda: book.progress(None), "iterable")
case("book.provenance profile=5", "type", lambda: book.provenance(5), "profile")
case("book.provenance extra_packages='sklearn'", "type", lambda: book.provenance("smoke", "sklearn"), "extra_packages")
case("book.provenance extra_packages=None", "type", lambda: book.provenance("smoke", None), "extra_packages")

# ------------------------------------------------------------------ data.imdb
case("imdb.clean_review None", "type", lambda: data.clean_review(None), "text")
case("imdb.stratified_indices float labels", "label", lambda: data.stratified_indices([0.5, 1.5, 0.2], 2), "labels")
case("imdb.stratified_indices None", "type", lambda: data.stratified_indices(None, 2), "labels")
case("imdb.stratified_indices 'abc'", "type", lambda: data.stratified_indices("abc", 2), "labels")
case("imdb.stratified_indices labels=[]", "empty", lambda: data.stratified_indices([], 1), ["labels", "n"])
case("imdb.stratified_indices labels 2-D", "label", lambda: data.stratified_indices([[0, 1]], 1), "labels")
case("imdb.stratified_indices labels strings", "label", lambda: data.stratified_indices(["0", "1"], 1), "labels")
counts("imdb.stratified_indices", lambda v: data.stratified_indices([0, 1, 0, 1], v), "n", skip=("None",))
case("imdb.stratified_indices n=5 > len", "count", lambda: data.stratified_indices([0, 1, 0, 1], 5), "n")
counts("imdb.stratified_indices", lambda v: data.stratified_indices([0, 1, 0, 1], 2, v), "seed", skip=("0",))
counts("imdb.load_imdb", lambda v: data.load_imdb("fixture", train_size=v), "train_size", skip=("None",))
counts("imdb.load_imdb", lambda v: data.load_imdb("fixture", test_size=v), "test_size", skip=("None",))
case("imdb.load_imdb train_size=10**6", "count", lambda: data.load_imdb("fixture", train_size=10**6), "train_size")
counts("imdb.load_imdb", lambda v: data.load_imdb("fixture", seed=v), "seed", skip=("0",))
case("imdb.load_imdb clean='yes'", "type", lambda: data.load_imdb("fixture", clean="yes"), "clean")
case("imdb.load_imdb clean=None", "type", lambda: data.load_imdb("fixture", clean=None), "clean")
case("imdb.load_imdb columns='text'", "type", lambda: data.load_imdb("fixture", columns="text"), "columns")
case("imdb.load_imdb columns=[]", "empty", lambda: data.load_imdb("fixture", columns=[]), "columns")
case("imdb.load_imdb columns=[1]", "type", lambda: data.load_imdb("fixture", columns=[1]), "columns")
case("imdb.load_imdb columns=['nope','label']", "choice",
     lambda: data.load_imdb("fixture", columns=["nope", "label"]), "columns")
case("imdb.load_imdb columns=None", "type", lambda: data.load_imdb("fixture", columns=None), "columns")
case("imdb.load_imdb source='/nonexistent'", "path", lambda: data.load_imdb("/nonexistent"), ["source", "/nonexistent"])
case("imdb.load_imdb source=None", "type", lambda: data.load_imdb(None), "source")
case("imdb.load_imdb source=5", "type", lambda: data.load_imdb(5), "source")
empty_dir = TMP / "empty_dir"
empty_dir.mkdir()
case("imdb.load_imdb empty dir", "path", lambda: data.load_imdb(str(empty_dir)), ["source", "train.parquet"])
cp = TMP / "corrupt_parquet"
cp.mkdir()
(cp / "train.parquet").write_bytes(rnd.bytes(2000))
(cp / "test.parquet").write_bytes(rnd.bytes(2000))
case("imdb.load_imdb corrupt parquet", "file", lambda: data.load_imdb(str(cp)), ["train.parquet", "test.parquet"])
fl = TMP / "float_labels"
fl.mkdir()
import pandas as pd  # noqa: E402

for s in ("train", "test"):
    pd.DataFrame({"text": ["a", "b", "c", "d"], "label": [0.5, 1.5, 0.2, 0.9]}).to_parquet(fl / f"{s}.parquet")
case("imdb.load_imdb float labels in parquet", "label", lambda: data.load_imdb(str(fl)), ["label", "source"])
ol = TMP / "label_7"
ol.mkdir()
for s in ("train", "test", "validation"):
    pd.DataFrame({"text": ["a", "b", "c", "d"], "label": [0, 7, 1, -2]}).to_parquet(ol / f"{s}.parquet")
case("imdb.load_imdb labels 7 and -2 in parquet", "label", lambda: data.load_imdb(str(ol)), ["label", "source"])
nt = TMP / "nontext"
nt.mkdir()
for s in ("train", "test", "validation"):
    pd.DataFrame({"text": [1, 2, 3, 4], "label": [0, 1, 1, 0]}).to_parquet(nt / f"{s}.parquet")
case("imdb.load_imdb int text column", "type", lambda: data.load_imdb(str(nt)), ["text", "source"])
old = os.environ.get(data.DATA_DIR_ENV)
os.environ[data.DATA_DIR_ENV] = "/nonexistent/imdb"
case("imdb.load_imdb hub with $COMPANION_DATA_DIR missing", "path", lambda: data.load_imdb("hub"), "COMPANION_DATA_DIR")
case("imdb.load_imdb_unlabelled hub with $COMPANION_DATA_DIR missing", "path",
     lambda: data.load_imdb_unlabelled("hub"), "COMPANION_DATA_DIR")
os.environ[data.DATA_DIR_ENV] = str(cp)
(cp / "unsupervised.parquet").write_bytes(rnd.bytes(1000))
case("imdb.load_imdb_unlabelled corrupt unsupervised.parquet", "file",
     lambda: data.load_imdb_unlabelled("hub"), "unsupervised.parquet")
if old is None:
    del os.environ[data.DATA_DIR_ENV]
else:
    os.environ[data.DATA_DIR_ENV] = old
counts("imdb.load_imdb_unlabelled", lambda v: data.load_imdb_unlabelled("fixture", n=v), "n", skip=("None",))
case("imdb.load_imdb_unlabelled n=10**6", "count", lambda: data.load_imdb_unlabelled("fixture", n=10**6), "n")
case("imdb.load_imdb_unlabelled source='x'", "choice", lambda: data.load_imdb_unlabelled("x"), "source")
case("imdb.load_imdb_unlabelled clean=1", "type", lambda: data.load_imdb_unlabelled("fixture", clean=1), "clean")

# ------------------------------------------------------------------ data.negation
case("negation.split_words None", "type", lambda: data.split_words(None), "sentence")
case("negation.negation_scope_tags None", "type", lambda: data.negation_scope_tags(None), "words")
case("negation.negation_scope_tags 'abc'", "type", lambda: data.negation_scope_tags("abc"), "words")
case("negation.negation_scope_tags [1,2]", "type", lambda: data.negation_scope_tags([1, 2]), "words")
NT = ["I did not like it at all today. The music was good and fine today."] * 10
counts("negation.negation_dataset", lambda v: data.negation_dataset(NT, v), "n", skip=("None",))
counts("negation.negation_dataset", lambda v: data.negation_dataset(NT, 2, negated_share=v), "negated_share",
       bad=POS_FLOAT_BAD + [("1.5", 1.5)], skip=("-1.0",))
counts("negation.negation_dataset", lambda v: data.negation_dataset(NT, 2, min_words=v), "min_words", skip=("None",))
counts("negation.negation_dataset", lambda v: data.negation_dataset(NT, 2, max_words=v), "max_words", skip=("None",))
counts("negation.negation_dataset", lambda v: data.negation_dataset(NT, 2, seed=v), "seed", skip=("0",))
case("negation.negation_dataset texts=[]", "empty", lambda: data.negation_dataset([], 2), "texts")
case("negation.negation_dataset texts='abc'", "type", lambda: data.negation_dataset("abc", 2), "texts")
case("negation.negation_dataset n=1000 (too many)", "count", lambda: data.negation_dataset(NT, 1000), "n")
case("negation.align_labels word id 5 of 2 labels", "ids", lambda: data.align_labels([None, 0, 5, None], [0, 1]),
     "word_ids")
case("negation.align_labels word id -1", "ids", lambda: data.align_labels([None, -1, None], [0]), "word_ids")
case("negation.align_labels word id 1.7", "ids", lambda: data.align_labels([None, 1.7, None], [0, 1]), "word_ids")
case("negation.align_labels word_ids=None", "type", lambda: data.align_labels(None, [0]), "word_ids")
case("negation.align_labels word_labels=[0.4,1.6]", "label", lambda: data.align_labels([None, 0, 1, None], [0.4, 1.6]),
     "word_labels")
case("negation.align_labels word_labels='ab'", "type", lambda: data.align_labels([None, 0, 1, None], "ab"),
     "word_labels")
case("negation.align_labels word_labels=[True,False]", "label",
     lambda: data.align_labels([None, 0, 1, None], [True, False]), "word_labels")
case("negation.align_labels word_labels=[0,-5]", "label", lambda: data.align_labels([None, 0, 1, None], [0, -5]),
     "word_labels")
case("negation.align_labels word_labels=None", "type", lambda: data.align_labels([None, 0, None], None), "word_labels")
EX = [{"words": ["i", "did", "not"], "tags": [0, 0, 1]}]
counts("negation.tokenize_tagged", lambda v: data.tokenize_tagged(EX, tok, v), "max_length", skip=("None",))
case("negation.tokenize_tagged examples=None", "type", lambda: data.tokenize_tagged(None, tok, 16), "examples")
case("negation.tokenize_tagged examples=[]", "empty", lambda: data.tokenize_tagged([], tok, 16), "examples")
case("negation.tokenize_tagged missing tags", "type", lambda: data.tokenize_tagged([{"words": ["a"]}], tok, 16),
     "examples")
case("negation.tokenize_tagged tags float", "label",
     lambda: data.tokenize_tagged([{"words": ["a", "b"], "tags": [0.5, 1.2]}], tok, 16), ["examples", "tags"])
case("negation.tokenize_tagged tags 'ab'", "label",
     lambda: data.tokenize_tagged([{"words": ["a", "b"], "tags": "ab"}], tok, 16), ["examples", "tags"])
case("negation.tokenize_tagged tags 7 (3 tags)", "label",
     lambda: data.tokenize_tagged([{"words": ["a", "b"], "tags": [0, 7]}], tok, 16), ["examples", "tags"],
     accepted="tokenize_tagged does not know the tag set (any int tags >= 0); a tag >= num_labels is named "
              "('labels') by loop.item_losses / fit before training")
case("negation.tokenize_tagged tokenizer=None", "type", lambda: data.tokenize_tagged(EX, None, 16), "tokenizer")

# ------------------------------------------------------------------ data.paraphrases
counts("paraphrases.load_paraphrase_pairs", lambda v: data.load_paraphrase_pairs("fixture", v), "n", skip=("None",))
case("paraphrases.load_paraphrase_pairs n=10**6", "count", lambda: data.load_paraphrase_pairs("fixture", 10**6), "n")
case("paraphrases.load_paraphrase_pairs source='x'", "choice", lambda: data.load_paraphrase_pairs("x"), "source")
case("paraphrases.load_paraphrase_pairs source=None", "choice", lambda: data.load_paraphrase_pairs(None), "source")

# ------------------------------------------------------------------ data.tatoeba
case("tatoeba.read_tatoeba path missing", "path", lambda: data.read_tatoeba("/nonexistent.tsv"), "path")
case("tatoeba.read_tatoeba path is a dir", "path", lambda: data.read_tatoeba(str(TMP)), "path")
case("tatoeba.read_tatoeba path=5", "type", lambda: data.read_tatoeba(5), "path")
binf = TMP / "bin.tsv"
binf.write_bytes(rnd.bytes(3000))
case("tatoeba.read_tatoeba random-bytes file", "file", lambda: data.read_tatoeba(str(binf)), ["path", "bin.tsv"])
emptyf = TMP / "empty.tsv"
emptyf.write_text("")
case("tatoeba.read_tatoeba empty file", "empty", lambda: data.read_tatoeba(str(emptyf)), ["path", "empty.tsv"])
notab = TMP / "notab.tsv"
notab.write_text("hello world\n")
case("tatoeba.read_tatoeba no tab", "file", lambda: data.read_tatoeba(str(notab)), "path")
counts("tatoeba.read_tatoeba", lambda v: data.read_tatoeba(n=v), "n", skip=("None",))
counts("tatoeba.grouped_split", lambda v: data.grouped_split(["a", "b", "c", "d"], validation_size=v, test_size=1),
       "validation_size", skip=("0",))
counts("tatoeba.grouped_split", lambda v: data.grouped_split(["a", "b", "c", "d"], validation_size=1, test_size=v),
       "test_size", skip=("0",))
counts("tatoeba.grouped_split", lambda v: data.grouped_split(["a", "b", "c", "d"], validation_size=1, test_size=1, seed=v),
       "seed", skip=("0",))
case("tatoeba.grouped_split keys='abcd'", "type", lambda: data.grouped_split("abcd", validation_size=1, test_size=1),
     "keys")
case("tatoeba.grouped_split keys=[]", "empty", lambda: data.grouped_split([], validation_size=0, test_size=0),
     ["keys", "test_size"])
case("tatoeba.grouped_split keys=None", "type", lambda: data.grouped_split(None, validation_size=1, test_size=1), "keys")
case("tatoeba.grouped_split sizes too large", "count",
     lambda: data.grouped_split(["a", "b"], validation_size=1, test_size=1), ["test_size", "validation_size"])
counts("tatoeba.load_tatoeba", lambda v: data.load_tatoeba("fixture", validation_size=v), "validation_size",
       skip=("None", "0"))
counts("tatoeba.load_tatoeba", lambda v: data.load_tatoeba("fixture", seed=v), "seed", skip=("0",))
case("tatoeba.load_tatoeba source='/nonexistent'", "path", lambda: data.load_tatoeba("/nonexistent"), "source")
case("tatoeba.load_tatoeba source=None", "type", lambda: data.load_tatoeba(None), "source")
case("tatoeba.load_tatoeba random-bytes file", "file", lambda: data.load_tatoeba(str(binf)), ["bin.tsv", "source", "path"])
case("tatoeba.pairs_from_records None", "type", lambda: tatoeba.pairs_from_records(None), "records")
case("tatoeba.pairs_from_records [1,2]", "type", lambda: tatoeba.pairs_from_records([1, 2]), "records")
case("tatoeba.pairs_from_records [{'x':1}]", "choice", lambda: tatoeba.pairs_from_records([{"x": 1}]), "records")
case("tatoeba.pairs_from_records en=5", "type", lambda: tatoeba.pairs_from_records([{"en": 5, "zh": "x"}]), "records")
case("tatoeba.pairs_from_records source_lang=None", "type",
     lambda: tatoeba.pairs_from_records([{"en": "a", "zh": "b"}], source_lang=None), "source_lang")
for nm in ("train_size", "validation_size", "test_size", "seed", "shuffle_buffer"):
    for shown, v in [("True", True), ("-1", -1), ("'5'", "5"), ("1.5", 1.5)]:
        case(f"tatoeba.load_hub_pairs {nm}={shown}", "number",
             lambda v=v, nm=nm: data.load_hub_pairs("wmt/wmt19", "zh-en", **{nm: v}), nm)
case("tatoeba.load_hub_pairs dataset_id=None", "type", lambda: data.load_hub_pairs(None), "dataset_id")

# ------------------------------------------------------------------ data.text
counts("text.encode", lambda v: data.encode(tok, ["a b"], v), "max_length", skip=("None",))
counts("text.encode", lambda v: data.encode(tok, ["a b"], 16, v), "head_tokens", skip=("None",))
case("text.encode max_length=10**6", "count", lambda: data.encode(tok, ["a"], 10**6), "max_length")
case("text.encode texts='abc'", "type", lambda: data.encode(tok, "abc", 16), "texts")
case("text.encode texts=[]", "empty", lambda: data.encode(tok, [], 16), "texts")
case("text.encode texts=[None]", "type", lambda: data.encode(tok, [None], 16), "texts")
case("text.encode tokenizer=None", "type", lambda: data.encode(None, ["a"], 16), "tokenizer")
from datasets import Dataset, DatasetDict  # noqa: E402

dsx = Dataset.from_dict({"text": ["a b", "c"]})
counts("text.tokenize", lambda v: data.tokenize(dsx, tok, v), "max_length", skip=("None",))
case("text.tokenize ds=list", "type", lambda: data.tokenize(["a"], tok, 16), "ds")
case("text.tokenize text_column='x'", "choice", lambda: data.tokenize(dsx, tok, 16, text_column="x"), "text_column")
case("text.tokenize text_column=None", "choice", lambda: data.tokenize(dsx, tok, 16, text_column=None), "text_column")
case("text.tokenize int text column", "type",
     lambda: data.tokenize(Dataset.from_dict({"text": [1, 2]}), tok, 16), "text")
case("text.tokenize empty dataset", "empty",
     lambda: data.tokenize(Dataset.from_dict({"text": []}), tok, 16), "ds",
     accepted="an empty split tokenises to an empty split (a DatasetDict may hold one); dataloader/predict/fit "
              "refuse an empty dataset by name")
case("text.tokenize tokenizer=None", "type", lambda: data.tokenize(dsx, None, 16), "tokenizer")
counts("text.train_wordpiece_tokenizer", lambda v: data.train_wordpiece_tokenizer(TEXTS, v), "vocab_size",
       skip=("None",))
case("text.train_wordpiece_tokenizer texts=None", "type", lambda: data.train_wordpiece_tokenizer(None), "texts")
case("text.train_wordpiece_tokenizer texts=[]", "empty", lambda: data.train_wordpiece_tokenizer([]), "texts")
case("text.train_wordpiece_tokenizer texts='abc'", "type", lambda: data.train_wordpiece_tokenizer("abc"), "texts")
case("text.train_wordpiece_tokenizer lowercase=1", "type", lambda: data.train_wordpiece_tokenizer(TEXTS, 100, 1),
     "lowercase")
case("text.train_wordpiece_tokenizer texts=['','']", "empty", lambda: data.train_wordpiece_tokenizer(["", ""]), "texts")
counts("text.EpochSampler", lambda v: data.EpochSampler(v), "n", skip=("None",))
counts("text.EpochSampler", lambda v: data.EpochSampler(4, batch_size=v), "batch_size", skip=("None",))
counts("text.EpochSampler", lambda v: data.EpochSampler(4, seed=v), "seed", skip=("0",))
case("text.EpochSampler shuffle=1", "type", lambda: data.EpochSampler(4, shuffle=1), "shuffle")
case("text.EpochSampler lengths wrong count", "count", lambda: data.EpochSampler(4, lengths=[1, 2]), "lengths")
case("text.EpochSampler lengths=[1,2,-3,4]", "number", lambda: data.EpochSampler(4, lengths=[1, 2, -3, 4]), "lengths")
case("text.EpochSampler lengths=[1.5]*4", "number", lambda: data.EpochSampler(4, lengths=[1.5] * 4), "lengths")
case("text.EpochSampler lengths='abcd'", "type", lambda: data.EpochSampler(4, lengths="abcd"), "lengths")
case("text.EpochSampler lengths=5", "type", lambda: data.EpochSampler(4, lengths=5), "lengths")
counts("text.EpochSampler.set_epoch", lambda v: data.EpochSampler(4).set_epoch(v), "epoch", skip=("0",))
counts("text.EpochSampler.order", lambda v: data.EpochSampler(4).order(v), "epoch", skip=("0", "None"))
counts("text.dataloader", lambda v: data.dataloader(enc, tok, v), "batch_size", skip=("None",))
counts("text.dataloader", lambda v: data.dataloader(enc, tok, 2, shuffle=True, seed=v), "seed", skip=("0",))
case("text.dataloader dataset=[]", "empty", lambda: data.dataloader([], tok, 2), "dataset")
case("text.dataloader dataset=None", "type", lambda: data.dataloader(None, tok, 2), "dataset")
case("text.dataloader shuffle=1", "type", lambda: data.dataloader(enc, tok, 2, shuffle=1), "shuffle")
case("text.dataloader group_by_length w/o shuffle", "choice",
     lambda: data.dataloader(enc, tok, 2, group_by_length=True), "group_by_length")
case("text.dataloader columns='input_ids'", "type", lambda: data.dataloader(enc, tok, 2, columns="input_ids"), "columns")
case("text.dataloader collator=5", "type", lambda: data.dataloader(enc, tok, 2, collator=5), "collator")
case("text.dataloader tokenizer=None no collator", "type", lambda: data.dataloader(enc, None, 2), "tokenizer")
case("text.dataloader rows without input_ids (group_by_length)", "type",
     lambda: data.dataloader([{"x": 1}], tok, 2, shuffle=True, group_by_length=True), ["dataset", "input_ids"])

# ------------------------------------------------------------------ trainer
out_root = TMP / "runs"
TA = lambda **kw: trainer.training_arguments(kw.pop("output_dir", out_root / "x"),  # noqa: E731
                                             **{"learning_rate": 1e-3, "batch_size": 4, **kw})
counts("trainer.training_arguments", lambda v: TA(learning_rate=v), "learning_rate", bad=POS_FLOAT_BAD)
counts("trainer.training_arguments", lambda v: TA(batch_size=v), "batch_size")
counts("trainer.training_arguments", lambda v: TA(max_steps=v), "max_steps", skip=("-1",))
counts("trainer.training_arguments", lambda v: TA(epochs=v), "epochs", bad=POS_FLOAT_BAD + [("0", 0)])
counts("trainer.training_arguments", lambda v: TA(warmup=v), "warmup", bad=POS_FLOAT_BAD)
counts("trainer.training_arguments", lambda v: TA(weight_decay=v), "weight_decay", bad=POS_FLOAT_BAD)
counts("trainer.training_arguments", lambda v: TA(seed=v), "seed", skip=("0",))
counts("trainer.training_arguments", lambda v: TA(save_steps=v), "save_steps", skip=("None",))
counts("trainer.training_arguments", lambda v: TA(logging_steps=v), "logging_steps")
counts("trainer.training_arguments", lambda v: TA(seq2seq=True, generation_max_length=v), "generation_max_length")
counts("trainer.training_arguments", lambda v: TA(seq2seq=True, generation_num_beams=v), "generation_num_beams")
case("trainer.training_arguments save_steps=15 logging 10", "count", lambda: TA(save_steps=15), "save_steps")
case("trainer.training_arguments output_dir=None", "type", lambda: TA(output_dir=None), "output_dir")
case("trainer.training_arguments precision='fp16' on cpu", "choice", lambda: TA(precision="fp16"), "precision")
case("trainer.training_arguments precision='x'", "choice", lambda: TA(precision="x"), "precision")
case("trainer.training_arguments eval_strategy='always'", "choice", lambda: TA(eval_strategy="always"), "eval_strategy")
case("trainer.training_arguments group_by_length=1", "type", lambda: TA(group_by_length=1), "group_by_length")
case("trainer.training_arguments seq2seq='yes'", "type", lambda: TA(seq2seq="yes"), "seq2seq")
case("trainer.training_arguments output_dir is a file", "path", lambda: TA(output_dir=binf), ["output_dir", "bin.tsv"])
counts("trainer.steps_per_epoch", lambda v: trainer.steps_per_epoch(v, 4), "n_examples")
counts("trainer.steps_per_epoch", lambda v: trainer.steps_per_epoch(10, v), "batch_size")
case("trainer.make_trainer args=None", "type", lambda: trainer.make_trainer(net, None, enc), "args")
case("trainer.make_trainer model=None", "type", lambda: trainer.make_trainer(None, TA(), enc, tokenizer=tok), "model")
case("trainer.fit trainer=None", "type", lambda: trainer.fit(None), "trainer")
case("trainer.last_complete_checkpoint output_dir=None", "type", lambda: trainer.last_complete_checkpoint(None),
     "output_dir")
case("trainer.last_complete_checkpoint output_dir is a file", "path", lambda: trainer.last_complete_checkpoint(binf),
     "output_dir")
for shown, v in [("True", True), ("'3'", "3"), ("1.5", 1.5), ("nan", math.nan)]:
    case(f"trainer.last_complete_checkpoint max_steps={shown}", "number",
         lambda v=v: trainer.last_complete_checkpoint(out_root, v), "max_steps")
    case(f"trainer.checkpoint_problem max_steps={shown}", "number",
         lambda v=v: trainer.checkpoint_problem(out_root / "checkpoint-1", v), "max_steps")
case("trainer.last_complete_checkpoint verbose=1", "type",
     lambda: trainer.last_complete_checkpoint(out_root, verbose=1), "verbose")
case("trainer.checkpoint_problem path=None", "type", lambda: trainer.checkpoint_problem(None), "path")

ds_train = Dataset.from_list([{k: v for k, v in e.items()} for e in enc])


def FT(name, ds=None, resume=True, model=None, **kw):
    m = model or models.build_model("tiny-random-bert", tokenizer=tok)[0]
    args = TA(output_dir=out_root / name, **{"max_steps": 4, "save_steps": 2, "logging_steps": 1, **kw})
    return trainer.fit(trainer.make_trainer(m, args, ds_train if ds is None else ds, tokenizer=tok), resume=resume)


case("trainer.fit empty train set", "empty", lambda: FT("empty", ds=ds_train.select([])), "train_dataset")
case("trainer.fit label 5 >= num_labels", "label",
     lambda: FT("lab5", ds=ds_train.map(lambda r: {"label": 5})), "train_dataset")
case("trainer.fit float labels", "label",
     lambda: FT("labf", ds=Dataset.from_list([{**e, "label": e["label"] + 0.4} for e in enc])), "train_dataset")
case("trainer.fit ids 999 outside vocab", "ids",
     lambda: FT("ids999", ds=Dataset.from_list([{**e, "input_ids": [2, 999, 3], "attention_mask": [1, 1, 1]}
                                                for e in enc])), ["train_dataset", "input_ids", "999"])
case("trainer.fit ids [2, True, 3] (list dataset)", "ids",
     lambda: FT("idsbool", ds=[{**e, "input_ids": [2, True, 3], "attention_mask": [1, 1, 1]} for e in enc]),
     "['input_ids']")
case("trainer.fit ids [2, np.array(True), 3] (list dataset)", "ids",
     lambda: FT("idsnpbool", ds=[{**e, "input_ids": [2, np.array(True), 3], "attention_mask": [1, 1, 1]} for e in enc]),
     "['input_ids']")
case("trainer.fit ids [2, torch.tensor(True), 3] (list dataset)", "ids",
     lambda: FT("idsptbool", ds=[{**e, "input_ids": [2, torch.tensor(True), 3], "attention_mask": [1, 1, 1]}
                                 for e in enc]), "['input_ids']")
case("trainer.fit tensor ids 999 (list dataset)", "ids",
     lambda: FT("idst999", ds=[{**e, "input_ids": torch.tensor([2, 999, 3]), "attention_mask": [1, 1, 1]} for e in enc]),
     ["train_dataset", "input_ids", "999"])
case("trainer.fit np.int64 ids 999 (list dataset)", "ids",
     lambda: FT("idsnp999", ds=[{**e, "input_ids": [np.int64(2), np.int64(999)], "attention_mask": [1, 1]}
                                for e in enc]), ["train_dataset", "input_ids", "999"])
case("trainer.fit uint64 ids (list dataset)", "ids",
     lambda: FT("idsu64", ds=[{**e, "input_ids": np.array(e["input_ids"], dtype=np.uint64)} for e in enc], max_steps=1),
     "input_ids", accepted="valid unsigned ids are ids (range-checked)")
case("trainer.fit np.int64 ids (list dataset)", "ids",
     lambda: FT("idsnp", ds=[{**e, "input_ids": [np.int64(i) for i in e["input_ids"]]} for e in enc], max_steps=1),
     "input_ids", accepted="valid NumPy ids are ids (range-checked)")


def FTE(name, evals):
    m = models.build_model("tiny-random-bert", tokenizer=tok)[0]
    tr_ = trainer.make_trainer(m, TA(output_dir=out_root / name, max_steps=2), ds_train, evals, tokenizer=tok)
    return trainer.fit(tr_)


case("trainer.fit eval_dataset ids 999 (Dataset)", "ids",
     lambda: FTE("ev999", Dataset.from_list([{**e, "input_ids": [2, 999, 3], "attention_mask": [1, 1, 1]} for e in enc])),
     ["eval_dataset", "input_ids", "999"])
case("trainer.fit eval_dataset ids 999 (list)", "ids",
     lambda: FTE("ev999l", [{**e, "input_ids": [2, 999, 3], "attention_mask": [1, 1, 1]} for e in enc]),
     ["eval_dataset", "input_ids", "999"])
case("trainer.fit eval_dataset {'dev': ids -5}", "ids",
     lambda: FTE("ev-5", {"dev": [{**e, "input_ids": [2, -5, 3], "attention_mask": [1, 1, 1]} for e in enc]}),
     ["eval_dataset", "input_ids", "-5"])
case("trainer.fit eval_dataset label 7", "label",
     lambda: FTE("evlab7", [{**e, "label": 7} for e in enc]), ["eval_dataset", "label"])
case("trainer.fit every label -100 (token labels)", "label",
     lambda: FT("all-100", ds=[{"input_ids": e["input_ids"], "attention_mask": e["attention_mask"],
                                "labels": [-100] * len(e["input_ids"])} for e in enc],
                model=models.build_model("tiny-random-bert", "token_classification", tokenizer=tok)[0]),
     "train_dataset['labels']")
case("trainer.fit every label -100 (classification)", "label",
     lambda: FT("all-100c", ds=[{**e, "label": -100} for e in enc]), "train_dataset['label']")
case("trainer.fit token_type_ids 2", "ids",
     lambda: FT("tt2", ds=[{**e, "token_type_ids": [0] + [2] * (len(e["input_ids"]) - 1)} for e in enc]),
     ["token_type_ids", "2"])
case("trainer.fit sequence of 200 > 128 positions", "count",
     lambda: FT("long", ds=[{**e, "input_ids": [5] * 200, "attention_mask": [1] * 200} for e in enc]),
     "input_ids")
case("trainer.fit resume='yes'", "type", lambda: FT("resyes", resume="yes"), "resume")

# a real run with checkpoints, then corrupted copies of its checkpoint
signal.alarm(0)
good = FT("good")
ck = out_root / "good" / "checkpoint-4"
ck2 = out_root / "good" / "checkpoint-2"
assert trainer.checkpoint_problem(ck) is None, trainer.checkpoint_problem(ck)


def bad_ckpt(label, mutate, step=2):
    d = TMP / "ckpts" / label / f"checkpoint-{step}"
    shutil.copytree(ck2, d)
    mutate(d)
    return d


def state_step(v):
    def m(d):
        s = json.loads((d / "trainer_state.json").read_text())
        s["global_step"] = v
        (d / "trainer_state.json").write_text(json.dumps(s))
    return m


CK = {
    "global_step -3": bad_ckpt("gs_neg", state_step(-3)),
    "global_step 10**6": bad_ckpt("gs_big", state_step(10**6)),
    "global_step True": bad_ckpt("gs_bool", state_step(True)),
    "global_step 2.0": bad_ckpt("gs_float", state_step(2.0)),
    "global_step '2'": bad_ckpt("gs_str", state_step("2")),
    "trainer_state.json non-JSON": bad_ckpt("nonjson", lambda d: (d / "trainer_state.json").write_text("{oops")),
    "trainer_state.json a list": bad_ckpt("list", lambda d: (d / "trainer_state.json").write_text("[1]")),
    "no optimizer.pt": bad_ckpt("noopt", lambda d: (d / "optimizer.pt").unlink()),
    "no rng_state.pth": bad_ckpt("norng", lambda d: (d / "rng_state.pth").unlink()),
    "no scheduler.pt": bad_ckpt("nosched", lambda d: (d / "scheduler.pt").unlink()),
    "no trainer_state.json": bad_ckpt("nostate", lambda d: (d / "trainer_state.json").unlink()),
    "truncated optimizer.pt": bad_ckpt("truncopt", lambda d: (d / "optimizer.pt").write_bytes(
        (d / "optimizer.pt").read_bytes()[:200])),
    "random-bytes optimizer.pt": bad_ckpt("randopt", lambda d: (d / "optimizer.pt").write_bytes(rnd.bytes(500))),
    "random-bytes model.safetensors": bad_ckpt("randw", lambda d: (d / "model.safetensors").write_bytes(rnd.bytes(5000))),
    "truncated model.safetensors": bad_ckpt("truncw", lambda d: (d / "model.safetensors").write_bytes(
        (d / "model.safetensors").read_bytes()[:1000])),
    "no model.safetensors": bad_ckpt("now", lambda d: (d / "model.safetensors").unlink()),
    "truncated rng_state.pth": bad_ckpt("truncrng", lambda d: (d / "rng_state.pth").write_bytes(
        (d / "rng_state.pth").read_bytes()[:100])),
}
for label, d in CK.items():
    def problem(d=d):
        p = trainer.checkpoint_problem(d, 4)
        if p is None:
            return None
        raise ValueError(p)  # a reason naming the file counts as CLEAR
    names = [str(d / f) for f in ("trainer_state.json", "optimizer.pt", "rng_state.pth", "scheduler.pt",
                                  "model.safetensors")] + [f"{d} holds no model weights"]
    case(f"trainer.checkpoint_problem {label}", "checkpoint", problem, names)


# fit on a run directory whose newest checkpoint is corrupt: must skip it (message) and resume from the older one
def fit_with_bad_newest(label, mutate):
    run = out_root / f"resume_{label}"
    shutil.copytree(out_root / "good", run)
    shutil.rmtree(run / "checkpoint-4")
    d = run / "checkpoint-2"
    mutate(d)
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        r = FT(f"resume_{label}")
    said = buf.getvalue()
    if r["resumed_from"] is None and "skipping checkpoint-2" in said:
        raise ValueError(said.strip())  # skipped with a message naming the file: CLEAR
    return r, said


for label, mutate in [("gs_neg", state_step(-3)), ("gs_big", state_step(10**6)),
                      ("noopt", lambda d: (d / "optimizer.pt").unlink()),
                      ("norng", lambda d: (d / "rng_state.pth").unlink()),
                      ("truncopt", lambda d: (d / "optimizer.pt").write_bytes((d / "optimizer.pt").read_bytes()[:200])),
                      ("randw", lambda d: (d / "model.safetensors").write_bytes(rnd.bytes(5000)))]:
    case(f"trainer.fit resume, newest checkpoint {label}", "checkpoint", lambda l=label, m=mutate: fit_with_bad_newest(l, m),
         ["optimizer.pt", "rng_state.pth", "trainer_state.json", "model.safetensors"], timeout=60)
case("trainer.fit resume=False on a dir with checkpoints", "path", lambda: FT("good", resume=False), "output_dir")
case("trainer.fit other config in same dir", "path", lambda: FT("good", learning_rate=5e-4), "output_dir")

# ------------------------------------------------------------------ loaders outside build_model (llm, translation)
from companion import llm, translation  # noqa: E402

_target = translation.train_char_tokenizer(["我喜欢茶。", "猫在睡觉。", "我们回家。"])
for label in ["rand_weights", "trunc_weights", "empty_weights", "bad_config", "w_dummy_tensor_only", "w_renamed_keys",
              "w_half_the_tensors", "w_one_tensor_dropped", "w_embedding_of_another_shape"]:
    case(f"translation.build_encoder_decoder pretrained encoder: {label}", "file",
         lambda p=TMP / label: translation.build_encoder_decoder(str(p), _target, num_layers=1, hidden_size=32, num_heads=2,
                                                                 intermediate_size=64), "encoder: ")
_ltok = llm._tokenizer(llm.TINY_LLAMA)
torch.manual_seed(0)
from transformers import LlamaForCausalLM  # noqa: E402

_ldir = TMP / "llama"
LlamaForCausalLM(llm.tiny_llama_config(len(_ltok), bos_token_id=_ltok.bos_token_id,
                                       eos_token_id=_ltok.eos_token_id)).save_pretrained(_ldir)
_ltok.save_pretrained(_ldir)
_lsd = _load_st(_ldir / "model.safetensors")
for label, mutate in [
        ("random bytes", lambda d: (d / "model.safetensors").write_bytes(rnd.bytes(5000))),
        ("truncated", lambda d: (d / "model.safetensors").write_bytes((_ldir / "model.safetensors").read_bytes()[:3000])),
        ("dummy tensor only", lambda d: _save_st({"dummy": torch.zeros(1)}, d / "model.safetensors")),
        ("renamed keys", lambda d: _save_st({k.replace("model.", "transformer."): v for k, v in _lsd.items()},
                                            d / "model.safetensors")),
        ("half the tensors", lambda d: _save_st({k: v for i, (k, v) in enumerate(sorted(_lsd.items())) if i % 2},
                                                d / "model.safetensors")),
        ("non-JSON config.json", lambda d: (d / "config.json").write_text("{not json"))]:
    _p = TMP / ("llama_" + label.replace(" ", "_"))
    shutil.copytree(_ldir, _p)
    mutate(_p)
    case(f"llm.load_causal_lm local folder: {label}", "file", lambda p=_p: llm.load_causal_lm(str(p), device="cpu"),
         ["model.safetensors", "config.json"])
case("llm.load_causal_lm intact local folder", "file", lambda: llm.load_causal_lm(str(_ldir), device="cpu"), [],
     accepted="an intact checkpoint loads")

# ------------------------------------------------------------------ summary
print(f"companion from {companion.__file__}")
shutil.rmtree(TMP, ignore_errors=True)
tally = collections.Counter(o for _, _, o, _ in RESULTS)
by_class = collections.defaultdict(collections.Counter)
for _, k, o, _ in RESULTS:
    by_class[k][o] += 1
print("\nper class:")
for k in sorted(by_class):
    print(f"  {k:11s} " + ", ".join(f"{o} {n}" for o, n in sorted(by_class[k].items())))
print(f"total {len(RESULTS)}: " + ", ".join(f"{o} {n}" for o, n in sorted(tally.items())))
