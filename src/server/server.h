// Server: `hangar serve`. Speaks Ollama's API (/api/*) and OpenAI's (/v1/*)
// over llama.cpp runner processes (runtime/runner.h) that the scheduler
// (runtime/scheduler.h) loads, keeps and evicts within the memory budget.
// Every request passes the security checks (security.h), is counted in
// /metrics, written to the access log and recorded in the usage statistics.
//
// Thread-safe: Start and Stop from one thread; requests are served on one
// thread per connection.
#ifndef HANGAR_SERVER_SERVER_H_
#define HANGAR_SERVER_SERVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "app/app.h"
#include "core/status.h"
#include "runtime/scheduler.h"
#include "server/http_server.h"
#include "server/security.h"

namespace hangar::server {

// The port `hangar serve` listens on unless told (Ollama's is 11434).
inline constexpr uint16_t kDefaultPort = 11435;
inline constexpr std::string_view kVersion = "0.1.0";

struct ServeOptions {
  std::string host = "127.0.0.1";
  uint16_t port = kDefaultPort;
  std::string api_key;               // required for a non-loopback bind
  std::vector<std::string> origins;  // extra browser origins allowed
  bool allow_writes = true;          // pull, delete, create, copy, blobs
  app::ServeSettings settings;       // slots, queue, keep-alive, load timeout
  HttpServerOptions http;            // limits and timeouts (host/port set from above)
  bool access_log = true;            // a line per request on stderr
  // Also answer as a Hugging Face hub and an Ollama registry from this
  // store (mirror_api.cc, app/mirror_ops.h), read-only; with `mirror_settings.upstream`
  // what the store lacks is fetched once from upstream.
  bool mirror = false;
  app::MirrorSettings mirror_settings;
};

// The HTTP status for a Status (one place for the whole server).
int HttpStatusOf(const Status& status);
// Ollama's keep_alive: a number of seconds or a duration ("5m", "1h30m",
// "300ms"); negative: forever. InvalidArgument otherwise.
Result<std::chrono::milliseconds> ParseKeepAlive(const nlohmann::json& value);
// RFC 3339 with nanoseconds, UTC ("2026-12-05T04:15:00.123456789Z").
std::string Rfc3339(std::chrono::system_clock::time_point t);

class Server {
 public:
  Server(app::App* app, ServeOptions options);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Checks the options, binds and starts serving. Errors:
  // FailedPrecondition (a non-loopback bind without an API key; no
  // llama-server), Unavailable / InvalidArgument from the listener.
  Status Start();
  uint16_t port() const { return http_ ? http_->port() : 0; }
  // Stops accepting, ends streams with a final event, stops every runner.
  void Stop();

  runtime::Scheduler& scheduler() { return *scheduler_; }

  // Every route as (method, path); a path ending in '/' is a prefix whose
  // rest is one parameter ("/api/jobs/" is /api/jobs/{id}).
  static std::vector<std::pair<std::string, std::string>> RouteList();
  // The OpenAPI 3.1 document of every route (openapi.json, built in).
  static std::string_view OpenApiDocument();

 private:
  struct Route;
  struct Call;
  class Metrics;

  static const std::vector<Route>& Routes();
  void Handle(const wire::HttpRequest& request, const Peer& peer, Response& response);

  // Shared by the routes.
  // `ctx`: a request's context per slot (Ollama's num_ctx); 0: the planner's.
  Result<app::ServePlan> PlanFor(const std::string& model, bool embeddings, uint32_t ctx = 0);
  // `status` (a runner that stopped answering) naming the workers of a split
  // model that are gone (they are marked down: the next plan leaves them out).
  Status WithLostWorkers(const app::ServePlan& plan, const Status& status);
  Result<runtime::Scheduler::Lease> AcquireFor(const app::ServePlan& plan,
                                               runtime::KeepAlive keep_alive, Response& response);
  void RecordUsage(const app::ServePlan& plan, runtime::RequestKind kind, const Status& outcome,
                   const runtime::Timings& timings, int64_t load_us, int64_t total_us);
  void OnRunnerChange();
  // Every model clients can name, for /api/tags and /v1/models.
  Result<std::vector<struct ServedModel>> ListModels();

