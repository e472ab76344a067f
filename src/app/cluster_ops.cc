#include "app/cluster_ops.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/units.h"

namespace hangar::app {

Result<std::shared_ptr<runtime::Cluster>> ClusterOps::cluster() {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  const std::vector<std::string>& workers = s->config.cluster().workers;
  std::lock_guard lock(mu_);
  if (workers.empty()) {
    cluster_.reset();
    return std::shared_ptr<runtime::Cluster>();
  }
  if (!cluster_ || cluster_->workers() != workers) {
    cluster_ = std::make_shared<runtime::Cluster>(workers, &core_->http());
  }
  return cluster_;
}

Result<std::vector<runtime::WorkerStatus>> ClusterOps::Status() {
  ASSIGN_OR_RETURN(std::shared_ptr<runtime::Cluster> c, cluster());
  if (!c) return std::vector<runtime::WorkerStatus>{};
  return c->Probe();
}

Result<SplitPlan> ClusterOps::PlanSplit(const fit::ModelFacts& facts, fit::PlanOptions options,
                                        const HardwareInfo& hw, const Limits& limits) {
  ASSIGN_OR_RETURN(std::shared_ptr<runtime::Cluster> c, cluster());
  if (!c) {
    return FailedPreconditionError(
        "no worker is configured: add [cluster] workers = [\"host:port\"] to config.toml for "
        "each machine running `hangar worker`");
  }
  SplitPlan split;
  options.probe_model.clear();
  options.remote.clear();
  for (runtime::WorkerStatus& w : c->Probe()) {
    if (w.state != runtime::WorkerState::kUp) {
      split.left_out.push_back(
          fmt::format("{}: {} ({})", w.endpoint, runtime::WorkerStateName(w.state), w.error));
      continue;
    }
    // Each device as llama.cpp names it; a worker offering several is given
    // its capacity over them in proportion to their memory.
    uint64_t total = 0;
    for (const runtime::WorkerDevice& d : w.devices) total += d.free ? d.free : d.total;
    for (size_t i = 0; i < w.devices.size(); ++i) {
      const runtime::WorkerDevice& d = w.devices[i];
      const double share =
          total > 0 ? static_cast<double>(d.free ? d.free : d.total) / static_cast<double>(total)
                    : 1.0 / static_cast<double>(w.devices.size());
      options.remote.push_back({fmt::format("RPC{}[{}]", i, w.endpoint),
                                static_cast<uint64_t>(static_cast<double>(w.capacity) * share)});
    }
    split.workers.push_back(std::move(w));
  }
  if (split.workers.empty()) {
    return FailedPreconditionError(
        fmt::format("no worker is up: {}", fmt::join(split.left_out, "; ")));
  }
  ASSIGN_OR_RETURN(split.fit, fit::PlanFit(facts, options, hw, limits));
  // The breakdown: host, then the remote devices in order, then local GPUs.
  size_t device = 1;
  for (const runtime::WorkerStatus& w : split.workers) {
    runtime::RemoteShare share{w.endpoint, 0, 0, w.capacity};
    for (size_t i = 0; i < w.devices.size() && device < split.fit.memory.devices.size(); ++i) {
      share.bytes += split.fit.memory.devices[device].Total();
      share.weights += split.fit.memory.devices[device].weights;
      ++device;
    }
    split.weights_sent += share.weights;
    split.shares.push_back(std::move(share));
  }
  if (!split.fit.fits && !split.left_out.empty()) {
    split.fit.reason += fmt::format(" (left out: {})", fmt::join(split.left_out, "; "));
  }
  return split;
}

Result<std::filesystem::path> ClusterOps::RpcServer() const {
#ifdef HANGAR_RPC_SERVER_BUILT
  const char* built = HANGAR_RPC_SERVER_BUILT;
#else
  const char* built = nullptr;
#endif
  return FindLlamaTool(core_->env(), "HANGAR_RPC_SERVER", "rpc-server", built);
}

nlohmann::json ToJson(const SplitPlan& plan) {
  nlohmann::json workers = nlohmann::json::array();
  for (const runtime::WorkerStatus& w : plan.workers) workers.push_back(runtime::ToJson(w));
  nlohmann::json shares = nlohmann::json::array();
  for (const runtime::RemoteShare& s : plan.shares) {
    shares.push_back({{"worker", s.worker},
                      {"bytes", s.bytes},
                      {"weights", s.weights},
                      {"capacity", s.capacity}});
  }
  return nlohmann::json{{"fit", fit::ToJson(plan.fit)},
                        {"workers", workers},
                        {"shares", shares},
                        {"weights_sent", plan.weights_sent},
                        {"left_out", plan.left_out}};
}

}  // namespace hangar::app
