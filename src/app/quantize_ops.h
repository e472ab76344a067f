// QuantizeOps: `hangar quantize`: an installed (or local) GGUF model made
// smaller by llama.cpp's own quantizer, the result installed beside its
// source.
//
// Thread-safe: each call works on its own files; the result is recorded
// through StoreOps.
#ifndef HANGAR_APP_QUANTIZE_OPS_H_
#define HANGAR_APP_QUANTIZE_OPS_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "app/core.h"
#include "app/store_ops.h"
#include "core/status.h"

namespace hangar::app {

struct QuantizeQuery {
  std::string ref;                // any reference of a GGUF on this machine
  std::string type;               // "Q4_K_M", "q8_0", "Q6_K", ... (llama-quantize's names)
  std::filesystem::path out;      // empty: into Hangar's store, named <model>-<TYPE>.gguf
  int threads = 0;                // 0: every core
  bool allow_requantize = false;  // from a model that is quantized already
  bool allow_paths = true;        // false: `ref` must name an installed model (remote callers)
};

struct QuantizeReport {
  std::string source_id;
  std::filesystem::path source;
  uint64_t source_bytes = 0;
  store::InstalledModel model;  // as recorded
  double seconds = 0;
};

class QuantizeOps {
 public:
  QuantizeOps(Core* core, StoreOps* store) : core_(core), store_(store) {}

  // InvalidArgument for an unknown type (naming the known ones), a type that
  // needs an importance matrix, or a source that is quantized already
  // (without allow_requantize); NotFound for an unknown model;
  // AlreadyExists when the output is installed. The output is written to a
  // temporary file and moved into place only when llama.cpp succeeded.
  Result<QuantizeReport> Quantize(const QuantizeQuery& query,
                                  const std::function<void(uint32_t, uint32_t)>& progress = {});
  // Quantize() as a job of kind "quantize" (progress: tensors done).
  std::string StartQuantize(QuantizeQuery query);

 private:
  Core* core_;
  StoreOps* store_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_QUANTIZE_OPS_H_
