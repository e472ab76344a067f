// hangar pull | outdated | update
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include "app/app.h"
#include "cli/command.h"
#include "core/units.h"
#include "fetch/pull_status.h"

namespace hangar::cli {
namespace {

// Ctrl-C: the download stops at the next poll and keeps its partial file.
std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) { g_interrupted.store(true); }

struct PullFlags {
  std::vector<std::string> refs;
  std::string quant, revision, sha256, max_speed, registry;
  int connections = 0;
  bool force = false;
  bool offline = false;
  bool no_fit_check = false;
  bool convert = false;
};

std::string Eta(std::optional<int64_t> s) {
  if (!s) return "";
  if (*s >= 3600) return std::to_string(*s / 3600) + "h" + std::to_string(*s % 3600 / 60) + "m";
  if (*s >= 60) return std::to_string(*s / 60) + "m" + std::to_string(*s % 60) + "s";
  return std::to_string(*s) + "s";
}

// Renders download progress: NDJSON (--json), a redrawn line on a terminal,
// or one line per phase otherwise.
class ProgressView {
 public:
  ProgressView(Context& ctx, bool tty) : ctx_(ctx), tty_(tty) {}

  void Status(const std::string& line) {
    if (ctx_.json) {
      Emit({line, "", 0, 0, ""});
    } else {
      EndLine();
      *ctx_.err << line << "\n";
    }
  }
  void Progress(const DownloadProgress& p) {
    if (ctx_.json) {
      PullStatus s = ToPullStatus(p);
      if (p.phase == DownloadProgress::Phase::kVerifying) verified_ = true;
      if (s.status == "success") {
        // The digest is checked as the bytes arrive; say so once per file,
        // as Ollama's stream does, then the whole pull's success comes last.
        if (!verified_) Emit({"verifying sha256 digest", s.digest, 0, 0, ""});
        verified_ = false;
        return;
      }
      Emit(s);
      return;
    }
    using Phase = DownloadProgress::Phase;
    if (tty_ && (p.phase == Phase::kDownloading || p.phase == Phase::kConnecting)) {
      const double pct =
          p.total > 0 ? 100.0 * static_cast<double>(p.completed) / static_cast<double>(p.total) : 0;
      char line[256];
      std::snprintf(line, sizeof line, "\r\033[Kpulling %s  %5.1f%%  %s / %s  %s/s  %s  (%d conn)",
                    p.name.c_str(), pct, FormatBytesDecimal(p.completed).c_str(),
                    p.total ? FormatBytesDecimal(p.total).c_str() : "?",
                    FormatBytesDecimal(static_cast<uint64_t>(p.bytes_per_second)).c_str(),
                    p.eta_seconds ? ("ETA " + Eta(p.eta_seconds)).c_str() : "", p.connections);
      *ctx_.err << line << std::flush;
      open_line_ = true;
      return;
    }
    if (p.phase == last_phase_ && p.phase != Phase::kRetrying) return;
    last_phase_ = p.phase;
    EndLine();
    switch (p.phase) {
      case Phase::kWaiting:
        *ctx_.err << "waiting: another download of " << p.name << " is running\n";
        break;
      case Phase::kConnecting:
      case Phase::kDownloading:
        *ctx_.err << "pulling " << p.name << " ("
                  << (p.total ? FormatBytesDecimal(p.total) : std::string("size unknown"))
                  << (p.completed ? ", " + FormatBytesDecimal(p.completed) + " kept from before"
                                  : "")
                  << ")\n";
        break;
      case Phase::kRetrying:
        *ctx_.err << "retrying " << p.name << ": " << p.detail << "\n";
        break;
      case Phase::kVerifying:
        *ctx_.err << "verifying sha256 of " << p.name << "\n";
        break;
      case Phase::kDone:
        *ctx_.err << "verified " << p.name << " (" << FormatBytesDecimal(p.total) << ")\n";
        break;
    }
  }
  void EndLine() {
    if (open_line_) *ctx_.err << "\n";
    open_line_ = false;
  }

 private:
  void Emit(const PullStatus& s) { *ctx_.out << PullStatusJson(s) << "\n" << std::flush; }

