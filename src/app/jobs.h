// Jobs: long operations (pull, import, bench, load) run as jobs that outlive
// whoever started them. A job has an id, a kind, a state, progress events
// and a final Status; it runs on a thread of its own, owned by the registry,
// so the caller may wait for it, poll it, subscribe to its events, cancel it,
// or go away (an HTTP client disconnecting) while it goes on. The CLI and
// the server start the same jobs through the same functions.
//
// A job's body receives a JobContext: it reports progress with Report() and
// polls cancelled() (a cancelled job ends with Cancelled, whatever its body
// returns after that).
//
// Thread-safe: every method may be called from any thread. Subscribers are
// called on the job's thread, in event order, without the registry's lock
// held; they must not block for long, and must not call Unsubscribe.
// Shutdown() (and the destructor) cancels the jobs still running, waits for
// their bodies to return and refuses later ones; the owner calls it before
// destroying anything a body uses. A body that never polls cancelled()
// (hashing a file on import, a benchmark) is waited for.
#ifndef HANGAR_APP_JOBS_H_
#define HANGAR_APP_JOBS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace hangar::app {

enum class JobState { kRunning, kSucceeded, kFailed, kCancelled };
std::string_view JobStateName(JobState state);  // "running", "succeeded", "failed", "cancelled"

// One progress event: a line of status and, for work with a size, bytes.
struct JobEvent {
  uint64_t seq = 0;    // 1, 2, ... within the job
  std::string status;  // "pulling manifest", "downloading model.gguf", ...
  uint64_t completed = 0;
  uint64_t total = 0;  // 0: unknown
  int connections = 0;  // downloads: requests in flight now
};

// What the registry tells about a job.
struct JobInfo {
  std::string id;     // "job-1", "job-2", ... unique within the process
  std::string kind;   // "pull", "import", "bench", "load"
  std::string title;  // what it works on ("hf://org/repo:Q4_K_M")
  JobState state = JobState::kRunning;
  Status status;                 // final status (OK while running)
  std::optional<JobEvent> last;  // the latest event
  int64_t started_unix = 0;
  int64_t finished_unix = 0;  // 0 while running
  std::string result;         // a short outcome set by the body ("installed as qwen3-0.6b")
};

class JobContext {
 public:
  virtual ~JobContext() = default;
  // Records a progress event and hands it to the subscribers.
  virtual void Report(std::string status, uint64_t completed = 0, uint64_t total = 0,
                      int connections = 0) = 0;
  // True once Cancel() was called for this job.
  virtual bool cancelled() const = 0;
  // The outcome shown in JobInfo::result.
  virtual void SetResult(std::string result) = 0;
};

class JobRegistry {
 public:
  using Body = std::function<Status(JobContext&)>;
  using Listener = std::function<void(const JobInfo&, const JobEvent*)>;

  // `clock` is borrowed (nullptr: the system clock). Finished jobs beyond the
  // latest `keep_finished` are forgotten.
  explicit JobRegistry(const Clock* clock = nullptr, size_t keep_finished = 100);
  ~JobRegistry();
  JobRegistry(const JobRegistry&) = delete;
  JobRegistry& operator=(const JobRegistry&) = delete;

  // Starts `body` on a new thread; returns the job's id at once. After
  // Shutdown(), or when no thread can be started, the job is recorded as
  // failed (Unavailable) without running.
  std::string Start(std::string kind, std::string title, Body body);

  // Cancels every running job, waits until their bodies have returned and
  // refuses jobs started later. Idempotent.
  void Shutdown();

  // Every job known (running first, then finished, newest first).
  std::vector<JobInfo> List() const;
  // NotFound for an unknown (or forgotten) id.
  Result<JobInfo> Get(std::string_view id) const;
  // Asks the job to stop. NotFound for an unknown id; FailedPrecondition
  // when it has finished already.
  Status Cancel(std::string_view id);
  // Blocks until the job has finished and returns its final JobInfo.
  // NotFound for an unknown id.
  Result<JobInfo> Wait(std::string_view id) const;

  // Calls `listener` for every event of every job from now on, and once with
  // event == nullptr when a job finishes. Returns a token for Unsubscribe.
  uint64_t Subscribe(Listener listener);
  // Stops the calls; when it returns, no call of that listener is running,
  // so what it captured may be destroyed.
  void Unsubscribe(uint64_t token);

 private:
  struct Job;
  class Context;
  void Finish(Job& job, Status status);
  void Notify(const JobInfo& info, const JobEvent* event);
  void Forget();  // drops the oldest finished jobs beyond keep_finished_ (mu_ held)

  const Clock* clock_;
  size_t keep_finished_;
  mutable std::mutex mu_;  // guards everything below
  mutable std::condition_variable changed_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Job>> jobs_;  // by number
  size_t running_ = 0;                             // job threads not done yet (they are detached)
  bool shut_down_ = false;                         // Shutdown() was called
  uint64_t next_token_ = 1;
  std::map<uint64_t, std::shared_ptr<Listener>> listeners_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_JOBS_H_
