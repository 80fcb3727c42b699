#!/usr/bin/env python3
"""Trains the run this folder was exported from (ManyICL Workbench) with transformers + PEFT + TRL's SFTTrainer:
the same packed contexts in the same order, the same loss tokens, LoRA settings and initial LoRA weights, AdamW,
schedule, clipping and loss normalisation. See README.md for the commands. Not run in CI: py_compile-checked."""
import argparse
import json
import os
import sys

from recipe_lib import HERE, load_recipe, lr_factor, parse_answer, read_jsonl, score

# The versions this script was written against are in README.md; these are the oldest it can work with.
MINIMUM = {
    "torch": "2.4.0",
    "transformers": "4.46.0",  # the Trainer passes num_items_in_batch: loss over the step's total target tokens
    "peft": "0.13.0",
    "trl": "0.20.0",  # SFTConfig's completion_only_loss and assistant_only_loss, SFTTrainer(processing_class=)
    "accelerate": "1.0.0",
    "datasets": "2.20.0",
}


def check_versions():
    from importlib.metadata import PackageNotFoundError, version

    from packaging.version import Version

    problems = []
    for name, minimum in MINIMUM.items():
        try:
            found = version(name)
        except PackageNotFoundError:
            problems.append(f"{name} is not installed (need >= {minimum})")
            continue
        if Version(found) < Version(minimum):
            problems.append(f"{name} {found} is too old (need >= {minimum})")
    if problems:
        sys.exit("train.py: " + "; ".join(problems) + ". Install the versions README.md names.")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--output-dir", default=os.path.join(HERE, "output"))
    p.add_argument("--per-device-batch-size", type=int, default=None,
                   help="default: the run's batch size on one process; accumulation makes up the rest of the step")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--eval", action="store_true", help="score data/test.jsonl with the app's metrics after training")
    p.add_argument("--eval-only", metavar="ADAPTER", help="skip training; score this saved adapter")
    return p.parse_args()


def base_model_path(recipe):
    base = recipe["base_model"]
    return base["hub_repo"] if base.get("hub_repo") else os.path.join(HERE, base["path"])


def load_model(recipe, dtype, adapter, trainable):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_model_path(recipe), torch_dtype=dtype, attn_implementation="sdpa")
    model = PeftModel.from_pretrained(model, adapter, is_trainable=trainable)
    if trainable:
        check_lora_config(model.peft_config["default"], recipe)
        for name, param in model.named_parameters():
            if "lora_" in name and param.dtype != torch.float32:
                param.data = param.data.float()  # LoRA weights and their AdamW state stay f32, as in the app
    return model


def check_lora_config(loaded, recipe):
    """init_adapter/adapter_config.json must describe the run's LoraConfig."""
    from peft import LoraConfig

    lora = recipe["lora"]
    expected = LoraConfig(r=lora["r"], lora_alpha=lora["lora_alpha"], target_modules=lora["target_modules"],
                          lora_dropout=0.0, init_lora_weights=True, use_rslora=lora["use_rslora"], bias="none",
                          task_type="CAUSAL_LM")
    for field in ("r", "lora_alpha", "lora_dropout", "use_rslora", "bias"):
        if getattr(loaded, field) != getattr(expected, field):
            sys.exit(f"train.py: init_adapter has {field}={getattr(loaded, field)!r}, the run has {getattr(expected, field)!r}")
    if set(loaded.target_modules) != set(expected.target_modules):
        sys.exit(f"train.py: init_adapter targets {sorted(loaded.target_modules)}, the run {sorted(expected.target_modules)}")


class RecipeCollator:
    """Rows of data/train.jsonl as a batch: labels are input_ids where assistant_masks is 1, else -100; the model
    shifts them (logits at t-1 predict the label at t), as the app's engine does."""

    def __init__(self, pad_id):
        self.pad_id = pad_id

    def __call__(self, rows):
        import torch

        length = max(len(r["input_ids"]) for r in rows)
        ids, mask, labels = [], [], []
        for r in rows:
            pad = length - len(r["input_ids"])
            attention = r.get("attention_mask") or [1] * len(r["input_ids"])
            ids.append(r["input_ids"] + [self.pad_id] * pad)
            mask.append(attention + [0] * pad)
            labels.append([t if m == 1 else -100 for t, m in zip(r["input_ids"], r["assistant_masks"])] + [-100] * pad)
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}


