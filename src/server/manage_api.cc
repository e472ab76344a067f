// The management API (/api/model/*, the model-management specification's
// routes) and Hangar's own (/api/jobs, /api/hardware): thin over app/, the
// same use cases as the CLI.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "app/state.h"
#include "catalog/catalog_entry.h"
#include "config/profile.h"
#include "runtime/health.h"
#include "core/units.h"
#include "fit/planner.h"
#include "gguf/ggml_types.h"
#include "fit/recommend.h"
#include "gguf/summary.h"
#include "store/cache.h"
#include "hardware/cpu.h"
#include "hardware/hardware.h"
#include "runtime/usage_store.h"
#include "server/server_internal.h"

namespace hangar::server {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

Json JobJson(const app::JobInfo& job) {
  Json j = {{"id", job.id},
            {"kind", job.kind},
            {"title", job.title},
            {"state", std::string(app::JobStateName(job.state))},
            {"started", Rfc3339(std::chrono::system_clock::time_point(
                            std::chrono::seconds(job.started_unix)))}};
  if (job.finished_unix != 0) {
    j["finished"] =
        Rfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(job.finished_unix)));
  }
  if (!job.status.ok()) j["error"] = job.status.message();
  if (!job.result.empty()) j["result"] = job.result;
  if (job.last) {
    j["status"] = job.last->status;
    if (job.last->total > 0) {
      j["completed"] = job.last->completed;
      j["total"] = job.last->total;
    }
  }
  return j;
}

// A number of GB from a query string or JSON ("8", "8.5"); nullopt when
// absent. InvalidArgument naming `name` for anything else or a negative one.
Result<std::optional<double>> Gigabytes(std::string_view name, const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::optional<double>();
  double v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size() || !(v >= 0) || !std::isfinite(v)) {
    return InvalidArgumentError(
        fmt::format("{} must be a number of GB, 0 or more, got \"{}\"", name, *text));
  }
  return std::optional<double>(v);
}

Result<bool> Flag(std::string_view name, const std::optional<std::string>& text) {
  if (!text || text->empty()) return false;
  if (*text == "true" || *text == "1" || *text == "yes") return true;
  if (*text == "false" || *text == "0" || *text == "no") return false;
  return InvalidArgumentError(fmt::format("{} must be true or false, got \"{}\"", name, *text));
}

}  // namespace

// This machine's verdict for a model at 4,096 tokens (the fit planner, on
// the catalog's facts or the installed file's header, no probe):
// {"verdict": "gpu" | "partial" | "cpu" | "too_large", "ram", "vram",
//  "largest_ctx" (0: none fits), "reason"}; null when it cannot be planned.
Json Server::FitVerdict(const app::ModelView& v, bool has_gpu) {
  app::FitQuery q;
  q.ref = v.entry.id;
  q.probe = false;
  auto r = app_->fit().Fit(q);
  if (!r.ok()) return nullptr;
  const fit::FitPlan& p = r->requested;
  const uint32_t layers = v.entry.arch.block_count + 1;  // the output layer counts
  const int32_t on_gpu = p.memory.n_gpu_layers;
  std::string verdict = !p.fits                              ? "too_large"
                        : !has_gpu || on_gpu == 0            ? "cpu"
                        : on_gpu < 0 || static_cast<uint32_t>(on_gpu) >= layers ? "gpu"
                                                             : "partial";
  return Json{{"verdict", verdict},
              {"ram", p.memory.HostTotal()},
              {"vram", p.memory.GpuTotal()},
              {"n_ctx", p.request.n_ctx},
              {"largest_ctx", r->largest.fits ? r->largest.request.n_ctx : 0},
              {"reason", p.reason}};
}

// Answers 507 with the planner's numbers when `view` cannot fit this
// machine at 4,096 tokens and returns false; true when it fits (or cannot
// be planned: no facts to refuse it on).
bool Server::RefuseIfTooLarge(Call& call, const app::ModelView& view, std::string_view doing) {
  auto s = app_->core().snapshot();
  auto hw = s.ok() ? app_->core().hardware_for_runs(**s) : Result<const HardwareInfo*>(s.status());
  Json verdict = FitVerdict(view, hw.ok() && !(*hw)->gpus.empty());
  if (verdict.is_null() || verdict["verdict"] != "too_large") return true;
  call.Error(507, fmt::format("insufficient memory: {} does not fit this machine ({}); give "
                              "\"force\": true to {} anyway",
                              view.entry.id, verdict["reason"].get<std::string>(), doing));
  return false;
}

