#include "app/downloads.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/file_util.h"
#include "core/log.h"
#include "store/model_db.h"

namespace hangar::app {

namespace fs = std::filesystem;

struct Downloads::Entry {
  Download d;
  std::vector<fs::path> partials;  // the partial files of its plan, once planned
  bool pausing = false;            // Pause() asked its job to stop
  bool cancelling = false;         // Cancel() did
};

nlohmann::json ToJson(const Download& d) {
  nlohmann::json j = {{"id", d.id},
                      {"model", d.ref},
                      {"state", d.state},
                      {"created", store::Rfc3339(d.created_unix)}};
  if (!d.job.empty()) j["job"] = d.job;
  if (!d.error.empty()) j["error"] = d.error;
  return j;
}

namespace {

Result<fs::path> FileOf(Core* core) {
  ASSIGN_OR_RETURN(const Paths* p, core->paths());
  return p->data_dir / "downloads.json";
}

// What belongs to a partial download besides the file: its state and lock.
std::vector<fs::path> WithCompanions(const fs::path& partial) {
  return {partial, fs::path(partial.string() + ".state"), fs::path(partial.string() + ".lock")};
}

}  // namespace

Status Downloads::LoadLocked() {
  if (loaded_) return Status::Ok();
  ASSIGN_OR_RETURN(fs::path file, FileOf(core_));
  Result<std::string> text = ReadFile(file);
  if (!text.ok() && text.status().code() != StatusCode::kNotFound) return text.status();
  if (text.ok()) {
    nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.contains("downloads") || !doc["downloads"].is_array()) {
      // A broken list loses no model: the partial files stay, a new pull resumes them.
      Log(LogLevel::kWarning, "{} is not a download list; starting a new one", file.string());
    } else {
      for (const nlohmann::json& j : doc["downloads"]) {
        auto e = std::make_shared<Entry>();
        e->d.id = j.value("id", "");
        e->d.ref = j.value("model", "");
        e->d.state = j.value("state", "running");
        e->d.error = j.value("error", "");
        e->d.created_unix = j.value("created_unix", int64_t{0});
        for (const auto& p : j.value("partials", nlohmann::json::array())) {
          if (p.is_string()) e->partials.emplace_back(p.get<std::string>());
        }
        if (e->d.id.empty() || e->d.ref.empty()) continue;
        uint64_t n = 0;
        if (std::sscanf(e->d.id.c_str(), "dl-%lu", &n) == 1) next_ = std::max(next_, n + 1);
        entries_.push_back(std::move(e));
      }
    }
  }
  loaded_ = true;
  return Status::Ok();
}

Status Downloads::SaveLocked() {
  ASSIGN_OR_RETURN(fs::path file, FileOf(core_));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : entries_) {
    nlohmann::json partials = nlohmann::json::array();
    for (const fs::path& p : e->partials) partials.push_back(p.string());
    list.push_back({{"id", e->d.id},
                    {"model", e->d.ref},
                    {"state", e->d.state},
                    {"error", e->d.error},
                    {"created_unix", e->d.created_unix},
                    {"partials", partials}});
  }
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  return WriteFileAtomic(file, nlohmann::json{{"downloads", list}}.dump(2) + "\n");
}

Downloads::Entry* Downloads::FindLocked(const std::string& id) {
  for (const auto& e : entries_) {
    if (e->d.id == id) return e.get();
  }
  return nullptr;
}

void Downloads::StartJobLocked(Entry& e) {
  e.d.state = "running";
  e.d.error.clear();
  e.pausing = e.cancelling = false;
  PullQuery q;
  q.ref = e.d.ref;
  PullJobHooks hooks;
  const std::string id = e.d.id;
  hooks.planned = [this, id](const fetch::PullPlan& plan) {
    std::lock_guard lock(mu_);
    Entry* entry = FindLocked(id);
    if (entry == nullptr) return;
    entry->partials.clear();
    for (const fetch::PullFile& f : plan.files) {
      if (!f.cached && !f.partial.empty()) entry->partials.push_back(f.partial);
    }
    (void)SaveLocked();
  };
  hooks.finished = [this, id](const Status& s) { Finished(id, s); };
  e.d.job = pulls_->StartPull(std::move(q), std::move(hooks));
}