  // Ollama (ollama_api.cc).
  void OllamaChat(Call& call);
  void OllamaGenerate(Call& call);
  void OllamaEmbed(Call& call);
  void OllamaTags(Call& call);
  void OllamaShow(Call& call);
  void OllamaPs(Call& call);
  void OllamaPull(Call& call);
  void OllamaDelete(Call& call);
  void OllamaBlob(Call& call);
  void OllamaCopy(Call& call);
  void OllamaCreate(Call& call);
  void OllamaVersion(Call& call);
  // OpenAI (openai_api.cc).
  // The plan for call.model; nullopt after answering with OpenAI's error.
  std::optional<app::ServePlan> OpenAiPlan(Call& call, bool embeddings);
  void OpenAiChat(Call& call);
  void OpenAiCompletions(Call& call);
  void OpenAiEmbeddings(Call& call);
  void OpenAiModels(Call& call);
  void OpenAiModel(Call& call);
  // The management API (manage_api.cc).
  void ModelList(Call& call);
  nlohmann::json FitVerdict(const app::ModelView& view, bool has_gpu);
  bool RefuseIfTooLarge(Call& call, const app::ModelView& view, std::string_view doing);
  void ModelCurrent(Call& call);
  void ModelSwitch(Call& call);
  void ModelDownload(Call& call);
  void ModelRecommend(Call& call);
  void ModelStatistics(Call& call);
  void ModelFit(Call& call);
  void ModelRequests(Call& call);
  void ModelInspect(Call& call);
  void ModelDelete(Call& call);
  void CacheRoute(Call& call);
  void CachePrune(Call& call);
  void LimitsRoute(Call& call);
  void ProfilesRoute(Call& call);
  void ExportRoute(Call& call);
  void ImportRoute(Call& call);
  void SettingsRoute(Call& call);
  void ProfileCreate(Call& call);
  void ProfileRoute(Call& call);
  void DoctorRoute(Call& call);
  void ModelOutdated(Call& call);
  void ModelUpdate(Call& call);
  void ModelDiscover(Call& call);
  void ModelQuantize(Call& call);
  void ModelConvert(Call& call);
  void ModelShare(Call& call);
  void DownloadsRoute(Call& call);
  void DownloadAction(Call& call);
  // Every installed model (or `only`) against its source; the whole check
  // is kept as the last one (GET /api/model/outdated?cached=true).
  Result<nlohmann::json> CheckForUpdates(const std::string& only);
  // [updates] check: checks at start, then every interval, until Stop().
  void UpdateLoop();
  void Jobs(Call& call);
  void Job(Call& call);
  void HardwareRoute(Call& call);
  void ClusterRoute(Call& call);
  void Events(Call& call);
  void OpenApi(Call& call);
  // The mirror (mirror_api.cc): a hub's and a registry's read routes.
  void MirrorHubApi(Call& call);
  void MirrorResolve(Call& call);
  void MirrorRegistry(Call& call);
  // Hangar's own.
  void Root(Call& call);
  void WebPage(Call& call);
  void SendAsset(Call& call, std::string_view path);
  void Health(Call& call);
  void MetricsRoute(Call& call);

  app::App* app_;
  const ServeOptions options_;
  SecurityOptions security_;
  std::unique_ptr<runtime::Scheduler> scheduler_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Metrics> metrics_;
  struct CachedPlan {
    uint64_t generation = 0;          // of the snapshot it was planned on
    uint64_t cluster_generation = 0;  // of the workers' states it was planned with
    app::ServePlan plan;
  };
  std::mutex plans_mu_;  // guards plans_
  std::map<std::tuple<std::string, bool, uint32_t>, CachedPlan> plans_;
  std::mutex registered_mu_;                 // guards registered_
  std::map<std::string, pid_t> registered_;  // runners in `hangar ps`, by model
  std::atomic<bool> stopped_{false};
  std::mutex updates_mu_;  // guards the two below
  std::condition_variable updates_cv_;
  nlohmann::json last_update_check_;  // CheckForUpdates("") as last answered
  uint64_t update_checks_ = 0;        // the checks UpdateLoop made
  std::thread updates_thread_;
};

}  // namespace hangar::server

#endif  // HANGAR_SERVER_SERVER_H_