// GET /api/model/list?purpose=&max_vram=&installed_only=&tag=&fit=
void Server::ModelList(Call& call) {
  app::ListQuery q;
  auto installed_only = Flag("installed_only", call.QueryParam("installed_only"));
  if (!installed_only.ok()) return call.Error(installed_only.status());
  q.scope = *installed_only ? app::ListQuery::Scope::kInstalled : app::ListQuery::Scope::kAll;
  if (auto purpose = call.QueryParam("purpose"); purpose && !purpose->empty()) {
    auto p = ParsePurpose(*purpose);
    if (!p.ok()) return call.Error(400, "purpose: " + p.status().message());
    q.filter.purpose = *p;
  }
  auto vram = Gigabytes("max_vram", call.QueryParam("max_vram"));
  if (!vram.ok()) return call.Error(vram.status());
  if (*vram) q.filter.max_vram_bytes = static_cast<uint64_t>(**vram * kGiB);
  if (auto tag = call.QueryParam("tag")) q.filter.tag = *tag;
  auto with_fit = Flag("fit", call.QueryParam("fit"));
  if (!with_fit.ok()) return call.Error(with_fit.status());
  auto listed = app_->models().ListModels(q);
  if (!listed.ok()) return call.Error(listed.status());
  bool has_gpu = false;
  if (*with_fit) {
    auto s = app_->core().snapshot();
    if (!s.ok()) return call.Error(s.status());
    auto hw = app_->core().hardware_for_runs(**s);
    if (!hw.ok()) return call.Error(hw.status());
    has_gpu = !(*hw)->gpus.empty();
  }
  Json models = Json::array();
  for (const app::ModelView& v : *listed) {
    models.push_back(app::ToJson(v));
    if (*with_fit) models.back()["fit"] = FitVerdict(v, has_gpu);
  }
  call.Send(200, Json{{"models", models}, {"count", models.size()}});
}

// GET /api/model/current
void Server::ModelCurrent(Call& call) {
  auto current = app_->models().DefaultModel();
  if (!current.ok()) return call.Error(current.status());
  Json out = {{"current_model", *current ? Json(**current) : Json(nullptr)}};
  if (*current) {
    if (auto view = app_->models().Info(**current); view.ok()) out["model"] = app::ToJson(*view);
  }
  call.Send(200, out);
}

// POST /api/model/switch {"model"}
void Server::ModelSwitch(Call& call) {
  if (!call.ParseBody()) return;
  if (!call.NeedModel(true)) return;
  auto view = app_->models().Info(call.model);
  if (!view.ok()) return call.Error(view.status());
  if (!view->installed) {
    return call.Error(409, fmt::format("{} is not installed; download it first: POST "
                                       "/api/model/download {{\"model\": \"{}\"}} (or hangar pull {})",
                                       view->entry.id, view->entry.id, view->entry.id));
  }
  if (!call.body.value("force", false) && !RefuseIfTooLarge(call, *view, "switch to it")) return;
  auto previous = app_->models().DefaultModel();
  if (!previous.ok()) return call.Error(previous.status());
  auto id = app_->models().SetDefaultModel(call.model);
  if (!id.ok()) return call.Error(id.status());
  call.Send(200, Json{{"success", true},
                      {"current_model", *id},
                      {"previous_model", *previous ? Json(**previous) : Json(nullptr)}});
}

// POST /api/model/download {"model"}: a pull job, its id at once.
void Server::ModelDownload(Call& call) {
  if (!call.ParseBody()) return;
  if (!call.NeedModel(true)) return;
  // A name nobody knows is refused now rather than failing in the job;
  // repositories and URLs are only known by asking their hub (in the job).
  auto view = app_->models().Info(call.model);
  const bool remote = call.model.find('/') != std::string::npos;
  if (!view.ok() && !remote) return call.Error(view.status());
  if (view.ok() && view->installed) {
    return call.Send(200, Json{{"model", view->entry.id}, {"status", "installed"}});
  }
  if (view.ok() && !call.body.value("force", false) &&
      !RefuseIfTooLarge(call, *view, "download it")) {
    return;
  }
  auto d = app_->downloads().Start(view.ok() ? view->entry.id : call.model);
  if (!d.ok()) return call.Error(d.status());
  call.Send(202, Json{{"job", d->job},
                      {"download", d->id},
                      {"model", view.ok() ? view->entry.id : call.model},
                      {"status", "started"},
                      {"follow", fmt::format("/api/jobs/{}", d->job)}});
}

