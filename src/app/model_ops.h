// ModelOps: the use cases about what models there are: list, info,
// validate, the default model, and reading a model's GGUF header (locally,
// or remotely by HTTP Range for a model not downloaded).
//
// Every reference goes through Resolve (resolver.h). Thread-safe: reads the
// shared snapshot; SetDefaultModel writes config.toml and refreshes it.
#ifndef HANGAR_APP_MODEL_OPS_H_
#define HANGAR_APP_MODEL_OPS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/core.h"
#include "checkpoint/hf_checkpoint.h"
#include "checkpoint/onnx.h"
#include "checkpoint/pytorch.h"
#include "app/models.h"
#include "core/status.h"
#include "fetch/puller.h"
#include "gguf/gguf_file.h"
#include "gguf/summary.h"

namespace hangar::app {

struct Inspection {
  std::vector<gguf::GgufFile> parts;  // every part of a split model
  gguf::ModelSummary summary;
  // Set instead of parts/summary when the model is a Hugging Face
  // checkpoint (safetensors), on this machine or read remotely by Range.
  std::optional<checkpoint::HfCheckpoint> checkpoint;
  std::string remote_url;  // the header was read from here by Range (not downloaded)
  int remote_requests = 0;
};

class ModelOps {
 public:
  explicit ModelOps(Core* core) : core_(core) {}

  Result<std::vector<ModelView>> ListModels(const ListQuery& query);
  // The entry `ref` names. NotFound (with a suggestion) when nothing matches.
  Result<ModelView> Info(std::string_view ref);
  // Checks a model's local files; see ValidationReport. NotFound for an
  // unknown model; FailedPrecondition when it has no local files.
  Result<ValidationReport> Validate(std::string_view ref);
  // The configured default model id, if any.
  Result<std::optional<std::string>> DefaultModel();
  // Resolves `ref` and records its id as the default. NotFound for an
  // unknown model; InvalidArgument/Unavailable from the config writer.
  Result<std::string> SetDefaultModel(std::string_view ref);

  // The GGUF header of a file path (any part of a split set; "file://" too)
  // or of a model's local weights; for a model that is not on this machine
  // (a catalog id, ORG/REPO:QUANT, hf://, ollama://, a URL) the header is
  // read remotely by HTTP Range without downloading the file. NotFound for
  // an unknown model or path; DataLoss / InvalidArgument from the reader for
  // a damaged or foreign file; errors of the sources for a remote one.
  Result<Inspection> Inspect(std::string_view ref);
  // The remote header of what `target` would pull (its primary file).
  Result<Inspection> InspectRemote(const Resolution& target);
  // A Hugging Face checkpoint (folder or .safetensors file): its config,
  // shards and tokenizer files, without reading a byte of weights.
  Result<checkpoint::HfCheckpoint> InspectCheckpoint(const std::filesystem::path& path);
  // An ONNX model's metadata (checkpoint/onnx.h), weights skipped.
  Result<checkpoint::OnnxModel> InspectOnnx(const std::filesystem::path& path);
  // A PyTorch checkpoint's tensors (checkpoint/pytorch.h), never unpickled.
  Result<checkpoint::PytorchCheckpoint> InspectPytorch(const std::filesystem::path& path);
  // The same for a repository not downloaded: the safetensors headers by
  // Range, config.json and tokenizer_config.json whole (small files).
  Result<checkpoint::HfCheckpoint> InspectRemoteCheckpoint(const fetch::PullPlan& plan,
                                                           fetch::Puller& puller);

 private:
  Core* core_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_MODEL_OPS_H_
