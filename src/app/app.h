// App: the facade of Hangar's use cases. The command line (cli/) and the HTTP
// server (server/) call only this; it composes the modules below (config,
// catalog, hardware, gguf, ...) and owns what they share within a process:
// the resolved paths, the loaded configuration, the merged catalog and the
// cached hardware report.
//
// Side effects come in through Deps (environment, clock, NVML, the root of
// /proc and /sys), so tests build an App over fixture folders; Defaults()
// wires the real ones.
//
// Not thread-safe: one App serves one thread (the server gives each worker
// its own, or serialises calls).
#ifndef HANGAR_APP_APP_H_
#define HANGAR_APP_APP_H_

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/models.h"
#include "catalog/catalog.h"
#include "config/config.h"
#include "config/profile.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/paths.h"
#include "core/status.h"
#include "fetch/http_client.h"
#include "fetch/puller.h"
#include "fit/memory.h"
#include "fit/planner.h"
#include "fit/recommend.h"
#include "gguf/gguf_file.h"
#include "gguf/summary.h"
#include "hardware/hardware.h"
#include "runtime/backend.h"
#include "runtime/health.h"
#include "runtime/session.h"
#include "runtime/usage_store.h"
#include "store/cache.h"
#include "store/discovery.h"
#include "store/model_db.h"
#include "store/share.h"
#include "store/state_db.h"

namespace hangar::app {

struct Deps {
  std::shared_ptr<const Environment> env;
  const Clock* clock = nullptr;
  // NVIDIA GPUs are probed through this; nullptr probes none.
  std::shared_ptr<NvmlApi> nvml;
  // Root of /proc, /sys and /etc for the hardware probe.
  std::filesystem::path hardware_root = "/";
  // HTTP for pulls and the ollama/openai backends; nullptr: libcurl's client,
  // made on first use.
  std::shared_ptr<HttpClient> http;
};

class App {
 public:
  explicit App(Deps deps);
  // The real environment, clock and NVML.
  static App Defaults();

  App(App&&) = default;
  App& operator=(App&&) = default;

  // Paths from the environment. FailedPrecondition without HOME.
  Result<const Paths*> paths();
  // config.toml, loaded once. InvalidArgument for a broken file.
  Result<const Config*> config();
  // The built-in catalog with the user's presets merged in (loaded once).
  Result<const ModelIndex*> models();

  // --- models -------------------------------------------------------------
  Result<std::vector<ModelView>> ListModels(const ListQuery& query);
  // NotFound (with a suggestion) when nothing matches `ref`.
  Result<ModelView> Info(std::string_view ref);
  // Checks a model's local files; see ValidationReport. NotFound for an
  // unknown model; FailedPrecondition when it has no local files.
  Result<ValidationReport> Validate(std::string_view ref);
  // The configured default model id, if any.
  Result<std::optional<std::string>> DefaultModel();
  // Resolves `ref` and records its id as the default. NotFound for an
  // unknown model; InvalidArgument/Unavailable from the config writer.
  Result<std::string> SetDefaultModel(std::string_view ref);

  // --- inspection ----------------------------------------------------------
  struct Inspection {
    std::vector<gguf::GgufFile> parts;  // every part of a split model
    gguf::ModelSummary summary;
    std::string remote_url;  // the header was read from here by Range (not downloaded)
    int remote_requests = 0;
  };
  // The GGUF header of a file path (any part of a split set; "file://" too)
  // or of a model's local weights; for a model that is not on this machine
  // (a catalog id, ORG/REPO:QUANT, hf://, ollama://, a URL) the header is
  // read remotely by HTTP Range without downloading the file. NotFound for
  // an unknown model or path; DataLoss / InvalidArgument from the reader for
  // a damaged or foreign file; errors of the sources for a remote one.
  Result<Inspection> Inspect(std::string_view ref);
  // The remote header of what `ref` would pull (its primary file).
  Result<Inspection> InspectRemote(std::string_view ref);

