// UsageOps: the use cases about how models ran: statistics, the processes
// that hold models loaded (`hangar ps`), health checks and the measured
// speeds recommendations use.
//
// Thread-safe: each call reads the state database on a connection of its own
// (Core::db()).
#ifndef HANGAR_APP_USAGE_OPS_H_
#define HANGAR_APP_USAGE_OPS_H_

#include <string_view>
#include <vector>

#include "app/core.h"
#include "core/status.h"
#include "fit/recommend.h"
#include "runtime/health.h"
#include "runtime/usage_store.h"

namespace hangar::app {

struct ProcessView {
  runtime::ProcessEntry entry;
  uint64_t rss = 0;  // the process's resident memory now (VmRSS)
};

class UsageOps {
 public:
  explicit UsageOps(Core* core) : core_(core) {}

  // Statistics of every model used, or of `ref` (a catalog id or alias, a
  // file name, a server's model name). NotFound for a model never run.
  Result<std::vector<runtime::ModelStats>> Stats(std::string_view ref);
  // The latest `count` requests of the model `ref` names, oldest first.
  Result<std::vector<runtime::UsageEvent>> Recent(std::string_view ref, int count);
  // Models loaded by hangar processes running now (`hangar ps`): each process
  // registers its loaded model in the state database while it holds it; rows
  // of processes that are gone are dropped here.
  Result<std::vector<ProcessView>> Processes();
  // Health checks (runtime/health.h) over this machine and the statistics.
  Result<std::vector<runtime::HealthCheck>> Doctor();
  // Usage statistics and measured speeds as the recommender takes them.
  Result<fit::UsageStats> MeasuredUsage();

 private:
  Core* core_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_USAGE_OPS_H_
