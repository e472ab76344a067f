#include "mkmodel/model_writer.h"

#include <fmt/format.h>
#include <ggml.h>
#include <gguf.h>
#include <llama.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

#include "core/file_util.h"
#include "llamacpp/handles.h"
#include "llamacpp/log_capture.h"
#include "mkmodel/vocab.h"

namespace hangar::mkmodel {
namespace {

// About this many weights are generated per chunk (4 MiB of floats).
constexpr int64_t kChunkElements = int64_t{1} << 20;

struct GgufDeleter {
  void operator()(gguf_context* c) const { gguf_free(c); }
};
struct GgmlDeleter {
  void operator()(ggml_context* c) const { ggml_free(c); }
};
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using GgufPtr = std::unique_ptr<gguf_context, GgufDeleter>;
using GgmlPtr = std::unique_ptr<ggml_context, GgmlDeleter>;

// SplitMix64: a fast generator whose every output is a good hash of its state.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t HashName(const std::string& name) {
  uint64_t h = 0xCBF29CE484222325ULL;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

// Uniform values in [-a, a] with a = std·√3 (standard deviation `std`),
// determined by (seed, tensor, chunk) alone.
void FillUniform(uint64_t seed, uint64_t tensor_hash, uint64_t chunk, float std, float* out,
                 int64_t n) {
  uint64_t state = Mix(seed ^ Mix(tensor_hash ^ Mix(chunk)));
  const float scale = 2.0f * std * std::sqrt(3.0f) / 16777216.0f;  // 2a / 2^24
  const float offset = std * std::sqrt(3.0f);
  int64_t i = 0;
  for (; i + 1 < n; i += 2) {
    const uint64_t r = Mix(state++);
    out[i] = static_cast<float>(r >> 40) * scale - offset;
    out[i + 1] = static_cast<float>((r >> 8) & 0xFFFFFF) * scale - offset;
  }
  if (i < n) out[i] = static_cast<float>(Mix(state) >> 40) * scale - offset;
}

Status WriteError(const std::filesystem::path& path, int err) {
  return UnavailableError("cannot write " + path.string() + ": " + ErrnoText(err));
}

Status WriteAll(std::FILE* f, const void* data, size_t n, const std::filesystem::path& path) {
  if (n != 0 && std::fwrite(data, 1, n, f) != n) return WriteError(path, errno);
  return Status::Ok();
}

std::string KeyOf(const ModelShape& s, std::string_view suffix) {
  return fmt::format("{}.{}", s.arch->name, suffix);
}

// general.* and {arch}.* keys, as llama.cpp's converter writes them.
void SetModelKeys(gguf_context* g, const ModelShape& s, const std::string& name,
                  llama_ftype file_type) {
  const ArchTraits& a = *s.arch;
  auto u32 = [&](std::string_view key, uint32_t v) {
    gguf_set_val_u32(g, KeyOf(s, key).c_str(), v);
  };
  auto f32 = [&](std::string_view key, float v) { gguf_set_val_f32(g, KeyOf(s, key).c_str(), v); };

  gguf_set_val_str(g, "general.architecture", std::string(a.name).c_str());
  gguf_set_val_str(g, "general.type", "model");
  gguf_set_val_str(g, "general.name", name.c_str());
  gguf_set_val_u32(g, "general.file_type", static_cast<uint32_t>(file_type));
  gguf_set_val_u32(g, "general.quantization_version", GGML_QNT_VERSION);

  u32("context_length", s.ctx);
  u32("embedding_length", s.embd);
  u32("block_count", s.layers);
  u32("feed_forward_length", s.ff);
  u32("attention.head_count", s.heads);
  u32("attention.head_count_kv", s.kv_heads);
  u32("attention.key_length", s.head_dim);
  u32("attention.value_length", s.head_dim);
  f32("attention.layer_norm_rms_epsilon", a.rms_eps);
  f32("rope.freq_base", a.rope_freq_base);
  if (a.writes_rope_dims) u32("rope.dimension_count", s.head_dim);
  if (a.writes_vocab_size) u32("vocab_size", s.n_vocab);
  if (a.moe) {
    u32("expert_count", s.experts);
    u32("expert_used_count", s.experts_used);
    u32("expert_feed_forward_length", s.expert_ff);
  }
  if (s.sliding_window != 0) u32("attention.sliding_window", s.sliding_window);
  if (s.swa_pattern != 0) u32("attention.sliding_window_pattern", s.swa_pattern);
  if (a.attn_softcap != 0) f32("attn_logit_softcapping", a.attn_softcap);
  if (a.final_softcap != 0) f32("final_logit_softcapping", a.final_softcap);
}

// Generates and writes one tensor's data in chunks of whole rows, `threads`
// chunks at a time, in file order.
// Shifts generated embedding and output rows for ModelShape::follows: pair
// i gives its first token's embedding a large component i, which dominates
// the final hidden state at that token (the layers add little), and its
// second token's output row the largest weight along it.
void ApplyFollows(const TensorPlan& t, const ModelShape& shape, const ModelSpec& spec, int64_t row0,
                  int64_t n_rows, float* rows) {
  const bool embedding = t.name == "token_embd.weight";
  const bool output = t.name == "output.weight";  // never tied with follows (model_spec.cc)
  if (!embedding && !output) return;
  const int64_t width = t.ne[0];
  for (size_t i = 0; i < shape.follows.size(); ++i) {
    const auto [after, next] = shape.follows[i];
    if (embedding && after >= row0 && after < row0 + n_rows) {
      rows[(after - row0) * width + static_cast<int64_t>(i)] += 50.0f * spec.init_std;
    }
    if (output && next >= row0 && next < row0 + n_rows) {
      rows[(next - row0) * width + static_cast<int64_t>(i)] += 200.0f * spec.init_std;
    }
  }
}

Status StreamTensor(std::FILE* f, const std::filesystem::path& path, const TensorPlan& t,
                    ggml_type type, const ModelShape& shape, const ModelSpec& spec, int threads) {
  const int64_t per_row = t.ne[0];
  const int64_t rows = t.ne[1] * t.ne[2];
  const size_t row_bytes = ggml_row_size(type, per_row);
  const int64_t rows_per_chunk = std::max<int64_t>(1, kChunkElements / per_row);
  const int64_t n_chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  const uint64_t name_hash = HashName(t.name);

  auto make_chunk = [&](int64_t chunk, std::vector<float>& scratch, std::vector<uint8_t>& out) {
    const int64_t row0 = chunk * rows_per_chunk;
    const int64_t n_rows = std::min(rows_per_chunk, rows - row0);
    const int64_t n = n_rows * per_row;
    scratch.resize(static_cast<size_t>(n));
    if (t.fill == Fill::kOnes) {
      std::fill(scratch.begin(), scratch.end(), 1.0f);
    } else {
      FillUniform(spec.seed, name_hash, static_cast<uint64_t>(chunk), spec.init_std, scratch.data(),
                  n);
      ApplyFollows(t, shape, spec, row0, n_rows, scratch.data());
    }
    out.resize(row_bytes * static_cast<size_t>(n_rows));
    ggml_quantize_chunk(type, scratch.data(), out.data(), 0, n_rows, per_row, nullptr);
  };

  const int64_t window = std::max<int64_t>(1, threads) * 2;
  std::vector<std::vector<uint8_t>> outs(static_cast<size_t>(std::min(window, n_chunks)));
  std::vector<std::vector<float>> scratch(static_cast<size_t>(std::max(1, threads)));
  for (int64_t first = 0; first < n_chunks; first += window) {
    const int64_t count = std::min(window, n_chunks - first);
    const int workers = static_cast<int>(std::min<int64_t>(threads, count));
    if (workers <= 1) {
      for (int64_t i = 0; i < count; ++i) make_chunk(first + i, scratch[0], outs[i]);
    } else {
      std::atomic<int64_t> next{0};
      std::vector<std::jthread> pool;
      for (int w = 0; w < workers; ++w) {
        pool.emplace_back([&, w] {
          for (int64_t i = next++; i < count; i = next++) {
            make_chunk(first + i, scratch[static_cast<size_t>(w)], outs[static_cast<size_t>(i)]);
          }
        });
      }
    }  // the pool joins here
    for (int64_t i = 0; i < count; ++i) {
      RETURN_IF_ERROR(WriteAll(f, outs[i].data(), outs[i].size(), path));
    }
  }
  return Status::Ok();
}

// Writes `shape` with every weight matrix in `type`'s stored type (F16 for a
// K-quant mix) to `path`.
Status WriteGguf(const ModelShape& shape, const std::vector<TensorPlan>& tensors,
                 const Vocab& vocab, const ModelSpec& spec, const std::string& name,
                 llama_ftype file_type, const std::filesystem::path& path) {
  GgufPtr g(gguf_init_empty());
  SetModelKeys(g.get(), shape, name, file_type);
  vocab.CopyTokenizerTo(g.get());
  if (!spec.chat_template.empty()) {
    gguf_set_val_str(g.get(), "tokenizer.chat_template", spec.chat_template.c_str());
  }

  ggml_init_params params{.mem_size = (tensors.size() + 1) * ggml_tensor_overhead(),
                          .mem_buffer = nullptr,
                          .no_alloc = true};
  GgmlPtr ctx(ggml_init(params));
  if (!ctx) return InternalError("ggml_init failed for the tensor descriptions");
  std::vector<ggml_type> types;
  for (const TensorPlan& t : tensors) {
    const ggml_type type = StoredType(t, shape.type);
    types.push_back(type);
    ggml_tensor* tensor = ggml_new_tensor(ctx.get(), type, t.n_dims, t.ne.data());
    ggml_set_name(tensor, t.name.c_str());
    gguf_add_tensor(g.get(), tensor);
  }

  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "wb"));
  if (!file) return WriteError(path, errno);
  std::vector<uint8_t> meta(gguf_get_meta_size(g.get()));
  gguf_get_meta_data(g.get(), meta.data());
  RETURN_IF_ERROR(WriteAll(file.get(), meta.data(), meta.size(), path));

