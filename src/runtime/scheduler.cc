#include "runtime/scheduler.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "core/units.h"

namespace hangar::runtime {
namespace {

using Steady = std::chrono::steady_clock;
constexpr auto kPoll = std::chrono::milliseconds(50);

std::string FileSafe(std::string_view name) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    out += ok ? c : '_';
  }
  return out.substr(0, 64);
}

std::string DeviceName(size_t i) { return i == 0 ? "RAM" : fmt::format("GPU {}", i - 1); }

// The weights a split load sends to its workers.
uint64_t RemoteWeights(const ModelLoad& load) {
  uint64_t total = 0;
  for (const RemoteShare& r : load.remote) total += r.weights;
  return total;
}

}  // namespace

struct Scheduler::Entry {
  ModelLoad load;
  std::shared_ptr<Runner> runner;  // null while loading
  bool loading = true;
  bool unload_when_idle = false;
  int active = 0;
  std::chrono::milliseconds keep_alive{0};
  Steady::time_point idle_since = Steady::now();
  std::chrono::nanoseconds load_duration{0};
};

Scheduler::Scheduler(SchedulerOptions options) : options_(std::move(options)) {
  housekeeper_ = std::thread([this] { Housekeeping(); });
}

Scheduler::~Scheduler() { Shutdown(); }

// ---------------------------------------------------------------- leases

Scheduler::Lease::Lease(Lease&& other) noexcept
    : scheduler_(std::exchange(other.scheduler_, nullptr)),
      name_(std::move(other.name_)),
      runner_(std::move(other.runner_)),
      keep_alive_(other.keep_alive_),
      loaded_now_(other.loaded_now_),
      load_duration_(other.load_duration_) {}

Scheduler::Lease& Scheduler::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (scheduler_ != nullptr) scheduler_->Release(name_, runner_, keep_alive_);
    scheduler_ = std::exchange(other.scheduler_, nullptr);
    name_ = std::move(other.name_);
    runner_ = std::move(other.runner_);
    keep_alive_ = other.keep_alive_;
    loaded_now_ = other.loaded_now_;
    load_duration_ = other.load_duration_;
  }
  return *this;
}

Scheduler::Lease::~Lease() {
  if (scheduler_ != nullptr) scheduler_->Release(name_, runner_, keep_alive_);
}

void Scheduler::Lease::ReportFailure() {
  if (scheduler_ != nullptr) scheduler_->Failed(name_, runner_);
}

// ---------------------------------------------------------------- ledger

std::chrono::milliseconds Scheduler::KeepAliveOf(KeepAlive k) const {
  if (!k) return options_.default_keep_alive;
  return k->count() < 0 ? kForever : *k;
}

std::vector<uint64_t> Scheduler::UsedLocked() const {
  std::vector<uint64_t> used(options_.budgets.size(), 0);
  auto add = [&](const std::vector<uint64_t>& m) {
    for (size_t i = 0; i < m.size() && i < used.size(); ++i) used[i] += m[i];
  };
  for (const auto& [name, e] : entries_) add(e->load.memory);
  add(stopping_);
  return used;
}

bool Scheduler::FitsLocked(const ModelLoad& load) const {
  const std::vector<uint64_t>& need = load.memory;
  std::vector<uint64_t> used = UsedLocked();
  for (size_t i = 0; i < need.size(); ++i) {
    if (need[i] == 0) continue;
    if (i >= used.size() || used[i] + need[i] > options_.budgets[i]) return false;
  }
  for (const RemoteShare& share : load.remote) {
    uint64_t held = 0;
    for (const auto& [name, e] : entries_) {
      for (const RemoteShare& r : e->load.remote) {
        if (r.worker == share.worker) held += r.bytes;
      }
    }
    if (held + share.bytes > share.capacity) return false;
  }
  return true;
}

void Scheduler::NoteLocked(std::string model, std::string what) {
  if (options_.note) options_.note(fmt::format("{}: {}", model, what));
  events_.push_back({std::chrono::system_clock::now(), std::move(model), std::move(what)});
  while (events_.size() > 100) events_.pop_front();
}

