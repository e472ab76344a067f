#include "checkpoint/hf_checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace hangar::checkpoint {

namespace fs = std::filesystem;

namespace {

struct ArchRow {
  std::string_view hf_class;
  std::string_view gguf;
};
constexpr ArchRow kArchitectures[] = {
    {"LlamaForCausalLM", "llama"},        {"MistralForCausalLM", "llama"},
    {"Qwen2ForCausalLM", "qwen2"},        {"Qwen3ForCausalLM", "qwen3"},
    {"Qwen3MoeForCausalLM", "qwen3moe"},  {"Gemma2ForCausalLM", "gemma2"},
    {"Gemma3ForCausalLM", "gemma3"},      {"Gemma3ForConditionalGeneration", "gemma3"},
    {"Phi3ForCausalLM", "phi3"},
};

bool IsPickle(const fs::path& p) {
  const std::string name = p.filename().string();
  return (name.starts_with("pytorch_model") && name.ends_with(".bin")) || name.ends_with(".pth") ||
         name.ends_with(".pt") || (name.starts_with("consolidated") && name.ends_with(".bin"));
}

Result<nlohmann::json> ReadJson(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return NotFoundError(fmt::format("cannot open {}", p.string()));
  std::stringstream s;
  s << in.rdbuf();
  const std::string text = s.str();
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return InvalidArgumentError(fmt::format("{} at byte {}: not JSON ({})", p.filename().string(), e.byte, e.what()));
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgumentError(fmt::format("{}: not usable JSON ({})", p.filename().string(), e.what()));
  }
}

Result<Shard> OpenShard(const fs::path& p) {
  Shard s;
  s.path = p;
  std::error_code ec;
  s.file_size = fs::file_size(p, ec);
  if (ec) return NotFoundError(fmt::format("cannot read {}: {}", p.string(), ec.message()));
  ASSIGN_OR_RETURN(s.header, ReadSafetensorsHeader(p));
  return s;
}

}  // namespace

std::string HfCheckpoint::architecture_class() const {
  auto a = config.find("architectures");
  if (a == config.end() || !a->is_array() || a->empty() || !(*a)[0].is_string()) return "";
  return (*a)[0].get<std::string>();
}

uint64_t HfCheckpoint::parameter_count() const {
  uint64_t n = 0;
  for (const Shard& s : shards) {
    for (const TensorInfo& t : s.header.tensors) n += t.elements();
  }
  return n;
}

uint64_t HfCheckpoint::tensor_bytes() const {
  uint64_t n = 0;
  for (const Shard& s : shards) n += s.header.data_bytes();
  return n;
}

std::map<std::string, std::pair<uint64_t, uint64_t>> HfCheckpoint::dtypes() const {
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;
  for (const Shard& s : shards) {
    for (const TensorInfo& t : s.header.tensors) {
      auto& [tensors, bytes] = out[std::string(DtypeName(t.dtype))];
      ++tensors;
      bytes += t.bytes();
    }
  }
  return out;
}

const TensorInfo* HfCheckpoint::Find(std::string_view name, const Shard** shard) const {
  for (const Shard& s : shards) {
    for (const TensorInfo& t : s.header.tensors) {
      if (t.name == name) {
        if (shard != nullptr) *shard = &s;
        return &t;
      }
    }
  }
  return nullptr;
}

std::string_view GgufArchitecture(std::string_view hf_class) {
  for (const ArchRow& r : kArchitectures) {
    if (r.hf_class == hf_class) return r.gguf;
  }
  return {};
}

bool LooksLikeCheckpoint(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "config.json", ec)) return true;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (e.path().extension() == ".safetensors" || IsPickle(e.path())) return true;
    }
    return false;
  }
  return path.extension() == ".safetensors" || IsPickle(path);
}

