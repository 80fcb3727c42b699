#!/usr/bin/env python3
"""Loads the base model in float32 with the LoRA weights the app's engine starts from (init_adapter/), computes
the loss of the run's first optimizer step (the first batch_size x grad_accumulation rows of data/train.jsonl, the
mean over all their loss tokens), and compares it with the loss the app's engine computed for the same batch
(parity.json). Exits 1 when they differ by more than --tolerance (relative). Not run in CI: py_compile-checked."""
import argparse
import json
import os
import sys

from recipe_lib import HERE, load_recipe, read_jsonl


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest relative difference accepted (float32 on both sides)")
    p.add_argument("--device", default=None, help="default: cuda when there is one, else cpu")
    args = p.parse_args()

    import torch
    import torch.nn.functional as F

    from train import base_model_path, check_versions, load_model

    check_versions()
    recipe = load_recipe()
    with open(os.path.join(HERE, "parity.json"), encoding="utf-8") as f:
        parity = json.load(f)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = load_model(recipe, torch.float32, os.path.join(HERE, "init_adapter"), trainable=False).to(device).eval()
    print(f"base model: {base_model_path(recipe)}")

    batch = recipe["batch"]
    rows = read_jsonl(os.path.join(HERE, "data", "train.jsonl"))[: batch["batch_size"] * batch["grad_accumulation"]]
    total = sum(sum(r["assistant_masks"][1:]) for r in rows)
    loss_sum = 0.0
    hf_loss = 0.0
    for i in range(0, len(rows), batch["batch_size"]):
        micro = rows[i:i + batch["batch_size"]]
        ids = torch.tensor([r["input_ids"] for r in micro], device=device)
        attention = torch.tensor([r.get("attention_mask") or [1] * len(r["input_ids"]) for r in micro], device=device)
        labels = torch.where(torch.tensor([r["assistant_masks"] for r in micro], device=device) == 1, ids, torch.full_like(ids, -100))
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=attention, labels=labels, num_items_in_batch=torch.tensor(total, device=device))
        logits = out.logits.float()
        # logits at t-1 predict the label at t: the app's alignment and HF's
        loss_sum += F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100, reduction="sum").item()
        hf_loss += out.loss.item()  # HF's own loss with num_items_in_batch: what the Trainer sums over micro-batches
    ours = loss_sum / total
    engine = parity.get("engine_loss")
    print(f"loss tokens in the step: {total} (the app's engine: {parity.get('target_tokens')})")
    print(f"first-step loss, PyTorch float32:                {ours:.8f}")
    print(f"first-step loss, HF loss with num_items_in_batch: {hf_loss:.8f}")
    if engine is None:
        print("parity.json holds no engine loss (exported without a GPU): nothing to compare")
        sys.exit(3)
    print(f"first-step loss, ManyICL Workbench engine:       {engine:.8f}")
    worst = max(abs(ours - engine), abs(hf_loss - engine)) / abs(engine)
    print(f"relative difference: {worst:.3e} (tolerance {args.tolerance:.1e})")
    if parity.get("target_tokens") not in (None, total):
        sys.exit("parity: the step's loss tokens differ from the engine's")
    if worst > args.tolerance:
        sys.exit("parity: FAILED")
    print("parity: ok")


if __name__ == "__main__":
    main()
