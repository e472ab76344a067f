#include "server/server.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "core/log.h"
#include "server/server_internal.h"
#include "server/web_assets.h"

namespace hangar::server {
namespace {

// Whether `path` matches a route's pattern ("/{repo}/resolve/{path}"): each
// {part} stands for a non-empty run of characters. The literal pieces are
// found left to right, each at its first place after the run before it.
bool PatternMatch(std::string_view pattern, std::string_view path) {
  std::vector<std::string_view> literals;
  for (size_t at = 0;;) {
    const size_t open = pattern.find('{', at);
    literals.push_back(pattern.substr(at, open == std::string_view::npos ? open : open - at));
    if (open == std::string_view::npos) break;
    at = pattern.find('}', open) + 1;
  }
  if (path.rfind(literals.front(), 0) != 0) return false;
  size_t pos = literals.front().size();
  for (size_t i = 1; i + 1 < literals.size(); ++i) {
    const size_t found = path.find(literals[i], pos + 1);
    if (found == std::string_view::npos) return false;
    pos = found + literals[i].size();
  }
  const std::string_view last = literals.back();
  return literals.size() == 1 ? path.size() == pos
                              : path.size() >= pos + 1 + last.size() &&
                                    path.substr(path.size() - last.size()) == last;
}

bool IsLoopbackHost(std::string_view host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]" ||
         host.rfind("127.", 0) == 0;
}

}  // namespace

int HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kResourceExhausted:
      return 507;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kCancelled:
      return 499;
    default:
      return 500;
  }
}

Result<std::chrono::milliseconds> ParseKeepAlive(const Json& v) {
  using std::chrono::milliseconds;
  if (v.is_number()) {
    double s = v.get<double>();
    return s < 0 ? runtime::kForever : milliseconds(static_cast<int64_t>(s * 1000));
  }
  if (!v.is_string()) return InvalidArgumentError("keep_alive must be a number or a duration");
  std::string text = v.get<std::string>();
  if (text.empty()) return InvalidArgumentError("keep_alive is empty");
  bool negative = text.front() == '-';
  std::string_view rest = std::string_view(text).substr(negative ? 1 : 0);
  double total_ms = 0;
  bool any = false;
  while (!rest.empty()) {
    size_t i = 0;
    while (i < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[i])) || rest[i] == '.'))
      ++i;
    if (i == 0)
      return InvalidArgumentError(fmt::format("keep_alive \"{}\" is not a duration", text));
    double n = std::stod(std::string(rest.substr(0, i)));
    rest.remove_prefix(i);
    size_t j = 0;
    while (j < rest.size() && std::isalpha(static_cast<unsigned char>(rest[j]))) ++j;
    std::string_view unit = rest.substr(0, j);
    rest.remove_prefix(j);
    double scale;
    if (unit.empty() && rest.empty() && !any)
      scale = 1000;  // bare number: seconds
    else if (unit == "ms")
      scale = 1;
    else if (unit == "s")
      scale = 1000;
    else if (unit == "m")
      scale = 60'000;
    else if (unit == "h")
      scale = 3'600'000;
    else
      return InvalidArgumentError(fmt::format("keep_alive \"{}\" is not a duration", text));
    total_ms += n * scale;
    any = true;
  }
  if (negative) return runtime::kForever;
  return milliseconds(static_cast<int64_t>(total_ms));
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, ns % 1'000'000'000);
}

runtime::Timings TimingsFrom(const Json& event) {
  runtime::Timings t;
  if (auto it = event.find("timings"); it != event.end() && it->is_object()) {
    t.prompt_tokens = it->value("prompt_n", 0);
    t.cached_tokens = it->value("cache_n", 0);
    t.gen_tokens = it->value("predicted_n", 0);
    t.prompt_us = static_cast<int64_t>(it->value("prompt_ms", 0.0) * 1000);
    t.gen_us = static_cast<int64_t>(it->value("predicted_ms", 0.0) * 1000);
  }
  if (auto it = event.find("usage"); it != event.end() && it->is_object()) {
    if (t.prompt_tokens == 0) t.prompt_tokens = it->value("prompt_tokens", 0);
    if (t.gen_tokens == 0) t.gen_tokens = it->value("completion_tokens", 0);
  }
  return t;
}

