#include "fetch/model_ref.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "store/hf_cache.h"

namespace hangar::fetch {
namespace {

bool IsTagChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

Status CheckTag(std::string_view tag, std::string_view what, std::string_view text) {
  if (tag.empty() || !std::all_of(tag.begin(), tag.end(), IsTagChar)) {
    return InvalidArgumentError("'" + std::string(text) + "': the " + std::string(what) +
                                " must be letters, digits, '_', '.' or '-'");
  }
  return Status::Ok();
}

// Splits "x@rev" into x and rev (rev may be empty when there is no '@').
std::pair<std::string_view, std::string_view> SplitRevision(std::string_view s) {
  const size_t at = s.rfind('@');
  if (at == std::string_view::npos) return {s, {}};
  return {s.substr(0, at), s.substr(at + 1)};
}

// ORG/REPO[:QUANT|/path][@REV], after any scheme or host prefix.
Result<ModelRef> ParseHf(std::string_view body, std::string_view text, bool allow_path) {
  ModelRef ref;
  ref.kind = RefKind::kHuggingFace;
  ref.text = std::string(text);
  auto [rest, revision] = SplitRevision(body);
  if (body.find('@') != std::string_view::npos) {
    RETURN_IF_ERROR(CheckTag(revision, "revision", text));
    RETURN_IF_ERROR(store::ValidateRepoPath(revision));
    ref.revision = std::string(revision);
  }
  const size_t first = rest.find('/');
  if (first == std::string_view::npos) {
    return InvalidArgumentError("'" + std::string(text) +
                                "' is not a Hugging Face reference: expected ORG/REPO[:QUANT]");
  }
  const size_t second = rest.find('/', first + 1);
  std::string_view repo = rest.substr(0, second);
  std::string_view path =
      second == std::string_view::npos ? std::string_view{} : rest.substr(second + 1);
  if (!path.empty() && !allow_path) {
    return InvalidArgumentError("'" + std::string(text) +
                                "': name a file inside a repository as hf://ORG/REPO/PATH");
  }
  if (path.empty()) {
    const size_t colon = repo.find(':');
    if (colon != std::string_view::npos) {
      ref.quant = std::string(repo.substr(colon + 1));
      repo = repo.substr(0, colon);
      RETURN_IF_ERROR(CheckTag(ref.quant, "quantization tag", text));
    }
  } else {
    RETURN_IF_ERROR(store::ValidateRepoPath(path));
    ref.path = std::string(path);
  }
  RETURN_IF_ERROR(store::ValidateRepoId(repo));
  if (repo.find('/') == std::string_view::npos) {
    return InvalidArgumentError("'" + std::string(text) + "': expected ORG/REPO");
  }
  ref.repo = std::string(repo);
  return ref;
}

// [HOST/][NAMESPACE/]NAME[:TAG]
Result<ModelRef> ParseOllama(std::string_view body, std::string_view text) {
  ModelRef ref;
  ref.kind = RefKind::kOllama;
  ref.text = std::string(text);
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t slash = body.find('/', start);
    parts.push_back(body.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() > 3 ||
      std::any_of(parts.begin(), parts.end(), [](std::string_view p) { return p.empty(); })) {
    return InvalidArgumentError(
        "'" + std::string(text) +
        "' is not an Ollama reference: expected [HOST/][NAMESPACE/]NAME[:TAG]");
  }
  // As Ollama names are read: from the right, so two parts are
  // NAMESPACE/NAME and only three name a registry host.
  if (parts.size() == 3) {
    ref.host = std::string(parts[0]);
    parts.erase(parts.begin());
  }
  std::string_view name = parts.back();
  ref.ns = parts.size() == 2 ? std::string(parts[0]) : std::string(kOllamaDefaultNamespace);
  const size_t colon = name.find(':');
  ref.tag = std::string(kOllamaDefaultTag);
  if (colon != std::string_view::npos) {
    ref.tag = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
    RETURN_IF_ERROR(CheckTag(ref.tag, "tag", text));
  }
  RETURN_IF_ERROR(CheckTag(name, "model name", text));
  RETURN_IF_ERROR(CheckTag(ref.ns, "namespace", text));
  if (name == "." || name == ".." || ref.ns == "." || ref.ns == ".." || ref.tag == "." ||
      ref.tag == "..") {
    return InvalidArgumentError("'" + std::string(text) + "': '.' and '..' are not names");
  }
  ref.name = std::string(name);
  return ref;
}

bool IsPathLike(std::string_view s) {
  return s.starts_with("/") || s.starts_with("./") || s.starts_with("../") || s.starts_with("~/") ||
         s.ends_with(".gguf") || s.ends_with(".GGUF");
}

}  // namespace

std::string_view RefKindName(RefKind kind) {
  switch (kind) {
    case RefKind::kHuggingFace:
      return "hf";
    case RefKind::kOllama:
      return "ollama";
    case RefKind::kUrl:
      return "url";
    case RefKind::kFile:
      return "file";
    case RefKind::kCatalog:
      return "catalog";
  }
  return "catalog";
}

std::string ModelRef::Canonical() const {
  switch (kind) {
    case RefKind::kHuggingFace:
      if (!path.empty()) return "hf://" + repo + "/" + path;
      return "hf://" + repo + (quant.empty() ? "" : ":" + quant);
    case RefKind::kOllama: {
      std::string s = "ollama://";
      if (!host.empty())
        s += host + "/" + ns + "/";
      else if (ns != kOllamaDefaultNamespace)
        s += ns + "/";
      return s + name + ":" + tag;
    }
    case RefKind::kUrl:
      return url;
    case RefKind::kFile:
      return "file://" + file.string();
    case RefKind::kCatalog:
      return catalog_id;
  }
  return text;
}

Result<ModelRef> ParseModelRef(std::string_view text) {
  auto trimmed = text;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())))
    trimmed.remove_prefix(1);
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
    trimmed.remove_suffix(1);
  if (trimmed.empty()) return InvalidArgumentError("an empty model reference names nothing");
  if (trimmed.starts_with("hf://")) return ParseHf(trimmed.substr(5), trimmed, true);
  for (std::string_view host : {"hf.co/", "huggingface.co/"}) {
    if (trimmed.starts_with(host)) return ParseHf(trimmed.substr(host.size()), trimmed, false);
  }
  if (trimmed.starts_with("ollama://")) return ParseOllama(trimmed.substr(9), trimmed);
  if (trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
    ModelRef ref;
    ref.kind = RefKind::kUrl;
    ref.text = std::string(trimmed);
    ref.url = std::string(trimmed);
    const size_t host_start = ref.url.find("://") + 3;
    if (ref.url.size() <= host_start || ref.url[host_start] == '/') {
      return InvalidArgumentError("'" + ref.url + "' has no host");
    }
    return ref;
  }
  if (trimmed.starts_with("file://")) {
    ModelRef ref;
    ref.kind = RefKind::kFile;
    ref.text = std::string(trimmed);
    ref.file = std::string(trimmed.substr(7));
    if (ref.file.empty()) return InvalidArgumentError("'" + ref.text + "' names no file");
    return ref;
  }
  const size_t scheme = trimmed.find("://");
  if (scheme != std::string_view::npos) {
    return InvalidArgumentError("'" + std::string(trimmed) +
                                "': unsupported scheme; use hf://, ollama://, https://, http:// "
                                "or file://");
  }
  if (IsPathLike(trimmed)) {
    ModelRef ref;
    ref.kind = RefKind::kFile;
    ref.text = std::string(trimmed);
    ref.file = std::string(trimmed);
    return ref;
  }
  if (trimmed.find('/') != std::string_view::npos) return ParseHf(trimmed, trimmed, false);
  if (trimmed.find(':') != std::string_view::npos) return ParseOllama(trimmed, trimmed);
  ModelRef ref;
  ref.kind = RefKind::kCatalog;
  ref.text = std::string(trimmed);
  ref.catalog_id = std::string(trimmed);
  return ref;
}

std::string QuantTagOf(std::string_view file_name) {
  std::string name(file_name);
  if (const size_t slash = name.rfind('/'); slash != std::string::npos)
    name = name.substr(slash + 1);
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.ends_with(".GGUF")) upper.resize(upper.size() - 5);
  std::vector<std::string> tokens;
  std::string cur;
  for (char c : upper) {
    if (c == '-' || c == '.') {
      tokens.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  tokens.push_back(cur);
  auto is_quant = [](const std::string& t) {
    if (t == "F16" || t == "F32" || t == "BF16" || t == "FP16") return true;
    auto digit_after = [&](size_t i) {
      return t.size() > i && std::isdigit(static_cast<unsigned char>(t[i]));
    };
    if (t.starts_with("IQ") && digit_after(2)) return true;
    if (t.starts_with("Q") && digit_after(1)) return true;
    if (t.starts_with("TQ") && digit_after(2)) return true;
    return false;
  };
  for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
    if (is_quant(*it)) return *it;
  }
  return "";
}

}  // namespace hangar::fetch
