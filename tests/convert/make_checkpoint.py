#!/usr/bin/python3
"""Writes a small Hugging Face checkpoint with random weights for one
architecture: safetensors shards (with model.safetensors.index.json when
there are several), config.json, generation_config.json and the tokenizer
files given (a SentencePiece tokenizer.model, or the folder of a real
tokenizer.json + tokenizer_config.json).

Usage: make_checkpoint.py ARCH OUT --dtype bf16|f16|f32 [--spm FILE | --tokenizer DIR]
                          [--shards N] [--seed S] [--vocab N] [--dims HIDDEN,LAYERS,FF,HEADS,KV]
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

DT = {"f32": ("F32", np.float32, 4), "f16": ("F16", np.float16, 2), "bf16": ("BF16", None, 2)}


def to_bytes(a, dtype):
    name, np_type, _ = DT[dtype]
    a = a.astype(np.float32)
    if dtype == "bf16":
        u = a.view(np.uint32).astype(np.uint64)
        u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
        return u.tobytes()
    return a.astype(np_type).tobytes()


def write_safetensors(path, tensors, dtype):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, a in tensors:
        b = to_bytes(a, dtype)
        header[name] = {"dtype": DT[dtype][0], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def model(arch, vocab, rng, dims):
    hidden, layers, ff, heads, kv = dims
    head_dim = 2 * hidden // heads if arch in ("qwen3", "qwen3moe", "gemma2", "gemma3") else hidden // heads
    cfg = {"hidden_size": hidden, "intermediate_size": ff, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv, "max_position_embeddings": 4096,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": vocab, "torch_dtype": "bfloat16"}
    classes = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM",
               "qwen3moe": "Qwen3MoeForCausalLM", "gemma2": "Gemma2ForCausalLM",
               "gemma3": "Gemma3ForCausalLM", "phi3": "Phi3ForCausalLM"}
    cfg["architectures"] = [classes[arch]]
    cfg["model_type"] = arch
    if head_dim != hidden // heads:
        cfg["head_dim"] = head_dim
    w = lambda *shape: rng.standard_normal(size=shape, dtype=np.float32) * np.float32(0.05)
    norm = lambda n: np.float32(1.0) + rng.standard_normal(size=(n,), dtype=np.float32) * np.float32(0.05)
    t = [("model.embed_tokens.weight", w(vocab, hidden)), ("model.norm.weight", norm(hidden))]
    tied = arch in ("qwen2", "gemma2", "gemma3")
    cfg["tie_word_embeddings"] = tied
    if not tied:
        t.append(("lm_head.weight", w(vocab, hidden)))
    if arch == "gemma2":
        cfg.update({"sliding_window": 4096, "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
                    "query_pre_attn_scalar": head_dim, "rms_norm_eps": 1e-6})
    if arch == "gemma3":
        cfg.update({"sliding_window": 512, "sliding_window_pattern": 6, "rope_local_base_freq": 10000.0,
                    "rope_theta": 1000000.0, "query_pre_attn_scalar": head_dim, "rms_norm_eps": 1e-6,
                    "final_logit_softcapping": None, "attn_logit_softcapping": None})
    if arch == "phi3":
        cfg.update({"original_max_position_embeddings": 4096, "sliding_window": 2047})
    if arch == "qwen3moe":
        cfg.update({"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
                    "norm_topk_prob": True, "decoder_sparse_step": 1, "mlp_only_layers": []})
    for i in range(layers):
        p = f"model.layers.{i}."
        t.append((p + "input_layernorm.weight", norm(hidden)))
        if arch == "phi3":
            t.append((p + "self_attn.qkv_proj.weight", w((heads + 2 * kv) * head_dim, hidden)))
        else:
            t += [(p + "self_attn.q_proj.weight", w(heads * head_dim, hidden)),
                  (p + "self_attn.k_proj.weight", w(kv * head_dim, hidden)),
                  (p + "self_attn.v_proj.weight", w(kv * head_dim, hidden))]
        if arch == "qwen2":
            t += [(p + "self_attn.q_proj.bias", w(heads * head_dim)),
                  (p + "self_attn.k_proj.bias", w(kv * head_dim)),
                  (p + "self_attn.v_proj.bias", w(kv * head_dim))]
        if arch in ("qwen3", "qwen3moe", "gemma3"):
            t += [(p + "self_attn.q_norm.weight", norm(head_dim)), (p + "self_attn.k_norm.weight", norm(head_dim))]
        t.append((p + "self_attn.o_proj.weight", w(hidden, heads * head_dim)))
        t.append((p + "post_attention_layernorm.weight", norm(hidden)))
        if arch in ("gemma2", "gemma3"):
            t += [(p + "pre_feedforward_layernorm.weight", norm(hidden)),
                  (p + "post_feedforward_layernorm.weight", norm(hidden))]
        if arch == "phi3":
            t += [(p + "mlp.gate_up_proj.weight", w(2 * ff, hidden)), (p + "mlp.down_proj.weight", w(hidden, ff))]
        elif arch == "qwen3moe":
            t.append((p + "mlp.gate.weight", w(4, hidden)))
            for x in range(4):
                e = p + f"mlp.experts.{x}."
                t += [(e + "gate_proj.weight", w(32, hidden)), (e + "up_proj.weight", w(32, hidden)),
                      (e + "down_proj.weight", w(hidden, 32))]
        else:
            t += [(p + "mlp.gate_proj.weight", w(ff, hidden)), (p + "mlp.up_proj.weight", w(ff, hidden)),
                  (p + "mlp.down_proj.weight", w(hidden, ff))]
    return cfg, t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("arch")
    ap.add_argument("out")
    ap.add_argument("--dtype", default="bf16", choices=sorted(DT))
    ap.add_argument("--spm")
    ap.add_argument("--tokenizer")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vocab", type=int)
    ap.add_argument("--dims", default="64,2,128,4,2", help="hidden,layers,ff,heads,kv_heads")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    special = {}
    if a.spm:
        shutil.copy(a.spm, os.path.join(a.out, "tokenizer.model"))
        import sentencepiece
        sp = sentencepiece.SentencePieceProcessor(model_file=a.spm)
        n = sp.vocab_size()
        # Tokens added after training (as Phi-3 and chat fine-tunes have),
        # and padding rows to a rounder vocabulary size.
        added = {"<|endoftext|>": n, "<|end|>": n + 1, "<tool>": n + 2}
        vocab = a.vocab or n + 8
        special = {"bos_token_id": sp.bos_id(), "eos_token_id": sp.eos_id()}
        with open(os.path.join(a.out, "added_tokens.json"), "w") as f:
            json.dump(added, f, indent=2)
        tc = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
              "unk_token": "<unk>", "tokenizer_class": "LlamaTokenizer",
              "added_tokens_decoder": {str(i): {"content": t, "special": t.startswith("<|"), "normalized": False,
                                                 "lstrip": False, "rstrip": False, "single_word": False}
                                       for t, i in added.items()},
              "chat_template": "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
                               "{% if add_generation_prompt %}<|assistant|>{% endif %}"}
        with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
            json.dump(tc, f, indent=2)
    else:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(a.tokenizer, name), os.path.join(a.out, name))
        with open(os.path.join(a.tokenizer, "tokenizer.json")) as f:
            tj = json.load(f)
        ids = list(tj["model"]["vocab"].values()) + [t["id"] for t in tj["added_tokens"]]
        vocab = a.vocab or max(ids) + 1
        with open(os.path.join(a.tokenizer, "tokenizer_config.json")) as f:
            tc = json.load(f)
        byid = {t["content"]: t["id"] for t in tj["added_tokens"]}
        for k in ("bos", "eos"):
            v = tc.get(k + "_token")
            v = v.get("content") if isinstance(v, dict) else v
            if v in byid:
                special[k + "_token_id"] = byid[v]
    cfg, tensors = model(a.arch, vocab, rng, [int(x) for x in a.dims.split(",")])
    cfg.update(special)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump({**special, "do_sample": False}, f, indent=2)
    if a.shards == 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), tensors, a.dtype)
        return
    per = (len(tensors) + a.shards - 1) // a.shards
    weight_map, total = {}, 0
    for s in range(a.shards):
        part = tensors[s * per:(s + 1) * per]
        name = f"model-{s + 1:05d}-of-{a.shards:05d}.safetensors"
        write_safetensors(os.path.join(a.out, name), part, a.dtype)
        for n, arr in part:
            weight_map[n] = name
            total += arr.size * DT[a.dtype][2]
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


if __name__ == "__main__":
    main()
