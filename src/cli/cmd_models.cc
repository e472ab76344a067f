// hangar list | info | validate | default
#include <algorithm>
#include <ctime>
#include <optional>
#include <string>

#include "app/app.h"
#include "cli/command.h"
#include "core/units.h"

namespace hangar::cli {
namespace {

std::string SizeCell(const CatalogEntry& e) {
  if (e.file_size_bytes == 0) return "-";
  return (e.size_approximate ? "~" : "") + FormatBytesDecimal(e.file_size_bytes);
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

struct ListFlags {
  bool installed = false;
  bool all = false;
  std::string purpose;
  std::string tag;
  std::string max_ram;
  std::string max_vram;
};

void RunList(Context& ctx, const ListFlags& f) {
  app::ListQuery q;
  q.scope = f.all ? app::ListQuery::Scope::kAll : app::ListQuery::Scope::kInstalled;
  if (!f.purpose.empty()) {
    auto p = ParsePurpose(f.purpose);
    if (!p.ok()) return ctx.UsageError("--purpose: " + p.status().message());
    q.filter.purpose = *p;
  }
  q.filter.tag = f.tag;
  if (!f.max_ram.empty()) {
    auto s = ParseSize(f.max_ram);
    if (!s.ok()) return ctx.UsageError("--max-ram: " + s.status().message());
    q.filter.max_ram_bytes = *s;
  }
  if (!f.max_vram.empty()) {
    auto s = ParseSize(f.max_vram);
    if (!s.ok()) return ctx.UsageError("--max-vram: " + s.status().message());
    q.filter.max_vram_bytes = *s;
  }
  auto models = ctx.app().models().ListModels(q);
  if (!models.ok()) return ctx.Fail(models.status());
  if (ctx.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& m : *models) arr.push_back(app::ToJson(m));
    return ctx.PrintJson(arr);
  }
  if (models->empty()) {
    ctx.Print(q.scope == app::ListQuery::Scope::kInstalled
                  ? "No models installed. 'hangar pull ID' fetches one, 'hangar discover' finds "
                    "those other tools downloaded, 'hangar list --all' shows the catalog.\n"
                  : "No model matches.\n");
    return;
  }
  if (q.scope == app::ListQuery::Scope::kInstalled) {
    // What is on disk: where it came from, its size there, when it was used.
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    Table t({"ID", "NAME", "SOURCE", "PARAMS", "QUANT", "SIZE", "LAST USED", "STATUS"},
            {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft, Table::Align::kRight,
             Table::Align::kLeft, Table::Align::kRight, Table::Align::kLeft});
    for (const auto& m : *models) {
      const CatalogEntry& e = m.entry;
      std::string source =
          m.record ? m.record->source : std::string(app::ModelOriginName(m.origin));
      std::string size = m.record ? FormatBytesDecimal(m.record->size_bytes) : SizeCell(e);
      std::string used = "-";
      if (m.record) {
        const int64_t at = m.record->last_used;
        if (at == 0) {
          used = "never";
        } else if (now - at < 3600) {
          used = std::to_string(std::max<int64_t>(0, (now - at) / 60)) + " min ago";
        } else if (now - at < 86400) {
          used = std::to_string((now - at) / 3600) + " h ago";
        } else {
          used = std::to_string((now - at) / 86400) + " days ago";
        }
      }
      std::string status = m.is_default ? "default" : "";
      if (m.record && !m.record->managed) status += status.empty() ? "in place" : ", in place";
      if (m.record && m.record->format != "gguf") {
        // llama.cpp runs GGUF files: say what the others need.
        const std::string what = m.record->format == "safetensors" ? "checkpoint: hangar convert"
                                 : m.record->format == "onnx"      ? "ONNX: cannot run here"
                                 : m.record->format == "pytorch"   ? "PyTorch: cannot run here"
                                                                   : m.record->format + ": cannot run here";
        status += (status.empty() ? "" : ", ") + what;
      }
      t.AddRow({e.id, m.record ? m.record->name : e.name, source,
                e.parameter_label.empty() ? "-" : e.parameter_label,
                e.quantization.empty() ? "-" : e.quantization, size, used, status});
    }
    ctx.Print(t.Render(ctx.style));
    return;
  }
  Table t({"ID", "PARAMS", "QUANT", "SIZE", "MIN RAM", "CONTEXT", "PURPOSE", "STATUS"},
          {Table::Align::kLeft, Table::Align::kRight, Table::Align::kLeft, Table::Align::kRight,
           Table::Align::kRight, Table::Align::kRight});
  for (const auto& m : *models) {
    const CatalogEntry& e = m.entry;
    std::string status = m.installed ? ctx.style.Green("installed") : "";
    if (m.is_default) status += status.empty() ? "default" : ", default";
    if (m.origin != app::ModelOrigin::kBuiltin) {
      status += (status.empty() ? "" : ", ") + std::string(app::ModelOriginName(m.origin));
    }
    t.AddRow({e.id, e.parameter_label.empty() ? "-" : e.parameter_label,
              e.quantization.empty() ? "-" : e.quantization, SizeCell(e),
              e.min_ram_bytes ? FormatBytesDecimal(e.min_ram_bytes) : "-",
              e.context_length ? std::to_string(e.context_length / 1024) + "K" : "-",
              std::string(PurposeName(e.purpose)), status});
  }
  ctx.Print(t.Render(ctx.style));
}

void RunInfo(Context& ctx, const std::string& ref) {
  auto m = ctx.app().models().Info(ref);
  if (!m.ok()) return ctx.Fail(m.status());
  if (ctx.json) return ctx.PrintJson(app::ToJson(*m));
  const CatalogEntry& e = m->entry;
  std::vector<std::pair<std::string, std::string>> rows = {
      {"ID", e.id},
      {"Name", e.name},
      {"Family", e.family},
      {"Parameters", e.parameter_label.empty() ? "-" : e.parameter_label},
      {"Quantization", e.quantization.empty() ? "-" : e.quantization},
      {"Format", std::string(ModelFormatName(e.format))},
      {"File size",
       SizeCell(e) + (e.size_approximate && e.file_size_bytes ? " (approximate)" : "")},
      {"Min RAM", e.min_ram_bytes ? FormatBytesDecimal(e.min_ram_bytes) : "-"},
      {"Min VRAM", e.min_vram_bytes ? FormatBytesDecimal(e.min_vram_bytes) : "-"},
      {"Context", e.context_length ? std::to_string(e.context_length) + " tokens" : "-"},
      {"Purpose", std::string(PurposeName(e.purpose))},
      {"Quality tier", std::to_string(e.quality_tier) + " of 5"},
      {"Tags", e.tags.empty() ? "-" : Join(e.tags, ", ")},
      {"Use case", e.use_case.empty() ? "-" : e.use_case},
      {"Description", e.description.empty() ? "-" : e.description},
  };
  for (const auto& s : e.sources) {
    rows.push_back(
        {"Source",
         s.Reference() +
             (s.split_count > 1 ? " (" + std::to_string(s.split_count) + " parts)" : "")});
    if (!s.sha256.empty()) rows.push_back({"SHA-256", s.sha256});
  }
  const ModelArchitecture& a = e.arch;
  if (!a.name.empty()) {
    std::string arch = a.name + ", " + std::to_string(a.block_count) + " layers, embedding " +
                       std::to_string(a.embedding_length) + ", heads " +
                       std::to_string(a.head_count) + "/" + std::to_string(a.head_count_kv) + " kv";
    if (a.HasSlidingWindow()) arch += ", sliding window " + std::to_string(a.sliding_window);
    if (a.IsMoe()) {
      arch += ", " + std::to_string(a.expert_used_count) + " of " + std::to_string(a.expert_count) +
              " experts";
    }
    if (a.UsesMla()) arch += ", MLA rank " + std::to_string(a.kv_lora_rank);
    rows.push_back({"Architecture", arch});
  }
  rows.push_back({"Origin", std::string(app::ModelOriginName(m->origin))});
  if (!m->weights.empty()) rows.push_back({"Weights", m->weights.string()});
  if (!m->tokenizer.empty()) rows.push_back({"Tokenizer", m->tokenizer.string()});
  if (m->avg_tokens_per_sec) {
    rows.push_back({"Speed (declared)", std::to_string(*m->avg_tokens_per_sec) + " tokens/s"});
  }
  rows.push_back({"Installed", m->installed ? ctx.style.Green("yes") : "no"});
  rows.push_back({"Default", m->is_default ? "yes" : "no"});
  ctx.Print(RenderKeyValues(rows, ctx.style));
}

void RunValidate(Context& ctx, const std::string& ref) {
  auto r = ctx.app().models().Validate(ref);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json) {
    ctx.PrintJson(app::ToJson(*r));
  } else {
    Table t({"CHECK", "RESULT", "DETAIL"});
    for (const auto& c : r->checks) {
      std::string result = c.skipped ? ctx.style.Dim("skipped")
                           : c.ok    ? ctx.style.Green("ok")
                                     : ctx.style.Red("FAILED");
      t.AddRow({c.name, result, c.detail});
    }
    ctx.Print(t.Render(ctx.style));
    ctx.Print(r->ok() ? r->id + " is valid\n" : r->id + " is NOT valid\n");
  }
  if (!r->ok()) ctx.exit_code = kExitFailure;
}

void RunDefault(Context& ctx, const std::string& ref) {
  if (ref.empty()) {
    auto d = ctx.app().models().DefaultModel();
    if (!d.ok()) return ctx.Fail(d.status());
    if (ctx.json) {
      return ctx.PrintJson({{"default", *d ? nlohmann::json(**d) : nlohmann::json(nullptr)}});
    }
    ctx.Print(*d ? **d + "\n" : "No default model set. Set one with 'hangar default ID'.\n");
    return;
  }
  auto id = ctx.app().models().SetDefaultModel(ref);
  if (!id.ok()) return ctx.Fail(id.status());
  if (ctx.json) return ctx.PrintJson({{"default", *id}});
  ctx.Print("Default model is now " + *id + "\n");
}

}  // namespace