  // --- memory and recommendations -------------------------------------------
  struct FitQuery {
    std::string ref;             // a GGUF path, an installed model or a catalog model
    fit::MemoryRequest request;  // n_ctx 0: 4096, capped by the model's context
    bool auto_gpu_layers = true;
    bool probe = true;  // confirm with llama.cpp's no-alloc probe when a file is local
  };
  struct FitReport {
    std::string model;           // catalog id or file name
    std::filesystem::path file;  // the local GGUF read; empty: catalog facts only
    fit::FitPlan requested;      // the settings asked for
    fit::FitPlan largest;        // the largest context that fits (same offload rule)
  };
  // What `ref` needs on this machine within the configured limits. NotFound
  // for an unknown model; errors of the GGUF reader and the estimator.
  Result<FitReport> Fit(const FitQuery& query);

  struct RecommendQuery {
    fit::RecommendOptions options;
    fit::MachineDescription machine;  // describe another machine (--ram, --vram, ...)
  };
  // Ranks the catalog and installed models for this machine (or the one
  // described). ResourceExhausted from the coding policy below 6 GB.
  Result<fit::Recommendation> Recommend(const RecommendQuery& query);

  // --- running models (app/run.cc) -------------------------------------------
  // Sampling values set on the command line; each one set wins over the profile.
  struct SamplingFlags {
    std::optional<double> temperature;
    std::optional<double> top_p;
    std::optional<int> top_k;
    std::optional<double> min_p;
    std::optional<double> repeat_penalty;
    std::optional<uint32_t> seed;
    std::optional<int> max_tokens;
  };
  // Loading values set on the command line; unset ones come from the fit
  // module's settings for this machine (fit/settings.h).
  struct LoadFlags {
    std::optional<uint32_t> ctx;
    std::optional<int> threads;
    std::optional<int32_t> n_gpu_layers;  // unset: auto (the fit planner)
    std::optional<uint32_t> n_batch;
    std::optional<uint32_t> n_ubatch;
    std::optional<std::string> flash_attn;  // on, off, auto
    std::optional<std::string> kv_type;     // f16, q8_0, ...
    std::optional<bool> mmap;
    std::optional<bool> mlock;
    bool force = false;      // past the memory guard
    bool no_warmup = false;
  };
  struct RunQuery {
    // A catalog id, a preset with local weights, an installed model, a GGUF
    // path ("file://" too), or, for the ollama/openai backends, the server's
    // model name. Empty: the current model (hangar use, with its backend
    // unless one is given), else the default model.
    std::string model;
    std::string backend;  // empty: [runtime] backend, else llama
    std::optional<std::string> profile;  // empty: the profile recommended for this machine
    SamplingFlags sampling;
    LoadFlags load;
  };
  struct RunPlan {
    runtime::ModelSpec spec;
    runtime::GenerateRequest request;  // sampling and max_tokens; no prompt
    std::string profile;               // the profile the sampling came from
    std::string installed_id;          // the state database's id, for an installed model
    fit::RunSettings settings;         // the settings for this machine, with reasons
  };
  // What `query` runs and how. NotFound for an unknown model or one that is
  // not installed (naming the `hangar pull` to run), or an unknown profile or
  // backend; InvalidArgument for a bad flag value or no model named anywhere.
  Result<RunPlan> PlanRun(const RunQuery& query);
  // A session on `plan`'s model (not loaded yet: the first request loads it),
  // idle unload after [runtime] idle_ttl.
  Result<std::unique_ptr<runtime::SessionManager>> OpenSession(const RunPlan& plan);

  struct EmbedQuery {
    RunQuery run;
    std::vector<std::string> texts;
    runtime::EmbedOptions options;
  };
  struct EmbedReport {
    std::string model;
    runtime::Embeddings embeddings;
  };
  Result<EmbedReport> Embed(const EmbedQuery& query);

  struct BenchQuery {
    RunQuery run;
    runtime::BenchRequest request;
  };
  struct BenchReport {
    runtime::LoadedModel model;
    runtime::BenchResult result;
  };
  // Loads the model, measures it as llama-bench does and records the speeds
  // as the model's measured speed (used by Recommend).
  Result<BenchReport> Bench(const BenchQuery& query);