// POST /api/model/recommend {"available_vram_gb", "priority"}
void Server::ModelRecommend(Call& call) {
  if (!call.ParseBody()) return;
  const Json& b = call.body;
  app::RecommendQuery q;
  if (auto v = b.find("available_vram_gb"); v != b.end() && !v->is_null()) {
    if (!v->is_number() || v->get<double>() < 0) {
      return call.Error(400, "available_vram_gb must be a number of GB, 0 (no GPU) or more");
    }
    q.machine.vram = static_cast<uint64_t>(v->get<double>() * kGiB);
  }
  if (auto p = b.find("priority"); p != b.end() && !p->is_null()) {
    auto purpose = p->is_string() ? ParsePurpose(p->get<std::string>())
                                  : Result<Purpose>(InvalidArgumentError("not a string"));
    if (!purpose.ok() || *purpose == Purpose::kSpecialized) {
      return call.Error(400, "priority must be speed, balanced or quality");
    }
    q.options.purpose = *purpose;
  }
  q.options.installed_only = b.value("installed_only", false);
  auto r = app_->fit().Recommend(q);
  if (!r.ok()) return call.Error(r.status());
  Json detail = ToJson(*r);
  Json best = detail["candidates"].empty() ? Json(nullptr) : detail["candidates"][0];
  call.Send(200, Json{{"recommended_model", best.is_null() ? Json(nullptr) : best["id"]},
                      {"priority", std::string(PurposeName(r->purpose))},
                      {"recommendation", detail}});
}

// GET /api/model/statistics?model=
void Server::ModelStatistics(Call& call) {
  if (!call.NeedModel(false)) return;
  auto view = app_->models().Info(call.model);
  auto stats = app_->usage().Stats(call.model);
  if (!view.ok() && (!stats.ok() || stats->empty())) return call.Error(view.status());
  if (!stats.ok()) return call.Error(stats.status());
  int64_t uses = 0, successes = 0, failures = 0, timed = 0, last = 0;
  double sum_ms = 0, min_ms = 0, max_ms = 0;
  Json by_backend = Json::array();
  for (const runtime::ModelStats& s : *stats) {
    uses += s.uses;
    successes += s.successes;
    failures += s.failures;
    if (s.infer_count > 0) {
      min_ms = timed == 0 ? s.infer_ms_min : std::min(min_ms, s.infer_ms_min);
      max_ms = std::max(max_ms, s.infer_ms_max);
      sum_ms += s.infer_ms_avg * static_cast<double>(s.infer_count);
      timed += s.infer_count;
    }
    last = std::max(last, s.last_used);
    by_backend.push_back(runtime::ToJson(s));
  }
  call.Send(
      200,
      Json{{"model", view.ok() ? view->entry.id : call.model},
           {"usage_count", uses},
           {"success_count", successes},
           {"failure_count", failures},
           {"success_rate", uses > 0 ? static_cast<double>(successes) / uses : 0.0},
           {"avg_inference_time", timed > 0 ? sum_ms / timed / 1000 : 0.0},
           {"min_inference_time", min_ms / 1000},
           {"max_inference_time", max_ms / 1000},
           {"last_used", last > 0 ? Json(Rfc3339(std::chrono::system_clock::time_point(
                                        std::chrono::seconds(last))))
                                  : Json(nullptr)},
           {"by_backend", by_backend}});
}

// GET /api/model/fit?model=&ctx=: what a model needs on this machine at a
// context, and the largest context that fits.
void Server::ModelFit(Call& call) {
  if (!call.NeedModel(false)) return;
  app::FitQuery q;
  q.ref = call.model;
  if (auto ctx = call.QueryParam("ctx"); ctx && !ctx->empty()) {
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(ctx->data(), ctx->data() + ctx->size(), n);
    if (ec != std::errc() || end != ctx->data() + ctx->size() || n == 0) {
      return call.Error(400, fmt::format("ctx must be a number of tokens, got \"{}\"", *ctx));
    }
    q.request.n_ctx = n;
  }
  auto r = app_->fit().Fit(q);
  if (!r.ok()) return call.Error(r.status());
  call.Send(200, Json{{"model", r->model},
                      {"file", r->file.empty() ? Json(nullptr) : Json(r->file.string())},
                      {"requested", ToJson(r->requested)},
                      {"largest", ToJson(r->largest)}});
}

