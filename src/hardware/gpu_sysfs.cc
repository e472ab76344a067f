// AMD GPUs through the amdgpu driver's sysfs files (/sys/class/drm/cardN/device).
#include <algorithm>
#include <cctype>
#include <system_error>

#include "hardware/gpu.h"
#include "hardware/probe_files.h"

namespace hangar {
namespace {

using hardware_internal::ForEachKeyValue;
using hardware_internal::ParseUnsigned;
using hardware_internal::ReadProbeFile;
using hardware_internal::ReadProbeLine;
using hardware_internal::ReadProbeNumber;
using hardware_internal::TrimBlanks;

constexpr std::string_view kAmdVendor = "0x1002";

// Card numbers N of the "cardN" entries (not "cardN-DP-1" connectors, not renderD*).
std::vector<int> DrmCards(const std::filesystem::path& root) {
  std::vector<int> cards;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root / "sys/class/drm", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() <= 4 || name.compare(0, 4, "card") != 0) continue;
    if (std::optional<uint64_t> n = ParseUnsigned(std::string_view(name).substr(4))) {
      cards.push_back(static_cast<int>(*n));
    }
  }
  std::sort(cards.begin(), cards.end());
  return cards;
}

// The name of AMD device `device_id` ("744c") in the PCI id database, whose
// lines are "VVVV  vendor", "\tDDDD  device" and "\t\tSSSS SSSS  subsystem".
// "Navi 31 [Radeon RX 7900 XT/7900 XTX]" gives the part in brackets.
std::string PciIdsName(const std::filesystem::path& root, std::string_view device_id) {
  for (const char* file : {"usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids"}) {
    std::optional<std::string> db = ReadProbeFile(root, file);
    if (!db) continue;
    size_t vendor = db->find("\n1002  ");
    if (vendor == std::string::npos) return "";
    std::string_view text = std::string_view(*db).substr(vendor + 1);
    text.remove_prefix(std::min(text.size(), text.find('\n')));  // the vendor line
    while (!text.empty()) {
      text.remove_prefix(1);  // '\n'
      std::string_view line = text.substr(0, text.find('\n'));
      text.remove_prefix(line.size());
      if (line.empty() || line[0] == '#') continue;
      if (line[0] != '\t') break;  // the next vendor
      if (line.size() < 2 || line[1] == '\t' || line.substr(1, device_id.size()) != device_id ||
          line.substr(1 + device_id.size(), 2) != "  ") {
        continue;
      }
      std::string name(TrimBlanks(line.substr(1 + device_id.size())));
      size_t open = name.find('['), close = name.rfind(']');
      if (open != std::string::npos && close != std::string::npos && close > open) {
        name = name.substr(open + 1, close - open - 1);
      }
      return name;
    }
    return "";
  }
  return "";
}

std::optional<int> HwmonTemperature(const std::filesystem::path& root, const std::string& device) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root / device / "hwmon", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string rel = device + "/hwmon/" + it->path().filename().string() + "/temp1_input";
    if (std::optional<uint64_t> milli = ReadProbeNumber(root, rel)) {
      return static_cast<int>(*milli / 1000);
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<GpuInfo> ProbeAmdGpus(const std::filesystem::path& root) {
  std::vector<GpuInfo> gpus;
  for (int card : DrmCards(root)) {
    const std::string device = "sys/class/drm/card" + std::to_string(card) + "/device";
    if (ReadProbeLine(root, device + "/vendor") != kAmdVendor) continue;
    GpuInfo gpu;
    gpu.index = static_cast<int>(gpus.size());
    gpu.vendor = "amd";
    gpu.name = ReadProbeLine(root, device + "/product_name").value_or("");
    if (gpu.name.empty()) {
      std::string id = ReadProbeLine(root, device + "/device").value_or("");
      if (id.rfind("0x", 0) == 0) id.erase(0, 2);
      for (char& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string known = id.empty() ? "" : PciIdsName(root, id);
      gpu.name = !known.empty() ? "AMD " + known : "AMD GPU 0x" + (id.empty() ? "?" : id);
    }
    gpu.vram_total = ReadProbeNumber(root, device + "/mem_info_vram_total").value_or(0);
    if (std::optional<uint64_t> used = ReadProbeNumber(root, device + "/mem_info_vram_used");
        used && gpu.vram_total > 0) {
      gpu.vram_free = gpu.vram_total - std::min(gpu.vram_total, *used);
    }
    ForEachKeyValue(ReadProbeFile(root, device + "/uevent").value_or(""), '=',
                    [&](std::string_view key, std::string_view value) {
                      if (key == "PCI_SLOT_NAME") gpu.pci_bus_id = value;
                    });
    gpu.temperature_c = HwmonTemperature(root, device);
    gpus.push_back(std::move(gpu));
  }
  return gpus;
}

}  // namespace hangar
