#include "runtime/usage_store.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/log.h"
#include "core/strings.h"
#include "hardware/process.h"
#include "store/model_db.h"

namespace hangar::runtime {
namespace {

using store::Row;
using store::SqlValue;

constexpr std::string_view kCurrentKey = "current_model";

SqlValue I(int64_t v) { return SqlValue(v); }
SqlValue U(uint64_t v) { return SqlValue(static_cast<int64_t>(v)); }
SqlValue D(double v) { return SqlValue(v); }
SqlValue S(std::string_view v) { return SqlValue(std::string(v)); }

ModelStats StatsFromRow(const Row& r) {
  ModelStats s;
  s.model = r.Text(0);
  s.backend = r.Text(1);
  s.uses = r.Int(2);
  s.successes = r.Int(3);
  s.failures = r.Int(4);
  s.cancelled = r.Int(5);
  s.infer_count = r.Int(9);
  if (s.infer_count > 0) {
    s.infer_ms_avg = r.Int(6) / 1000.0 / static_cast<double>(s.infer_count);
    s.infer_ms_min = r.Int(7) / 1000.0;
    s.infer_ms_max = r.Int(8) / 1000.0;
  }
  s.prompt_tokens = r.Int(10);
  const int64_t prompt_us = r.Int(11);
  s.gen_tokens = r.Int(12);
  const int64_t gen_us = r.Int(13);
  if (prompt_us > 0) s.prompt_tokens_per_second = 1e6 * s.prompt_tokens / prompt_us;
  if (gen_us > 0) s.gen_tokens_per_second = 1e6 * s.gen_tokens / gen_us;
  if (r.Int(15) > 0) s.ttft_ms_avg = r.Int(14) / 1000.0 / static_cast<double>(r.Int(15));
  s.peak_rss = static_cast<uint64_t>(r.Int(16));
  s.last_used = r.Int(17);
  s.last_error = r.Text(18);
  if (!r.IsNull(19)) s.baseline_prompt_tokens_per_second = r.Real(19);
  if (!r.IsNull(20)) s.baseline_gen_tokens_per_second = r.Real(20);
  return s;
}

}  // namespace

UsageStore::UsageStore(store::StateDb* db, const Clock* clock) : db_(db), clock_(clock) {}

Status UsageStore::Record(const UsageRecord& r) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool ok = r.outcome == Outcome::kSuccess;
  const int64_t infer_us = ok ? std::max<int64_t>(0, r.total_us - r.load_us) : 0;
  const Timings& t = r.timings;
  const int64_t read = t.prompt_tokens - t.cached_tokens;
  return db_->Transaction([&]() -> Status {
    RETURN_IF_ERROR(db_->Exec(
        R"sql(
INSERT INTO usage_stats (model, backend, uses, successes, failures, cancelled,
    infer_us_total, infer_us_min, infer_us_max, infer_count,
    prompt_tokens, prompt_us, gen_tokens, gen_us, ttft_us_total, ttft_count,
    peak_rss, last_used, last_error)
VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
ON CONFLICT (model, backend) DO UPDATE SET
  uses = uses + 1,
  successes = successes + ?3,
  failures = failures + ?4,
  cancelled = cancelled + ?5,
  infer_us_total = infer_us_total + ?6,
  infer_us_min = CASE WHEN ?8 = 0 THEN infer_us_min
                      WHEN infer_us_min IS NULL THEN ?7 ELSE MIN(infer_us_min, ?7) END,
  infer_us_max = CASE WHEN ?8 = 0 THEN infer_us_max
                      WHEN infer_us_max IS NULL THEN ?7 ELSE MAX(infer_us_max, ?7) END,
  infer_count = infer_count + ?8,
  prompt_tokens = prompt_tokens + ?9,
  prompt_us = prompt_us + ?10,
  gen_tokens = gen_tokens + ?11,
  gen_us = gen_us + ?12,
  ttft_us_total = ttft_us_total + ?13,
  ttft_count = ttft_count + ?14,
  peak_rss = MAX(peak_rss, ?15),
  last_used = ?16,
  last_error = CASE WHEN ?17 IS NULL THEN last_error ELSE ?17 END
)sql",
        {S(r.model), S(r.backend), I(ok ? 1 : 0), I(r.outcome == Outcome::kFailure ? 1 : 0),
         I(r.outcome == Outcome::kCancelled ? 1 : 0), I(infer_us), ok ? I(infer_us) : SqlValue(),
         I(ok ? 1 : 0), I(ok ? read : 0), I(ok ? t.prompt_us : 0), I(ok ? t.gen_tokens : 0),
         I(ok ? t.gen_us : 0), I(ok ? t.ttft_us : 0), I(ok && t.ttft_us > 0 ? 1 : 0), U(r.peak_rss),
         I(r.at_unix), r.error.empty() ? SqlValue() : S(r.error)}));
    RETURN_IF_ERROR(db_->Exec(
        "INSERT INTO usage_events (model, backend, kind, outcome, at, infer_us, prompt_tokens, "
        "prompt_us, gen_tokens, gen_us, ttft_us, peak_rss) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?)",
        {S(r.model), S(r.backend), S(RequestKindName(r.kind)), S(OutcomeName(r.outcome)),
         I(r.at_unix), I(infer_us), I(read), I(t.prompt_us), I(t.gen_tokens), I(t.gen_us),
         I(t.ttft_us), U(r.peak_rss)}));
    RETURN_IF_ERROR(db_->Exec(
        "DELETE FROM usage_events WHERE model = ?1 AND backend = ?2 AND id NOT IN (SELECT id "
        "FROM usage_events WHERE model = ?1 AND backend = ?2 ORDER BY id DESC LIMIT ?3)",
        {S(r.model), S(r.backend), I(kRecentEvents)}));
    return Status::Ok();
  });
}

