#include "runtime/session.h"

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <string>

#include "core/log.h"
#include "hardware/process.h"

namespace hangar::runtime {

std::string_view RequestKindName(RequestKind kind) {
  switch (kind) {
    case RequestKind::kGenerate:
      return "generate";
    case RequestKind::kChat:
      return "chat";
    case RequestKind::kEmbed:
      return "embed";
    case RequestKind::kBench:
      return "bench";
  }
  return "generate";
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess:
      return "success";
    case Outcome::kFailure:
      return "failure";
    case Outcome::kCancelled:
      return "cancelled";
  }
  return "failure";
}

SessionManager::SessionManager(const BackendRegistry* registry, BackendContext context,
                               const Clock* clock, int64_t idle_ttl_seconds,
                               SessionObserver* observer)
    : registry_(registry),
      context_(std::move(context)),
      clock_(clock),
      idle_ttl_(idle_ttl_seconds),
      observer_(observer) {
  if (context_.clock == nullptr) context_.clock = clock_;
}

SessionManager::SessionManager(const BackendRegistry* registry, BackendContext context,
                               const Clock* clock, int64_t idle_ttl_seconds,
                               std::unique_ptr<SessionObserver> observer)
    : SessionManager(registry, std::move(context), clock, idle_ttl_seconds, observer.get()) {
  owned_observer_ = std::move(observer);
}

SessionManager::~SessionManager() {
  {
    std::lock_guard<std::mutex> lock(reaper_mu_);
    stopping_ = true;
  }
  reaper_cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
  std::lock_guard<std::mutex> lock(mu_);
  UnloadLocked();
}

Status SessionManager::Use(ModelSpec spec) {
  ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, registry_->Create(spec.backend, context_));
  std::lock_guard<std::mutex> lock(mu_);
  UnloadLocked();
  backend_ = std::move(backend);
  spec_ = std::move(spec);
  return Status::Ok();
}

std::optional<ModelSpec> SessionManager::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spec_;
}

Status SessionManager::LoadLocked(int64_t* load_us) {
  if (!spec_ || backend_ == nullptr) {
    return FailedPreconditionError(
        "no model chosen; name one (hangar run MODEL, hangar use MODEL)");
  }
  if (backend_->loaded() != nullptr) return Status::Ok();
  const int64_t t0 = clock_->MonotonicMicros();
  RETURN_IF_ERROR(backend_->Load(spec_->target, spec_->load));
  if (load_us != nullptr) *load_us = clock_->MonotonicMicros() - t0;
  last_used_unix_ = clock_->NowUnixSeconds();
  if (observer_ != nullptr) observer_->OnLoaded(*backend_->loaded(), IdleUntilLocked().value_or(0));
  return Status::Ok();
}

void SessionManager::UnloadLocked() {
  if (backend_ == nullptr || backend_->loaded() == nullptr) return;
  const std::string id = backend_->loaded()->target.id;
  backend_->Unload();
  Log(LogLevel::kInfo, "unloaded {}", id);
  if (observer_ != nullptr) observer_->OnUnloaded(id);
}

Status SessionManager::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  return LoadLocked(nullptr);
}

void SessionManager::Unload() {
  std::lock_guard<std::mutex> lock(mu_);
  UnloadLocked();
}

std::optional<LoadedModel> SessionManager::loaded() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (backend_ == nullptr || backend_->loaded() == nullptr) return std::nullopt;
  return *backend_->loaded();
}

std::optional<int64_t> SessionManager::IdleUntilLocked() const {
  if (idle_ttl_ <= 0 || backend_ == nullptr || backend_->loaded() == nullptr) return std::nullopt;
  return last_used_unix_ + idle_ttl_;
}

std::optional<int64_t> SessionManager::idle_until() const {
  std::lock_guard<std::mutex> lock(mu_);
  return IdleUntilLocked();
}

