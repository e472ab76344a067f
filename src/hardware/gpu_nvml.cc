// NVIDIA GPUs through NVML, loaded at run time (no nvml.h, no link to the driver).
#include <dlfcn.h>
#include <fmt/format.h>

#include "core/log.h"
#include "hardware/gpu.h"
#include "hardware/nvml.h"

namespace hangar {
namespace {

// The few NVML declarations used here, as in NVIDIA's nvml.h.
using nvmlReturn_t = int;  // an enum in nvml.h; 0 is NVML_SUCCESS
using nvmlDevice_t = struct nvmlDevice_st*;
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr int kNvmlTemperatureGpu = 0;  // NVML_TEMPERATURE_GPU

struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

struct nvmlPciInfo_t {  // the layout of nvmlDeviceGetPciInfo_v3
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];
};

Status Missing(const char* call) {
  return UnavailableError(std::string(call) +
                          " is not available (NVML not initialised, or the driver is too old)");
}

}  // namespace

struct RealNvml::Library {
  void* handle = nullptr;
  int initialised = 0;  // successful Init() calls not yet shut down
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*device_count)(unsigned int*) = nullptr;
  nvmlReturn_t (*handle_by_index)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*device_name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*memory_info)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*driver_version)(char*, unsigned int) = nullptr;
  nvmlReturn_t (*cuda_driver_version)(int*) = nullptr;
  nvmlReturn_t (*compute_capability)(nvmlDevice_t, int*, int*) = nullptr;
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned int*) = nullptr;
  nvmlReturn_t (*pci_info)(nvmlDevice_t, nvmlPciInfo_t*) = nullptr;

  template <typename F>
  void Resolve(F*& fn, const char* name) {
    fn = reinterpret_cast<F*>(dlsym(handle, name));
  }

  Status Error(std::string_view call, nvmlReturn_t code) const {
    const char* text = error_string ? error_string(code) : nullptr;
    return UnavailableError(
        fmt::format("{} failed: {} (NVML error {})", call, text ? text : "unknown error", code));
  }

  // The handle of device `index` for `call` (`resolved`: its function was found).
  Result<nvmlDevice_t> Device(unsigned index, bool resolved, const char* call) const {
    if (initialised == 0 || !resolved) return Missing(call);
    nvmlDevice_t device = nullptr;
    nvmlReturn_t rc = handle_by_index(index, &device);
    if (rc != kNvmlSuccess) return Error("nvmlDeviceGetHandleByIndex_v2", rc);
    return device;
  }
};

RealNvml::RealNvml(std::string library)
    : library_name_(std::move(library)), lib_(std::make_unique<Library>()) {}

RealNvml::~RealNvml() {
  while (lib_->initialised > 0) Shutdown();
  if (lib_->handle) dlclose(lib_->handle);
}

Status RealNvml::Init() {
  Library& l = *lib_;
  if (!l.handle) {
    l.handle = dlopen(library_name_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!l.handle) {
      const char* why = dlerror();  // names the library
      return UnavailableError(fmt::format("cannot load NVML ({}); no NVIDIA driver is installed",
                                          why ? why : library_name_));
    }
    l.Resolve(l.init, "nvmlInit_v2");
    l.Resolve(l.shutdown, "nvmlShutdown");
    l.Resolve(l.error_string, "nvmlErrorString");
    l.Resolve(l.device_count, "nvmlDeviceGetCount_v2");
    l.Resolve(l.handle_by_index, "nvmlDeviceGetHandleByIndex_v2");
    l.Resolve(l.device_name, "nvmlDeviceGetName");
    l.Resolve(l.memory_info, "nvmlDeviceGetMemoryInfo");
    l.Resolve(l.driver_version, "nvmlSystemGetDriverVersion");
    l.Resolve(l.cuda_driver_version, "nvmlSystemGetCudaDriverVersion_v2");
    l.Resolve(l.compute_capability, "nvmlDeviceGetCudaComputeCapability");
    l.Resolve(l.temperature, "nvmlDeviceGetTemperature");
    l.Resolve(l.pci_info, "nvmlDeviceGetPciInfo_v3");
  }
  if (!l.init || !l.shutdown || !l.device_count || !l.handle_by_index) {
    return UnavailableError(library_name_ +
                            " lacks nvmlInit_v2 or the device calls; the NVIDIA driver is too "
                            "old, update it");
  }
  nvmlReturn_t rc = l.init();
  if (rc != kNvmlSuccess) return l.Error("nvmlInit_v2", rc);
  ++l.initialised;
  return Status::Ok();
}

void RealNvml::Shutdown() {
  if (lib_->initialised == 0) return;
  lib_->shutdown();
  --lib_->initialised;
}

Result<unsigned> RealNvml::DeviceCount() {
  if (lib_->initialised == 0) return Missing("nvmlDeviceGetCount_v2");
  unsigned int count = 0;
  nvmlReturn_t rc = lib_->device_count(&count);
  if (rc != kNvmlSuccess) return lib_->Error("nvmlDeviceGetCount_v2", rc);
  return count;
}

Result<std::string> RealNvml::DriverVersion() {
  if (lib_->initialised == 0 || !lib_->driver_version) return Missing("nvmlSystemGetDriverVersion");
  char buf[96] = {};
  nvmlReturn_t rc = lib_->driver_version(buf, sizeof buf);
  if (rc != kNvmlSuccess) return lib_->Error("nvmlSystemGetDriverVersion", rc);
  return std::string(buf);
}

