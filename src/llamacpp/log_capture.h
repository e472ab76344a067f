// llama.cpp's log, routed into Hangar's, and the capture that lets one load
// say why it failed.
//
// llama.cpp (and ggml) have one process-wide log callback. InstallLog() sets
// it once, to ForwardLog, and nothing else in Hangar may call llama_log_set
// or ggml_log_set: every llama.cpp line then goes to Hangar's log at debug
// level (core/log.h; `-vv` shows them), never to stderr on its own.
//
// A LogCapture collects what llama.cpp logs *on the thread that holds it*
// while it lives: error lines (the reason a load or a context failed),
// whether an error or warning line reports an allocation failure, and, for a
// caller that wants more, every line through an observer. Captures form a
// stack per thread: a line goes to the innermost capture of the thread that
// logged it, and to no capture of any other thread, so two threads loading
// models at once each see only their own errors (an out-of-memory in one
// load is never reported as another load's). llama.cpp logs from its own
// worker threads in rare cases (they hold no capture): those lines reach
// Hangar's log only.
//
// llama.cpp sends a line in pieces (GGML_LOG_LEVEL_CONT): pieces are joined
// per thread and a line is handled once its newline arrives, or when a
// capture of its thread begins or ends (a line goes to the capture that was
// innermost when it began).
//
// Thread-safety: InstallLog and ForwardLog may be called from any thread.
// A LogCapture belongs to the thread that created it: it must be destroyed
// on that thread, in the reverse order of creation (as scoped objects are);
// its accessors are for that thread too.
#ifndef HANGAR_LLAMACPP_LOG_CAPTURE_H_
#define HANGAR_LLAMACPP_LOG_CAPTURE_H_

#include <functional>
#include <string>
#include <string_view>

#include "ggml.h"

namespace hangar::llamacpp {

// Makes ForwardLog llama.cpp's (and ggml's) log callback. The first call
// installs it; later calls return at once. Thread-safe.
void InstallLog();

// The callback InstallLog installs, with llama.cpp's signature (user_data is
// unused). Exposed so that tests can feed it lines as llama.cpp would.
void ForwardLog(ggml_log_level level, const char* text, void* user_data);

// True when llama.cpp's message `line` reports an allocation failure
// ("failed to allocate", "out of memory", "cudaMalloc failed", ...).
bool IsOutOfMemoryLine(std::string_view line);

class LogCapture {
 public:
  // Called with every line the capture receives, of any level (trailing
  // newline and spaces removed), on the capturing thread.
  using LineObserver = std::function<void(ggml_log_level level, std::string_view line)>;

  // Becomes the innermost capture of the calling thread; installs the
  // callback (InstallLog) if nothing has yet.
  LogCapture();
  explicit LogCapture(LineObserver observer);
  // Ends the thread's pending line into this capture and makes the previous
  // capture of the thread (if any) the innermost again.
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Error lines, "; "-separated (at most about 4 KB).
  const std::string& errors() const { return errors_; }
  // errors(), or "no reason given" when there were none: the reason to put
  // in a failure message.
  std::string Reason() const;
  // True when an error or warning line reported an allocation failure.
  bool out_of_memory() const { return out_of_memory_; }

 private:
  friend void ForwardLog(ggml_log_level level, const char* text, void* user_data);
  // Hands the calling thread's pending line to its innermost capture (if
  // any) and to Hangar's log.
  static void EndLine();
  void Add(ggml_log_level level, std::string_view line);

  LogCapture* previous_;
  LineObserver observer_;
  std::string errors_;
  bool out_of_memory_ = false;
};

}  // namespace hangar::llamacpp

#endif  // HANGAR_LLAMACPP_LOG_CAPTURE_H_
