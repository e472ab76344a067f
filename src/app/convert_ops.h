// ConvertOps: `hangar convert`: a Hugging Face checkpoint on this machine
// turned into a GGUF model llama.cpp runs (checkpoint/convert.h), optionally
// quantized in the same step (through QuantizeOps), and installed.
//
// When the source is an installed checkpoint, the two records name each
// other (metadata "converted_from" on the GGUF, "converted_to" on the
// checkpoint), so `hangar rm` of one says what happens to the other.
//
// By default the result goes into Hangar's store as
// `<data>/converted/<checkpoint>-<TYPE>.gguf` and is registered in place, so
// `hangar run <checkpoint>-<type>` finds it. A quantized result is made from
// a temporary F16/BF16 conversion that is removed afterwards.
//
// Thread-safe: each call works on its own files; the result is recorded
// through StoreOps.
#ifndef HANGAR_APP_CONVERT_OPS_H_
#define HANGAR_APP_CONVERT_OPS_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "app/core.h"
#include "app/quantize_ops.h"
#include "app/store_ops.h"
#include "checkpoint/convert.h"
#include "core/status.h"

namespace hangar::app {

struct ConvertQuery {
  // A checkpoint folder or one .safetensors file, or an installed
  // safetensors model (pulled from Hugging Face) by any of its names.
  std::string source;
  std::string type = "auto";     // auto | f32 | f16 | bf16 | a quantization (q4_k_m, q8_0, ...)
  std::filesystem::path out;     // empty: into Hangar's store
  std::string name;              // general.name; empty: the folder's name
  int threads = 0;               // for the quantizer; 0: every core
  bool allow_paths = true;       // false: `source` must name an installed checkpoint (remote callers)
};

struct ConvertReport {
  std::filesystem::path source;  // the checkpoint folder or file
  std::string checkpoint_id;     // the installed checkpoint's id, when it is one
  uint64_t source_bytes = 0;     // the checkpoint's tensor bytes
  checkpoint::ConvertPlan plan;  // of the float conversion
  std::string quantized;         // the quantization applied after it, or empty
  store::InstalledModel model;   // as recorded
  double seconds = 0;
};

// (stage, done, total): "converting" counts bytes written, "quantizing" tensors.
using ConvertProgress = std::function<Status(std::string_view stage, uint64_t done, uint64_t total)>;

// What to tell someone who asked to run `source` (an installed checkpoint's
// id, or a checkpoint folder), which llama.cpp cannot load: its conversion
// when it has one, else the command that converts it, with the GGUF's size
// and the time that should take here.
std::string CheckpointRunAdvice(Core& core, const std::string& source);

class ConvertOps {
 public:
  ConvertOps(Core* core, StoreOps* store, QuantizeOps* quantize) : core_(core), store_(store), quantize_(quantize) {}

  // The checkpoint's conversion plan (and the output size), without writing.
  Result<checkpoint::ConvertPlan> Plan(const ConvertQuery& query);


  // NotFound for a missing checkpoint; the checkpoint errors
  // (checkpoint/convert.h) and QuantizeOps' for the quantization;
  // AlreadyExists when the output exists; Cancelled when `progress` says so.
  // Nothing is left at the output on failure.
  Result<ConvertReport> Convert(const ConvertQuery& query, const ConvertProgress& progress = {});
  // Convert() as a job of kind "convert" (cancellable).
  std::string StartConvert(ConvertQuery query);

 private:
  struct Source {
    std::filesystem::path folder;
    std::optional<store::InstalledModel> installed;
  };
  Result<Source> Locate(const std::string& source, bool allow_paths);
  Status Link(const store::InstalledModel& checkpoint, const store::InstalledModel& converted);

  Core* core_;
  StoreOps* store_;
  QuantizeOps* quantize_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_CONVERT_OPS_H_