// GET /api/model/inspect?model=: a GGUF header, local or read remotely by
// Range (nothing downloaded).
void Server::ModelInspect(Call& call) {
  if (!call.NeedModel(false)) return;
  auto r = app_->models().Inspect(call.model);
  if (!r.ok()) return call.Error(r.status());
  Json out = gguf::ToJson(r->summary, false);
  if (!r->remote_url.empty()) out["remote_url"] = r->remote_url;
  call.Send(200, out);
}

// POST /api/model/delete {"model", "force"}: removes an installed model and
// the files no other model uses; never the current model.
void Server::ModelDelete(Call& call) {
  if (!call.ParseBody()) return;
  if (!call.NeedModel(true)) return;
  auto view = app_->models().Info(call.model);
  if (!view.ok()) return call.Error(view.status());
  auto current = app_->models().DefaultModel();
  if (!current.ok()) return call.Error(current.status());
  if (*current && **current == view->entry.id) {
    return call.Error(409, fmt::format("{} is the current model and cannot be deleted; switch to "
                                       "another first (POST /api/model/switch)",
                                       view->entry.id));
  }
  if (!view->installed) return call.Error(404, fmt::format("{} is not installed", view->entry.id));
  auto removed = app_->store().Remove(call.model, call.body.value("force", false));
  if (!removed.ok()) return call.Error(removed.status());
  Json deleted = Json::array();
  for (const auto& p : removed->deleted) deleted.push_back(p.string());
  call.Send(200, Json{{"model", removed->id}, {"freed_bytes", removed->freed_bytes}, {"deleted", deleted}});
}

// GET /api/cache: what the store holds and what it takes.
void Server::CacheRoute(Call& call) {
  auto r = app_->store().Cache();
  if (!r.ok()) return call.Error(r.status());
  call.Send(200, store::ToJson(r->usage, r->models));
}

// POST /api/cache/prune {"max_size", "older_than", "dry_run"}: a dry run
// unless dry_run is false.
void Server::CachePrune(Call& call) {
  if (!call.ParseBody()) return;
  const Json& b = call.body;
  store::PruneOptions options;
  if (auto v = b.find("max_size"); v != b.end() && !v->is_null()) {
    auto s = v->is_string() ? ParseSize(v->get<std::string>())
                            : Result<uint64_t>(InvalidArgumentError("not a string"));
    if (!s.ok()) return call.Error(400, "max_size must be a size such as \"100GB\"");
    options.max_size = *s;
  }
  if (auto v = b.find("older_than"); v != b.end() && !v->is_null()) {
    auto d = v->is_string() ? ParseDuration(v->get<std::string>())
                            : Result<int64_t>(InvalidArgumentError("not a string"));
    if (!d.ok()) return call.Error(400, "older_than must be a duration such as \"30d\"");
    options.older_than_s = *d;
  }
  if (!options.max_size && !options.older_than_s) {
    return call.Error(400, "give max_size or older_than");
  }
  const bool dry_run = b.value("dry_run", true);
  if (!dry_run && !options_.allow_writes) {
    return call.Error(403, "this server does not allow changes to its models (started with --no-writes)");
  }
  auto r = app_->store().Prune(options, dry_run);
  if (!r.ok()) return call.Error(r.status());
  call.Send(200, store::ToJson(r->plan, dry_run));
}

// GET /api/limits, /api/profiles, /api/export: settings and the state.
void Server::LimitsRoute(Call& call) {
  auto s = app_->core().snapshot();
  if (!s.ok()) return call.Error(s.status());
  call.Send(200, ToJson((*s)->config.limits()));
}

void Server::ProfilesRoute(Call& call) {
  auto profiles = app_->profiles().Profiles();
  if (!profiles.ok()) return call.Error(profiles.status());
  Json list = Json::array();
  for (const Profile& p : *profiles) list.push_back(ToJson(p));
  call.Send(200, Json{{"profiles", list}});
}

void Server::ExportRoute(Call& call) {
  auto state = app::ExportState(*app_);
  if (!state.ok()) return call.Error(state.status());
  call.Send(200, *state);
}

