#include "fetch/range_set.h"

#include <algorithm>

namespace hangar {

void RangeSet::Add(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  // The first interval that could touch [begin, end): the last one starting at or before begin.
  auto it = map_.upper_bound(begin);
  if (it != map_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= begin) it = prev;
  }
  while (it != map_.end() && it->first <= end) {
    begin = std::min(begin, it->first);
    end = std::max(end, it->second);
    it = map_.erase(it);
  }
  map_.emplace(begin, end);
}

bool RangeSet::Covers(uint64_t begin, uint64_t end) const {
  if (begin >= end) return true;
  auto it = map_.upper_bound(begin);
  if (it == map_.begin()) return false;
  --it;
  return it->first <= begin && it->second >= end;
}

uint64_t RangeSet::PrefixEnd() const {
  auto it = map_.find(0);
  return it == map_.end() ? 0 : it->second;
}

uint64_t RangeSet::Size() const {
  uint64_t n = 0;
  for (const auto& [b, e] : map_) n += e - b;
  return n;
}

std::vector<RangeSet::Interval> RangeSet::Missing(uint64_t begin, uint64_t end) const {
  std::vector<Interval> out;
  uint64_t at = begin;
  for (const auto& [b, e] : map_) {
    if (e <= at) continue;
    if (b >= end) break;
    if (b > at) out.emplace_back(at, b);
    at = std::max(at, e);
    if (at >= end) break;
  }
  if (at < end) out.emplace_back(at, end);
  return out;
}

std::vector<RangeSet::Interval> RangeSet::Intervals() const {
  return std::vector<Interval>(map_.begin(), map_.end());
}

void RangeSet::TruncateAt(uint64_t end) {
  auto it = map_.lower_bound(end);
  map_.erase(it, map_.end());
  if (!map_.empty()) {
    auto last = std::prev(map_.end());
    last->second = std::min(last->second, end);
    if (last->first >= last->second) map_.erase(last);
  }
}

}  // namespace hangar
