// Backend: one way of running models — llama.cpp in-process ("llama", the
// default), an Ollama server ("ollama") or any OpenAI-compatible server
// ("openai") — behind one interface, and the registry that makes one by name.
//
// A Backend holds at most one loaded model. Load() makes it ready (for the
// HTTP backends: checks that the server has the model); Unload() frees it.
// Every other operation needs a loaded model (FailedPrecondition otherwise):
//   Stream    completes a prompt, handing each piece of text to a callback as
//             it is produced; the callback (or the request's CancelFlag)
//             stops it. Generate is Stream without a callback.
//   ChatStream/Chat  the same for a conversation, formatted with the model's
//             own chat template (tokenizer.chat_template, applied by llama.cpp's
//             common Jinja code for the llama backend, as llama-server does:
//             runtime/chat_template.h; by the server for the others).
//   Embed     one vector per text (a batch), pooled and, by default, L2
//             normalised.
//   Tokenize / CountTokens  the model's tokenizer.
// Errors are Status values: InvalidArgument for a malformed request,
// FailedPrecondition with no model loaded, Cancelled when stopped (the text
// streamed so far has already been delivered), ResourceExhausted when the
// context is full or memory runs out, Unavailable when a server cannot be
// reached, Internal when llama.cpp fails in a way it does not explain.
//
// Thread-safety: a Backend is used by one thread at a time (SessionManager in
// runtime/session.h serialises calls); CancelFlag::Cancel() may be called from
// any thread while an operation runs. The registry is immutable once built and
// safe to share.
#ifndef HANGAR_RUNTIME_BACKEND_H_
#define HANGAR_RUNTIME_BACKEND_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/limits.h"
#include "config/profile.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"
#include "fit/memory.h"
#include "hardware/hardware.h"

namespace hangar {
class HttpClient;  // fetch/http_client.h
}  // namespace hangar

