// hangar fit | hangar recommend
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "checkpoint/hf_checkpoint.h"
#include "cli/command.h"
#include "core/units.h"
#include "fit/memory.h"

namespace hangar::cli {
namespace {

struct FitFlags {
  std::string ref;
  uint32_t ctx = 0;
  std::string kv_type;
  std::string ngl = "auto";
  std::string fa = "auto";
  uint32_t parallel = 1;
  uint32_t batch = 2048;
  uint32_t ubatch = 512;
  bool no_probe = false;
};

std::string Mem(uint64_t b) { return b ? FormatBytesDecimal(b) : "-"; }

std::string BreakdownTable(const fit::MemoryBreakdown& m, const TermStyle& style) {
  Table t({"DEVICE", "WEIGHTS", "KV CACHE", "COMPUTE", "OUTPUT", "OTHER", "TOTAL"},
          {Table::Align::kLeft, Table::Align::kRight, Table::Align::kRight, Table::Align::kRight,
           Table::Align::kRight, Table::Align::kRight, Table::Align::kRight});
  for (const auto& d : m.devices) {
    t.AddRow({d.device, Mem(d.weights), Mem(d.kv_cache), Mem(d.compute), Mem(d.output),
              Mem(d.other), Mem(d.Total())});
  }
  return t.Render(style);
}

// A Hugging Face checkpoint: what each quantization it converts to would
// take here, before converting (or downloading) anything.
void PrintCheckpointFit(Context& ctx, const app::CheckpointFitReport* r) {
  bool any = false;
  if (ctx.json) {
    nlohmann::json quants = nlohmann::json::array();
    for (const app::CheckpointFit& q : r->quants) {
      any = any || q.requested.fits;
      quants.push_back({{"quant", q.quant},
                        {"file_bytes", q.file_bytes},
                        {"requested", fit::ToJson(q.requested)},
                        {"largest_context", fit::ToJson(q.largest)}});
    }
    ctx.PrintJson({{"model", r->model},
                   {"architecture", r->architecture},
                   {"parameters", r->parameters},
                   {"estimate", true},
                   {"quants", quants}});
  } else {
    ctx.Print(r->model + " (" + r->architecture + ", " + std::to_string(r->parameters) +
              " parameters), once converted; sizes are estimates from the parameters:\n");
    Table t({"QUANT", "FILE", "RAM", "VRAM", "AT CTX", "LARGEST CTX", "VERDICT"},
            {Table::Align::kLeft, Table::Align::kRight, Table::Align::kRight, Table::Align::kRight,
             Table::Align::kRight, Table::Align::kRight});
    for (const app::CheckpointFit& q : r->quants) {
      any = any || q.requested.fits;
      t.AddRow({q.quant, Mem(q.file_bytes), Mem(q.requested.memory.HostTotal()),
                Mem(q.requested.memory.GpuTotal()), std::to_string(q.requested.request.n_ctx),
                q.largest.fits ? std::to_string(q.largest.request.n_ctx) : "-",
                q.requested.fits ? ctx.style.Green("fits") : ctx.style.Red("does not fit")});
    }
    ctx.Print(t.Render(ctx.style));
  }
  if (!any) ctx.exit_code = kExitFailure;
}

void RunFit(Context& ctx, const FitFlags& f) {
  app::FitQuery q;
  q.ref = f.ref;
  q.request.n_ctx = f.ctx;
  q.request.n_seq = f.parallel;
  q.request.n_batch = f.batch;
  q.request.n_ubatch = f.ubatch;
  if (!f.kv_type.empty()) {
    q.request.type_k.name = f.kv_type;
    q.request.type_v.name = f.kv_type;
  }
  auto fa = fit::ParseFlashAttention(f.fa);
  if (!fa.ok()) return ctx.UsageError("--fa: " + fa.status().message());
  q.request.flash_attn = *fa;
  if (f.ngl == "auto") {
    q.auto_gpu_layers = true;
  } else {
    try {
      q.request.n_gpu_layers = std::stoi(f.ngl);
    } catch (...) {
      return ctx.UsageError("--ngl: expected a number of layers, -1 (all) or auto, got " + f.ngl);
    }
    q.auto_gpu_layers = false;
  }
  q.probe = !f.no_probe;
  if (checkpoint::LooksLikeCheckpoint(f.ref)) {
    auto c = ctx.app().fit().FitCheckpoint(f.ref, q.request);
    if (!c.ok()) return ctx.Fail(c.status());
    return PrintCheckpointFit(ctx, &*c);
  }
  auto r = ctx.app().fit().Fit(q);
  if (!r.ok()) return ctx.Fail(r.status());
  if (r->checkpoint) return PrintCheckpointFit(ctx, &*r->checkpoint);
  const bool split_fits = r->split && r->split->fit.fits;
  if (ctx.json) {
    nlohmann::json out = {
        {"model", r->model},
        {"file", r->file.empty() ? nlohmann::json(nullptr) : nlohmann::json(r->file.string())},
        {"requested", fit::ToJson(r->requested)},
        {"largest_context", fit::ToJson(r->largest)}};
    if (r->split) out["cluster"] = app::ToJson(*r->split);
    if (!r->split_note.empty()) out["cluster_note"] = r->split_note;
    ctx.PrintJson(out);
  } else {
    const fit::FitPlan& p = r->requested;
    std::string source = r->file.empty() ? "catalog facts (estimate)" : r->file.string();
    ctx.Print(RenderKeyValues(
        {{"Model", r->model},
         {"From", source},
         {"Method", p.memory.method + (p.probe_note.empty() ? "" : " (" + p.probe_note + ")")},
         {"Context", std::to_string(p.request.n_ctx) + " tokens, " +
                         std::to_string(p.request.n_seq) + " sequence(s)"},
         {"KV cache", p.request.type_k.name + "/" + p.request.type_v.name},
         {"Flash attention", p.memory.flash_attn ? "on" : "off"},
         {"GPU layers", std::to_string(p.memory.n_gpu_layers)},
         {"RAM budget", Mem(p.budgets.ram) + " (" + p.budgets.ram_explanation + ")"}},
        ctx.style));
    ctx.Print("\n" + BreakdownTable(p.memory, ctx.style) + "\n");
    ctx.Print((p.fits ? ctx.style.Green("Fits: ") : ctx.style.Red("Does not fit: ")) + p.reason +
              "\n");
    if (r->largest.fits) {
      ctx.Print("Largest context that fits: " + std::to_string(r->largest.request.n_ctx) +
                " tokens with " + std::to_string(r->largest.memory.n_gpu_layers) + " GPU layers (" +
                Mem(r->largest.memory.HostTotal()) + " of RAM)\n");
    } else {
      ctx.Print("No context fits: " + r->largest.reason + "\n");
    }
    if (r->split) {
      const app::SplitPlan& sp = *r->split;
      ctx.Print(fmt::format("\nOver this machine and {} worker(s), {} layers on the workers:\n",
                            sp.workers.size(), sp.fit.memory.n_gpu_layers));
      ctx.Print(BreakdownTable(sp.fit.memory, ctx.style) + "\n");
      ctx.Print((sp.fit.fits ? ctx.style.Green("Fits across the cluster: ")
                             : ctx.style.Red("Does not fit across the cluster: ")) +
                sp.fit.reason + "\n");
      if (sp.fit.fits) {
        ctx.Print(
            fmt::format("Each load sends {} of weights to the workers.\n", Mem(sp.weights_sent)));
      }
    } else if (!r->split_note.empty()) {
      ctx.Print("Across the cluster: " + r->split_note + "\n");
    }
  }
  if (!r->requested.fits && !split_fits) ctx.exit_code = kExitFailure;
}

struct RecommendFlags {
  std::string purpose;
  std::string tag;
  uint32_t ctx = 0;
  std::string ram, vram;
  int gpus = -1;
  int cores = 0;
  bool installed = false;
  bool coding = false;
  bool gemma = false;
  size_t limit = 10;
  bool rejections = false;
};

void RunRecommend(Context& ctx, const RecommendFlags& f) {
  app::RecommendQuery q;
  if (!f.purpose.empty()) {
    auto p = ParsePurpose(f.purpose);
    if (!p.ok()) return ctx.UsageError("--purpose: " + p.status().message());
    q.options.purpose = *p;
  }
  q.options.tag = f.tag;
  if (f.ctx) q.options.context = f.ctx;
  q.options.installed_only = f.installed;
  q.options.limit = f.limit;
  if (f.coding && f.gemma) return ctx.UsageError("--coding and --gemma are two rules; pick one");
  if (f.coding) q.options.policy = fit::Policy::kCoding;
  if (f.gemma) q.options.policy = fit::Policy::kGemma;
  if (!f.ram.empty()) {
    auto s = ParseSize(f.ram);
    if (!s.ok()) return ctx.UsageError("--ram: " + s.status().message());
    q.machine.ram = *s;
  }
  if (!f.vram.empty()) {
    auto s = ParseSize(f.vram);
    if (!s.ok()) return ctx.UsageError("--vram: " + s.status().message());
    q.machine.vram = *s;
  }
  if (f.gpus >= 0) q.machine.gpus = f.gpus;
  if (f.cores > 0) q.machine.cores = f.cores;
  auto r = ctx.app().fit().Recommend(q);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json) return ctx.PrintJson(fit::ToJson(*r));
  std::string gpu_budget;
  for (uint64_t b : r->gpu_budgets) gpu_budget += (gpu_budget.empty() ? "" : ", ") + Mem(b);
  ctx.Print(
      RenderKeyValues({{"Purpose", std::string(PurposeName(r->purpose))},
                       {"Tier", std::string(fit::TierName(r->tier.tier)) + ": " + r->tier.reason},
                       {"RAM budget", Mem(r->ram_budget)},
                       {"GPU budget", gpu_budget.empty() ? "no GPU" : gpu_budget},
                       {"Context", std::to_string(r->context) + " tokens"},
                       {"Profile", r->profile.profile + ": " + r->profile.reason}},
                      ctx.style));
  for (const auto& w : r->warnings) ctx.Print(ctx.style.Yellow("warning: ") + w + "\n");
  if (r->candidates.empty()) {
    ctx.Print("\nNo model fits this machine within the limits.\n");
  } else {
    Table t(
        {"#", "MODEL", "PARAMS", "QUANT", "RAM", "GPU LAYERS", "GEN TOK/S", "PROMPT TOK/S", "WHY"},
        {Table::Align::kRight, Table::Align::kLeft, Table::Align::kRight, Table::Align::kLeft,
         Table::Align::kRight, Table::Align::kRight, Table::Align::kRight, Table::Align::kRight});
    int rank = 0;
    for (const auto& c : r->candidates) {
      char gen[32], prompt[32];
      std::snprintf(gen, sizeof gen, "%.1f%s", c.speed.gen_tokens_per_second,
                    c.measured_speed ? " (measured)" : "");
      std::snprintf(prompt, sizeof prompt, "%.0f", c.speed.prompt_tokens_per_second);
      std::string layers =
          c.placement.full_offload ? "all" : std::to_string(c.placement.n_gpu_layers);
      t.AddRow({std::to_string(++rank), c.entry->id + (c.installed ? " *" : ""),
                c.entry->parameter_label, c.entry->quantization, Mem(c.placement.ram_needed),
                layers, gen, prompt, c.reasons.empty() ? "" : c.reasons.front()});
    }
    ctx.Print("\n" + t.Render(ctx.style));
    const auto& best = r->candidates.front();
    ctx.Print("\nBest: " + ctx.style.Bold(best.entry->id) + "  threads " +
              std::to_string(best.settings.threads) + ", context " +
              std::to_string(best.settings.context) + ", batch " +
              std::to_string(best.settings.n_batch) + "/" + std::to_string(best.settings.n_ubatch) +
              ", GPU layers " + std::to_string(best.settings.n_gpu_layers) + ", KV " +
              best.settings.type_k.name + ", max_tokens " +
              std::to_string(best.settings.max_tokens) + ", profile " + best.settings.profile +
              "\n");
    if (!r->candidates.empty() && r->candidates.front().installed) ctx.Print("(* installed)\n");
  }
  if (f.rejections && !r->rejections.empty()) {
    Table t({"REJECTED", "REASON"});
    for (const auto& rej : r->rejections) t.AddRow({rej.entry->id, rej.reason});
    ctx.Print("\n" + t.Render(ctx.style));
  } else if (!r->rejections.empty()) {
    ctx.Print(std::to_string(r->rejections.size()) +
              " models do not fit (--rejections lists them with the reason).\n");
  }
}

}  // namespace