std::shared_ptr<Runner> Scheduler::RemoveLocked(const std::string& name, std::string why) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return nullptr;
  std::shared_ptr<Entry> e = it->second;
  entries_.erase(it);
  NoteLocked(name, std::move(why));
  if (e->runner && e->runner->Alive()) {
    for (size_t i = 0; i < e->load.memory.size(); ++i) {
      if (i >= stopping_.size()) stopping_.resize(i + 1, 0);
      stopping_[i] += e->load.memory[i];
    }
    return e->runner;
  }
  return nullptr;  // dead: its memory is already back
}

void Scheduler::StopOutside(std::shared_ptr<Runner> runner, std::vector<uint64_t> memory) {
  if (!runner) return;
  runner->Stop();
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < memory.size() && i < stopping_.size(); ++i) stopping_[i] -= memory[i];
  cv_.notify_all();
}

// ---------------------------------------------------------------- acquire

Result<Scheduler::Lease> Scheduler::Acquire(const ModelLoad& load, KeepAlive keep_alive,
                                            const std::atomic<bool>* stop, int watch_fd) {
  for (size_t i = 0; i < load.memory.size(); ++i) {
    uint64_t budget = i < options_.budgets.size() ? options_.budgets[i] : 0;
    if (load.memory[i] > budget) {
      return ResourceExhaustedError(fmt::format(
          "{} needs {} of {} but the whole budget for models is {}; choose a smaller model, "
          "quantization or context, or raise [limits] in config.toml",
          load.name, FormatBytes(load.memory[i]), DeviceName(i), FormatBytes(budget)));
    }
  }

  for (const RemoteShare& share : load.remote) {
    if (share.bytes > share.capacity) {
      return ResourceExhaustedError(fmt::format("{} needs {} on worker {}, which offers {}",
                                                load.name, FormatBytes(share.bytes), share.worker,
                                                FormatBytes(share.capacity)));
    }
  }

  std::unique_lock lock(mu_);
  bool queued = false;
  struct Unqueue {
    Scheduler* s;
    bool* queued;
    ~Unqueue() {
      if (*queued) --s->waiting_;
    }
  } unqueue{this, &queued};

  for (;;) {
    if (shutdown_) return UnavailableError("the server is stopping");
    if (stop != nullptr && stop->load()) return CancelledError("the request was cancelled");
    if (watch_fd >= 0 && wire::Socket::PeerClosed(watch_fd)) {
      return CancelledError("the client closed its connection while waiting");
    }
    auto it = entries_.find(load.name);
    if (it != entries_.end()) {
      Entry& e = *it->second;
      if (!e.loading && !e.runner->Alive()) {
        std::string how = e.runner->ExitDescription();
        RemoveLocked(load.name, "runner died (" + how + "); the next request starts a new one");
        continue;
      }
      // Loaded with other load-time settings (a request's num_ctx): reloaded
      // once idle, as Ollama does.
      if (!e.loading && (e.load.runner.ctx_per_slot != load.runner.ctx_per_slot ||
                         e.load.runner.parallel != load.runner.parallel)) {
        if (e.active == 0) {
          std::vector<uint64_t> memory = e.load.memory;
          auto runner = RemoveLocked(
              load.name, fmt::format("reloaded with a context of {} tokens per slot (was {})",
                                     load.runner.ctx_per_slot, e.load.runner.ctx_per_slot));
          lock.unlock();
          StopOutside(std::move(runner), std::move(memory));
          lock.lock();
          continue;
        }
      } else if (!e.loading && e.active < e.load.runner.parallel) {
        ++e.active;
        e.unload_when_idle = false;
        Lease lease;
        lease.scheduler_ = this;
        lease.name_ = load.name;
        lease.runner_ = e.runner;
        lease.keep_alive_ = keep_alive;
        return lease;
      }
    } else if (FitsLocked(load)) {
      auto e = std::make_shared<Entry>();
      e->load = load;
      RunnerConfig& rc = e->load.runner;
      int seq = ++socket_seq_;
      rc.binary = options_.binary;
      rc.socket = options_.run_dir / fmt::format("r{}.sock", seq);
      rc.log_file = options_.log_dir / fmt::format("runner-{}-{}.log", FileSafe(load.name), seq);
      rc.load_timeout = options_.load_timeout;
      if (rc.alias.empty()) rc.alias = load.name;
      e->keep_alive = KeepAliveOf(keep_alive);
      entries_[load.name] = e;
      RunnerConfig config = rc;
      lock.unlock();
      auto runner = Runner::Start(config, &shutting_down_);
      lock.lock();
      if (!runner.ok()) {
        auto cur = entries_.find(load.name);
        if (cur != entries_.end() && cur->second == e) entries_.erase(cur);
        NoteLocked(load.name, "load failed: " + runner.status().message());
        cv_.notify_all();
        return UnavailableError(
            fmt::format("loading {} failed: {}", load.name, runner.status().message()));
      }
      e->runner = std::shared_ptr<Runner>(std::move(*runner));
      e->loading = false;
      e->active = 1;
      e->load_duration = e->runner->load_duration();
      NoteLocked(
          load.name,
          fmt::format(
              "loaded in {} ms (pid {}, {} slot(s) of {} tokens{})",
              std::chrono::duration_cast<std::chrono::milliseconds>(e->load_duration).count(),
              e->runner->pid(), config.parallel, config.ctx_per_slot,
              config.rpc_servers.empty()
                  ? std::string()
                  : fmt::format(", split over {} worker(s), {} of weights sent: {}",
                                config.rpc_servers.size(), FormatBytes(RemoteWeights(load)),
                                fmt::join(config.rpc_servers, ", "))));
      cv_.notify_all();
      if (shutdown_) return UnavailableError("the server is stopping");
      Lease lease;
      lease.scheduler_ = this;
      lease.name_ = load.name;
      lease.runner_ = e->runner;
      lease.keep_alive_ = keep_alive;
      lease.loaded_now_ = true;
      lease.load_duration_ = e->load_duration;
      return lease;
    } else {
      // Evict the idle runner used longest ago, then look again.
      std::shared_ptr<Entry> victim;
      for (const auto& [name, e] : entries_) {
        if (e->loading || e->active > 0) continue;
        if (!victim || e->idle_since < victim->idle_since) victim = e;
      }
      if (victim) {
        std::vector<uint64_t> memory = victim->load.memory;
        auto runner =
            RemoveLocked(victim->load.name, fmt::format("evicted to make room for {}", load.name));
        lock.unlock();
        StopOutside(std::move(runner), std::move(memory));
        lock.lock();
        continue;
      }
    }
    // Wait: the model is loading, its slots are busy, or the memory is held
    // by runners with requests in flight.
    if (!queued) {
      if (waiting_ >= options_.max_queue) {
        return UnavailableError(
            fmt::format("server busy: {} requests are already waiting (queue limit {}); try again",
                        waiting_, options_.max_queue));
      }
      ++waiting_;
      queued = true;
    }
    cv_.wait_for(lock, kPoll);
  }
}

