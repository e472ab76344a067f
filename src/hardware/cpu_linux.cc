// CPU probe for Linux: /proc/cpuinfo and /sys/devices/system/cpu.
#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>

#include "hardware/cpu.h"
#include "hardware/probe_files.h"

namespace hangar {
namespace hardware_internal {
namespace {

// cpuinfo flag (x86 "flags", Arm "Features") -> canonical name.
struct FlagName {
  std::string_view flag;
  std::string_view name;
};
constexpr FlagName kFlagNames[] = {
    {"sse4_2", "sse4_2"},
    {"avx", "avx"},
    {"avx2", "avx2"},
    {"fma", "fma"},
    {"f16c", "f16c"},
    {"avx_vnni", "avx_vnni"},
    {"avx512f", "avx512f"},
    {"avx512bw", "avx512bw"},
    {"avx512vl", "avx512vl"},
    {"avx512_vnni", "avx512_vnni"},
    {"avx512_bf16", "avx512_bf16"},
    {"amx_tile", "amx_tile"},
    {"amx_int8", "amx_int8"},
    {"amx_bf16", "amx_bf16"},
    {"asimd", "neon"},
    {"neon", "neon"},
    {"asimddp", "dotprod"},
    {"i8mm", "i8mm"},
    {"asimdhp", "fp16"},
    {"bf16", "bf16"},
    {"sve", "sve"},
    {"sve2", "sve2"},
};

// Arm "CPU implementer" codes.
struct Implementer {
  uint64_t code;
  std::string_view name;
};
constexpr Implementer kImplementers[] = {
    {0x41, "ARM"},       {0x42, "Broadcom"}, {0x43, "Cavium"}, {0x46, "Fujitsu"},
    {0x48, "HiSilicon"}, {0x4e, "NVIDIA"},   {0x50, "APM"},    {0x51, "Qualcomm"},
    {0x61, "Apple"},     {0x69, "Intel"},    {0xc0, "Ampere"},
};

// "CPU part" codes of implementer 0x41 (Arm's own cores).
struct ArmPart {
  uint64_t code;
  std::string_view name;
};
constexpr ArmPart kArmParts[] = {
    {0xd03, "Cortex-A53"},  {0xd04, "Cortex-A35"},  {0xd05, "Cortex-A55"},  {0xd07, "Cortex-A57"},
    {0xd08, "Cortex-A72"},  {0xd09, "Cortex-A73"},  {0xd0a, "Cortex-A75"},  {0xd0b, "Cortex-A76"},
    {0xd0c, "Neoverse-N1"}, {0xd0d, "Cortex-A77"},  {0xd40, "Neoverse-V1"}, {0xd41, "Cortex-A78"},
    {0xd44, "Cortex-X1"},   {0xd46, "Cortex-A510"}, {0xd47, "Cortex-A710"}, {0xd48, "Cortex-X2"},
    {0xd49, "Neoverse-N2"}, {0xd4d, "Cortex-A715"}, {0xd4e, "Cortex-X3"},   {0xd4f, "Neoverse-V2"},
    {0xd80, "Cortex-A520"}, {0xd81, "Cortex-A720"}, {0xd82, "Cortex-X4"},   {0xd84, "Neoverse-V3"},
    {0xd8e, "Neoverse-N3"},
};

std::string HexCode(uint64_t code) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(code));
  return buf;
}

std::string ImplementerName(std::string_view text) {
  std::optional<uint64_t> code = ParseUnsigned(text, /*allow_hex=*/true);
  if (!code) return std::string(text);
  for (const Implementer& i : kImplementers) {
    if (i.code == *code) return std::string(i.name);
  }
  return "implementer " + HexCode(*code);
}

std::string PartName(std::optional<uint64_t> implementer, std::string_view text) {
  std::optional<uint64_t> code = ParseUnsigned(text, /*allow_hex=*/true);
  if (!code) return std::string(text);
  if (implementer == 0x41u) {
    for (const ArmPart& p : kArmParts) {
      if (p.code == *code) return std::string(p.name);
    }
  }
  return "part " + HexCode(*code);
}

std::vector<std::string> CanonicalFeatures(std::string_view flags) {
  std::set<std::string_view> present;
  while (!flags.empty()) {
    size_t start = flags.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    flags.remove_prefix(start);
    size_t end = flags.find_first_of(" \t");
    present.insert(flags.substr(0, end));
    flags = end == std::string_view::npos ? std::string_view() : flags.substr(end);
  }
  std::set<std::string_view> names;
  for (const FlagName& f : kFlagNames) {
    if (present.count(f.flag)) names.insert(f.name);
  }
  std::vector<std::string> out;
  for (std::string_view name : kCpuFeatureNames) {
    if (names.count(name)) out.emplace_back(name);
  }
  return out;
}

}  // namespace

