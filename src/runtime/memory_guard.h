// The memory guard: before a model is loaded, the fit module's prediction of
// what it needs (fit/estimator.h, per device) is compared with what this
// machine has free right now — available RAM (MemoryInfo::available, within
// the cgroup's headroom) and each GPU's free memory (its total when NVML does
// not say). A load that would not fit is refused with the numbers, unless the
// user forces it.
//
// Pure: thread-safe.
#ifndef HANGAR_RUNTIME_MEMORY_GUARD_H_
#define HANGAR_RUNTIME_MEMORY_GUARD_H_

#include <string>
#include <string_view>

#include "core/status.h"
#include "fit/memory.h"
#include "hardware/hardware.h"

namespace hangar::runtime {

struct GuardVerdict {
  bool fits = true;
  // What was compared: "needs 1.2 GB of RAM (weights 1.0 GB, KV cache 0.1 GB,
  // compute 0.1 GB), 6.1 GB available"; one clause per device.
  std::string detail;
};

// Compares `need` (host first, then GPUs in hardware order) with `hw`.
// Unknown available memory (0) passes.
GuardVerdict CheckMemory(const fit::MemoryBreakdown& need, const HardwareInfo& hw);

// OK when the verdict fits or `force` is set; else ResourceExhausted:
// "not loading MODEL: it needs ... ; free memory, lower --ctx or --ngl, or
// pass --force to load it anyway".
Status GuardStatus(const GuardVerdict& verdict, std::string_view model, bool force);

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_MEMORY_GUARD_H_