// ---------------------------------------------------------------- Call

bool Server::Call::ParseBody(bool openai) {
  if (req.body.empty()) {
    openai ? OpenAiError(400, "missing request body") : Error(400, "missing request body");
    return false;
  }
  body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    std::string msg = "the request body is not a JSON object";
    openai ? OpenAiError(400, msg) : Error(400, msg);
    return false;
  }
  return true;
}

void Server::Call::Send(int status, const Json& json) {
  res.Send(status, "application/json; charset=utf-8",
           json.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void Server::Call::Error(int status, std::string_view message) {
  if (res.streaming()) {
    res.Write(Json{{"error", message}}.dump() + "\n");
    return;
  }
  wire::HeaderList h;
  if (status == 503) h.emplace_back("Retry-After", "1");
  res.Send(status, "application/json; charset=utf-8", Json{{"error", message}}.dump(), h);
}

void Server::Call::OpenAiError(int status, std::string_view message) {
  std::string type = status == 400   ? "invalid_request_error"
                     : status == 401 ? "authentication_error"
                     : status == 404 ? "not_found_error"
                     : status == 503 ? "unavailable_error"
                                     : "api_error";
  Json err = {{"error",
               {{"message", message},
                {"type", type},
                {"param", nullptr},
                {"code", status == 404 ? Json("model_not_found") : Json(nullptr)}}}};
  if (res.streaming()) {
    res.Write("data: " + err.dump() + "\n\n");
    return;
  }
  wire::HeaderList h;
  if (status == 503) h.emplace_back("Retry-After", "1");
  res.Send(status, "application/json; charset=utf-8", err.dump(), h);
}

// ---------------------------------------------------------------- Metrics

void Server::Metrics::CountRequest(const std::string& route, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
}

void Server::Metrics::AddTokens(int prompt, int generated, double gen_seconds) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += static_cast<uint64_t>(std::max(0, prompt));
  generated_tokens_ += static_cast<uint64_t>(std::max(0, generated));
  gen_seconds_ += gen_seconds;
}

void Server::Metrics::Observe(Histogram& h, double seconds) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.counts[i];
  }
  ++h.count;
  h.sum += seconds;
}

std::string Server::Metrics::Render(const runtime::Scheduler& scheduler) const {
  std::string out;
  auto histogram = [&](std::string_view name, std::string_view help, const Histogram& h) {
    out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBuckets[i], h.counts[i]);
    }
    out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, h.count, name,
                       h.sum, name, h.count);
  };
  std::vector<runtime::LoadedRunner> loaded = scheduler.Loaded();
  std::lock_guard lock(mu_);
  out +=
      "# HELP hangar_requests_total HTTP requests by route and status code.\n"
      "# TYPE hangar_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += fmt::format("hangar_requests_total{{route=\"{}\",code=\"{}\"}} {}\n", key.first,
                       key.second, n);
  }
  out += fmt::format(
      "# HELP hangar_queue_depth Requests waiting for a runner or a slot.\n"
      "# TYPE hangar_queue_depth gauge\nhangar_queue_depth {}\n"
      "# HELP hangar_models_loaded Runner processes loaded or loading.\n"
      "# TYPE hangar_models_loaded gauge\nhangar_models_loaded {}\n",
      scheduler.queue_depth(), loaded.size());
  out +=
      "# HELP hangar_model_memory_bytes Memory a loaded model takes, by device.\n"
      "# TYPE hangar_model_memory_bytes gauge\n";
  for (const auto& m : loaded) {
    for (size_t i = 0; i < m.memory.size(); ++i) {
      out += fmt::format("hangar_model_memory_bytes{{model=\"{}\",device=\"{}\"}} {}\n", m.name,
                         i == 0 ? std::string("ram") : fmt::format("gpu{}", i - 1), m.memory[i]);
    }
  }
  out += fmt::format(
      "# HELP hangar_prompt_tokens_total Prompt tokens processed.\n"
      "# TYPE hangar_prompt_tokens_total counter\nhangar_prompt_tokens_total {}\n"
      "# HELP hangar_generated_tokens_total Tokens generated.\n"
      "# TYPE hangar_generated_tokens_total counter\nhangar_generated_tokens_total {}\n"
      "# HELP hangar_generation_tokens_per_second Tokens generated per second of generation.\n"
      "# TYPE hangar_generation_tokens_per_second gauge\nhangar_generation_tokens_per_second {}\n",
      prompt_tokens_, generated_tokens_,
      gen_seconds_ > 0 ? static_cast<double>(generated_tokens_) / gen_seconds_ : 0.0);
  histogram("hangar_load_seconds", "Time to load a model (runner start to ready).", load_);
  histogram("hangar_time_to_first_token_seconds", "Time from request to first token.", ttft_);
  return out;
}