CpuInfo ParseCpuinfo(std::string_view text) {
  CpuInfo info;
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::string physical_id, core_id;
  double mhz_sum = 0;
  int mhz_count = 0;
  bool have_flags = false;
  std::optional<uint64_t> implementer;
  std::vector<std::string> parts;  // distinct Arm part names, in order

  auto end_block = [&] {
    if (!physical_id.empty() && !core_id.empty()) cores.emplace(physical_id, core_id);
    physical_id.clear();
    core_id.clear();
  };
  ForEachKeyValue(text, ':', [&](std::string_view key, std::string_view value) {
    if (key.empty()) {
      if (value.empty()) end_block();
      return;
    }
    if (key == "processor") {
      end_block();
      ++info.logical_cores;
    } else if (key == "vendor_id") {
      if (info.vendor.empty()) info.vendor = value;
    } else if (key == "model name" || key == "Processor") {
      // "Processor" is the model on old 32-bit Arm kernels.
      if (info.model.empty()) info.model = value;
    } else if (key == "cpu MHz") {
      if (std::optional<double> mhz = ParseDecimal(value)) {
        mhz_sum += *mhz;
        ++mhz_count;
      }
    } else if (key == "physical id") {
      physical_id = value;
    } else if (key == "core id") {
      core_id = value;
    } else if (key == "flags" || key == "Features") {
      if (!have_flags) {
        info.features = CanonicalFeatures(value);
        have_flags = true;
      }
    } else if (key == "CPU implementer") {
      if (!implementer) {
        implementer = ParseUnsigned(value, /*allow_hex=*/true);
        if (info.vendor.empty()) info.vendor = ImplementerName(value);
      }
    } else if (key == "CPU part") {
      std::string name = PartName(implementer, value);
      if (std::find(parts.begin(), parts.end(), name) == parts.end()) parts.push_back(name);
    }
  });
  end_block();

  info.physical_cores = static_cast<int>(cores.size());
  if (mhz_count > 0) info.current_mhz = mhz_sum / mhz_count;
  if (info.model.empty() && !parts.empty()) {
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) info.model += " + ";
      info.model += parts[i];
    }
  }
  return info;
}

std::vector<int> ParseCpuList(std::string_view text) {
  std::vector<int> cpus;
  text = TrimBlanks(text);
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view range = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t dash = range.find('-');
    std::optional<uint64_t> first = ParseUnsigned(range.substr(0, dash));
    std::optional<uint64_t> last =
        dash == std::string_view::npos ? first : ParseUnsigned(range.substr(dash + 1));
    if (!first || !last || *last < *first || *last > 1'000'000) return {};
    for (uint64_t c = *first; c <= *last; ++c) cpus.push_back(static_cast<int>(c));
  }
  return cpus;
}

}  // namespace hardware_internal

using namespace hardware_internal;

bool CpuInfo::HasFeature(std::string_view name) const {
  return std::find(features.begin(), features.end(), name) != features.end();
}

