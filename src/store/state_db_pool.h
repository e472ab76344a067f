// StateDbPool: connections to one state database (state_db.h) for many
// threads. A StateDb is one SQLite connection that one thread at a time may
// use; the pool hands each caller a connection of its own for as long as it
// holds the lease, and keeps returned connections open for the next caller
// (up to `max_idle`), so a busy server does not reopen the file per request.
//
// The database file is created only when a caller asks for a connection
// (Acquire); Exists() tells whether there is one yet without creating it.
//
// Thread-safe: Acquire() may be called from any thread; a Lease is used by
// one thread at a time and may be destroyed on any thread. Every Lease must
// be destroyed before the pool.
#ifndef HANGAR_STORE_STATE_DB_POOL_H_
#define HANGAR_STORE_STATE_DB_POOL_H_

#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "store/state_db.h"

namespace hangar::store {

class StateDbPool {
 public:
  explicit StateDbPool(std::filesystem::path path, size_t max_idle = 8);
  StateDbPool(const StateDbPool&) = delete;
  StateDbPool& operator=(const StateDbPool&) = delete;

  // Gives the connection back to its pool on destruction.
  struct Return {
    StateDbPool* pool = nullptr;
    void operator()(StateDb* db) const;
  };
  using Lease = std::unique_ptr<StateDb, Return>;

  // An idle connection, or a new one (creating the database and bringing its
  // schema up to date on the first). Errors of StateDb::Open.
  Result<Lease> Acquire();

  // Closes the idle connections (after the file was replaced: they would go
  // on using the old one). Leases out keep theirs until returned.
  void DropIdle();

  // True when the database file exists (nothing is created).
  bool Exists() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  size_t max_idle_;
  std::mutex mu_;  // guards idle_
  std::vector<std::unique_ptr<StateDb>> idle_;
};

}  // namespace hangar::store

#endif  // HANGAR_STORE_STATE_DB_POOL_H_
