// RangeSet: a set of byte offsets kept as sorted, disjoint, non-adjacent
// half-open intervals [begin, end). The downloader records which bytes of a
// partial file are written with it. A plain value; not synchronised.
#ifndef HANGAR_FETCH_RANGE_SET_H_
#define HANGAR_FETCH_RANGE_SET_H_

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace hangar {

class RangeSet {
 public:
  using Interval = std::pair<uint64_t, uint64_t>;  // [first, second)

  // Adds [begin, end), merging with neighbours. An empty interval is ignored.
  void Add(uint64_t begin, uint64_t end);
  void Clear() { map_.clear(); }

  // True when every offset of [begin, end) is in the set (an empty one is).
  bool Covers(uint64_t begin, uint64_t end) const;
  // The end of the run that starts at 0 (0 when offset 0 is missing).
  uint64_t PrefixEnd() const;
  // Number of offsets in the set.
  uint64_t Size() const;
  // The intervals of [begin, end) that are not in the set, ascending.
  std::vector<Interval> Missing(uint64_t begin, uint64_t end) const;
  // The set's intervals, ascending.
  std::vector<Interval> Intervals() const;
  // Keeps only offsets below `end`.
  void TruncateAt(uint64_t end);
  bool empty() const { return map_.empty(); }

  friend bool operator==(const RangeSet&, const RangeSet&) = default;

 private:
  std::map<uint64_t, uint64_t> map_;  // begin → end
};

}  // namespace hangar

#endif  // HANGAR_FETCH_RANGE_SET_H_
