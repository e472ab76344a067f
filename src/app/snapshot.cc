#include "app/snapshot.h"

#include <sys/stat.h>

#include <system_error>

#include "core/log.h"

namespace hangar::app {

namespace fs = std::filesystem;

namespace {
std::atomic<uint64_t> next_source_id{1};
}  // namespace

SnapshotSource::SnapshotSource(Paths paths, store::StateDbPool* pool)
    : paths_(std::move(paths)), pool_(pool), id_(next_source_id.fetch_add(1)) {}

std::shared_ptr<const Snapshot> SnapshotSource::Load() const {
  struct Copy {
    uint64_t source = 0;
    uint64_t generation = 0;
    std::shared_ptr<const Snapshot> snapshot;
  };
  thread_local Copy copy;
  const uint64_t published = published_.load(std::memory_order_acquire);
  if (published == 0) return nullptr;
  if (copy.source != id_ || copy.generation != published) {
    std::lock_guard<std::mutex> lock(current_mu_);
    copy.source = id_;
    copy.snapshot = current_;
    copy.generation = current_->generation;
  }
  return copy.snapshot;
}

void SnapshotSource::Publish(std::shared_ptr<const Snapshot> snapshot) {
  std::lock_guard<std::mutex> lock(current_mu_);
  const uint64_t generation = snapshot->generation;
  current_ = std::move(snapshot);
  published_.store(generation, std::memory_order_release);
}

SnapshotSource::~SnapshotSource() {
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    stop_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

Result<std::shared_ptr<const Snapshot>> SnapshotSource::Current() {
  if (std::shared_ptr<const Snapshot> s = Load()) return s;
  std::lock_guard<std::mutex> lock(build_mu_);
  // Another thread may have built it while this one waited.
  if (std::shared_ptr<const Snapshot> s = Load()) return s;
  return Build();
}

Result<std::shared_ptr<const Snapshot>> SnapshotSource::Refresh() {
  std::lock_guard<std::mutex> lock(build_mu_);
  return Build();
}

Result<std::shared_ptr<const Snapshot>> SnapshotSource::Build() {
  // Observed before reading: a change made while this build reads moves the
  // fingerprint again and is picked up at the next poll.
  built_from_ = Observe();
  attempts_.fetch_add(1);
  Result<std::shared_ptr<const Snapshot>> built = Read();
  if (!built.ok()) {
    built_from_.valid = false;  // tried again at the next poll
    return built.status();
  }
  last_error_.clear();
  Publish(*built);
  builds_.fetch_add(1);
  return built;
}

Result<std::shared_ptr<const Snapshot>> SnapshotSource::Read() {
  auto s = std::make_shared<Snapshot>();
  s->paths = paths_;
  ASSIGN_OR_RETURN(s->config, Config::Load(paths_.config_file));
  if (pool_->Exists()) {
    ASSIGN_OR_RETURN(store::StateDbPool::Lease db, pool_->Acquire());
    store::ModelDb models(*db);
    ASSIGN_OR_RETURN(std::vector<store::InstalledModel> all, models.List());
    s->installed.reserve(all.size());
    for (store::InstalledModel& m : all) {
      std::error_code ec;
      if (fs::exists(m.primary_path, ec)) {
        s->installed.push_back(std::move(m));
        continue;
      }
      // Reconcile: the row of a model whose file is gone goes too.
      Log(LogLevel::kInfo, "forgetting {}: {} is gone", m.id, m.primary_path.string());
      RETURN_IF_ERROR(models.Remove(m.id));
    }
  }
  ASSIGN_OR_RETURN(s->models, ModelIndex::Build(DefaultCatalog(), s->config.presets(),
                                                s->config.file_name(), s->installed));
  s->generation = ++generation_;
  return std::shared_ptr<const Snapshot>(std::move(s));
}

SnapshotSource::Fingerprint SnapshotSource::Observe() {
  auto nanos = [](const struct timespec& t) {
    return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
  };
  Fingerprint f;
  struct stat st {};
  if (::stat(paths_.config_file.c_str(), &st) == 0) {
    f.config_exists = true;
    f.config_inode = st.st_ino;
    f.config_size = static_cast<uint64_t>(st.st_size);
    f.config_mtime_ns = nanos(st.st_mtim);
    f.config_ctime_ns = nanos(st.st_ctim);
  }
  if (::stat(pool_->path().c_str(), &st) == 0) {
    f.db_exists = true;
    f.db_inode = st.st_ino;
  }
  if (!f.db_exists) return f;
  if (watch_db_ && watch_inode_ != f.db_inode) {
    // Deleted and made anew, or restored by a rename: connections to the old
    // file would see nothing more.
    watch_db_.reset();
    pool_->DropIdle();
  }
  if (!watch_db_) {
    Result<std::unique_ptr<store::StateDb>> db = store::StateDb::Open(pool_->path());
    if (db.ok()) {
      watch_db_ = std::move(*db);
      watch_inode_ = f.db_inode;
    }
  }
  if (watch_db_) {
    Result<int64_t> v = watch_db_->DataVersion();
    if (v.ok()) f.db_version = *v;
  }
  return f;
}

void SnapshotSource::Watch(std::chrono::milliseconds interval) {
  std::lock_guard<std::mutex> lock(watch_mu_);
  if (watcher_.joinable() || stop_) return;
  watcher_ = std::thread([this, interval] { WatchLoop(interval); });
}

void SnapshotSource::WatchLoop(std::chrono::milliseconds interval) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(watch_mu_);
      if (watch_cv_.wait_for(lock, interval, [this] { return stop_; })) return;
    }
    std::lock_guard<std::mutex> lock(build_mu_);
    if (Observe() == built_from_) continue;
    Result<std::shared_ptr<const Snapshot>> built = Build();
    if (!built.ok() && built.status().message() != last_error_) {
      last_error_ = built.status().message();
      Log(LogLevel::kWarning, "keeping the previous state: {}", last_error_);
    }
  }
}

}  // namespace hangar::app
