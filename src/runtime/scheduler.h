// Scheduler: which models `hangar serve` has loaded, each in one runner
// process (runner.h), within a memory budget.
//
// A request names a model; Acquire returns a Lease on its runner, loading it
// first when needed. The ledger counts the memory of every runner loaded or
// loading per device (RAM, each GPU), so two loads that would not fit
// together never both start. A model that needs memory evicts idle runners,
// least recently used first, never one with a request in flight; a model
// that cannot fit even alone is refused at once. Each runner has `parallel`
// slots; requests beyond them wait in one bounded queue (Unavailable when
// full: HTTP 503). An idle runner stays loaded for its keep-alive (Ollama's
// meaning: a duration, 0 = unload when idle, negative = forever), then stops.
// A runner found dead is removed, noted in the log and in Events(), and the
// next request starts a new one.
//
// Thread-safe: every method may be called from any thread. Leases must be
// destroyed before the Scheduler.
#ifndef HANGAR_RUNTIME_SCHEDULER_H_
#define HANGAR_RUNTIME_SCHEDULER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "runtime/runner.h"

namespace hangar::runtime {

// Memory a split model takes on a worker (see app/cluster_ops.h).
struct RemoteShare {
  std::string worker;     // "host:port"
  uint64_t bytes = 0;     // on that worker
  uint64_t weights = 0;   // of which weights: sent to it at each load
  uint64_t capacity = 0;  // what the worker offers all models together
};

// What a request needs loaded.
struct ModelLoad {
  std::string name;     // one runner per name (the model's id)
  RunnerConfig runner;  // binary, socket and log are set by the scheduler
  // Bytes on each device (RAM first, then each GPU) for all slots.
  std::vector<uint64_t> memory;
  // Bytes on workers (a model split over machines): counted against each
  // worker's capacity like the local budgets, across all loaded models.
  std::vector<RemoteShare> remote;
};

struct SchedulerOptions {
  std::filesystem::path binary;   // llama-server
  std::filesystem::path run_dir;  // private folder for the runners' sockets
  std::filesystem::path log_dir;  // one log file per runner process
  std::vector<uint64_t> budgets;  // bytes per device, RAM first
  int max_queue = 512;            // requests waiting for a runner or a slot
  std::chrono::milliseconds default_keep_alive{std::chrono::minutes(5)};
  std::chrono::milliseconds load_timeout{std::chrono::minutes(5)};
  // Notes for the server's log (loads, evictions, deaths).
  std::function<void(std::string_view)> note;
};

// Keep-alive of a request: nullopt = the configured default.
using KeepAlive = std::optional<std::chrono::milliseconds>;
inline constexpr std::chrono::milliseconds kForever{-1};

struct LoadedRunner {
  std::string name;
  std::filesystem::path model;
  pid_t pid = 0;
  std::vector<uint64_t> memory;
  uint32_t context_per_slot = 0;
  int parallel = 1;
  int in_flight = 0;
  bool loading = false;
  // When an idle runner stops; nullopt while busy or kept forever.
  std::optional<std::chrono::system_clock::time_point> expires_at;
  bool forever = false;
  std::chrono::nanoseconds load_duration{0};
};

struct SchedulerEvent {
  std::chrono::system_clock::time_point at;
  std::string model;
  std::string
      what;  // "loaded", "evicted", "expired", "died: killed by signal 9", "load failed: ..."
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);
  ~Scheduler();  // Shutdown()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    Runner& runner() const { return *runner_; }
    const std::string& name() const { return name_; }
    // Whether this request had to load the model, and how long that took.
    bool loaded_now() const { return loaded_now_; }
    std::chrono::nanoseconds load_duration() const { return load_duration_; }
    // The keep-alive applied when the lease ends (a later request's wins).
    void set_keep_alive(KeepAlive keep_alive) { keep_alive_ = keep_alive; }
    // Tells the scheduler the runner failed this request: it checks whether
    // the process died, and if so no new request is given to it.
    void ReportFailure();

   private:
    friend class Scheduler;
    Scheduler* scheduler_ = nullptr;
    std::string name_;
    std::shared_ptr<Runner> runner_;
    KeepAlive keep_alive_;
    bool loaded_now_ = false;
    std::chrono::nanoseconds load_duration_{0};
  };

  // A lease on `load.name`'s runner, loading it first when needed, waiting
  // while the model loads, while its slots are busy or until idle runners
  // free enough memory. Errors: ResourceExhausted (the model needs more than
  // the whole budget: need vs available in the message), Unavailable (the
  // queue is full; the load failed; shutting down), Cancelled (`stop` became
  // true or `watch_fd`'s peer closed its connection while waiting).
  Result<Lease> Acquire(const ModelLoad& load, KeepAlive keep_alive, const std::atomic<bool>* stop,
                        int watch_fd = -1);

  // Stops `name`'s runner once it is idle (at once when it is). NotFound
  // when it is not loaded.
  Status Unload(const std::string& name);
  // Whether `name` has a runner loaded (or loading).
  bool IsLoaded(const std::string& name) const;

  std::vector<LoadedRunner> Loaded() const;
  // The last events (at most 100), oldest first.
  std::vector<SchedulerEvent> Events() const;
  int queue_depth() const;
  const std::vector<uint64_t>& budgets() const { return options_.budgets; }

  // Fails every later Acquire, wakes the waiting ones, stops every runner
  // (SIGTERM, then SIGKILL after `grace`). Idempotent.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

 private:
  struct Entry;
  void Release(const std::string& name, const std::shared_ptr<Runner>& runner,
               KeepAlive keep_alive);
  void Failed(const std::string& name, const std::shared_ptr<Runner>& runner);
  // The memory in use per device (loaded, loading and stopping runners). Requires mu_.
  std::vector<uint64_t> UsedLocked() const;
  bool FitsLocked(const ModelLoad& load) const;
  // Removes `name`'s entry; its runner is stopped by the caller outside the
  // lock (StopOutside). Requires mu_.
  std::shared_ptr<Runner> RemoveLocked(const std::string& name, std::string why);
  void StopOutside(std::shared_ptr<Runner> runner, std::vector<uint64_t> memory);
  void NoteLocked(std::string model, std::string what);
  void Housekeeping();
  std::chrono::milliseconds KeepAliveOf(KeepAlive k) const;

  const SchedulerOptions options_;
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::vector<uint64_t> stopping_;  // memory of runners being stopped
  std::deque<SchedulerEvent> events_;
  int waiting_ = 0;
  int socket_seq_ = 0;
  bool shutdown_ = false;
  std::atomic<bool> shutting_down_{false};  // cancels loads in progress
  std::thread housekeeper_;
};

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_SCHEDULER_H_
