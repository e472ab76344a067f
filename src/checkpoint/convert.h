// ConvertCheckpoint: a Hugging Face checkpoint (safetensors + config +
// tokenizer files) written as a GGUF file that llama.cpp loads, with the
// tensors, hyper-parameters and vocabulary llama.cpp's own converter
// (convert_hf_to_gguf.py of the pinned llama.cpp) writes for the same input.
//
// Architectures: llama (LlamaForCausalLM, MistralForCausalLM; Q/K rows
// permuted for llama.cpp's RoPE layout), qwen2, qwen3, qwen3moe (experts
// stacked), gemma2, gemma3 (text; norms shifted by 1, embeddings cut to the
// vocabulary), phi3 (fused QKV, long-context RoPE factors). Tokenizers:
// SentencePiece (`tokenizer.model`: pieces, scores, types) or byte-level BPE
// (`tokenizer.json`: vocabulary, merges, added and special tokens, and the
// pre-tokenizer llama.cpp needs, recognised from its regular expressions).
// Anything else (an unknown architecture, pre-tokenizer, dtype or tensor) is
// refused by name: never a silent default.
//
// Tensor types: F32 for 1-D tensors, norms and the MoE router (as llama.cpp
// expects); the rest in the output type: "f32", "f16", "bf16" or "auto" (the
// dtype of the checkpoint's first matrix: BF16 stays BF16, else F16). Values
// are converted with round-to-nearest-even; F16→F16, BF16→BF16 and F32→F32
// are bit-exact copies.
//
// Streaming: tensors are read a few MiB at a time and written straight to
// `<out>.partial`, renamed to `out` when complete (gguf/writer.h), so memory
// stays far below the model's size and a failure leaves nothing at `out`.
//
// Plain functions: thread-safe for different outputs.
#ifndef HANGAR_CHECKPOINT_CONVERT_H_
#define HANGAR_CHECKPOINT_CONVERT_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "checkpoint/hf_checkpoint.h"
#include "core/status.h"

namespace hangar::checkpoint {

struct ConvertOptions {
  std::string type = "auto";        // auto | f32 | f16 | bf16
  std::string name;                 // general.name; empty: the checkpoint folder's name
  // Called after each chunk written with (bytes done, bytes in all); a
  // non-OK answer (Cancelled) stops the conversion and removes the partial file.
  std::function<Status(uint64_t done, uint64_t total)> progress;
};

// What a conversion will write, known before a byte of weights is read.
struct ConvertPlan {
  std::string architecture;   // GGUF: "llama", "qwen3", ...
  std::string file_type;      // "F16", "BF16", "F32"
  std::string tokenizer;      // "llama" (SentencePiece) or "gpt2" (BPE)
  std::string pre_tokenizer;  // tokenizer.ggml.pre: "default", "llama-bpe", "qwen2", ...
  uint64_t tokens = 0;
  uint64_t tensors = 0;
  uint64_t parameters = 0;
  uint64_t output_bytes = 0;  // tensor data, padding excluded
};

// InvalidArgument naming what cannot be converted (architecture, tokenizer,
// pre-tokenizer, a tensor Hangar cannot place, a missing hyper-parameter).
Result<ConvertPlan> PlanConversion(const HfCheckpoint& checkpoint, const ConvertOptions& options);

// Plans and writes `out`. The PlanConversion errors; NotFound / DataLoss for
// a shard that is missing or shorter than its header says; Internal for a
// write the disk refused; the progress callback's error (Cancelled).
Result<ConvertPlan> ConvertCheckpoint(const HfCheckpoint& checkpoint, const std::filesystem::path& out,
                                      const ConvertOptions& options);

}  // namespace hangar::checkpoint

#endif  // HANGAR_CHECKPOINT_CONVERT_H_