namespace hangar::runtime {

// Set from any thread to stop a running load or generation.
class CancelFlag {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  void Reset() { cancelled_.store(false, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

// --- Loading -----------------------------------------------------------------

// What to load. The llama backend reads `file`; the HTTP backends ask their
// server for `remote_name` (the id when empty).
struct ModelTarget {
  std::string id{};              // catalog id, preset name or file name (messages, statistics)
  std::filesystem::path file{};  // local GGUF (first part of a split model)
  std::string remote_name{};     // "qwen2.5-coder:7b" for ollama, "gpt-4o-mini" for openai
};

// One step of loading worth telling the user: a recovery retry, the memory
// guard's numbers, the settings chosen automatically.
struct LoadEvent {
  enum class Kind { kSettings, kRecovery, kGuard, kWarmup };
  Kind kind = Kind::kSettings;
  std::string message;
};

struct LoadOptions {
  uint32_t n_ctx = 4096;  // tokens; 0: the model's trained context
  int threads = 0;        // generation threads; 0: physical cores (one left free above 4)
  int threads_batch = 0;  // prompt threads; 0: as threads
  uint32_t n_batch = 2048;
  uint32_t n_ubatch = 512;
  uint32_t n_seq = 1;  // parallel sequences
  bool mmap = true;
  bool mlock = false;
  // Layers on the GPU(s), as llama.cpp's -ngl (-1: all). nullopt: auto, the
  // fit planner's answer for this machine within the limits (0 without GPU).
  std::optional<int32_t> n_gpu_layers;
  fit::FlashAttention flash_attn = fit::FlashAttention::kAuto;
  fit::CacheType type_k;
  fit::CacheType type_v;
  bool warmup = true;   // one empty decode so the first request does not pay for it
  bool force = false;   // load even when the memory guard predicts too little memory
  bool recover = true;  // on out-of-memory: fewer GPU layers, then CPU, then less context
  // Called with 0..1 while the weights load; returning false cancels the load.
  std::function<bool(float)> progress;
  const CancelFlag* cancel = nullptr;
  std::function<void(const LoadEvent&)> on_event;
};

// What is loaded, with the settings it really got.
struct LoadedModel {
  std::string backend;  // "llama", "ollama", "openai"
  ModelTarget target;
  uint32_t n_ctx = 0;
  int32_t n_gpu_layers = 0;
  int threads = 0;
  bool flash_attn = false;
  uint64_t host_bytes = 0;  // weights + KV + compute on the host (0 when the server keeps it)
  uint64_t gpu_bytes = 0;
  int64_t load_us = 0;  // model and context, without warm-up
  int64_t warmup_us = 0;
  std::vector<std::string> recoveries;  // the retries it took, in order
  std::string chat_template;            // the model's; empty when it has none
  int32_t n_embd = 0;
};

// --- Generation ----------------------------------------------------------------

// How the next token is chosen. Temperature 0 is greedy (argmax): the output
// depends on nothing but the model and the prompt.
struct SamplingParams {
  double temperature = 0.7;
  double top_p = 0.95;
  int top_k = 50;  // 0 disables
  double min_p = 0.05;
  double repeat_penalty = 1.1;  // 1 disables
  int repeat_last_n = 64;
  uint32_t seed = 0xC0FFEE;
  friend bool operator==(const SamplingParams&, const SamplingParams&) = default;
};

// The sampling values of a performance profile (config/profile.h).
SamplingParams SamplingFromProfile(const Profile& profile);

// Checks sampling values and max_tokens against config/value_rules.h, the
// rules config profiles and flags are checked by: InvalidArgument naming the
// value. Every request of a session goes through it before anything is
// loaded; a refusal counts as a failed request.
Status CheckSampling(const SamplingParams& params, int max_tokens);

struct GenerateRequest {
  std::string prompt;  // for Stream/Generate; ignored by the chat calls
  SamplingParams sampling;
  int max_tokens = 512;           // > 0
  std::vector<std::string> stop;  // the text ends before the first of these
  bool ignore_eos = false;        // keep going past end-of-generation tokens
  const CancelFlag* cancel = nullptr;
};

// Called with each piece of text (whole UTF-8 characters); return false to
// stop (the call then ends with Cancelled).
using TokenCallback = std::function<bool(std::string_view piece)>;

enum class FinishReason { kStop, kLength, kStopString };
std::string_view FinishReasonName(FinishReason reason);  // "stop", "length", "stop_string"

// Where the time went. Durations in microseconds.
struct Timings {
  int prompt_tokens = 0;
  int cached_tokens = 0;  // of prompt_tokens, reused from the previous request
  int gen_tokens = 0;
  int64_t prompt_us = 0;  // reading the prompt
  int64_t gen_us = 0;     // from the first generated token to the last
  int64_t ttft_us = 0;    // from the call to the first piece of text
  int64_t total_us = 0;
  double PromptTokensPerSecond() const;
  double GenTokensPerSecond() const;
};

struct Completion {
  std::string text;
  FinishReason finish = FinishReason::kStop;
  Timings timings;
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
  friend bool operator==(const ChatMessage&, const ChatMessage&) = default;
};

// --- Embeddings ------------------------------------------------------------------

enum class Pooling { kModel, kMean, kCls, kLast };
std::string_view PoolingName(Pooling pooling);  // "model", "mean", "cls", "last"
Result<Pooling> ParsePooling(std::string_view text);

struct EmbedOptions {
  // kModel: the model's own pooling (embedding models), else mean.
  Pooling pooling{Pooling::kModel};
  bool normalize{true};  // L2 norm 1
};

struct Embeddings {
  std::vector<std::vector<float>> vectors;  // one per text, in order
  int prompt_tokens = 0;
  int64_t total_us = 0;
};

// --- Benchmark -------------------------------------------------------------------

// llama-bench's two tests: reading n_prompt tokens in batches, then n_gen
// tokens one at a time, each `repetitions` times after a warm-up.
struct BenchRequest {
  int n_prompt{512};
  int n_gen{128};
  int repetitions{5};
  const CancelFlag* cancel{nullptr};
};

struct BenchResult {
  double prompt_tokens_per_second = 0;  // mean over repetitions
  double gen_tokens_per_second = 0;
  double prompt_stddev = 0;
  double gen_stddev = 0;
  std::vector<double> prompt_samples;  // tokens/s of each repetition
  std::vector<double> gen_samples;
};

// --- The interface -----------------------------------------------------------------

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;

  // Loads `target`, replacing a model already loaded. NotFound for a missing
  // file or a model the server does not have; ResourceExhausted when the
  // memory guard refuses (with the numbers) or memory runs out even after
  // recovery; Cancelled when options.progress or options.cancel stopped it;
  // InvalidArgument when llama.cpp cannot read the file or refuses the
  // settings; Unavailable when a server cannot be reached.
  virtual Status Load(const ModelTarget& target, const LoadOptions& options) = 0;
  // Frees the model; nothing happens when none is loaded.
  virtual void Unload() = 0;
  // The loaded model, or nullptr.
  virtual const LoadedModel* loaded() const = 0;

  virtual Result<Completion> Stream(const GenerateRequest& request,
                                    const TokenCallback& on_piece) = 0;
  virtual Result<Completion> ChatStream(std::span<const ChatMessage> messages,
                                        const GenerateRequest& request,
                                        const TokenCallback& on_piece) = 0;
  virtual Result<Embeddings> Embed(std::span<const std::string> texts,
                                   const EmbedOptions& options) = 0;
  // Token ids of `text`; add_special adds BOS (and the like) as the model
  // wants. Unimplemented by servers that do not expose their tokenizer:
  // FailedPrecondition then.
  virtual Result<std::vector<int32_t>> Tokenize(std::string_view text, bool add_special) = 0;
  // The default runs Generate with a prompt of n_prompt tokens' worth of text
  // and asks for n_gen tokens; the llama backend decodes as llama-bench does.
  virtual Result<BenchResult> Bench(const BenchRequest& request);

  Result<Completion> Generate(const GenerateRequest& request) { return Stream(request, nullptr); }
  Result<Completion> Chat(std::span<const ChatMessage> messages, const GenerateRequest& request) {
    return ChatStream(messages, request, nullptr);
  }
  Result<size_t> CountTokens(std::string_view text);
};

// --- The registry ------------------------------------------------------------------

// What backends may use: the machine (memory guard, automatic GPU layers),
// the limits, the environment (OLLAMA_HOST, ...) and the clock. Borrowed
// pointers must outlive the backends made with them.
struct BackendContext {
  std::shared_ptr<const Environment> env;
  const Clock* clock = nullptr;
  const HardwareInfo* hardware = nullptr;  // nullptr: no guard, no automatic offload
  HttpClient* http = nullptr;              // for the ollama and openai backends
  Limits limits;
  // [runtime] settings of config.toml that name servers.
  std::string ollama_host;      // empty: $OLLAMA_HOST, else http://127.0.0.1:11434
  std::string openai_base_url;  // empty: $OPENAI_BASE_URL, else http://127.0.0.1:8080/v1
  std::string openai_api_key_env = "OPENAI_API_KEY";
};

inline constexpr std::string_view kDefaultBackend = "llama";

class BackendRegistry {
 public:
  using Factory = std::function<Result<std::unique_ptr<Backend>>(const BackendContext&)>;

  // Adds (or replaces) the backend `name`.
  void Register(std::string name, std::string description, Factory factory);
  // A new backend `name` ("" means kDefaultBackend). NotFound naming the
  // registered backends for an unknown name; the factory's errors.
  Result<std::unique_ptr<Backend>> Create(std::string_view name,
                                          const BackendContext& context) const;
  struct Entry {
    std::string name;
    std::string description;
    Factory factory;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

// llama (in-process), ollama and openai (runtime/ollama_backend.h,
// runtime/openai_backend.h).
const BackendRegistry& DefaultRegistry();

nlohmann::json ToJson(const Timings& timings);
nlohmann::json ToJson(const LoadedModel& model);

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_BACKEND_H_