// POST /api/import {the state as GET /api/export wrote it}: settings and
// profiles applied, a download started for each model missing here.
void Server::ImportRoute(Call& call) {
  if (!call.ParseBody()) return;
  auto r = app::RestoreState(*app_, call.body);
  if (!r.ok()) return call.Error(r.status());
  call.Send(200, *r);
}

// GET /api/settings, PATCH /api/settings {"KEY": value or null, ...}
void Server::SettingsRoute(Call& call) {
  if (call.req.method == "PATCH") {
    if (!call.ParseBody()) return;
    auto r = app_->settings().Change(call.body);
    if (!r.ok()) return call.Error(r.status());
    return call.Send(200, *r);
  }
  auto r = app_->settings().Settings();
  if (!r.ok()) return call.Error(r.status());
  call.Send(200, *r);
}

// POST /api/profiles {"name", keys...}; GET, PATCH {keys..., "unset"},
// DELETE /api/profiles/{name}.
void Server::ProfileCreate(Call& call) {
  if (!call.ParseBody()) return;
  auto name = call.body.find("name");
  if (name == call.body.end() || !name->is_string() || name->get<std::string>().empty()) {
    return call.Error(400, "give the profile's \"name\"");
  }
  auto patch = ProfilePatchFromJson(call.body);
  if (!patch.ok()) return call.Error(patch.status());
  auto p = app_->profiles().CreateProfile(name->get<std::string>(), *patch);
  if (!p.ok()) return call.Error(p.status());
  call.Send(201, ToJson(*p));
}

void Server::ProfileRoute(Call& call) {
  const std::string name = call.PathTail("/api/profiles/");
  if (call.req.method == "DELETE") {
    Status s = app_->profiles().DeleteProfile(name);
    if (!s.ok()) return call.Error(s);
    return call.Send(200, Json{{"deleted", name}});
  }
  if (call.req.method == "PATCH") {
    if (!call.ParseBody()) return;
    auto patch = ProfilePatchFromJson(call.body);
    if (!patch.ok()) return call.Error(patch.status());
    auto p = app_->profiles().UpdateProfile(name, *patch);
    if (!p.ok()) return call.Error(p.status());
    return call.Send(200, ToJson(*p));
  }
  auto p = app_->profiles().GetProfile(name);
  if (!p.ok()) return call.Error(p.status());
  call.Send(200, ToJson(*p));
}

// GET /api/doctor: the health checks of `hangar doctor`.
void Server::DoctorRoute(Call& call) {
  auto r = app_->usage().Doctor();
  if (!r.ok()) return call.Error(r.status());
  call.Send(200, runtime::ToJson(*r));
}

// GET /api/model/outdated[?cached=true]: each installed model against its
// source (asks the hubs), or the last check the server made by itself
// ([updates] check).
void Server::ModelOutdated(Call& call) {
  auto cached = Flag("cached", call.QueryParam("cached"));
  if (!cached.ok()) return call.Error(cached.status());
  if (*cached) {
    std::lock_guard lock(updates_mu_);
    if (last_update_check_.is_null()) return call.Error(404, "no update check has run yet");
    return call.Send(200, last_update_check_);
  }
  auto r = CheckForUpdates(call.QueryParam("model").value_or(""));
  if (!r.ok()) return call.Error(r.status());
  call.Send(200, *r);
}

Result<Json> Server::CheckForUpdates(const std::string& only) {
  ASSIGN_OR_RETURN(std::vector<app::UpdateCheck> checks, app_->pulls().Outdated(only));
  Json models = Json::array();
  size_t outdated = 0;
  for (const app::UpdateCheck& c : checks) {
    models.push_back(app::ToJson(c));
    outdated += c.outdated ? 1 : 0;
  }
  Json out = {{"checked_at", Rfc3339(std::chrono::system_clock::now())},
              {"outdated", outdated},
              {"models", models}};
  if (only.empty()) {
    std::lock_guard lock(updates_mu_);
    last_update_check_ = out;
  }
  return out;
}

// POST /api/model/update {"model"} or {"all": true}: a download of the
// newer revision of each outdated model.
void Server::ModelUpdate(Call& call) {
  if (!call.ParseBody()) return;
  const bool all = call.body.value("all", false);
  if (!all && !call.NeedModel(true)) return;
  auto checks = app_->pulls().Outdated(all ? "" : call.model);
  if (!checks.ok()) return call.Error(checks.status());
  Json started = Json::array(), current = Json::array();
  for (const app::UpdateCheck& c : *checks) {
    if (!c.outdated) {
      current.push_back({{"model", c.id}, {"note", c.note.empty() ? "up to date" : c.note}});
      continue;
    }
    auto d = app_->downloads().Start(c.id);
    if (!d.ok()) return call.Error(d.status());
    started.push_back({{"model", c.id}, {"download", d->id}, {"job", d->job}});
  }
  call.Send(started.empty() ? 200 : 202, Json{{"updating", started}, {"not_updated", current}});
}

