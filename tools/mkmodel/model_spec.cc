#include "mkmodel/model_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace hangar::mkmodel {
namespace {

ArchTraits MakeLlama() {
  ArchTraits t{.arch = Arch::kLlama, .name = "llama", .default_vocab = "llama-bpe"};
  t.writes_vocab_size = true;
  t.writes_rope_dims = true;
  t.rope_freq_base = 500000.0f;
  return t;
}

ArchTraits MakeQwen2() {
  ArchTraits t{.arch = Arch::kQwen2, .name = "qwen2", .default_vocab = "qwen2"};
  t.qkv_bias = true;
  t.attn_width_is_embd = true;
  t.rope_freq_base = 1000000.0f;
  t.rms_eps = 1e-6f;
  return t;
}

ArchTraits MakeQwen3(bool moe) {
  ArchTraits t{.arch = moe ? Arch::kQwen3Moe : Arch::kQwen3,
               .name = moe ? "qwen3moe" : "qwen3",
               .default_vocab = "qwen2"};
  t.moe = moe;
  t.qk_norm = true;
  t.rope_freq_base = 1000000.0f;
  t.rms_eps = 1e-6f;
  return t;
}

ArchTraits MakeGemma2() {
  ArchTraits t{.arch = Arch::kGemma2, .name = "gemma2", .default_vocab = "llama-spm"};
  t.post_norms = true;
  t.tied_by_default = true;
  t.always_tied = true;
  t.sliding_window = 4096;
  t.attn_softcap = 50.0f;
  t.final_softcap = 30.0f;
  t.rms_eps = 1e-6f;
  return t;
}

ArchTraits MakeGemma3() {
  ArchTraits t{.arch = Arch::kGemma3, .name = "gemma3", .default_vocab = "llama-spm"};
  t.qk_norm = true;
  t.post_norms = true;
  t.tied_by_default = true;
  t.sliding_window = 512;
  t.rope_freq_base = 1000000.0f;
  t.rms_eps = 1e-6f;
  return t;
}

ArchTraits MakePhi3() {
  ArchTraits t{.arch = Arch::kPhi3, .name = "phi3", .default_vocab = "phi-3"};
  t.fused_qkv = true;
  t.fused_gate_up = true;
  t.attn_width_is_embd = true;
  t.writes_rope_dims = true;
  return t;
}

const std::vector<ArchTraits>& Archs() {
  static const std::vector<ArchTraits> archs = {MakeLlama(),     MakeQwen2(),  MakeQwen3(false),
                                                MakeQwen3(true), MakeGemma2(), MakeGemma3(),
                                                MakePhi3()};
  return archs;
}

constexpr uint32_t kDefaultLayers = 2;
constexpr uint32_t kDefaultEmbd = 128;
constexpr uint32_t kDefaultCtx = 4096;
constexpr uint32_t kDefaultExperts = 8;
constexpr uint32_t kDefaultExpertsUsed = 2;
constexpr uint32_t kMaxLayers = 512;    // LLAMA_MAX_LAYERS
constexpr uint32_t kMaxExperts = 1024;  // LLAMA_MAX_EXPERTS
// Widths tried when fitting a target size, as real models use them.
constexpr uint32_t kWidths[] = {64,   128,  256,  384,  512,  768,  1024, 1536,
                                2048, 2560, 3072, 4096, 5120, 6144, 8192};

uint32_t RoundUp(uint64_t v, uint32_t quantum) {
  return static_cast<uint32_t>((v + quantum - 1) / quantum * quantum);
}

// kv heads as grouped-query models choose them: a quarter, or half, of the heads.
uint32_t DefaultKvHeads(uint32_t heads) {
  if (heads >= 8 && heads % 4 == 0) return heads / 4;
  if (heads >= 2 && heads % 2 == 0) return heads / 2;
  return heads;
}

// Fills the width-dependent fields of `shape` from `spec` for width `embd`:
// what the spec fixes is kept, the rest follows common model proportions.
void FillWidth(const ModelSpec& spec, uint32_t embd, ModelShape* shape) {
  shape->embd = embd;
  if (spec.head_dim != 0) {
    shape->head_dim = spec.head_dim;
  } else if (spec.heads != 0) {
    shape->head_dim = std::max<uint32_t>(1, embd / spec.heads);
  } else {
    shape->head_dim = embd >= 1024 ? 128 : embd >= 256 ? 64 : 32;
    shape->head_dim = std::min(shape->head_dim, embd);
  }
  shape->heads = spec.heads != 0 ? spec.heads : std::max<uint32_t>(1, embd / shape->head_dim);
  shape->kv_heads = spec.kv_heads != 0 ? spec.kv_heads : DefaultKvHeads(shape->heads);
  // Multiples of the weight type's block (256 for K-quants) keep every row quantizable.
  const uint32_t quantum =
      std::max<uint32_t>(32, static_cast<uint32_t>(ggml_blck_size(shape->type.tensor_type)));
  shape->ff = spec.ff != 0 ? spec.ff : RoundUp(uint64_t{embd} * 8 / 3, quantum);
  if (shape->arch->moe) {
    shape->experts = spec.experts != 0 ? spec.experts : kDefaultExperts;
    shape->experts_used =
        spec.experts_used != 0 ? spec.experts_used : std::min(kDefaultExpertsUsed, shape->experts);
    shape->expert_ff = spec.expert_ff != 0 ? spec.expert_ff
                                           : RoundUp(std::max<uint32_t>(1, embd * 3 / 8), quantum);
  }
}

Status ValidateShape(const ModelShape& s) {
  const std::string_view arch = s.arch->name;
  if (s.layers < 1 || s.layers > kMaxLayers) {
    return InvalidArgumentError(fmt::format("layers must be 1..{}, got {}", kMaxLayers, s.layers));
  }
  if (s.embd < 1 || s.heads < 1 || s.kv_heads < 1 || s.ff < 1 || s.ctx < 1) {
    return InvalidArgumentError("embd, heads, kv-heads, ff and ctx must be positive");
  }
  if (s.head_dim < 2 || s.head_dim % 2 != 0) {
    return InvalidArgumentError(fmt::format(
        "head-dim must be even and at least 2 (rotary embeddings), got {}", s.head_dim));
  }
  if (s.kv_heads > s.heads || s.heads % s.kv_heads != 0) {
    return InvalidArgumentError(
        fmt::format("kv-heads ({}) must divide heads ({}); choose e.g. --kv-heads {}", s.kv_heads,
                    s.heads, DefaultKvHeads(s.heads)));
  }
  if (s.arch->attn_width_is_embd && s.heads * s.head_dim != s.embd) {
    return InvalidArgumentError(fmt::format(
        "{} needs heads × head-dim = embd, got {} × {} ≠ {}; change --heads or --head-dim", arch,
        s.heads, s.head_dim, s.embd));
  }
  if (s.arch->moe) {
    if (s.experts < 1 || s.experts > kMaxExperts) {
      return InvalidArgumentError(
          fmt::format("experts must be 1..{}, got {}", kMaxExperts, s.experts));
    }
    if (s.experts_used < 1 || s.experts_used > s.experts) {
      return InvalidArgumentError(fmt::format(
          "experts-used must be 1..{} (the expert count), got {}", s.experts, s.experts_used));
    }
    if (s.expert_ff < 1) return InvalidArgumentError("expert-ff must be positive");
  }
  return Status::Ok();
}

// Estimated bytes of `shape` with `layers` layers.
uint64_t BytesWithLayers(ModelShape shape, uint32_t layers, uint64_t vocab_meta_bytes) {
  shape.layers = layers;
  return EstimateFileBytes(shape, vocab_meta_bytes);
}

uint64_t Distance(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

// Picks width and depth for spec.target_bytes (keeping what the spec fixes),
// then tunes the feed-forward size to close the remaining gap.
Status FitTarget(const ModelSpec& spec, uint64_t vocab_meta_bytes, ModelShape* shape) {
  const uint64_t target = spec.target_bytes;
  std::vector<uint32_t> widths;
  if (spec.embd != 0) {
    widths.push_back(spec.embd);
  } else {
    widths.assign(std::begin(kWidths), std::end(kWidths));
  }

  struct Candidate {
    ModelShape shape;
    uint64_t bytes;
    bool deep_enough;
  };
  std::vector<Candidate> candidates;
  for (uint32_t embd : widths) {
    ModelShape c = *shape;
    FillWidth(spec, embd, &c);
    c.layers = 1;
    if (!ValidateShape(c).ok()) continue;
    if (spec.layers != 0) {
      c.layers = spec.layers;
    } else {
      const uint64_t one = BytesWithLayers(c, 1, vocab_meta_bytes);
      const uint64_t per_layer = BytesWithLayers(c, 2, vocab_meta_bytes) - one;
      const double fixed = static_cast<double>(one) - static_cast<double>(per_layer);
      const double layers = std::round((static_cast<double>(target) - fixed) / per_layer);
      c.layers = static_cast<uint32_t>(std::clamp(layers, 1.0, double{kMaxLayers}));
    }
    // Real models are at least about width/128 layers deep (2048 → 16, 4096 → 32).
    const bool deep_enough = c.layers >= std::max<uint32_t>(2, embd / 128);
    candidates.push_back({c, EstimateFileBytes(c, vocab_meta_bytes), deep_enough});
  }
  if (candidates.empty()) {
    // Every width failed validation: report the first one's reason.
    ModelShape c = *shape;
    FillWidth(spec, widths.front(), &c);
    c.layers = std::max<uint32_t>(1, spec.layers);
    return ValidateShape(c);
  }

  const Candidate* best = nullptr;
  if (spec.layers == 0) {
    for (const Candidate& c : candidates) {
      if (c.deep_enough) best = &c;  // widths ascend: keep the widest
    }
  }
  if (best == nullptr) {
    for (const Candidate& c : candidates) {
      if (best == nullptr || Distance(c.bytes, target) < Distance(best->bytes, target)) best = &c;
    }
  }
  *shape = best->shape;

  // Tune ff (or expert_ff) linearly; multiples of the type's block keep every
  // row quantizable.
  uint32_t* tuned = shape->arch->moe ? (spec.expert_ff == 0 ? &shape->expert_ff : nullptr)
                                     : (spec.ff == 0 ? &shape->ff : nullptr);
  if (tuned != nullptr) {
    const uint32_t quantum =
        std::max<uint32_t>(32, static_cast<uint32_t>(ggml_blck_size(shape->type.tensor_type)));
    const uint32_t base = *tuned;
    ModelShape probe = *shape;
    const uint64_t at_base = EstimateFileBytes(probe, vocab_meta_bytes);
    *(shape->arch->moe ? &probe.expert_ff : &probe.ff) = base + 8 * quantum;
    const uint64_t at_more = EstimateFileBytes(probe, vocab_meta_bytes);
    const double slope = static_cast<double>(at_more - at_base) / (8.0 * quantum);
    if (slope > 0) {
      const double want =
          base + (static_cast<double>(target) - static_cast<double>(at_base)) / slope;
      const double lower = static_cast<double>(quantum);
      const double upper = std::max(16.0 * shape->embd, lower);
      const double rounded = std::round(want / lower) * lower;
      *tuned = static_cast<uint32_t>(std::clamp(rounded, lower, upper));
    }
  }

  const uint64_t bytes = EstimateFileBytes(*shape, vocab_meta_bytes);
  if (bytes > target + target / 2) {
    return InvalidArgumentError(fmt::format(
        "target size {} bytes is too small: the smallest {} model of type {} with this "
        "vocabulary ({} tokens) takes about {} bytes; ask for a larger size or a smaller "
        "vocabulary (e.g. --vocab llama-spm)",
        target, shape->arch->name, shape->type.name, shape->n_vocab, bytes));
  }
  if (bytes < target / 2) {
    return InvalidArgumentError(fmt::format(
        "target size {} bytes is out of reach with the fixed parameters: the model takes about "
        "{} bytes; leave --layers/--embd unset or change them",
        target, bytes));
  }
  return Status::Ok();
}

}  // namespace

std::span<const ArchTraits> AllArchs() { return Archs(); }

Result<const ArchTraits*> FindArch(std::string_view name) {
  for (const ArchTraits& a : Archs()) {
    if (a.name == name) return &a;
  }
  return InvalidArgumentError("unknown architecture \"" + std::string(name) + "\"; choose one of " +
                              ArchNames());
}

std::string ArchNames() {
  std::string out;
  for (const ArchTraits& a : Archs()) {
    if (!out.empty()) out += ", ";
    out += a.name;
  }
  return out;
}

Result<ModelShape> ResolveShape(const ModelSpec& spec, uint32_t n_vocab,
                                uint64_t vocab_meta_bytes) {
  ModelShape shape;
  ASSIGN_OR_RETURN(shape.arch, FindArch(spec.arch));
  ASSIGN_OR_RETURN(shape.type, ParseWeightType(spec.type));
  const ArchTraits& arch = *shape.arch;
  if (n_vocab == 0) return InvalidArgumentError("the vocabulary has no tokens");
  if (!arch.moe && (spec.experts != 0 || spec.experts_used != 0 || spec.expert_ff != 0)) {
    return InvalidArgumentError(fmt::format(
        "{} is a dense architecture and has no experts; use qwen3moe for a mixture of experts",
        arch.name));
  }
  if (arch.sliding_window == 0 && (spec.sliding_window != 0 || spec.swa_pattern != 0)) {
    return InvalidArgumentError(
        fmt::format("{} has no sliding-window attention; use gemma2 or gemma3", arch.name));
  }
  if (arch.always_tied && spec.tie_embeddings == false) {
    return InvalidArgumentError(fmt::format(
        "{} always shares token_embd with the output; drop --no-tie-embeddings", arch.name));
  }
  if (!(spec.init_std > 0.0f) || !std::isfinite(spec.init_std)) {
    return InvalidArgumentError(fmt::format("init-std must be positive, got {}", spec.init_std));
  }
  shape.n_vocab = n_vocab;
  shape.ctx = spec.ctx != 0 ? spec.ctx : kDefaultCtx;
  // Token pairs need output rows of their own (model_writer.cc).
  if (!spec.follows.empty() && (arch.always_tied || spec.tie_embeddings == true)) {
    return InvalidArgumentError(fmt::format(
        "--follow needs an output matrix apart from token_embd; {}",
        arch.always_tied ? fmt::format("{} always shares them", arch.name)
                         : std::string("drop --tie-embeddings")));
  }
  shape.tied = spec.follows.empty() && spec.tie_embeddings.value_or(arch.tied_by_default);
  shape.sliding_window = spec.sliding_window != 0 ? spec.sliding_window : arch.sliding_window;
  shape.swa_pattern = spec.swa_pattern;

  if (spec.target_bytes != 0) {
    RETURN_IF_ERROR(FitTarget(spec, vocab_meta_bytes, &shape));
  } else {
    FillWidth(spec, spec.embd != 0 ? spec.embd : kDefaultEmbd, &shape);
    shape.layers = spec.layers != 0 ? spec.layers : kDefaultLayers;
  }
  RETURN_IF_ERROR(ValidateShape(shape));
  return shape;
}

std::vector<TensorPlan> PlanTensors(const ModelShape& s) {
  const ArchTraits& a = *s.arch;
  std::vector<TensorPlan> out;
  auto add = [&out](std::string name, std::initializer_list<int64_t> ne, Fill fill, bool f32) {
    TensorPlan t;
    t.name = std::move(name);
    t.n_dims = static_cast<int>(ne.size());
    std::copy(ne.begin(), ne.end(), t.ne.begin());
    t.fill = fill;
    t.keep_f32 = f32;
    out.push_back(std::move(t));
  };
  auto weight = [&add](std::string name, std::initializer_list<int64_t> ne) {
    add(std::move(name), ne, Fill::kRandom, false);
  };
  auto norm = [&add](std::string name, int64_t n) { add(std::move(name), {n}, Fill::kOnes, true); };

  const int64_t embd = s.embd;
  const int64_t q_width = int64_t{s.heads} * s.head_dim;
  const int64_t kv_width = int64_t{s.kv_heads} * s.head_dim;

  weight("token_embd.weight", {embd, s.n_vocab});
  norm("output_norm.weight", embd);
  if (!s.tied) weight("output.weight", {embd, s.n_vocab});

  for (uint32_t i = 0; i < s.layers; ++i) {
    const std::string p = fmt::format("blk.{}.", i);
    norm(p + "attn_norm.weight", embd);
    if (a.fused_qkv) {
      weight(p + "attn_qkv.weight", {embd, q_width + 2 * kv_width});
    } else {
      weight(p + "attn_q.weight", {embd, q_width});
      weight(p + "attn_k.weight", {embd, kv_width});
      weight(p + "attn_v.weight", {embd, kv_width});
    }
    if (a.qkv_bias) {
      add(p + "attn_q.bias", {q_width}, Fill::kRandom, true);
      add(p + "attn_k.bias", {kv_width}, Fill::kRandom, true);
      add(p + "attn_v.bias", {kv_width}, Fill::kRandom, true);
    }
    if (a.qk_norm) {
      norm(p + "attn_q_norm.weight", s.head_dim);
      norm(p + "attn_k_norm.weight", s.head_dim);
    }
    weight(p + "attn_output.weight", {q_width, embd});
    if (a.post_norms) norm(p + "post_attention_norm.weight", embd);
    norm(p + "ffn_norm.weight", embd);
    if (a.moe) {
      add(p + "ffn_gate_inp.weight", {embd, s.experts}, Fill::kRandom, true);
      weight(p + "ffn_gate_exps.weight", {embd, s.expert_ff, s.experts});
      weight(p + "ffn_up_exps.weight", {embd, s.expert_ff, s.experts});
      weight(p + "ffn_down_exps.weight", {s.expert_ff, embd, s.experts});
    } else if (a.fused_gate_up) {
      weight(p + "ffn_up.weight", {embd, 2 * int64_t{s.ff}});
      weight(p + "ffn_down.weight", {s.ff, embd});
    } else {
      weight(p + "ffn_gate.weight", {embd, s.ff});
      weight(p + "ffn_up.weight", {embd, s.ff});
      weight(p + "ffn_down.weight", {s.ff, embd});
    }
    if (a.post_norms) norm(p + "post_ffw_norm.weight", embd);
  }
  return out;
}

ggml_type StoredType(const TensorPlan& tensor, const WeightType& type) {
  if (tensor.keep_f32) return GGML_TYPE_F32;
  const ggml_type want = type.via_quantize ? GGML_TYPE_F16 : type.tensor_type;
  if (tensor.ne[0] % ggml_blck_size(want) != 0) return GGML_TYPE_F16;
  return want;
}

uint64_t EstimateFileBytes(const ModelShape& shape, uint64_t vocab_meta_bytes) {
  constexpr uint64_t kAlign = 32;  // GGUF default alignment
  const std::vector<TensorPlan> tensors = PlanTensors(shape);
  // Header, architecture keys and tensor infos: a few hundred bytes each.
  uint64_t bytes = vocab_meta_bytes + 2048 + 96 * tensors.size();
  for (const TensorPlan& t : tensors) {
    uint64_t n;
    if (shape.type.via_quantize && !t.keep_f32) {
      n = static_cast<uint64_t>(std::ceil(t.elements() * shape.type.bits_per_weight / 8.0));
    } else {
      n = ggml_row_size(StoredType(t, shape.type), t.ne[0]) * t.ne[1] * t.ne[2];
    }
    bytes += (n + kAlign - 1) / kAlign * kAlign;
  }
  return bytes;
}

uint64_t CountParams(const ModelShape& shape) {
  uint64_t n = 0;
  for (const TensorPlan& t : PlanTensors(shape)) n += static_cast<uint64_t>(t.elements());
  return n;
}

}  // namespace hangar::mkmodel
