// hangar discover | import | quantize | convert | share | rm | cache [prune] | export
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <string>

#include "app/app.h"
#include "app/state.h"
#include "cli/command.h"
#include "core/file_util.h"
#include "core/units.h"

namespace hangar::cli {
namespace {

std::string Ago(int64_t when, int64_t now) {
  if (when == 0) return "never";
  const int64_t s = now - when;
  if (s < 60) return "just now";
  if (s < 3600) return std::to_string(s / 60) + " min ago";
  if (s < 86400) return std::to_string(s / 3600) + " h ago";
  return std::to_string(s / 86400) + " days ago";
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

nlohmann::json ModelJson(const store::InstalledModel& m) {
  return store::ExportJson({m})["models"][0];
}

void RunDiscover(Context& ctx) {
  auto r = ctx.app().store().Discover();
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json) return ctx.PrintJson(app::ToJson(*r));
  if (r->report.models.empty()) {
    ctx.Print(
        "No GGUF models found in the Hugging Face cache, Ollama, LM Studio, llama.cpp, "
        "GPT4All or the [store] folders of config.toml.\n");
  } else {
    Table t({"ID", "SOURCE", "SIZE", "STATUS"},
            {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kRight});
    for (const store::InstalledModel& m : r->report.models) {
      const bool added = std::find(r->added.begin(), r->added.end(), m.id) != r->added.end();
      t.AddRow({app::EntryIdOf(m), m.source, FormatBytesDecimal(m.size_bytes),
                added ? ctx.style.Green("registered") : "already known"});
    }
    ctx.Print(t.Render(ctx.style));
  }
  for (const store::DiscoverySkip& s : r->report.skipped) {
    *ctx.err << "hangar: skipped " << s.path.string() << ": " << s.reason << "\n";
  }
  ctx.Print(std::to_string(r->added.size()) + " new, " + std::to_string(r->unchanged.size()) +
            " already known; files stay where they are.\n");
}

struct ImportFlags {
  std::string path;
  bool link = false, copy = false, move = false;
};

void RunImport(Context& ctx, const ImportFlags& f) {
  app::ImportMode mode = app::ImportMode::kLink;
  if (f.copy) mode = app::ImportMode::kCopy;
  if (f.move) mode = app::ImportMode::kMove;
  auto m = ctx.app().store().Import(f.path, mode);
  if (!m.ok()) return ctx.Fail(m.status());
  if (ctx.json) return ctx.PrintJson(ModelJson(*m));
  ctx.Print("Imported " + app::EntryIdOf(*m) + " (" + FormatBytesDecimal(m->size_bytes) + ", " +
            m->metadata.value("architecture", "?") + " " + m->metadata.value("quantization", "") +
            ")" +
            (mode == app::ImportMode::kLink ? ", in place" : ", into " + m->primary_path.string()) +
            "\n  run it: hangar run " + app::EntryIdOf(*m) + "\n");
}

struct ShareFlags {
  std::string ref, to, name;
};

void RunShare(Context& ctx, const ShareFlags& f) {
  auto r = ctx.app().store().Share(f.ref, f.to, f.name);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json) return ctx.PrintJson(app::ToJson(*r));
  for (const store::SharedFile& s : r->files) {
    ctx.Print(std::string(store::LinkKindName(s.link)) + "  " + s.to.string() + "\n");
  }
  if (r->tool == "ollama") {
    ctx.Print("Shared with Ollama as " + r->name + " (no copy): `ollama run " + r->name + "`\n");
  } else {
    ctx.Print("Shared with LM Studio as " + r->name + " (no copy)\n");
  }
}

struct RmFlags {
  std::vector<std::string> refs;
  bool force = false;
};

void RunRm(Context& ctx, const RmFlags& f) {
  nlohmann::json removed = nlohmann::json::array();
  for (const std::string& ref : f.refs) {
    auto r = ctx.app().store().Remove(ref, f.force);
    if (!r.ok()) return ctx.Fail(r.status());
    if (ctx.json) {
      nlohmann::json kept = nlohmann::json::array();
      for (const auto& p : r->kept) kept.push_back(p.string());
      removed.push_back({{"id", r->id}, {"freed_bytes", r->freed_bytes}, {"kept", kept}, {"notes", r->notes}});
      continue;
    }
    std::string line = "Removed " + r->id + ": freed " + FormatBytesDecimal(r->freed_bytes);
    if (!r->kept.empty()) {
      line += "; kept " + std::to_string(r->kept.size()) + " file(s) other models or tools use";
    }
    ctx.Print(line + "\n");
    for (const std::string& note : r->notes) ctx.Print("  " + note + "\n");
  }
  if (ctx.json) ctx.PrintJson({{"removed", removed}});
}

void RunCache(Context& ctx) {
  auto r = ctx.app().store().Cache();
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json) {
    nlohmann::json j = store::ToJson(r->usage, r->models);
    nlohmann::json stale = nlohmann::json::array();
    for (const auto& p : r->stale_removed) stale.push_back(p.path.string());
    j["stale_partials_removed"] = stale;
    return ctx.PrintJson(j);
  }
  Table sources(
      {"SOURCE", "MODELS", "SIZE", "HANGAR-MANAGED"},
      {Table::Align::kLeft, Table::Align::kRight, Table::Align::kRight, Table::Align::kRight});
  for (const auto& [name, s] : r->usage.sources) {
    sources.AddRow({name, std::to_string(s.models), FormatBytesDecimal(s.bytes),
                    FormatBytesDecimal(s.managed_bytes)});
  }
  if (sources.rows() > 0) ctx.Print(sources.Render(ctx.style) + "\n");
  const int64_t now = Now();
  Table models({"ID", "SOURCE", "SIZE", "LAST USED", "USES"},
               {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kRight, Table::Align::kLeft,
                Table::Align::kRight});
  for (const store::InstalledModel& m : r->models) {
    models.AddRow({app::EntryIdOf(m), m.source, FormatBytesDecimal(m.size_bytes),
                   Ago(m.last_used, now), std::to_string(m.use_count)});
  }
  if (models.rows() > 0) ctx.Print(models.Render(ctx.style) + "\n");
  uint64_t partial_bytes = 0;
  for (const auto& p : r->usage.partials) partial_bytes += p.bytes;
  uint64_t orphan_bytes = 0;
  for (const auto& p : r->usage.orphan_blobs) orphan_bytes += p.bytes;
  ctx.Print("Total " + FormatBytesDecimal(r->usage.total_bytes) + " in " +
            std::to_string(r->models.size()) + (r->models.size() == 1 ? " model" : " models") +
            "; partial downloads " + FormatBytesDecimal(partial_bytes) + " (" +
            std::to_string(r->usage.partials.size()) + "), unused blobs " +
            FormatBytesDecimal(orphan_bytes) + "; reclaimable " +
            FormatBytesDecimal(r->usage.reclaimable_bytes) + "\n");
  if (!r->stale_removed.empty()) {
    ctx.Print("Removed " + std::to_string(r->stale_removed.size()) +
              " partial download(s) older than 24 h\n");
  }
}

