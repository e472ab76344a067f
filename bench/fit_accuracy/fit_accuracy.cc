// fit_accuracy: how close Hangar's memory probe and estimator come to what
// llama.cpp really allocates, next to two published estimators.
//
//   fit_accuracy [--ctx 2048,8192,32768] [--json FILE] MODEL.gguf...
//     For every model × context × KV cache type (f16, q8_0) × flash attention
//     (off, on): the probe (fit/probe.h) and the estimator (fit/estimator.h)
//     in this process, and the real allocation in a child process (this
//     program's `cell` mode). Prints a markdown table.
//   fit_accuracy cell MODEL CTX KV FA
//     Loads MODEL for real (weights mapped, buffers allocated), creates the
//     context, decodes a short batch and prints one JSON line with
//     llama_get_memory_breakdown's totals, or the reason llama.cpp refused.
//
// "Real" is model + context + compute bytes of the real breakdown plus the
// logits buffer (n_vocab × 4, which llama.cpp allocates but does not report);
// the probe and the estimator are compared on the same sum (their `other`,
// the runtime's own memory, is left out). RSS is the child's peak resident
// set (ru_maxrss): CPU buffers are committed lazily, so after one short decode
// it stays below the allocation, while mapped weights count in full.
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "core/units.h"
#include "fit/estimator.h"
#include "fit/memory.h"
#include "fit/probe.h"
#include "gguf/ggml_types.h"
#include "gguf/parser.h"
#include "gguf/summary.h"
#include "llama-ext.h"
#include "llama.h"
#include "llamacpp/handles.h"
#include "llamacpp/log_capture.h"
#include "llamacpp/types.h"

