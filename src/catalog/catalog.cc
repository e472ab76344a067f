#include "catalog/catalog.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "catalog/builtin_catalog.h"
#include "core/strings.h"

namespace hangar {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool ConsumePrefix(std::string& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.erase(0, prefix.size());
  return true;
}

bool ValidIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

// Edit distance, for "did you mean" suggestions.
size_t Levenshtein(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

bool CatalogFilter::Matches(const CatalogEntry& entry) const {
  if (purpose && entry.purpose != *purpose) return false;
  if (format && entry.format != *format) return false;
  if (!tag.empty() && !entry.HasTag(tag)) return false;
  if (!family.empty() && AsciiLower(entry.family) != AsciiLower(family)) return false;
  if (max_ram_bytes > 0 && entry.min_ram_bytes > max_ram_bytes) return false;
  if (max_vram_bytes > 0 && entry.min_vram_bytes > max_vram_bytes) return false;
  if (recommended_only && !entry.recommended) return false;
  return true;
}

Catalog Catalog::WithBuiltins() {
  Catalog catalog;
  catalog.entries_ = MakeBuiltinEntries();
  catalog.RebuildIndex();
  return catalog;
}

void Catalog::IndexEntry(size_t index) {
  const CatalogEntry& e = entries_[index];
  ids_[AsciiLower(e.id)] = index;
  // Other names: the first entry to claim one keeps it.
  for (const std::string& alias : e.aliases) aliases_.emplace(AsciiLower(alias), index);
  for (const ModelSource& s : e.sources) {
    std::string repo = AsciiLower(s.repo);
    switch (s.kind) {
      case SourceKind::kOllama:
        aliases_.emplace(repo, index);
        break;
      case SourceKind::kHuggingFace: {
        if (!e.quantization.empty())
          aliases_.emplace(repo + ":" + AsciiLower(e.quantization), index);
        if (!s.file.empty()) aliases_.emplace(repo + "/" + AsciiLower(s.file), index);
        std::vector<size_t>& in_repo = repos_[repo];
        if (std::find(in_repo.begin(), in_repo.end(), index) == in_repo.end()) {
          in_repo.push_back(index);
        }
        break;
      }
      case SourceKind::kUrl:
        aliases_.emplace(repo, index);
        break;
    }
  }
}

void Catalog::RebuildIndex() {
  ids_.clear();
  aliases_.clear();
  repos_.clear();
  ids_.reserve(entries_.size());
  aliases_.reserve(entries_.size() * 8);
  for (size_t i = 0; i < entries_.size(); ++i) IndexEntry(i);
}

const CatalogEntry* Catalog::FindKey(const std::string& key) const {
  if (auto it = ids_.find(key); it != ids_.end()) return &entries_[it->second];
  if (auto it = aliases_.find(key); it != aliases_.end()) return &entries_[it->second];
  return nullptr;
}

const CatalogEntry* Catalog::FindById(std::string_view ref) const {
  std::string key = AsciiLower(Trim(ref));
  if (key.empty()) return nullptr;
  if (const CatalogEntry* e = FindKey(key)) return e;

  // Ollama: [ollama://][registry.ollama.ai/][library/]NAME[:TAG], TAG "latest" by default.
  std::string name = key;
  bool ollama = ConsumePrefix(name, "ollama://");
  ConsumePrefix(name, "registry.ollama.ai/");
  bool library = ConsumePrefix(name, "library/");
  if (ollama || library || name.find('/') == std::string::npos) {
    if (const CatalogEntry* e = FindKey(name)) return e;
    if (name.find(':') == std::string::npos) {
      if (const CatalogEntry* e = FindKey(name + ":latest")) return e;
    }
    if (ollama) return nullptr;
  }

  // Hugging Face: [hf://]ORG/REPO[:QUANT | /FILE].
  std::string hf = key;
  ConsumePrefix(hf, "hf://");
  if (const CatalogEntry* e = FindKey(hf)) return e;
  if (hf.find(':') != std::string::npos || std::count(hf.begin(), hf.end(), '/') != 1) {
    return nullptr;
  }
  auto it = repos_.find(hf);
  if (it == repos_.end() || it->second.empty()) return nullptr;
  for (std::string_view preferred : {"q4_k_m", "q8_0"}) {
    for (size_t index : it->second) {
      if (AsciiLower(entries_[index].quantization) == preferred) return &entries_[index];
    }
  }
  return &entries_[it->second.front()];
}

Result<const CatalogEntry*> Catalog::Lookup(std::string_view ref) const {
  if (const CatalogEntry* e = FindById(ref)) return e;
  std::string key = AsciiLower(Trim(ref));
  std::string message = "no catalog model matches \"" + std::string(Trim(ref)) + "\"";
  const CatalogEntry* suggestion = nullptr;
  size_t best = key.size() / 3 + 2;  // farther than this is no suggestion
  for (const CatalogEntry& e : entries_) {
    std::string id = AsciiLower(e.id);
    if (!key.empty() && id.starts_with(key)) {
      suggestion = &e;
      break;
    }
    size_t d = Levenshtein(key, id);
    if (d < best) {
      best = d;
      suggestion = &e;
    }
  }
  if (suggestion != nullptr) message += "; did you mean \"" + suggestion->id + "\"?";
  message += "; run \"hangar list --all\" to see every catalog id";
  return NotFoundError(std::move(message));
}

std::vector<const CatalogEntry*> Catalog::Filter(const CatalogFilter& filter) const {
  std::vector<const CatalogEntry*> out;
  for (const CatalogEntry& e : entries_) {
    if (filter.Matches(e)) out.push_back(&e);
  }
  return out;
}

Status Catalog::Upsert(CatalogEntry entry) {
  if (entry.id.empty()) {
    return InvalidArgumentError("a catalog entry needs an id; give the preset a name");
  }
  if (!std::all_of(entry.id.begin(), entry.id.end(), ValidIdChar)) {
    return InvalidArgumentError("catalog id \"" + entry.id +
                                "\" has characters other than letters, digits, '.', '-' "
                                "and '_'; rename it, e.g. \"my-model-q4\"");
  }
  FillDerivedFields(entry);
  auto it = ids_.find(AsciiLower(entry.id));
  if (it != ids_.end()) {
    entry.id = entries_[it->second].id;  // keep the id's spelling stable
    entries_[it->second] = std::move(entry);
    RebuildIndex();  // the replaced entry's old names may belong to others now
    return Status::Ok();
  }
  entries_.push_back(std::move(entry));
  IndexEntry(entries_.size() - 1);
  return Status::Ok();
}

const Catalog& DefaultCatalog() {
  static const Catalog catalog = Catalog::WithBuiltins();
  return catalog;
}

std::span<const CatalogEntry> BuiltinCatalog() { return DefaultCatalog().entries(); }

const CatalogEntry* FindById(std::string_view ref) { return DefaultCatalog().FindById(ref); }

std::vector<const CatalogEntry*> Filter(const CatalogFilter& filter) {
  return DefaultCatalog().Filter(filter);
}

}  // namespace hangar
