// Snapshot: what every use case reads about this machine's models, as one
// immutable value: config.toml, the catalog with the user's presets merged
// in, and the installed models of the state database. Readers hold a
// shared_ptr<const Snapshot> and never lock; a change replaces the whole
// snapshot, so a reader sees one consistent state that existed, never half of
// a change. Getting the current snapshot takes no lock either, except once
// per thread after each change (see Load()).
//
// SnapshotSource builds snapshots and replaces them:
//   - Refresh() at once, after this process changed config.toml or the
//     database (pull, import, rm, profile update, ...);
//   - from a watcher thread (Watch()) when another process did: it polls the
//     config file's identity (inode, size, mtime) and the database's
//     `PRAGMA data_version`, each a few microseconds, and rebuilds only when
//     one moved, so a long-running process sees another's `hangar pull`,
//     `rm` or `profile update` within one poll interval.
// Building reconciles the database with the disk: the row of a model whose
// primary file is gone is removed. Without a state database yet nothing is
// created.
//
// Thread-safe: every method may be called from any thread. Builds are
// serialised; Current() never waits for one once a snapshot exists.
#ifndef HANGAR_APP_SNAPSHOT_H_
#define HANGAR_APP_SNAPSHOT_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/models.h"
#include "config/config.h"
#include "core/paths.h"
#include "core/status.h"
#include "store/model_db.h"
#include "store/state_db_pool.h"

namespace hangar::app {

struct Snapshot {
  uint64_t generation = 0;  // 1 for the first build of a source, then +1 per build
  Paths paths;
  Config config;
  std::vector<store::InstalledModel> installed;  // files present on disk
  ModelIndex models;                             // catalog + installed + presets
};

class SnapshotSource {
 public:
  // `pool` is borrowed and must outlive the source.
  SnapshotSource(Paths paths, store::StateDbPool* pool);
  ~SnapshotSource();  // stops the watcher
  SnapshotSource(const SnapshotSource&) = delete;
  SnapshotSource& operator=(const SnapshotSource&) = delete;

  // The current snapshot, built on the first call. Errors of a build: a
  // broken config.toml (InvalidArgument naming file, line and key), the
  // state database (Unavailable, DataLoss), a bad preset (InvalidArgument).
  // Once one snapshot exists, a later failed rebuild keeps it (and logs).
  Result<std::shared_ptr<const Snapshot>> Current();

  // Builds a new snapshot now and makes it current. Errors as Current(); on
  // error the previous snapshot stays current.
  Result<std::shared_ptr<const Snapshot>> Refresh();

  // Starts the watcher thread (once; later calls do nothing), checking every
  // `interval` whether another process changed config.toml or the database.
  void Watch(std::chrono::milliseconds interval = std::chrono::milliseconds(250));

  // Builds tried and builds that made a snapshot (tests, statistics).
  uint64_t attempts() const { return attempts_.load(); }
  uint64_t builds() const { return builds_.load(); }

 private:
  // What the watcher compares between polls.
  // A failed build leaves an invalid one, so the next poll tries again.
  struct Fingerprint {
    bool valid = true;
    bool config_exists = false;
    uint64_t config_inode = 0, config_size = 0;
    int64_t config_mtime_ns = 0, config_ctime_ns = 0;
    bool db_exists = false;
    uint64_t db_inode = 0;  // a database replaced by another file is noticed
    int64_t db_version = 0;
    bool operator==(const Fingerprint&) const = default;
  };
  // All with build_mu_ held. Build observes, reads and publishes; Read
  // makes the snapshot.
  Result<std::shared_ptr<const Snapshot>> Build();
  Result<std::shared_ptr<const Snapshot>> Read();
  Fingerprint Observe();
  void WatchLoop(std::chrono::milliseconds interval);

  const Paths paths_;
  store::StateDbPool* pool_;
  // The current snapshot, published under current_mu_ with its generation
  // in published_. Load() takes no lock while published_ still names the
  // snapshot its thread last copied (kept per thread), so reads do not
  // contend; only the first read after a new build copies under the mutex.
  std::shared_ptr<const Snapshot> Load() const;
  void Publish(std::shared_ptr<const Snapshot> snapshot);
  const uint64_t id_;  // tells this source's per-thread copies from another's
  std::atomic<uint64_t> published_{0};
  mutable std::mutex current_mu_;  // guards current_
  std::shared_ptr<const Snapshot> current_;
  std::atomic<uint64_t> attempts_{0};
  std::atomic<uint64_t> builds_{0};
  std::string last_error_;  // the last failed build's message, logged once
  std::mutex build_mu_;     // one build at a time; guards everything below up to watch_mu_
  uint64_t generation_ = 0;
  // What config.toml and the database looked like just before the current
  // snapshot was read: a change after that moves the fingerprint.
  Fingerprint built_from_;
  // Observe()'s own connection (data_version is per connection), on the
  // database file of inode watch_inode_.
  std::unique_ptr<store::StateDb> watch_db_;
  uint64_t watch_inode_ = 0;

  std::mutex watch_mu_;  // guards stop_
  std::condition_variable watch_cv_;
  bool stop_ = false;
  std::thread watcher_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_SNAPSHOT_H_
