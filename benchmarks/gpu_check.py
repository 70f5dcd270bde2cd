"""GPU check without the hub: the `gpu` profile's training code path, measured.

Runs exactly what the IMDb case runs in its ``gpu`` profile -- ``companion.data.load_imdb`` on a local
parquet directory, ``companion.data.tokenize`` with head + tail truncation, and
``companion.trainer.training_arguments`` / ``make_trainer`` / ``fit`` -- but with a *randomly
initialised* bert-base-sized model built from its config (the hub is not needed) and the offline
MiniLM tokenizer (the same uncased WordPiece vocabulary as ``bert-base-uncased``). For each precision
it trains a few hundred steps and prints examples/s, tokens/s (non-padding tokens), model FLOPs
utilisation (MFU) against the device's peak, and peak GPU memory; then it finds the largest batch
size (at the profile's max_length) whose peak memory fits a 15 GB Colab T4.

    python benchmarks/gpu_check.py --data-dir ../shared/data/imdb --steps 300
    python benchmarks/gpu_check.py --tiny --steps 3          # CPU smoke test (tests/test_gpu_check.py)

MFU: training FLOPs per token ≈ 6·N + 12·L·d·T (N non-embedding parameters, L layers, d hidden size,
T sequence length; Chowdhery et al. 2022, PaLM, appendix B), divided by the device's peak dense
fp16/bf16 tensor throughput (vendor datasheets; override with --peak-tflops).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from companion import book, data, models, trainer  # noqa: E402

#: The text-classification case's gpu sizes (book/ch08_1_text_classification.ipynb, SIZES["gpu"]).
GPU_MAX_LENGTH, GPU_HEAD_TOKENS, GPU_BATCH_SIZE = 512, 128, 16

# Peak dense fp16/bf16 tensor-core TFLOP/s from vendor datasheets (no sparsity).
PEAK_TFLOPS = {"T4": 65.0, "V100": 125.0, "A10G": 70.0, "A10": 125.0, "L4": 121.0, "A100": 312.0,
               "H100": 989.0, "H200": 989.0, "L40S": 362.0}
T4_BUDGET_GIB = 15.0


class Throughput(TrainerCallback):
    """Times steps after a warm-up and counts the non-padding tokens seen meanwhile."""

    def __init__(self, warmup: int):
        self.warmup, self.t0, self.tokens0, self.t1, self.tokens1, self.steps = warmup, None, 0, None, 0, 0

    def on_step_end(self, args, state, control, **kw):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if state.global_step == self.warmup:
            self.t0, self.tokens0 = time.perf_counter(), state.num_input_tokens_seen
        elif state.global_step > self.warmup:
            self.t1, self.tokens1, self.steps = time.perf_counter(), state.num_input_tokens_seen, state.global_step - self.warmup


def flops_per_token(config: BertConfig, seq_len: int) -> float:
    d, L = config.hidden_size, config.num_hidden_layers
    non_embedding = L * (4 * d * d + 2 * d * config.intermediate_size)
    return 6 * non_embedding + 12 * L * d * seq_len


def peak_tflops(override: float | None) -> float | None:
    if override:
        return override
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    for key in sorted(PEAK_TFLOPS, key=len, reverse=True):
        if key in name:
            return PEAK_TFLOPS[key]
    return None


def run(encoded, tokenizer, config, precision, batch_size, steps, warmup, out_dir):
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    args = trainer.training_arguments(out_dir, learning_rate=2e-5, batch_size=batch_size, max_steps=steps,
                                      precision=precision, logging_steps=max(1, steps // 5),
                                      include_num_input_tokens_seen="non_padding")
    meter = Throughput(warmup)
    run_trainer = trainer.make_trainer(model, args, encoded, tokenizer=tokenizer, callbacks=[meter])
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    result = trainer.fit(run_trainer, resume=False)
    seconds = (meter.t1 - meter.t0) if meter.t1 else result["wall_s"]
    steps_timed = meter.steps or result["steps"]
    tokens = (meter.tokens1 - meter.tokens0) if meter.t1 else run_trainer.state.num_input_tokens_seen
    row = {"precision": precision, "batch_size": batch_size, "steps_timed": steps_timed,
           "examples_per_s": steps_timed * batch_size / seconds, "tokens_per_s": tokens / seconds,
           "final_loss": result["train_loss"]}
    if torch.cuda.is_available():
        row["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
    del run_trainer, model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return row


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="parquet directory with train.parquet/test.parquet "
                        "(default: the committed sample)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20, help="steps excluded from timing")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the gpu profile's")
    parser.add_argument("--precisions", default="fp16,bf16")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--tiny", action="store_true", help="tiny config and fp32: a CPU smoke test")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    book.quiet()
    max_length, head = (64, 16) if args.tiny else (GPU_MAX_LENGTH, GPU_HEAD_TOKENS)
    tokenizer = AutoTokenizer.from_pretrained(models.minilm_path())
    source = args.data_dir or "sample"
    imdb = data.load_imdb(source)
    encoded = data.tokenize(imdb["train"], tokenizer, max_length, head_tokens=head)
    if args.tiny:
        config = models.tiny_bert_config(tokenizer.vocab_size)
        precisions, warmup = ["fp32"], 1
    else:
        config = BertConfig(vocab_size=tokenizer.vocab_size, num_labels=2)  # bert-base: 12 x 768, 110M
        precisions, warmup = args.precisions.split(","), args.warmup
    if args.steps <= warmup:
        parser.error(f"--steps: must exceed the warm-up ({warmup})")
    batch_size = args.batch_size or (8 if args.tiny else GPU_BATCH_SIZE)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU {book.cpu_name()}"
    peak = peak_tflops(args.peak_tflops)
    fpt = flops_per_token(config, max_length)
    print(f"device: {device}; peak {peak or 'unknown'} TFLOP/s; data: {source} ({len(encoded):,} reviews); "
          f"max_length {max_length}, head {head}; model {sum(p.numel() for p in BertForSequenceClassification(config).parameters()) / 1e6:.1f}M "
          f"parameters; {fpt / 1e9:.2f} GFLOP per token")
    results = {"device": device, "peak_tflops": peak, "runs": [], "t4_fit": []}
    with tempfile.TemporaryDirectory() as tmp:
        for precision in precisions:
            if precision == "bf16" and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
                print("bf16: not supported on this device, skipped")
                continue
            row = run(encoded, tokenizer, config, precision, batch_size, args.steps, warmup, tmp)
            if peak:
                row["mfu"] = row["tokens_per_s"] * fpt / (peak * 1e12)
            results["runs"].append(row)
            print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}))
        if torch.cuda.is_available() and not args.tiny:
            precision = "fp16"  # what a T4 runs
            for bs in (64, 48, 32, 24, 16, 8):
                try:
                    row = run(encoded, tokenizer, config, precision, bs, warmup + 5, warmup, tmp)
                except torch.cuda.OutOfMemoryError:
                    torch.cuda.empty_cache()
                    continue
                fits = row["peak_mem_gib"] <= T4_BUDGET_GIB
                results["t4_fit"].append({"batch_size": bs, "peak_mem_gib": round(row["peak_mem_gib"], 2), "fits_15GB": fits})
                print(f"fp16 batch {bs}: peak {row['peak_mem_gib']:.2f} GiB -> {'fits' if fits else 'does not fit'} 15 GB")
                if fits:
                    break
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