void AddList(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<ListFlags>();
  auto* installed = sub.add_flag("--installed", f->installed,
                                 "Only models whose files are on this machine (the default)");
  sub.add_flag("--all", f->all, "Every model: the catalog, presets and installed ones")
      ->excludes(installed);
  sub.add_option("--purpose", f->purpose, "speed, balanced, quality or specialized");
  sub.add_option("--tag", f->tag, "Only models with this tag (coding, chat, reasoning, ...)");
  sub.add_option("--max-ram", f->max_ram, "Only models that need at most this much RAM (16GB)");
  sub.add_option("--max-vram", f->max_vram, "Only models that fit this much GPU memory (8GB)");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunList(ctx, *f); });
}

void AddInfo(CLI::App& sub, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  sub.add_option("ID", *ref, "Catalog id, preset name, ORG/REPO:QUANT or Ollama name:tag")
      ->required();
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, ref] { RunInfo(ctx, *ref); });
}

void AddValidate(CLI::App& sub, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  sub.add_option("ID", *ref, "The model to check")->required();
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, ref] { RunValidate(ctx, *ref); });
}

void AddDefault(CLI::App& sub, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  sub.add_option("ID", *ref, "Model to make the default (omit to show the current one)");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, ref] { RunDefault(ctx, *ref); });
}

}  // namespace hangar::cli