  const int threads = spec.threads > 0
                          ? spec.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const size_t alignment = gguf_get_alignment(g.get());
  const std::vector<uint8_t> zeros(alignment, 0);
  for (size_t i = 0; i < tensors.size(); ++i) {
    RETURN_IF_ERROR(StreamTensor(file.get(), path, tensors[i], types[i], shape, spec, threads));
    const size_t bytes =
        ggml_row_size(types[i], tensors[i].ne[0]) * tensors[i].ne[1] * tensors[i].ne[2];
    const size_t pad = (alignment - bytes % alignment) % alignment;
    RETURN_IF_ERROR(WriteAll(file.get(), zeros.data(), pad, path));
  }
  if (std::fclose(file.release()) != 0) return WriteError(path, errno);
  return Status::Ok();
}

// Runs llama.cpp's quantizer from `in` (F16) to `out` with the mix `type`.
Status Quantize(const std::filesystem::path& in, const std::filesystem::path& out,
                const WeightType& type, int threads) {
  llamacpp::InitBackend();
  llamacpp::LogCapture capture;
  llama_model_quantize_params params = llama_model_quantize_default_params();
  params.ftype = type.file_type;
  params.nthread = threads;
  if (llama_model_quantize(in.c_str(), out.c_str(), &params) != 0) {
    return InternalError(fmt::format("llama_model_quantize to {} failed for {}: {}", type.name,
                                     in.string(), capture.Reason()));
  }
  return Status::Ok();
}

