#include "fit/test_models.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "gguf/parser.h"
#include "mkmodel/model_writer.h"

namespace hangar::fit::testing {
namespace {

std::mutex& Mutex() {
  static std::mutex mu;
  return mu;
}

// The process's model folder, removed at exit.
const std::filesystem::path& Root() {
  static const std::filesystem::path root = [] {
    std::filesystem::path p =
        std::filesystem::temp_directory_path() / ("hangar-fit-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(p);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(
          std::filesystem::temp_directory_path() / ("hangar-fit-test-" + std::to_string(getpid())),
          ec);
    });
    return p;
  }();
  return root;
}

mkmodel::ModelSpec Spec(std::string_view arch) {
  mkmodel::ModelSpec spec;
  spec.arch = std::string(arch);
  spec.type = "f16";
  spec.vocab = "llama-spm";
  spec.vocab_dir = HANGAR_VOCAB_DIR;
  spec.layers = 2;
  spec.embd = 128;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.head_dim = 32;
  spec.ff = 256;
  spec.ctx = 32768;
  spec.threads = 2;
  if (arch == "phi3") spec.vocab = "phi-3";  // llama.cpp wants phi3's own special tokens
  if (arch == "qwen3") spec.head_dim = 64;   // n_head × head_dim ≠ n_embd
  if (arch == "qwen3moe") {
    spec.experts = 4;
    spec.experts_used = 2;
    spec.expert_ff = 128;
  }
  if (arch == "gemma2" || arch == "gemma3") {
    spec.layers = 4;
    spec.sliding_window = 256;
    spec.swa_pattern = 2;
  }
  return spec;
}

}  // namespace

std::vector<std::string> TinyArchs() {
  return {"llama", "qwen2", "qwen3", "qwen3moe", "gemma2", "gemma3", "phi3"};
}

std::filesystem::path TinyModel(std::string_view arch) {
  std::lock_guard<std::mutex> lock(Mutex());
  static std::map<std::string, std::filesystem::path, std::less<>> made;
  if (auto it = made.find(arch); it != made.end()) return it->second;
  const std::filesystem::path path = Root() / (std::string(arch) + ".gguf");
  Result<mkmodel::ModelFacts> facts = mkmodel::WriteModel(Spec(arch), path);
  if (!facts.ok()) {
    ADD_FAILURE() << "cannot write the tiny " << arch << " model: " << facts.status().ToString();
    return {};
  }
  made.emplace(std::string(arch), path);
  return path;
}

gguf::ModelSummary TinySummary(std::string_view arch) {
  Result<gguf::GgufFile> header = gguf::ReadHeader(TinyModel(arch));
  if (!header.ok()) {
    ADD_FAILURE() << header.status().ToString();
    return {};
  }
  return gguf::Summarize(*header);
}

std::filesystem::path FreshDir(std::string_view name) {
  std::filesystem::path p = Root() / name;
  std::error_code ec;
  std::filesystem::remove_all(p, ec);
  std::filesystem::create_directories(p);
  return p;
}

}  // namespace hangar::fit::testing
