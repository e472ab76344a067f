// URL parsing and resolution for HTTP(S), on libcurl's URL parser (the same
// one the transport uses, so Hangar and the transport never disagree on what a
// URL means). Pure and thread-safe.
#ifndef HANGAR_FETCH_URL_H_
#define HANGAR_FETCH_URL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "fetch/http_headers.h"

namespace hangar {

struct Url {
  std::string scheme;  // lower case: "http" or "https"
  std::string host;    // lower case
  uint16_t port = 0;   // explicit, or the scheme's default
  std::string path;    // "/" at least
  std::string query;   // without "?", may be empty

  // scheme, host and port: what decides whether credentials may be sent.
  std::string Origin() const;
};

// InvalidArgument when `text` is not an absolute http(s) URL.
Result<Url> ParseUrl(std::string_view text);

// `reference` (absolute, or relative such as "/cdn/x" or "../x") resolved
// against `base`, as a redirect's Location is. InvalidArgument when either is
// malformed or the result is not http(s).
Result<std::string> ResolveUrl(std::string_view base, std::string_view reference);

// True when both URLs parse and have the same scheme, host and port.
bool SameOrigin(std::string_view a, std::string_view b);

// Removes the headers that carry credentials (Authorization, Cookie) and
// returns how many there were. Used when a request leaves its first origin.
size_t StripCredentials(HttpHeaders& headers);

}  // namespace hangar

#endif  // HANGAR_FETCH_URL_H_
