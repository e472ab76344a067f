#include "fetch/ollama_registry.h"

#include <nlohmann/json.hpp>

#include "core/sha256.h"
#include "store/blob_store.h"
#include "store/discovery.h"

namespace hangar::fetch {
namespace {

Result<OllamaLayer> ParseLayer(const nlohmann::json& j) {
  if (!j.is_object()) return InvalidArgumentError("a manifest layer is not an object");
  OllamaLayer l;
  l.media_type = j.value("mediaType", "");
  const std::string digest = j.value("digest", "");
  if (!digest.starts_with("sha256:") || !store::ValidateSha256(digest.substr(7)).ok()) {
    return InvalidArgumentError("a manifest layer has the malformed digest '" + digest + "'");
  }
  l.digest = digest.substr(7);
  if (j.contains("size") && j["size"].is_number_unsigned()) l.size = j["size"].get<uint64_t>();
  l.role = store::OllamaLayerRole(l.media_type);
  return l;
}

}  // namespace

const OllamaLayer* OllamaManifest::model() const {
  for (const OllamaLayer& l : layers) {
    if (l.role == "weights") return &l;
  }
  return nullptr;
}

Result<OllamaManifest> ParseOllamaManifest(std::string text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("layers") ||
      !doc["layers"].is_array()) {
    return InvalidArgumentError("not an Ollama manifest (no layers array)");
  }
  OllamaManifest m;
  if (doc.contains("config")) {
    ASSIGN_OR_RETURN(m.config, ParseLayer(doc["config"]));
  }
  for (const nlohmann::json& l : doc["layers"]) {
    ASSIGN_OR_RETURN(OllamaLayer layer, ParseLayer(l));
    m.layers.push_back(std::move(layer));
  }
  if (m.model() == nullptr) return InvalidArgumentError("the Ollama manifest has no model layer");
  Sha256 h;
  h.Update(text);
  m.digest = h.FinishHex();
  m.text = std::move(text);
  return m;
}

OllamaRegistry::OllamaRegistry(HttpClient& http, const Environment& env) : http_(http) {
  if (auto base = env.Get("OLLAMA_REGISTRY"); base && !base->empty()) {
    override_base_ = *base;
    while (override_base_.ends_with("/")) override_base_.pop_back();
    token_ = env.Get("OLLAMA_REGISTRY_TOKEN").value_or("");
  }
}

std::string OllamaRegistry::BaseUrl(const ModelRef& ref) const {
  if (!override_base_.empty()) return override_base_;
  return "https://" + (ref.host.empty() ? std::string(kOllamaDefaultHost) : ref.host);
}

HttpHeaders OllamaRegistry::Headers() const {
  HttpHeaders h;
  h.Set("User-Agent", "hangar/0.1");
  if (!token_.empty()) h.Set("Authorization", "Bearer " + token_);
  return h;
}

std::string OllamaRegistry::BlobUrl(const ModelRef& ref, std::string_view digest_hex) const {
  return BaseUrl(ref) + "/v2/" + ref.ns + "/" + ref.name +
         "/blobs/sha256:" + std::string(digest_hex);
}

Result<OllamaManifest> OllamaRegistry::GetManifest(const ModelRef& ref) {
  HttpRequest req;
  req.url = BaseUrl(ref) + "/v2/" + ref.ns + "/" + ref.name + "/manifests/" + ref.tag;
  req.headers = Headers();
  req.headers.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json");
  req.errors = HttpErrorMode::kResponse;
  req.timeout_ms = 60'000;
  ASSIGN_OR_RETURN(HttpResponse r, http_.Fetch(req, 4 << 20));
  if (r.status == 404) {
    return NotFoundError("the Ollama registry " + BaseUrl(ref) + " has no model " +
                         (ref.ns == kOllamaDefaultNamespace ? "" : ref.ns + "/") + ref.name + ":" +
                         ref.tag);
  }
  if (!r.is_success()) return HttpErrorStatus(r);
  Result<OllamaManifest> m = ParseOllamaManifest(std::move(r.body));
  if (!m.ok()) return m.status().WithContext(req.url);
  return m;
}

}  // namespace hangar::fetch