// Tensor type counts of the GGUF file at `path`.
Result<std::map<std::string, int>> ReadTensorTypes(const std::filesystem::path& path) {
  gguf_init_params params{.no_alloc = true, .ctx = nullptr};
  GgufPtr g(gguf_init_from_file(path.c_str(), params));
  if (!g) return DataLossError("cannot read back the GGUF header of " + path.string());
  std::map<std::string, int> types;
  for (int64_t i = 0; i < gguf_get_n_tensors(g.get()); ++i) {
    ++types[ggml_type_name(gguf_get_tensor_type(g.get(), i))];
  }
  return types;
}

void RemoveQuietly(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

struct Plan {
  ModelFacts facts;
  Vocab vocab;
  std::vector<TensorPlan> tensors;
};

Result<Plan> MakePlan(const ModelSpec& spec) {
  ASSIGN_OR_RETURN(const ArchTraits* arch, FindArch(spec.arch));
  const std::filesystem::path dir = spec.vocab_dir.empty() ? DefaultVocabDir() : spec.vocab_dir;
  ASSIGN_OR_RETURN(Vocab vocab,
                   Vocab::Open(spec.vocab.empty() ? arch->default_vocab : spec.vocab, dir));
  ASSIGN_OR_RETURN(ModelShape shape, ResolveShape(spec, vocab.n_tokens(), vocab.metadata_bytes()));
  if (spec.follows.size() > shape.embd / 2) {
    return InvalidArgumentError(
        fmt::format("{} token pairs need an embedding width of at least {}", spec.follows.size(),
                    2 * spec.follows.size()));
  }
  for (const auto& [after, next] : spec.follows) {
    int64_t ids[2];
    for (int k = 0; k < 2; ++k) {
      const std::string& text = k == 0 ? after : next;
      std::optional<uint32_t> id = vocab.FindToken(text);
      if (!id) {
        std::string shown;
        for (char c : text) shown += c == '\n' ? std::string("\\n") : std::string(1, c);
        return InvalidArgumentError(
            fmt::format("no token of the {} vocabulary is \"{}\"", vocab.name(), shown));
      }
      ids[k] = *id;
    }
    shape.follows.emplace_back(ids[0], ids[1]);
  }
  ModelFacts facts;
  facts.arch = std::string(shape.arch->name);
  facts.type = std::string(shape.type.name);
  facts.name = spec.name.empty() ? fmt::format("mkmodel {} {}", facts.arch, facts.type) : spec.name;
  facts.vocab = vocab.name();
  facts.vocab_path = vocab.path();
  facts.shape = shape;
  facts.seed = spec.seed;
  facts.n_params = CountParams(shape);
  facts.bytes = EstimateFileBytes(shape, vocab.metadata_bytes());
  std::vector<TensorPlan> tensors = PlanTensors(shape);
  facts.n_tensors = tensors.size();
  for (const TensorPlan& t : tensors)
    ++facts.tensor_types[ggml_type_name(StoredType(t, shape.type))];
  return Plan{std::move(facts), std::move(vocab), std::move(tensors)};
}

}  // namespace