Result<HfCheckpoint> OpenCheckpoint(const fs::path& path) {
  HfCheckpoint c;
  std::error_code ec;
  const bool folder = fs::is_directory(path, ec);
  c.root = folder ? path : path.parent_path();
  if (!folder && !fs::exists(path, ec)) return NotFoundError(fmt::format("{} does not exist", path.string()));
  if (!folder && IsPickle(path)) {
    return FailedPreconditionError(fmt::format(
        "{} is a PyTorch pickle checkpoint: Hangar does not load pickle files (unpickling can run "
        "code); use the repository's .safetensors files",
        path.filename().string()));
  }
  if (fs::exists(c.root / "config.json", ec)) {
    ASSIGN_OR_RETURN(c.config, ReadJson(c.root / "config.json"));
    if (!c.config.is_object()) return InvalidArgumentError("config.json is not a JSON object");
    // A multimodal wrapper keeps the language model's facts in text_config.
    if (auto t = c.config.find("text_config"); t != c.config.end() && t->is_object()) {
      for (const auto& [k, v] : t->items()) {
        if (!c.config.contains(k)) c.config[k] = v;
      }
    }
  }
  if (fs::exists(c.root / "generation_config.json", ec)) {
    Result<nlohmann::json> g = ReadJson(c.root / "generation_config.json");
    if (g.ok()) c.generation_config = *g;
  }
  c.has_tokenizer_json = fs::exists(c.root / "tokenizer.json", ec);
  c.has_tokenizer_model = fs::exists(c.root / "tokenizer.model", ec);
  c.has_chat_template = fs::exists(c.root / "chat_template.jinja", ec);
  if (!c.has_chat_template && fs::exists(c.root / "tokenizer_config.json", ec)) {
    Result<nlohmann::json> t = ReadJson(c.root / "tokenizer_config.json");
    c.has_chat_template = t.ok() && t->is_object() && t->contains("chat_template");
  }

  if (!folder) {
    if (path.extension() != ".safetensors") {
      return InvalidArgumentError(fmt::format("{} is not a .safetensors file", path.filename().string()));
    }
    ASSIGN_OR_RETURN(Shard s, OpenShard(path));
    c.shards.push_back(std::move(s));
    return c;
  }

  const fs::path index_path = c.root / "model.safetensors.index.json";
  if (fs::exists(index_path, ec)) {
    ASSIGN_OR_RETURN(nlohmann::json index, ReadJson(index_path));
    auto map = index.find("weight_map");
    if (map == index.end() || !map->is_object()) {
      return InvalidArgumentError("model.safetensors.index.json has no weight_map object");
    }
    std::set<std::string> files;
    for (const auto& [name, file] : map->items()) {
      if (!file.is_string() || file.get<std::string>().find('/') != std::string::npos ||
          file.get<std::string>().find("..") != std::string::npos) {
        return InvalidArgumentError(fmt::format(
            "model.safetensors.index.json: tensor \"{}\" names a file outside the folder", name));
      }
      files.insert(file.get<std::string>());
    }
    for (const std::string& f : files) {
      if (!fs::exists(c.root / f, ec)) {
        return NotFoundError(fmt::format("model.safetensors.index.json names {}, which is missing", f));
      }
      ASSIGN_OR_RETURN(Shard s, OpenShard(c.root / f));
      c.shards.push_back(std::move(s));
    }
    // The index and the shards must agree tensor by tensor.
    for (const auto& [name, file] : map->items()) {
      const Shard* in = nullptr;
      for (const Shard& s : c.shards) {
        if (s.path.filename() == file.get<std::string>()) in = &s;
      }
      const bool held = in != nullptr && std::any_of(in->header.tensors.begin(), in->header.tensors.end(),
                                                     [&](const TensorInfo& t) { return t.name == name; });
      if (!held) {
        return InvalidArgumentError(fmt::format(
            "model.safetensors.index.json places \"{}\" in {}, which does not hold it", name,
            file.get<std::string>()));
      }
    }
    for (const Shard& s : c.shards) {
      for (const TensorInfo& t : s.header.tensors) {
        if (!map->contains(t.name)) {
          return InvalidArgumentError(fmt::format(
              "{} holds \"{}\", which model.safetensors.index.json does not name",
              s.path.filename().string(), t.name));
        }
      }
    }
    c.has_index = true;
  } else {
    std::vector<fs::path> files, pickles;
    for (const auto& e : fs::directory_iterator(c.root, ec)) {
      if (e.path().extension() == ".safetensors") files.push_back(e.path());
      if (IsPickle(e.path())) pickles.push_back(e.path());
    }
    if (files.empty() && !pickles.empty()) {
      return FailedPreconditionError(fmt::format(
          "{} holds PyTorch pickle weights ({}): Hangar does not load pickle files (unpickling can "
          "run code); use a repository with .safetensors files",
          c.root.string(), pickles.front().filename().string()));
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      ASSIGN_OR_RETURN(Shard s, OpenShard(f));
      c.shards.push_back(std::move(s));
    }
  }
  if (c.shards.empty()) return NotFoundError(fmt::format("{} holds no .safetensors weights", c.root.string()));
  std::sort(c.shards.begin(), c.shards.end(), [](const Shard& a, const Shard& b) { return a.path < b.path; });
  // A tensor name twice across shards is ambiguous.
  std::set<std::string> seen;
  for (const Shard& s : c.shards) {
    for (const TensorInfo& t : s.header.tensors) {
      if (!seen.insert(t.name).second) {
        return InvalidArgumentError(fmt::format("tensor \"{}\" is in more than one shard ({} among them)",
                                                t.name, s.path.filename().string()));
      }
    }
  }
  return c;
}

nlohmann::json ToJson(const HfCheckpoint& c) {
  nlohmann::json dtypes = nlohmann::json::object();
  for (const auto& [name, tb] : c.dtypes()) dtypes[name] = {{"tensors", tb.first}, {"bytes", tb.second}};
  nlohmann::json files = nlohmann::json::array();
  size_t tensors = 0;
  for (const Shard& s : c.shards) {
    files.push_back({{"file", s.path.filename().string()},
                     {"size", s.file_size},
                     {"tensors", s.header.tensors.size()}});
    tensors += s.header.tensors.size();
  }
  nlohmann::json config = nlohmann::json::object();
  for (const char* k : {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                        "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
                        "max_position_embeddings", "rms_norm_eps", "rope_theta", "rope_scaling",
                        "sliding_window", "tie_word_embeddings", "num_experts", "num_local_experts",
                        "num_experts_per_tok", "torch_dtype"}) {
    if (c.config.contains(k)) config[k] = c.config[k];
  }
  const std::string cls = c.architecture_class();
  const std::string_view arch = GgufArchitecture(cls);
  return {{"path", c.root.string()},
          {"architecture_class", cls.empty() ? nlohmann::json() : nlohmann::json(cls)},
          {"architecture", arch.empty() ? nlohmann::json() : nlohmann::json(arch)},
          {"parameters", c.parameter_count()},
          {"tensor_bytes", c.tensor_bytes()},
          {"tensors", tensors},
          {"dtypes", dtypes},
          {"files", files},
          {"sharded", c.has_index},
          {"config", config},
          {"tokenizer",
           {{"tokenizer_json", c.has_tokenizer_json},
            {"tokenizer_model", c.has_tokenizer_model},
            {"chat_template", c.has_chat_template}}}};
}

}  // namespace hangar::checkpoint
