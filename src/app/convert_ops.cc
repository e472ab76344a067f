#include "app/convert_ops.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "checkpoint/hf_checkpoint.h"
#include "gguf/ggml_types.h"

namespace hangar::app {

namespace fs = std::filesystem;

namespace {

bool IsFloatType(const std::string& t) { return t == "auto" || t == "f32" || t == "f16" || t == "bf16"; }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

}  // namespace

Result<checkpoint::ConvertPlan> ConvertOps::Plan(const ConvertQuery& q) {
  ASSIGN_OR_RETURN(checkpoint::HfCheckpoint c, checkpoint::OpenCheckpoint(q.source));
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
  ASSIGN_OR_RETURN(checkpoint::HfCheckpoint c, checkpoint::OpenCheckpoint(q.source));
  checkpoint::ConvertOptions o;
  o.type = quantize ? "auto" : type;
  o.name = q.name;
  ConvertReport report;
  report.source = q.source;
  report.source_bytes = c.tensor_bytes();
  ASSIGN_OR_RETURN(report.plan, checkpoint::PlanConversion(c, o));
  const std::string final_tag = quantize ? std::string(gguf::FindFileTypeByTag(type)->tag) : report.plan.file_type;
  ASSIGN_OR_RETURN(const Paths* paths, core_->paths());
  std::string stem = (q.name.empty() ? c.root.filename().string() : q.name);
  std::replace(stem.begin(), stem.end(), '/', '-');
  fs::path out = q.out;
  if (out.empty()) {
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
    Result<QuantizeReport> r = quantize_->Quantize(qq, [&](uint32_t done, uint32_t total) {
      if (progress) (void)progress("quantizing", done, total);
    });
    std::error_code ec;
    fs::remove(converted, ec);
    if (!r.ok()) return r.status();
    report.quantized = final_tag;
    report.model = r->model;
  } else {
    Result<store::InstalledModel> m = store_->Import(out, ImportMode::kLink);
    if (!m.ok()) {
      std::error_code ec;
      fs::remove(out, ec);
      return m.status();
    }
    report.model = *m;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::string ConvertOps::StartConvert(ConvertQuery query) {
  const std::string title = query.source.filename().string() + " to " + query.type;
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