struct PruneFlags {
  std::string max_size;
  std::string older_than;
  bool dry_run = false;
};

void RunPrune(Context& ctx, const PruneFlags& f) {
  store::PruneOptions options;
  if (!f.max_size.empty()) {
    auto s = ParseSize(f.max_size);
    if (!s.ok()) return ctx.UsageError("--max-size: " + s.status().message());
    options.max_size = *s;
  }
  if (!f.older_than.empty()) {
    auto d = ParseDuration(f.older_than);
    if (!d.ok()) return ctx.UsageError("--older-than: " + d.status().message());
    options.older_than_s = *d;
  }
  if (!options.max_size && !options.older_than_s) {
    return ctx.UsageError("cache prune needs --max-size SIZE or --older-than AGE (30d)");
  }
  auto r = ctx.app().store().Prune(options, f.dry_run);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json) return ctx.PrintJson(store::ToJson(r->plan, f.dry_run));
  const int64_t now = Now();
  for (const store::InstalledModel& m : r->plan.remove) {
    ctx.Print(std::string(f.dry_run ? "would remove " : "removed ") + app::EntryIdOf(m) + " (" +
              FormatBytesDecimal(m.size_bytes) + ", last used " + Ago(m.last_used, now) + ")\n");
  }
  for (const std::string& note : r->plan.notes) ctx.Print("note: " + note + "\n");
  ctx.Print(std::string(f.dry_run ? "Would free " : "Freed ") +
            FormatBytesDecimal(r->plan.freed_bytes) + ": " +
            FormatBytesDecimal(r->plan.total_before) + " -> " +
            FormatBytesDecimal(r->plan.total_after) + "\n");
}