namespace {

std::string CpuDir(int cpu) { return "sys/devices/system/cpu/cpu" + std::to_string(cpu); }

// Distinct SMT sibling groups among the online CPUs; 0 when sysfs has no topology.
int CountCoresFromTopology(const std::filesystem::path& root, const std::vector<int>& cpus) {
  std::set<std::string> groups;
  for (int cpu : cpus) {
    std::string dir = CpuDir(cpu) + "/topology/";
    std::optional<std::string> siblings = ReadProbeLine(root, dir + "core_cpus_list");
    if (!siblings) siblings = ReadProbeLine(root, dir + "thread_siblings_list");
    if (!siblings) return 0;
    groups.insert(*siblings);
  }
  return static_cast<int>(groups.size());
}

void ReadCaches(const std::filesystem::path& root, CpuInfo& info) {
  for (int i = 0; i < 16; ++i) {
    std::string dir = CpuDir(0) + "/cache/index" + std::to_string(i) + "/";
    std::optional<uint64_t> level = ReadProbeNumber(root, dir + "level");
    if (!level) break;
    std::optional<std::string> type = ReadProbeLine(root, dir + "type");
    std::optional<std::string> size_text = ReadProbeLine(root, dir + "size");
    if (!type || !size_text || *type == "Instruction") continue;
    std::optional<uint64_t> size = ParseSuffixedSize(*size_text);
    if (!size) continue;
    if (*level == 1) info.l1d_cache = size;
    if (*level == 2) info.l2_cache = size;
    if (*level == 3) info.l3_cache = size;
  }
}

}  // namespace

CpuInfo ProbeCpu(const std::filesystem::path& root, std::string arch) {
  CpuInfo info = ParseCpuinfo(ReadProbeFile(root, "proc/cpuinfo").value_or(""));
  info.arch = std::move(arch);

  std::vector<int> online;
  if (info.logical_cores == 0 || info.physical_cores == 0) {
    online = ParseCpuList(ReadProbeFile(root, "sys/devices/system/cpu/online").value_or(""));
  }
  if (info.logical_cores == 0) info.logical_cores = static_cast<int>(online.size());
  if (info.physical_cores == 0) info.physical_cores = CountCoresFromTopology(root, online);
  if (info.physical_cores == 0) info.physical_cores = info.logical_cores;

  const std::string freq = CpuDir(0) + "/cpufreq/";
  if (std::optional<uint64_t> khz = ReadProbeNumber(root, freq + "cpuinfo_max_freq")) {
    info.max_mhz = static_cast<double>(*khz) / 1000.0;
  }
  if (!info.current_mhz) {
    if (std::optional<uint64_t> khz = ReadProbeNumber(root, freq + "scaling_cur_freq")) {
      info.current_mhz = static_cast<double>(*khz) / 1000.0;
    }
  }
  ReadCaches(root, info);
  return info;
}

}  // namespace hangar

namespace hangar {

namespace hardware_internal {

std::optional<CpuTimes> ParseProcStat(std::string_view text) {
  if (text.rfind("cpu ", 0) != 0) return std::nullopt;
  std::string_view line = text.substr(4, text.find('\n') - 4);
  uint64_t v[8] = {};
  int n = 0;
  while (n < 8) {
    line = TrimBlanks(line);
    if (line.empty()) break;
    size_t end = line.find(' ');
    std::optional<uint64_t> field = ParseUnsigned(line.substr(0, end));
    if (!field) return std::nullopt;
    v[n++] = *field;
    if (end == std::string_view::npos) break;
    line.remove_prefix(end);
  }
  if (n < 4) return std::nullopt;
  // user nice system idle iowait irq softirq steal
  return CpuTimes{v[0] + v[1] + v[2] + v[5] + v[6] + v[7], v[3] + v[4]};
}

}  // namespace hardware_internal

std::optional<CpuTimes> ReadCpuTimes(const std::filesystem::path& root) {
  std::optional<std::string> text = hardware_internal::ReadProbeFile(root, "proc/stat");
  if (!text) return std::nullopt;
  return hardware_internal::ParseProcStat(*text);
}

double BusyFraction(const CpuTimes& before, const CpuTimes& after) {
  if (after.busy < before.busy || after.idle < before.idle) return 0;
  const uint64_t busy = after.busy - before.busy;
  const uint64_t total = busy + (after.idle - before.idle);
  return total == 0 ? 0 : static_cast<double>(busy) / static_cast<double>(total);
}

}  // namespace hangar
