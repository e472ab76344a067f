// Logging to stderr. Quiet by default (warnings and errors only); `-v` raises
// the level to info, `-vv` to debug. The level is process-wide; Log() is
// thread-safe (one line is written with one call).
#ifndef HANGAR_CORE_LOG_H_
#define HANGAR_CORE_LOG_H_

#include <fmt/format.h>

#include <string_view>

namespace hangar {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
inline bool LogEnabled(LogLevel level) { return level <= GetLogLevel(); }

// Writes "hangar: <level>: <message>\n" to stderr when `level` is enabled.
void LogLine(LogLevel level, std::string_view message);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (!LogEnabled(level)) return;
  LogLine(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace hangar

#endif  // HANGAR_CORE_LOG_H_
