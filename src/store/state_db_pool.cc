#include "store/state_db_pool.h"

#include <system_error>

namespace hangar::store {

StateDbPool::StateDbPool(std::filesystem::path path, size_t max_idle)
    : path_(std::move(path)), max_idle_(max_idle) {}

void StateDbPool::Return::operator()(StateDb* db) const {
  std::unique_ptr<StateDb> owned(db);
  if (pool == nullptr) return;
  std::lock_guard<std::mutex> lock(pool->mu_);
  if (pool->idle_.size() < pool->max_idle_) pool->idle_.push_back(std::move(owned));
}

Result<StateDbPool::Lease> StateDbPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      StateDb* db = idle_.back().release();
      idle_.pop_back();
      return Lease(db, Return{this});
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<StateDb> db, StateDb::Open(path_));
  return Lease(db.release(), Return{this});
}

void StateDbPool::DropIdle() {
  std::vector<std::unique_ptr<StateDb>> closing;
  std::lock_guard<std::mutex> lock(mu_);
  closing.swap(idle_);
}

bool StateDbPool::Exists() const {
  std::error_code ec;
  return std::filesystem::exists(path_, ec);
}

}  // namespace hangar::store
