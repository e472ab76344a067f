#include "app/convert_ops.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "app/resolver.h"
#include "checkpoint/hf_checkpoint.h"
#include "core/units.h"
#include "gguf/ggml_types.h"

namespace hangar::app {

namespace fs = std::filesystem;

namespace {

bool IsFloatType(const std::string& t) { return t == "auto" || t == "f32" || t == "f16" || t == "bf16"; }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

// Bytes per second of output a conversion reaches on a 2-core machine
// (bench/convert, run E in docs/benchmarks.md: 639-655 MB/s from the page
// cache), taken lower for a checkpoint read from disk; for the estimate in
// CheckpointRunAdvice.
constexpr double kConvertBytesPerSecond = 400e6;

}  // namespace

Result<ConvertOps::Source> ConvertOps::Locate(const std::string& source, bool allow_paths) {
  std::error_code ec;
  if (allow_paths && fs::exists(source, ec)) return Source{fs::path(source), std::nullopt};
  Result<Resolution> r = core_->Resolve(source, ResolveOptions{.allow_paths = allow_paths});
  if (r.ok() && r->record) {
    if (r->record->format != "safetensors") {
      return InvalidArgumentError(fmt::format("{} is a {} model, not a safetensors checkpoint: nothing to convert",
                                              r->record->id, r->record->format));
    }
    return Source{r->record->primary_path.parent_path(), *r->record};
  }
  return NotFoundError(fmt::format("{} is neither a checkpoint folder nor an installed checkpoint (pull one with "
                                   "`hangar pull ORG/REPO`)", source));
}

Status ConvertOps::Link(const store::InstalledModel& checkpoint, const store::InstalledModel& converted) {
  store::InstalledModel to = converted;
  to.metadata["converted_from"] = checkpoint.id;
  RETURN_IF_ERROR(store_->Record(std::move(to), false).status());
  ASSIGN_OR_RETURN(store::InstalledModel from, store_->FindInstalled(checkpoint.id));
  nlohmann::json& list = from.metadata["converted_to"];
  if (!list.is_array()) list = nlohmann::json::array();
  if (std::find(list.begin(), list.end(), converted.id) == list.end()) list.push_back(converted.id);
  return store_->Record(std::move(from), false).status();
}

std::string CheckpointRunAdvice(Core& core, const std::string& source) {
  fs::path folder = source;
  std::string name = source;
  Result<Resolution> r = core.Resolve(source);
  std::error_code ec;
  if (!fs::exists(source, ec) && r.ok() && r->record) {
    folder = r->record->primary_path.parent_path();
    name = r->record->id;
    if (auto it = r->record->metadata.find("converted_to"); it != r->record->metadata.end() && it->is_array()) {
      for (const auto& id : *it) {
        Result<Resolution> c = id.is_string() ? core.Resolve(id.get<std::string>()) : Result<Resolution>(NotFoundError(""));
        if (c.ok() && c->record) {
          return fmt::format("{} is a safetensors checkpoint, which llama.cpp cannot run; it was converted: "
                             "run `hangar run {}`", name, EntryIdOf(*c->record));
        }
      }
    }
  }
  Result<checkpoint::HfCheckpoint> c = checkpoint::OpenCheckpoint(folder);
  Result<checkpoint::ConvertPlan> plan = c.ok() ? checkpoint::PlanConversion(*c, {}) : Result<checkpoint::ConvertPlan>(c.status());
  if (!plan.ok()) {
    return fmt::format("{} is a Hugging Face checkpoint, which llama.cpp cannot run, and Hangar cannot convert "
                       "it: {}", name, plan.status().message());
  }
  const double seconds = static_cast<double>(plan->output_bytes) / kConvertBytesPerSecond;
  return fmt::format("{} is a Hugging Face checkpoint, which llama.cpp cannot run; convert it first: "
                     "`hangar convert {}` writes a {} {} GGUF in about {:.0f} s here (`--type q4_k_m` makes "
                     "one of about {})",
                     name, name, FormatBytesDecimal(plan->output_bytes), plan->file_type, std::max(1.0, seconds),
                     FormatBytesDecimal(static_cast<uint64_t>(static_cast<double>(plan->parameters) * 4.85 / 8)));
}

Result<checkpoint::ConvertPlan> ConvertOps::Plan(const ConvertQuery& q) {
  ASSIGN_OR_RETURN(Source src, Locate(q.source, q.allow_paths));
  ASSIGN_OR_RETURN(checkpoint::HfCheckpoint c, checkpoint::OpenCheckpoint(src.folder));
  checkpoint::ConvertOptions o;
  o.type = IsFloatType(Lower(q.type)) ? Lower(q.type) : "auto";
  o.name = q.name;
  return checkpoint::PlanConversion(c, o);
}

Result<ConvertReport> ConvertOps::Convert(const ConvertQuery& q, const ConvertProgress& progress) {
  const std::string type = Lower(q.type);
  const bool quantize = !IsFloatType(type);
  if (quantize) {
    const gguf::FileType* ft = gguf::FindFileTypeByTag(type);
    if (ft == nullptr || ft->id >= 1024) {
      return InvalidArgumentError(fmt::format(
          "unknown output type \"{}\": auto, f32, f16, bf16, or a quantization (q8_0, q6_k, q5_k_m, q4_k_m, ...)", q.type));
    }
  }
  ASSIGN_OR_RETURN(Source src, Locate(q.source, q.allow_paths));
  ASSIGN_OR_RETURN(checkpoint::HfCheckpoint c, checkpoint::OpenCheckpoint(src.folder));
  checkpoint::ConvertOptions o;
  o.type = quantize ? "auto" : type;
  // An installed checkpoint (in a snapshot folder named by its commit) is
  // named by its repository's model name; "org/name" stays the checkpoint's.
  const std::string repo_name =
      src.installed ? src.installed->name.substr(src.installed->name.rfind('/') + 1) : std::string();
  o.name = !q.name.empty() ? q.name : repo_name;
  ConvertReport report;
  report.source = src.folder;
  if (src.installed) report.checkpoint_id = src.installed->id;
  report.source_bytes = c.tensor_bytes();
  ASSIGN_OR_RETURN(report.plan, checkpoint::PlanConversion(c, o));
  const std::string final_tag = quantize ? std::string(gguf::FindFileTypeByTag(type)->tag) : report.plan.file_type;
  ASSIGN_OR_RETURN(const Paths* paths, core_->paths());
  std::string stem = !q.name.empty() ? q.name : src.installed ? repo_name : c.root.filename().string();
  std::replace(stem.begin(), stem.end(), '/', '-');
  fs::path out = q.out;
  const bool into_store = out.empty();
  if (into_store) {
    std::error_code ec;
    fs::create_directories(paths->data_dir / "converted", ec);
    out = paths->data_dir / "converted" / fmt::format("{}-{}.gguf", stem, final_tag);
  }
  if (fs::exists(out)) return AlreadyExistsError(fmt::format("{} exists already", out.string()));
  const auto start = std::chrono::steady_clock::now();
  // A quantized result is made from a float conversion beside it.
  const fs::path converted = quantize ? out.parent_path() / fmt::format(".{}.{}.f.gguf", out.filename().string(), ::getpid()) : out;
  if (progress) {
    o.progress = [&](uint64_t done, uint64_t total) { return progress("converting", done, total); };
  }
  ASSIGN_OR_RETURN(report.plan, checkpoint::ConvertCheckpoint(c, converted, o));
  if (quantize) {
    QuantizeQuery qq;
    qq.ref = converted.string();
    qq.type = type;
    qq.out = out;
    qq.threads = q.threads;
    qq.allow_paths = true;  // the conversion just written
    Result<QuantizeReport> r = quantize_->Quantize(qq, [&](uint32_t done, uint32_t total) {
      if (progress) (void)progress("quantizing", done, total);
    });
    std::error_code ec;
    fs::remove(converted, ec);
    if (!r.ok()) return r.status();
    report.quantized = final_tag;
    report.model = r->model;
  } else {
    ASSIGN_OR_RETURN(report.model, store_->RecordMade(out, "convert", into_store));
  }
  if (into_store && quantize) {
    // Converted, then quantized into Hangar's store: `rm` deletes the file.
    report.model.managed = true;
    report.model.source = "convert";
    ASSIGN_OR_RETURN(report.model, store_->Record(report.model, false));
  }
  if (src.installed) {
    RETURN_IF_ERROR(Link(*src.installed, report.model));
    ASSIGN_OR_RETURN(report.model, store_->FindInstalled(report.model.id));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::string ConvertOps::StartConvert(ConvertQuery query) {
  const std::string title = query.source + " to " + query.type;
  return core_->jobs().Start("convert", title, [this, query = std::move(query)](JobContext& job) {
    Result<ConvertReport> r = Convert(query, [&job](std::string_view stage, uint64_t done, uint64_t total) {
      if (job.cancelled()) return CancelledError("the conversion was cancelled");
      job.Report(std::string(stage), done, total);
      return Status::Ok();
    });
    if (!r.ok()) return r.status();
    job.SetResult("installed as " + EntryIdOf(r->model));
    return Status::Ok();
  });
}

}  // namespace hangar::app
