#include "runtime/llama_log.h"

#include <mutex>
#include <string_view>

#include "core/log.h"
#include "core/strings.h"
#include "llama.h"

namespace hangar::runtime {
namespace {

thread_local LlamaLogCapture* t_capture = nullptr;
// The line being assembled on this thread (llama.cpp sends CONT chunks).
thread_local std::string t_line;
thread_local ggml_log_level t_level = GGML_LOG_LEVEL_NONE;

void EndLine() {
  std::string line = std::move(t_line);
  t_line.clear();
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return;
  const bool error = t_level == GGML_LOG_LEVEL_ERROR;
  if (t_capture != nullptr && (error || t_level == GGML_LOG_LEVEL_WARN)) {
    t_capture->AddLine(error, line);
  }
  if (LogEnabled(LogLevel::kDebug)) LogLine(LogLevel::kDebug, "llama.cpp: " + line);
}

void Forward(ggml_log_level level, const char* text, void* /*user_data*/) {
  if (level != GGML_LOG_LEVEL_CONT) {
    if (!t_line.empty()) EndLine();
    t_level = level;
  }
  t_line += text;
  if (!t_line.empty() && t_line.back() == '\n') EndLine();
}

}  // namespace

void InstallLlamaLog() {
  static std::once_flag once;
  std::call_once(once, [] {
    llama_log_set(Forward, nullptr);
    llama_backend_init();
  });
}

bool IsOutOfMemoryLine(const std::string& line) {
  const std::string l = AsciiLower(line);
  for (std::string_view needle :
       {"failed to allocate", "out of memory", "cudamalloc failed", "unable to allocate",
        "failed to create buffer", "cannot allocate memory", "failed to reserve"}) {
    if (l.find(needle) != std::string::npos) return true;
  }
  return false;
}

LlamaLogCapture::LlamaLogCapture() : previous_(t_capture) { t_capture = this; }

LlamaLogCapture::~LlamaLogCapture() {
  if (!t_line.empty()) EndLine();
  t_capture = previous_;
}

void LlamaLogCapture::AddLine(bool error, const std::string& line) {
  if (IsOutOfMemoryLine(line)) out_of_memory_ = true;
  if (!error || errors_.size() > 4096) return;
  if (!errors_.empty()) errors_ += "; ";
  errors_ += line;
}

}  // namespace hangar::runtime