Result<std::vector<ModelStats>> UsageStore::Stats(std::string_view model) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string sql = std::string(R"sql(
SELECT s.model, s.backend, s.uses, s.successes, s.failures, s.cancelled,
       s.infer_us_total, s.infer_us_min, s.infer_us_max, s.infer_count,
       s.prompt_tokens, s.prompt_us, s.gen_tokens, s.gen_us, s.ttft_us_total, s.ttft_count,
       s.peak_rss, s.last_used, s.last_error, b.prompt_tps, b.gen_tps
FROM usage_stats s LEFT JOIN speed_baselines b ON b.model = s.model AND b.backend = s.backend
)sql") + (model.empty() ? "" : "WHERE lower(s.model) = lower(?1) ") +
                          "ORDER BY s.model, s.backend";
  std::vector<SqlValue> params;
  if (!model.empty()) params.push_back(S(model));
  ASSIGN_OR_RETURN(std::vector<Row> rows, db_->Query(sql, params));
  std::vector<ModelStats> out;
  for (const Row& r : rows) out.push_back(StatsFromRow(r));
  // Models only benchmarked, never used, still have a row to show.
  ASSIGN_OR_RETURN(
      std::vector<Row> only,
      db_->Query(std::string("SELECT b.model, b.backend, b.prompt_tps, b.gen_tps FROM "
                             "speed_baselines b WHERE NOT EXISTS (SELECT 1 FROM usage_stats s "
                             "WHERE s.model = b.model AND s.backend = b.backend)") +
                     (model.empty() ? "" : " AND lower(b.model) = lower(?1)"),
                 params));
  for (const Row& r : only) {
    ModelStats s;
    s.model = r.Text(0);
    s.backend = r.Text(1);
    s.baseline_prompt_tokens_per_second = r.Real(2);
    s.baseline_gen_tokens_per_second = r.Real(3);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const ModelStats& a, const ModelStats& b) {
    return std::tie(a.model, a.backend) < std::tie(b.model, b.backend);
  });
  if (!model.empty() && out.empty()) {
    return NotFoundError(fmt::format(
        "no statistics for {}: it has not been run yet (hangar run {}, hangar bench {})", model,
        model, model));
  }
  return out;
}

Result<std::vector<double>> UsageStore::RecentGenSpeeds(std::string_view model,
                                                        std::string_view backend, int count,
                                                        int min_tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   db_->Query("SELECT gen_tokens, gen_us FROM usage_events WHERE model = ? AND "
                              "backend = ? AND outcome = 'success' AND kind IN ('generate', "
                              "'chat') AND gen_tokens >= ? AND gen_us > 0 ORDER BY id DESC "
                              "LIMIT ?",
                              {S(model), S(backend), I(min_tokens), I(count)}));
  std::vector<double> out;
  for (const Row& r : rows) out.push_back(1e6 * static_cast<double>(r.Int(0)) / r.Int(1));
  return out;
}

Result<std::vector<UsageEvent>> UsageStore::RecentEvents(std::string_view model, int count) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   db_->Query("SELECT model, backend, kind, outcome, at, infer_us, prompt_tokens, "
                              "gen_tokens, gen_us, ttft_us FROM usage_events WHERE lower(model) = "
                              "lower(?) ORDER BY id DESC LIMIT ?",
                              {S(model), I(count)}));
  std::vector<UsageEvent> out;
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    const Row& r = *it;
    out.push_back({r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4), r.Int(5), r.Int(6),
                   r.Int(7), r.Int(8), r.Int(9)});
  }
  return out;
}

