#include "runtime/llama_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <system_error>
#include <vector>

#include "core/log.h"
#include "core/units.h"
#include "fit/estimator.h"
#include "fit/model_facts.h"
#include "fit/planner.h"
#include "fit/settings.h"
#include "ggml-backend.h"
#include "gguf/split.h"
#include "gguf/summary.h"
#include "llama-ext.h"
#include "llama.h"
#include "llamacpp/handles.h"
#include "llamacpp/log_capture.h"
#include "llamacpp/types.h"
#include "runtime/chat_template.h"
#include "runtime/memory_guard.h"
#include "runtime/recovery.h"
#include "runtime/text_assembler.h"

namespace hangar::runtime {
namespace {

using llamacpp::ContextPtr;
using llamacpp::LogCapture;
using llamacpp::ModelPtr;
using llamacpp::SamplerPtr;

enum llama_pooling_type ToLlama(Pooling p) {
  switch (p) {
    case Pooling::kMean:
      return LLAMA_POOLING_TYPE_MEAN;
    case Pooling::kCls:
      return LLAMA_POOLING_TYPE_CLS;
    case Pooling::kLast:
      return LLAMA_POOLING_TYPE_LAST;
    case Pooling::kModel:
      break;
  }
  return LLAMA_POOLING_TYPE_UNSPECIFIED;
}

// Whether a buffer type's memory is the host's: host buffers and the CPU
// device's own (repacked weights), not a GPU's.
bool OnHost(ggml_backend_buffer_type_t buft) {
  if (ggml_backend_buft_is_host(buft)) return true;
  ggml_backend_dev_t dev = ggml_backend_buft_get_device(buft);
  return dev == nullptr || ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_CPU;
}

// Token ids of `text`.
std::vector<llama_token> TokenizeText(const llama_vocab* vocab, std::string_view text,
                                      bool add_special, bool parse_special) {
  const auto len = static_cast<int32_t>(text.size());
  int32_t n = llama_tokenize(vocab, text.data(), len, nullptr, 0, add_special, parse_special);
  if (n >= 0) return {};  // only an empty text gives 0 here
  std::vector<llama_token> tokens(static_cast<size_t>(-n));
  n = llama_tokenize(vocab, text.data(), len, tokens.data(), static_cast<int32_t>(tokens.size()),
                     add_special, parse_special);
  tokens.resize(static_cast<size_t>(std::max(n, 0)));
  return tokens;
}

std::string Piece(const llama_vocab* vocab, llama_token token) {
  char buf[256];
  int32_t n = llama_token_to_piece(vocab, token, buf, sizeof buf, 0, false);
  if (n >= 0) return std::string(buf, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(-n), '\0');
  n = llama_token_to_piece(vocab, token, big.data(), static_cast<int32_t>(big.size()), 0, false);
  big.resize(static_cast<size_t>(std::max(n, 0)));
  return big;
}

SamplerPtr MakeSampler(const SamplingParams& p, int32_t n_vocab) {
  llama_sampler_chain_params cp = llama_sampler_chain_default_params();
  cp.no_perf = true;
  SamplerPtr chain(llama_sampler_chain_init(cp));
  if (p.repeat_penalty != 1.0 && p.repeat_last_n != 0) {
    llama_sampler_chain_add(chain.get(), llama_sampler_init_penalties(
                                             n_vocab, p.repeat_last_n,
                                             static_cast<float>(p.repeat_penalty), 0.0f, 0.0f));
  }
  if (p.temperature <= 0) {
    llama_sampler_chain_add(chain.get(), llama_sampler_init_greedy());
    return chain;
  }
  if (p.top_k > 0) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_k(p.top_k));
  if (p.top_p < 1.0) {
    llama_sampler_chain_add(chain.get(), llama_sampler_init_top_p(static_cast<float>(p.top_p), 1));
  }
  if (p.min_p > 0.0) {
    llama_sampler_chain_add(chain.get(), llama_sampler_init_min_p(static_cast<float>(p.min_p), 1));
  }
  llama_sampler_chain_add(chain.get(), llama_sampler_init_temp(static_cast<float>(p.temperature)));
  llama_sampler_chain_add(chain.get(), llama_sampler_init_dist(p.seed));
  return chain;
}

void Normalize(std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0) return;
  const auto inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inv;
}

double Mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double Stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = Mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

