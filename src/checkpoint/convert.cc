#include "checkpoint/convert.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "checkpoint/floats.h"
#include "checkpoint/vocab.h"
#include "gguf/writer.h"

namespace hangar::checkpoint {

namespace fs = std::filesystem;
using nlohmann::json;


namespace {

enum GgmlId : uint32_t { kGgmlF32 = 0, kGgmlF16 = 1, kGgmlBf16 = 30 };

// One output tensor: rows taken from source tensors (stacked experts are
// several), with the transformations llama.cpp's converter applies.
struct Source {
  const TensorInfo* tensor = nullptr;
  const Shard* shard = nullptr;
};
struct OutTensor {
  std::string name;
  std::vector<uint64_t> shape;  // PyTorch order
  uint32_t type = kGgmlF32;
  std::vector<Source> sources;  // concatenated along the first dimension
  uint64_t rows_kept = 0;       // the first rows of a single source (0: all)
  uint32_t permute_heads = 0;   // Q/K rows reordered for llama.cpp's RoPE
  float add = 0;                // Gemma's norms: weight + 1
  std::vector<float> values;    // a tensor made here (RoPE factors), F32
  uint64_t elements() const {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    return n;
  }
};

struct Arch {
  std::string_view hf;
  std::string_view gguf;
};

std::optional<int64_t> IntParam(const json& h, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = h.find(k);
    if (it != h.end() && it->is_number_integer()) return it->get<int64_t>();
  }
  return std::nullopt;
}

std::optional<double> FloatParam(const json& h, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = h.find(k);
    if (it != h.end() && it->is_number()) return it->get<double>();
  }
  return std::nullopt;
}

