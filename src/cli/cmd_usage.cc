// hangar use | hangar stats | hangar ps | hangar doctor
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "cli/command.h"
#include "core/units.h"
#include "runtime/health.h"

namespace hangar::cli {
namespace {

std::string When(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm = {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string Num(double v, const char* format = "%.1f") {
  if (v <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string Mem(uint64_t b) { return b ? FormatBytesDecimal(b) : "-"; }

nlohmann::json ToJson(const runtime::CurrentModel& c) {
  return {
      {"model", c.model}, {"backend", c.backend}, {"since", c.since}, {"since_utc", When(c.since)}};
}

void RunUse(Context& ctx, const std::string& model, const std::string& backend) {
  if (model.empty()) {
    auto c = ctx.app().runs().Current();
    if (!c.ok()) return ctx.Fail(c.status());
    if (ctx.json) return ctx.PrintJson(*c ? ToJson(**c) : nlohmann::json(nullptr));
    if (!*c) return ctx.Print("No current model (hangar use MODEL chooses one).\n");
    return ctx.Print("Current model: " + (*c)->model + " (" + (*c)->backend + "), since " +
                     When((*c)->since) + "\n");
  }
  auto c = ctx.app().runs().Use(model, backend);
  if (!c.ok()) return ctx.Fail(c.status());
  if (ctx.json) return ctx.PrintJson(ToJson(*c));
  ctx.Print("Now using " + c->model + " (" + c->backend + "), since " + When(c->since) +
            ". 'hangar run' without a model starts with it.\n");
}

void RunStats(Context& ctx, const std::string& model) {
  auto r = ctx.app().usage().Stats(model);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& s : *r) arr.push_back(runtime::ToJson(s));
    return ctx.PrintJson(arr);
  }
  if (r->empty()) return ctx.Print("No statistics yet: they are kept from the first hangar run.\n");
  Table t({"MODEL", "BACKEND", "USES", "OK", "FAILED", "AVG MS", "MIN MS", "MAX MS", "PROMPT T/S",
           "GEN T/S", "TTFT MS", "BENCH T/S", "PEAK MEM", "LAST USED"},
          {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kRight, Table::Align::kRight,
           Table::Align::kRight, Table::Align::kRight, Table::Align::kRight, Table::Align::kRight,
           Table::Align::kRight, Table::Align::kRight, Table::Align::kRight, Table::Align::kRight,
           Table::Align::kRight});
  for (const auto& s : *r) {
    t.AddRow({s.model, s.backend, std::to_string(s.uses), std::to_string(s.successes),
              std::to_string(s.failures), Num(s.infer_ms_avg, "%.0f"), Num(s.infer_ms_min, "%.0f"),
              Num(s.infer_ms_max, "%.0f"), Num(s.prompt_tokens_per_second),
              Num(s.gen_tokens_per_second), Num(s.ttft_ms_avg, "%.0f"),
              Num(s.baseline_gen_tokens_per_second.value_or(0)), Mem(s.peak_rss),
              When(s.last_used)});
  }
  ctx.Print(t.Render(ctx.style));
}

void RunPs(Context& ctx) {
  auto r = ctx.app().usage().Processes();
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& p : *r) {
      nlohmann::json j = runtime::ToJson(p.entry);
      j["rss_bytes"] = p.rss;
      arr.push_back(std::move(j));
    }
    return ctx.PrintJson(arr);
  }
  if (r->empty()) return ctx.Print("No model is loaded by a running hangar process.\n");
  Table t({"PID", "MODEL", "BACKEND", "COMMAND", "RAM", "GPU", "RSS", "CONTEXT", "LOADED",
           "IDLE UNTIL"},
          {Table::Align::kRight, Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft,
           Table::Align::kRight, Table::Align::kRight, Table::Align::kRight, Table::Align::kRight});
  for (const auto& p : *r) {
    const runtime::ProcessEntry& e = p.entry;
    t.AddRow({std::to_string(e.pid), e.model, e.backend, e.command, Mem(e.host_bytes),
              Mem(e.gpu_bytes), Mem(p.rss), std::to_string(e.n_ctx), When(e.loaded_at),
              e.idle_until ? When(e.idle_until) : "never"});
  }
  ctx.Print(t.Render(ctx.style));
}

void RunDoctor(Context& ctx) {
  auto r = ctx.app().usage().Doctor();
  if (!r.ok()) return ctx.Fail(r.status());
  const runtime::Health overall = runtime::Overall(*r);
  if (overall == runtime::Health::kFail) ctx.exit_code = kExitFailure;
  if (ctx.json) return ctx.PrintJson(runtime::ToJson(*r));
  Table t({"", "CHECK", "DETAIL"});
  for (const auto& c : *r) {
    std::string mark = c.health == runtime::Health::kOk     ? ctx.style.Green("ok")
                       : c.health == runtime::Health::kWarn ? ctx.style.Yellow("warn")
                                                            : ctx.style.Red("fail");
    t.AddRow({mark, c.name, c.detail});
  }
  ctx.Print(t.Render(ctx.style));
  ctx.Print(overall == runtime::Health::kOk ? "Everything looks healthy.\n"
                                            : "Some checks need attention (see above).\n");
}

}  // namespace

void AddUse(CLI::App& sub, Context& ctx) {
  auto model = std::make_shared<std::string>();
  auto backend = std::make_shared<std::string>();
  sub.add_option("MODEL", *model, "The model to use from now on (none: show the current one)");
  sub.add_option("--backend", *backend, "llama (default), ollama or openai");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, model, backend] { RunUse(ctx, *model, *backend); });
}

void AddStats(CLI::App& sub, Context& ctx) {
  auto model = std::make_shared<std::string>();
  sub.add_option("MODEL", *model, "One model (default: every model used)");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, model] { RunStats(ctx, *model); });
}

void AddPs(CLI::App& sub, Context& ctx) {
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx] { RunPs(ctx); });
}

void AddDoctor(CLI::App& sub, Context& ctx) {
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx] { RunDoctor(ctx); });
}

}  // namespace hangar::cli