Status UsageStore::SaveBaseline(const SpeedBaseline& b) {
  std::lock_guard<std::mutex> lock(mu_);
  return db_
      ->Exec(
          "INSERT OR REPLACE INTO speed_baselines (model, backend, prompt_tps, gen_tps, load_ms, "
          "threads, n_gpu_layers, measured_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
          {S(b.model), S(b.backend), D(b.prompt_tokens_per_second), D(b.gen_tokens_per_second),
           D(b.load_ms), I(b.threads), I(b.n_gpu_layers), I(b.measured_at)})
      .status();
}

Result<std::vector<SpeedBaseline>> UsageStore::Baselines() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   db_->Query("SELECT model, backend, prompt_tps, gen_tps, load_ms, threads, "
                              "n_gpu_layers, measured_at FROM speed_baselines ORDER BY model, "
                              "backend"));
  std::vector<SpeedBaseline> out;
  for (const Row& r : rows) {
    out.push_back({r.Text(0), r.Text(1), r.Real(2), r.Real(3), r.Real(4),
                   static_cast<int>(r.Int(5)), static_cast<int32_t>(r.Int(6)), r.Int(7)});
  }
  return out;
}

Status UsageStore::SetCurrent(const CurrentModel& c) {
  std::lock_guard<std::mutex> lock(mu_);
  const nlohmann::json j = {{"model", c.model}, {"backend", c.backend}, {"since", c.since}};
  return db_->Put(kCurrentKey, j.dump());
}

Result<std::optional<CurrentModel>> UsageStore::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::optional<std::string> text, db_->Get(kCurrentKey));
  if (!text) return std::optional<CurrentModel>();
  try {
    const nlohmann::json j = nlohmann::json::parse(*text);
    CurrentModel c;
    c.model = j.at("model").get<std::string>();
    c.backend = j.value("backend", std::string(kDefaultBackend));
    c.since = j.value("since", int64_t{0});
    return std::optional<CurrentModel>(std::move(c));
  } catch (const std::exception& e) {
    return DataLossError(
        fmt::format("the current model in {} is unreadable ({}); run 'hangar "
                    "use MODEL' to set it again",
                    db_->path().string(), e.what()));
  }
}

Status UsageStore::TouchInstalled(std::string_view store_id, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  return store::ModelDb(*db_).Touch(store_id, now);
}

Status UsageStore::RegisterProcess(const ProcessEntry& e) {
  std::lock_guard<std::mutex> lock(mu_);
  return db_
      ->Exec(
          "INSERT OR REPLACE INTO runtime_processes (pid, start_ticks, model, backend, command, "
          "host_bytes, gpu_bytes, n_ctx, n_gpu_layers, loaded_at, last_used, idle_until) VALUES "
          "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {I(e.pid), U(e.start_ticks), S(e.model), S(e.backend), S(e.command), U(e.host_bytes),
           U(e.gpu_bytes), I(e.n_ctx), I(e.n_gpu_layers), I(e.loaded_at), I(e.last_used),
           I(e.idle_until)})
      .status();
}

Status UsageStore::TouchProcess(int64_t pid, std::string_view model, int64_t last_used,
                                int64_t idle_until) {
  std::lock_guard<std::mutex> lock(mu_);
  return db_
      ->Exec(
          "UPDATE runtime_processes SET last_used = ?, idle_until = ? WHERE pid = ? AND "
          "model = ?",
          {I(last_used), I(idle_until), I(pid), S(model)})
      .status();
}

Status UsageStore::RemoveProcess(int64_t pid, std::string_view model) {
  std::lock_guard<std::mutex> lock(mu_);
  return db_->Exec("DELETE FROM runtime_processes WHERE pid = ? AND model = ?", {I(pid), S(model)})
      .status();
}

Result<std::vector<ProcessEntry>> UsageStore::LiveProcesses() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   db_->Query("SELECT pid, start_ticks, model, backend, command, host_bytes, "
                              "gpu_bytes, n_ctx, n_gpu_layers, loaded_at, last_used, idle_until "
                              "FROM runtime_processes ORDER BY loaded_at, pid"));
  std::vector<ProcessEntry> live;
  for (const Row& r : rows) {
    ProcessEntry e;
    e.pid = r.Int(0);
    e.start_ticks = static_cast<uint64_t>(r.Int(1));
    e.model = r.Text(2);
    e.backend = r.Text(3);
    e.command = r.Text(4);
    e.host_bytes = static_cast<uint64_t>(r.Int(5));
    e.gpu_bytes = static_cast<uint64_t>(r.Int(6));
    e.n_ctx = static_cast<uint32_t>(r.Int(7));
    e.n_gpu_layers = static_cast<int32_t>(r.Int(8));
    e.loaded_at = r.Int(9);
    e.last_used = r.Int(10);
    e.idle_until = r.Int(11);
    const std::optional<uint64_t> ticks = ProcessStartTicks("/", e.pid);
    if (ticks && *ticks == e.start_ticks) {
      live.push_back(std::move(e));
    } else {
      RETURN_IF_ERROR(db_->Exec("DELETE FROM runtime_processes WHERE pid = ? AND start_ticks = ?",
                                {I(e.pid), U(e.start_ticks)}));
    }
  }
  return live;
}

