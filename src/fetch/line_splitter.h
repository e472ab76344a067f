// LineSplitter: turns the pieces of a streamed body into whole lines, for
// NDJSON (Ollama's /api/pull, /api/chat) and server-sent events (OpenAI style
// `data: ...` lines), which arrive split at arbitrary byte boundaries.
//
//   LineSplitter lines([&](std::string_view line) { return HandleEvent(line); });
//   handler.on_body = [&](std::string_view data) { return lines.Feed(data); };
//   ... after Stream(): RETURN_IF_ERROR(lines.Finish());
//
// Lines end at "\n"; a "\r" before it is dropped. The callback's non-OK
// Status stops the feeding and is returned. A line longer than `max_line`
// bytes is ResourceExhausted. Not thread-safe (one stream, one splitter).
#ifndef HANGAR_FETCH_LINE_SPLITTER_H_
#define HANGAR_FETCH_LINE_SPLITTER_H_

#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hangar {

class LineSplitter {
 public:
  using LineFn = std::function<Status(std::string_view line)>;
  explicit LineSplitter(LineFn on_line, size_t max_line = 16 << 20)
      : on_line_(std::move(on_line)), max_line_(max_line) {}

  // Hands every line completed by `data` to the callback.
  Status Feed(std::string_view data);
  // Hands over a last line without a final "\n", if any.
  Status Finish();

 private:
  LineFn on_line_;
  size_t max_line_;
  std::string pending_;
};

}  // namespace hangar

#endif  // HANGAR_FETCH_LINE_SPLITTER_H_
