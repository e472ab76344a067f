// llama.cpp's log, routed into Hangar's: llama.cpp writes to stderr unless
// told otherwise, which would mix its chatter into `hangar run`'s output.
// InstallLlamaLog() (idempotent) sends every llama.cpp line to Hangar's log at
// debug level (`-vv` shows them). While a LlamaLogCapture lives on a thread,
// error and warning lines logged from that thread are also collected, so a
// failed load can say why.
//
// llama.cpp's callback is process-wide: the fit module's probe swaps it for
// its own while it runs and restores it afterwards. Thread-safe.
#ifndef HANGAR_RUNTIME_LLAMA_LOG_H_
#define HANGAR_RUNTIME_LLAMA_LOG_H_

#include <string>

namespace hangar::runtime {

// Also calls llama_backend_init() once.
void InstallLlamaLog();

class LlamaLogCapture {
 public:
  LlamaLogCapture();
  ~LlamaLogCapture();
  LlamaLogCapture(const LlamaLogCapture&) = delete;
  LlamaLogCapture& operator=(const LlamaLogCapture&) = delete;

  // Error lines, "; "-separated (at most a few KB).
  const std::string& errors() const { return errors_; }
  // True when a line says memory could not be allocated.
  bool out_of_memory() const { return out_of_memory_; }

  void AddLine(bool error, const std::string& line);

 private:
  LlamaLogCapture* previous_;
  std::string errors_;
  bool out_of_memory_ = false;
};

// True when llama.cpp's message `line` reports an allocation failure
// ("failed to allocate", "out of memory", "cudaMalloc failed", ...).
bool IsOutOfMemoryLine(const std::string& line);

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_LLAMA_LOG_H_
