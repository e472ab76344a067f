// PullOps: downloading models (hangar pull) and checking installed ones for
// newer revisions (outdated / update).
//
// A pull resolves its reference (resolver.h), reads the remote GGUF header
// and refuses a model that cannot fit, checks free space, fetches what is
// missing (fetch/puller.h) and records the model. StartPull() runs the same
// as a job (jobs.h) that outlives its caller.
//
// Thread-safe. Two pulls of the same file, in one process or two, download
// it once (the downloader's lock).
#ifndef HANGAR_APP_PULL_OPS_H_
#define HANGAR_APP_PULL_OPS_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/core.h"
#include "app/store_ops.h"
#include "core/status.h"
#include "fetch/puller.h"
#include "fetch/remote_header.h"
#include "fit/planner.h"

namespace hangar::app {

struct PullQuery {
  std::string ref;              // any reference (resolver.h), catalog ids included
  fetch::PullOptions options;   // --quant, --revision, --sha256, --offline, download settings
  int connections = 0;          // 0: [downloads] connections of config.toml
  bool force = false;           // pull even when the model does not fit this machine
  bool skip_fit_check = false;  // do not read the remote header at all
  std::string hf_endpoint;      // the hub to pull from; empty: HF_ENDPOINT (a mirror's upstream)
  std::string ollama_registry;  // the registry of Ollama models; empty: OLLAMA_REGISTRY
};

struct PullCallbacks {
  std::function<void(const std::string&)> status;       // "resolving ...", "reading the header ..."
  fetch::PullProgressFn progress;                       // per file, from the downloader
  std::function<void(const fetch::PullPlan&)> planned;  // before the first byte
};

// What a pull job's starter hears: the plan once made, and the outcome
// before the job ends (it may clean up, e.g. remove partial files).
struct PullJobHooks {
  std::function<void(const fetch::PullPlan&)> planned;
  std::function<void(const Status&)> finished;
};

struct PullReport {
  fetch::PullPlan plan;
  store::InstalledModel model;      // as recorded
  bool already_present = false;     // every file was in a store already
  std::optional<fit::FitPlan> fit;  // the fit checked before downloading
  std::string fit_note;             // why it was not checked, if it was not
  std::string replaced_revision;    // the revision an update replaced
};

struct UpdateCheck {
  std::string id, name;
  std::string installed_revision, latest_revision;
  bool outdated = false;
  uint64_t download_bytes = 0;  // what an update would fetch
  std::string note;             // why it was not checked
};

// {"id", "name", "installed_revision", "latest_revision" (null when
//  unknown), "outdated", "download_bytes", "note"}
nlohmann::json ToJson(const UpdateCheck& c);

class PullOps {
 public:
  PullOps(Core* core, StoreOps* store) : core_(core), store_(store) {}

  // Resolves `query.ref` (a catalog id pulls its Hugging Face file, with its
  // known SHA-256), plans it, refuses a model that does not fit this machine
  // (ResourceExhausted with the numbers, unless force) or the disk, fetches
  // what is missing and records the model. Errors of fetch::Puller and the
  // downloader; the partial files of an interrupted pull stay for a resume.
  Result<PullReport> Pull(const PullQuery& query, const PullCallbacks& callbacks);

  // Pull() as a job of kind "pull": its events are the status lines and the
  // download progress; Cancel stops the download (the partial stays for a
  // resume). Returns the job id at once.
  std::string StartPull(PullQuery query, PullJobHooks hooks = {});

  // Asks each installed model's source (or only `only`) for its revision:
  // an HF branch's commit, an Ollama tag's manifest digest. NotFound when
  // `only` names no installed model.
  Result<std::vector<UpdateCheck>> Outdated(std::string_view only = {});

 private:
  // The fit of a model from its remote header (the probe on a sparse copy).
  Result<fit::FitPlan> FitRemote(const fetch::RemoteHeader& header);

  Core* core_;
  StoreOps* store_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_PULL_OPS_H_