Result<int> RealNvml::CudaDriverVersion() {
  if (lib_->initialised == 0 || !lib_->cuda_driver_version) {
    return Missing("nvmlSystemGetCudaDriverVersion_v2");
  }
  int version = 0;
  nvmlReturn_t rc = lib_->cuda_driver_version(&version);
  if (rc != kNvmlSuccess) return lib_->Error("nvmlSystemGetCudaDriverVersion_v2", rc);
  return version;
}

Result<std::string> RealNvml::DeviceName(unsigned index) {
  ASSIGN_OR_RETURN(nvmlDevice_t device,
                   lib_->Device(index, lib_->device_name != nullptr, "nvmlDeviceGetName"));
  char buf[256] = {};
  nvmlReturn_t rc = lib_->device_name(device, buf, sizeof buf);
  if (rc != kNvmlSuccess) return lib_->Error("nvmlDeviceGetName", rc);
  return std::string(buf);
}

Result<NvmlMemory> RealNvml::DeviceMemory(unsigned index) {
  ASSIGN_OR_RETURN(nvmlDevice_t device,
                   lib_->Device(index, lib_->memory_info != nullptr, "nvmlDeviceGetMemoryInfo"));
  nvmlMemory_t memory = {};
  nvmlReturn_t rc = lib_->memory_info(device, &memory);
  if (rc != kNvmlSuccess) return lib_->Error("nvmlDeviceGetMemoryInfo", rc);
  return NvmlMemory{memory.total, memory.free, memory.used};
}

Result<NvmlComputeCapability> RealNvml::ComputeCapability(unsigned index) {
  ASSIGN_OR_RETURN(nvmlDevice_t device, lib_->Device(index, lib_->compute_capability != nullptr,
                                                     "nvmlDeviceGetCudaComputeCapability"));
  NvmlComputeCapability cc;
  nvmlReturn_t rc = lib_->compute_capability(device, &cc.major, &cc.minor);
  if (rc != kNvmlSuccess) return lib_->Error("nvmlDeviceGetCudaComputeCapability", rc);
  return cc;
}

Result<int> RealNvml::TemperatureC(unsigned index) {
  ASSIGN_OR_RETURN(nvmlDevice_t device,
                   lib_->Device(index, lib_->temperature != nullptr, "nvmlDeviceGetTemperature"));
  unsigned int celsius = 0;
  nvmlReturn_t rc = lib_->temperature(device, kNvmlTemperatureGpu, &celsius);
  if (rc != kNvmlSuccess) return lib_->Error("nvmlDeviceGetTemperature", rc);
  return static_cast<int>(celsius);
}

Result<std::string> RealNvml::PciBusId(unsigned index) {
  ASSIGN_OR_RETURN(nvmlDevice_t device,
                   lib_->Device(index, lib_->pci_info != nullptr, "nvmlDeviceGetPciInfo_v3"));
  nvmlPciInfo_t pci = {};
  nvmlReturn_t rc = lib_->pci_info(device, &pci);
  if (rc != kNvmlSuccess) return lib_->Error("nvmlDeviceGetPciInfo_v3", rc);
  pci.busId[sizeof pci.busId - 1] = '\0';
  return std::string(pci.busId);
}

std::vector<GpuInfo> ProbeNvidiaGpus(NvmlApi& nvml) {
  std::vector<GpuInfo> gpus;
  if (Status init = nvml.Init(); !init.ok()) {
    Log(LogLevel::kDebug, "no NVIDIA GPU: {}", init.message());
    return gpus;
  }
  Result<unsigned> count = nvml.DeviceCount();
  if (!count.ok()) Log(LogLevel::kDebug, "no NVIDIA GPU: {}", count.status().message());
  std::string driver = nvml.DriverVersion().value_or("");
  std::string cuda;
  if (Result<int> v = nvml.CudaDriverVersion(); v.ok() && *v > 0) {
    cuda = fmt::format("{}.{}", *v / 1000, (*v % 1000) / 10);
  }
  for (unsigned i = 0; i < count.value_or(0); ++i) {
    GpuInfo gpu;
    gpu.index = static_cast<int>(i);
    gpu.vendor = "nvidia";
    gpu.name = nvml.DeviceName(i).value_or("");
    if (gpu.name.empty()) gpu.name = "NVIDIA GPU";
    if (Result<NvmlMemory> memory = nvml.DeviceMemory(i); memory.ok()) {
      gpu.vram_total = memory->total;
      gpu.vram_free = memory->free;
    } else {
      Log(LogLevel::kDebug, "NVIDIA GPU {}: {}", i, memory.status().message());
    }
    gpu.driver_version = driver;
    gpu.cuda_version = cuda;
    if (Result<NvmlComputeCapability> cc = nvml.ComputeCapability(i); cc.ok()) {
      gpu.compute_capability = fmt::format("{}.{}", cc->major, cc->minor);
    }
    if (Result<int> t = nvml.TemperatureC(i); t.ok()) gpu.temperature_c = *t;
    gpu.pci_bus_id = nvml.PciBusId(i).value_or("");
    gpus.push_back(std::move(gpu));
  }
  nvml.Shutdown();
  return gpus;
}

}  // namespace hangar
