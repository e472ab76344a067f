// hangar inspect
#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "checkpoint/hf_checkpoint.h"
#include "checkpoint/pytorch.h"
#include "cli/command.h"
#include "core/units.h"
#include "fetch/http_headers.h"
#include "gguf/ggml_types.h"
#include "gguf/summary.h"

namespace hangar::cli {
namespace {

struct InspectFlags {
  std::string ref;
  bool tensors = false;
  bool metadata = false;
};

std::string Opt(const std::optional<uint64_t>& v) { return v ? std::to_string(*v) : "-"; }

std::string Count(uint64_t n) {
  char buf[32];
  if (n >= 1'000'000'000)
    std::snprintf(buf, sizeof buf, "%.2fB", static_cast<double>(n) / 1e9);
  else if (n >= 1'000'000)
    std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(n) / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
  return buf;
}

// A Hugging Face checkpoint: architecture, parameters, dtypes, shards,
// tokenizer files; and what converting it would need.
void PrintCheckpoint(Context& ctx, const InspectFlags& f, const checkpoint::HfCheckpoint* c) {
  nlohmann::json j = checkpoint::ToJson(*c);
  if (f.tensors) {
    nlohmann::json list = nlohmann::json::array();
    for (const checkpoint::Shard& sh : c->shards) {
      for (const checkpoint::TensorInfo& t : sh.header.tensors) {
        list.push_back({{"name", t.name},
                        {"dtype", checkpoint::DtypeName(t.dtype)},
                        {"shape", t.shape},
                        {"file", sh.path.filename().string()}});
      }
    }
    j["tensor_list"] = list;
  }
  if (ctx.json) return ctx.PrintJson(j);
  std::string dtypes;
  for (const auto& [name, tb] : c->dtypes()) {
    dtypes += (dtypes.empty() ? "" : ", ") + name + " " + FormatBytesDecimal(tb.second);
  }
  std::string tokenizer;
  if (c->has_tokenizer_json) tokenizer += "tokenizer.json";
  if (c->has_tokenizer_model) tokenizer += std::string(tokenizer.empty() ? "" : ", ") + "tokenizer.model (SentencePiece)";
  if (c->has_chat_template) tokenizer += std::string(tokenizer.empty() ? "" : ", ") + "chat template";
  const std::string arch = j["architecture"].is_null() ? "not convertible by Hangar" : j["architecture"].get<std::string>();
  ctx.Print(RenderKeyValues(
      {{"Checkpoint", c->root.string()},
       {"Format", "Hugging Face safetensors" + std::string(c->has_index ? " (sharded, with its index)" : "")},
       {"Architecture", (j["architecture_class"].is_null() ? std::string("-") : j["architecture_class"].get<std::string>()) +
                            " -> " + arch},
       {"Parameters", Count(c->parameter_count())},
       {"Tensors", std::to_string(j["tensors"].get<size_t>()) + " in " + std::to_string(c->shards.size()) + " file(s)"},
       {"Weights", dtypes},
       {"Tokenizer", tokenizer.empty() ? "none found" : tokenizer},
       {"Runs here", "not as it is: convert it to GGUF (hangar fit shows the sizes)"}},
      ctx.style));
}

// A PyTorch checkpoint: its tensors from the zip's index, never unpickled.
void RunInspectPytorch(Context& ctx, const InspectFlags& f) {
  auto c = ctx.app().models().InspectPytorch(f.ref);
  if (!c.ok()) return ctx.Fail(c.status());
  std::map<std::string, uint64_t> dtypes;
  nlohmann::json tensors = nlohmann::json::array();
  for (const checkpoint::PytorchTensor& t : c->tensors) {
    ++dtypes[t.dtype.empty() ? "?" : t.dtype];
    tensors.push_back({{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}});
  }
  const std::string note = "cannot run here: convert the model's safetensors, or this file after saving it as safetensors";
  if (ctx.json) {
    nlohmann::json j = {{"format", "pytorch"},
                        {"path", f.ref},
                        {"parameters", c->parameter_count()},
                        {"tensors", c->tensors.size()},
                        {"dtypes", dtypes},
                        {"runs_here", false},
                        {"note", note}};
    if (f.tensors) j["tensor_list"] = tensors;
    return ctx.PrintJson(j);
  }
  std::string types;
  for (const auto& [k, n] : dtypes) types += (types.empty() ? "" : ", ") + k + " x" + std::to_string(n);
  ctx.Print(RenderKeyValues({{"File", f.ref},
                             {"Format", "PyTorch (torch.save zip; read from its index, not unpickled)"},
                             {"Parameters", Count(c->parameter_count())},
                             {"Tensors", std::to_string(c->tensors.size()) + " (" + types + ")"},
                             {"Runs here", note}},
                            ctx.style));
  if (f.tensors) {
    Table t({"TENSOR", "DTYPE", "SHAPE"});
    for (const checkpoint::PytorchTensor& x : c->tensors) {
      std::string shape;
      for (uint64_t d : x.shape) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
      t.AddRow({x.name, x.dtype, shape});
    }
    ctx.Print(t.Render(ctx.style));
  }
}

// An ONNX model: its graph's metadata; weights skipped.
void RunInspectOnnx(Context& ctx, const InspectFlags& f) {
  auto m = ctx.app().models().InspectOnnx(f.ref);
  if (!m.ok()) return ctx.Fail(m.status());
  auto values = [](const std::vector<checkpoint::OnnxValue>& vs) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& v : vs) a.push_back({{"name", v.name}, {"type", v.elem_type}, {"shape", v.shape}});
    return a;
  };
  const std::string note = "cannot run here: Hangar runs GGUF models through llama.cpp; ONNX needs its own runtime";
  if (ctx.json) {
    return ctx.PrintJson({{"format", "onnx"},
                          {"ir_version", m->ir_version},
                          {"producer", m->producer_name},
                          {"producer_version", m->producer_version},
                          {"opsets", m->opsets},
                          {"metadata", m->metadata},
                          {"graph", m->graph_name},
                          {"nodes", m->nodes},
                          {"initializers", m->initializers},
                          {"parameters", m->parameters},
                          {"inputs", values(m->inputs)},
                          {"outputs", values(m->outputs)},
                          {"external_data", m->external_files},
                          {"runs_here", false},
                          {"note", note}});
  }
  auto text = [](const std::vector<checkpoint::OnnxValue>& vs) {
    std::string out;
    for (const auto& v : vs) {
      std::string shape;
      for (const auto& d : v.shape) shape += (shape.empty() ? "" : ", ") + d;
      out += (out.empty() ? "" : "; ") + v.name + " " + v.elem_type + "[" + shape + "]";
    }
    return out.empty() ? std::string("-") : out;
  };
  std::string opsets;
  for (const auto& [d, v] : m->opsets) opsets += (opsets.empty() ? "" : ", ") + (d.empty() ? std::string("ai.onnx") : d) + " " + std::to_string(v);
  std::string external;
  for (const auto& e : m->external_files) external += (external.empty() ? "" : ", ") + e;
  ctx.Print(RenderKeyValues({{"File", f.ref},
                             {"Format", "ONNX, IR version " + std::to_string(m->ir_version)},
                             {"Producer", m->producer_name + " " + m->producer_version},
                             {"Opsets", opsets.empty() ? "-" : opsets},
                             {"Graph", std::to_string(m->nodes) + " nodes, " + std::to_string(m->initializers) + " initializers"},
                             {"Parameters", Count(m->parameters)},
                             {"Inputs", text(m->inputs)},
                             {"Outputs", text(m->outputs)},
                             {"External data", external.empty() ? "none" : external},
                             {"Runs here", note}},
                            ctx.style));
}

bool IsPickleFile(const std::string& ref) {
  std::error_code ec;
  const std::filesystem::path p(ref);
  const std::string ext = p.extension().string();
  return std::filesystem::is_regular_file(p, ec) && (ext == ".bin" || ext == ".pt" || ext == ".pth");
}

void RunInspect(Context& ctx, const InspectFlags& f) {
  if (IsPickleFile(f.ref)) return RunInspectPytorch(ctx, f);
  if (f.ref.ends_with(".onnx") && std::filesystem::is_regular_file(f.ref)) return RunInspectOnnx(ctx, f);
  if (checkpoint::LooksLikeCheckpoint(f.ref)) {
    auto c = ctx.app().models().InspectCheckpoint(f.ref);
    if (!c.ok()) return ctx.Fail(c.status());
    return PrintCheckpoint(ctx, f, &*c);
  }
  auto r = ctx.app().models().Inspect(f.ref);
  if (!r.ok()) return ctx.Fail(r.status());
  if (r->checkpoint) return PrintCheckpoint(ctx, f, &*r->checkpoint);
  const gguf::ModelSummary& s = r->summary;
  if (ctx.json) {
    nlohmann::json j = gguf::ToJson(s, f.tensors);
    if (f.metadata) {
      nlohmann::json md = nlohmann::json::array();
      for (const auto& line : gguf::MetadataLines(r->parts.front())) {
        md.push_back({{"key", line.key}, {"type", line.type}, {"value", line.value}});
      }
      j["metadata"] = md;
    }
    if (!r->remote_url.empty()) {
      j["remote"] = {{"url", RedactUrl(r->remote_url)}, {"range_requests", r->remote_requests}};
    }
    return ctx.PrintJson(j);
  }
  std::string files;
  for (const auto& name : s.files) files += (files.empty() ? "" : ", ") + name;
  std::string swa = "-";
  if (s.sliding_window) {
    size_t local = std::count(s.sliding_window_layers.begin(), s.sliding_window_layers.end(), true);
    swa = std::to_string(*s.sliding_window) + " tokens on " + std::to_string(local) + " of " +
          std::to_string(s.sliding_window_layers.size()) + " layers";
  }
  std::string experts = "-";
  if (s.expert_count && *s.expert_count > 0) {
    experts = Opt(s.expert_used_count) + " of " + Opt(s.expert_count) + " per token";
  }
  std::vector<std::pair<std::string, std::string>> rows = {
      {"File", files + (r->remote_url.empty()
                            ? ""
                            : " (remote: header read with " + std::to_string(r->remote_requests) +
                                  " Range requests)")},
      {"GGUF version", std::to_string(s.version)},
      {"Architecture", s.architecture},
      {"Name", s.name.empty() ? "-" : s.name},
      {"Parameters", Count(s.parameter_count)},
      {"File type",
       s.FileTypeTag().empty() ? "-" : s.FileTypeTag() + (s.file_type_guessed ? " (guessed)" : "")},
      {"Context length", Opt(s.context_length)},
      {"Layers", Opt(s.block_count)},
      {"Embedding", Opt(s.embedding_length)},
      {"Feed-forward", Opt(s.feed_forward_length)},
      {"Heads", Opt(s.head_count) + " (KV " + Opt(s.head_count_kv) + ")"},
      {"Head dims", "K " + Opt(s.key_length) + ", V " + Opt(s.value_length)},
      {"Sliding window", swa},
      {"Experts", experts},
      {"Vocabulary",
       Opt(s.vocab_size) + (s.tokenizer_model.empty() ? "" : " (" + s.tokenizer_model + ")")},
      {"BOS / EOS", Opt(s.bos_token_id) + " / " + Opt(s.eos_token_id)},
      {"Chat template", s.has_chat_template ? "yes" : "no"},
      {"Tensors", std::to_string(s.tensors.size()) + ", " + FormatBytes(s.tensor_bytes)},
      {"Data offset",
       std::to_string(s.data_offset) + " (alignment " + std::to_string(s.alignment) + ")"},
      {"File size", s.file_size ? FormatBytes(s.file_size) : "-"},
  };
  if (s.kv_lora_rank) rows.push_back({"MLA rank", Opt(s.kv_lora_rank)});
  ctx.Print(RenderKeyValues(rows, ctx.style));

  Table mix({"TYPE", "TENSORS", "BYTES", "SHARE"}, {Table::Align::kLeft, Table::Align::kRight,
                                                    Table::Align::kRight, Table::Align::kRight});
  for (const auto& [type, share] : s.types) {
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.1f%%",
                  s.tensor_bytes ? 100.0 * static_cast<double>(share.bytes) /
                                       static_cast<double>(s.tensor_bytes)
                                 : 0.0);
    mix.AddRow({type, std::to_string(share.tensors), FormatBytes(share.bytes), pct});
  }
  ctx.Print("\n" + mix.Render(ctx.style));