// The tensor names llama.cpp gives a layer's HF tensors, per architecture.
std::optional<std::string> LayerTensorName(std::string_view arch, std::string_view rest) {
  const bool gemma = arch == "gemma2" || arch == "gemma3";
  static const std::map<std::string_view, std::string_view> kCommon = {
      {"input_layernorm", "attn_norm"},      {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},        {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"},   {"mlp.gate_proj", "ffn_gate"},
      {"mlp.up_proj", "ffn_up"},             {"mlp.down_proj", "ffn_down"},
      {"self_attn.q_norm", "attn_q_norm"},   {"self_attn.k_norm", "attn_k_norm"},
      {"self_attn.qkv_proj", "attn_qkv"},    {"mlp.gate_up_proj", "ffn_up"},
      {"mlp.gate", "ffn_gate_inp"},
  };
  static const std::map<std::string_view, std::string_view> kGemma = {
      {"post_attention_layernorm", "post_attention_norm"},
      {"pre_feedforward_layernorm", "ffn_norm"},
      {"post_feedforward_layernorm", "post_ffw_norm"},
  };
  size_t dot = rest.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view stem = rest.substr(0, dot), suffix = rest.substr(dot);
  if (suffix != ".weight" && suffix != ".bias") return std::nullopt;
  std::string_view mapped;
  if (gemma && kGemma.count(stem)) {
    mapped = kGemma.at(stem);
  } else if (!gemma && stem == "post_attention_layernorm") {
    mapped = "ffn_norm";
  } else if (kCommon.count(stem)) {
    mapped = kCommon.at(stem);
    const bool qk_norm = mapped == "attn_q_norm" || mapped == "attn_k_norm";
    if (qk_norm && arch != "qwen3" && arch != "qwen3moe" && arch != "gemma3") return std::nullopt;
    if ((mapped == "attn_qkv" || stem == "mlp.gate_up_proj") && arch != "phi3") return std::nullopt;
    if (mapped == "ffn_gate_inp" && arch != "qwen3moe") return std::nullopt;
  } else {
    return std::nullopt;
  }
  return std::string(mapped) + std::string(suffix);
}

class Planner {
 public:
  Planner(const HfCheckpoint& c, std::string arch, const ConvertOptions& o) : c_(c), h_(c.config), arch_(std::move(arch)), o_(o) {}

  Status Plan(gguf::GgufWriter& w, ConvertPlan& plan);
  std::vector<OutTensor>& tensors() { return out_; }

 private:
  Status ChooseType(ConvertPlan& plan);
  Status MapTensors();
  Status SetParameters(gguf::GgufWriter& w);
  void Add(OutTensor t);
  uint32_t TypeFor(const std::string& name, size_t dims) const;

  const HfCheckpoint& c_;
  json h_;
  std::string arch_;
  const ConvertOptions& o_;
  uint32_t ftype_ = 1;           // llama_ftype: 0 F32, 1 F16, 32 BF16
  uint32_t matrix_type_ = kGgmlF16;
  uint64_t vocab_tokens_ = 0;    // for Gemma 3's embedding rows
  std::vector<OutTensor> out_;
};

Status Planner::ChooseType(ConvertPlan& plan) {
  std::string type = o_.type;
  std::transform(type.begin(), type.end(), type.begin(), ::tolower);
  if (type == "auto") {
    type = "f16";
    for (const Shard& s : c_.shards) {
      std::vector<const TensorInfo*> sorted;
      for (const TensorInfo& t : s.header.tensors) sorted.push_back(&t);
      std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
      bool found = false;
      for (const TensorInfo* t : sorted) {
        if (t->shape.size() < 2) continue;
        if (t->dtype == Dtype::kBF16) type = "bf16";
        found = t->dtype == Dtype::kBF16 || t->dtype == Dtype::kF16;
        if (found) break;
      }
      if (found) break;
    }
  }
  if (type == "f32") { ftype_ = 0; matrix_type_ = kGgmlF32; plan.file_type = "F32"; }
  else if (type == "f16") { ftype_ = 1; matrix_type_ = kGgmlF16; plan.file_type = "F16"; }
  else if (type == "bf16") { ftype_ = 32; matrix_type_ = kGgmlBf16; plan.file_type = "BF16"; }
  else {
    return InvalidArgumentError(fmt::format(
        "unknown output type \"{}\": convert writes auto, f32, f16 or bf16 (quantized types such as q4_k_m "
        "are made from those by the quantizer)", o_.type));
  }
  return Status::Ok();
}

uint32_t Planner::TypeFor(const std::string& name, size_t dims) const {
  if (dims <= 1 || name.ends_with("_norm.weight")) return kGgmlF32;
  if (name.find("ffn_gate_inp") != std::string::npos || !name.ends_with(".weight")) return kGgmlF32;
  return matrix_type_;
}

void Planner::Add(OutTensor t) {
  t.type = t.values.empty() ? TypeFor(t.name, t.shape.size()) : kGgmlF32;
  out_.push_back(std::move(t));
}

Status Planner::MapTensors() {
  const auto heads = IntParam(h_, {"n_heads", "num_attention_heads"});
  const auto kv_heads = IntParam(h_, {"n_kv_heads", "num_key_value_heads"});
  const int64_t n_experts = IntParam(h_, {"num_local_experts", "num_experts"}).value_or(0);
  // Experts waiting for the rest of their layer: "<bid>.<down|gate|up>" -> per expert.
  std::map<std::string, std::map<int64_t, Source>> experts;
  std::set<std::string> seen_layers;
  static const std::regex kLayer(R"(^model\.layers\.(\d+)\.(.+)$)");
  static const std::regex kExpert(R"(^mlp\.experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$)");
  for (const Shard& shard : c_.shards) {
    std::vector<const TensorInfo*> sorted;
    for (const TensorInfo& t : shard.header.tensors) sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
    for (const TensorInfo* t : sorted) {
      std::string name = t->name;
      // TextModel.filter_tensors: a multimodal checkpoint's other towers.
      if (name.starts_with("mlp") || name.starts_with("vit.") || name.find("visual.") != std::string::npos ||
          name.find("vision.") != std::string::npos || name.find("vision_") != std::string::npos ||
          name.find("audio") != std::string::npos || name.find("projector.") != std::string::npos ||
          name.find("patch_embed") != std::string::npos) {
        continue;
      }
      if (size_t at = name.find("language_model."); at != std::string::npos) name.erase(at, 15);
      if (arch_ == "llama") {
        if (size_t at = name.find("text_model."); at != std::string::npos) name.erase(at, 11);
      }
      if (name.ends_with(".rotary_emb.inv_freq") || name.ends_with(".attention.masked_bias") ||
          name.ends_with(".attention.bias")) {
        continue;
      }
      if (arch_ == "gemma2" && name == "lm_head.weight") continue;
      switch (t->dtype) {
        case Dtype::kF32: case Dtype::kF16: case Dtype::kBF16: break;
        default:
          return InvalidArgumentError(fmt::format("tensor {} is {}: Hangar converts F32, F16 and BF16 checkpoints "
                                                  "(a quantized checkpoint needs its float original)",
                                                  t->name, DtypeName(t->dtype)));
      }
      OutTensor o;
      o.shape = t->shape;
      o.sources.push_back(Source{t, &shard});
      if (name == "model.embed_tokens.weight") {
        o.name = "token_embd.weight";
        if (arch_ == "gemma3" && !o.shape.empty() && vocab_tokens_ < o.shape[0]) {
          o.rows_kept = vocab_tokens_;
          o.shape[0] = vocab_tokens_;
        }
      } else if (name == "model.norm.weight") {
        o.name = "output_norm.weight";
      } else if (name == "lm_head.weight") {
        o.name = "output.weight";
      } else if (std::smatch m; std::regex_match(name, m, kLayer)) {
        const std::string bid = m[1].str(), rest = m[2].str();
        if (std::smatch e; arch_ == "qwen3moe" && std::regex_match(rest, e, kExpert)) {
          const std::string key = bid + "." + e[2].str();
          experts[key][std::stoll(e[1].str())] = Source{t, &shard};
          size_t ready = 0;
          for (const char* w : {"down_proj", "gate_proj", "up_proj"}) ready += experts[bid + "." + w].size();
          if (static_cast<int64_t>(ready) < n_experts * 3) continue;
          for (const char* w : {"down_proj", "gate_proj", "up_proj"}) {
            auto& parts = experts[bid + "." + w];
            OutTensor stacked;
            stacked.name = fmt::format("blk.{}.ffn_{}_exps.weight", bid, std::string_view(w).substr(0, std::string_view(w).find('_')));
            const TensorInfo* first = parts.begin()->second.tensor;
            stacked.shape = {static_cast<uint64_t>(n_experts)};
            stacked.shape.insert(stacked.shape.end(), first->shape.begin(), first->shape.end());
            for (int64_t x = 0; x < n_experts; ++x) {
              if (!parts.count(x) || parts[x].tensor->shape != first->shape) {
                return InvalidArgumentError(fmt::format("layer {}: expert {} of {} is missing or a different shape", bid, x, w));
              }
              stacked.sources.push_back(parts[x]);
            }
            Add(std::move(stacked));
            parts.clear();
          }
          continue;
        }
        std::optional<std::string> mapped = LayerTensorName(arch_, rest);
        if (!mapped) {
          return InvalidArgumentError(fmt::format("tensor {}: llama.cpp's {} has no place for it", t->name, arch_));
        }
        o.name = "blk." + bid + "." + *mapped;
        if (arch_ == "llama" && heads) {
          if (rest.starts_with("self_attn.q_proj.")) o.permute_heads = static_cast<uint32_t>(*heads);
          if (rest.starts_with("self_attn.k_proj.")) o.permute_heads = static_cast<uint32_t>(kv_heads.value_or(*heads));
        }
      } else {
        return InvalidArgumentError(fmt::format("tensor {}: llama.cpp's {} has no place for it", t->name, arch_));
      }
      if ((arch_ == "gemma2" || arch_ == "gemma3") && name.ends_with("norm.weight")) o.add = 1.0f;
      if (o.permute_heads) {
        const uint64_t rows = o.shape[0];
        if (rows % (2ull * o.permute_heads) != 0) {
          return InvalidArgumentError(fmt::format("tensor {}: {} rows do not split into {} heads", t->name, rows, o.permute_heads));
        }
      }
      Add(std::move(o));
    }
  }
  for (const auto& [key, parts] : experts) {
    if (!parts.empty()) return InvalidArgumentError(fmt::format("layer {}: only {} of {} experts", key, parts.size(), n_experts));
  }
  return Status::Ok();
}

Status Planner::SetParameters(gguf::GgufWriter& w) {
  const std::string a = arch_;
  auto key = [&](std::string_view k) { return a + "." + std::string(k); };
  json rope = h_.contains("rope_parameters") && h_["rope_parameters"].is_object() ? h_["rope_parameters"]
              : h_.contains("rope_scaling") && h_["rope_scaling"].is_object() ? h_["rope_scaling"] : json::object();
  const auto rope_theta = FloatParam(h_, {"global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"});
  const auto local_theta = FloatParam(h_, {"local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta", "rope_local_base_freq"});
  if (!rope.contains("full_attention") && !rope.contains("sliding_attention")) {
    if (local_theta) rope["sliding_attention"] = {{"rope_theta", *local_theta}};
    if (!rope.contains("rope_theta") && rope_theta) rope["rope_theta"] = *rope_theta;
    if (!rope.contains("rope_type") && rope.contains("type")) rope["rope_type"] = rope["type"];
    if (auto p = FloatParam(h_, {"partial_rotary_factor", "rope_pct", "rope_percent"}); p && !rope.contains("partial_rotary_factor")) rope["partial_rotary_factor"] = *p;
    if (auto o = IntParam(h_, {"original_max_position_embeddings"}); o && !rope.contains("original_max_position_embeddings")) rope["original_max_position_embeddings"] = *o;
  }
  const json full = rope.contains("full_attention") ? rope["full_attention"] : rope;
  const auto blocks = IntParam(h_, {"n_layers", "num_hidden_layers", "n_layer", "num_layers"});
  if (!blocks) return InvalidArgumentError("config.json has no num_hidden_layers");
  auto require = [&](std::initializer_list<const char*> keys, const char* what) -> Result<int64_t> {
    auto v = IntParam(h_, keys);
    if (!v) return InvalidArgumentError(fmt::format("config.json has no {} ({})", *keys.begin(), what));
    return *v;
  };

  if (a == "gemma2" || a == "phi3") {
    if (a == "gemma2") {
      ASSIGN_OR_RETURN(int64_t ctx, require({"max_position_embeddings"}, "context length"));
      ASSIGN_OR_RETURN(int64_t embd, require({"hidden_size"}, "embedding length"));
      ASSIGN_OR_RETURN(int64_t ff, require({"intermediate_size"}, "feed-forward length"));
      ASSIGN_OR_RETURN(int64_t heads, require({"num_attention_heads"}, "heads"));
      ASSIGN_OR_RETURN(int64_t head_dim, require({"head_dim"}, "head size"));
      ASSIGN_OR_RETURN(int64_t window, require({"sliding_window"}, "sliding window"));
      const auto eps = FloatParam(h_, {"rms_norm_eps"});
      const auto soft_attn = FloatParam(h_, {"attn_logit_softcapping"});
      const auto soft_final = FloatParam(h_, {"final_logit_softcapping"});
      if (!eps || !soft_attn || !soft_final) return InvalidArgumentError("config.json lacks rms_norm_eps or the logit soft-capping values gemma2 needs");
      w.SetU32(key("context_length"), ctx);
      w.SetU32(key("embedding_length"), embd);
      w.SetU32(key("block_count"), *blocks);
      w.SetU32(key("feed_forward_length"), ff);
      w.SetU32(key("attention.head_count"), heads);
      w.SetU32(key("attention.head_count_kv"), IntParam(h_, {"num_key_value_heads"}).value_or(heads));
      w.SetF32(key("attention.layer_norm_rms_epsilon"), static_cast<float>(*eps));
      w.SetU32(key("attention.key_length"), head_dim);
      w.SetU32(key("attention.value_length"), head_dim);
      w.SetU32("general.file_type", ftype_);
      w.SetF32(key("attn_logit_softcapping"), static_cast<float>(*soft_attn));
      w.SetF32(key("final_logit_softcapping"), static_cast<float>(*soft_final));
      w.SetU32(key("attention.sliding_window"), window);
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(int64_t embd, require({"hidden_size", "n_embd"}, "embedding length"));
    ASSIGN_OR_RETURN(int64_t heads, require({"num_attention_heads", "n_head"}, "heads"));
    ASSIGN_OR_RETURN(int64_t kv, require({"num_key_value_heads", "n_head_kv"}, "key-value heads"));
    ASSIGN_OR_RETURN(int64_t ctx, require({"n_positions", "max_position_embeddings"}, "context length"));
    ASSIGN_OR_RETURN(int64_t ff, require({"intermediate_size"}, "feed-forward length"));
    const auto eps = FloatParam(h_, {"rms_norm_eps"});
    if (!eps) return InvalidArgumentError("config.json has no rms_norm_eps");
    if (!rope.contains("original_max_position_embeddings") || !full.contains("rope_theta")) {
      return InvalidArgumentError("config.json lacks original_max_position_embeddings or rope_theta, which phi3 needs");
    }
    const double pct = rope.value("partial_rotary_factor", 1.0);
    const int64_t rope_dims = static_cast<int64_t>(pct * embd) / heads;
    w.SetU32(key("context_length"), ctx);
    w.SetU32(key("rope.scaling.original_context_length"), rope["original_max_position_embeddings"].get<int64_t>());
    w.SetU32(key("embedding_length"), embd);
    w.SetU32(key("feed_forward_length"), ff);
    w.SetU32(key("block_count"), *blocks);
    w.SetU32(key("attention.head_count"), heads);
    w.SetU32(key("attention.head_count_kv"), kv);
    w.SetF32(key("attention.layer_norm_rms_epsilon"), static_cast<float>(*eps));
    w.SetU32(key("rope.dimension_count"), rope_dims);
    w.SetF32(key("rope.freq_base"), full["rope_theta"].get<float>());
    w.SetU32("general.file_type", ftype_);
    w.SetU32(key("attention.sliding_window"), IntParam(h_, {"sliding_window"}).value_or(0));
    if (rope.contains("long_factor") && rope["long_factor"].is_array() && !rope["long_factor"].empty()) {
      const double scale = static_cast<double>(ctx) / rope["original_max_position_embeddings"].get<double>();
      std::string type = rope.value("rope_type", "");
      std::transform(type.begin(), type.end(), type.begin(), ::tolower);
      const double orig = rope["original_max_position_embeddings"].get<double>();
      double attn = 1.0;
      if (type == "su" || type == "longrope") attn = scale > 1.0 ? std::sqrt(1 + std::log(scale) / std::log(orig)) : 1.0;
      else if (type == "yarn") attn = scale > 1.0 ? 0.1 * std::log(scale) + 1.0 : 1.0;
      else return InvalidArgumentError(fmt::format("phi3 RoPE scaling \"{}\" is not one llama.cpp runs", type));
      w.SetF32(key("rope.scaling.attn_factor"), static_cast<float>(attn));
      const json longf = rope["long_factor"], shortf = rope.value("short_factor", json::array());
      if (longf.size() != shortf.size() || static_cast<int64_t>(longf.size()) * 2 != rope_dims) {
        return InvalidArgumentError(fmt::format("rope long/short factors must have {} entries each", rope_dims / 2));
      }
      for (const auto& [n, f] : {std::pair{"rope_factors_long.weight", longf}, std::pair{"rope_factors_short.weight", shortf}}) {
        OutTensor t;
        t.name = n;
        for (const json& x : f) t.values.push_back(x.get<float>());
        t.shape = {t.values.size()};
        Add(std::move(t));
      }
      // generate_extra_tensors comes first in the file.
      std::rotate(out_.rbegin(), out_.rbegin() + 2, out_.rend());
    }
    return Status::Ok();
  }

  // TextModel.set_gguf_parameters
  w.SetU32(key("block_count"), *blocks);
  if (auto v = IntParam(h_, {"max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length"})) w.SetU32(key("context_length"), *v);
  if (auto v = IntParam(h_, {"hidden_size", "n_embd", "dim"})) w.SetU32(key("embedding_length"), *v);
  if (auto v = IntParam(h_, {"prefix_dense_intermediate_size", "dense_intermediate_size", "intermediate_size", "n_inner", "hidden_dim"})) w.SetU32(key("feed_forward_length"), *v);
  if (auto v = IntParam(h_, {"num_attention_heads", "n_head", "n_heads"})) w.SetU32(key("attention.head_count"), *v);
  if (auto v = IntParam(h_, {"num_key_value_heads", "n_kv_heads"})) w.SetU32(key("attention.head_count_kv"), *v);
  if (h_.contains("is_causal") && h_["is_causal"] == false) w.SetBool(key("attention.causal"), false);
  if (full.contains("rope_type") && full["rope_type"].is_string()) {
    const std::string type = full["rope_type"].get<std::string>();
    std::string lower = type;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    const bool factor = full.contains("factor") && full["factor"].is_number();
    if (type == "linear" && factor) {
      w.SetString(key("rope.scaling.type"), "linear");
      w.SetF32(key("rope.scaling.factor"), full["factor"].get<float>());
    } else if (type == "yarn" && factor) {
      w.SetString(key("rope.scaling.type"), "yarn");
      w.SetF32(key("rope.scaling.factor"), full["factor"].get<float>());
      if (!full.contains("original_max_position_embeddings")) return InvalidArgumentError("YaRN RoPE scaling without original_max_position_embeddings");
      w.SetU32(key("rope.scaling.original_context_length"), full["original_max_position_embeddings"].get<int64_t>());
      if (full.contains("extrapolation_factor")) w.SetF32(key("rope.scaling.yarn_ext_factor"), full["extrapolation_factor"].get<float>());
      if (full.contains("attention_factor")) w.SetF32(key("rope.scaling.yarn_attn_factor"), full["attention_factor"].get<float>());
      else if (full.contains("attn_factor")) w.SetF32(key("rope.scaling.yarn_attn_factor"), full["attn_factor"].get<float>());
      if (full.contains("beta_fast")) w.SetF32(key("rope.scaling.yarn_beta_fast"), full["beta_fast"].get<float>());
      if (full.contains("beta_slow")) w.SetF32(key("rope.scaling.yarn_beta_slow"), full["beta_slow"].get<float>());
    } else if (type == "su" || type == "longrope") {
      w.SetString(key("rope.scaling.type"), "longrope");
    } else if (lower == "llama3" && a == "llama") {
      // rope_freqs, below
    } else if (type != "default") {
      return InvalidArgumentError(fmt::format("RoPE scaling \"{}\" is not one Hangar converts for {}", type, a));
    }
  }
  if (full.contains("rope_theta") && full["rope_theta"].is_number()) w.SetF32(key("rope.freq_base"), full["rope_theta"].get<float>());
  if (rope.contains("sliding_attention") && rope["sliding_attention"].is_object() && rope["sliding_attention"].contains("rope_theta")) {
    w.SetF32(key("rope.freq_base_swa"), rope["sliding_attention"]["rope_theta"].get<float>());
  }
  if (auto v = FloatParam(h_, {"rms_norm_eps", "norm_eps"})) w.SetF32(key("attention.layer_norm_rms_epsilon"), static_cast<float>(*v));
  if (auto v = FloatParam(h_, {"layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"})) w.SetF32(key("attention.layer_norm_epsilon"), static_cast<float>(*v));
  if (auto v = IntParam(h_, {"num_local_experts", "num_experts", "n_routed_experts"})) w.SetU32(key("expert_count"), *v);
  if (auto v = IntParam(h_, {"num_experts_per_tok", "num_experts_per_token", "top_k_experts"})) w.SetU32(key("expert_used_count"), *v);
  if (auto v = IntParam(h_, {"head_dim"})) {
    w.SetU32(key("attention.key_length"), *v);
    w.SetU32(key("attention.value_length"), *v);
  }
  w.SetU32("general.file_type", ftype_);

  if (a == "llama") {
    if (auto v = IntParam(h_, {"vocab_size"})) w.SetU32(key("vocab_size"), *v);
    auto heads = IntParam(h_, {"num_attention_heads"});
    auto embd = IntParam(h_, {"hidden_size"});
    auto head_dim = IntParam(h_, {"head_dim"});
    if (!head_dim && (!heads || !embd)) return InvalidArgumentError("config.json lacks hidden_size or num_attention_heads");
    const int64_t dim = head_dim.value_or(*embd / *heads);
    w.SetU32(key("rope.dimension_count"), dim);
    std::string type = full.value("rope_type", "");
    std::transform(type.begin(), type.end(), type.begin(), ::tolower);
    if (type == "llama3") {
      // generate_extra_tensors: Llama 3.1's per-frequency factors, in float32.
      const float base = full.value("rope_theta", 10000.0f);
      const float factor = full.value("factor", 8.0f), low = full.value("low_freq_factor", 1.0f),
                  high = full.value("high_freq_factor", 4.0f);
      const float old_ctx = full.value("original_max_position_embeddings", 8192.0f);
      const float low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
      OutTensor t;
      t.name = "rope_freqs.weight";
      for (int64_t i = 0; i < dim; i += 2) {
        const float freq = 1.0f / std::pow(base, static_cast<float>(i) / static_cast<float>(dim));
        const float wavelen = static_cast<float>(2 * M_PI) / freq;
        if (wavelen < high_wavelen) t.values.push_back(1.0f);
        else if (wavelen > low_wavelen) t.values.push_back(factor);
        else {
          const float smooth = (old_ctx / wavelen - low) / (high - low);
          t.values.push_back(1.0f / ((1 - smooth) / factor + smooth));
        }
      }
      t.shape = {t.values.size()};
      Add(std::move(t));
      std::rotate(out_.rbegin(), out_.rbegin() + 1, out_.rend());
    }
  } else if (a == "qwen3moe") {
    if (auto v = IntParam(h_, {"moe_intermediate_size"})) w.SetU32(key("expert_feed_forward_length"), *v);
    if (auto v = IntParam(h_, {"shared_expert_intermediate_size"})) w.SetU32(key("expert_shared_feed_forward_length"), *v);
  } else if (a == "gemma3") {
    w.SetU32(key("context_length"), IntParam(h_, {"max_position_embeddings"}).value_or(131072));
    w.SetU32(key("attention.head_count"), IntParam(h_, {"num_attention_heads"}).value_or(8));
    w.SetF32(key("attention.layer_norm_rms_epsilon"), static_cast<float>(FloatParam(h_, {"rms_norm_eps"}).value_or(1e-6)));
    w.SetU32(key("attention.key_length"), IntParam(h_, {"head_dim"}).value_or(256));
    w.SetU32(key("attention.value_length"), IntParam(h_, {"head_dim"}).value_or(256));
    w.SetF32(key("rope.freq_base"), full.value("rope_theta", 1000000.0f));
    if (auto v = FloatParam(h_, {"final_logit_softcapping"}); v && *v != 0) w.SetF32(key("final_logit_softcapping"), static_cast<float>(*v));
    if (!(h_.contains("sliding_window_pattern") && h_["sliding_window_pattern"] == 1)) {
      auto window = IntParam(h_, {"sliding_window"});
      if (!window) return InvalidArgumentError("config.json has no sliding_window, which gemma3 needs");
      w.SetU32(key("attention.sliding_window"), *window);
    }
    w.SetU32(key("attention.head_count_kv"), IntParam(h_, {"num_key_value_heads"}).value_or(4));
  }
  return Status::Ok();
}

// gguf-py's Metadata.id_to_title: "tiny-llama" -> "Tiny Llama"; versions,
// numbers and words with capitals kept.
std::string IdToTitle(std::string_view id) {
  std::string out;
  std::string text(id);
  std::replace(text.begin(), text.end(), '-', ' ');
  std::istringstream words(text);
  std::string w;
  static const std::regex kKeep(R"(^(v\d+(?:\.\d+)*|\d.*))");
  while (words >> w) {
    bool cased = false, lower = true;
    for (unsigned char ch : w) {
      if (std::isalpha(ch)) { cased = true; if (std::isupper(ch)) lower = false; }
    }
    if (cased && lower && !std::regex_search(w, kKeep)) {
      bool prev_letter = false;
      for (char& ch : w) {
        const bool letter = std::isalpha(static_cast<unsigned char>(ch)) != 0;
        if (letter && !prev_letter) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        prev_letter = letter;
      }
    }
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

// gguf-py's model_weight_count_rounded_notation (min_digits 2).
std::string RoundedCount(double n) {
  double scaled;
  const char* suffix;
  if (n > 1e12) { scaled = n * 1e-12; suffix = "T"; }
  else if (n > 1e9) { scaled = n * 1e-9; suffix = "B"; }
  else if (n > 1e6) { scaled = n * 1e-6; suffix = "M"; }
  else { scaled = n * 1e-3; suffix = "K"; }
  std::string whole = fmt::format("{:.0f}", std::nearbyint(scaled));
  whole.erase(0, whole.find_first_not_of('0') == std::string::npos ? whole.size() : whole.find_first_not_of('0'));
  const int fix = std::max(2 - static_cast<int>(whole.size()), 0);
  return fmt::format("{:.{}f}{}", scaled, fix, suffix);
}

Status Planner::Plan(gguf::GgufWriter& w, ConvertPlan& plan) {
  plan.architecture = arch_;
  RETURN_IF_ERROR(ChooseType(plan));
  if (arch_ == "gemma3") {
    // Gemma 3's embedding rows are cut to the vocabulary, known first.
    ASSIGN_OR_RETURN(VocabFacts probe, ConvertVocab(c_, arch_, nullptr));
    vocab_tokens_ = probe.tokens;
  }
  RETURN_IF_ERROR(MapTensors());
  w.SetString("general.architecture", arch_);
  w.SetString("general.type", "model");
  // The name as llama.cpp's converter derives it: config.json's
  // _name_or_path when it is a model id, else the folder's name.
  std::string name = o_.name;
  if (name.empty()) {
    std::string id = c_.root.filename().string();
    if (auto it = c_.config.find("_name_or_path"); it != c_.config.end() && it->is_string()) {
      const std::string n = it->get<std::string>();
      if (!n.empty() && std::count(n.begin(), n.end(), '/') <= 1) id = n.substr(n.find('/') + 1);
    }
    name = id.find(' ') != std::string::npos ? id : IdToTitle(id);
  }
  w.SetString("general.name", name);
  RETURN_IF_ERROR(SetParameters(w));
  uint64_t params = 0, shared = 0, per_expert = 0, expert_sum = 0, expert_tensors = 0;
  for (const OutTensor& t : out_) {
    const uint64_t n = t.values.empty() ? t.elements() : t.values.size();
    params += n;
    if (t.name.find("_exps.") != std::string::npos && t.shape.size() >= 3) {
      const uint64_t count = t.shape[t.shape.size() - 3];
      per_expert += n / count;
      expert_sum += count;
      ++expert_tensors;
    } else {
      shared += n;
    }
  }
  w.SetString("general.size_label",
              expert_tensors ? fmt::format("{}x{}", expert_sum / expert_tensors, RoundedCount(static_cast<double>(shared + per_expert)))
                             : RoundedCount(static_cast<double>(params)));
  w.SetU32("general.quantization_version", 2);
  ASSIGN_OR_RETURN(VocabFacts facts, ConvertVocab(c_, arch_, &w));
  plan.tokenizer = facts.model;
  plan.pre_tokenizer = facts.pre;
  plan.tokens = facts.tokens;
  plan.parameters = params;
  for (OutTensor& t : out_) {
    std::vector<uint64_t> ne(t.shape.rbegin(), t.shape.rend());
    RETURN_IF_ERROR(w.AddTensor(t.name, ne, t.type));
  }
  plan.tensors = out_.size();
  plan.output_bytes = w.data_bytes();
  return Status::Ok();
}

// Reads a file's bytes with pread.
class ShardReader {
 public:
  ~ShardReader() { for (auto& [p, fd] : fds_) ::close(fd); }
  Status Read(const Shard& s, uint64_t offset, size_t n, char* out) {
    int& fd = fds_[s.path];
    if (fd == 0) {
      fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        fd = 0;
        return NotFoundError(fmt::format("cannot open {}: {}", s.path.string(), std::strerror(errno)));
      }
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        return DataLossError(fmt::format("{} ends at byte {}, before the tensor data its header describes",
                                         s.path.string(), offset + done));
      }
      done += static_cast<size_t>(r);
    }
    // Read pages are not needed again: keep the page cache for others.
    ::posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(n), POSIX_FADV_DONTNEED);
    return Status::Ok();
  }

 private:
  std::map<fs::path, int> fds_;
};

void Decode(Dtype d, const char* in, size_t n, float* out) {
  switch (d) {
    case Dtype::kF32: std::memcpy(out, in, n * 4); break;
    case Dtype::kF16:
      for (size_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, in + 2 * i, 2); out[i] = HalfToFloat(h); }
      break;
    default:
      for (size_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, in + 2 * i, 2); out[i] = Bf16ToFloat(h); }
  }
}