class LlamaBackend final : public Backend {
 public:
  explicit LlamaBackend(const BackendContext& context) : context_(context) {
    if (context_.clock == nullptr) context_.clock = &SystemClock::Default();
    llamacpp::InitBackend();
  }
  ~LlamaBackend() override { Unload(); }

  std::string_view name() const override { return "llama"; }
  const LoadedModel* loaded() const override { return model_ ? &loaded_ : nullptr; }

  Status Load(const ModelTarget& target, const LoadOptions& options) override;
  void Unload() override {
    embd_ctx_.reset();
    ctx_.reset();
    model_.reset();
    cached_.clear();
    chat_template_.reset();
    loaded_ = LoadedModel{};
  }

  Result<Completion> Stream(const GenerateRequest& request, const TokenCallback& on_piece) override;
  Result<Completion> ChatStream(std::span<const ChatMessage> messages,
                                const GenerateRequest& request,
                                const TokenCallback& on_piece) override;
  Result<Embeddings> Embed(std::span<const std::string> texts,
                           const EmbedOptions& options) override;
  Result<std::vector<int32_t>> Tokenize(std::string_view text, bool add_special) override;
  Result<BenchResult> Bench(const BenchRequest& request) override;

 private:
  int64_t Now() const { return context_.clock->MonotonicMicros(); }
  Status NeedModel() const {
    if (model_ == nullptr) {
      return FailedPreconditionError("no model is loaded; load one first (hangar run MODEL)");
    }
    return Status::Ok();
  }
  // One try at the weights and the context for `plan`.
  Status Attempt(const ModelTarget& target, const LoadOptions& options, const LoadPlan& plan);
  Result<Completion> Run(const std::vector<llama_token>& prompt, const GenerateRequest& request,
                         const TokenCallback& on_piece);
  Status EnsureEmbeddingContext(Pooling pooling, uint32_t n_tokens);
  void Event(const LoadOptions& options, LoadEvent::Kind kind, std::string message) {
    Log(LogLevel::kInfo, "{}", message);
    if (options.on_event) options.on_event(LoadEvent{kind, std::move(message)});
  }

  static bool Abort(void* data) {
    const auto* self = static_cast<const LlamaBackend*>(data);
    return self->active_cancel_ != nullptr && self->active_cancel_->cancelled();
  }

  BackendContext context_;
  ModelPtr model_;
  ContextPtr ctx_;
  ContextPtr embd_ctx_;
  Pooling embd_pooling_ = Pooling::kModel;
  uint32_t embd_n_ctx_ = 0;
  std::vector<llama_token> cached_;  // tokens of sequence 0 in ctx_'s KV cache
  LoadedModel loaded_;
  std::optional<ChatTemplate> chat_template_;  // made on the first chat
  int threads_ = 1;
  int threads_batch_ = 1;
  const CancelFlag* active_cancel_ = nullptr;
};

// Progress of the weights: the user's callback and the cancel flag.
struct ProgressState {
  const LoadOptions* options = nullptr;
  bool cancelled = false;
};

bool OnProgress(float p, void* data) {
  auto* st = static_cast<ProgressState*>(data);
  if (st->options->cancel != nullptr && st->options->cancel->cancelled()) st->cancelled = true;
  if (!st->cancelled && st->options->progress && !st->options->progress(p)) st->cancelled = true;
  return !st->cancelled;
}

