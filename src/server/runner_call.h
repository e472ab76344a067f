// RunnerCall: one request from the front to a runner (llama-server) for a
// client's request, streamed back as it comes. The wait for the runner also
// watches the client's socket and the server's stop flag: when the client
// closes its connection (during prompt processing too) or the server stops,
// the runner connection is closed at once, which makes llama-server cancel
// the task and free its slot.
//
// Thread-safety: one call per thread; nothing shared.
#ifndef HANGAR_SERVER_RUNNER_CALL_H_
#define HANGAR_SERVER_RUNNER_CALL_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"
#include "runtime/runner.h"
#include "server/http_server.h"

namespace hangar::server {

struct RunnerReply {
  int status = 0;
  std::string content_type;
  std::string body;  // the whole body when not streamed (or an error's)
};

// POSTs `body` to `path` on `runner`. A 200 answer of type text/event-stream
// is handed to `on_event` one `data:` payload at a time (SSE comments are
// skipped); `on_event` returns false to stop early. Any other answer comes
// back whole in the reply. Errors: Cancelled (the client went away or the
// server is stopping), Unavailable (the runner closed the connection or
// could not be reached: it may have died).
Result<RunnerReply> CallRunner(runtime::Runner& runner, std::string_view path,
                               const nlohmann::json& body, const Response& client,
                               const std::function<bool(std::string_view)>& on_event);

}  // namespace hangar::server

#endif  // HANGAR_SERVER_RUNNER_CALL_H_
