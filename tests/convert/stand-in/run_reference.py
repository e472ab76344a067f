"""Runs llama.cpp's convert_hf_to_gguf.py on Debian 12's torch 1.13, which
lacks the float8 and unsigned dtype names the converter's tables mention:
they are given placeholder objects no tensor ever has.

With HANGAR_REFERENCE_SPM_VOCAB=1, architectures whose converter class reads
only tokenizer.json through transformers (Qwen2-MoE and Qwen3-MoE) read
tokenizer.model instead, as the dense Qwen classes do; tensors and
hyper-parameters are the converter's own.

Usage: run_reference.py CONVERT_HF_TO_GGUF.PY ARGS..."""
import os
import runpy
import sys

import torch

for name in ("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
             "uint16", "uint32", "uint64"):
    if not hasattr(torch, name):
        setattr(torch, name, type(name, (), {})())

script = sys.argv[1]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
sys.argv = sys.argv[1:]
if os.environ.get("HANGAR_REFERENCE_SPM_VOCAB") == "1":
    import conversion.qwen as qwen
    qwen.Qwen2MoeModel.set_vocab = qwen.Qwen2Model.set_vocab
    qwen.Qwen3MoeModel.set_vocab = qwen.Qwen2Model.set_vocab
runpy.run_path(script, run_name="__main__")
