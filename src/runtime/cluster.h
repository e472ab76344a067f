// Cluster: the `hangar worker`s of [cluster] workers, as this machine sees
// them. A worker runs llama.cpp's RPC server on host:port (what llama-server's
// --rpc connects to, one client at a time) and answers GET /status on the
// next port with what it offers (its devices, their memory, the capacity it
// gives models, whether its RPC server answers and who uses it): the RPC port
// itself cannot be asked while a model runs on it.
//
// Probe asks every worker at once, each within the timeout: a worker that
// refuses or cannot be reached is "down", one that does not answer in time
// "not answering" (a stopped or overloaded machine): neither is waited on
// longer. MarkDown records a worker a runner lost (it is probed again on the
// next Probe). generation() changes whenever a worker's state does, so plans
// made with the old cluster are made again.
//
// Thread-safe: every method may be called from any thread.
#ifndef HANGAR_RUNTIME_CLUSTER_H_
#define HANGAR_RUNTIME_CLUSTER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "fetch/http_client.h"

namespace hangar::runtime {

// One device a worker's RPC server offers (as rpc-server lists it).
struct WorkerDevice {
  std::string name;         // "CPU", "CUDA0"
  std::string description;  // "AMD EPYC 7B13", "NVIDIA H100 80GB HBM3"
  uint64_t total = 0;       // bytes
  uint64_t free = 0;        // bytes, when the worker started
  friend bool operator==(const WorkerDevice&, const WorkerDevice&) = default;
};

enum class WorkerState { kUp, kDown, kNotAnswering };
std::string_view WorkerStateName(WorkerState state);  // "up", "down", "not answering"

struct WorkerStatus {
  std::string endpoint;  // "host:port" of its RPC server
  WorkerState state = WorkerState::kDown;
  std::string error;  // why it is not up
  std::vector<WorkerDevice> devices;
  uint64_t capacity = 0;   // bytes models may take on it (its --mem, else its free memory)
  uint64_t used = 0;       // bytes its RPC server holds now
  uint64_t available = 0;  // the worker machine's available memory now
  int clients = 0;         // RPC connections open now (a loaded model holds one)
  int threads = 0;
  bool cache = false;  // it keeps received weights on disk (rpc-server --cache)
  std::string rpc_version;
  std::string hangar_version;
  double latency_ms = 0;  // the status request's round trip
};

// The status port of a worker endpoint: the RPC port + 1. "host:port+1".
std::string StatusEndpoint(std::string_view endpoint);

// A worker's /status document. The fields of WorkerStatus (capacity, used,
// available in bytes; devices [{name, description, total, free}]), state and
// error included: {"endpoint", "state", "error", "devices", "capacity",
// "used", "available", "clients", "threads", "cache", "rpc_version",
// "hangar_version", "latency_ms"}.
nlohmann::json ToJson(const WorkerStatus& status);
// The inverse; InvalidArgument naming the field that is missing or wrong.
Result<WorkerStatus> WorkerStatusFromJson(const nlohmann::json& json);

// GET http://{StatusEndpoint(endpoint)}/status within `timeout`; never an
// error: a worker that does not answer comes back down or not answering,
// with why.
WorkerStatus ProbeWorker(HttpClient& http, std::string_view endpoint,
                         std::chrono::milliseconds timeout);

// llama.cpp's RPC handshake (HELLO) with the server at `endpoint`, within
// `timeout`: its protocol version "7.0.0". Unavailable when it refuses or
// closes, also when it does not answer in time (it serves one
// client at a time: a busy server does not answer).
Result<std::string> RpcHello(std::string_view endpoint, std::chrono::milliseconds timeout);

class Cluster {
 public:
  Cluster(std::vector<std::string> workers, HttpClient* http,
          std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  const std::vector<std::string>& workers() const { return workers_; }
  // Asks every worker at once; their statuses in the configured order.
  std::vector<WorkerStatus> Probe();
  // The statuses of the last Probe (state kDown, "not probed yet", before).
  std::vector<WorkerStatus> Last() const;
  // A runner lost `endpoint`: it is down with `why` until a probe finds it up.
  void MarkDown(std::string_view endpoint, std::string why);
  uint64_t generation() const { return generation_.load(); }

 private:
  void Update(std::vector<WorkerStatus> statuses);

  const std::vector<std::string> workers_;
  HttpClient* const http_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;  // guards last_
  std::vector<WorkerStatus> last_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_CLUSTER_H_
