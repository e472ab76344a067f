// hangar-mkmodel: writes a random-weight GGUF model that llama.cpp loads and
// runs, for tests and benchmarks. Parses flags into a ModelSpec, calls
// WriteModel (or PlanModel for --dry-run) and prints what was written.
// Exit status: 0 done, 1 failed, 2 bad usage.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "core/log.h"
#include "core/units.h"
#include "llamacpp/log_capture.h"
#include "mkmodel/model_writer.h"
#include "mkmodel/vocab.h"

namespace {

using hangar::mkmodel::ModelFacts;

nlohmann::json ToJson(const ModelFacts& f, double seconds) {
  const auto& s = f.shape;
  nlohmann::json j = {
      {"path", f.path.string()},
      {"arch", f.arch},
      {"type", f.type},
      {"name", f.name},
      {"vocab", f.vocab},
      {"vocab_path", f.vocab_path.string()},
      {"n_vocab", s.n_vocab},
      {"layers", s.layers},
      {"embd", s.embd},
      {"ff", s.ff},
      {"heads", s.heads},
      {"kv_heads", s.kv_heads},
      {"head_dim", s.head_dim},
      {"ctx", s.ctx},
      {"tied_embeddings", s.tied},
      {"seed", f.seed},
      {"params", f.n_params},
      {"tensors", f.n_tensors},
      {"bytes", f.bytes},
      {"tensor_types", f.tensor_types},
      {"seconds", seconds},
  };
  if (s.arch->moe) {
    j["experts"] = s.experts;
    j["experts_used"] = s.experts_used;
    j["expert_ff"] = s.expert_ff;
  }
  if (s.sliding_window != 0) j["sliding_window"] = s.sliding_window;
  if (s.swa_pattern != 0) j["swa_pattern"] = s.swa_pattern;
  return j;
}

std::string Summary(const ModelFacts& f, bool dry_run) {
  const auto& s = f.shape;
  std::string shape = fmt::format("{} layers, embd {}, ff {}, heads {}/{} × {}", s.layers, s.embd,
                                  s.ff, s.heads, s.kv_heads, s.head_dim);
  if (s.arch->moe) {
    shape += fmt::format(", experts {}/{} × {}", s.experts_used, s.experts, s.expert_ff);
  }
  const std::string where = f.path.empty() ? "" : " " + f.path.string();
  return fmt::format("{}{}: {} {}, {}, vocab {} ({} tokens), {:.1f}M params, {}{}",
                     dry_run ? "would write" : "wrote", where, f.arch, f.type, shape, f.vocab,
                     s.n_vocab, f.n_params / 1e6, dry_run ? "about " : "",
                     hangar::FormatBytes(f.bytes));
}

}  // namespace

