// Security: the checks every request of `hangar serve` passes before a
// route sees it, and the CORS answer for browsers.
//
// - Host: on a loopback bind the Host header must name this machine by a
//   loopback name (localhost, *.localhost, 127.x.y.z, [::1]) or its host
//   name, so a web page cannot reach the server by DNS rebinding.
// - Origin: a browser's Origin must be in the allowed list (localhost and
//   127.0.0.1 on any port by default; patterns with '*' from config).
// - API key: when one is set (a non-loopback bind refuses to start without
//   one), every route requires `Authorization: Bearer KEY`, compared in
//   constant time.
// - Writing routes (pull, delete, create, copy, blobs) can be switched off.
//
// Pure functions of their arguments: thread-safe.
#ifndef HANGAR_SERVER_SECURITY_H_
#define HANGAR_SERVER_SECURITY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/http_wire.h"

namespace hangar::server {

struct SecurityOptions {
  bool loopback_bind = true;
  std::string api_key;                       // empty: none
  std::vector<std::string> allowed_origins;  // extra patterns, e.g. "chrome-extension://*"
  bool allow_writes = true;
  std::string hostname;  // this machine's name (allowed as Host)
};

struct Refusal {
  int status = 403;
  std::string message;
};

// Whether `host_header` ("localhost:11434") is allowed on a loopback bind.
bool HostAllowed(std::string_view host_header, std::string_view hostname);
// Whether a browser at `origin` may call (the default list plus `extra`).
bool OriginAllowed(std::string_view origin, const std::vector<std::string>& extra);
// '*' matches any run of characters.
bool GlobMatch(std::string_view pattern, std::string_view text);
// Constant-time comparison.
bool SameSecret(std::string_view a, std::string_view b);

// nullopt when `request` may go on; `writes` says the route changes the store;
// `needs_key` false for the console's pages (the Host and Origin checks
// still apply).
std::optional<Refusal> Check(const SecurityOptions& options,
                             const runtime::wire::HttpRequest& request, bool writes,
                             bool needs_key = true);
// The CORS headers for an allowed Origin (none without one).
runtime::wire::HeaderList CorsHeaders(std::string_view origin);

}  // namespace hangar::server

#endif  // HANGAR_SERVER_SECURITY_H_