std::string PercentDecode(std::string_view raw) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size() &&
        std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += raw[i];
    }
  }
  return out;
}

std::string Server::Call::PathTail(std::string_view prefix) const {
  return PercentDecode(req.Path().substr(prefix.size()));
}

std::optional<std::string> Server::Call::QueryParam(std::string_view key) const {
  std::string_view query = req.Query();
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string name = PercentDecode(pair.substr(0, eq));
    if (name != key) continue;
    std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    std::replace(value.begin(), value.end(), '+', ' ');
    return PercentDecode(value);
  }
  return std::nullopt;
}

bool Server::Call::NeedModel(bool from_body) {
  if (from_body) {
    model = body.value("model", "");
  } else {
    model = QueryParam("model").value_or("");
  }
  if (!model.empty()) return true;
  Error(400, from_body ? "model is required" : "model is required (?model=NAME)");
  return false;
}

bool WantsPromptProgress(size_t request_bytes, const runtime::Runner& runner) {
  return request_bytes > runner.config().n_ubatch;
}

// ---------------------------------------------------------------- Server

const std::vector<Server::Route>& Server::Routes() {
  static const std::vector<Route> routes = {
      {"GET", "/", false, &Server::Root, true},
      {"HEAD", "/", false, &Server::Root, true},
      {"GET", "/ui/", false, &Server::WebPage, true},
      {"GET", "/health", false, &Server::Health},
      {"GET", "/metrics", false, &Server::MetricsRoute},
      {"GET", "/api/version", false, &Server::OllamaVersion},
      {"HEAD", "/api/version", false, &Server::OllamaVersion},
      {"POST", "/api/chat", false, &Server::OllamaChat},
      {"POST", "/api/generate", false, &Server::OllamaGenerate},
      {"POST", "/api/embed", false, &Server::OllamaEmbed},
      {"POST", "/api/embeddings", false, &Server::OllamaEmbed},
      {"GET", "/api/tags", false, &Server::OllamaTags},
      {"HEAD", "/api/tags", false, &Server::OllamaTags},
      {"POST", "/api/show", false, &Server::OllamaShow},
      {"GET", "/api/ps", false, &Server::OllamaPs},
      {"POST", "/api/pull", true, &Server::OllamaPull},
      {"DELETE", "/api/delete", true, &Server::OllamaDelete},
      {"POST", "/api/copy", true, &Server::OllamaCopy},
      {"POST", "/api/create", true, &Server::OllamaCreate},
      {"HEAD", "/api/blobs/", false, &Server::OllamaBlob},
      {"POST", "/api/blobs/", true, &Server::OllamaBlob},
      {"POST", "/v1/chat/completions", false, &Server::OpenAiChat},
      {"POST", "/v1/completions", false, &Server::OpenAiCompletions},
      {"POST", "/v1/embeddings", false, &Server::OpenAiEmbeddings},
      {"GET", "/v1/models", false, &Server::OpenAiModels},
      {"GET", "/v1/models/", false, &Server::OpenAiModel},
      {"GET", "/api/model/list", false, &Server::ModelList},
      {"GET", "/api/model/current", false, &Server::ModelCurrent},
      {"POST", "/api/model/switch", true, &Server::ModelSwitch},
      {"POST", "/api/model/download", true, &Server::ModelDownload},
      {"POST", "/api/model/recommend", false, &Server::ModelRecommend},
      {"GET", "/api/model/statistics", false, &Server::ModelStatistics},
      {"GET", "/api/model/fit", false, &Server::ModelFit},
      {"GET", "/api/model/requests", false, &Server::ModelRequests},
      {"GET", "/api/model/inspect", false, &Server::ModelInspect},
      {"POST", "/api/model/delete", true, &Server::ModelDelete},
      {"GET", "/api/cache", false, &Server::CacheRoute},
      {"POST", "/api/cache/prune", false, &Server::CachePrune},
      {"GET", "/api/limits", false, &Server::LimitsRoute},
      {"GET", "/api/profiles", false, &Server::ProfilesRoute},
      {"POST", "/api/profiles", true, &Server::ProfileCreate},
      {"GET", "/api/profiles/", false, &Server::ProfileRoute},
      {"PATCH", "/api/profiles/", true, &Server::ProfileRoute},
      {"DELETE", "/api/profiles/", true, &Server::ProfileRoute},
      {"GET", "/api/settings", false, &Server::SettingsRoute},
      {"PATCH", "/api/settings", true, &Server::SettingsRoute},
      {"GET", "/api/export", false, &Server::ExportRoute},
      {"POST", "/api/import", true, &Server::ImportRoute},
      {"GET", "/api/doctor", false, &Server::DoctorRoute},
      {"GET", "/api/model/outdated", false, &Server::ModelOutdated},
      {"POST", "/api/model/update", true, &Server::ModelUpdate},
      {"POST", "/api/model/discover", true, &Server::ModelDiscover},
      {"POST", "/api/model/quantize", true, &Server::ModelQuantize},
      {"POST", "/api/model/convert", true, &Server::ModelConvert},
      {"POST", "/api/model/share", true, &Server::ModelShare},
      {"GET", "/api/downloads", false, &Server::DownloadsRoute},
      {"PATCH", "/api/downloads/", true, &Server::DownloadAction},
      {"DELETE", "/api/downloads/", true, &Server::DownloadAction},
      {"GET", "/api/jobs", false, &Server::Jobs},
      {"GET", "/api/jobs/", false, &Server::Job},
      {"DELETE", "/api/jobs/", true, &Server::Job},
      {"GET", "/api/hardware", false, &Server::HardwareRoute},
      {"GET", "/api/cluster", false, &Server::ClusterRoute},
      {"GET", "/api/events", false, &Server::Events},
      {"GET", "/api/openapi.json", false, &Server::OpenApi},
      {"GET", "/api/models/", false, &Server::MirrorHubApi, false, true},
      {"POST", "/api/models/", false, &Server::MirrorHubApi, false, true},
      {"GET", "/v2/", false, &Server::MirrorRegistry, false, true},
      {"HEAD", "/v2/", false, &Server::MirrorRegistry, false, true},
      {"GET", "/{repo}/resolve/{path}", false, &Server::MirrorResolve, false, true},
      {"HEAD", "/{repo}/resolve/{path}", false, &Server::MirrorResolve, false, true},
  };
  return routes;
}