void RunExport(Context& ctx, const std::string& file) {
  auto doc = app::ExportState(ctx.app());
  if (!doc.ok()) return ctx.Fail(doc.status());
  if (file.empty() || file == "-") return ctx.PrintJson(*doc);
  Status s = WriteFileAtomic(
      file, doc->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  if (!s.ok()) return ctx.Fail(s);
  if (ctx.json) return ctx.PrintJson({{"written", file}, {"models", (*doc)["models"].size()}});
  ctx.Print("Wrote " + std::to_string((*doc)["models"].size()) + " models to " + file + "\n");
}

struct QuantizeFlags {
  std::string ref, type, out;
  int threads = 0;
  bool allow_requantize = false;
};

void RunQuantize(Context& ctx, const QuantizeFlags& f) {
  app::QuantizeQuery q;
  q.ref = f.ref;
  q.type = f.type;
  q.out = f.out;
  q.threads = f.threads;
  q.allow_requantize = f.allow_requantize;
  const bool tty = !ctx.json && ::isatty(STDERR_FILENO) == 1;
  auto r = ctx.app().quantize().Quantize(q, [&](uint32_t done, uint32_t total) {
    if (tty) *ctx.err << "\rquantizing " << done << "/" << total << " tensors" << std::flush;
  });
  if (tty) *ctx.err << "\r\033[K";
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json) {
    nlohmann::json j = ModelJson(r->model);
    j["source"] = r->source_id;
    j["source_bytes"] = r->source_bytes;
    j["seconds"] = r->seconds;
    return ctx.PrintJson(j);
  }
  ctx.Print("Quantized " + r->source_id + " (" + FormatBytesDecimal(r->source_bytes) + ") to " +
            app::EntryIdOf(r->model) + " (" + FormatBytesDecimal(r->model.size_bytes) + ") in " +
            std::to_string(static_cast<int>(r->seconds + 0.5)) + " s\n  run it: hangar run " +
            app::EntryIdOf(r->model) + "\n");
}


std::atomic<bool> g_convert_interrupted{false};
void OnConvertInterrupt(int) { g_convert_interrupted.store(true); }

struct ConvertFlags {
  std::string source, type = "auto", out, name;
  int threads = 0;
  bool dry_run = false;
};

nlohmann::json PlanJson(const checkpoint::ConvertPlan& p) {
  return {{"architecture", p.architecture}, {"file_type", p.file_type}, {"tokenizer", p.tokenizer},
          {"pre_tokenizer", p.pre_tokenizer}, {"tokens", p.tokens}, {"tensors", p.tensors},
          {"parameters", p.parameters}, {"output_bytes", p.output_bytes}};
}

void RunConvert(Context& ctx, const ConvertFlags& f) {
  app::ConvertQuery q;
  q.source = f.source;
  q.type = f.type;
  q.out = f.out;
  q.name = f.name;
  q.threads = f.threads;
  if (f.dry_run) {
    auto plan = ctx.app().convert().Plan(q);
    if (!plan.ok()) return ctx.Fail(plan.status());
    if (ctx.json) return ctx.PrintJson(PlanJson(*plan));
    ctx.Print(fmt::format("{}: {} ({} parameters, {} tensors), {} tokenizer ({} tokens, pre-tokenizer {}); "
                          "the {} GGUF holds {} of tensors\n",
                          f.source, plan->architecture, plan->parameters, plan->tensors, plan->tokenizer,
                          plan->tokens, plan->pre_tokenizer, plan->file_type, FormatBytesDecimal(plan->output_bytes)));
    return;
  }
  const bool tty = !ctx.json && ::isatty(STDERR_FILENO) == 1;
  // Ctrl-C or SIGTERM stops the conversion cleanly: no partial file stays.
  g_convert_interrupted = false;
  std::signal(SIGINT, OnConvertInterrupt);
  std::signal(SIGTERM, OnConvertInterrupt);
  auto r = ctx.app().convert().Convert(q, [&](std::string_view stage, uint64_t done, uint64_t total) {
    if (g_convert_interrupted.load()) return CancelledError("interrupted; nothing was written");
    if (!tty) return Status::Ok();
    if (stage == "converting") {
      *ctx.err << "\rconverting " << FormatBytesDecimal(done) << " / " << FormatBytesDecimal(total) << std::flush;
    } else {
      *ctx.err << "\r\033[Kquantizing " << done << "/" << total << " tensors" << std::flush;
    }
    return Status::Ok();
  });
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (tty) *ctx.err << "\r\033[K";
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json) {
    nlohmann::json j = ModelJson(r->model);
    j["model"] = app::EntryIdOf(r->model);
    if (!r->model.files.empty()) j["path"] = r->model.files.front().blob.string();
    j["source"] = r->source.string();
    if (!r->checkpoint_id.empty()) j["checkpoint"] = r->checkpoint_id;
    j["source_bytes"] = r->source_bytes;
    j["conversion"] = PlanJson(r->plan);
    if (!r->quantized.empty()) j["quantized"] = r->quantized;
    j["seconds"] = r->seconds;
    return ctx.PrintJson(j);
  }
  ctx.Print("Converted " + r->source.string() + " (" + r->plan.architecture + ", " +
            FormatBytesDecimal(r->source_bytes) + ") to " + app::EntryIdOf(r->model) + " (" +
            (r->quantized.empty() ? r->plan.file_type : r->quantized) + ", " +
            FormatBytesDecimal(r->model.size_bytes) + ") in " + fmt::format("{:.1f}", r->seconds) +
            " s\n  run it: hangar run " + app::EntryIdOf(r->model) + "\n");
}

}  // namespace

