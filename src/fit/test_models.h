// Test helpers for the fit module (test code only): tiny random-weight models
// of every architecture hangar-mkmodel writes, generated once per test
// process into a temporary folder that is removed at exit. Thread-safe.
#ifndef HANGAR_FIT_TEST_MODELS_H_
#define HANGAR_FIT_TEST_MODELS_H_

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/summary.h"

namespace hangar::fit::testing {

// The architectures of the generated models: llama, qwen2, qwen3, qwen3moe,
// gemma2, gemma3 (sliding window, one global layer in two), phi3.
std::vector<std::string> TinyArchs();

// The path of the tiny model of `arch` (2-4 layers, 128 wide, the 32000
// token llama-spm vocabulary or phi-3's for phi3), written on first use. Fails the test (and
// returns an empty path) when the model cannot be written.
std::filesystem::path TinyModel(std::string_view arch);

// The summary of TinyModel(arch)'s header.
gguf::ModelSummary TinySummary(std::string_view arch);

// A fresh empty folder under the process's temporary folder.
std::filesystem::path FreshDir(std::string_view name);

}  // namespace hangar::fit::testing

#endif  // HANGAR_FIT_TEST_MODELS_H_