std::vector<std::pair<std::string, std::string>> Server::RouteList() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Route& r : Routes()) out.emplace_back(r.method, r.path);
  return out;
}

void Server::OpenApi(Call& call) {
  call.res.Send(200, "application/json; charset=utf-8", OpenApiDocument());
}

Server::Server(app::App* app, ServeOptions options)
    : app_(app), options_(std::move(options)), metrics_(std::make_unique<Metrics>()) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  const bool loopback = IsLoopbackHost(options_.host);
  if (!loopback && options_.api_key.empty()) {
    return FailedPreconditionError(fmt::format(
        "refusing to listen on {} without an API key: anyone who can reach it could use and "
        "change your models; set HANGAR_API_KEY (or --api-key-file), or listen on 127.0.0.1",
        options_.host));
  }
  security_.loopback_bind = loopback;
  security_.api_key = options_.api_key;
  security_.allowed_origins = options_.origins;
  security_.allow_writes = options_.allow_writes;
  if (options_.mirror) app_->mirror().Configure(options_.mirror_settings);
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) == 0) security_.hostname = hostname;

  ASSIGN_OR_RETURN(runtime::SchedulerOptions so,
                   app_->serve().SchedulerOptionsFor(options_.settings));
  so.note = [](std::string_view line) { Log(LogLevel::kWarning, "serve: {}", line); };
  scheduler_ = std::make_unique<runtime::Scheduler>(std::move(so));
  (void)app_->core().Watch();

  HttpServerOptions http = options_.http;
  http.host = options_.host;
  http.port = options_.port;
  // Blob uploads stream to disk (GGUF files are larger than any body kept
  // in memory).
  http.streams_body = [](const wire::HttpRequest& head) {
    return head.method == "POST" && head.Path().rfind("/api/blobs/", 0) == 0;
  };
  http_ = std::make_unique<HttpServer>(http, [this](const wire::HttpRequest& req, const Peer& peer,
                                                    Response& res) { Handle(req, peer, res); });
  Status s = http_->Start();
  if (!s.ok()) {
    scheduler_->Shutdown();
    http_.reset();
    return s;
  }
  // Downloads a stopped server left unfinished go on where their bytes end.
  if (auto resumed = app_->downloads().ResumeInterrupted(); !resumed.ok()) {
    Log(LogLevel::kWarning, "serve: cannot resume the downloads: {}", resumed.status().message());
  } else if (*resumed > 0) {
    Log(LogLevel::kInfo, "serve: resumed {} download(s)", *resumed);
  }
  updates_thread_ = std::thread([this] { UpdateLoop(); });
  return s;
}

