# A float64 numpy Llama forward (no torch) of a recipe's model/ on the first step's rows of data/train.jsonl, with
# HF's label shift and the mean over the step's loss tokens; for the export-recipe GPU test (init_adapter has B = 0).
import json, struct, numpy as np, sys
d = sys.argv[1]
cfg = json.load(open(f"{d}/model/config.json"))
raw = open(f"{d}/model/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]; hdr = json.loads(raw[8:8+n]); W = {}
for k, v in hdr.items():
    if k == "__metadata__": continue
    a, b = v["data_offsets"]; W[k] = np.frombuffer(raw[8+n+a:8+n+b], dtype=np.float32).reshape(v["shape"]).astype(np.float64)
H, KV, hd, eps, theta = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["rms_norm_eps"], cfg["rope_theta"]
def rms(x, w): return x / np.sqrt((x*x).mean(-1, keepdims=True) + eps) * w
def rope(x, T):
    inv = 1.0 / theta ** (np.arange(0, hd, 2) / hd); f = np.outer(np.arange(T), inv); emb = np.concatenate([f, f], -1)
    cos, sin = np.cos(emb), np.sin(emb); x1, x2 = x[..., :hd//2], x[..., hd//2:]
    return x * cos + np.concatenate([-x2, x1], -1) * sin
def forward(ids):
    T = len(ids); x = W["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."; h = rms(x, W[p+"input_layernorm.weight"])
        q = (h @ W[p+"self_attn.q_proj.weight"].T).reshape(T, H, hd).transpose(1, 0, 2)
        k = (h @ W[p+"self_attn.k_proj.weight"].T).reshape(T, KV, hd).transpose(1, 0, 2)
        v = (h @ W[p+"self_attn.v_proj.weight"].T).reshape(T, KV, hd).transpose(1, 0, 2)
        q, k = rope(q, T), rope(k, T); k = np.repeat(k, H//KV, 0); v = np.repeat(v, H//KV, 0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd); s = s + np.triu(np.full((T, T), -np.inf), 1)
        s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
        x = x + (s @ v).transpose(1, 0, 2).reshape(T, H*hd) @ W[p+"self_attn.o_proj.weight"].T
        h = rms(x, W[p+"post_attention_layernorm.weight"]); g = h @ W[p+"mlp.gate_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * (h @ W[p+"mlp.up_proj.weight"].T)) @ W[p+"mlp.down_proj.weight"].T
    return rms(x, W["model.norm.weight"]) @ W.get("lm_head.weight", W["model.embed_tokens.weight"]).T
rec = json.load(open(f"{d}/recipe.json")); par = json.load(open(f"{d}/parity.json"))
rows = [json.loads(l) for l in open(f"{d}/data/train.jsonl")][: rec["batch"]["batch_size"] * rec["batch"]["grad_accumulation"]]
tot, cnt = 0.0, 0
for r in rows:
    ids = np.array(r["input_ids"]); logits = forward(ids)
    labels = np.where(np.array(r["assistant_masks"]) == 1, ids, -100)
    lg, lb = logits[:-1], labels[1:]  # HF shift
    m = lb != -100; lse = np.log(np.exp(lg - lg.max(-1, keepdims=True)).sum(-1)) + lg.max(-1)
    tot += (lse[m] - lg[m, lb[m]]).sum(); cnt += m.sum()
print(json.dumps({"loss": tot / cnt, "tokens": int(cnt)}))
