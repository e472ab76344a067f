// ModelRef: what a user names when they pull or run a model (DESIGN.md,
// "Model references"), parsed into where it comes from.
//
//   hf://ORG/REPO[:QUANT|/path/file.gguf][@REVISION]   Hugging Face
//   ORG/REPO[:QUANT][@REVISION]                        the same, short form
//   hf.co/ORG/REPO[:QUANT], huggingface.co/ORG/REPO    the same (llama.cpp / Ollama spelling)
//   ollama://[HOST/][NAMESPACE/]NAME[:TAG]             an Ollama registry
//   NAME:TAG (no '/')                                  the same, library namespace
//   https://host/path/file.gguf, http://...            a plain URL
//   file:///path/file.gguf, /path, ./path, ~/path      a local file
//   anything else                                      a catalog id or alias
//
// Parsing is pure: nothing is looked up; the caller tries the catalog for
// kCatalog (and for NAME:TAG, which may be a catalog alias such as
// "gemma2:2b") before going to a registry.
#ifndef HANGAR_FETCH_MODEL_REF_H_
#define HANGAR_FETCH_MODEL_REF_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hangar::fetch {

enum class RefKind { kHuggingFace, kOllama, kUrl, kFile, kCatalog };
std::string_view RefKindName(RefKind kind);  // "hf", "ollama", "url", "file", "catalog"

inline constexpr std::string_view kDefaultRevision = "main";
inline constexpr std::string_view kOllamaDefaultHost = "registry.ollama.ai";
inline constexpr std::string_view kOllamaDefaultNamespace = "library";
inline constexpr std::string_view kOllamaDefaultTag = "latest";

struct ModelRef {
  RefKind kind = RefKind::kCatalog;
  std::string text;  // as given

  // kHuggingFace
  std::string repo;      // "org/repo"
  std::string quant;     // tag such as "Q4_K_M"; empty: the default choice
  std::string path;      // a file inside the repository; empty: chosen by quant
  std::string revision;  // branch, tag or commit; empty: "main"

  // kOllama
  std::string host;  // empty: the configured registry (default registry.ollama.ai)
  std::string ns;    // namespace, default "library"
  std::string name;
  std::string tag;  // default "latest"

  // kUrl
  std::string url;
  // kFile
  std::filesystem::path file;
  // kCatalog
  std::string catalog_id;

  // The revision to resolve: `revision`, or "main".
  std::string_view Revision() const { return revision.empty() ? kDefaultRevision : revision; }

  // The canonical spelling, used as the installed model's id:
  //   hf://org/repo:Q4_K_M, hf://org/repo/path/file.gguf (no revision)
  //   ollama://qwen3:8b, ollama://user/model:tag, ollama://host/ns/model:tag
  //   the URL; file:///abs/path; the catalog id.
  std::string Canonical() const;
};

// Parses `text`. InvalidArgument (saying what was expected) for an empty
// reference, a bad repository id or path (path traversal included), an empty
// tag, or an unsupported URL scheme.
Result<ModelRef> ParseModelRef(std::string_view text);

// Quantization tags that may appear in a GGUF file name, for --quant and for
// naming installed models: "Q4_K_M" from "Qwen2.5-7B-Instruct-Q4_K_M.gguf".
// Empty when the name carries none.
std::string QuantTagOf(std::string_view file_name);

}  // namespace hangar::fetch

#endif  // HANGAR_FETCH_MODEL_REF_H_