void Server::UpdateLoop() {
  std::optional<SteadyClock::time_point> last;
  std::unique_lock lock(updates_mu_);
  while (!stopped_) {
    auto s = app_->core().snapshot();
    const int64_t every = s.ok() ? (*s)->config.updates().check_interval_seconds : 0;
    if (every > 0 && (!last || SteadyClock::now() - *last >= std::chrono::seconds(every))) {
      last = SteadyClock::now();
      lock.unlock();
      Result<Json> r = CheckForUpdates("");
      if (!r.ok()) Log(LogLevel::kWarning, "serve: update check: {}", r.status().message());
      lock.lock();
      ++update_checks_;
    }
    // Settings change while it waits: look again every few seconds.
    updates_cv_.wait_for(lock, std::chrono::seconds(2), [this] { return stopped_.load(); });
  }
}

void Server::Stop() {
  if (stopped_.exchange(true)) return;
  {
    std::lock_guard lock(updates_mu_);
    updates_cv_.notify_all();
  }
  if (updates_thread_.joinable()) updates_thread_.join();
  if (http_) http_->Stop(std::chrono::milliseconds(2500));
  if (scheduler_) scheduler_->Shutdown(std::chrono::milliseconds(1500));
  OnRunnerChange();
}

void Server::Handle(const wire::HttpRequest& req, const Peer& peer, Response& res) {
  Call call{req, res, peer, SteadyClock::now(), {}, {}};
  std::string_view origin = req.Header("Origin");
  const std::string path(req.Path());
  const Route* route = nullptr;
  bool path_known = false;
  for (const Route& r : Routes()) {
    if (r.mirror && !options_.mirror) continue;
    bool match = r.path.find('{') != std::string::npos ? PatternMatch(r.path, path)
                 : r.path.back() == '/' && r.path.size() > 1
                     ? path.rfind(r.path, 0) == 0 && path.size() > r.path.size()
                     : path == r.path;
    if (!match) continue;
    path_known = true;
    if (r.method == req.method) {
      route = &r;
      break;
    }
  }
  res.AddHeader("X-Content-Type-Options", "nosniff");
  auto refusal = Check(security_, req, route != nullptr && route->writes,
                       /*needs_key=*/route == nullptr || !route->page);
  if (!refusal && OriginAllowed(origin, security_.allowed_origins)) {
    for (auto& [k, v] : CorsHeaders(origin)) res.AddHeader(k, v);
  }
  std::string label = route ? route->path : "other";
  if (refusal) {
    if (refusal->status == 401) res.AddHeader("WWW-Authenticate", "Bearer");
    path.rfind("/v1/", 0) == 0 ? call.OpenAiError(refusal->status, refusal->message)
                               : call.Error(refusal->status, refusal->message);
  } else if (req.method == "OPTIONS" && path_known) {
    res.Send(204, "", "");
  } else if (route == nullptr) {
    call.Error(path_known ? 405 : 404,
               path_known ? fmt::format("{} is not allowed on {}", req.method, path)
                          : fmt::format("no route {}", path));
  } else {
    (this->*route->handler)(call);
  }
  metrics_->CountRequest(label, res.status());
  if (options_.access_log) {
    std::fprintf(stderr, "%s\n",
                 fmt::format("serve: {} {} \"{} {}\" {} {} bytes {:.1f} ms{}",
                             Rfc3339(std::chrono::system_clock::now()), peer.address, req.method,
                             req.target, res.status(), res.bytes(), call.ElapsedNs() / 1e6,
                             call.model.empty() ? "" : " model=" + call.model)
                     .c_str());
  }
}

