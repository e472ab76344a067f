// Runner: one llama-server process serving one model for `hangar serve`.
// The process listens on a Unix socket in a folder only this user can open
// and requires a random key on every request but /health, so no other
// process on the machine can use it. It is started from one long-lived
// thread with PR_SET_PDEATHSIG, so it is killed when the server process
// dies, even by SIGKILL; it also exits if its parent is gone before that
// was set.
//
// Thread-safe: every method may be called from any thread.
#ifndef HANGAR_RUNTIME_RUNNER_H_
#define HANGAR_RUNTIME_RUNNER_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/http_wire.h"

namespace hangar::runtime {

struct RunnerConfig {
  std::filesystem::path binary;  // llama-server
  std::filesystem::path model;
  std::optional<std::filesystem::path> mmproj;
  std::optional<std::filesystem::path> chat_template_file;  // Jinja replacing the model's
  std::string alias;                                        // the name the model is served under
  std::filesystem::path socket;    // the Unix socket to listen on (".sock")
  std::filesystem::path log_file;  // the process's stdout and stderr
  uint32_t ctx_per_slot = 4096;
  int parallel = 1;          // slots: requests decoded together
  int threads = 0;           // 0: llama-server's default
  int32_t n_gpu_layers = 0;  // layers on the workers and GPUs together
  // Workers' RPC servers ("host:port"), as llama-server's --rpc; their devices
  // come before the local GPUs.
  std::vector<std::string> rpc_servers;
  // The share of each offload device (workers' first), as --tensor-split;
  // empty: llama.cpp's own (free memory).
  std::vector<double> tensor_split;
  uint32_t n_batch = 2048;
  uint32_t n_ubatch = 512;
  std::string flash_attn = "auto";  // on, off, auto
  std::string type_k = "f16";
  std::string type_v = "f16";
  bool mmap = true;
  bool embedding = false;  // an embedding runner: /v1/embeddings only
  std::string pooling;     // with embedding: mean, last, cls; empty: the model's own
  std::chrono::milliseconds load_timeout{std::chrono::minutes(5)};
};

// The command line llama-server is started with (binary first).
std::vector<std::string> RunnerCommandLine(const RunnerConfig& config, const std::string& api_key);

class Runner {
 public:
  // Starts the process and waits until its /health answers 200. Errors:
  // FailedPrecondition (no llama-server binary: run scripts/build-llama),
  // Unavailable (the process exited while loading, with the last lines of
  // its log; or it was not healthy within load_timeout and was killed),
  // Cancelled (`cancel` became true; the process was stopped).
  static Result<std::unique_ptr<Runner>> Start(const RunnerConfig& config,
                                               const std::atomic<bool>* cancel = nullptr);
  ~Runner();  // Stop()
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  pid_t pid() const { return pid_; }
  const RunnerConfig& config() const { return config_; }
  // The time the process took to become healthy.
  std::chrono::nanoseconds load_duration() const { return load_duration_; }

  // Whether the process still runs; reaps it when it has ended.
  bool Alive();
  // How the process ended ("killed by signal 9"); empty while it runs.
  std::string ExitDescription();
  // SIGTERM, then SIGKILL after `grace`; returns once the process is reaped.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));

  // A new connection to the runner. Errors of wire::Socket::ConnectUnix.
  Result<wire::Socket> Connect(wire::Deadline deadline) const;
  // The headers every request to the runner carries (its key).
  wire::HeaderList AuthHeaders() const;
  // The last `lines` lines of the process's log.
  std::string LogTail(size_t lines = 20) const;

 private:
  Runner(RunnerConfig config, std::string api_key, pid_t pid);
  // Reaps without waiting when `wait` is false. Requires mu_.
  bool ReapLocked(bool wait);

  const RunnerConfig config_;
  const std::string api_key_;
  const pid_t pid_;
  std::chrono::nanoseconds load_duration_{0};
  std::mutex mu_;  // guards the exit state below
  bool exited_ = false;
  int wait_status_ = 0;
};

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_RUNNER_H_
