// ConvertOps: `hangar convert`: a Hugging Face checkpoint on this machine
// turned into a GGUF model llama.cpp runs (checkpoint/convert.h), optionally
// quantized in the same step (through QuantizeOps), and installed.
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
#include <string>

#include "app/core.h"
#include "app/quantize_ops.h"
#include "app/store_ops.h"
#include "checkpoint/convert.h"
#include "core/status.h"

namespace hangar::app {

struct ConvertQuery {
  std::filesystem::path source;  // a checkpoint folder or one .safetensors file
  std::string type = "auto";     // auto | f32 | f16 | bf16 | a quantization (q4_k_m, q8_0, ...)
  std::filesystem::path out;     // empty: into Hangar's store
  std::string name;              // general.name; empty: the folder's name
  int threads = 0;               // for the quantizer; 0: every core
};

struct ConvertReport {
  std::filesystem::path source;
  uint64_t source_bytes = 0;     // the checkpoint's tensor bytes
  checkpoint::ConvertPlan plan;  // of the float conversion
  std::string quantized;         // the quantization applied after it, or empty
  store::InstalledModel model;   // as recorded
  double seconds = 0;
};

// (stage, done, total): "converting" counts bytes written, "quantizing" tensors.
using ConvertProgress = std::function<Status(std::string_view stage, uint64_t done, uint64_t total)>;

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
  Core* core_;
  StoreOps* store_;
  QuantizeOps* quantize_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_CONVERT_OPS_H_
