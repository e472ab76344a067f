// Core: what the use cases of app/ share within one process, made safe for
// many threads: the resolved paths, the state snapshot (snapshot.h), a pool
// of state-database connections, the hardware report, the HTTP client, the
// backend registry, the clock and the jobs.
//
// Everything with a side effect comes in through Deps, so a test builds a
// Core over a fixture folder, a FakeHttpClient, a fake backend registry and
// a FakeClock; App::Defaults() wires the real ones.
//
// Thread-safe: every method may be called from any thread. Lazy parts
// (paths, pool, snapshot source, hardware, HTTP client) are made once on
// first use (std::call_once); after that, reading the snapshot takes no lock.
#ifndef HANGAR_APP_CORE_H_
#define HANGAR_APP_CORE_H_

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "app/jobs.h"
#include "app/resolver.h"
#include "app/snapshot.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/paths.h"
#include "core/status.h"
#include "fetch/http_client.h"
#include "hardware/hardware.h"
#include "runtime/backend.h"
#include "store/state_db_pool.h"

namespace hangar::app {

struct Deps {
  std::shared_ptr<const Environment> env;
  const Clock* clock = nullptr;  // nullptr: the system clock
  // NVIDIA GPUs are probed through this; nullptr probes none.
  std::shared_ptr<NvmlApi> nvml;
  // Root of /proc, /sys and /etc for the hardware probe (and for reading
  // other processes' memory).
  std::filesystem::path hardware_root = "/";
  // HTTP for pulls and the ollama/openai backends; nullptr: libcurl's client,
  // made on first use.
  std::shared_ptr<HttpClient> http;
  // The backends sessions run on; nullptr: runtime::DefaultRegistry().
  const runtime::BackendRegistry* backends = nullptr;
};

// A llama.cpp program Hangar runs (llama-server, rpc-server): the path in
// `env_var` when set, else `name` beside the running program, else `built`
// (where scripts/build-llama put it; may be null). FailedPrecondition naming
// the three places and scripts/build-llama when none is an executable.
Result<std::filesystem::path> FindLlamaTool(const Environment& env, std::string_view env_var,
                                            std::string_view name, const char* built);

class Core {
 public:
  explicit Core(Deps deps);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  const Deps& deps() const { return deps_; }
  const Clock& clock() const { return *deps_.clock; }
  const Environment& env() const { return *deps_.env; }

  // Paths from the environment. FailedPrecondition without HOME.
  Result<const Paths*> paths();

  // The current state snapshot (built on first use). Errors: snapshot.h.
  Result<std::shared_ptr<const Snapshot>> snapshot();
  // A new snapshot after this process changed config.toml or the database.
  Result<std::shared_ptr<const Snapshot>> Refresh();
  // The source of snapshots (its counters: tests and statistics).
  Result<const SnapshotSource*> snapshot_source();
  // Keeps the snapshot fresh from a watcher thread (long-running processes).
  Status Watch(std::chrono::milliseconds interval = std::chrono::milliseconds(250));

  // Resolves `text` against the current snapshot (resolver.h).
  Result<Resolution> Resolve(std::string_view text, const ResolveOptions& options = {});

  // A state-database connection for the caller's thread, creating the
  // database on first use. Errors of store::StateDb::Open.
  Result<store::StateDbPool::Lease> db();
  // True when the state database exists (nothing is created).
  Result<bool> HasDb();

  // This machine, probed once per Core; disk space is that of the data folder.
  Result<const HardwareInfo*> hardware();
  // What runs may use: hardware(), without its GPUs when config.toml's
  // [runtime] gpu is "off" (the snapshot `s` says).
  Result<const HardwareInfo*> hardware_for_runs(const Snapshot& s);
  // A fresh probe (free memory, GPU memory and temperature, free disk change;
  // hardware() keeps the first answer). A few milliseconds; not cached.
  Result<HardwareInfo> SampleHardware();

  // Held around a read-modify-write of config.toml (profile and default
  // model changes), so two threads of this process never lose each other's
  // change. (Another process's write in between can still be overwritten:
  // the writer keeps every other key it read.)
  std::unique_lock<std::mutex> LockConfigWrites() { return std::unique_lock(config_mu_); }

  HttpClient& http();
  const runtime::BackendRegistry& backends() const;
  JobRegistry& jobs() { return jobs_; }

 private:
  // Resolves the paths and makes the pool and the snapshot source, once.
  Status Init();

  Deps deps_;
  std::mutex config_mu_;
  std::once_flag init_once_;
  Status init_status_;  // written once under init_once_
  std::optional<Paths> paths_;
  std::unique_ptr<store::StateDbPool> pool_;
  std::unique_ptr<SnapshotSource> source_;
  std::once_flag hardware_once_;
  std::unique_ptr<HardwareInfo> hardware_;
  std::unique_ptr<HardwareInfo> cpu_only_;  // hardware_ without GPUs (made with it)
  std::mutex http_mu_;                      // guards deps_.http while it is made
  JobRegistry jobs_;                        // destroyed first: running jobs use the rest
};

}  // namespace hangar::app

#endif  // HANGAR_APP_CORE_H_