Status LlamaBackend::Attempt(const ModelTarget& target, const LoadOptions& options,
                             const LoadPlan& plan) {
  ctx_.reset();
  model_.reset();
  const std::string file = target.file.filename().string();
  ASSIGN_OR_RETURN(const uint32_t type_k_id, fit::CacheTypeId(options.type_k));
  ASSIGN_OR_RETURN(const uint32_t type_v_id, fit::CacheTypeId(options.type_v));
  ASSIGN_OR_RETURN(const ggml_type type_k, llamacpp::ToGgmlType(type_k_id));
  ASSIGN_OR_RETURN(const ggml_type type_v, llamacpp::ToGgmlType(type_v_id));

  LogCapture capture;
  ProgressState progress{&options, false};
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = plan.n_gpu_layers;
  mp.load_mode = options.mmap ? (options.mlock ? LLAMA_LOAD_MODE_MMAP_MLOCK : LLAMA_LOAD_MODE_MMAP)
                              : (options.mlock ? LLAMA_LOAD_MODE_MLOCK : LLAMA_LOAD_MODE_NONE);
  mp.progress_callback = OnProgress;
  mp.progress_callback_user_data = &progress;
  ModelPtr model = llamacpp::LoadModel(target.file, mp);
  if (model == nullptr) {
    if (progress.cancelled) return CancelledError(fmt::format("loading {} was cancelled", file));
    const std::string why = capture.Reason();
    if (capture.out_of_memory()) {
      return ResourceExhaustedError(fmt::format("out of memory loading {}: {}", file, why));
    }
    return InvalidArgumentError(fmt::format(
        "llama.cpp cannot load {}: {}; check that it is a GGUF model of an architecture this "
        "llama.cpp supports (hangar validate)",
        file, why));
  }

  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = plan.n_ctx;
  cp.n_batch = options.n_batch;
  cp.n_ubatch = options.n_ubatch;
  cp.n_seq_max = options.n_seq;
  cp.n_threads = threads_;
  cp.n_threads_batch = threads_batch_;
  cp.flash_attn_type = llamacpp::FlashAttnType(fit::FlashAttentionForced(options.flash_attn));
  cp.type_k = type_k;
  cp.type_v = type_v;
  cp.no_perf = true;
  cp.abort_callback = Abort;
  cp.abort_callback_data = this;
  ContextPtr ctx = llamacpp::NewContext(model.get(), cp);
  if (ctx == nullptr) {
    const std::string why = capture.Reason();
    if (capture.out_of_memory()) {
      return ResourceExhaustedError(
          fmt::format("out of memory creating the context of {}: {}", file, why));
    }
    return InvalidArgumentError(fmt::format(
        "llama.cpp refuses the settings for {} (context {}, batch {}/{}, {} sequences, K cache {}, "
        "V cache {}, flash attention {}): {}",
        file, plan.n_ctx, options.n_batch, options.n_ubatch, options.n_seq, options.type_k.name,
        options.type_v.name, fit::FlashAttentionName(options.flash_attn), why));
  }
  model_ = std::move(model);
  ctx_ = std::move(ctx);
  return Status::Ok();
}

