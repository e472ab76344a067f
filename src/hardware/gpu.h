// Graphics processors that can hold model layers, from three sources:
//   NVIDIA  NVML (libnvidia-ml.so.1, loaded at run time through NvmlApi, nvml.h);
//   AMD     sysfs: /sys/class/drm/cardN/device with vendor 0x1002 (amdgpu's
//           mem_info_vram_total / mem_info_vram_used, product_name, hwmon);
//   Apple   the unified memory of Apple silicon (macOS only: sysctl hw.memsize).
// No GPU is a normal answer: every probe returns an empty list then, never an
// error. Functions are thread-safe as far as the NvmlApi passed in is.
#ifndef HANGAR_HARDWARE_GPU_H_
#define HANGAR_HARDWARE_GPU_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hangar {

class NvmlApi;

struct GpuInfo {
  // The device's number for its own runtime: the NVML (and, with
  // CUDA_DEVICE_ORDER=PCI_BUS_ID, CUDA) index for NVIDIA; the order of the DRM
  // cards for AMD (as ROCm numbers them); 0 for Apple.
  int index = 0;
  std::string vendor;                 // "nvidia", "amd" or "apple"
  std::string name;                   // "NVIDIA GeForce RTX 4090"; never empty
  uint64_t vram_total = 0;            // bytes; 0 when unknown
  std::optional<uint64_t> vram_free;  // bytes
  std::string driver_version;         // "550.54.14" (NVIDIA); empty when unknown
  std::string cuda_version;           // highest CUDA the driver supports, "12.4"
  std::string compute_capability;     // "8.9" (NVIDIA only)
  std::optional<int> temperature_c;
  std::string pci_bus_id;       // "00000000:01:00.0" (NVML), "0000:03:00.0" (sysfs)
  bool unified_memory = false;  // the GPU shares main memory (Apple silicon)

  friend bool operator==(const GpuInfo&, const GpuInfo&) = default;
};

// NVIDIA GPUs seen by `nvml`: initialises it, reads every device and shuts it
// down. An NVML that cannot initialise (library or driver absent) gives no GPU;
// a field NVML cannot answer for one device stays unknown.
std::vector<GpuInfo> ProbeNvidiaGpus(NvmlApi& nvml);

// AMD GPUs under root/sys/class/drm. Without product_name, the name comes from
// the PCI id database (usr/share/misc/pci.ids or usr/share/hwdata/pci.ids
// below root) or is "AMD GPU 0xDEVICE".
std::vector<GpuInfo> ProbeAmdGpus(const std::filesystem::path& root);

// Apple silicon's GPU with the machine's unified memory; empty elsewhere.
std::vector<GpuInfo> ProbeAppleGpus();

}  // namespace hangar

#endif  // HANGAR_HARDWARE_GPU_H_
