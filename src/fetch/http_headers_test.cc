#include "fetch/http_headers.h"

#include <gtest/gtest.h>

namespace hangar {
namespace {

TEST(HttpHeadersTest, CaseInsensitiveLookupKeepsOrder) {
  HttpHeaders h;
  h.Add("X-Linked-Etag", "\"abc\"");
  h.Add("Set-Cookie", "a=1");
  h.Add("set-cookie", "b=2");
  EXPECT_EQ(h.Get("x-linked-etag"), "\"abc\"");
  EXPECT_EQ(h.Get("X-LINKED-ETAG"), "\"abc\"");
  EXPECT_EQ(h.GetAll("Set-Cookie"), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_FALSE(h.Get("Location").has_value());
  h.Set("SET-COOKIE", "c=3");
  EXPECT_EQ(h.GetAll("set-cookie"), (std::vector<std::string>{"c=3"}));
  EXPECT_EQ(h.Remove("Set-Cookie"), 1u);
  EXPECT_EQ(h.size(), 1u);
}

TEST(ParseHttpDateTest, ThreeForms) {
  const struct {
    const char* text;
    int64_t unix;
  } cases[] = {
      {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},
      {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777},
      {"Sun Nov  6 08:49:37 1994", 784111777},
      {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
      {"Wed, 29 Feb 2024 23:59:59 GMT", 1709251199},
      {"  Tue, 15 Nov 2039 12:00:00 GMT ", 2204971200},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ParseHttpDate(c.text), c.unix) << c.text;
  }
  for (const char* bad :
       {"", "yesterday", "Sun, 06 Nov 1994 08:49 GMT", "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 CET"}) {
    EXPECT_FALSE(ParseHttpDate(bad).has_value()) << bad;
  }
}

TEST(ParseRetryAfterTest, SecondsOrDate) {
  const int64_t now = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  const struct {
    const char* text;
    std::optional<int64_t> seconds;
  } cases[] = {
      {"0", 0},
      {"120", 120},
      {" 7 ", 7},
      {"Sun, 06 Nov 1994 08:50:37 GMT", 60},
      {"Sun, 06 Nov 1994 08:40:00 GMT", 0},  // in the past
      {"-5", std::nullopt},
      {"1.5", std::nullopt},
      {"soon", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ParseRetryAfter(c.text, now), c.seconds) << c.text;
  }
}

TEST(ParseContentRangeTest, Table) {
  const struct {
    const char* text;
    std::optional<ContentRange> range;
  } cases[] = {
      {"bytes 0-99/1000", ContentRange{true, 0, 99, 1000}},
      {"bytes 900-999/1000", ContentRange{true, 900, 999, 1000}},
      {"BYTES 5-5/*", ContentRange{true, 5, 5, std::nullopt}},
      {"bytes */1000", ContentRange{false, 0, 0, 1000}},
      {"bytes 0-1000/1000", std::nullopt},  // last past the end
      {"bytes 10-5/100", std::nullopt},
      {"bytes */*", std::nullopt},
      {"items 0-1/2", std::nullopt},
      {"bytes 0-99", std::nullopt},
      {"bytes a-b/c", std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ParseContentRange(c.text), c.range) << c.text;
  }
}

TEST(ParseContentLengthTest, Table) {
  EXPECT_EQ(ParseContentLength("0"), 0u);
  EXPECT_EQ(ParseContentLength(" 2147483648 "), 2147483648u);
  EXPECT_FALSE(ParseContentLength("-1").has_value());
  EXPECT_FALSE(ParseContentLength("12abc").has_value());
  EXPECT_FALSE(ParseContentLength("").has_value());
}

TEST(RedactUrlTest, DropsUserInfoAndQuery) {
  const struct {
    const char* in;
    const char* out;
  } cases[] = {
      {"https://huggingface.co/org/repo/resolve/main/x.gguf",
       "https://huggingface.co/org/repo/resolve/main/x.gguf"},
      {"https://cdn.example/x?X-Amz-Signature=secret&Expires=1", "https://cdn.example/x?..."},
      {"https://user:token@host:8443/p#frag", "https://host:8443/p"},
      {"http://host/p?", "http://host/p"},
      {"http://host", "http://host"},
  };
  for (const auto& c : cases) EXPECT_EQ(RedactUrl(c.in), c.out) << c.in;
}

TEST(UnquoteEtagTest, Table) {
  EXPECT_EQ(UnquoteEtag("\"abc\""), "abc");
  EXPECT_EQ(UnquoteEtag("W/\"abc\""), "abc");
  EXPECT_EQ(UnquoteEtag("abc"), "abc");
  EXPECT_EQ(UnquoteEtag("\""), "\"");
}

}  // namespace
}  // namespace hangar