Status LlamaBackend::Load(const ModelTarget& target, const LoadOptions& options) {
  Unload();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(target.file, ec)) {
    return NotFoundError(
        fmt::format("model file {} does not exist; check the path or run "
                    "'hangar pull' for the model",
                    target.file.string()));
  }
  if (options.n_batch == 0 || options.n_ubatch == 0 || options.n_seq == 0) {
    return InvalidArgumentError(
        fmt::format("batch {}, ubatch {} and sequences {} must each be at least 1", options.n_batch,
                    options.n_ubatch, options.n_seq));
  }
  const std::string label = target.id.empty() ? target.file.filename().string() : target.id;

  // The header: facts for the planner and the guard.
  ASSIGN_OR_RETURN(std::vector<gguf::GgufFile> parts, gguf::ReadSplitModel(target.file));
  const gguf::ModelSummary summary = gguf::Summarize(parts);
  ASSIGN_OR_RETURN(const fit::ModelFacts facts, fit::FactsFromSummary(summary));

  const HardwareInfo* hw = context_.hardware;
  threads_ = options.threads > 0 ? options.threads : (hw ? fit::ThreadsForCpu(hw->cpu) : 4);
  threads_batch_ = options.threads_batch > 0 ? options.threads_batch : threads_;

  fit::MemoryRequest request;
  request.n_ctx = options.n_ctx > 0 ? options.n_ctx : facts.n_ctx_train;
  if (request.n_ctx == 0) request.n_ctx = 4096;
  request.n_batch = options.n_batch;
  request.n_ubatch = options.n_ubatch;
  request.n_seq = options.n_seq;
  request.type_k = options.type_k;
  request.type_v = options.type_v;
  request.flash_attn = options.flash_attn;
  request.mmap = options.mmap;

  ASSIGN_OR_RETURN(const GpuLayerChoice layers,
                   ChooseGpuLayers(facts, request, options.n_gpu_layers, hw, context_.limits,
                                   llama_supports_gpu_offload()));
  const bool gpu_offload = layers.offload;
  request.n_gpu_layers = layers.n_gpu_layers;
  Event(options, LoadEvent::Kind::kSettings, "GPU layers: " + layers.reason);

  if (hw != nullptr) {
    const std::vector<fit::GpuMemory> gpus =
        gpu_offload ? fit::GpuMemoryOf(hw->gpus) : std::vector<fit::GpuMemory>{};
    ASSIGN_OR_RETURN(const fit::MemoryBreakdown need, fit::Estimate(facts, request, gpus));
    const GuardVerdict verdict = CheckMemory(need, *hw);
    RETURN_IF_ERROR(GuardStatus(verdict, label, options.force));
    if (!verdict.fits) {
      Event(options, LoadEvent::Kind::kGuard,
            fmt::format("loading {} although it {} (--force)", label, verdict.detail));
    }
  }

  const int64_t t0 = Now();
  LoadPlan first{request.n_gpu_layers, request.n_ctx};
  std::vector<std::string> recoveries;
  auto report = [&](const std::string& step) {
    recoveries.push_back(step);
    Event(options, LoadEvent::Kind::kRecovery, step);
  };
  const auto layer_count = static_cast<int32_t>(facts.n_layer() + 1);
  Result<LoadPlan> plan = LoadWithRecovery(
      first, layer_count, gpu_offload, std::min(kMinRecoveryContext, first.n_ctx), options.recover,
      [&](const LoadPlan& p) { return Attempt(target, options, p); }, report);
  if (!plan.ok()) {
    Unload();
    return plan.status();
  }
  const int64_t t1 = Now();

  loaded_ = LoadedModel{};
  chat_template_.reset();
  loaded_.backend = "llama";
  loaded_.target = target;
  if (loaded_.target.id.empty()) loaded_.target.id = label;
  loaded_.n_ctx = llama_n_ctx(ctx_.get());
  loaded_.threads = threads_;
  loaded_.load_us = t1 - t0;
  loaded_.recoveries = std::move(recoveries);
  loaded_.n_embd = llama_model_n_embd(model_.get());
  const int32_t n_layer = llama_model_n_layer(model_.get());
  loaded_.n_gpu_layers = !gpu_offload             ? 0
                         : plan->n_gpu_layers < 0 ? n_layer + 1
                                                  : std::min(plan->n_gpu_layers, n_layer + 1);
  if (const char* tmpl = llama_model_chat_template(model_.get(), nullptr)) {
    loaded_.chat_template = tmpl;
  }
  for (const auto& [buft, mb] : llama_get_memory_breakdown(ctx_.get())) {
    (OnHost(buft) ? loaded_.host_bytes : loaded_.gpu_bytes) += mb.total();
  }
  loaded_.flash_attn = options.flash_attn != fit::FlashAttention::kOff;

  if (options.warmup && llama_model_has_decoder(model_.get())) {
    const llama_vocab* vocab = llama_model_get_vocab(model_.get());
    std::vector<llama_token> tmp;
    if (llama_vocab_bos(vocab) != LLAMA_TOKEN_NULL) tmp.push_back(llama_vocab_bos(vocab));
    if (llama_vocab_eos(vocab) != LLAMA_TOKEN_NULL) tmp.push_back(llama_vocab_eos(vocab));
    if (tmp.empty()) tmp.push_back(0);
    llama_decode(ctx_.get(), llama_batch_get_one(tmp.data(), static_cast<int32_t>(tmp.size())));
    llama_memory_clear(llama_get_memory(ctx_.get()), true);
    llama_synchronize(ctx_.get());
    loaded_.warmup_us = Now() - t1;
  }
  Log(LogLevel::kInfo, "loaded {}: context {}, {} GPU layers, {} threads, {} ms", label,
      loaded_.n_ctx, loaded_.n_gpu_layers, threads_, loaded_.load_us / 1000);
  return Status::Ok();
}

