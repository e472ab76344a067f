// Health checks for `hangar doctor` (specs/004's monitoring): memory
// headroom, disk space, GPU memory and temperature (where NVML gives them),
// the models loaded by running processes, the success rate of each model,
// and performance degradation — a model whose recent generation speed fell
// below half of the speed `hangar bench` measured for it.
//
// Diagnose() is a pure function of what the caller gathered: thread-safe.
#ifndef HANGAR_RUNTIME_HEALTH_H_
#define HANGAR_RUNTIME_HEALTH_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "hardware/hardware.h"
#include "runtime/usage_store.h"

namespace hangar::runtime {

// Thresholds.
inline constexpr double kMinFreeMemoryShare = 0.10;            // of usable RAM: warn below
inline constexpr uint64_t kMinFreeDiskBytes = 10'000'000'000;  // warn below 10 GB
inline constexpr double kMinFreeDiskShare = 0.05;              // fail below 5 % of the disk
inline constexpr double kMinFreeGpuShare = 0.05;               // warn below 5 % free GPU memory
inline constexpr int kWarnGpuTemperatureC = 85;
inline constexpr double kDegradedShare = 0.5;  // recent speed below half the baseline
inline constexpr int kRecentForTrend = 5;      // the median of the last 5 requests
inline constexpr double kMinHealthySuccessRate = 0.8;
inline constexpr int64_t kMinUsesForSuccessRate = 5;

enum class Health { kOk, kWarn, kFail };
std::string_view HealthName(Health health);  // "ok", "warn", "fail"

struct HealthCheck {
  std::string name;  // "memory", "disk", "gpu0", "loaded models", "speed qwen3 (llama)", ...
  Health health = Health::kOk;
  std::string detail;
};

// The recent speeds of one model on one backend, and its baseline.
struct SpeedTrend {
  std::string model;
  std::string backend;
  double baseline_gen_tokens_per_second = 0;
  std::vector<double> recent;  // newest first
};

struct HealthInputs {
  HardwareInfo hardware;
  std::vector<ProcessEntry> processes;
  std::vector<ModelStats> stats;
  std::vector<SpeedTrend> trends;
};

// One check per subject, in the order of the file comment.
std::vector<HealthCheck> Diagnose(const HealthInputs& inputs);

// The worst health of `checks` (kOk for none).
Health Overall(const std::vector<HealthCheck>& checks);

// {"overall": "ok", "checks": [{"name", "health", "detail"}]}
nlohmann::json ToJson(const std::vector<HealthCheck>& checks);

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_HEALTH_H_