  // --- sessions and statistics (app/usage.cc) --------------------------------
  // The runtime's records in the state database (runtime/usage_store.h), on
  // a connection of its own (opened, and the database created, on first use).
  Result<runtime::UsageStore*> usage();
  // Makes `ref` the current model, persisted with the time: `hangar run`
  // without a model and new sessions start with it (a session already running
  // keeps its model until it switches itself). NotFound naming the
  // `hangar pull` to run for a model that is not installed (llama backend).
  Result<runtime::CurrentModel> Use(std::string_view ref, std::string_view backend);
  // The current model, if one was chosen.
  Result<std::optional<runtime::CurrentModel>> Current();
  // Statistics of every model used, or of `ref` (a catalog id or alias, a
  // file name, a server's model name). NotFound for a model never run.
  Result<std::vector<runtime::ModelStats>> Stats(std::string_view ref);
  struct ProcessView {
    runtime::ProcessEntry entry;
    uint64_t rss = 0;  // the process's resident memory now (VmRSS)
  };
  // Models loaded by hangar processes running now (`hangar ps`): each process
  // registers its loaded model in the state database while it holds it; rows
  // of processes that are gone are dropped here.
  Result<std::vector<ProcessView>> Processes();
  // Health checks (runtime/health.h) over this machine and the statistics.
  Result<std::vector<runtime::HealthCheck>> Doctor();
  // Usage statistics and measured speeds as the recommender takes them.
  Result<fit::UsageStats> MeasuredUsage();

  // --- hardware -------------------------------------------------------------
  // This machine, probed once per App; disk space is that of the data folder.
  Result<const HardwareInfo*> Hardware();

  // --- the store (store_ops.cc) -----------------------------------------------
  // The state database, opened (created) on first use.
  Result<store::StateDb*> state();
  // The installed models, reconciled with the disk on first use in a process:
  // a model whose primary file is gone is removed from the database (a crash
  // between deleting files and the row, another tool deleting its files).
  // Without a state database yet, none (nothing is created).
  Result<const std::vector<store::InstalledModel>*> Installed();
  // The installed model `ref` names (its id, name, catalog id or alias, or
  // its file path). NotFound naming `hangar pull REF` otherwise.
  Result<store::InstalledModel> FindInstalled(std::string_view ref);

  struct DiscoverResult {
    store::DiscoveryReport report;
    std::vector<std::string> added;      // ids new in the database
    std::vector<std::string> unchanged;  // already registered
  };
  // Finds GGUF models of other tools and the configured folders
  // (store/discovery.h) and registers the new ones in place.
  Result<DiscoverResult> Discover();

  enum class ImportMode { kLink, kCopy, kMove };
  // Registers the GGUF model at `path` (any part of a split set): kLink in
  // place; kCopy/kMove into Hangar's blob store (hashed on the way). NotFound
  // for a missing file; DataLoss/InvalidArgument for a file that is not a
  // readable GGUF model; AlreadyExists when that file is installed already.
  Result<store::InstalledModel> Import(const std::filesystem::path& path, ImportMode mode);

  // Makes an installed model visible to Ollama or LM Studio (store/share.h)
  // under `name` (empty: a default name). InvalidArgument for another tool.
  Result<store::ShareResult> Share(std::string_view ref, std::string_view tool,
                                   std::string_view name);

  // Removes an installed model (store/cache.h RemoveModel). The default model
  // and a model a running hangar process has loaded (Processes) are refused
  // with FailedPrecondition unless `force`.
  Result<store::Removal> Remove(std::string_view ref, bool force);

  struct CacheReport {
    store::CacheUsage usage;
    std::vector<store::InstalledModel> models;
    std::vector<store::PartialFile> stale_removed;  // partials older than 24 h, just deleted
  };
  Result<CacheReport> Cache();

  struct PruneResult {
    store::PrunePlan plan;
    std::vector<store::Removal> removed;  // empty for a dry run
  };
  // Plans (and unless `dry_run` carries out) a prune; the default model and
  // models running processes have loaded are kept.
  Result<PruneResult> Prune(store::PruneOptions options, bool dry_run);

  // The installed models as the export document (store/model_db.h).
  Result<nlohmann::json> Export();