Result<Completion> LlamaBackend::Run(const std::vector<llama_token>& prompt,
                                     const GenerateRequest& request,
                                     const TokenCallback& on_piece) {
  const int64_t t_start = Now();
  RETURN_IF_ERROR(CheckSampling(request.sampling, request.max_tokens));
  if (prompt.empty()) return InvalidArgumentError("the prompt is empty; give some text");
  const uint32_t n_ctx = llama_n_ctx(ctx_.get());
  if (prompt.size() >= n_ctx) {
    return ResourceExhaustedError(fmt::format(
        "the prompt has {} tokens and the context holds {}; shorten it or load the model with a "
        "larger context (--ctx)",
        prompt.size(), n_ctx));
  }
  const llama_vocab* vocab = llama_model_get_vocab(model_.get());
  llama_memory_t mem = llama_get_memory(ctx_.get());

  // Reuse the common prefix of the cached tokens; decode at least one token.
  size_t common = 0;
  while (common < cached_.size() && common < prompt.size() && cached_[common] == prompt[common]) {
    ++common;
  }
  if (common == prompt.size()) --common;
  if (!llama_memory_seq_rm(mem, 0, static_cast<llama_pos>(common), -1)) {
    llama_memory_clear(mem, true);
    common = 0;
  }
  cached_.resize(common);

  active_cancel_ = request.cancel;
  struct ClearCancel {
    const CancelFlag** p;
    ~ClearCancel() { *p = nullptr; }
  } clear_cancel{&active_cancel_};

  Completion out;
  out.timings.prompt_tokens = static_cast<int>(prompt.size());
  out.timings.cached_tokens = static_cast<int>(common);
  const uint32_t n_batch = llama_n_batch(ctx_.get());
  for (size_t i = common; i < prompt.size();) {
    const auto n = static_cast<int32_t>(std::min<size_t>(n_batch, prompt.size() - i));
    const int32_t rc =
        llama_decode(ctx_.get(), llama_batch_get_one(const_cast<llama_token*>(&prompt[i]), n));
    if (rc == 2 || (request.cancel && request.cancel->cancelled())) {
      llama_memory_seq_rm(mem, 0, static_cast<llama_pos>(cached_.size()), -1);
      return CancelledError("generation cancelled while reading the prompt");
    }
    if (rc != 0) {
      llama_memory_clear(mem, true);
      cached_.clear();
      return rc == 1 ? ResourceExhaustedError(
                           "no room left in the KV cache for the prompt; load "
                           "the model with a larger context (--ctx)")
                     : InternalError(fmt::format("llama_decode failed ({}) on the prompt", rc));
    }
    cached_.insert(cached_.end(), prompt.begin() + static_cast<ptrdiff_t>(i),
                   prompt.begin() + static_cast<ptrdiff_t>(i) + n);
    i += static_cast<size_t>(n);
  }
  const int64_t t_prompt = Now();
  out.timings.prompt_us = t_prompt - t_start;

  SamplerPtr sampler = MakeSampler(request.sampling, llama_vocab_n_tokens(vocab));
  const size_t history = request.sampling.repeat_last_n > 0
                             ? std::min<size_t>(prompt.size(), request.sampling.repeat_last_n)
                             : prompt.size();
  for (size_t i = prompt.size() - history; i < prompt.size(); ++i) {
    llama_sampler_accept(sampler.get(), prompt[i]);
  }

  TextAssembler text(request.stop);
  auto emit = [&](std::string s) -> bool {
    if (s.empty()) return true;
    if (out.timings.ttft_us == 0) out.timings.ttft_us = Now() - t_start;
    return on_piece == nullptr || on_piece(s);
  };
  Status stopped;
  out.finish = FinishReason::kLength;
  while (true) {
    const llama_token token = llama_sampler_sample(sampler.get(), ctx_.get(), -1);
    if (!request.ignore_eos && llama_vocab_is_eog(vocab, token)) {
      out.finish = FinishReason::kStop;
      break;
    }
    ++out.timings.gen_tokens;
    if (!emit(text.Push(Piece(vocab, token)))) {
      stopped = CancelledError(
          fmt::format("generation stopped by the caller after {} tokens", out.timings.gen_tokens));
      break;
    }
    if (text.stopped()) {
      out.finish = FinishReason::kStopString;
      break;
    }
    if (out.timings.gen_tokens >= request.max_tokens || cached_.size() >= n_ctx) break;
    if (request.cancel && request.cancel->cancelled()) {
      stopped = CancelledError(
          fmt::format("generation cancelled after {} tokens", out.timings.gen_tokens));
      break;
    }
    llama_token next = token;
    const int32_t rc = llama_decode(ctx_.get(), llama_batch_get_one(&next, 1));
    if (rc == 2) {
      stopped = CancelledError(
          fmt::format("generation cancelled after {} tokens", out.timings.gen_tokens));
      break;
    }
    if (rc == 1) break;  // the KV cache is full: as long as it gets
    if (rc != 0) {
      llama_memory_clear(mem, true);
      cached_.clear();
      return InternalError(fmt::format("llama_decode failed ({}) while generating", rc));
    }
    cached_.push_back(token);
  }
  if (stopped.ok()) {
    const std::string rest = text.Finish();
    if (!emit(rest)) {
      stopped = CancelledError("generation stopped by the caller at the last piece");
    }
  }
  const int64_t t_end = Now();
  out.timings.gen_us = t_end - t_prompt;
  out.timings.total_us = t_end - t_start;
  out.text = text.text();
  if (!stopped.ok()) return stopped;
  return out;
}

