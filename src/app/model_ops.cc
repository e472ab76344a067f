#include "app/model_ops.h"

#include <algorithm>

#include "config/config_writer.h"
#include "fetch/puller.h"
#include "fetch/remote_header.h"
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

Result<checkpoint::OnnxModel> ModelOps::InspectOnnx(const std::filesystem::path& path) {
  return checkpoint::ReadOnnx(path);
}

Result<checkpoint::PytorchCheckpoint> ModelOps::InspectPytorch(const std::filesystem::path& path) {
  return checkpoint::ReadPytorchCheckpoint(path);
}

Result<checkpoint::HfCheckpoint> ModelOps::InspectCheckpoint(const std::filesystem::path& path) {
  return checkpoint::OpenCheckpoint(path);
}


Result<checkpoint::HfCheckpoint> ModelOps::InspectRemoteCheckpoint(const fetch::PullPlan& plan,
                                                                   fetch::Puller&) {
  checkpoint::HfCheckpoint c;
  c.root = plan.name;
  auto get_json = [&](const fetch::PullFile& f) -> Result<nlohmann::json> {
    ASSIGN_OR_RETURN(std::string text, fetch::ReadRemoteSmallFile(core_->http(), f.url, f.headers, 16 << 20, f.name));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return InvalidArgumentError(f.name + " is not JSON");
    return j;
  };
  std::string pickle;
  for (const fetch::PullFile& f : plan.files) {
    const std::string& n = f.name;
    if (n.ends_with(".safetensors")) {
      ASSIGN_OR_RETURN(fetch::RemoteSafetensors r,
                       fetch::ReadRemoteSafetensorsHeader(core_->http(), f.url, f.headers, f.size, n));
      c.shards.push_back(checkpoint::Shard{n, r.file_size, std::move(r.header)});
    } else if (n == "config.json") {
      ASSIGN_OR_RETURN(c.config, get_json(f));
      if (auto t = c.config.find("text_config"); t != c.config.end() && t->is_object()) {
        for (const auto& [k, v] : t->items()) {
          if (!c.config.contains(k)) c.config[k] = v;
        }
      }
    } else if (n == "generation_config.json") {
      if (auto g = get_json(f); g.ok()) c.generation_config = *g;
    } else if (n == "tokenizer.json") {
      c.has_tokenizer_json = true;
    } else if (n == "tokenizer.model") {
      c.has_tokenizer_model = true;
    } else if (n == "chat_template.jinja") {
      c.has_chat_template = true;
    } else if (n == "tokenizer_config.json") {
      if (auto t = get_json(f); t.ok() && t->is_object() && t->contains("chat_template")) c.has_chat_template = true;
    } else if (n == "model.safetensors.index.json") {
      c.has_index = true;
    } else if (n.ends_with(".bin") || n.ends_with(".pth") || n.ends_with(".pt")) {
      pickle = n;
    }
  }
  if (c.shards.empty()) {
    if (!pickle.empty()) {
      return FailedPreconditionError(plan.name + " holds PyTorch pickle weights (" + pickle +
                                     "): Hangar does not load pickle files (unpickling can run code)");
    }
    return NotFoundError(plan.name + " holds no .safetensors weights");
  }
  std::sort(c.shards.begin(), c.shards.end(),
            [](const checkpoint::Shard& a, const checkpoint::Shard& b) { return a.path < b.path; });
  return c;
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
  if (plan.files.front().name.ends_with(".safetensors") || plan.files.front().name.ends_with(".bin")) {
    ASSIGN_OR_RETURN(out.checkpoint, InspectRemoteCheckpoint(plan, puller));
    return out;
  }
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
