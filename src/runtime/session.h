// SessionManager: the model in use by one process — which one, on which
// backend, with which settings — loaded lazily on first use, switched on
// request, unloaded after it has been idle for a while, and every request
// measured.
//
//   Use(spec)      chooses the model for later calls; the previous model is
//                  unloaded (at once, not at the next request). Nothing is
//                  loaded yet: the first request (or Load()) does it.
//   Generate, Chat, Embed, Tokenize, Bench
//                  load the current model when it is not loaded, then run.
//   UnloadIfIdle() unloads when the last request ended more than idle_ttl
//                  seconds ago (0: never); StartIdleReaper() calls it from a
//                  background thread.
//
// Each request and each load is reported to the SessionObserver (usage
// statistics, the process registry of `hangar ps`): uses, outcome, timings,
// the process's peak memory.
//
// Thread-safety: every method may be called from any thread. One mutex
// serialises loads and requests (a backend runs one thing at a time; only one
// load ever happens at once); CancelFlags stop a running request from another
// thread. The observer is called with the mutex held, from the thread doing
// the work.
#ifndef HANGAR_RUNTIME_SESSION_H_
#define HANGAR_RUNTIME_SESSION_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "runtime/backend.h"

namespace hangar::runtime {

// What to run: the backend by name, the model, how to load it.
struct ModelSpec {
  std::string backend{kDefaultBackend};
  ModelTarget target{};
  LoadOptions load{};
};

enum class RequestKind { kGenerate, kChat, kEmbed, kBench };
std::string_view RequestKindName(RequestKind kind);  // "generate", "chat", "embed", "bench"

enum class Outcome { kSuccess, kFailure, kCancelled };
std::string_view OutcomeName(Outcome outcome);  // "success", "failure", "cancelled"

// One request as measured.
struct UsageRecord {
  std::string model;
  std::string backend;
  RequestKind kind = RequestKind::kGenerate;
  Outcome outcome = Outcome::kSuccess;
  std::string error;      // the Status text of a failure
  int64_t at_unix = 0;    // when it ended
  int64_t total_us = 0;   // the whole request, load included when it loaded
  Timings timings;        // generation; zero for embeddings and failures before generation
  int64_t load_us = 0;    // when this request had to load the model
  uint64_t peak_rss = 0;  // the process's peak resident memory so far, bytes
};

class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  virtual void OnLoaded(const LoadedModel& /*model*/, int64_t /*idle_until_unix*/) {}
  virtual void OnUnloaded(const std::string& /*model*/) {}
  virtual void OnRequest(const UsageRecord& /*record*/, int64_t /*idle_until_unix*/) {}
};

class SessionManager {
 public:
  // `registry`, `clock` and `observer` (may be null) are borrowed and must
  // outlive the manager. idle_ttl_seconds 0 keeps a model loaded.
  SessionManager(const BackendRegistry* registry, BackendContext context, const Clock* clock,
                 int64_t idle_ttl_seconds, SessionObserver* observer = nullptr);
  // As above, the manager owning its observer (destroyed after the last
  // unload it reports).
  SessionManager(const BackendRegistry* registry, BackendContext context, const Clock* clock,
                 int64_t idle_ttl_seconds, std::unique_ptr<SessionObserver> observer);
  ~SessionManager();
  SessionManager(const SessionManager&) = delete;
  SessionManager& operator=(const SessionManager&) = delete;

  // Switches to `spec` (see the file comment). NotFound for an unknown
  // backend (nothing changes then).
  Status Use(ModelSpec spec);
  // The model chosen by Use, if any.
  std::optional<ModelSpec> current() const;

  // Loads the current model now unless it is loaded. FailedPrecondition when
  // Use was never called; the backend's Load errors.
  Status Load();
  void Unload();
  // The loaded model, or nullopt.
  std::optional<LoadedModel> loaded() const;
  // When the loaded model will be unloaded (unix seconds); nullopt when none
  // is loaded or it never expires.
  std::optional<int64_t> idle_until() const;

  Result<Completion> Generate(const GenerateRequest& request, const TokenCallback& on_piece = {});
  Result<Completion> Chat(std::span<const ChatMessage> messages, const GenerateRequest& request,
                          const TokenCallback& on_piece = {});
  Result<Embeddings> Embed(std::span<const std::string> texts, const EmbedOptions& options);
  Result<std::vector<int32_t>> Tokenize(std::string_view text, bool add_special);
  Result<BenchResult> Bench(const BenchRequest& request);

  // True when it unloaded an idle model.
  bool UnloadIfIdle();
  // Checks every `period_ms` until the manager is destroyed.
  void StartIdleReaper(int64_t period_ms);

 private:
  Status LoadLocked(int64_t* load_us);
  void UnloadLocked();
  std::optional<int64_t> IdleUntilLocked() const;
  void Record(RequestKind kind, const Status& status, const Timings* timings, int64_t start_us,
              int64_t load_us);
  // Runs `fn` on the loaded backend (loading first), recording the request.
  // Loads when needed, runs `fn` and records the request. A non-OK
  // `refused` is recorded as a failed request without loading anything.
  template <typename T, typename Fn>
  Result<T> Run(RequestKind kind, Fn fn, const Status& refused = Status::Ok());

  const BackendRegistry* registry_;
  BackendContext context_;
  const Clock* clock_;
  int64_t idle_ttl_;
  std::unique_ptr<SessionObserver> owned_observer_;  // outlives the destructor's unload
  SessionObserver* observer_;

  mutable std::mutex mu_;
  std::optional<ModelSpec> spec_;
  std::unique_ptr<Backend> backend_;
  int64_t last_used_unix_ = 0;

  std::mutex reaper_mu_;
  std::condition_variable reaper_cv_;
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_SESSION_H_