Result<Completion> LlamaBackend::Stream(const GenerateRequest& request,
                                        const TokenCallback& on_piece) {
  RETURN_IF_ERROR(NeedModel());
  const llama_vocab* vocab = llama_model_get_vocab(model_.get());
  return Run(TokenizeText(vocab, request.prompt, true, true), request, on_piece);
}

Result<Completion> LlamaBackend::ChatStream(std::span<const ChatMessage> messages,
                                            const GenerateRequest& request,
                                            const TokenCallback& on_piece) {
  RETURN_IF_ERROR(NeedModel());
  if (messages.empty()) return InvalidArgumentError("a chat needs at least one message");
  if (!chat_template_) {
    ASSIGN_OR_RETURN(ChatTemplate made, ChatTemplate::Create(model_.get()));
    chat_template_ = std::move(made);
  }
  ASSIGN_OR_RETURN(std::string prompt, chat_template_->Apply(messages, true));
  const llama_vocab* vocab = llama_model_get_vocab(model_.get());
  return Run(TokenizeText(vocab, prompt, true, true), request, on_piece);
}

Result<std::vector<int32_t>> LlamaBackend::Tokenize(std::string_view text, bool add_special) {
  RETURN_IF_ERROR(NeedModel());
  return TokenizeText(llama_model_get_vocab(model_.get()), text, add_special, true);
}

Status LlamaBackend::EnsureEmbeddingContext(Pooling pooling, uint32_t n_tokens) {
  const uint32_t want = std::max<uint32_t>(512, (n_tokens + 255) / 256 * 256);
  if (embd_ctx_ && embd_pooling_ == pooling && embd_n_ctx_ >= n_tokens) return Status::Ok();
  embd_ctx_.reset();
  LogCapture capture;
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = want;
  cp.n_batch = want;
  cp.n_ubatch = want;
  cp.n_seq_max = kEmbedSequences;
  cp.kv_unified = true;
  cp.n_threads = threads_;
  cp.n_threads_batch = threads_batch_;
  cp.embeddings = true;
  cp.no_perf = true;
  cp.pooling_type = ToLlama(pooling);
  ContextPtr ctx = llamacpp::NewContext(model_.get(), cp);
  if (ctx && pooling == Pooling::kModel &&
      llama_pooling_type(ctx.get()) == LLAMA_POOLING_TYPE_NONE) {
    ctx.reset();  // a generative model: mean pooling
    cp.pooling_type = LLAMA_POOLING_TYPE_MEAN;
    ctx = llamacpp::NewContext(model_.get(), cp);
  }
  if (ctx == nullptr) {
    const std::string why = capture.Reason();
    if (capture.out_of_memory()) {
      return ResourceExhaustedError("out of memory creating the embedding context: " + why);
    }
    return InternalError("llama.cpp cannot create an embedding context: " + why);
  }
  for (const auto& [buft, mb] : llama_get_memory_breakdown(ctx.get())) {
    (OnHost(buft) ? loaded_.host_bytes : loaded_.gpu_bytes) += mb.context + mb.compute;
  }
  embd_ctx_ = std::move(ctx);
  embd_pooling_ = pooling;
  embd_n_ctx_ = want;
  return Status::Ok();
}

