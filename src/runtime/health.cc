#include "runtime/health.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/units.h"

namespace hangar::runtime {
namespace {

std::string Gb(uint64_t b) { return FormatBytesDecimal(b); }

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

std::string_view HealthName(Health health) {
  switch (health) {
    case Health::kOk:
      return "ok";
    case Health::kWarn:
      return "warn";
    case Health::kFail:
      return "fail";
  }
  return "ok";
}

std::vector<HealthCheck> Diagnose(const HealthInputs& in) {
  std::vector<HealthCheck> out;
  const HardwareInfo& hw = in.hardware;

  // Memory headroom.
  {
    HealthCheck c{"memory", Health::kOk, ""};
    const uint64_t usable = hw.memory.usable ? hw.memory.usable : hw.memory.total;
    if (usable == 0) {
      c.health = Health::kWarn;
      c.detail = "cannot read the memory of this machine";
    } else {
      const double share = static_cast<double>(hw.memory.available) / usable;
      c.detail = fmt::format("{} available of {} ({:.0f}%)", Gb(hw.memory.available), Gb(usable),
                             100 * share);
      if (hw.memory.cgroup_limit) c.detail += ", limited by the cgroup";
      if (share < kMinFreeMemoryShare) {
        c.health = Health::kWarn;
        c.detail += fmt::format("; under {:.0f}% free: loading a model may fail or swap",
                                100 * kMinFreeMemoryShare);
      }
    }
    out.push_back(std::move(c));
  }

  // Disk space where models are stored.
  {
    HealthCheck c{"disk", Health::kOk, ""};
    if (!hw.disk) {
      c.health = Health::kWarn;
      c.detail = "cannot read the free space of the data folder";
    } else {
      const DiskInfo& d = *hw.disk;
      c.detail = fmt::format("{} free of {} at {}", Gb(d.free), Gb(d.total), d.path.string());
      if (d.total > 0 && static_cast<double>(d.free) / d.total < kMinFreeDiskShare) {
        c.health = Health::kFail;
        c.detail += fmt::format(
            "; under {:.0f}% free: downloads will fail (hangar prune frees "
            "space)",
            100 * kMinFreeDiskShare);
      } else if (d.free < kMinFreeDiskBytes) {
        c.health = Health::kWarn;
        c.detail +=
            fmt::format("; under {} free: room for small models only", Gb(kMinFreeDiskBytes));
      }
    }
    out.push_back(std::move(c));
  }

  // GPUs.
  for (size_t i = 0; i < hw.gpus.size(); ++i) {
    const GpuInfo& g = hw.gpus[i];
    HealthCheck c{fmt::format("gpu{}", i), Health::kOk, g.name};
    if (g.vram_total > 0) {
      if (g.vram_free) {
        c.detail += fmt::format(": {} free of {}", Gb(*g.vram_free), Gb(g.vram_total));
        if (static_cast<double>(*g.vram_free) / g.vram_total < kMinFreeGpuShare) {
          c.health = Health::kWarn;
          c.detail += " (almost full: fewer layers will fit on it)";
        }
      } else {
        c.detail += fmt::format(": {} (free memory unknown)", Gb(g.vram_total));
      }
    }
    if (g.temperature_c) {
      c.detail += fmt::format(", {} °C", *g.temperature_c);
      if (*g.temperature_c >= kWarnGpuTemperatureC) {
        c.health = Health::kWarn;
        c.detail += fmt::format(" (at or above {} °C: it may throttle)", kWarnGpuTemperatureC);
      }
    }
    out.push_back(std::move(c));
  }

  // Models loaded by running processes.
  {
    HealthCheck c{"loaded models", Health::kOk, ""};
    uint64_t host = 0, gpu = 0;
    for (const ProcessEntry& p : in.processes) {
      host += p.host_bytes;
      gpu += p.gpu_bytes;
    }
    c.detail = in.processes.empty() ? "none"
                                    : fmt::format("{} ({} of RAM, {} of GPU memory)",
                                                  in.processes.size(), Gb(host), Gb(gpu));
    out.push_back(std::move(c));
  }

  // Reliability.
  for (const ModelStats& s : in.stats) {
    if (s.uses < kMinUsesForSuccessRate) continue;
    if (s.SuccessRate() >= kMinHealthySuccessRate) continue;
    out.push_back({fmt::format("failures {} ({})", s.model, s.backend), Health::kWarn,
                   fmt::format("{} of {} requests succeeded ({:.0f}%); last error: {}", s.successes,
                               s.uses, 100 * s.SuccessRate(),
                               s.last_error.empty() ? "none recorded" : s.last_error)});
  }

  // Performance degradation.
  for (const SpeedTrend& t : in.trends) {
    if (t.baseline_gen_tokens_per_second <= 0 || t.recent.empty()) continue;
    std::vector<double> recent(
        t.recent.begin(), t.recent.begin() + std::min<size_t>(t.recent.size(), kRecentForTrend));
    const double now = Median(recent);
    HealthCheck c{fmt::format("speed {} ({})", t.model, t.backend), Health::kOk,
                  fmt::format("generation {:.1f} tokens/s recently (median of {}), {:.1f} "
                              "measured by hangar bench",
                              now, recent.size(), t.baseline_gen_tokens_per_second)};
    if (now < kDegradedShare * t.baseline_gen_tokens_per_second) {
      c.health = Health::kWarn;
      c.detail += fmt::format(
          "; below half of the baseline: another program may compete for the "
          "CPU/GPU, the machine may be throttling, or the model now runs with "
          "fewer GPU layers (hangar bench {} measures it again)",
          t.model);
    }
    out.push_back(std::move(c));
  }
  return out;
}

Health Overall(const std::vector<HealthCheck>& checks) {
  Health worst = Health::kOk;
  for (const HealthCheck& c : checks) worst = std::max(worst, c.health);
  return worst;
}

nlohmann::json ToJson(const std::vector<HealthCheck>& checks) {
  nlohmann::json arr = nlohmann::json::array();
  for (const HealthCheck& c : checks) {
    arr.push_back(
        {{"name", c.name}, {"health", std::string(HealthName(c.health))}, {"detail", c.detail}});
  }
  return {{"overall", std::string(HealthName(Overall(checks)))}, {"checks", arr}};
}

}  // namespace hangar::runtime
