#include "fit/model_facts.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>

#include "gguf/ggml_types.h"

namespace hangar::fit {
namespace {

// llama.cpp places each tensor in a buffer padded to the backend's alignment
// (32 bytes on the CPU, at least that elsewhere).
constexpr uint64_t kTensorAlignment = 32;

uint64_t Padded(uint64_t bytes) {
  return (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
}

// The block index of "blk.N.something", or nullopt.
std::optional<uint32_t> BlockIndex(std::string_view name) {
  constexpr std::string_view kPrefix = "blk.";
  if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  uint32_t index = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), index);
  if (ec != std::errc() || ptr == name.data() || ptr == name.data() + name.size() || *ptr != '.') {
    return std::nullopt;
  }
  return index;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Tensors llama.cpp assigns to the input layer (always on the CPU).
bool IsInputTensor(std::string_view name) {
  return StartsWith(name, "token_embd") || StartsWith(name, "token_types") ||
         StartsWith(name, "position_embd") || StartsWith(name, "per_layer_token_embd");
}

// Weight types that ggml's CPU backend repacks for its matrix kernels on
// x86-64 with AVX2 (ggml-cpu/repack.cpp), when the row count is a multiple
// of 8: a tied output matrix of such a type gets its own repacked copy.
bool RepackedOnCpu(uint32_t type_id, uint64_t rows) {
  const gguf::GgmlType* t = gguf::FindGgmlType(type_id);
  if (t == nullptr || rows % 8 != 0) return false;
  return t->name == "q4_0" || t->name == "q4_K" || t->name == "iq4_nl" || t->name == "mxfp4";
}

uint32_t U32(std::optional<uint64_t> v, uint32_t fallback = 0) {
  return v ? static_cast<uint32_t>(std::min<uint64_t>(*v, UINT32_MAX)) : fallback;
}

uint32_t PerLayer(const std::vector<uint64_t>& values, uint32_t il, uint32_t fallback) {
  return il < values.size() ? static_cast<uint32_t>(values[il]) : fallback;
}

// llama.cpp ignores the sliding window of some architectures (phi3: "Phi SWA
// is currently disabled") and keeps their whole context.
bool SlidingWindowUsed(std::string_view architecture) { return architecture != "phi3"; }

bool SlidingLayer(const ModelArchitecture& arch, uint32_t il) {
  return SlidingWindowUsed(arch.name) && arch.HasSlidingWindow() && arch.IsSlidingWindowLayer(il);
}

}  // namespace

uint64_t ModelFacts::WeightBytes() const {
  uint64_t total = input_bytes + output_bytes;
  for (const LayerFacts& l : layers) total += l.weight_bytes;
  return total;
}

Result<ModelFacts> FactsFromSummary(const gguf::ModelSummary& s) {
  const std::string name = s.files.empty() ? (s.name.empty() ? "model" : s.name) : s.files[0];
  if (!s.block_count || *s.block_count == 0 || *s.block_count > 4096 || !s.embedding_length ||
      !s.head_count) {
    return InvalidArgumentError(fmt::format(
        "{} ({}) lacks {}.block_count, embedding_length or attention.head_count; llama.cpp "
        "cannot load it either",
        name, s.architecture.empty() ? "no architecture" : s.architecture, s.architecture));
  }
  ModelFacts f;
  f.name = name;
  f.architecture = s.architecture;
  f.exact = true;
  f.n_embd = U32(s.embedding_length);
  f.n_vocab = U32(s.vocab_size);
  f.n_ctx_train = U32(s.context_length);
  const bool swa = SlidingWindowUsed(s.architecture) && !s.sliding_window_layers.empty();
  f.n_swa = swa ? U32(s.sliding_window) : 0;
  f.kv_lora_rank = U32(s.kv_lora_rank);
  f.n_rot = U32(s.rope_dimension_count);
  f.file_bytes = s.file_size;

  const uint32_t n_layer = U32(s.block_count);
  const uint32_t head_count = U32(s.head_count);
  const uint32_t head_count_kv = U32(s.head_count_kv, head_count);
  const uint32_t head_k = U32(s.key_length, f.n_embd / std::max<uint32_t>(head_count, 1));
  const uint32_t head_v = U32(s.value_length, f.n_embd / std::max<uint32_t>(head_count, 1));
  const bool has_ssm = s.ssm_inner_size.has_value() && s.ssm_state_size.has_value();
  if (has_ssm) {
    const uint64_t d_conv = s.ssm_conv_kernel.value_or(0);
    const uint64_t d_inner = *s.ssm_inner_size;
    const uint64_t d_state = *s.ssm_state_size;
    const uint64_t n_group = s.ssm_group_count.value_or(0);
    f.recurrent_state_elements =
        (d_conv > 0 ? d_conv - 1 : 0) * (d_inner + 2 * n_group * d_state) + d_state * d_inner;
  }
  f.layers.resize(n_layer);
  for (uint32_t il = 0; il < n_layer; ++il) {
    LayerFacts& l = f.layers[il];
    l.n_head = PerLayer(s.head_count_per_layer, il, head_count);
    l.n_head_kv = PerLayer(s.head_count_kv_per_layer, il, head_count_kv);
    l.head_k = head_k;
    l.head_v = head_v;
    l.swa = swa && il < s.sliding_window_layers.size() && s.sliding_window_layers[il];
    // Hybrid models mark their recurrent layers with zero KV heads; pure
    // state-space models have no attention at all.
    l.recurrent = has_ssm && (s.head_count_kv_per_layer.empty() || l.n_head_kv == 0);
    if (l.recurrent) l.n_head_kv = 0;
  }

  bool has_output = false;
  const gguf::TensorInfo* token_embd = nullptr;
  std::vector<uint64_t> up_rows(n_layer, 0);  // rows of blk.N.ffn_up (0: none)
  std::vector<bool> has_gate(n_layer, false);
  std::vector<uint64_t> shexp_rows(n_layer, 0);
  for (const gguf::TensorInfo& t : s.tensors) {
    const uint64_t bytes = Padded(t.size);
    if (std::optional<uint32_t> il = BlockIndex(t.name)) {
      if (*il >= n_layer) {
        return InvalidArgumentError(fmt::format(
            "{}: tensor {} belongs to block {}, but the model declares {} blocks; the file is "
            "inconsistent",
            name, t.name, *il, n_layer));
      }
      LayerFacts& l = f.layers[*il];
      l.weight_bytes += bytes;
      const std::string_view rest = std::string_view(t.name).substr(t.name.find('.', 4) + 1);
      if (StartsWith(rest, "ffn_up_exps") || StartsWith(rest, "ffn_gate_exps")) {
        l.n_ff_expert = static_cast<uint32_t>(t.dims[1]);
        l.n_expert_used = U32(s.expert_used_count, 1);
      } else if (rest == "ffn_up.weight") {
        up_rows[*il] = t.dims[1];
      } else if (rest == "ffn_gate.weight") {
        has_gate[*il] = true;
      } else if (rest == "ffn_up_shexp.weight") {
        shexp_rows[*il] = t.dims[1];  // the shared expert runs for every token
      }
    } else if (IsInputTensor(t.name)) {
      f.input_bytes += bytes;
      if (t.name == "token_embd.weight") token_embd = &t;
    } else {
      f.output_bytes += bytes;
      if (t.name == "output.weight") has_output = true;
    }
  }
  for (uint32_t il = 0; il < n_layer; ++il) {
    LayerFacts& l = f.layers[il];
    // A fused gate+up matrix (no ffn_gate, phi3) holds both halves.
    const uint64_t dense = has_gate[il] ? up_rows[il] : up_rows[il] / 2;
    l.n_ff = static_cast<uint32_t>(dense + shexp_rows[il]);
    if (s.tensors.empty()) {
      l.n_ff = PerLayer(s.feed_forward_length_per_layer, il, U32(s.feed_forward_length));
    }
  }
  if (!has_output && token_embd != nullptr) {
    f.tied_output_bytes = Padded(token_embd->size);
    f.tied_output_repacked = RepackedOnCpu(token_embd->type, token_embd->dims[1]);
  }
  if (f.n_vocab == 0 && token_embd != nullptr) {
    f.n_vocab = static_cast<uint32_t>(token_embd->dims[1]);
  }
  return f;
}

Result<ModelFacts> FactsFromCatalog(const CatalogEntry& entry) {
  const ModelArchitecture& a = entry.arch;
  if (entry.format != ModelFormat::kGguf) {
    return InvalidArgumentError(
        fmt::format("catalog entry {} is a {} model; memory is estimated for GGUF models only",
                    entry.id, ModelFormatName(entry.format)));
  }
  if (a.block_count == 0 || a.embedding_length == 0 || a.head_count == 0) {
    return InvalidArgumentError(fmt::format(
        "catalog entry {} lacks architecture facts (block_count, embedding_length, head_count); "
        "add them to the entry, or estimate from the GGUF header instead",
        entry.id));
  }
  ModelFacts f;
  f.name = entry.id;
  f.architecture = a.name;
  f.exact = false;
  f.n_embd = a.embedding_length;
  f.n_vocab = a.vocab_size;
  f.n_ctx_train = entry.context_length;
  f.n_swa = SlidingWindowUsed(a.name) ? a.sliding_window : 0;
  f.kv_lora_rank = a.kv_lora_rank;
  f.n_rot = a.rope_dimension_count;
  f.file_bytes = entry.file_size_bytes;

  const uint64_t e = a.embedding_length;
  const uint32_t head_k = a.key_length ? a.key_length : a.embedding_length / a.head_count;
  const uint32_t head_v = a.value_length ? a.value_length : head_k;
  const uint32_t kv_heads = a.head_count_kv ? a.head_count_kv : a.head_count;
  // Parameters per block, to spread the file's bytes over the layers.
  std::vector<double> params(a.block_count);
  f.layers.resize(a.block_count);
  double total = 0;
  for (uint32_t il = 0; il < a.block_count; ++il) {
    LayerFacts& l = f.layers[il];
    l.n_head = a.head_count;
    l.n_head_kv = kv_heads;
    l.head_k = head_k;
    l.head_v = head_v;
    l.swa = SlidingLayer(a, il);
    const bool moe = a.IsMoe() && il >= a.leading_dense_block_count;
    double p = static_cast<double>(e) * (a.head_count * head_k + kv_heads * (head_k + head_v)) +
               static_cast<double>(a.head_count) * head_v * e + 2.0 * e;
    if (moe) {
      const uint32_t ff_exp =
          a.expert_feed_forward_length ? a.expert_feed_forward_length : a.feed_forward_length;
      l.n_ff_expert = ff_exp;
      l.n_expert_used = std::max<uint32_t>(a.expert_used_count, 1);
      l.n_ff = a.expert_shared_count * ff_exp;
      p += 3.0 * e * ff_exp * (a.expert_count + a.expert_shared_count) +
           static_cast<double>(e) * a.expert_count;
    } else {
      l.n_ff = a.feed_forward_length;
      p += 3.0 * e * a.feed_forward_length;
    }
    params[il] = p;
    total += p;
  }
  const double embd_params = static_cast<double>(e) * a.vocab_size;
  total += 2 * embd_params + e;  // token embeddings, output matrix and norm
  const double bytes_per_param = total > 0 && entry.file_size_bytes > 0
                                     ? static_cast<double>(entry.file_size_bytes) / total
                                     : 0.0;
  for (uint32_t il = 0; il < a.block_count; ++il) {
    f.layers[il].weight_bytes = static_cast<uint64_t>(params[il] * bytes_per_param);
  }
  f.input_bytes = static_cast<uint64_t>(embd_params * bytes_per_param);
  f.output_bytes = static_cast<uint64_t>((embd_params + e) * bytes_per_param);
  return f;
}

}  // namespace hangar::fit