Result<Embeddings> LlamaBackend::Embed(std::span<const std::string> texts,
                                       const EmbedOptions& options) {
  RETURN_IF_ERROR(NeedModel());
  const int64_t t0 = Now();
  Embeddings out;
  if (texts.empty()) return out;
  const llama_vocab* vocab = llama_model_get_vocab(model_.get());
  std::vector<std::vector<llama_token>> tokens;
  size_t longest = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    tokens.push_back(TokenizeText(vocab, texts[i], true, false));
    if (texts[i].empty() || tokens.back().empty()) {
      return InvalidArgumentError(
          fmt::format("text {} is empty; every text needs some words", i + 1));
    }
    if (tokens.back().size() > loaded_.n_ctx) {
      return InvalidArgumentError(fmt::format(
          "text {} has {} tokens, more than the context of {}; shorten it or load the model with "
          "a larger context (--ctx)",
          i + 1, tokens.back().size(), loaded_.n_ctx));
    }
    longest = std::max(longest, tokens.back().size());
    out.prompt_tokens += static_cast<int>(tokens.back().size());
  }
  RETURN_IF_ERROR(EnsureEmbeddingContext(options.pooling, static_cast<uint32_t>(longest)));
  llama_context* ctx = embd_ctx_.get();
  const int32_t n_embd = llama_model_n_embd_out(model_.get()) > 0
                             ? llama_model_n_embd_out(model_.get())
                             : llama_model_n_embd(model_.get());
  const bool encoder_only =
      llama_model_has_encoder(model_.get()) && !llama_model_has_decoder(model_.get());
  llamacpp::Batch owned_batch(static_cast<int32_t>(embd_n_ctx_),
                              static_cast<int32_t>(kEmbedSequences));
  llama_batch& batch = owned_batch.get();

  size_t next = 0;
  while (next < tokens.size()) {
    // Pack whole texts while they fit.
    batch.n_tokens = 0;
    const size_t first = next;
    while (next < tokens.size() && next - first < kEmbedSequences &&
           batch.n_tokens + tokens[next].size() <= embd_n_ctx_) {
      const auto seq = static_cast<llama_seq_id>(next - first);
      for (size_t p = 0; p < tokens[next].size(); ++p) {
        const int32_t j = batch.n_tokens++;
        batch.token[j] = tokens[next][p];
        batch.pos[j] = static_cast<llama_pos>(p);
        batch.n_seq_id[j] = 1;
        batch.seq_id[j][0] = seq;
        batch.logits[j] = true;
      }
      ++next;
    }
    if (llama_memory_t mem = llama_get_memory(ctx)) llama_memory_clear(mem, true);
    const int32_t rc = encoder_only ? llama_encode(ctx, batch) : llama_decode(ctx, batch);
    if (rc != 0)
      return InternalError(fmt::format("llama.cpp failed ({}) computing embeddings", rc));
    for (size_t i = first; i < next; ++i) {
      const float* e = llama_get_embeddings_seq(ctx, static_cast<llama_seq_id>(i - first));
      if (e == nullptr) return InternalError("llama.cpp gave no pooled embedding");
      std::vector<float> v(e, e + n_embd);
      if (options.normalize) Normalize(v);
      out.vectors.push_back(std::move(v));
    }
  }
  out.total_us = Now() - t0;
  return out;
}