namespace hangar::fit {
namespace {

constexpr int kDecodeTokens = 16;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Milliseconds to estimate `count` catalog entries (the built-in GGUF
// entries, cycled), the best of `rounds` rounds.
double CatalogEstimateMs(size_t count, int rounds) {
  std::vector<const CatalogEntry*> entries;
  for (const CatalogEntry& e : BuiltinCatalog()) {
    if (e.format == ModelFormat::kGguf && e.arch.block_count > 0) entries.push_back(&e);
  }
  MemoryRequest request;
  request.n_ctx = 8192;
  double best = 1e9;
  uint64_t sink = 0;
  for (int r = 0; r < rounds; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < count; ++i) {
      Result<MemoryBreakdown> b = Estimate(*entries[i % entries.size()], request);
      if (b.ok()) sink += b->HostTotal();
    }
    best = std::min(best, Seconds(start) * 1000);
  }
  if (sink == 1) std::puts("");  // keeps the loop from being optimised away
  return best;
}

// The child: one real load, one decode, one JSON line on stdout.
int RunCell(const std::string& model, uint32_t n_ctx, const std::string& kv, bool fa) {
  // llama.cpp's error lines, for the reason a cell is not applicable.
  llamacpp::LogCapture capture;
  nlohmann::json out;
  llama_model_params mp = llama_model_default_params();
  llamacpp::ModelPtr m = llamacpp::LoadModel(model, mp);
  if (m == nullptr) {
    out = {{"ok", false}, {"error", "model load failed"}};
    std::puts(out.dump().c_str());
    return 0;
  }
  Result<uint32_t> type_id = CacheTypeId(CacheType{kv});
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = n_ctx;
  cp.n_batch = 2048;
  cp.n_ubatch = 512;
  cp.n_seq_max = 1;
  cp.type_k = llamacpp::ToGgmlType(type_id.value_or(1)).value_or(GGML_TYPE_F16);
  cp.type_v = cp.type_k;
  cp.flash_attn_type = llamacpp::FlashAttnType(fa);
  cp.swa_full = false;
  llamacpp::ContextPtr ctx = llamacpp::NewContext(m.get(), cp);
  if (ctx == nullptr) {
    // "llama_init_from_model: failed to initialize the context: REASON"
    const std::string& errors = capture.errors();
    const size_t colon = errors.rfind(": ");
    std::string reason = colon == std::string::npos ? errors : errors.substr(colon + 2);
    out = {{"ok", false}, {"error", reason.empty() ? "context refused" : reason}};
    std::puts(out.dump().c_str());
    return 0;
  }
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(m.get()));
  int rc = 0;
  {
    llamacpp::Batch batch(kDecodeTokens, 1);
    for (int i = 0; i < kDecodeTokens; ++i) {
      batch->token[i] = (i * 7919 + 11) % n_vocab;
      batch->pos[i] = i;
      batch->n_seq_id[i] = 1;
      batch->seq_id[i][0] = 0;
      batch->logits[i] = i == kDecodeTokens - 1;
    }
    batch->n_tokens = kDecodeTokens;
    rc = llama_decode(ctx.get(), batch.get());
  }
  uint64_t model_bytes = 0, context_bytes = 0, compute_bytes = 0;
  for (const auto& [buft, mb] : llama_get_memory_breakdown(ctx.get())) {
    model_bytes += mb.model;
    context_bytes += mb.context;
    compute_bytes += mb.compute;
  }
  out = {{"ok", rc == 0},
         {"error", rc == 0 ? "" : fmt::format("decode returned {}", rc)},
         {"model", model_bytes},
         {"context", context_bytes},
         {"compute", compute_bytes},
         {"output", uint64_t(n_vocab) * 4}};
  std::puts(out.dump().c_str());
  std::fflush(stdout);
  return 0;
}

struct Real {
  bool ok = false;
  std::string error;
  uint64_t total = 0;
  uint64_t rss = 0;
};

// Runs this program's cell mode in a child and reads its line and peak RSS.
Real RunChild(const std::string& model, uint32_t n_ctx, const std::string& kv, bool fa) {
  Real real;
  int fds[2];
  if (pipe(fds) != 0) return {false, "pipe failed", 0, 0};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    const std::string ctx = std::to_string(n_ctx);
    execl("/proc/self/exe", "fit_accuracy", "cell", model.c_str(), ctx.c_str(), kv.c_str(),
          fa ? "on" : "off", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  real.rss = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.contains("ok")) {
    real.error = fmt::format("child exited with status {}", status);
    return real;
  }
  real.ok = j["ok"].get<bool>();
  real.error = j.value("error", "");
  if (real.ok) {
    real.total = j["model"].get<uint64_t>() + j["context"].get<uint64_t>() +
                 j["compute"].get<uint64_t>() + j["output"].get<uint64_t>();
  }
  return real;
}

// llmfit (llmfit-core models.rs): params × bytes-per-param(quant) +
// 0.000008 GB × params_b × ctx + 0.5 GB, in decimal GB.
uint64_t Llmfit(const gguf::ModelSummary& s, uint32_t n_ctx) {
  const std::string tag = s.FileTypeTag();
  double bpp = 0.58;
  if (tag == "F32") bpp = 4.0;
  if (tag == "F16" || tag == "BF16") bpp = 2.0;
  if (tag == "Q8_0") bpp = 1.05;
  const double params_b = static_cast<double>(s.parameter_count) / 1e9;
  const double gb = params_b * bpp + 0.000008 * params_b * n_ctx + 0.5;
  return static_cast<uint64_t>(gb * 1e9);
}

// Ollama's preflight: file size + 2 × layers × kv_heads × head_dim × ctx ×
// bytes per element (f16 2, q8_0 1, as Ollama counts them).
uint64_t Ollama(const gguf::ModelSummary& s, uint32_t n_ctx, const std::string& kv) {
  const double bytes = kv == "q8_0" ? 1.0 : 2.0;
  const double head_dim = static_cast<double>(s.key_length.value_or(
      s.embedding_length.value_or(0) / std::max<uint64_t>(1, s.head_count.value_or(1))));
  return s.file_size +
         static_cast<uint64_t>(2.0 * s.block_count.value_or(0) * s.head_count_kv.value_or(0) *
                               head_dim * n_ctx * bytes);
}

uint64_t Allocated(const MemoryBreakdown& b) {
  uint64_t total = 0;
  for (const DeviceMemory& d : b.devices) total += d.Total() - d.other;
  return total;
}

std::string Mib(uint64_t bytes) { return fmt::format("{:.1f}", bytes / double(kMiB)); }

std::string Err(uint64_t got, uint64_t real) {
  const double e = (static_cast<double>(got) - static_cast<double>(real)) / real * 100.0;
  return fmt::format("{:+.1f}%", e);
}

bool WithinEstimateTarget(uint64_t got, uint64_t real) {
  const double diff = std::fabs(static_cast<double>(got) - static_cast<double>(real));
  return diff <= std::max(0.05 * real, 32.0 * kMiB);
}

std::vector<uint32_t> ParseList(const std::string& text) {
  std::vector<uint32_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t comma = text.find(',', pos);
    out.push_back(static_cast<uint32_t>(std::stoul(text.substr(pos, comma - pos))));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// Errors of one estimator over a model's cells, in percent of the real value.
struct ErrorRange {
  double lo = 1e9, hi = -1e9;
  void Add(double e) {
    lo = std::min(lo, e);
    hi = std::max(hi, e);
  }
  double MaxAbs() const { return std::max(std::fabs(lo), std::fabs(hi)); }
  std::string Text() const {
    return lo == hi ? fmt::format("{:+.1f}%", lo) : fmt::format("{:+.1f}% .. {:+.1f}%", lo, hi);
  }
};

double Percent(uint64_t got, uint64_t real) {
  return (static_cast<double>(got) - static_cast<double>(real)) / static_cast<double>(real) * 100;
}

struct ModelStats {
  std::string label;
  int cells = 0;
  ErrorRange probe, estimate, llmfit, ollama;
  double estimate_worst_mib = 0;  // the estimate's largest miss in MiB
};

int RunTable(const std::vector<std::string>& models, const std::vector<uint32_t>& contexts,
             const std::string& json_path) {
  nlohmann::json rows = nlohmann::json::array();
  std::puts(
      "| Model | Context | KV | FA | Real MiB | Peak RSS MiB | Probe | Estimate | llmfit | "
      "Ollama preflight |");
  std::puts("|---|---:|---|---|---:|---:|---:|---:|---:|---:|");
  int probe_misses = 0, estimate_misses = 0, cells = 0;
  int not_applicable = 0, refused_by_both = 0;
  std::set<std::string> refusals;
  double probe_seconds = 0, estimate_seconds = 0;
  int probes = 0, estimates = 0;
  std::vector<ModelStats> stats;
  for (const std::string& model : models) {
    Result<gguf::GgufFile> header = gguf::ReadHeader(model);
    if (!header.ok()) {
      std::fprintf(stderr, "%s\n", header.status().ToString().c_str());
      return 1;
    }
    const gguf::ModelSummary summary = gguf::Summarize(*header);
    ModelStats& st = stats.emplace_back();
    st.label = summary.architecture + " " + FormatBytesDecimal(summary.file_size);
    for (uint32_t n_ctx : contexts) {
      for (const std::string kv : {"f16", "q8_0"}) {
        for (bool fa : {false, true}) {
          MemoryRequest request;
          request.n_ctx = n_ctx;
          request.type_k = CacheType{kv};
          request.type_v = CacheType{kv};
          request.flash_attn = fa ? FlashAttention::kOn : FlashAttention::kOff;
          const Real real = RunChild(model, n_ctx, kv, fa);
          auto start = std::chrono::steady_clock::now();
          Result<MemoryBreakdown> probe = Probe(model, request);
          probe_seconds += Seconds(start);
          ++probes;
          start = std::chrono::steady_clock::now();
          Result<MemoryBreakdown> estimate = Estimate(summary, request);
          estimate_seconds += Seconds(start);
          ++estimates;
          nlohmann::json row = {{"model", st.label}, {"ctx", n_ctx}, {"kv", kv}, {"fa", fa}};
          if (!real.ok) {
            // Not applicable: llama.cpp refuses the settings; the probe and
            // the estimator must refuse them too.
            ++not_applicable;
            refused_by_both += !probe.ok() && !estimate.ok() ? 1 : 0;
            refusals.insert(real.error);
            row["error"] = real.error;
            rows.push_back(row);
            continue;
          }
          if (!probe.ok() || !estimate.ok()) {
            std::fprintf(stderr, "%s ctx %u %s fa %d: %s / %s\n", st.label.c_str(), n_ctx,
                         kv.c_str(), fa, probe.status().ToString().c_str(),
                         estimate.status().ToString().c_str());
            return 1;
          }
          const uint64_t p = Allocated(*probe);
          const uint64_t e = Allocated(*estimate);
          const uint64_t l = Llmfit(summary, n_ctx);
          const uint64_t o = Ollama(summary, n_ctx, kv);
          ++cells;
          ++st.cells;
          const bool probe_ok = std::fabs(double(p) - double(real.total)) <= 0.01 * real.total;
          const bool estimate_ok = WithinEstimateTarget(e, real.total);
          probe_misses += probe_ok ? 0 : 1;
          estimate_misses += estimate_ok ? 0 : 1;
          st.probe.Add(Percent(p, real.total));
          st.estimate.Add(Percent(e, real.total));
          st.llmfit.Add(Percent(l, real.total));
          st.ollama.Add(Percent(o, real.total));
          st.estimate_worst_mib = std::max(
              st.estimate_worst_mib, std::fabs(double(e) - double(real.total)) / double(kMiB));
          std::printf("| %s | %u | %s | %s | %s | %s | %s | %s%s | %s | %s |\n", st.label.c_str(),
                      n_ctx, kv.c_str(), fa ? "on" : "off", Mib(real.total).c_str(),
                      Mib(real.rss).c_str(), Err(p, real.total).c_str(), Err(e, real.total).c_str(),
                      estimate_ok ? "" : " (miss)", Err(l, real.total).c_str(),
                      Err(o, real.total).c_str());
          std::fflush(stdout);
          row.update({{"real", real.total},
                      {"rss", real.rss},
                      {"probe", p},
                      {"estimate", e},
                      {"llmfit", l},
                      {"ollama", o},
                      {"probe_breakdown", ToJson(*probe)},
                      {"estimate_breakdown", ToJson(*estimate)}});
          rows.push_back(row);
        }
      }
    }
  }
  std::printf(
      "\nNot applicable: %d cells (q8_0 V cache with flash attention off); llama.cpp "
      "refuses them",
      not_applicable);
  for (const std::string& r : refusals) std::printf(" (\"%s\")", r.c_str());
  std::printf("; the probe and the estimator refuse %d of them.\n\n", refused_by_both);
  std::puts(
      "| Model | Cells | Probe error | Estimate error (largest miss) | llmfit error | "
      "Ollama preflight error |");
  std::puts("|---|---:|---:|---:|---:|---:|");
  for (const ModelStats& st : stats) {
    std::printf("| %s | %d | %s | %s (%.1f MiB) | %s | %s |\n", st.label.c_str(), st.cells,
                st.probe.Text().c_str(), st.estimate.Text().c_str(), st.estimate_worst_mib,
                st.llmfit.Text().c_str(), st.ollama.Text().c_str());
  }
  std::printf("\n%d cells measured; probe outside 1%%: %d; estimate outside 5%% or 32 MiB: %d\n",
              cells, probe_misses, estimate_misses);
  std::printf(
      "probe: %.1f ms per call; estimate from a GGUF summary: %.1f us per call; "
      "estimating 250 catalog entries: %.3f ms (best of 20)\n",
      probes ? probe_seconds / probes * 1e3 : 0.0,
      estimates ? estimate_seconds / estimates * 1e6 : 0.0, CatalogEstimateMs(250, 20));
  if (!json_path.empty()) std::ofstream(json_path) << rows.dump(1) << "\n";
  return 0;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "cell") {
    if (args.size() != 5) {
      std::fprintf(stderr, "usage: fit_accuracy cell MODEL CTX KV on|off\n");
      return 2;
    }
    return RunCell(args[1], static_cast<uint32_t>(std::stoul(args[2])), args[3], args[4] == "on");
  }
  std::vector<uint32_t> contexts = {2048, 8192, 32768};
  std::string json_path;
  std::vector<std::string> models;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--ctx" && i + 1 < args.size()) {
      contexts = ParseList(args[++i]);
    } else if (args[i] == "--json" && i + 1 < args.size()) {
      json_path = args[++i];
    } else if (args[i] == "-h" || args[i] == "--help") {
      std::puts("usage: fit_accuracy [--ctx 2048,8192,32768] [--json FILE] MODEL.gguf...");
      return 0;
    } else {
      models.push_back(args[i]);
    }
  }
  if (models.empty()) {
    std::fprintf(stderr, "usage: fit_accuracy [--ctx LIST] [--json FILE] MODEL.gguf...\n");
    return 2;
  }
  return RunTable(models, contexts, json_path);
}

}  // namespace
}  // namespace hangar::fit

int main(int argc, char** argv) { return hangar::fit::Main(argc, argv); }
