// UsageStore: what the runtime remembers between processes, in the state
// database (store/state_db.h): usage statistics per model and backend, the
// speed measured by `hangar bench` (the baseline), the current model, and the
// processes that hold a loaded model right now (for `hangar ps`).
//
// Tables (schema in store/state_db.cc, migration 2; owned by this file):
//   usage_stats(model, backend, uses, successes, failures, cancelled,
//               infer_us_total, infer_us_min, infer_us_max, infer_count,
//               prompt_tokens, prompt_us, gen_tokens, gen_us, ttft_us_total,
//               ttft_count, peak_rss, last_used, last_error)
//       one row per model and backend; inference time is that of successful
//       requests, without loading; tokens/s are totals over durations.
//   usage_events(id, model, backend, kind, outcome, at, infer_us,
//                prompt_tokens, prompt_us, gen_tokens, gen_us, ttft_us,
//                peak_rss)
//       the latest kRecentEvents requests of each model and backend, for
//       trends (performance degradation in `hangar doctor`).
//   speed_baselines(model, backend, prompt_tps, gen_tps, load_ms, threads,
//                   n_gpu_layers, measured_at)
//       the last `hangar bench` of each model and backend.
//   runtime_processes(pid, start_ticks, model, backend, command, host_bytes,
//                     gpu_bytes, n_ctx, n_gpu_layers, loaded_at, last_used,
//                     idle_until)
//       one row per process and loaded model, written when it loads, updated
//       after each request, removed when it unloads. A process that died
//       without removing its rows is recognised by its pid no longer running
//       with the same start time (field 22 of /proc/PID/stat), and its rows
//       are dropped when the table is read.
//   kv "current_model": {"model": ID, "backend": NAME, "since": UNIX}.
// Times are Unix seconds, durations microseconds, sizes bytes.
//
// Thread-safety: a UsageStore serialises its own calls (one mutex) over the
// StateDb connection it is given, which nothing else may use meanwhile. Any
// number of processes may share the database file (SQLite locking).
#ifndef HANGAR_RUNTIME_USAGE_STORE_H_
#define HANGAR_RUNTIME_USAGE_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "runtime/session.h"
#include "store/state_db.h"

namespace hangar::runtime {

inline constexpr int kRecentEvents = 200;

struct ModelStats {
  std::string model;
  std::string backend;
  int64_t uses = 0;
  int64_t successes = 0;
  int64_t failures = 0;
  int64_t cancelled = 0;
  int64_t infer_count = 0;  // successful requests timed
  double infer_ms_avg = 0;
  double infer_ms_min = 0;
  double infer_ms_max = 0;
  int64_t prompt_tokens = 0;
  int64_t gen_tokens = 0;
  double prompt_tokens_per_second = 0;  // 0: none measured
  double gen_tokens_per_second = 0;
  double ttft_ms_avg = 0;
  uint64_t peak_rss = 0;
  int64_t last_used = 0;  // 0: never
  std::string last_error;
  // The last `hangar bench`, if any.
  std::optional<double> baseline_gen_tokens_per_second;
  std::optional<double> baseline_prompt_tokens_per_second;
  double SuccessRate() const { return uses > 0 ? static_cast<double>(successes) / uses : 0; }
};

struct SpeedBaseline {
  std::string model;
  std::string backend;
  double prompt_tokens_per_second = 0;
  double gen_tokens_per_second = 0;
  double load_ms = 0;
  int threads = 0;
  int32_t n_gpu_layers = 0;
  int64_t measured_at = 0;
};

struct CurrentModel {
  std::string model;
  std::string backend;
  int64_t since = 0;
};

struct ProcessEntry {
  int64_t pid = 0;
  uint64_t start_ticks = 0;
  std::string model;
  std::string backend;
  std::string command;  // "run", "serve", ...
  uint64_t host_bytes = 0;
  uint64_t gpu_bytes = 0;
  uint32_t n_ctx = 0;
  int32_t n_gpu_layers = 0;
  int64_t loaded_at = 0;
  int64_t last_used = 0;
  int64_t idle_until = 0;  // 0: never unloaded for idleness
};

// One recent request, as kept for the charts of speed over time.
struct UsageEvent {
  std::string model;
  std::string backend;
  std::string kind;     // RequestKindName
  std::string outcome;  // OutcomeName
  int64_t at_unix = 0;
  int64_t infer_us = 0;
  int64_t prompt_tokens = 0;
  int64_t gen_tokens = 0;
  int64_t gen_us = 0;
  int64_t ttft_us = 0;
};

class UsageStore {
 public:
  // `db` is borrowed and must outlive the store.
  UsageStore(store::StateDb* db, const Clock* clock);
  const Clock* clock() const { return clock_; }

  // Adds one request to the statistics and the recent events.
  Status Record(const UsageRecord& record);
  // Every model and backend (sorted by model, then backend), or those of
  // `model` (case-insensitive; NotFound when it has none).
  Result<std::vector<ModelStats>> Stats(std::string_view model = {});
  // The latest generation speeds (tokens/s) of successful requests with at
  // least `min_tokens` generated, newest first.
  Result<std::vector<double>> RecentGenSpeeds(std::string_view model, std::string_view backend,
                                              int count, int min_tokens = 8);
  // The latest `count` requests of `model` (case-insensitive; every backend),
  // oldest first.
  Result<std::vector<UsageEvent>> RecentEvents(std::string_view model, int count);

  Status SaveBaseline(const SpeedBaseline& baseline);
  Result<std::vector<SpeedBaseline>> Baselines();

  Status SetCurrent(const CurrentModel& current);
  Result<std::optional<CurrentModel>> Current();

  // One use of the installed model `store_id` (store/model_db.h: last_used,
  // use_count, shown by `hangar list`). NotFound for an unknown id.
  Status TouchInstalled(std::string_view store_id, int64_t now);

  Status RegisterProcess(const ProcessEntry& entry);
  Status TouchProcess(int64_t pid, std::string_view model, int64_t last_used, int64_t idle_until);
  Status RemoveProcess(int64_t pid, std::string_view model);
  // The rows of processes still running; the others are deleted.
  Result<std::vector<ProcessEntry>> LiveProcesses();

 private:
  store::StateDb* db_;
  const Clock* clock_;
  std::mutex mu_;
};

// Records every request of a SessionManager (benchmarks excepted: those are
// saved as baselines by their caller) into a UsageStore and keeps this
// process's runtime_processes row while a model is loaded. Failures to write
// are logged, never returned (statistics must not break a run).
class UsageRecorder final : public SessionObserver {
 public:
  // `usage` is borrowed. `command` names this process in `hangar ps`.
  // `installed_id`, when not empty, is the state database's id of the model
  // run: each successful request counts as a use of it (TouchInstalled).
  UsageRecorder(UsageStore* usage, std::string command, std::string installed_id = {});
  ~UsageRecorder() override;

  void OnLoaded(const LoadedModel& model, int64_t idle_until_unix) override;
  void OnUnloaded(const std::string& model) override;
  void OnRequest(const UsageRecord& record, int64_t idle_until_unix) override;

 private:
  UsageStore* usage_;
  std::string command_;
  std::string installed_id_;
  int64_t pid_;
  std::optional<std::string> registered_;  // the model of our row
};

nlohmann::json ToJson(const ModelStats& stats);
nlohmann::json ToJson(const ProcessEntry& entry);

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_USAGE_STORE_H_
