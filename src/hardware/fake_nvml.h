// FakeNvml: an NvmlApi that describes GPUs without a driver, for tests of the
// hardware probe and of everything that fits models to GPUs. Fill `devices`
// (and optionally the failures) before use; it counts Init/Shutdown calls.
// Not thread-safe.
#ifndef HANGAR_HARDWARE_FAKE_NVML_H_
#define HANGAR_HARDWARE_FAKE_NVML_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hardware/nvml.h"

namespace hangar {

struct FakeNvmlDevice {
  std::string name;
  std::optional<NvmlMemory> memory;  // nullopt: the call fails
  std::optional<NvmlComputeCapability> compute_capability;
  std::optional<int> temperature_c;  // nullopt: "Not Supported"
  std::string pci_bus_id;
};

class FakeNvml final : public NvmlApi {
 public:
  FakeNvml() = default;
  explicit FakeNvml(std::vector<FakeNvmlDevice> devices) : devices(std::move(devices)) {}

  // The description; public so tests can set it up field by field.
  std::vector<FakeNvmlDevice> devices;
  Status init_status;  // what Init() answers
  std::optional<std::string> driver_version = "550.54.14";
  std::optional<int> cuda_driver_version = 12040;
  int init_calls = 0;
  int shutdown_calls = 0;

  Status Init() override {
    ++init_calls;
    if (init_status.ok()) initialised_ = true;
    return init_status;
  }
  void Shutdown() override {
    ++shutdown_calls;
    initialised_ = false;
  }
  Result<unsigned> DeviceCount() override {
    RETURN_IF_ERROR(Ready());
    return static_cast<unsigned>(devices.size());
  }
  Result<std::string> DriverVersion() override {
    RETURN_IF_ERROR(Ready());
    if (!driver_version) return NotSupported("nvmlSystemGetDriverVersion");
    return *driver_version;
  }
  Result<int> CudaDriverVersion() override {
    RETURN_IF_ERROR(Ready());
    if (!cuda_driver_version) return NotSupported("nvmlSystemGetCudaDriverVersion_v2");
    return *cuda_driver_version;
  }
  Result<std::string> DeviceName(unsigned index) override {
    ASSIGN_OR_RETURN(const FakeNvmlDevice* d, Device(index));
    return d->name;
  }
  Result<NvmlMemory> DeviceMemory(unsigned index) override {
    ASSIGN_OR_RETURN(const FakeNvmlDevice* d, Device(index));
    if (!d->memory) return NotSupported("nvmlDeviceGetMemoryInfo");
    return *d->memory;
  }
  Result<NvmlComputeCapability> ComputeCapability(unsigned index) override {
    ASSIGN_OR_RETURN(const FakeNvmlDevice* d, Device(index));
    if (!d->compute_capability) return NotSupported("nvmlDeviceGetCudaComputeCapability");
    return *d->compute_capability;
  }
  Result<int> TemperatureC(unsigned index) override {
    ASSIGN_OR_RETURN(const FakeNvmlDevice* d, Device(index));
    if (!d->temperature_c) return NotSupported("nvmlDeviceGetTemperature");
    return *d->temperature_c;
  }
  Result<std::string> PciBusId(unsigned index) override {
    ASSIGN_OR_RETURN(const FakeNvmlDevice* d, Device(index));
    return d->pci_bus_id;
  }

 private:
  static Status NotSupported(const char* call) {
    return UnavailableError(std::string(call) + " failed: Not Supported (NVML error 3)");
  }
  Status Ready() const {
    return initialised_ ? Status::Ok() : UnavailableError("NVML is not initialised");
  }
  Result<const FakeNvmlDevice*> Device(unsigned index) const {
    RETURN_IF_ERROR(Ready());
    if (index >= devices.size()) return UnavailableError("no NVML device " + std::to_string(index));
    return &devices[index];
  }

  bool initialised_ = false;
};

}  // namespace hangar

#endif  // HANGAR_HARDWARE_FAKE_NVML_H_
