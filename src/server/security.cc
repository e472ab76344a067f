#include "server/security.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace hangar::server {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "host:port", "[v6]:port", "host" → the host part.
std::string_view HostPart(std::string_view hp) {
  if (!hp.empty() && hp.front() == '[') {
    size_t close = hp.find(']');
    return close == std::string_view::npos ? hp : hp.substr(1, close - 1);
  }
  size_t colon = hp.rfind(':');
  if (colon != std::string_view::npos && hp.find(':') == colon) return hp.substr(0, colon);
  return hp;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

bool GlobMatch(std::string_view p, std::string_view t) {
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool SameSecret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    diff |= static_cast<unsigned char>((i < a.size() ? a[i] : 0) ^ b[i]);
  }
  return diff == 0;
}

bool HostAllowed(std::string_view host_header, std::string_view hostname) {
  if (host_header.empty()) return false;
  const std::string host = Lower(HostPart(host_header));
  if (host == "localhost" || EndsWith(host, ".localhost")) return true;
  if (!hostname.empty() && host == Lower(hostname)) return true;
  in_addr a4{};
  if (::inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (::inet_pton(AF_INET6, host.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

bool OriginAllowed(std::string_view origin, const std::vector<std::string>& extra) {
  static const char* const kDefaults[] = {
      "http://localhost", "http://localhost:*", "https://localhost", "https://localhost:*",
      "http://127.0.0.1", "http://127.0.0.1:*", "https://127.0.0.1", "https://127.0.0.1:*",
      "http://[::1]",     "http://[::1]:*",
  };
  const std::string o = Lower(origin);
  for (const char* p : kDefaults) {
    if (GlobMatch(p, o)) {
      // "http://localhost:*" must not match "http://localhost:80.evil.com".
      size_t colon = o.rfind(':');
      std::string_view port = std::string_view(o).substr(colon + 1);
      if (std::string_view(p).back() != '*' ||
          std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(c); })) {
        return true;
      }
    }
  }
  for (const auto& p : extra) {
    if (p == "*" || GlobMatch(Lower(p), o)) return true;
  }
  return false;
}

std::optional<Refusal> Check(const SecurityOptions& options,
                             const runtime::wire::HttpRequest& request, bool writes,
                             bool needs_key) {
  if (options.loopback_bind && !HostAllowed(request.Header("Host"), options.hostname)) {
    return Refusal{403, fmt::format("host \"{}\" is not allowed: this server answers only to "
                                    "localhost names",
                                    request.Header("Host"))};
  }
  std::string_view origin = request.Header("Origin");
  if (!origin.empty() && !OriginAllowed(origin, options.allowed_origins)) {
    return Refusal{403, fmt::format("origin {} is not allowed; add it to [server] origins in "
                                    "config.toml or HANGAR_ORIGINS",
                                    origin)};
  }
  if (request.method == "OPTIONS") return std::nullopt;  // preflight: no credentials sent
  if (needs_key && !options.api_key.empty()) {
    std::string_view auth = request.Header("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() <= kBearer.size() || Lower(auth.substr(0, kBearer.size())) != "bearer " ||
        !SameSecret(auth.substr(kBearer.size()), options.api_key)) {
      return Refusal{401, "a valid API key is required (Authorization: Bearer KEY)"};
    }
  }
  if (writes && !options.allow_writes) {
    return Refusal{403,
                   "this server does not allow changes to its models (started with "
                   "--no-writes)"};
  }
  return std::nullopt;
}

runtime::wire::HeaderList CorsHeaders(std::string_view origin) {
  if (origin.empty()) return {};
  return {
      {"Access-Control-Allow-Origin", std::string(origin)},
      {"Vary", "Origin"},
      {"Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"},
      {"Access-Control-Allow-Headers",
       "Authorization, Content-Type, User-Agent, Accept, X-Requested-With, OpenAI-Beta, "
       "x-stainless-arch, x-stainless-lang, x-stainless-os, x-stainless-package-version, "
       "x-stainless-runtime, x-stainless-runtime-version, x-stainless-retry-count, "
       "x-stainless-timeout"},
      {"Access-Control-Max-Age", "600"},
  };
}

}  // namespace hangar::server