void Encode(uint32_t type, const float* in, size_t n, std::string& out) {
  const size_t at = out.size();
  if (type == kGgmlF32) {
    out.resize(at + n * 4);
    std::memcpy(out.data() + at, in, n * 4);
    return;
  }
  out.resize(at + n * 2);
  for (size_t i = 0; i < n; ++i) {
    const uint16_t v = type == kGgmlF16 ? FloatToHalf(in[i]) : FloatToBf16(in[i]);
    std::memcpy(out.data() + at + 2 * i, &v, 2);
  }
}

bool SameType(Dtype d, uint32_t type) {
  return (d == Dtype::kF32 && type == kGgmlF32) || (d == Dtype::kF16 && type == kGgmlF16) || (d == Dtype::kBF16 && type == kGgmlBf16);
}

class TensorStreamer {
 public:
  TensorStreamer(const ConvertOptions& o, uint64_t total) : o_(o), total_(total) {}

  Status Stream(const OutTensor& t, gguf::TensorSink& sink) {
    if (!t.values.empty()) {
      std::string bytes;
      Encode(kGgmlF32, t.values.data(), t.values.size(), bytes);
      return Emit(sink, bytes);
    }
    for (const Source& s : t.sources) {
      const TensorInfo& src = *s.tensor;
      const uint64_t cols = src.shape.empty() ? 1 : (src.shape.size() == 1 && t.permute_heads ? 1 : src.shape.back());
      uint64_t rows = cols == 0 ? 0 : src.elements() / cols;
      if (t.rows_kept) rows = std::min(rows, t.rows_kept);
      const uint32_t esize = DtypeBytes(src.dtype);
      const uint64_t row_bytes = cols * esize;
      // A unit is what must be in memory at once: a head's rows when permuting.
      const uint64_t unit_rows = t.permute_heads ? rows / t.permute_heads : 1;
      const uint64_t unit_bytes = unit_rows * row_bytes;
      const uint64_t units_per_chunk = std::max<uint64_t>(1, kChunk / std::max<uint64_t>(1, unit_bytes));
      for (uint64_t r = 0; r < rows; r += units_per_chunk * unit_rows) {
        const uint64_t n_rows = std::min(rows - r, units_per_chunk * unit_rows);
        in_.resize(n_rows * row_bytes);
        RETURN_IF_ERROR(reader_.Read(*s.shard, s.shard->header.data_offset + src.begin + r * row_bytes, in_.size(), in_.data()));
        if (t.permute_heads) {
          // Rows (heads, 2, half, cols) -> (heads, half, 2, cols), moved as bytes.
          permuted_.resize(in_.size());
          const uint64_t half = unit_rows / 2;
          for (uint64_t u = 0; u < n_rows / unit_rows; ++u) {
            const char* in = in_.data() + u * unit_bytes;
            char* out = permuted_.data() + u * unit_bytes;
            for (uint64_t i = 0; i < half; ++i) {
              for (uint64_t j = 0; j < 2; ++j) std::memcpy(out + (i * 2 + j) * row_bytes, in + (j * half + i) * row_bytes, row_bytes);
            }
          }
          in_.swap(permuted_);
        }
        const size_t n = n_rows * cols;
        if (t.add == 0 && SameType(src.dtype, t.type)) {
          RETURN_IF_ERROR(Emit(sink, in_));
          continue;
        }
        out_.clear();
        if (t.add == 0 && ConvertHalves(src.dtype, t.type, in_, n, out_)) {
          RETURN_IF_ERROR(Emit(sink, out_));
          continue;
        }
        floats_.resize(n);
        Decode(src.dtype, in_.data(), n, floats_.data());
        if (t.add != 0) {
          for (float& f : floats_) {
            f += t.add;
            if (src.dtype == Dtype::kF16) f = HalfToFloat(FloatToHalf(f));  // added in half precision
          }
        }
        Encode(t.type, floats_.data(), n, out_);
        RETURN_IF_ERROR(Emit(sink, out_));
      }
    }
    return Status::Ok();
  }

