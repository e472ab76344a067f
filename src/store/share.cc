#include "store/share.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <system_error>

#include "core/file_util.h"
#include "core/sha256.h"
#include "store/blob_store.h"

namespace hangar::store {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kOllamaHost = "registry.ollama.ai";

bool IsOllamaNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

Status CheckOllamaPart(std::string_view part, std::string_view name) {
  if (part.empty() || part == "." || part == ".." ||
      !std::all_of(part.begin(), part.end(), IsOllamaNameChar)) {
    return InvalidArgumentError("'" + std::string(name) +
                                "' is not an Ollama name: [NAMESPACE/]NAME[:TAG] of lowercase "
                                "letters, digits, '.', '-' and '_'");
  }
  return Status::Ok();
}

bool SameFile(const fs::path& a, const fs::path& b) {
  struct stat sa {
  }, sb{};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// The digest of a file of the model, hashing it when unknown.
Result<std::string> DigestOf(const InstalledFile& f, ShareResult& result) {
  if (!f.digest.empty()) return f.digest;
  ASSIGN_OR_RETURN(std::string hex, Sha256File(f.blob));
  result.digests.emplace_back(f.path.string(), hex);
  return hex;
}

std::string OllamaMediaType(std::string_view role) {
  if (role == "weights") return "application/vnd.ollama.image.model";
  return "application/vnd.ollama.image." + std::string(role);
}

}  // namespace

std::string_view LinkKindName(LinkKind kind) {
  switch (kind) {
    case LinkKind::kHardLink:
      return "hardlink";
    case LinkKind::kSymlink:
      return "symlink";
    case LinkKind::kAlreadyThere:
      return "existing";
  }
  return "hardlink";
}

Result<LinkKind> LinkInto(const fs::path& file, const fs::path& to) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(to, ec))) {
    if (SameFile(file, to)) return LinkKind::kAlreadyThere;
    return AlreadyExistsError(to.string() +
                              " exists and is another file; remove it or choose another name");
  }
  fs::create_directories(to.parent_path(), ec);
  if (ec)
    return UnavailableError("cannot create " + to.parent_path().string() + ": " + ec.message());
  fs::create_hard_link(file, to, ec);
  if (!ec) return LinkKind::kHardLink;
  ec.clear();
  fs::create_symlink(fs::absolute(file), to, ec);
  if (!ec) return LinkKind::kSymlink;
  return UnavailableError("cannot link " + file.string() + " to " + to.string() + ": " +
                          ec.message());
}

std::string DefaultShareName(const InstalledModel& model) {
  std::string base = model.catalog_id;
  if (base.empty()) {
    base = model.primary_path.filename().string();
    std::string lower;
    for (char c : base) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.ends_with(".gguf")) base.resize(base.size() - 5);
    if (base.starts_with("sha256-")) base = model.name;
  }
  std::string out;
  for (char c : base) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out += IsOllamaNameChar(l) ? l : '-';
  }
  while (!out.empty() && (out.front() == '-' || out.front() == '.')) out.erase(out.begin());
  return out.empty() ? "model" : out;
}