void AddQuantize(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<QuantizeFlags>();
  sub.add_option("MODEL", f->ref, "An installed or local GGUF model (F16, BF16 or F32)")->required();
  sub.add_option("TYPE", f->type, "Q8_0, Q6_K, Q5_K_M, Q5_K_S, Q4_K_M, Q4_K_S, Q4_0, Q3_K_M, Q2_K, IQ4_XS, ...")
      ->required();
  sub.add_option("--out", f->out, "Where to write it (default: Hangar's store)");
  sub.add_option("--threads", f->threads, "Threads (default: every core)")->check(CLI::Range(0, 1024));
  sub.add_flag("--allow-requantize", f->allow_requantize, "Quantize a model that is quantized already");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunQuantize(ctx, *f); });
}

void AddConvert(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<ConvertFlags>();
  sub.add_option("CHECKPOINT", f->source, "A Hugging Face checkpoint: a folder with config.json, safetensors "
                 "and tokenizer files, or one .safetensors file")->required();
  sub.add_option("--type", f->type, "auto (keep BF16/F16), f32, f16, bf16, or a quantization: q8_0, q6_k, "
                 "q5_k_m, q4_k_m, ...")->capture_default_str();
  sub.add_option("--out", f->out, "Where to write the GGUF (default: Hangar's store)");
  sub.add_option("--name", f->name, "The model's name (default: the checkpoint folder's name)");
  sub.add_option("--threads", f->threads, "Threads for a quantization (default: every core)")->check(CLI::Range(0, 1024));
  sub.add_flag("--dry-run", f->dry_run, "Only say what the conversion would write");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunConvert(ctx, *f); });
}

void AddDiscover(CLI::App& sub, Context& ctx) {
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx] { RunDiscover(ctx); });
}

void AddImport(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<ImportFlags>();
  sub.add_option("PATH", f->path, "A GGUF file (any part of a split model)")->required();
  auto* link = sub.add_flag("--link", f->link, "Register it where it is (the default)");
  auto* copy = sub.add_flag("--copy", f->copy, "Copy it into Hangar's store");
  auto* move = sub.add_flag("--move", f->move, "Move it into Hangar's store");
  link->excludes(copy)->excludes(move);
  copy->excludes(move);
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunImport(ctx, *f); });
}

void AddShare(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<ShareFlags>();
  sub.add_option("ID", f->ref, "An installed model")->required();
  sub.add_option("--to", f->to, "ollama or lmstudio")->required();
  sub.add_option("--name", f->name,
                 "Its name there (Ollama NAME[:TAG], LM Studio [PUBLISHER/]MODEL)");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunShare(ctx, *f); });
}

void AddRm(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<RmFlags>();
  sub.add_option("ID", f->refs, "Installed models to remove")->required();
  sub.add_flag("--force", f->force, "Remove the default model too");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunRm(ctx, *f); });
}

void AddCache(CLI::App& sub, Context& ctx) {
  AddJsonFlag(sub, ctx);
  auto f = std::make_shared<PruneFlags>();
  CLI::App* prune = sub.add_subcommand("prune", "Remove least recently used models");
  prune->add_option("--max-size", f->max_size, "Keep the cache at or under this size (100GB)");
  prune->add_option("--older-than", f->older_than, "Remove models unused for this long (30d)");
  prune->add_flag("--dry-run", f->dry_run, "Only say what would be removed");
  AddJsonFlag(*prune, ctx);
  prune->callback([&ctx, f] { RunPrune(ctx, *f); });
  sub.callback([&ctx, &sub] {
    if (sub.get_subcommands().empty()) RunCache(ctx);
  });
}

void AddExport(CLI::App& sub, Context& ctx) {
  auto file = std::make_shared<std::string>();
  sub.add_option("FILE", *file, "Where to write the JSON (default: standard output)");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, file] { RunExport(ctx, *file); });
}

}  // namespace hangar::cli