void Downloads::Finished(const std::string& id, const Status& status) {
  std::lock_guard lock(mu_);
  Entry* e = FindLocked(id);
  if (e == nullptr) return;
  if (status.ok() || e->cancelling) {
    if (!status.ok()) {
      std::error_code ec;
      for (const fs::path& p : e->partials) {
        for (const fs::path& f : WithCompanions(p)) fs::remove(f, ec);
      }
    }
    std::erase_if(entries_, [&](const auto& x) { return x->d.id == id; });
  } else if (e->pausing) {
    e->d.state = "paused";
  } else if (status.code() == StatusCode::kCancelled) {
    // Stopped with the process (or its job registry): left "running" for
    // ResumeInterrupted() at the next start.
  } else {
    e->d.state = "failed";
    e->d.error = status.message();
  }
  if (Status s = SaveLocked(); !s.ok()) {
    Log(LogLevel::kWarning, "cannot keep the download list: {}", s.message());
  }
}

Result<Download> Downloads::Start(const std::string& ref) {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(LoadLocked());
  for (const auto& e : entries_) {
    if (e->d.ref != ref) continue;
    if (e->d.state != "running" || e->d.job.empty()) StartJobLocked(*e);
    RETURN_IF_ERROR(SaveLocked());
    return e->d;
  }
  auto e = std::make_shared<Entry>();
  e->d.id = fmt::format("dl-{}", next_++);
  e->d.ref = ref;
  e->d.created_unix = core_->clock().NowUnixSeconds();
  entries_.push_back(e);
  StartJobLocked(*e);
  RETURN_IF_ERROR(SaveLocked());
  return e->d;
}

Result<std::vector<Download>> Downloads::List() {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(LoadLocked());
  std::vector<Download> out;
  for (const auto& e : entries_) out.push_back(e->d);
  return out;
}

Result<Download> Downloads::Pause(const std::string& id) {
  std::string job;
  {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(LoadLocked());
    Entry* e = FindLocked(id);
    if (e == nullptr) return NotFoundError(fmt::format("no download {}", id));
    if (e->d.state != "running" || e->d.job.empty()) {
      return FailedPreconditionError(fmt::format("download {} is {}, not running", id, e->d.state));
    }
    e->pausing = true;
    job = e->d.job;
  }
  (void)core_->jobs().Cancel(job);  // FailedPrecondition: it has just ended by itself
  (void)core_->jobs().Wait(job);
  std::lock_guard lock(mu_);
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFoundError(fmt::format("download {} finished before it paused", id));
  return e->d;
}

Result<Download> Downloads::Resume(const std::string& id) {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(LoadLocked());
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFoundError(fmt::format("no download {}", id));
  if (e->d.state == "running" && !e->d.job.empty()) {
    return FailedPreconditionError(fmt::format("download {} is running already", id));
  }
  StartJobLocked(*e);
  RETURN_IF_ERROR(SaveLocked());
  return e->d;
}

Status Downloads::Cancel(const std::string& id) {
  std::string job;
  {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(LoadLocked());
    Entry* e = FindLocked(id);
    if (e == nullptr) return NotFoundError(fmt::format("no download {}", id));
    e->cancelling = true;
    job = e->d.state == "running" ? e->d.job : "";
  }
  if (!job.empty()) {
    Status s = core_->jobs().Cancel(job);
    if (s.ok() || s.code() == StatusCode::kFailedPrecondition) {
      (void)core_->jobs().Wait(job);  // Finished() removed it (or it was installed)
      return Status::Ok();
    }
  }
  // No job of this process runs it: remove what it left.
  Finished(id, CancelledError("cancelled"));
  return Status::Ok();
}

Result<size_t> Downloads::ResumeInterrupted() {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(LoadLocked());
  size_t n = 0;
  for (const auto& e : entries_) {
    if (e->d.state == "running" && e->d.job.empty()) {
      StartJobLocked(*e);
      ++n;
    }
  }
  if (n > 0) RETURN_IF_ERROR(SaveLocked());
  return n;
}

}  // namespace hangar::app