void Scheduler::Release(const std::string& name, const std::shared_ptr<Runner>& runner,
                        KeepAlive keep_alive) {
  std::unique_lock lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second->runner != runner) {
    cv_.notify_all();
    return;
  }
  Entry& e = *it->second;
  --e.active;
  if (keep_alive) e.keep_alive = KeepAliveOf(keep_alive);
  std::shared_ptr<Runner> to_stop;
  std::vector<uint64_t> memory;
  if (e.active == 0) {
    e.idle_since = Steady::now();
    if (e.keep_alive.count() == 0 || e.unload_when_idle) {
      memory = e.load.memory;
      to_stop = RemoveLocked(name, "unloaded (keep_alive 0)");
    }
  }
  cv_.notify_all();
  lock.unlock();
  StopOutside(std::move(to_stop), std::move(memory));
}

void Scheduler::Failed(const std::string& name, const std::shared_ptr<Runner>& runner) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second->runner != runner || runner->Alive()) return;
  RemoveLocked(name, "runner died (" + runner->ExitDescription() +
                         ") with requests in flight; the next request starts a new one");
  cv_.notify_all();
}

Status Scheduler::Unload(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return NotFoundError(fmt::format("{} is not loaded", name));
  Entry& e = *it->second;
  if (e.loading || e.active > 0) {
    e.unload_when_idle = true;
    e.keep_alive = std::chrono::milliseconds(0);
    return Status::Ok();
  }
  std::vector<uint64_t> memory = e.load.memory;
  auto runner = RemoveLocked(name, "unloaded");
  lock.unlock();
  StopOutside(std::move(runner), std::move(memory));
  return Status::Ok();
}