Result<app::ServePlan> Server::PlanFor(const std::string& model, bool embeddings, uint32_t ctx) {
  // Planning reads the model's header and runs the fit planner (milliseconds):
  // done once per model and state snapshot, not once per request.
  // A split plan is made again when a worker's state changes.
  ASSIGN_OR_RETURN(std::shared_ptr<const app::Snapshot> snapshot, app_->core().snapshot());
  ASSIGN_OR_RETURN(std::shared_ptr<runtime::Cluster> cluster, app_->cluster().cluster());
  const auto key = std::make_tuple(model, embeddings, ctx);
  {
    std::lock_guard lock(plans_mu_);
    auto it = plans_.find(key);
    if (it != plans_.end() && it->second.generation == snapshot->generation &&
        (!it->second.plan.split ||
         (cluster && it->second.cluster_generation == cluster->generation()))) {
      return it->second.plan;
    }
  }
  app::ServeQuery q;
  q.model = model;
  q.embeddings = embeddings;
  if (ctx > 0) q.ctx = ctx;
  ASSIGN_OR_RETURN(app::ServePlan plan, app_->serve().Plan(q, options_.settings));
  std::lock_guard lock(plans_mu_);
  if (plans_.size() > 256) plans_.clear();
  plans_[key] = CachedPlan{snapshot->generation, cluster ? cluster->generation() : 0, plan};
  return plan;
}

Status Server::WithLostWorkers(const app::ServePlan& plan, const Status& status) {
  if (!plan.split) return status;
  std::vector<std::string> lost;
  for (const runtime::WorkerStatus& w :
       app_->cluster().Status().value_or(std::vector<runtime::WorkerStatus>{})) {
    const bool used =
        std::any_of(plan.split->workers.begin(), plan.split->workers.end(),
                    [&](const runtime::WorkerStatus& u) { return u.endpoint == w.endpoint; });
    if (used && w.state != runtime::WorkerState::kUp) {
      lost.push_back(fmt::format("worker {} is {} ({})", w.endpoint,
                                 runtime::WorkerStateName(w.state), w.error));
    }
  }
  if (lost.empty()) return status;
  Log(LogLevel::kWarning, "serve: {} lost: {}", plan.display, fmt::join(lost, "; "));
  return Status(status.code(), fmt::format("{}; {}: the next load places the model without it",
                                           status.message(), fmt::join(lost, "; ")));
}

Result<runtime::Scheduler::Lease> Server::AcquireFor(const app::ServePlan& plan,
                                                     runtime::KeepAlive keep_alive,
                                                     Response& response) {
  auto lease =
      scheduler_->Acquire(plan.load, keep_alive, response.stopping(), response.client_fd());
  // `hangar ps` learns of a new runner after this request (RecordUsage), so
  // the database write does not delay the first token.
  if (lease.ok() && lease->loaded_now()) {
    metrics_->ObserveLoad(std::chrono::duration<double>(lease->load_duration()).count());
  }
  return lease;
}