// POST /api/model/quantize {"model", "type"}: a quantize job (llama.cpp's
// quantizer), its id at once; refusals (unknown or importance-matrix types)
// at once too.
void Server::ModelQuantize(Call& call) {
  if (!call.ParseBody()) return;
  if (!call.NeedModel(true)) return;
  auto type = call.body.find("type");
  if (type == call.body.end() || !type->is_string()) return call.Error(400, "give \"type\": \"Q4_K_M\", \"Q8_0\", ...");
  const gguf::FileType* t = gguf::FindFileTypeByTag(type->get<std::string>());
  if (t == nullptr) return call.Error(400, fmt::format("unknown quantization type \"{}\"", type->get<std::string>()));
  app::QuantizeQuery q;
  q.ref = call.model;
  q.type = std::string(t->tag);
  q.allow_requantize = call.body.value("allow_requantize", false);
  q.allow_paths = false;
  const std::string job = app_->quantize().StartQuantize(q);
  call.Send(202, Json{{"job", job}, {"model", call.model}, {"type", t->tag},
                      {"follow", fmt::format("/api/jobs/{}", job)}});
}

// POST /api/model/convert {"model", "type"}: an installed Hugging Face
// checkpoint converted to GGUF (and quantized when "type" is a
// quantization), as a job; the job fails with the converter's reason.
void Server::ModelConvert(Call& call) {
  if (!call.ParseBody()) return;
  if (!call.NeedModel(true)) return;
  app::ConvertQuery q;
  q.source = call.model;
  q.type = call.body.value("type", "auto");
  q.allow_paths = false;
  // Refusals that need no work are answered at once.
  auto plan = app_->convert().Plan(q);
  if (!plan.ok()) return call.Error(plan.status());
  const std::string job = app_->convert().StartConvert(q);
  call.Send(202, Json{{"job", job}, {"model", call.model}, {"type", q.type}, {"architecture", plan->architecture},
                      {"output_bytes", plan->output_bytes}, {"follow", fmt::format("/api/jobs/{}", job)}});
}

// POST /api/model/discover: models other tools downloaded, registered in place.
void Server::ModelDiscover(Call& call) {
  auto r = app_->store().Discover();
  if (!r.ok()) return call.Error(r.status());
  call.Send(200, app::ToJson(*r));
}

// POST /api/model/share {"model", "tool": "ollama" | "lmstudio", "name"}
void Server::ModelShare(Call& call) {
  if (!call.ParseBody()) return;
  if (!call.NeedModel(true)) return;
  auto tool = call.body.find("tool");
  if (tool == call.body.end() || !tool->is_string()) {
    return call.Error(400, "give \"tool\": \"ollama\" or \"lmstudio\"");
  }
  const std::string name = call.body.value("name", "");
  auto r = app_->store().Share(call.model, tool->get<std::string>(), name);
  if (!r.ok()) return call.Error(r.status());
  call.Send(200, app::ToJson(*r));
}

// GET /api/downloads; PATCH /api/downloads/{id} {"state": "paused" or
// "running"} pauses or resumes; DELETE cancels (the partial files go too).
void Server::DownloadsRoute(Call& call) {
  auto list = app_->downloads().List();
  if (!list.ok()) return call.Error(list.status());
  Json out = Json::array();
  for (const app::Download& d : *list) {
    Json j = app::ToJson(d);
    if (!d.job.empty()) {
      if (auto job = app_->jobs().Get(d.job); job.ok()) j["progress"] = JobJson(*job);
    }
    out.push_back(std::move(j));
  }
  call.Send(200, Json{{"downloads", out}});
}

