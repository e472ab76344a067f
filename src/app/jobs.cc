#include "app/jobs.h"

#include <algorithm>
#include <system_error>
#include <thread>

namespace hangar::app {

std::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kRunning:
      return "running";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "running";
}

struct JobRegistry::Job {
  JobInfo info;  // guarded by the registry's mu_
  std::atomic<bool> cancel{false};
};

class JobRegistry::Context final : public JobContext {
 public:
  Context(JobRegistry* registry, std::shared_ptr<Job> job)
      : registry_(registry), job_(std::move(job)) {}

  void Report(std::string status, uint64_t completed, uint64_t total, int connections) override {
    JobInfo info;
    JobEvent event;
    {
      std::lock_guard<std::mutex> lock(registry_->mu_);
      event.seq = job_->info.last ? job_->info.last->seq + 1 : 1;
      event.status = std::move(status);
      event.completed = completed;
      event.total = total;
      event.connections = connections;
      job_->info.last = event;
      info = job_->info;
    }
    registry_->Notify(info, &event);
  }
  bool cancelled() const override { return job_->cancel.load(); }
  void SetResult(std::string result) override {
    std::lock_guard<std::mutex> lock(registry_->mu_);
    job_->info.result = std::move(result);
  }

 private:
  JobRegistry* registry_;
  std::shared_ptr<Job> job_;
};

JobRegistry::JobRegistry(const Clock* clock, size_t keep_finished)
    : clock_(clock != nullptr ? clock : &SystemClock::Default()), keep_finished_(keep_finished) {}

JobRegistry::~JobRegistry() { Shutdown(); }

void JobRegistry::Shutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  shut_down_ = true;
  for (auto& [n, job] : jobs_) job->cancel.store(true);
  changed_.wait(lock, [this] { return running_ == 0; });
}

std::string JobRegistry::Start(std::string kind, std::string title, Body body) {
  auto job = std::make_shared<Job>();
  std::string id;
  {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t n = next_id_++;
    id = "job-" + std::to_string(n);
    job->info.id = id;
    job->info.kind = std::move(kind);
    job->info.title = std::move(title);
    job->info.started_unix = clock_->NowUnixSeconds();
    jobs_[n] = job;
    ++running_;
    if (shut_down_) {
      lock.unlock();
      Finish(*job, UnavailableError("shutting down: job " + id + " was not started"));
      return id;
    }
  }
  try {
    std::thread([this, job, body = std::move(body)]() mutable {
      Status status;
      {
        Context context(this, job);
        status = body(context);
        body = nullptr;  // what the body captured goes before the job ends
      }
      Finish(*job, std::move(status));
    }).detach();
  } catch (const std::system_error& e) {
    Finish(*job, UnavailableError("cannot start job " + id + ": " + e.what()));
  }
  return id;
}

void JobRegistry::Finish(Job& job, Status status) {
  JobInfo info;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (job.cancel.load() && (status.ok() || status.code() == StatusCode::kCancelled)) {
      job.info.state = JobState::kCancelled;
      if (status.ok()) status = CancelledError(job.info.title + ": cancelled");
    } else {
      job.info.state = status.ok() ? JobState::kSucceeded : JobState::kFailed;
      if (status.code() == StatusCode::kCancelled) job.info.state = JobState::kCancelled;
    }
    job.info.status = std::move(status);
    job.info.finished_unix = clock_->NowUnixSeconds();
    info = job.info;
    Forget();  // with the state: whoever sees it finished sees the list trimmed
  }
  Notify(info, nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  --running_;
  changed_.notify_all();  // under the lock: the destructor cannot run before this returns
}

void JobRegistry::Notify(const JobInfo& info, const JobEvent* event) {
  std::vector<std::shared_ptr<Listener>> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [token, l] : listeners_) listeners.push_back(l);
  }
  for (const auto& l : listeners) (*l)(info, event);
  // Unsubscribe waits for these copies to go.
  std::lock_guard<std::mutex> lock(mu_);
  listeners.clear();
  changed_.notify_all();
}

void JobRegistry::Forget() {
  size_t finished = 0;
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
    if (it->second->info.state != JobState::kRunning) ++finished;
  }
  for (auto it = jobs_.begin(); it != jobs_.end() && finished > keep_finished_;) {
    if (it->second->info.state != JobState::kRunning) {
      it = jobs_.erase(it);
      --finished;
    } else {
      ++it;
    }
  }
}

std::vector<JobInfo> JobRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<JobInfo> out;
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) out.push_back(it->second->info);
  std::stable_partition(out.begin(), out.end(),
                        [](const JobInfo& j) { return j.state == JobState::kRunning; });
  return out;
}

namespace {

Status UnknownJob(std::string_view id) {
  return NotFoundError("no job " + std::string(id) + "; `hangar jobs` lists them");
}

// The number of "job-N", or 0.
uint64_t JobNumber(std::string_view id) {
  if (!id.starts_with("job-")) return 0;
  uint64_t n = 0;
  for (char c : id.substr(4)) {
    if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10) return 0;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

}  // namespace

Result<JobInfo> JobRegistry::Get(std::string_view id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(JobNumber(id));
  if (it == jobs_.end()) return UnknownJob(id);
  return it->second->info;
}

Status JobRegistry::Cancel(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(JobNumber(id));
  if (it == jobs_.end()) return UnknownJob(id);
  if (it->second->info.state != JobState::kRunning) {
    return FailedPreconditionError("job " + std::string(id) + " has finished already (" +
                                   std::string(JobStateName(it->second->info.state)) + ")");
  }
  it->second->cancel.store(true);
  return Status::Ok();
}

Result<JobInfo> JobRegistry::Wait(std::string_view id) const {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = jobs_.find(JobNumber(id));
  if (it == jobs_.end()) return UnknownJob(id);
  std::shared_ptr<Job> job = it->second;
  changed_.wait(lock, [&] { return job->info.state != JobState::kRunning; });
  return job->info;
}

uint64_t JobRegistry::Subscribe(Listener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t token = next_token_++;
  listeners_[token] = std::make_shared<Listener>(std::move(listener));
  return token;
}

void JobRegistry::Unsubscribe(uint64_t token) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = listeners_.find(token);
  if (it == listeners_.end()) return;
  std::shared_ptr<Listener> listener = std::move(it->second);
  listeners_.erase(it);
  // Calls in flight hold copies of it.
  changed_.wait(lock, [&] { return listener.use_count() == 1; });
}

}  // namespace hangar::app
