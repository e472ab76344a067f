#include "llamacpp/log_capture.h"

#include <mutex>
#include <utility>

#include "core/log.h"
#include "core/strings.h"
#include "llama.h"

namespace hangar::llamacpp {
namespace {

// The innermost capture of this thread (each links to the one before it).
thread_local LogCapture* t_top = nullptr;
// The line being assembled on this thread, and its level.
thread_local std::string t_line;
thread_local ggml_log_level t_level = GGML_LOG_LEVEL_NONE;

}  // namespace

void InstallLog() {
  static std::once_flag once;
  std::call_once(once, [] { llama_log_set(ForwardLog, nullptr); });
}

void ForwardLog(ggml_log_level level, const char* text, void* /*user_data*/) {
  if (level != GGML_LOG_LEVEL_CONT) {
    if (!t_line.empty()) LogCapture::EndLine();
    t_level = level;
  }
  if (text != nullptr) t_line += text;
  if (!t_line.empty() && t_line.back() == '\n') LogCapture::EndLine();
}

bool IsOutOfMemoryLine(std::string_view line) {
  const std::string l = AsciiLower(line);
  for (std::string_view needle :
       {"failed to allocate", "out of memory", "cudamalloc failed", "unable to allocate",
        "failed to create buffer", "cannot allocate memory", "failed to reserve"}) {
    if (l.find(needle) != std::string::npos) return true;
  }
  return false;
}

LogCapture::LogCapture() : LogCapture(LineObserver()) {}

LogCapture::LogCapture(LineObserver observer) : previous_(t_top), observer_(std::move(observer)) {
  InstallLog();
  // A piece of a line that began before this capture belongs to the one before.
  if (!t_line.empty()) EndLine();
  t_top = this;
}

LogCapture::~LogCapture() {
  if (!t_line.empty()) EndLine();
  t_top = previous_;
}

std::string LogCapture::Reason() const {
  return errors_.empty() ? std::string("no reason given") : errors_;
}

void LogCapture::EndLine() {
  std::string line = std::move(t_line);
  t_line.clear();
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return;
  if (t_top != nullptr) t_top->Add(t_level, line);
  if (LogEnabled(LogLevel::kDebug)) LogLine(LogLevel::kDebug, "llama.cpp: " + line);
}

void LogCapture::Add(ggml_log_level level, std::string_view line) {
  if (observer_) observer_(level, line);
  const bool error = level == GGML_LOG_LEVEL_ERROR;
  if (!error && level != GGML_LOG_LEVEL_WARN) return;
  if (IsOutOfMemoryLine(line)) out_of_memory_ = true;
  if (!error || errors_.size() > 4096) return;
  if (!errors_.empty()) errors_ += "; ";
  errors_ += line;
}

}  // namespace hangar::llamacpp