void Server::DownloadAction(Call& call) {
  const std::string id = call.PathTail("/api/downloads/");
  if (call.req.method == "DELETE") {
    Status s = app_->downloads().Cancel(id);
    if (!s.ok()) return call.Error(s);
    return call.Send(200, Json{{"cancelled", id}});
  }
  if (!call.ParseBody()) return;
  const std::string state = call.body.value("state", "");
  if (state != "paused" && state != "running") {
    return call.Error(400, "give \"state\": \"paused\" (pause) or \"running\" (resume)");
  }
  Result<app::Download> d =
      state == "paused" ? app_->downloads().Pause(id) : app_->downloads().Resume(id);
  if (!d.ok() && d.status().code() == StatusCode::kFailedPrecondition) {
    return call.Error(409, d.status().message());
  }
  if (!d.ok()) return call.Error(d.status());
  call.Send(200, app::ToJson(*d));
}

// GET /api/model/requests?model=&limit=: the latest requests (time, speed,
// time to first token), oldest first, for charts.
void Server::ModelRequests(Call& call) {
  if (!call.NeedModel(false)) return;
  int limit = 100;
  if (auto l = call.QueryParam("limit"); l && !l->empty()) {
    auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (ec != std::errc() || end != l->data() + l->size() || limit < 1 || limit > 1000) {
      return call.Error(400, "limit must be 1 to 1000");
    }
  }
  auto events = app_->usage().Recent(call.model, limit);
  if (!events.ok()) return call.Error(events.status());
  Json list = Json::array();
  for (const runtime::UsageEvent& e : *events) {
    Json j = {{"at", Rfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(e.at_unix)))},
              {"backend", e.backend},
              {"kind", e.kind},
              {"outcome", e.outcome},
              {"seconds", e.infer_us / 1e6},
              {"prompt_tokens", e.prompt_tokens},
              {"gen_tokens", e.gen_tokens}};
    if (e.gen_us > 0 && e.gen_tokens > 0) j["tokens_per_second"] = e.gen_tokens * 1e6 / e.gen_us;
    if (e.ttft_us > 0) j["ttft_ms"] = e.ttft_us / 1e3;
    list.push_back(std::move(j));
  }
  call.Send(200, Json{{"model", call.model}, {"requests", list}});
}

// GET /api/jobs, GET /api/jobs/{id}, DELETE /api/jobs/{id} (cancel).
void Server::Jobs(Call& call) {
  Json list = Json::array();
  for (const app::JobInfo& job : app_->jobs().List()) list.push_back(JobJson(job));
  call.Send(200, Json{{"jobs", list}});
}

void Server::Job(Call& call) {
  const std::string id = call.PathTail("/api/jobs/");
  if (call.req.method == "DELETE") {
    Status s = app_->jobs().Cancel(id);
    if (!s.ok()) return call.Error(s);
  }
  auto job = app_->jobs().Get(id);
  if (!job.ok()) return call.Error(job.status());
  call.Send(200, JobJson(*job));
}