  // --- pulling (pull_ops.cc) --------------------------------------------------
  struct PullQuery {
    std::string ref;              // any reference (DESIGN.md), catalog ids included
    fetch::PullOptions options;   // --quant, --revision, --sha256, --offline, download settings
    int connections = 0;          // 0: [downloads] connections of config.toml
    bool force = false;           // pull even when the model does not fit this machine
    bool skip_fit_check = false;  // do not read the remote header at all
  };
  struct PullCallbacks {
    std::function<void(const std::string&)> status;  // "resolving ...", "reading the header ..."
    fetch::PullProgressFn progress;                  // per file, from the downloader
  };
  struct PullReport {
    fetch::PullPlan plan;
    store::InstalledModel model;      // as recorded
    bool already_present = false;     // every file was in a store already
    std::optional<fit::FitPlan> fit;  // the fit checked before downloading
    std::string fit_note;             // why it was not checked, if it was not
    std::string replaced_revision;    // the revision an update replaced
  };
  // Resolves `query.ref` (a catalog id pulls its Hugging Face file, with its
  // known SHA-256), plans it, refuses a model that does not fit this machine
  // (ResourceExhausted with the numbers, unless force) or the disk, fetches
  // what is missing and records the model. Errors of fetch::Puller and the
  // downloader; the partial files of an interrupted pull stay for a resume.
  Result<PullReport> Pull(const PullQuery& query, const PullCallbacks& callbacks);

  struct UpdateCheck {
    std::string id, name;
    std::string installed_revision, latest_revision;
    bool outdated = false;
    uint64_t download_bytes = 0;  // what an update would fetch
    std::string note;             // why it was not checked
  };
  // Asks each installed model's source (or only `only`) for its revision:
  // an HF branch's commit, an Ollama tag's manifest digest. NotFound when
  // `only` names no installed model.
  Result<std::vector<UpdateCheck>> Outdated(std::string_view only = {});

  // --- profiles -------------------------------------------------------------
  Result<std::vector<Profile>> Profiles();
  Result<Profile> GetProfile(std::string_view name);
  Result<Profile> CreateProfile(std::string_view name, const ProfilePatch& patch);
  Result<Profile> UpdateProfile(std::string_view name, const ProfilePatch& patch);
  Status DeleteProfile(std::string_view name);
  // The profile for this machine (RAM usable by this process and physical
  // cores), with the reason.
  Result<ProfileRecommendation> RecommendProfile();

 private:
  // Reloads config and models after a write to config.toml.
  void Invalidate();

  // Builds a database record for a GGUF model at `primary` (metadata and the
  // catalog entry facts from its header).
  Result<store::InstalledModel> DescribeGguf(const std::filesystem::path& primary, std::string id,
                                             std::string source);
  HttpClient& http();
  struct ResolvedPull {
    fetch::ModelRef ref;                  // the source to pull from
    std::optional<CatalogEntry> catalog;  // when a catalog entry was named
    std::string sha256;                   // the catalog's digest of its file
  };
  Result<ResolvedPull> ResolvePull(std::string_view text);
  // The fit of a model from its remote header (the probe on a sparse copy).
  Result<fit::FitPlan> FitRemote(const fetch::RemoteHeader& header);

  // A catalog id for an installed model that no catalog entry or other
  // installed model has (InstalledSlug, then -2, -3, ...).
  Result<std::string> UniqueEntryId(const store::InstalledModel& model);
  store::DiscoveryRoots DiscoveryRootsFor(const Paths& paths, const Config& config) const;
  store::CacheRoots CacheRootsFor(const Paths& paths) const;

  Deps deps_;
  // Destroyed in reverse order: the recorders before the store they write to.
  std::unique_ptr<store::StateDb> usage_db_;
  std::unique_ptr<runtime::UsageStore> usage_;
  std::vector<std::unique_ptr<runtime::UsageRecorder>> recorders_;
  std::unique_ptr<store::StateDb> state_;
  std::optional<std::vector<store::InstalledModel>> installed_;
  std::optional<Paths> paths_;
  std::optional<Config> config_;
  std::unique_ptr<ModelIndex> models_;
  std::unique_ptr<HardwareInfo> hardware_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_APP_H_