bool Scheduler::IsLoaded(const std::string& name) const {
  std::lock_guard lock(mu_);
  return entries_.count(name) > 0;
}

// ---------------------------------------------------------------- reports

std::vector<LoadedRunner> Scheduler::Loaded() const {
  std::lock_guard lock(mu_);
  std::vector<LoadedRunner> out;
  const auto steady_now = Steady::now();
  const auto system_now = std::chrono::system_clock::now();
  for (const auto& [name, e] : entries_) {
    LoadedRunner m;
    m.name = name;
    m.model = e->load.runner.model;
    m.pid = e->runner ? e->runner->pid() : 0;
    m.memory = e->load.memory;
    m.context_per_slot = e->load.runner.ctx_per_slot;
    m.parallel = e->load.runner.parallel;
    m.in_flight = e->active;
    m.loading = e->loading;
    m.load_duration = e->load_duration;
    m.forever = e->keep_alive.count() < 0;
    if (!e->loading && e->active == 0 && !m.forever) {
      auto left = e->idle_since + e->keep_alive - steady_now;
      m.expires_at =
          system_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(left);
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<SchedulerEvent> Scheduler::Events() const {
  std::lock_guard lock(mu_);
  return {events_.begin(), events_.end()};
}

int Scheduler::queue_depth() const {
  std::lock_guard lock(mu_);
  return waiting_;
}

// ---------------------------------------------------------------- upkeep

void Scheduler::Housekeeping() {
  std::unique_lock lock(mu_);
  while (!shutdown_) {
    cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (shutdown_) break;
    const auto now = Steady::now();
    std::vector<std::pair<std::shared_ptr<Runner>, std::vector<uint64_t>>> to_stop;
    std::vector<std::string> names;
    for (const auto& [name, e] : entries_) names.push_back(name);
    for (const auto& name : names) {
      auto it = entries_.find(name);
      if (it == entries_.end()) continue;
      std::shared_ptr<Entry> e = it->second;
      if (e->loading) continue;
      if (!e->runner->Alive()) {
        RemoveLocked(name, "runner died (" + e->runner->ExitDescription() +
                               "); the next request starts a new one");
        continue;
      }
      if (e->active == 0 && e->keep_alive.count() >= 0 && now - e->idle_since >= e->keep_alive) {
        to_stop.emplace_back(RemoveLocked(name, "expired (keep_alive)"), e->load.memory);
      }
    }
    if (to_stop.empty()) continue;
    cv_.notify_all();
    lock.unlock();
    for (auto& [runner, memory] : to_stop) StopOutside(std::move(runner), std::move(memory));
    lock.lock();
  }
}

void Scheduler::Shutdown(std::chrono::milliseconds grace) {
  std::vector<std::shared_ptr<Runner>> runners;
  {
    std::lock_guard lock(mu_);
    if (shutdown_) return;
    shutdown_ = true;
    shutting_down_.store(true);
    for (auto& [name, e] : entries_) {
      if (e->runner) runners.push_back(e->runner);
    }
    entries_.clear();
    cv_.notify_all();
  }
  if (housekeeper_.joinable()) housekeeper_.join();
  std::vector<std::thread> stoppers;
  for (auto& r : runners) stoppers.emplace_back([r, grace] { r->Stop(grace); });
  for (auto& t : stoppers) t.join();
}

}  // namespace hangar::runtime