UsageRecorder::UsageRecorder(UsageStore* usage, std::string command, std::string installed_id)
    : usage_(usage),
      command_(std::move(command)),
      installed_id_(std::move(installed_id)),
      pid_(static_cast<int64_t>(::getpid())) {}

UsageRecorder::~UsageRecorder() {
  if (registered_) OnUnloaded(*registered_);
}

void UsageRecorder::OnLoaded(const LoadedModel& m, int64_t idle_until_unix) {
  ProcessEntry e;
  e.pid = pid_;
  e.start_ticks = ProcessStartTicks("/", pid_).value_or(0);
  e.model = m.target.id;
  e.backend = m.backend;
  e.command = command_;
  e.host_bytes = m.host_bytes;
  e.gpu_bytes = m.gpu_bytes;
  e.n_ctx = m.n_ctx;
  e.n_gpu_layers = m.n_gpu_layers;
  e.loaded_at = usage_->clock()->NowUnixSeconds();
  e.last_used = e.loaded_at;
  e.idle_until = idle_until_unix;
  if (Status s = usage_->RegisterProcess(e); !s.ok()) {
    Log(LogLevel::kWarning, "cannot register the loaded model for 'hangar ps': {}", s.message());
    return;
  }
  registered_ = m.target.id;
}

void UsageRecorder::OnUnloaded(const std::string& model) {
  if (Status s = usage_->RemoveProcess(pid_, model); !s.ok()) {
    Log(LogLevel::kWarning, "cannot update 'hangar ps' after unloading {}: {}", model, s.message());
  }
  if (registered_ == model) registered_.reset();
}

void UsageRecorder::OnRequest(const UsageRecord& record, int64_t idle_until_unix) {
  // A benchmark is kept as the speed baseline, not as a use.
  if (record.kind == RequestKind::kBench) {
  } else if (Status s = usage_->Record(record); !s.ok()) {
    Log(LogLevel::kWarning, "cannot record usage statistics: {}", s.message());
  }
  if (record.outcome == Outcome::kSuccess && !installed_id_.empty() &&
      record.kind != RequestKind::kBench) {
    if (Status s = usage_->TouchInstalled(installed_id_, record.at_unix); !s.ok()) {
      Log(LogLevel::kWarning, "cannot record the use of {}: {}", installed_id_, s.message());
    }
  }
  if (registered_ == record.model) {
    if (Status s = usage_->TouchProcess(pid_, record.model, record.at_unix, idle_until_unix);
        !s.ok()) {
      Log(LogLevel::kWarning, "cannot update 'hangar ps': {}", s.message());
    }
  }
}

nlohmann::json ToJson(const ModelStats& s) {
  nlohmann::json j = {{"model", s.model},
                      {"backend", s.backend},
                      {"uses", s.uses},
                      {"successes", s.successes},
                      {"failures", s.failures},
                      {"cancelled", s.cancelled},
                      {"success_rate", s.SuccessRate()},
                      {"inference_ms",
                       {{"avg", s.infer_ms_avg},
                        {"min", s.infer_ms_min},
                        {"max", s.infer_ms_max},
                        {"count", s.infer_count}}},
                      {"prompt_tokens", s.prompt_tokens},
                      {"gen_tokens", s.gen_tokens},
                      {"prompt_tokens_per_second", s.prompt_tokens_per_second},
                      {"gen_tokens_per_second", s.gen_tokens_per_second},
                      {"time_to_first_token_ms", s.ttft_ms_avg},
                      {"peak_memory_bytes", s.peak_rss},
                      {"last_used", s.last_used ? nlohmann::json(s.last_used) : nlohmann::json()},
                      {"last_error", s.last_error},
                      {"baseline", nullptr}};
  if (s.baseline_gen_tokens_per_second) {
    j["baseline"] = {{"gen_tokens_per_second", *s.baseline_gen_tokens_per_second},
                     {"prompt_tokens_per_second", s.baseline_prompt_tokens_per_second.value_or(0)}};
  }
  return j;
}

nlohmann::json ToJson(const ProcessEntry& e) {
  return {{"pid", e.pid},
          {"model", e.model},
          {"backend", e.backend},
          {"command", e.command},
          {"host_bytes", e.host_bytes},
          {"gpu_bytes", e.gpu_bytes},
          {"n_ctx", e.n_ctx},
          {"n_gpu_layers", e.n_gpu_layers},
          {"loaded_at", e.loaded_at},
          {"last_used", e.last_used},
          {"idle_until", e.idle_until ? nlohmann::json(e.idle_until) : nlohmann::json()}};
}

}  // namespace hangar::runtime
