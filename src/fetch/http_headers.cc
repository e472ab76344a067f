#include "fetch/http_headers.h"

#include <array>
#include <charconv>

#include "core/strings.h"

namespace hangar {

void HttpHeaders::Add(std::string name, std::string value) {
  entries_.emplace_back(std::move(name), std::move(value));
}

void HttpHeaders::Set(std::string name, std::string value) {
  Remove(name);
  Add(std::move(name), std::move(value));
}

size_t HttpHeaders::Remove(std::string_view name) {
  return std::erase_if(entries_, [&](const Entry& e) { return EqualsIgnoreCase(e.first, name); });
}

std::optional<std::string> HttpHeaders::Get(std::string_view name) const {
  for (const auto& [k, v] : entries_) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

std::vector<std::string> HttpHeaders::GetAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : entries_) {
    if (EqualsIgnoreCase(k, name)) out.push_back(v);
  }
  return out;
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Whole-string unsigned decimal.
std::optional<uint64_t> ParseUnsigned(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<unsigned> MonthNumber(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (EqualsIgnoreCase(name, kMonths[i])) return static_cast<unsigned>(i + 1);
  }
  return std::nullopt;
}

bool IsWeekday(std::string_view name) {
  static constexpr std::array<std::string_view, 7> kShort = {"mon", "tue", "wed", "thu",
                                                             "fri", "sat", "sun"};
  static constexpr std::array<std::string_view, 7> kLong = {
      "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
  for (size_t i = 0; i < 7; ++i) {
    if (EqualsIgnoreCase(name, kShort[i]) || EqualsIgnoreCase(name, kLong[i])) return true;
  }
  return false;
}

// "08:49:37" → seconds of the day.
std::optional<int64_t> ParseClock(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  auto h = ParseUnsigned(s.substr(0, 2));
  auto m = ParseUnsigned(s.substr(3, 2));
  auto sec = ParseUnsigned(s.substr(6, 2));
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return static_cast<int64_t>(*h * 3600 + *m * 60 + *sec);
}

}  // namespace

std::optional<int64_t> ParseHttpDate(std::string_view value) {
  // Tokens: runs of letters/digits, and clock times with ':'.
  std::vector<std::string_view> tokens;
  value = Trim(value);
  size_t i = 0;
  while (i < value.size()) {
    char c = value[i];
    if (c == ' ' || c == ',' || c == '-' || c == '\t') {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < value.size() && (IsAlpha(value[i]) || IsDigit(value[i]) || value[i] == ':')) ++i;
    if (i == start) return std::nullopt;  // a character no HTTP-date has
    tokens.push_back(value.substr(start, i - start));
  }
  size_t t = 0;
  if (t < tokens.size() && IsWeekday(tokens[t])) ++t;
  std::optional<unsigned> month;
  std::optional<uint64_t> day, year;
  std::optional<int64_t> clock;
  bool two_digit_year = false;
  if (tokens.size() - t == 5 && AllDigits(tokens[t])) {
    // IMF-fixdate "06 Nov 1994 08:49:37 GMT" or RFC 850 "06-Nov-94 08:49:37 GMT".
    day = ParseUnsigned(tokens[t]);
    month = MonthNumber(tokens[t + 1]);
    if (AllDigits(tokens[t + 2])) year = ParseUnsigned(tokens[t + 2]);
    two_digit_year = tokens[t + 2].size() == 2;
    clock = ParseClock(tokens[t + 3]);
    if (!EqualsIgnoreCase(tokens[t + 4], "GMT") && !EqualsIgnoreCase(tokens[t + 4], "UTC")) {
      return std::nullopt;
    }
  } else if (tokens.size() - t == 4 && !AllDigits(tokens[t])) {
    // asctime "Nov  6 08:49:37 1994".
    month = MonthNumber(tokens[t]);
    if (AllDigits(tokens[t + 1])) day = ParseUnsigned(tokens[t + 1]);
    clock = ParseClock(tokens[t + 2]);
    if (AllDigits(tokens[t + 3]) && tokens[t + 3].size() == 4) year = ParseUnsigned(tokens[t + 3]);
  } else {
    return std::nullopt;
  }
  if (!month || !day || !year || !clock || *day < 1 || *day > 31) return std::nullopt;
  if (two_digit_year) *year += *year < 70 ? 2000 : 1900;
  if (*year < 1970 || *year > 9999) return std::nullopt;
  return DaysFromCivil(static_cast<int64_t>(*year), *month, static_cast<unsigned>(*day)) * 86400 +
         *clock;
}

std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_unix_seconds) {
  value = Trim(value);
  if (AllDigits(value)) {
    auto v = ParseUnsigned(value);
    if (!v || *v > (1ULL << 40)) return std::nullopt;
    return static_cast<int64_t>(*v);
  }
  auto at = ParseHttpDate(value);
  if (!at) return std::nullopt;
  return *at > now_unix_seconds ? *at - now_unix_seconds : 0;
}

std::optional<ContentRange> ParseContentRange(std::string_view value) {
  value = Trim(value);
  if (value.size() < 6 || !EqualsIgnoreCase(value.substr(0, 6), "bytes ")) return std::nullopt;
  value = Trim(value.substr(6));
  size_t slash = value.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view range = value.substr(0, slash);
  std::string_view total = value.substr(slash + 1);
  ContentRange out;
  if (total != "*") {
    out.total = ParseUnsigned(total);
    if (!out.total) return std::nullopt;
  }
  if (range == "*") {
    if (!out.total) return std::nullopt;  // "bytes */*" means nothing
    out.satisfied = false;
    return out;
  }
  size_t dash = range.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = ParseUnsigned(range.substr(0, dash));
  auto last = ParseUnsigned(range.substr(dash + 1));
  if (!first || !last || *first > *last) return std::nullopt;
  if (out.total && *last >= *out.total) return std::nullopt;
  out.first = *first;
  out.last = *last;
  return out;
}

std::optional<uint64_t> ParseContentLength(std::string_view value) {
  return ParseUnsigned(Trim(value));
}

std::string RedactUrl(std::string_view url) {
  std::string out;
  size_t scheme_end = url.find("://");
  size_t authority_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  size_t authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  out.append(url.substr(0, authority_start));
  out.append(authority);
  std::string_view rest = url.substr(authority_end);
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    out.append(rest.substr(0, q));
    if (q + 1 < rest.size()) out.append("?...");
  } else {
    out.append(rest);
  }
  return out;
}

std::string UnquoteEtag(std::string_view etag) {
  etag = Trim(etag);
  if (etag.size() >= 2 && (etag[0] == 'W' || etag[0] == 'w') && etag[1] == '/') {
    etag.remove_prefix(2);
  }
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

}  // namespace hangar