Result<ShareResult> ShareWithOllama(const InstalledModel& model, const fs::path& ollama_models,
                                    std::string_view name) {
  std::string ns = "library", short_name(name), tag = "latest";
  if (const size_t colon = short_name.find(':'); colon != std::string::npos) {
    tag = short_name.substr(colon + 1);
    short_name = short_name.substr(0, colon);
  }
  if (const size_t slash = short_name.find('/'); slash != std::string::npos) {
    ns = short_name.substr(0, slash);
    short_name = short_name.substr(slash + 1);
  }
  RETURN_IF_ERROR(CheckOllamaPart(ns, name));
  RETURN_IF_ERROR(CheckOllamaPart(short_name, name));
  RETURN_IF_ERROR(CheckOllamaPart(tag, name));
  if (model.format != "gguf") {
    return FailedPreconditionError("Ollama runs GGUF models; " + model.id + " is " + model.format);
  }
  ShareResult result;
  result.tool = "ollama";
  result.name = (ns == "library" ? "" : ns + "/") + short_name + ":" + tag;
  const fs::path blobs = ollama_models / "blobs";
  nlohmann::json layers = nlohmann::json::array();
  nlohmann::json diff_ids = nlohmann::json::array();
  size_t weights = 0;
  for (const InstalledFile& f : model.files) {
    if (f.role == "weights") ++weights;
  }
  if (weights != 1) {
    return FailedPreconditionError(
        "Ollama keeps a model as one GGUF file; " + model.id + " has " + std::to_string(weights) +
        " weight files (a split model): merge it with llama-gguf-split --merge first");
  }
  for (const InstalledFile& f : model.files) {
    if (f.role == "other") continue;
    ASSIGN_OR_RETURN(std::string hex, DigestOf(f, result));
    const fs::path to = blobs / ("sha256-" + hex);
    ASSIGN_OR_RETURN(LinkKind kind, LinkInto(f.blob, to));
    result.files.push_back({f.blob, to, kind});
    nlohmann::json layer = {{"mediaType", OllamaMediaType(f.role)},
                            {"digest", "sha256:" + hex},
                            {"size", f.size_bytes}};
    if (f.role == "weights") {
      layers.insert(layers.begin(), layer);
      diff_ids.insert(diff_ids.begin(), "sha256:" + hex);
    } else {
      layers.push_back(layer);
      diff_ids.push_back("sha256:" + hex);
    }
  }
  const std::string arch = model.metadata.value("architecture", "");
  const nlohmann::json config = {
      {"model_format", "gguf"},
      {"model_family", arch},
      {"model_families", nlohmann::json::array({arch})},
      {"model_type",
       model.metadata.value("parameters", uint64_t{0}) > 0
           ? std::to_string(model.metadata.value("parameters", uint64_t{0}) / 1000000) + "M"
           : ""},
      {"file_type", model.metadata.value("quantization", "")},
      {"architecture", "amd64"},
      {"os", "linux"},
      {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
  };
  const std::string config_text =
      config.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  Sha256 ch;
  ch.Update(config_text);
  const std::string config_hex = ch.FinishHex();
  RETURN_IF_ERROR(WriteFileAtomic(blobs / ("sha256-" + config_hex), config_text));
  const nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
      {"config",
       {{"mediaType", "application/vnd.docker.container.image.v1+json"},
        {"digest", "sha256:" + config_hex},
        {"size", config_text.size()}}},
      {"layers", layers},
  };
  result.index = ollama_models / "manifests" / std::string(kOllamaHost) / ns / short_name / tag;
  RETURN_IF_ERROR(WriteFileAtomic(
      result.index, manifest.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  return result;
}

Result<ShareResult> ShareWithLmStudio(const InstalledModel& model, const fs::path& lmstudio_models,
                                      std::string_view name) {
  std::string publisher = "hangar", folder(name);
  if (const size_t slash = folder.find('/'); slash != std::string::npos) {
    publisher = folder.substr(0, slash);
    folder = folder.substr(slash + 1);
  }
  for (const std::string& part : {publisher, folder}) {
    if (part.empty() || part == "." || part == ".." || part.find('/') != std::string::npos ||
        part.find('\\') != std::string::npos) {
      return InvalidArgumentError("'" + std::string(name) +
                                  "' is not an LM Studio name: [PUBLISHER/]MODEL");
    }
  }
  if (model.format != "gguf") {
    return FailedPreconditionError("LM Studio runs GGUF models here; " + model.id + " is " +
                                   model.format);
  }
  ShareResult result;
  result.tool = "lmstudio";
  result.name = publisher + "/" + folder;
  result.index = lmstudio_models / publisher / folder;
  for (const InstalledFile& f : model.files) {
    if (f.role != "weights" && f.role != "projector") continue;
    // A blob named by its digest gets a file name LM Studio shows.
    std::string file_name = f.path.filename().string();
    if (file_name.starts_with("sha256-") || file_name.find('.') == std::string::npos) {
      file_name = folder + (f.role == "projector" ? "-mmproj" : "") + ".gguf";
    }
    const fs::path to = result.index / file_name;
    ASSIGN_OR_RETURN(LinkKind kind, LinkInto(f.blob, to));
    result.files.push_back({f.blob, to, kind});
  }
  if (result.files.empty()) {
    return FailedPreconditionError(model.id + " has no GGUF file to share");
  }
  return result;
}

}  // namespace hangar::store
