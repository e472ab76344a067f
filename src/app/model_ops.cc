#include "app/model_ops.h"

#include "config/config_writer.h"
#include "fetch/puller.h"
#include "gguf/split.h"

namespace hangar::app {

Result<std::vector<ModelView>> ModelOps::ListModels(const ListQuery& query) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  std::vector<ModelView> out;
  for (const CatalogEntry* e : s->models.catalog().Filter(query.filter)) {
    ModelView v = s->models.View(*e, s->config.default_model());
    if (query.scope == ListQuery::Scope::kInstalled && !v.installed) continue;
    out.push_back(std::move(v));
  }
  return out;
}

Result<ModelView> ModelOps::Info(std::string_view ref) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(Resolution t, Resolve(*s, ref));
  if (t.view) return *t.view;
  // A file or remote source that is no catalog entry: say what is close.
  RETURN_IF_ERROR(s->models.catalog().Lookup(ref).status());
  return NotFoundError("model " + std::string(ref) + " is not in the catalog");
}

Result<ValidationReport> ModelOps::Validate(std::string_view ref) {
  ASSIGN_OR_RETURN(ModelView v, Info(ref));
  return ValidateModel(v);
}

Result<std::optional<std::string>> ModelOps::DefaultModel() {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  return s->config.default_model();
}

Result<std::string> ModelOps::SetDefaultModel(std::string_view ref) {
  ASSIGN_OR_RETURN(ModelView v, Info(ref));
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  auto lock = core_->LockConfigWrites();
  auto written = hangar::SetDefaultModel(p->config_file, v.entry.id);
  RETURN_IF_ERROR(core_->Refresh().status());
  RETURN_IF_ERROR(written);
  return v.entry.id;
}

Result<Inspection> ModelOps::Inspect(std::string_view ref) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(Resolution t, Resolve(*s, ref));
  // A bare NAME:TAG nobody knows is more likely a typo than a registry name.
  if (t.guessed_remote && !t.view) return s->models.catalog().Lookup(ref).status();
  if (t.file.empty() || t.kind == TargetKind::kCatalog || t.kind == TargetKind::kRemote) {
    return InspectRemote(t);
  }
  Inspection out;
  ASSIGN_OR_RETURN(out.parts, gguf::ReadSplitModel(t.file));
  out.summary = gguf::Summarize(out.parts);
  return out;
}

Result<checkpoint::HfCheckpoint> ModelOps::InspectCheckpoint(const std::filesystem::path& path) {
  return checkpoint::OpenCheckpoint(path);
}

Result<Inspection> ModelOps::InspectRemote(const Resolution& t) {
  if (!t.source) {
    return FailedPreconditionError(t.DisplayId() +
                                   " is not on this machine and names no source to read it from");
  }
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  fetch::Puller puller(core_->http(), core_->env(),
                       fetch::PullStores{p->hf_hub_cache, p->data_dir, p->ollama_models});
  ASSIGN_OR_RETURN(fetch::PullPlan plan, puller.Plan(*t.source, fetch::PullOptions{}));
  Inspection out;
  if (plan.files.front().cached) {
    // On this machine after all (another tool's cache): read it here.
    ASSIGN_OR_RETURN(out.parts, gguf::ReadSplitModel(plan.files.front().destination));
  } else {
    ASSIGN_OR_RETURN(fetch::RemoteHeader header, puller.Header(plan));
    out.remote_url = header.final_url;
    out.remote_requests = header.requests;
    header.file.name = plan.files.front().name;
    out.parts.push_back(std::move(header.file));
  }
  out.summary = gguf::Summarize(out.parts);
  return out;
}

}  // namespace hangar::app
