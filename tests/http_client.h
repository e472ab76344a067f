// A plain HTTP/1.1 client for the end-to-end tests: one request to a server
// on 127.0.0.1, read with the same wire code as the server (test code only).
#ifndef HANGAR_TESTS_HTTP_CLIENT_H_
#define HANGAR_TESTS_HTTP_CLIENT_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "runtime/http_wire.h"

namespace hangar::testing {

struct HttpReply {
  int status = 0;  // 0: no answer
  runtime::wire::HeaderList headers;
  std::string body;
  std::string_view Header(std::string_view n) const {
    return runtime::wire::FindHeader(headers, n);
  }
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// A TCP connection to 127.0.0.1:port (closed when it fails).
runtime::wire::Socket ConnectLoopback(uint16_t port);

// One request, `target` sent exactly as given, `body` as JSON when not empty
// (unless `headers` give its Content-Type), Host added unless given; the connection is closed after it. `on_line`, when
// given, sees each line of the body as it comes and may stop the reading by
// returning false (the body read so far is in the reply).
HttpReply HttpCall(uint16_t port, std::string method, std::string target, std::string body = "",
                   runtime::wire::HeaderList headers = {},
                   const std::function<bool(const std::string&)>& on_line = nullptr);

}  // namespace hangar::testing

#endif  // HANGAR_TESTS_HTTP_CLIENT_H_
