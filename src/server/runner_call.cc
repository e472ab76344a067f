#include "server/runner_call.h"

#include <fmt/format.h>

namespace hangar::server {
namespace {

constexpr uint64_t kMaxBody = 256ull << 20;
// A generation may think for a long time between tokens (a long prompt on a
// slow machine); the client's disconnect and the stop flag end waits sooner.
constexpr auto kRunnerTimeout = std::chrono::minutes(30);

Result<wire::Socket> Open(runtime::Runner& runner) {
  auto socket = runner.Connect(wire::After(std::chrono::seconds(5)));
  if (!socket.ok()) {
    return UnavailableError(fmt::format("the runner of {} cannot be reached: {}",
                                        runner.config().alias, socket.status().message()));
  }
  return socket;
}

}  // namespace

Result<RunnerReply> CallRunner(runtime::Runner& runner, std::string_view path,
                               const nlohmann::json& body, const Response& client,
                               const std::function<bool(std::string_view)>& on_event) {
  ASSIGN_OR_RETURN(wire::Socket socket, Open(runner));
  socket.set_deadline(wire::After(kRunnerTimeout));
  socket.Watch(client.client_fd(), client.stopping());
  wire::HttpRequest req;
  req.method = "POST";
  req.target = std::string(path);
  req.headers = runner.AuthHeaders();
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  req.keep_alive = false;
  RETURN_IF_ERROR(wire::WriteRequest(socket, req));

  wire::ResponseReader reader(&socket);
  ASSIGN_OR_RETURN(wire::HttpResponseHead head, reader.ReadHead());
  RunnerReply reply;
  reply.status = head.status;
  reply.content_type = std::string(head.Header("Content-Type"));
  const bool sse = reply.content_type.find("text/event-stream") != std::string::npos;
  if (head.status != 200 || !sse) {
    ASSIGN_OR_RETURN(reply.body, reader.ReadBody(kMaxBody));
    return reply;
  }
  std::string pending;
  for (;;) {
    ASSIGN_OR_RETURN(std::string piece, reader.ReadBodyPiece());
    if (piece.empty()) return reply;
    pending += piece;
    size_t end;
    while ((end = pending.find("\n\n")) != std::string::npos) {
      std::string_view event(pending.data(), end);
      size_t pos = 0;
      while (pos <= event.size()) {
        size_t nl = event.find('\n', pos);
        std::string_view line = event.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
        if (line.rfind("data:", 0) == 0) {
          std::string_view data = line.substr(5);
          if (!data.empty() && data.front() == ' ') data.remove_prefix(1);
          if (!on_event(data)) return reply;
        }
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
      }
      pending.erase(0, end + 2);
    }
  }
}

}  // namespace hangar::server
