#include "fetch/pull_status.h"

#include <nlohmann/json.hpp>

namespace hangar {

PullStatus ToPullStatus(const DownloadProgress& p) {
  PullStatus s;
  s.digest = p.digest;
  s.total = p.total;
  s.completed = p.completed;
  s.detail = p.detail;
  std::string what = p.name;
  constexpr std::string_view kPrefix = "sha256:";
  if (p.digest.size() >= kPrefix.size() + 12 && p.digest.starts_with(kPrefix)) {
    what = p.digest.substr(kPrefix.size(), 12);
  }
  switch (p.phase) {
    case DownloadProgress::Phase::kWaiting:
      s.status = "waiting for another download of " + p.name;
      break;
    case DownloadProgress::Phase::kConnecting:
    case DownloadProgress::Phase::kDownloading:
    case DownloadProgress::Phase::kRetrying:
      s.status = "pulling " + what;
      break;
    case DownloadProgress::Phase::kVerifying:
      s.status = "verifying sha256 digest";
      break;
    case DownloadProgress::Phase::kDone:
      s.status = "success";
      break;
  }
  return s;
}

std::string PullStatusJson(const PullStatus& s) {
  nlohmann::ordered_json j;
  j["status"] = s.status;
  if (!s.digest.empty()) j["digest"] = s.digest;
  if (s.total > 0) j["total"] = s.total;
  if (s.total > 0 || s.completed > 0) j["completed"] = s.completed;
  if (!s.detail.empty()) j["detail"] = s.detail;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hangar