int main(int argc, char** argv) {
  hangar::mkmodel::ModelSpec spec;
  std::string out;
  std::string size;
  std::string vocab_dir;
  bool json = false;
  bool dry_run = false;
  bool list = false;
  bool verbose = false;
  bool tie = false;

  CLI::App app{
      "Writes a GGUF model with random weights that llama.cpp loads and runs (for tests and "
      "benchmarks). Unset sizes get small defaults (2 layers, embd 128), or are chosen to land "
      "near --size. The same flags and seed give a byte-identical file.",
      "hangar-mkmodel"};
  app.add_option("--arch", spec.arch, "Architecture: " + hangar::mkmodel::ArchNames())
      ->capture_default_str();
  app.add_option("--type", spec.type, "Weight type: " + hangar::mkmodel::WeightTypeNames())
      ->capture_default_str();
  app.add_option("-o,--out", out, "Output .gguf file (written as OUT.partial, then renamed)");
  app.add_option("--size", size, "Target file size, e.g. 64MiB or 1GiB (picks unset sizes)");
  app.add_option("--layers", spec.layers, "Number of blocks");
  app.add_option("--embd", spec.embd, "Embedding width");
  app.add_option("--ff", spec.ff, "Feed-forward width");
  app.add_option("--heads", spec.heads, "Attention heads");
  app.add_option("--kv-heads", spec.kv_heads, "Key/value heads (grouped-query attention)");
  app.add_option("--head-dim", spec.head_dim, "Width of one head");
  app.add_option("--ctx", spec.ctx, "Training context length (default 4096)");
  app.add_option("--experts", spec.experts, "Experts per layer (qwen3moe, default 8)");
  app.add_option("--experts-used", spec.experts_used, "Experts used per token (default 2)");
  app.add_option("--expert-ff", spec.expert_ff, "Feed-forward width of one expert");
  app.add_option("--sliding-window", spec.sliding_window, "Sliding-window size (gemma2/gemma3)");
  app.add_option("--swa-pattern", spec.swa_pattern,
                 "Write attention.sliding_window_pattern N (every Nth layer global)");
  app.add_flag("--tie-embeddings,!--no-tie-embeddings", tie,
               "Reuse token_embd as output (default: per architecture)");
  app.add_option("--vocab", spec.vocab,
                 "Vocabulary: a ggml-vocab-NAME.gguf name (qwen2, llama-bpe, llama-spm, gpt-2, "
                 "phi-3, ...) or a .gguf path; default per architecture");
  app.add_option("--vocab-dir", vocab_dir, "Folder of ggml-vocab-*.gguf files");
  app.add_option("--name", spec.name, "general.name (default \"mkmodel ARCH TYPE\")");
  std::string chat_template_file;
  app.add_option("--chat-template", chat_template_file,
                 "A Jinja chat template file for tokenizer.chat_template (default: the "
                 "vocabulary's, else a ChatML one)")
      ->check(CLI::ExistingFile);
  std::vector<std::string> follows;
  app.add_option("--follow", follows,
                 "A=B: right after token A, greedy decoding picks token B whenever it is allowed "
                 "(exact token texts, \\n for a newline; repeatable). Makes a model that starts a "
                 "tool call after its prompt and stops after it");
  app.add_option("--seed", spec.seed, "Random seed")->capture_default_str();
  app.add_option("--init-std", spec.init_std, "Standard deviation of the random weights")
      ->capture_default_str();
  app.add_option("--threads", spec.threads, "Threads (default: all cores)");
  app.add_flag("--json", json, "Print what was written as JSON");
  app.add_flag("--dry-run", dry_run, "Resolve the shape and print it; write nothing");
  app.add_flag("--list", list, "List architectures, types and vocabularies");
  app.add_flag("-v,--verbose", verbose, "Show llama.cpp's log");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (const std::string& pair : follows) {
    size_t eq = pair.find('=', 1);
    if (eq == std::string::npos || eq + 1 == pair.size()) {
      std::fprintf(stderr, "hangar-mkmodel: --follow wants A=B, got \"%s\"\n", pair.c_str());
      return 2;
    }
    auto unescape = [](std::string_view s) {
      std::string out;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == '\\')) {
          out += s[i + 1] == 'n' ? '\n' : '\\';
          ++i;
        } else {
          out += s[i];
        }
      }
      return out;
    };
    spec.follows.emplace_back(unescape(std::string_view(pair).substr(0, eq)),
                              unescape(std::string_view(pair).substr(eq + 1)));
  }

  // llama.cpp's lines are Hangar's debug log (llamacpp/log_capture.h): -v
  // shows them; a failure's message holds llama.cpp's error lines.
  if (verbose) hangar::SetLogLevel(hangar::LogLevel::kDebug);
  hangar::llamacpp::InstallLog();
  if (app.count("--tie-embeddings") + app.count("--no-tie-embeddings") > 0) {
    spec.tie_embeddings = tie;
  }
  spec.vocab_dir = vocab_dir;
  if (!chat_template_file.empty()) {
    std::ifstream in(chat_template_file, std::ios::binary);
    spec.chat_template.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::filesystem::path dir =
      vocab_dir.empty() ? hangar::mkmodel::DefaultVocabDir() : std::filesystem::path(vocab_dir);

  if (list) {
    std::cout << "architectures: " << hangar::mkmodel::ArchNames() << "\n"
              << "types: " << hangar::mkmodel::WeightTypeNames() << "\n"
              << "vocabularies (" << dir.string() << "):";
    for (const std::string& v : hangar::mkmodel::ListVocabs(dir)) std::cout << " " << v;
    std::cout << "\n";
    return 0;
  }
  if (!size.empty()) {
    hangar::Result<uint64_t> bytes = hangar::ParseSize(size);
    if (!bytes.ok()) {
      std::cerr << "hangar-mkmodel: " << bytes.status().message() << "\n";
      return 2;
    }
    spec.target_bytes = *bytes;
  }
  if (out.empty() && !dry_run) {
    std::cerr << "hangar-mkmodel: --out is required (or use --dry-run)\n";
    return 2;
  }

  const auto start = std::chrono::steady_clock::now();
  hangar::Result<ModelFacts> facts =
      dry_run ? hangar::mkmodel::PlanModel(spec) : hangar::mkmodel::WriteModel(spec, out);
  if (!facts.ok()) {
    std::cerr << "hangar-mkmodel: " << facts.status().ToString() << "\n";
    return facts.status().code() == hangar::StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (dry_run) facts->path = out;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (json) {
    std::cout << ToJson(*facts, seconds).dump(2) << "\n";
  } else {
    std::cout << Summary(*facts, dry_run) << fmt::format(" in {:.2f} s", seconds) << "\n";
  }
  return 0;
}
