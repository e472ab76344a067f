// Downloads: the pulls started for a person (the console, POST
// /api/model/download), which outlive a page, a client and the server.
//
// Each download is kept in <data>/downloads.json with its reference and
// state until it is installed or cancelled:
//   running  a pull job works on it (job = its id). When the process stops
//            with the job unfinished the entry stays "running", and
//            ResumeInterrupted() starts it again at the next start; the
//            partial files make that a resume, not a restart.
//   paused   Pause() stopped its job; the partial files are kept; Resume()
//            starts a new job where the bytes end.
//   failed   the job failed (error = why); Resume() tries again.
// An installed download leaves the list; Cancel() stops the job, removes the
// partial files and the entry.
//
// Thread-safe: one mutex guards the list and the file. One process owns the
// file (the server); another process's changes are not merged.
#ifndef HANGAR_APP_DOWNLOADS_H_
#define HANGAR_APP_DOWNLOADS_H_

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "app/core.h"
#include "app/pull_ops.h"
#include "core/status.h"

namespace hangar::app {

struct Download {
  std::string id;     // "dl-<n>", unique within this data folder
  std::string ref;    // what was asked for (a catalog id, ORG/REPO:QUANT, ...)
  std::string state;  // "running", "paused", "failed"
  std::string job;    // the job that runs or ran it (in this process); empty after a restart
  std::string error;  // why it failed
  int64_t created_unix = 0;
};
nlohmann::json ToJson(const Download& d);

class Downloads {
 public:
  Downloads(Core* core, PullOps* pulls) : core_(core), pulls_(pulls) {}

  // Records a download of `ref` and starts its pull job. A download of the
  // same reference that is not finished is resumed instead of doubled.
  Result<Download> Start(const std::string& ref);
  // Every download not finished, oldest first.
  Result<std::vector<Download>> List();
  // NotFound for an unknown id; FailedPrecondition when it is not running.
  Result<Download> Pause(const std::string& id);
  // A paused or failed download's new job. FailedPrecondition when running.
  Result<Download> Resume(const std::string& id);
  // Stops it, removes its partial files and forgets it. NotFound for an
  // unknown id.
  Status Cancel(const std::string& id);
  // Starts again the downloads left running by a process that stopped;
  // returns how many.
  Result<size_t> ResumeInterrupted();

 private:
  struct Entry;
  Status LoadLocked();
  Status SaveLocked();
  void StartJobLocked(Entry& e);
  void Finished(const std::string& id, const Status& status);
  Entry* FindLocked(const std::string& id);

  Core* core_;
  PullOps* pulls_;
  std::mutex mu_;  // guards everything below
  bool loaded_ = false;
  uint64_t next_ = 1;
  std::vector<std::shared_ptr<Entry>> entries_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_DOWNLOADS_H_
