// HTTP header lists and the small header grammars Hangar reads: Retry-After,
// Content-Range, Content-Length, plus URL redaction for messages.
//
// HttpHeaders keeps headers in arrival order (names as sent) and looks them up
// case-insensitively, as HTTP requires. It is a plain value: copyable, not
// synchronised. All free functions are pure and thread-safe.
#ifndef HANGAR_FETCH_HTTP_HEADERS_H_
#define HANGAR_FETCH_HTTP_HEADERS_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hangar {

class HttpHeaders {
 public:
  using Entry = std::pair<std::string, std::string>;

  HttpHeaders() = default;
  HttpHeaders(std::initializer_list<Entry> entries) : entries_(entries) {}

  // Appends a header (a name may repeat).
  void Add(std::string name, std::string value);
  // Replaces every header called `name` by one with `value`.
  void Set(std::string name, std::string value);
  // Removes every header called `name`; returns how many were removed.
  size_t Remove(std::string_view name);

  // The first value of `name` (case-insensitive); nullopt when absent.
  std::optional<std::string> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  // Every value of `name`, in order.
  std::vector<std::string> GetAll(std::string_view name) const;

  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }

  friend bool operator==(const HttpHeaders&, const HttpHeaders&) = default;

 private:
  std::vector<Entry> entries_;
};

// Seconds to wait for a `Retry-After` value: delay-seconds ("120") or an
// HTTP-date (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 or asctime
// form), relative to `now_unix_seconds`; a date in the past gives 0. nullopt
// when the value is neither.
std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_unix_seconds);

// Seconds since the Unix epoch of an HTTP-date (the three forms above).
std::optional<int64_t> ParseHttpDate(std::string_view value);

// `Content-Range: bytes FIRST-LAST/TOTAL` (TOTAL may be "*"), or the form of a
// 416 answer `bytes */TOTAL` (then `satisfied` is false).
struct ContentRange {
  bool satisfied = true;
  uint64_t first = 0;             // when satisfied
  uint64_t last = 0;              // inclusive, when satisfied
  std::optional<uint64_t> total;  // nullopt for "*"

  friend bool operator==(const ContentRange&, const ContentRange&) = default;
};
std::optional<ContentRange> ParseContentRange(std::string_view value);

// A decimal byte count such as a Content-Length value; nullopt when malformed.
std::optional<uint64_t> ParseContentLength(std::string_view value);

// The URL as it may appear in a message or a log: user info dropped and the
// query replaced by "?..." (signed CDN URLs carry credentials in the query).
std::string RedactUrl(std::string_view url);

// `"abc"` → `abc`, `W/"abc"` → `abc`; other text unchanged (ETag values).
std::string UnquoteEtag(std::string_view etag);

}  // namespace hangar

#endif  // HANGAR_FETCH_HTTP_HEADERS_H_
