// Worker: `hangar worker`, this machine's devices lent to another machine's
// `hangar serve`. It runs llama.cpp's rpc-server on host:port (the protocol
// llama-server's --rpc speaks; one client at a time, no authentication) and
// answers GET /status on port + 1 with what it offers (runtime/cluster.h):
// the devices rpc-server reported, the capacity models may take (--mem, else
// 90% of the devices' free memory when it started), the memory its RPC
// server holds now, the machine's available memory, how many RPC clients are
// connected, and whether the RPC server answers its handshake (asked only
// while no client is connected: it serves one at a time).
//
// rpc-server runs as a child that dies with this process (PR_SET_PDEATHSIG);
// when it ends, Wait returns and the status port closes, so the cluster sees
// the worker down.
//
// Thread-safe: Status from any thread (the status server's).
#ifndef HANGAR_SERVER_WORKER_H_
#define HANGAR_SERVER_WORKER_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/cluster.h"
#include "server/http_server.h"

namespace hangar::server {

inline constexpr int kDefaultWorkerPort = 50052;  // rpc-server's own default

struct WorkerOptions {
  std::filesystem::path rpc_server;  // the binary
  std::string host = "127.0.0.1";
  int port = kDefaultWorkerPort;  // the RPC port; status on port + 1; 0: two free ports
  uint64_t mem = 0;               // capacity offered to models; 0: 90% of free memory
  int threads = 0;                // CPU threads of the RPC server; 0: its default
  // Keep the weights received on disk (rpc-server --cache): a later load of
  // the same model sends hashes instead of the tensors over 10 MB.
  bool cache = false;
  std::filesystem::path cache_dir;  // where (LLAMA_CACHE for rpc-server)
  std::filesystem::path log_file;   // rpc-server's output
  std::string version;              // Hangar's, in the status
};

class Worker {
 public:
  // Starts rpc-server, waits until it answers its handshake (at most
  // `timeout`), then the status server. Errors: FailedPrecondition (no
  // binary), Unavailable (rpc-server exited: its output; a port in use).
  static Result<std::unique_ptr<Worker>> Start(WorkerOptions options,
                                               std::chrono::milliseconds timeout);
  ~Worker();  // Stop()

  int port() const { return port_; }
  int status_port() const { return static_cast<int>(status_->port()); }
  pid_t pid() const { return pid_; }
  std::string endpoint() const;  // "host:port"

  // What GET /status answers, measured now.
  runtime::WorkerStatus Status();
  // Waits until rpc-server ends or `stop` becomes true; how it ended (empty
  // when stopped).
  std::string Wait(const std::atomic<bool>& stop);
  // Stops the status server and rpc-server (SIGTERM, then SIGKILL).
  void Stop();

 private:
  Worker(WorkerOptions options, pid_t pid, int port);
  bool Reap(bool wait);

  const WorkerOptions options_;
  const pid_t pid_;
  const int port_;
  std::vector<runtime::WorkerDevice> devices_;
  uint64_t capacity_ = 0;
  std::string rpc_version_;
  std::unique_ptr<HttpServer> status_;
  std::mutex mu_;  // guards the exit state
  bool exited_ = false;
  int wait_status_ = 0;
};

// The devices rpc-server lists at start ("  CPU: AMD EPYC 7B13 (64000 MiB,
// 60000 MiB free)"), from its output.
std::vector<runtime::WorkerDevice> ParseRpcDevices(std::string_view output);

// RPC connections established to local TCP `port`, from /proc/net/tcp{,6}
// under `proc_root`.
int EstablishedConnections(const std::filesystem::path& proc_root, int port);

}  // namespace hangar::server

#endif  // HANGAR_SERVER_WORKER_H_
