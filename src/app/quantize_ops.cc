#include "app/quantize_ops.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>

#include "app/resolver.h"
#include "gguf/ggml_types.h"
#include "gguf/split.h"
#include "gguf/summary.h"
#include "llamacpp/quantize.h"

namespace hangar::app {

namespace fs = std::filesystem;

Result<QuantizeReport> QuantizeOps::Quantize(const QuantizeQuery& q,
                                             const std::function<void(uint32_t, uint32_t)>& progress) {
  const gguf::FileType* type = gguf::FindFileTypeByTag(q.type);
  if (type == nullptr || type->id >= 1024) {
    return InvalidArgumentError(fmt::format(
        "unknown quantization type \"{}\" (Q8_0, Q6_K, Q5_K_M, Q5_K_S, Q4_K_M, Q4_K_S, Q4_0, "
        "Q3_K_M, Q2_K, IQ4_XS, IQ3_XXS, F16, BF16, ...)",
        q.type));
  }
  if (llamacpp::NeedsImportanceMatrix(type->id)) {
    return InvalidArgumentError(fmt::format(
        "{} needs an importance matrix (activation statistics from llama-imatrix over calibration "
        "text), which Hangar does not make; pick Q2_K, Q3_K_M, IQ3_XXS or above",
        type->tag));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(Resolution t, core_->Resolve(q.ref, ResolveOptions{.allow_paths = q.allow_paths}));
  if (t.file.empty() || t.kind == TargetKind::kCatalog || t.kind == TargetKind::kRemote) {
    return NotFoundError(fmt::format("{} is not on this machine: pull it first (hangar pull {})",
                                     t.DisplayId(), q.ref));
  }
  QuantizeReport report;
  report.source = t.file;
  report.source_id = t.DisplayId();
  ASSIGN_OR_RETURN(std::vector<gguf::GgufFile> parts, gguf::ReadSplitModel(t.file));
  const gguf::ModelSummary summary = gguf::Summarize(parts);
  for (const fs::path& part : gguf::SplitPartPaths(t.file)) {
    std::error_code ec;
    report.source_bytes += fs::file_size(part, ec);
  }
  const gguf::FileType* from = summary.file_type ? gguf::FindFileType(*summary.file_type) : nullptr;
  const bool source_float = from != nullptr && (from->tag == "F32" || from->tag == "F16" || from->tag == "BF16");
  if (!source_float && !q.allow_requantize) {
    return InvalidArgumentError(fmt::format(
        "{} is {} already; quantizing it again loses quality twice (give --allow-requantize to do "
        "it anyway, or quantize from an F16/BF16/F32 file)",
        report.source_id, from != nullptr ? std::string(from->tag) : "quantized"));
  }
  ASSIGN_OR_RETURN(const Paths* paths, core_->paths());
  const std::string stem = t.file.stem().string();
  fs::path out = q.out;
  const bool into_store = out.empty();
  if (into_store) {
    std::error_code ec;
    fs::create_directories(paths->data_dir / "quantized", ec);
    out = paths->data_dir / "quantized" / fmt::format("{}-{}.gguf", stem, type->tag);
  }
  if (fs::exists(out)) return AlreadyExistsError(fmt::format("{} exists already", out.string()));
  // llama.cpp writes the temporary file; it becomes `out` only when whole.
  const fs::path temp = out.parent_path() / fmt::format(".{}.{}.partial", out.filename().string(), ::getpid());
  llamacpp::QuantizeRequest r;
  r.input = t.file;
  r.output = temp;
  r.ftype = type->id;
  r.threads = q.threads;
  r.allow_requantize = q.allow_requantize;
  r.progress = progress;
  const auto start = std::chrono::steady_clock::now();
  Status done = llamacpp::Quantize(r);
  std::error_code ec;
  if (!done.ok()) {
    fs::remove(temp, ec);
    return done;
  }
  fs::rename(temp, out, ec);
  if (ec) {
    fs::remove(temp, ec);
    return UnavailableError(fmt::format("cannot move the quantized file to {}: {}", out.string(), ec.message()));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Installed beside its source: in place where it was written (the store's
  // quantized/ folder by default).
  ASSIGN_OR_RETURN(report.model, store_->RecordMade(out, "quantize", into_store));
  return report;
}

std::string QuantizeOps::StartQuantize(QuantizeQuery query) {
  const std::string title = query.ref + " to " + query.type;
  return core_->jobs().Start("quantize", title, [this, query = std::move(query)](JobContext& job) {
    Result<QuantizeReport> r = Quantize(query, [&job](uint32_t done, uint32_t total) {
      job.Report(fmt::format("quantizing tensor {} of {}", done, total), done, total);
    });
    if (!r.ok()) return r.status();
    job.SetResult("installed as " + EntryIdOf(r->model));
    return Status::Ok();
  });
}

}  // namespace hangar::app
