"""What dynamic padding with length-grouped batches buys, measured in one run.

The source outline's training loop pads every review to 512 tokens. The book's one batching path
(`companion.data.dataloader`) pads each batch only to its own longest review and, for training, groups
reviews of similar length into the same batch (`companion.data.EpochSampler`). This script trains the
same MiniLM classifier on the same IMDb training reviews (max_length 512, forward + backward + AdamW
step) both ways and prints the examples per second of each and their ratio. It also checks that padding
never changes the result: each review's loss is the same padded to 512 and unpadded (<= 1e-5).

    python benchmarks/padding.py            # 512 reviews, batch 16: about 15 minutes on 2 CPU cores
    python benchmarks/padding.py --n 64     # a quick look

The ratio of real tokens is printed too (the padded loop processes 512 tokens per review; the other
about the batch's longest review): attention's cost grows faster than linearly with the length, so the
time ratio can exceed the token ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from transformers import DataCollatorWithPadding

from companion import book, data, models, optimizers


def per_example_losses(model, rows, collator, pad_to=None):
    """Loss of each example on its own (unpadded) or inside a batch padded to ``pad_to`` tokens."""
    model.eval()
    with torch.no_grad():
        if pad_to is None:
            out = [F.cross_entropy(model(**{k: v for k, v in collator([r]).items() if k != "labels"}).logits,
                                   torch.tensor([r["label"]])).item() for r in rows]
        else:
            batch = collator.tokenizer.pad([{k: v for k, v in r.items() if k != "label"} for r in rows],
                                           padding="max_length", max_length=pad_to, return_tensors="pt")
            logits = model(**batch).logits
            out = F.cross_entropy(logits, torch.tensor([r["label"] for r in rows]), reduction="none").tolist()
    return np.array(out)


def train_rate(model, loader, n_examples):
    """Examples per second of forward + backward + optimiser step over one pass of ``loader``."""
    optimizer = torch.optim.AdamW(optimizers.param_groups(model, 0.01), lr=1e-5)
    model.train()
    start, tokens, padded = time.perf_counter(), 0, 0
    for batch in loader:
        labels = batch.pop("labels")
        loss = F.cross_entropy(model(**batch).logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
        padded += batch["input_ids"].numel()
    return n_examples / (time.perf_counter() - start), tokens, padded


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=512, help="training reviews (default 512)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args(argv)
    book.quiet()
    torch.manual_seed(0)
    imdb = data.load_imdb("sample", train_size=args.n, validation_size=None, test_size=None, seed=0)
    model, tokenizer = models.build_model("minilm", seed=0)
    tds = data.tokenize(imdb["train"], tokenizer, args.max_length)
    keep = [k for k in tds.column_names if k in ("input_ids", "attention_mask", "token_type_ids", "label")]
    rows = [{k: tds[i][k] for k in keep} for i in range(len(tds))]
    collator = DataCollatorWithPadding(tokenizer)

    # 1. padding never changes the result
    check = sorted(rows, key=lambda r: len(r["input_ids"]))[:8]  # the shortest: padded the most
    diff = np.abs(per_example_losses(model, check, collator) -
                  per_example_losses(model, check, collator, pad_to=args.max_length)).max()
    print(f"max |loss unpadded - loss padded to {args.max_length}| over {len(check)} reviews: {diff:.2e}")
    assert diff <= 1e-5, "padding changed a loss"

    # 2. the outline's loop: every review padded to max_length, in dataset order
    def pad_all(batch_rows):
        batch = tokenizer.pad([{k: v for k, v in r.items() if k != "label"} for r in batch_rows],
                              padding="max_length", max_length=args.max_length, return_tensors="pt")
        batch["labels"] = torch.tensor([r["label"] for r in batch_rows])
        return batch

    fixed = torch.utils.data.DataLoader(rows, batch_size=args.batch_size, collate_fn=pad_all)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    train_rate(model, [pad_all(rows[:args.batch_size])], args.batch_size)  # warm-up: one-time costs out of the timing
    model.load_state_dict(state)
    rate_fixed, tok_fixed, pad_fixed = train_rate(model, fixed, len(rows))

    # 3. the book's path: dynamic padding, length-grouped batches
    model.load_state_dict(state)
    dynamic = data.dataloader(tds, tokenizer, args.batch_size, shuffle=True, group_by_length=True, seed=0)
    rate_dynamic, tok_dynamic, pad_dynamic = train_rate(model, dynamic, len(rows))

    print(f"reviews: {len(rows)}, batch size {args.batch_size}, max_length {args.max_length}, "
          f"{torch.get_num_threads()} torch threads")
    print(f"padded to {args.max_length}:             {rate_fixed:6.2f} examples/s  ({pad_fixed:,} token positions)")
    print(f"dynamic, length-grouped: {rate_dynamic:6.2f} examples/s  ({pad_dynamic:,} token positions)")
    print(f"token positions ratio: {pad_fixed / pad_dynamic:.2f}x (real tokens {tok_dynamic:,})")
    print(f"speed-up (examples/s ratio): {rate_dynamic / rate_fixed:.2f}x")


if __name__ == "__main__":
    main()
