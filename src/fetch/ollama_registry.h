// OllamaRegistry: the registry protocol Ollama pulls from (Docker
// distribution v2, REFERENCE.md "Ollama"):
//
//   GET {base}/v2/{namespace}/{name}/manifests/{tag}   the manifest (JSON): a
//       config blob and layers, each {mediaType, digest "sha256:<hex>", size};
//       the layer application/vnd.ollama.image.model is the GGUF, others are
//       template, params, system, license, projector, adapter, messages
//   GET {base}/v2/{namespace}/{name}/blobs/{digest}    a layer's bytes (the
//       registry redirects to a CDN)
//
// {base} is `OLLAMA_REGISTRY` when set (a URL such as http://127.0.0.1:5000,
// for mirrors and tests), else https://{host} with the reference's host
// (default registry.ollama.ai). `OLLAMA_REGISTRY_TOKEN`, when set with
// OLLAMA_REGISTRY, goes to that registry as a bearer token (a `hangar serve
// --mirror` with an API key); never to the default registry. Thread-safe as
// far as the HttpClient is.
#ifndef HANGAR_FETCH_OLLAMA_REGISTRY_H_
#define HANGAR_FETCH_OLLAMA_REGISTRY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "fetch/http_client.h"
#include "fetch/model_ref.h"

namespace hangar::fetch {

struct OllamaLayer {
  std::string media_type;
  std::string digest;  // lowercase hex, without "sha256:"
  uint64_t size = 0;
  std::string role;  // "weights", "template", ... (store::OllamaLayerRole)
};

struct OllamaManifest {
  std::string text;    // the bytes, as stored in a manifests/ file
  std::string digest;  // SHA-256 of `text`: what `ollama` shows as the model's id
  OllamaLayer config;
  std::vector<OllamaLayer> layers;
  // The model layer; nullptr when the manifest has none.
  const OllamaLayer* model() const;
};

// Parses manifest JSON. InvalidArgument when it is malformed, a digest is not
// "sha256:" + 64 hex digits, or it has no model layer.
Result<OllamaManifest> ParseOllamaManifest(std::string text);

class OllamaRegistry {
 public:
  OllamaRegistry(HttpClient& http, const Environment& env);

  // The base URL for `ref` (see the file comment).
  std::string BaseUrl(const ModelRef& ref) const;
  // NotFound ("no model NAME:TAG in the registry ...") for 404; errors of
  // HttpClient otherwise; InvalidArgument for a malformed manifest.
  Result<OllamaManifest> GetManifest(const ModelRef& ref);
  std::string BlobUrl(const ModelRef& ref, std::string_view digest_hex) const;
  HttpHeaders Headers() const;

 private:
  HttpClient& http_;
  std::string override_base_;
  std::string token_;  // OLLAMA_REGISTRY_TOKEN, for override_base_ only
};

}  // namespace hangar::fetch

#endif  // HANGAR_FETCH_OLLAMA_REGISTRY_H_