  if (f.metadata) {
    Table md({"KEY", "TYPE", "VALUE"});
    for (const auto& line : gguf::MetadataLines(r->parts.front())) {
      md.AddRow({line.key, line.type, line.value});
    }
    ctx.Print("\n" + md.Render(ctx.style));
  }
  if (f.tensors) {
    Table t({"TENSOR", "TYPE", "SHAPE", "BYTES", "OFFSET"},
            {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft, Table::Align::kRight,
             Table::Align::kRight});
    for (const auto& ti : s.tensors) {
      std::string shape;
      for (uint32_t d = 0; d < ti.n_dims; ++d) {
        shape += (d ? " x " : "") + std::to_string(ti.dims[d]);
      }
      const gguf::GgmlType* type = gguf::FindGgmlType(ti.type);
      t.AddRow({ti.name, type ? std::string(type->name) : std::to_string(ti.type), shape,
                std::to_string(ti.size), std::to_string(ti.offset)});
    }
    ctx.Print("\n" + t.Render(ctx.style));
  }
}

}  // namespace

void AddInspect(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<InspectFlags>();
  sub.add_option("MODEL", f->ref, "A GGUF file (any part of a split set) or an installed model")
      ->required();
  sub.add_flag("--tensors", f->tensors, "Also list every tensor: type, shape, bytes, offset");
  sub.add_flag("--metadata", f->metadata, "Also list every metadata key/value");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunInspect(ctx, *f); });
}

}  // namespace hangar::cli