  Context& ctx_;
  bool tty_;
  bool open_line_ = false;
  bool verified_ = false;
  std::optional<DownloadProgress::Phase> last_phase_;
};

nlohmann::json ReportJson(const app::PullReport& r) {
  nlohmann::json j = store::ExportJson({r.model})["models"][0];
  j["status"] = "success";
  j["already_present"] = r.already_present;
  uint64_t resumed = 0, fetched = 0;
  int64_t verify_ms = 0;
  for (const fetch::PullFile& f : r.plan.files) {
    resumed += f.resumed_bytes;
    fetched += f.fetched_bytes;
    verify_ms = std::max(verify_ms, f.verify_ms);
  }
  j["verify_ms"] = verify_ms;
  j["resumed_bytes"] = resumed;
  j["fetched_bytes"] = fetched;
  j["fit"] = r.fit ? fit::ToJson(*r.fit) : nlohmann::json();
  if (!r.fit_note.empty()) j["fit_note"] = r.fit_note;
  return j;
}

// `pull --convert`: the pulled checkpoint converted (and quantized with
// --quant) into a GGUF llama.cpp runs; false when that failed (reported).
bool ConvertPulled(Context& ctx, const app::PullReport& pulled, const PullFlags& f,
                   ProgressView& view) {
  const store::InstalledModel& m = pulled.model;
  if (m.format != "safetensors") {
    ctx.Fail(InvalidArgumentError(m.name + " is " + m.format +
                                  ", not a safetensors checkpoint: --convert has "
                                  "nothing to do (it was pulled)"));
    return false;
  }
  if (ctx.json) view.Status("converting");
  app::ConvertQuery q;
  q.source = m.id;
  q.type = f.quant.empty() ? "auto" : f.quant;
  const bool tty = !ctx.json && ::isatty(STDERR_FILENO) == 1;
  Result<app::ConvertReport> r =
      ctx.app().convert().Convert(q, [&](std::string_view stage, uint64_t done, uint64_t total) {
        if (g_interrupted.load())
          return CancelledError(
              "interrupted; the checkpoint stays, convert it with `hangar convert " + m.id + "`");
        if (tty)
          *ctx.err << "\r\033[K" << stage << " " << done * 100 / std::max<uint64_t>(total, 1) << "%"
                   << std::flush;
        return Status::Ok();
      });
  if (tty) *ctx.err << "\r\033[K";
  if (!r.ok()) {
    ctx.Fail(r.status());
    return false;
  }
  if (ctx.json) {
    nlohmann::json j = ReportJson(pulled);
    j["converted"] = store::ExportJson({r->model})["models"][0];
    j["converted"]["model"] = app::EntryIdOf(r->model);
    j["converted"]["seconds"] = r->seconds;
    if (!r->quantized.empty()) j["converted"]["quantized"] = r->quantized;
    *ctx.out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return true;
  }
  ctx.Print("Pulled " + m.name + " (" + FormatBytesDecimal(m.size_bytes) +
            ") and converted it to " + app::EntryIdOf(r->model) + " (" +
            (r->quantized.empty() ? r->plan.file_type : r->quantized) + ", " +
            FormatBytesDecimal(r->model.size_bytes) + ") in " + fmt::format("{:.1f}", r->seconds) +
            " s\n  run it: hangar run " + app::EntryIdOf(r->model) + "\n");
  return true;
}

// One pull; false when it failed (reported already).
bool PullOne(Context& ctx, const std::string& ref, const PullFlags& f, ProgressView& view) {
  app::PullQuery q;
  q.ref = ref;
  // With --convert, --quant is the conversion's type, not a file to pick.
  q.options.quant = f.convert ? "" : f.quant;
  q.options.revision = f.revision;
  q.options.sha256 = f.sha256;
  q.options.offline = f.offline;
  q.options.cancelled = [] { return g_interrupted.load(); };
  q.force = f.force;
  q.skip_fit_check = f.no_fit_check;
  q.hf_endpoint = f.registry;
  q.ollama_registry = f.registry;
  if (f.connections > 0) {
    q.connections = f.connections;
    q.options.download.connections = f.connections;
  }
  if (!f.max_speed.empty()) {
    auto rate = ParseRate(f.max_speed);
    if (!rate.ok()) {
      ctx.UsageError("--max-speed: " + rate.status().message());
      return false;
    }
    q.options.download.max_bytes_per_second = *rate;
  }
  app::PullCallbacks cb;
  cb.status = [&](const std::string& line) { view.Status(line); };
  cb.progress = [&](size_t, const DownloadProgress& p) { view.Progress(p); };
  if (ctx.json) view.Status("pulling manifest");
  Result<app::PullReport> r = ctx.app().pulls().Pull(q, cb);
  view.EndLine();
  if (!r.ok()) {
    Status s = r.status();
    if (s.code() == StatusCode::kCancelled) {
      s = CancelledError("interrupted; what was downloaded is kept: run `hangar pull " + ref +
                         "` again to resume");
    }
    if (ctx.json) {
      *ctx.out << nlohmann::json({{"error", s.message()}})
                      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
               << "\n";
      ctx.exit_code = kExitFailure;
      *ctx.err << "hangar: error: " << s.message() << "\n";
    } else {
      ctx.Fail(s);
    }
    return false;
  }
  if (f.convert) return ConvertPulled(ctx, *r, f, view);
  if (ctx.json) {
    view.Status("writing manifest");
    *ctx.out << ReportJson(*r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
             << "\n";
    return true;
  }
  const store::InstalledModel& m = r->model;
  std::string line = (r->already_present ? "Already on this machine: " : "Pulled ") + m.name +
                     " (" + FormatBytesDecimal(m.size_bytes) + ", sha256 " +
                     (m.digest.empty() ? "-" : m.digest.substr(0, 12)) + ")";
  if (!r->replaced_revision.empty() && r->replaced_revision != m.revision) {
    line += ", updated from " + r->replaced_revision.substr(0, 12);
  }
  ctx.Print(line + "\n  " + m.primary_path.string() + "\n");
  if (r->fit) ctx.Print("  fits: " + r->fit->reason + "\n");
  if (!r->fit_note.empty()) ctx.Print("  " + r->fit_note + "\n");
  if (m.format == "gguf") ctx.Print("  run it: hangar run " + app::EntryIdOf(m) + "\n");
  return true;
}

void RunPull(Context& ctx, const PullFlags& f) {
  g_interrupted = false;
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  ProgressView view(ctx, ::isatty(STDERR_FILENO) == 1);
  for (const std::string& ref : f.refs) {
    if (!PullOne(ctx, ref, f, view) || g_interrupted) break;
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

void RunOutdated(Context& ctx) {
  auto checks = ctx.app().pulls().Outdated();
  if (!checks.ok()) return ctx.Fail(checks.status());
  if (ctx.json) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& c : *checks) a.push_back(app::ToJson(c));
    return ctx.PrintJson(a);
  }
  Table t({"ID", "INSTALLED", "LATEST", "STATUS"});
  size_t outdated = 0;
  for (const auto& c : *checks) {
    outdated += c.outdated ? 1 : 0;
    t.AddRow({c.name, c.installed_revision.substr(0, 12),
              c.latest_revision.empty() ? "-" : c.latest_revision.substr(0, 12),
              c.outdated       ? ctx.style.Yellow("update available (" +
                                                  FormatBytesDecimal(c.download_bytes) + ")")
              : c.note.empty() ? "up to date"
                               : c.note});
  }
  if (t.rows() > 0) ctx.Print(t.Render(ctx.style));
  ctx.Print(std::to_string(outdated) + " of " + std::to_string(checks->size()) +
            " models can be updated" + (outdated ? ": `hangar update --all`" : "") + "\n");
}

struct UpdateFlags {
  std::string id;
  bool all = false;
};

void RunUpdate(Context& ctx, const UpdateFlags& f) {
  if (f.id.empty() && !f.all) return ctx.UsageError("update needs an ID or --all");
  auto checks = ctx.app().pulls().Outdated(f.id);
  if (!checks.ok()) return ctx.Fail(checks.status());
  g_interrupted = false;
  std::signal(SIGINT, OnInterrupt);
  ProgressView view(ctx, ::isatty(STDERR_FILENO) == 1);
  size_t updated = 0;
  for (const auto& c : *checks) {
    if (!c.outdated) continue;
    PullFlags pf;
    if (!PullOne(ctx, c.id, pf, view)) break;
    ++updated;
  }
  std::signal(SIGINT, SIG_DFL);
  if (!ctx.json && ctx.exit_code == kExitOk) {
    ctx.Print(updated == 0 ? "Everything is up to date.\n"
                           : "Updated " + std::to_string(updated) + " model(s).\n");
  }
}

}  // namespace

void AddPull(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<PullFlags>();
  sub.add_option("REF", f->refs,
                 "Catalog id, ORG/REPO[:QUANT], hf://ORG/REPO/FILE[@REV], ollama://NAME:TAG, "
                 "https://... URL")
      ->required();
  sub.add_option("--quant", f->quant, "Quantization tag to pick in a repository (Q4_K_M, Q8_0)");
  sub.add_option("--revision", f->revision, "Branch, tag or commit (default main)");
  sub.add_option("--connections", f->connections, "Parallel connections per file (default 8)")
      ->check(CLI::Range(1, kMaxDownloadConnections));
  sub.add_option("--max-speed", f->max_speed, "Cap for all connections together (50MB/s)");
  sub.add_option("--sha256", f->sha256, "Expected SHA-256 of the file (URL pulls)");
  sub.add_option("--registry", f->registry,
                 "Pull from this hub/registry instead, e.g. a `hangar serve --mirror` on the LAN: "
                 "http://HOST:PORT (HF_ENDPOINT and OLLAMA_REGISTRY for this pull; its API key in "
                 "HF_TOKEN)");
  sub.add_flag("--force", f->force, "Pull even if the model does not fit this machine");
  sub.add_flag("--offline", f->offline, "Use only what is cached (also HF_HUB_OFFLINE=1)");
  sub.add_flag("--no-fit-check", f->no_fit_check, "Do not read the remote header first");
  sub.add_flag("--convert", f->convert,
               "Convert a safetensors checkpoint into a GGUF llama.cpp runs (--quant: quantize it "
               "too, e.g. Q4_K_M)");
  sub.add_flag("--json", ctx.json,
               "NDJSON progress events shaped like Ollama's pull status, then the model");
  sub.callback([&ctx, f] { RunPull(ctx, *f); });
}

void AddOutdated(CLI::App& sub, Context& ctx) {
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx] { RunOutdated(ctx); });
}

void AddUpdate(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<UpdateFlags>();
  auto* id = sub.add_option("ID", f->id, "The installed model to update");
  sub.add_flag("--all", f->all, "Every installed model with an update")->excludes(id);
  sub.add_flag("--json", ctx.json, "NDJSON progress events, then each model");
  sub.callback([&ctx, f] { RunUpdate(ctx, *f); });
}

}  // namespace hangar::cli