def train(args, recipe):
    import torch
    from datasets import Dataset
    from torch.utils.data import SequentialSampler
    from transformers import AutoTokenizer, set_seed
    from trl import SFTConfig, SFTTrainer

    set_seed(recipe["seed"])
    world = int(os.environ.get("WORLD_SIZE", "1"))
    batch = recipe["batch"]
    per_step = batch["batch_size"] * batch["grad_accumulation"]
    per_device = args.per_device_batch_size or max(1, batch["batch_size"] // world)
    if per_step % (per_device * world) != 0:
        sys.exit(f"train.py: a step of the run is {per_step} contexts; {world} process(es) x {per_device} per device does not divide it")
    accumulation = per_step // (per_device * world)

    dtype = torch.bfloat16 if args.bf16 else torch.float32
    model = load_model(recipe, dtype, os.path.join(HERE, "init_adapter"), trainable=True)
    tokenizer = AutoTokenizer.from_pretrained(base_model_path(recipe))
    rows = read_jsonl(os.path.join(HERE, "data", "train.jsonl"))
    if len(rows) < per_step * recipe["schedule"]["steps"]:
        sys.exit(f"train.py: data/train.jsonl has {len(rows)} rows, the run needs {per_step * recipe['schedule']['steps']}")
    for r in rows:
        r.setdefault("attention_mask", [1] * len(r["input_ids"]))
    dataset = Dataset.from_list([{k: r[k] for k in ("input_ids", "assistant_masks", "attention_mask")} for r in rows])

    opt = recipe["optimizer"]
    # Every LoRA tensor is decayed, as the app's AdamW does (no bias or norm weights are trained).
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=opt["lr"], betas=tuple(opt["betas"]), eps=opt["eps"], weight_decay=opt["weight_decay"])
    # The app's schedule exactly: transformers' cosine_with_min_lr counts steps from 0, one step behind it.
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(recipe))

    config = SFTConfig(
        output_dir=args.output_dir,
        max_steps=recipe["schedule"]["steps"],
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accumulation,
        learning_rate=opt["lr"],
        weight_decay=opt["weight_decay"],
        adam_beta1=opt["betas"][0],
        adam_beta2=opt["betas"][1],
        adam_epsilon=opt["eps"],
        max_grad_norm=opt["max_grad_norm"],  # 0: no clipping, in both
        bf16=args.bf16,
        gradient_checkpointing=args.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        seed=recipe["seed"],
        data_seed=recipe["seed"],
        packing=False,
        completion_only_loss=False,  # the loss tokens come from assistant_masks, through RecipeCollator's labels
        assistant_only_loss=False,
        max_length=None,
        dataset_kwargs={"skip_prepare_dataset": True},
        remove_unused_columns=False,
        average_tokens_across_devices=True,
        dataloader_drop_last=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
    )

    class RecipeTrainer(SFTTrainer):
        def _get_train_sampler(self, *unused, **also_unused):
            return SequentialSampler(self.train_dataset)  # the app's order: row i is the i-th context

    trainer = RecipeTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                            data_collator=RecipeCollator(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else recipe["pad_token_id"]),
                            optimizers=(optimizer, scheduler))
    if not trainer.model_accepts_loss_kwargs:
        sys.exit("train.py: this transformers does not pass num_items_in_batch to the model: the loss would not be normalised by the step's target tokens")
    trainer.train()
    adapter = os.path.join(args.output_dir, "adapter")
    if trainer.is_fsdp_enabled:
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(adapter)  # PeftModel.save_pretrained: adapter_config.json + adapter_model.safetensors
    if trainer.is_world_process_zero():
        with open(os.path.join(args.output_dir, "log_history.json"), "w", encoding="utf-8") as f:
            json.dump(trainer.state.log_history, f, indent=2)
    return adapter, trainer.is_world_process_zero()


def evaluate(recipe, adapter, output_dir):
    import torch
    from transformers import AutoTokenizer

    rows = read_jsonl(os.path.join(HERE, "data", "test.jsonl"))
    if not rows:
        print("data/test.jsonl is empty: the run holds out no test split")
        return
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_model(recipe, torch.float32, adapter, trainable=False).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(base_model_path(recipe))
    eos = tokenizer.eos_token_id
    groups, predictions = {}, []
    for row in rows:
        ids = torch.tensor([row["prompt_ids"]], device=device)
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=row["max_new_tokens"],
                                 do_sample=False, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id or eos)
        text = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        prediction = parse_answer(row["answer_prefix"], row["answer_end"], text)
        scores = score(row["metric"], prediction, [row["reference"]])
        groups.setdefault((row["task"], row["shots"]), []).append(scores)
        predictions.append({**{k: row[k] for k in ("task", "shots", "example_id", "reference")}, "prediction": prediction, "scores": scores})
    results = []
    for (task, shots), scores in groups.items():
        mean = {k: sum(s[k] for s in scores) / len(scores) for k in scores[0]}
        results.append({"task": task, "shots": shots, "examples": len(scores), "scores": mean})
        print(f"{task:24s} {shots:4d} shots  " + "  ".join(f"{k} {v:.4f}" for k, v in mean.items()))
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "eval.json"), "w", encoding="utf-8") as f:
        json.dump({"results": results, "predictions": predictions}, f, indent=2)


def main():
    args = parse_args()
    check_versions()
    recipe = load_recipe()
    if args.eval_only:
        evaluate(recipe, args.eval_only, args.output_dir)
        return
    adapter, main_process = train(args, recipe)
    if args.eval and main_process:
        evaluate(recipe, adapter, args.output_dir)


if __name__ == "__main__":
    main()