// GET /api/events: one Server-Sent Events stream of everything that
// changes, so that no page polls: "job" (progress with bytes, speed and ETA,
// connections in flight, then the final state), "runner" (loads, unloads, faults: the scheduler's
// events), "updates" (the server's own update check, [updates] check) and
// "resources" every second (CPU busy fraction, memory, GPUs with
// their memory and temperature, the store's disk, the loaded runners).
void Server::Events(Call& call) {
  if (!call.res.Begin(200, "text/event-stream", {{"Cache-Control", "no-store"}})) return;
  struct Progress {
    SteadyClock::time_point at;
    uint64_t completed = 0;
    double speed = 0;  // bytes/s, smoothed
  };
  std::mutex mu;
  std::deque<std::string> queue;
  std::map<std::string, Progress> progress;  // by job id
  auto token = app_->jobs().Subscribe([&](const app::JobInfo& info, const app::JobEvent* ev) {
    Json j = JobJson(info);
    std::lock_guard lock(mu);
    if (ev != nullptr) {
      j["status"] = ev->status;
      if (ev->total > 0) {
        j["completed"] = ev->completed;
        j["total"] = ev->total;
        if (ev->connections > 0) j["connections"] = ev->connections;
        auto now = SteadyClock::now();
        auto [it, fresh] = progress.try_emplace(info.id, Progress{now, ev->completed, 0});
        const double dt = std::chrono::duration<double>(now - it->second.at).count();
        if (!fresh && dt >= 0.2 && ev->completed >= it->second.completed) {
          const double rate = (ev->completed - it->second.completed) / dt;
          it->second.speed = it->second.speed == 0 ? rate : 0.7 * it->second.speed + 0.3 * rate;
          it->second.at = now;
          it->second.completed = ev->completed;
        }
        if (it->second.speed > 0) {
          j["speed"] = it->second.speed;
          j["eta_seconds"] = (ev->total - std::min(ev->completed, ev->total)) / it->second.speed;
        }
      }
    } else {
      progress.erase(info.id);
    }
    queue.push_back("event: job\ndata: " + j.dump() + "\n\n");
  });
  size_t runner_events = scheduler_->Events().size();  // only what happens from now on
  uint64_t update_checks = 0;  // the latest check is sent first, if there is one
  std::optional<CpuTimes> cpu = ReadCpuTimes(app_->core().deps().hardware_root);
  auto next_sample = SteadyClock::now();
  bool open = true;
  while (open && !call.res.stopping()->load()) {
    std::deque<std::string> out;
    {
      std::lock_guard lock(mu);
      out.swap(queue);
    }
    std::vector<runtime::SchedulerEvent> events = scheduler_->Events();
    if (events.size() < runner_events) runner_events = 0;  // the history was trimmed
    for (size_t i = runner_events; i < events.size(); ++i) {
      out.push_back("event: runner\ndata: " +
                    Json{{"model", events[i].model},
                         {"what", events[i].what},
                         {"at", Rfc3339(events[i].at)}}
                        .dump() +
                    "\n\n");
    }
    runner_events = events.size();
    {
      std::lock_guard lock(updates_mu_);
      if (update_checks_ != update_checks && !last_update_check_.is_null()) {
        out.push_back("event: updates\ndata: " + last_update_check_.dump() + "\n\n");
      }
      update_checks = update_checks_;
    }
    if (SteadyClock::now() >= next_sample) {
      next_sample += std::chrono::seconds(1);
      Json sample = {{"at", Rfc3339(std::chrono::system_clock::now())}};
      std::optional<CpuTimes> now_cpu = ReadCpuTimes(app_->core().deps().hardware_root);
      if (cpu && now_cpu) sample["cpu_busy"] = BusyFraction(*cpu, *now_cpu);
      cpu = now_cpu;
      if (auto hw = app_->core().SampleHardware(); hw.ok()) {
        sample["memory"] = {{"total", hw->memory.total}, {"available", hw->memory.available}};
        Json gpus = Json::array();
        for (const GpuInfo& g : hw->gpus) {
          Json gj = {{"index", g.index}, {"name", g.name}, {"vram_total", g.vram_total}};
          if (g.vram_free) gj["vram_free"] = *g.vram_free;
          if (g.temperature_c) gj["temperature_c"] = *g.temperature_c;
          gpus.push_back(std::move(gj));
        }
        sample["gpus"] = gpus;
        if (hw->disk) {
          sample["disk"] = {{"path", hw->disk->path.string()},
                            {"total", hw->disk->total},
                            {"free", hw->disk->free}};
        }
      }
      Json runners = Json::array();
      for (const runtime::LoadedRunner& r : scheduler_->Loaded()) {
        uint64_t bytes = 0;
        for (uint64_t m : r.memory) bytes += m;
        runners.push_back({{"model", r.name},
                           {"pid", r.pid},
                           {"memory", bytes},
                           {"in_flight", r.in_flight},
                           {"slots", r.parallel},
                           {"loading", r.loading}});
        if (r.expires_at) runners.back()["expires_at"] = Rfc3339(*r.expires_at);
      }
      sample["runners"] = runners;
      out.push_back("event: resources\ndata: " + sample.dump() + "\n\n");
    }
    for (const std::string& e : out) {
      if (!(open = call.res.Write(e))) break;
    }
    if (open && call.res.ClientGone()) open = false;
    if (open) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  app_->jobs().Unsubscribe(token);
}

// GET /api/hardware
void Server::HardwareRoute(Call& call) {
  auto hw = app_->fit().Hardware();
  if (!hw.ok()) return call.Error(hw.status());
  call.Send(200, ToJson(**hw));
}

// The workers of [cluster], asked now (as `hangar cluster --json`).
void Server::ClusterRoute(Call& call) {
  auto statuses = app_->cluster().Status();
  if (!statuses.ok()) return call.Error(statuses.status());
  Json workers = Json::array();
  for (const runtime::WorkerStatus& w : *statuses) workers.push_back(runtime::ToJson(w));
  call.Send(200, Json{{"workers", workers}});
}

}  // namespace hangar::server
