// Apple silicon: one GPU sharing the machine's unified memory (macOS only).
#include "hardware/gpu.h"

#ifdef __APPLE__
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

namespace hangar {

std::vector<GpuInfo> ProbeAppleGpus() {
  std::vector<GpuInfo> gpus;
#if defined(__APPLE__) && (defined(__aarch64__) || defined(__arm64__))
  uint64_t memsize = 0;
  size_t size = sizeof memsize;
  if (sysctlbyname("hw.memsize", &memsize, &size, nullptr, 0) != 0) return gpus;
  char brand[256] = {};
  size = sizeof brand - 1;
  GpuInfo gpu;
  gpu.vendor = "apple";
  gpu.name = sysctlbyname("machdep.cpu.brand_string", brand, &size, nullptr, 0) == 0 && brand[0]
                 ? std::string(brand) + " GPU"
                 : "Apple GPU";
  gpu.vram_total = memsize;
  gpu.unified_memory = true;
  gpus.push_back(std::move(gpu));
#endif
  return gpus;
}

}  // namespace hangar