 private:
  // BF16 -> F16 and F16 -> BF16 through a table of every 16-bit value (the
  // same bits as through float, 65536 entries made once). False for other pairs.
  static bool ConvertHalves(Dtype from, uint32_t to, const std::string& in, size_t n, std::string& out) {
    const uint16_t* table = nullptr;
    if (from == Dtype::kBF16 && to == kGgmlF16) {
      static const std::vector<uint16_t> kBf16ToF16 = [] {
        std::vector<uint16_t> t(65536);
        for (uint32_t i = 0; i < 65536; ++i) t[i] = FloatToHalf(Bf16ToFloat(static_cast<uint16_t>(i)));
        return t;
      }();
      table = kBf16ToF16.data();
    } else if (from == Dtype::kF16 && to == kGgmlBf16) {
      static const std::vector<uint16_t> kF16ToBf16 = [] {
        std::vector<uint16_t> t(65536);
        for (uint32_t i = 0; i < 65536; ++i) t[i] = FloatToBf16(HalfToFloat(static_cast<uint16_t>(i)));
        return t;
      }();
      table = kF16ToBf16.data();
    } else {
      return false;
    }
    out.resize(n * 2);
    const auto* src = reinterpret_cast<const unsigned char*>(in.data());
    auto* dst = reinterpret_cast<unsigned char*>(out.data());
    for (size_t i = 0; i < n; ++i) {
      const uint16_t v = table[src[2 * i] | (src[2 * i + 1] << 8)];
      dst[2 * i] = static_cast<unsigned char>(v & 0xff);
      dst[2 * i + 1] = static_cast<unsigned char>(v >> 8);
    }
    return true;
  }

