// Puller: `hangar pull` below the facade. A reference goes through
//
//   Plan()    resolve the source and list what to fetch: Hugging Face (the
//             tree listing, the quantization's file(s) and split parts, one
//             HEAD per file for commit, SHA-256, size and CDN URL), an Ollama
//             registry (the manifest and its layers) or a plain URL; files
//             already in the store (pulled by Hangar or by another tool into
//             the HF cache) are marked cached and are not fetched again;
//   Header()  read the primary GGUF file's header remotely (HTTP Range) so the
//             caller can decide whether the model fits before downloading;
//   Fetch()   download every file that is not cached (segmented, verified,
//             resumable: fetch/downloader.h) and put it in place: HF files as
//             blobs + snapshot links + refs, Ollama layers and plain files as
//             Hangar blobs (+ an Ollama-format manifest);
//   Record()  the installed-model record for the state database.
//
// Offline (HfSettings::offline or PullOptions::offline): Plan() answers from
// the caches alone (refs/{revision} -> commit -> snapshot files; Hangar's
// Ollama manifests) and fails with Unavailable naming what is missing.
//
// Thread-safety: one Puller per pull; the HttpClient is shared.
#ifndef HANGAR_FETCH_PULLER_H_
#define HANGAR_FETCH_PULLER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "fetch/downloader.h"
#include "fetch/hf_hub.h"
#include "fetch/model_ref.h"
#include "fetch/ollama_registry.h"
#include "fetch/remote_header.h"
#include "store/model_db.h"

namespace hangar::fetch {

struct PullOptions {
  std::string quant;     // --quant: overrides the reference's tag
  std::string revision;  // --revision: overrides the reference's
  std::string sha256;    // --sha256: the expected digest of a single-file pull
  bool offline = false;  // --offline (or HF_HUB_OFFLINE)
  DownloadOptions download;
  std::function<bool()> cancelled;
};

struct PullFile {
  std::string name;  // path in the repository, layer role, or URL file name
  std::string role = "weights";
  std::string url;  // where the bytes are (CDN URL after the hub's redirect)
  HttpHeaders headers;
  uint64_t size = 0;                  // 0: unknown
  std::string sha256;                 // expected; empty when the source gives none
  std::string blob_id;                // HF blob id (sha256 or git sha1)
  std::filesystem::path destination;  // the verified file (HF blob, Hangar blob)
  std::filesystem::path partial;
  std::filesystem::path lock;
  std::filesystem::path visible;  // HF snapshot entry; == destination otherwise
  bool cached = false;            // already there: nothing to fetch
  uint64_t resumed_bytes = 0;     // kept from an interrupted earlier pull
  uint64_t fetched_bytes = 0;     // fetched by this pull
  int64_t verify_ms = 0;          // from the last byte written to the digest known
};

struct PullPlan {
  ModelRef ref;                 // what was asked for
  std::string model_id;         // the installed model's id ("hf://ORG/REPO/PATH", "ollama://...")
  std::string name;             // display name ("ORG/REPO:Q4_K_M", "qwen3:8b", file name)
  std::string source;           // "hf", "ollama", "url"
  std::string revision;         // HF commit, Ollama manifest digest, URL ETag
  std::string revision_ref;     // the branch or tag asked for ("main"), to check for updates
  std::string quant;            // the quantization tag chosen
  std::vector<PullFile> files;  // the primary file first
  std::string manifest_text;    // Ollama: the manifest to store
  std::filesystem::path manifest_path;
  uint64_t total_bytes() const;
  uint64_t missing_bytes() const;  // of files not cached
  bool all_cached() const;
};

struct PullStores {
  std::filesystem::path hf_hub_cache;
  std::filesystem::path hangar_data;    // Hangar's blob store root
  std::filesystem::path ollama_models;  // Ollama's store: its blobs are linked, not fetched
};

// Progress of one file of the plan: its index and the downloader's event.
using PullProgressFn = std::function<void(size_t file, const DownloadProgress&)>;

class Puller {
 public:
  Puller(HttpClient& http, const Environment& env, PullStores stores);

  // See the file comment. `ref` is not a catalog reference (the caller
  // turns a catalog id into its source first). Errors of the sources:
  // NotFound (repository, revision, file, quantization, Ollama model),
  // FailedPrecondition (401/403, naming HF_TOKEN), InvalidArgument (a hostile
  // listing, a bad reference), Unavailable (network, offline and not cached).
  Result<PullPlan> Plan(const ModelRef& ref, const PullOptions& options);

  // The primary file's GGUF header, read remotely. FailedPrecondition for a
  // file that is not GGUF-named, or whose server has no Range support.
  Result<RemoteHeader> Header(const PullPlan& plan);

  // Fetches what is not cached, in plan order, and puts everything in place.
  // Errors of the Downloader (see downloader.h), and Unavailable on I/O
  // errors while linking. `plan` gets the digests learnt on the way.
  Status Fetch(PullPlan& plan, const PullOptions& options, const PullProgressFn& progress);

  // The installed-model record (managed; metadata, entry facts and catalog
  // id are the caller's to fill).
  store::InstalledModel Record(const PullPlan& plan, int64_t now) const;

 private:
  Result<PullPlan> PlanHf(const ModelRef& ref, const PullOptions& options);
  Result<PullPlan> PlanHfOffline(const ModelRef& ref, const PullOptions& options);
  Result<PullPlan> PlanOllama(const ModelRef& ref, const PullOptions& options);
  Result<PullPlan> PlanUrl(const ModelRef& ref, const PullOptions& options);

  HttpClient& http_;
  HfHub hub_;
  OllamaRegistry registry_;
  PullStores stores_;
};

}  // namespace hangar::fetch

#endif  // HANGAR_FETCH_PULLER_H_