void Server::OnRunnerChange() {
  // `hangar ps`: one row per runner process holding a model.
  std::vector<runtime::LoadedRunner> loaded;
  if (scheduler_ && !stopped_.load()) loaded = scheduler_->Loaded();
  std::lock_guard lock(registered_mu_);
  std::map<std::string, pid_t> now;
  for (const auto& m : loaded) {
    if (m.pid == 0) continue;
    now[m.name] = m.pid;
    auto it = registered_.find(m.name);
    if (it == registered_.end() || it->second != m.pid) {
      (void)app_->serve().RegisterRunner(m, m.name);
    }
  }
  for (const auto& [name, pid] : registered_) {
    auto it = now.find(name);
    if (it == now.end() || it->second != pid) (void)app_->serve().UnregisterRunner(pid, name);
  }
  registered_ = std::move(now);
}

void Server::RecordUsage(const app::ServePlan& plan, runtime::RequestKind kind,
                         const Status& outcome, const runtime::Timings& timings, int64_t load_us,
                         int64_t total_us) {
  runtime::UsageRecord r;
  r.model = plan.display;
  r.backend = "serve";
  r.kind = kind;
  r.outcome = outcome.ok()                               ? runtime::Outcome::kSuccess
              : outcome.code() == StatusCode::kCancelled ? runtime::Outcome::kCancelled
                                                         : runtime::Outcome::kFailure;
  r.error = outcome.ok() ? std::string() : outcome.ToString();
  r.at_unix = app_->core().clock().NowUnixSeconds();
  r.total_us = total_us;
  r.timings = timings;
  r.load_us = load_us;
  if (Status s = app_->serve().Record(r, plan.run.installed_id); !s.ok()) {
    Log(LogLevel::kWarning, "serve: usage statistics not recorded: {}", s.message());
  }
  if (outcome.ok()) {
    metrics_->AddTokens(timings.prompt_tokens, timings.gen_tokens, timings.gen_us / 1e6);
    if (timings.ttft_us > 0) metrics_->ObserveTtft(timings.ttft_us / 1e6);
  }
  OnRunnerChange();
}

// A browser gets the web console; anything else the plain answer Ollama's
// clients expect.
void Server::Root(Call& call) {
  if (call.req.Header("Accept").find("text/html") != std::string_view::npos) {
    return SendAsset(call, "/index.html");
  }
  call.res.Send(200, "text/plain; charset=utf-8", "Hangar is running");
}

// /ui/<file>: the console's other files.
void Server::WebPage(Call& call) {
  SendAsset(call, call.req.Path().substr(std::string_view("/ui").size()));
}

void Server::SendAsset(Call& call, std::string_view path) {
  const WebAsset* asset = nullptr;
  for (const WebAsset& a : WebAssets()) {
    if (a.path == path) asset = &a;
  }
  if (asset == nullptr) return call.Error(404, fmt::format("no file {} in the console", path));
  wire::HeaderList headers = {{"ETag", std::string(asset->etag)},
                              {"Cache-Control", "no-cache"},
                              {"Vary", "Accept-Encoding"}};
  if (asset->mime.rfind("text/html", 0) == 0) {
    headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                         "base-uri 'none'; form-action 'none'");
    headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  if (call.req.Header("If-None-Match") == asset->etag) {
    call.res.Send(304, "", "", std::move(headers));
    return;
  }
  if (call.req.Header("Accept-Encoding").find("gzip") == std::string_view::npos) {
    return call.Error(406,
                      "the console is served gzip-compressed; this client does not accept gzip");
  }
  headers.emplace_back("Content-Encoding", "gzip");
  call.res.Send(200, asset->mime, asset->gzip, std::move(headers));
}

void Server::Health(Call& call) {
  call.Send(200, Json{{"status", "ok"},
                      {"version", kVersion},
                      {"models_loaded", scheduler_->Loaded().size()},
                      {"queue_depth", scheduler_->queue_depth()}});
}

void Server::MetricsRoute(Call& call) {
  call.res.Send(200, "text/plain; version=0.0.4; charset=utf-8", metrics_->Render(*scheduler_));
}

}  // namespace hangar::server