  static constexpr uint64_t kChunk = 8ull << 20;
  Status Emit(gguf::TensorSink& sink, std::string_view bytes) {
    RETURN_IF_ERROR(sink.Write(bytes));
    done_ += bytes.size();
    if (o_.progress) return o_.progress(done_, total_);
    return Status::Ok();
  }
  const ConvertOptions& o_;
  uint64_t total_;
  uint64_t done_ = 0;
  ShardReader reader_;
  std::string in_, out_, permuted_;
  std::vector<float> floats_;
};

Result<std::string> ArchitectureOf(const HfCheckpoint& c) {
  const std::string cls = c.architecture_class();
  const std::string_view arch = GgufArchitecture(cls);
  if (arch.empty()) {
    return InvalidArgumentError(fmt::format(
        "architecture {} is not one Hangar converts (llama, Mistral, Qwen2, Qwen3, Qwen3-MoE, Gemma 2, Gemma 3, Phi-3)",
        cls.empty() ? "(none in config.json)" : cls));
  }
  return std::string(arch);
}

}  // namespace

Result<ConvertPlan> PlanConversion(const HfCheckpoint& c, const ConvertOptions& o) {
  ASSIGN_OR_RETURN(std::string arch, ArchitectureOf(c));
  gguf::GgufWriter w;
  ConvertPlan plan;
  Planner p(c, arch, o);
  RETURN_IF_ERROR(p.Plan(w, plan));
  return plan;
}

Result<ConvertPlan> ConvertCheckpoint(const HfCheckpoint& c, const fs::path& out, const ConvertOptions& o) {
  ASSIGN_OR_RETURN(std::string arch, ArchitectureOf(c));
  gguf::GgufWriter w;
  ConvertPlan plan;
  Planner p(c, arch, o);
  RETURN_IF_ERROR(p.Plan(w, plan));
  TensorStreamer streamer(o, plan.output_bytes);
  const std::vector<OutTensor>& tensors = p.tensors();
  RETURN_IF_ERROR(w.Write(out, [&](size_t i, gguf::TensorSink& sink) { return streamer.Stream(tensors[i], sink); }));
  return plan;
}

}  // namespace hangar::checkpoint