Result<BenchResult> LlamaBackend::Bench(const BenchRequest& request) {
  RETURN_IF_ERROR(NeedModel());
  if (request.n_prompt < 0 || request.n_gen < 0 || request.repetitions < 1) {
    return InvalidArgumentError(
        "bench: prompt and generation tokens must be 0 or more, "
        "repetitions at least 1");
  }
  const uint32_t n_ctx = llama_n_ctx(ctx_.get());
  if (static_cast<uint32_t>(std::max(request.n_prompt, request.n_gen)) > n_ctx) {
    return InvalidArgumentError(
        fmt::format("bench: {} tokens do not fit in the context of {}; load with a larger --ctx",
                    std::max(request.n_prompt, request.n_gen), n_ctx));
  }
  llama_context* ctx = ctx_.get();
  const llama_vocab* vocab = llama_model_get_vocab(model_.get());
  const int32_t n_vocab = llama_vocab_n_tokens(vocab);
  const bool add_bos = llama_vocab_get_add_bos(vocab);
  std::mt19937 rng(1234);
  auto random_token = [&] { return static_cast<llama_token>(rng() % n_vocab); };
  llama_memory_t mem = llama_get_memory(ctx);
  cached_.clear();
  llama_set_n_threads(ctx, threads_, threads_batch_);
  const uint32_t n_batch = llama_n_batch(ctx);
  active_cancel_ = request.cancel;
  struct ClearCancel {
    const CancelFlag** p;
    ~ClearCancel() { *p = nullptr; }
  } clear_cancel{&active_cancel_};

  auto prompt_run = [&]() -> Status {
    std::vector<llama_token> batch(n_batch);
    int done = 0;
    while (done < request.n_prompt) {
      const int n = std::min<int>(request.n_prompt - done, static_cast<int>(n_batch));
      batch[0] = done == 0 && add_bos ? llama_vocab_bos(vocab) : random_token();
      for (int i = 1; i < n; ++i) batch[i] = random_token();
      const int32_t rc = llama_decode(ctx, llama_batch_get_one(batch.data(), n));
      if (rc == 2) return CancelledError("bench cancelled");
      if (rc != 0)
        return InternalError(fmt::format("llama_decode failed ({}) on a prompt batch", rc));
      done += n;
    }
    llama_synchronize(ctx);
    return Status::Ok();
  };
  auto gen_run = [&](int n_gen) -> Status {
    llama_token token = add_bos ? llama_vocab_bos(vocab) : random_token();
    for (int i = 0; i < n_gen; ++i) {
      const int32_t rc = llama_decode(ctx, llama_batch_get_one(&token, 1));
      if (rc == 2) return CancelledError("bench cancelled");
      if (rc != 0) return InternalError(fmt::format("llama_decode failed ({}) generating", rc));
      llama_synchronize(ctx);
      token = random_token();
    }
    return Status::Ok();
  };

  BenchResult out;
  if (request.n_prompt > 0) {
    llama_memory_clear(mem, false);
    RETURN_IF_ERROR(prompt_run());  // warm-up
    for (int r = 0; r < request.repetitions; ++r) {
      llama_memory_clear(mem, false);
      const int64_t t0 = Now();
      RETURN_IF_ERROR(prompt_run());
      const int64_t us = std::max<int64_t>(1, Now() - t0);
      out.prompt_samples.push_back(1e6 * request.n_prompt / static_cast<double>(us));
    }
  }
  if (request.n_gen > 0) {
    llama_memory_clear(mem, false);
    RETURN_IF_ERROR(gen_run(1));  // warm-up
    for (int r = 0; r < request.repetitions; ++r) {
      llama_memory_clear(mem, false);
      const int64_t t0 = Now();
      RETURN_IF_ERROR(gen_run(request.n_gen));
      const int64_t us = std::max<int64_t>(1, Now() - t0);
      out.gen_samples.push_back(1e6 * request.n_gen / static_cast<double>(us));
    }
  }
  llama_memory_clear(mem, true);
  out.prompt_tokens_per_second = Mean(out.prompt_samples);
  out.prompt_stddev = Stddev(out.prompt_samples);
  out.gen_tokens_per_second = Mean(out.gen_samples);
  out.gen_stddev = Stddev(out.gen_samples);
  return out;
}

}  // namespace

Result<GpuLayerChoice> ChooseGpuLayers(const fit::ModelFacts& facts,
                                       const fit::MemoryRequest& request,
                                       std::optional<int32_t> requested, const HardwareInfo* hw,
                                       const Limits& limits, bool backend_offloads) {
  GpuLayerChoice c;
  const bool gpus = hw != nullptr && !hw->gpus.empty();
  c.offload = backend_offloads && gpus;
  if (requested) {
    c.n_gpu_layers = c.offload ? *requested : 0;
    c.reason = c.offload
                   ? fmt::format("{} (asked for)",
                                 *requested < 0 ? std::string("all") : std::to_string(*requested))
                   : fmt::format("0: {} asked for, but {}", *requested,
                                 backend_offloads ? "this machine has no GPU"
                                                  : "this llama.cpp build has no GPU backend");
    return c;
  }
  if (!c.offload) {
    c.n_gpu_layers = 0;
    c.reason = !gpus ? "0: no GPU on this machine" : "0: this llama.cpp build has no GPU backend";
    return c;
  }
  fit::PlanOptions po;
  po.request = request;
  po.auto_gpu_layers = true;
  ASSIGN_OR_RETURN(fit::FitPlan plan, fit::PlanFit(facts, po, *hw, limits));
  c.n_gpu_layers = plan.request.n_gpu_layers;
  c.reason = fmt::format("{} (planned for this machine: {})",
                         c.n_gpu_layers < 0 ? std::string("all") : std::to_string(c.n_gpu_layers),
                         plan.reason);
  return c;
}

Result<std::unique_ptr<Backend>> MakeLlamaBackend(const BackendContext& context) {
  return std::unique_ptr<Backend>(std::make_unique<LlamaBackend>(context));
}

}  // namespace hangar::runtime
