"""The torch-free parts of a ManyICL Workbench recipe: its settings, data files, learning-rate schedule, answer
parsing and metrics. The metrics mirror the app's (src/eval/squad.ts, rouge.ts, gsm8k.ts, metrics.ts)."""
import json
import math
import os
import re
import string
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))


def load_recipe(folder=HERE):
    with open(os.path.join(folder, "recipe.json"), encoding="utf-8") as f:
        return json.load(f)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def learning_rate(step, lr, warmup_steps, min_lr_ratio, steps):
    """The app's schedule (src/train/schedule.ts), step 1-based: linear warmup, then cosine to lr * min_lr_ratio."""
    if warmup_steps > 0 and step <= warmup_steps:
        return lr * step / warmup_steps
    decay_steps = max(1, steps - warmup_steps)
    progress = min(1.0, max(0.0, (step - warmup_steps) / decay_steps))
    low = lr * min_lr_ratio
    return low + 0.5 * (lr - low) * (1 + math.cos(math.pi * progress))


def lr_factor(recipe):
    """For torch's LambdaLR, which asks for the factor of scheduler step k (0 before the first optimizer step)."""
    s = recipe["schedule"]
    lr = recipe["optimizer"]["lr"]
    return lambda k: learning_rate(k + 1, lr, s["warmup_steps"], s["min_lr_ratio"], s["steps"]) / lr


def parse_answer(prefix, end, generated):
    """src/data/templates.ts parseAnswer: drop the template's text before the answer, cut at the text after it."""
    text = generated
    if prefix and text.startswith(prefix):
        text = text[len(prefix):]
    if end:
        at = text.find(end)
        if at >= 0:
            text = text[:at]
    return text.strip()


# SQuAD v1.1 (evaluate-v1.1.py)

def normalize_answer(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def squad_exact_match(prediction, truth):
    return 1.0 if normalize_answer(prediction) == normalize_answer(truth) else 0.0


def squad_f1(prediction, truth):
    p = normalize_answer(prediction).split()
    t = normalize_answer(truth).split()
    same = sum((Counter(p) & Counter(t)).values())
    if same == 0:
        return 0.0
    precision = same / len(p)
    recall = same / len(t)
    return 2 * precision * recall / (precision + recall)


# ROUGE as rouge_score computes it without a stemmer

def rouge_tokenize(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def _fmeasure(precision, recall):
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(target, prediction, n):
    t = _ngrams(target, n)
    p = _ngrams(prediction, n)
    overlap = sum(min(c, p[g]) for g, c in t.items())
    return _fmeasure(overlap / max(len(prediction) - n + 1, 1), overlap / max(len(target) - n + 1, 1))


def _lcs_table(ref, can):
    table = [[0] * (len(can) + 1) for _ in range(len(ref) + 1)]
    for i in range(1, len(ref) + 1):
        for j in range(1, len(can) + 1):
            table[i][j] = table[i - 1][j - 1] + 1 if ref[i - 1] == can[j - 1] else max(table[i - 1][j], table[i][j - 1])
    return table


def rouge_l(target, prediction):
    if not target or not prediction:
        return 0.0
    lcs = _lcs_table(target, prediction)[-1][-1]
    return _fmeasure(lcs / len(prediction), lcs / len(target))


def _lcs_indices(ref, can):
    table = _lcs_table(ref, can)
    i, j, out = len(ref), len(can), []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.append(i - 1)
            i -= 1
            j -= 1
        elif table[i][j - 1] > table[i - 1][j]:
            j -= 1
        else:
            i -= 1
    return out[::-1]


def rouge_lsum(target_sents, prediction_sents):
    if not target_sents or not prediction_sents:
        return 0.0
    m = sum(len(s) for s in target_sents)
    n = sum(len(s) for s in prediction_sents)
    if m == 0 or n == 0:
        return 0.0
    t_counts = Counter(tok for s in target_sents for tok in s)
    p_counts = Counter(tok for s in prediction_sents for tok in s)
    hits = 0
    for ref in target_sents:
        union = set()
        for can in prediction_sents:
            union.update(_lcs_indices(ref, can))
        for index in sorted(union):
            token = ref[index]
            if p_counts[token] > 0 and t_counts[token] > 0:
                hits += 1
                p_counts[token] -= 1
                t_counts[token] -= 1
    return _fmeasure(hits / n, hits / m)


def rouge_scores(target, prediction):
    t, p = rouge_tokenize(target), rouge_tokenize(prediction)
    sents = lambda text: [rouge_tokenize(s) for s in text.split("\n") if s]
    return {
        "rouge1": rouge_n(t, p, 1),
        "rouge2": rouge_n(t, p, 2),
        "rougeL": rouge_l(t, p),
        "rougeLsum": rouge_lsum(sents(target), sents(prediction)),
    }


# GSM8K: the final number, with lm-evaluation-harness's flexible-extract pattern

_NUMBER = re.compile(r"-?[$0-9.,]{2,}|-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")


def last_number(text):
    matches = _NUMBER.findall(text)
    if not matches:
        return None
    cleaned = re.sub(r"[,$]", "", matches[-1])
    if cleaned.endswith("."):
        cleaned = cleaned[:-1]
    return float(cleaned) if _DECIMAL.fullmatch(cleaned) else None


def gsm8k_exact_match(prediction, reference):
    p, r = last_number(prediction), last_number(reference)
    return 1.0 if p is not None and r is not None and p == r else 0.0


def score(metric, prediction, references):
    """The named metric's fields, each the maximum over the references (src/eval/metrics.ts score)."""
    if not references:
        raise ValueError("no references to score against")
    best = lambda f: max(f(r) for r in references)
    if metric == "accuracy":
        return {"accuracy": best(lambda r: squad_exact_match(prediction, r))}
    if metric == "squad":
        return {"exact_match": best(lambda r: squad_exact_match(prediction, r)), "f1": best(lambda r: squad_f1(prediction, r))}
    if metric == "rouge":
        scores = [rouge_scores(r, prediction) for r in references]
        return {k: max(s[k] for s in scores) for k in ("rouge1", "rouge2", "rougeL", "rougeLsum")}
    if metric == "gsm8k":
        return {"exact_match": best(lambda r: gsm8k_exact_match(prediction, r))}
    raise ValueError(f"unknown metric {metric}")