void AddFit(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<FitFlags>();
  sub.add_option("MODEL", f->ref, "A GGUF file, an installed model or a catalog model")->required();
  sub.add_option("--ctx", f->ctx, "Context in tokens (default 4096, capped by the model's)");
  sub.add_option("--kv-type", f->kv_type, "KV cache type: f16, q8_0, q4_0, ...");
  sub.add_option("--ngl", f->ngl, "GPU layers: a number, -1 for all, or auto (most that fit)");
  sub.add_option("--fa", f->fa, "Flash attention: on, off or auto");
  sub.add_option("--parallel", f->parallel, "Parallel sequences");
  sub.add_option("--batch", f->batch, "Logical batch size");
  sub.add_option("--ubatch", f->ubatch, "Physical batch size");
  sub.add_flag("--no-probe", f->no_probe, "Estimate only, even when the file is local");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunFit(ctx, *f); });
}

void AddRecommend(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<RecommendFlags>();
  sub.add_option("--purpose", f->purpose, "speed, balanced or quality");
  sub.add_option("--tag", f->tag, "Only models with this tag (coding, chat, ...)");
  sub.add_option("--ctx", f->ctx, "Context the model must hold, in tokens (default 4096)");
  sub.add_option("--ram", f->ram, "Describe another machine: its RAM (16GB)");
  sub.add_option("--vram", f->vram, "... the memory of each of its GPUs (8GB; 0: no GPU)");
  sub.add_option("--gpus", f->gpus, "... its number of GPUs (0 for none)");
  sub.add_option("--cores", f->cores, "... its number of physical cores");
  sub.add_flag("--installed", f->installed, "Only models already on this machine");
  sub.add_flag("--coding", f->coding, "The coding rule: Qwen2.5-Coder by RAM, 2 GB for the OS");
  sub.add_flag("--gemma", f->gemma,
               "The Gemma rule: by RAM, <4 GB smallest, 4-8 GB 2B, 8-16 GB 4B, 16+ GB 9B+");
  sub.add_option("--limit", f->limit, "How many candidates to show (0 for all)");
  sub.add_flag("--rejections", f->rejections, "List the models that do not fit, with the reason");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunRecommend(ctx, *f); });
}

}  // namespace hangar::cli