Result<ModelFacts> PlanModel(const ModelSpec& spec) {
  ASSIGN_OR_RETURN(Plan plan, MakePlan(spec));
  return std::move(plan.facts);
}

Result<ModelFacts> WriteModel(const ModelSpec& spec, const std::filesystem::path& out) {
  ASSIGN_OR_RETURN(Plan plan, MakePlan(spec));
  ModelFacts& facts = plan.facts;
  const ModelShape& shape = facts.shape;
  facts.path = out;

  std::error_code ec;
  if (out.has_parent_path()) {
    std::filesystem::create_directories(out.parent_path(), ec);
    if (ec) {
      return UnavailableError("cannot create folder " + out.parent_path().string() + ": " +
                              ec.message());
    }
  }
  const std::filesystem::path partial = out.string() + ".partial";
  const int threads = spec.threads > 0
                          ? spec.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  if (shape.type.via_quantize) {
    const std::filesystem::path f16 = out.string() + ".f16.partial";
    Status s =
        WriteGguf(shape, plan.tensors, plan.vocab, spec, facts.name, LLAMA_FTYPE_MOSTLY_F16, f16);
    if (s.ok()) s = Quantize(f16, partial, shape.type, threads);
    RemoveQuietly(f16);
    if (!s.ok()) {
      RemoveQuietly(partial);
      return s;
    }
  } else {
    Status s =
        WriteGguf(shape, plan.tensors, plan.vocab, spec, facts.name, shape.type.file_type, partial);
    if (!s.ok()) {
      RemoveQuietly(partial);
      return s;
    }
  }

  Result<std::map<std::string, int>> types = ReadTensorTypes(partial);
  if (!types.ok()) {
    RemoveQuietly(partial);
    return types.status();
  }
  facts.tensor_types = std::move(types).value();
  std::filesystem::rename(partial, out, ec);
  if (ec) {
    RemoveQuietly(partial);
    return UnavailableError("cannot rename " + partial.string() + " to " + out.string() + ": " +
                            ec.message());
  }
  facts.bytes = std::filesystem::file_size(out, ec);
  return std::move(facts);
}

}  // namespace hangar::mkmodel
