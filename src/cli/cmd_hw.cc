// hangar hw
#include "cli/command.h"
#include "hardware/hardware.h"

namespace hangar::cli {

void AddHw(CLI::App& sub, Context& ctx) {
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx] {
    auto hw = ctx.app().fit().Hardware();
    if (!hw.ok()) return ctx.Fail(hw.status());
    if (ctx.json) return ctx.PrintJson(ToJson(**hw));
    std::vector<std::pair<std::string, std::string>> rows;
    for (const HardwareRow& r : HardwareRows(**hw)) rows.emplace_back(r.label, r.value);
    ctx.Print(RenderKeyValues(rows, ctx.style));
  });
}

}  // namespace hangar::cli
