// NvmlApi: the slice of NVIDIA's management library (NVML) the hardware probe
// uses, as an interface so tests can describe GPUs without a driver
// (FakeNvml in fake_nvml.h).
//
// RealNvml loads libnvidia-ml.so.1 with dlopen() on first Init() and resolves
// its C functions with dlsym(), so Hangar neither links against nor needs the
// CUDA toolkit; a machine without the library simply has no NVIDIA GPU.
// Devices are addressed by NVML index (PCI bus order).
//
// An NvmlApi object is not safe for concurrent use; NVML's own init/shutdown
// are reference counted, so separate objects may be used from separate threads.
#ifndef HANGAR_HARDWARE_NVML_H_
#define HANGAR_HARDWARE_NVML_H_

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace hangar {

struct NvmlMemory {
  uint64_t total = 0;  // bytes
  uint64_t free = 0;
  uint64_t used = 0;
};

struct NvmlComputeCapability {
  int major = 0;
  int minor = 0;
};

class NvmlApi {
 public:
  virtual ~NvmlApi() = default;

  // nvmlInit_v2. Unavailable when the library cannot be loaded or NVML cannot
  // start (no driver, no device); the other calls need a successful Init().
  virtual Status Init() = 0;
  // nvmlShutdown, after a successful Init().
  virtual void Shutdown() = 0;

  // The calls below fail with Unavailable naming the NVML error (e.g. "Not
  // Supported" for the temperature of some devices).
  virtual Result<unsigned> DeviceCount() = 0;
  virtual Result<std::string> DriverVersion() = 0;  // "550.54.14"
  virtual Result<int> CudaDriverVersion() = 0;      // 12040 for CUDA 12.4
  virtual Result<std::string> DeviceName(unsigned index) = 0;
  virtual Result<NvmlMemory> DeviceMemory(unsigned index) = 0;
  virtual Result<NvmlComputeCapability> ComputeCapability(unsigned index) = 0;
  virtual Result<int> TemperatureC(unsigned index) = 0;      // GPU die sensor
  virtual Result<std::string> PciBusId(unsigned index) = 0;  // "00000000:01:00.0"
};

// NVML through dlopen(library).
class RealNvml final : public NvmlApi {
 public:
  explicit RealNvml(std::string library = "libnvidia-ml.so.1");
  ~RealNvml() override;
  RealNvml(const RealNvml&) = delete;
  RealNvml& operator=(const RealNvml&) = delete;

  Status Init() override;
  void Shutdown() override;
  Result<unsigned> DeviceCount() override;
  Result<std::string> DriverVersion() override;
  Result<int> CudaDriverVersion() override;
  Result<std::string> DeviceName(unsigned index) override;
  Result<NvmlMemory> DeviceMemory(unsigned index) override;
  Result<NvmlComputeCapability> ComputeCapability(unsigned index) override;
  Result<int> TemperatureC(unsigned index) override;
  Result<std::string> PciBusId(unsigned index) override;

 private:
  struct Library;  // the dlopen handle and resolved functions
  std::string library_name_;
  std::unique_ptr<Library> lib_;
};

}  // namespace hangar

#endif  // HANGAR_HARDWARE_NVML_H_