void SessionManager::Record(RequestKind kind, const Status& status, const Timings* timings,
                            int64_t start_us, int64_t load_us) {
  last_used_unix_ = clock_->NowUnixSeconds();
  if (observer_ == nullptr || !spec_) return;
  UsageRecord r;
  r.model = spec_->target.id;
  r.backend = spec_->backend;
  r.kind = kind;
  r.outcome = status.ok()                               ? Outcome::kSuccess
              : status.code() == StatusCode::kCancelled ? Outcome::kCancelled
                                                        : Outcome::kFailure;
  if (!status.ok()) r.error = status.ToString();
  r.at_unix = last_used_unix_;
  r.total_us = clock_->MonotonicMicros() - start_us;
  if (timings != nullptr) r.timings = *timings;
  r.load_us = load_us;
  r.peak_rss = ReadProcessMemory("/", 0).value_or(ProcessMemory{}).peak_resident;
  observer_->OnRequest(r, IdleUntilLocked().value_or(0));
}

template <typename T, typename Fn>
Result<T> SessionManager::Run(RequestKind kind, Fn fn, const Status& refused) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t start = clock_->MonotonicMicros();
  if (!refused.ok()) {
    if (spec_) Record(kind, refused, nullptr, start, 0);
    return refused;
  }
  int64_t load_us = 0;
  if (Status s = LoadLocked(&load_us); !s.ok()) {
    if (spec_) Record(kind, s, nullptr, start, 0);
    return s;
  }
  Result<T> r = fn(*backend_);
  const Timings* timings = nullptr;
  if constexpr (std::is_same_v<T, Completion>) {
    if (r.ok()) timings = &r->timings;
  }
  Record(kind, r.status(), timings, start, load_us);
  return r;
}

Result<Completion> SessionManager::Generate(const GenerateRequest& request,
                                            const TokenCallback& on_piece) {
  return Run<Completion>(
      RequestKind::kGenerate, [&](Backend& b) { return b.Stream(request, on_piece); },
      CheckSampling(request.sampling, request.max_tokens));
}

Result<Completion> SessionManager::Chat(std::span<const ChatMessage> messages,
                                        const GenerateRequest& request,
                                        const TokenCallback& on_piece) {
  return Run<Completion>(
      RequestKind::kChat, [&](Backend& b) { return b.ChatStream(messages, request, on_piece); },
      CheckSampling(request.sampling, request.max_tokens));
}

Result<Embeddings> SessionManager::Embed(std::span<const std::string> texts,
                                         const EmbedOptions& options) {
  return Run<Embeddings>(RequestKind::kEmbed, [&](Backend& b) { return b.Embed(texts, options); });
}

Result<std::vector<int32_t>> SessionManager::Tokenize(std::string_view text, bool add_special) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(LoadLocked(nullptr));
  last_used_unix_ = clock_->NowUnixSeconds();
  return backend_->Tokenize(text, add_special);
}

Result<BenchResult> SessionManager::Bench(const BenchRequest& request) {
  return Run<BenchResult>(RequestKind::kBench, [&](Backend& b) { return b.Bench(request); });
}

bool SessionManager::UnloadIfIdle() {
  std::lock_guard<std::mutex> lock(mu_);
  const std::optional<int64_t> until = IdleUntilLocked();
  if (!until || clock_->NowUnixSeconds() < *until) return false;
  UnloadLocked();
  return true;
}

void SessionManager::StartIdleReaper(int64_t period_ms) {
  std::lock_guard<std::mutex> lock(reaper_mu_);
  if (reaper_.joinable() || stopping_) return;
  reaper_ = std::thread([this, period_ms] {
    std::unique_lock<std::mutex> l(reaper_mu_);
    while (!stopping_) {
      reaper_cv_.wait_for(l, std::chrono::milliseconds(period_ms));
      if (stopping_) break;
      l.unlock();
      UnloadIfIdle();
      l.lock();
    }
  });
}

}  // namespace hangar::runtime
