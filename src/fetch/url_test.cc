#include "fetch/url.h"

#include <gtest/gtest.h>

#include "core/status_matchers.h"

namespace hangar {
namespace {

TEST(ParseUrlTest, PartsAndDefaultPorts) {
  Url u = *ParseUrl("https://HuggingFace.co/org/repo/resolve/main/a.gguf?download=1");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "huggingface.co");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.path, "/org/repo/resolve/main/a.gguf");
  EXPECT_EQ(u.query, "download=1");
  EXPECT_EQ(ParseUrl("http://127.0.0.1:8080")->port, 8080);
  EXPECT_EQ(ParseUrl("http://127.0.0.1:8080")->path, "/");
  EXPECT_EQ(ParseUrl("http://localhost/x")->port, 80);
}

TEST(ParseUrlTest, RejectsNonHttp) {
  for (const char* bad : {"", "ftp://host/x", "file:///etc/passwd", "not a url", "/relative"}) {
    EXPECT_THAT(ParseUrl(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(ResolveUrlTest, RelativeAndAbsoluteLocations) {
  const struct {
    const char* base;
    const char* ref;
    const char* out;
  } cases[] = {
      {"http://a:1/x/y/z", "/cdn/blob", "http://a:1/cdn/blob"},
      {"http://a:1/x/y/z", "w", "http://a:1/x/y/w"},
      {"http://a:1/x/y/z", "../w?q=1", "http://a:1/x/w?q=1"},
      {"http://a:1/x", "https://cdn.example/b?sig=1", "https://cdn.example/b?sig=1"},
  };
  for (const auto& c : cases) {
    auto r = ResolveUrl(c.base, c.ref);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, c.out);
  }
  EXPECT_THAT(ResolveUrl("http://a/x", "ftp://b/y"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(SameOriginTest, SchemeHostAndPortDecide) {
  EXPECT_TRUE(SameOrigin("http://127.0.0.1:80/a", "http://127.0.0.1/b"));
  EXPECT_TRUE(SameOrigin("https://HF.co/a", "https://hf.co:443/b?x"));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:8000/a", "http://localhost:8000/a"));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/a"));
  EXPECT_FALSE(SameOrigin("http://hf.co/a", "https://hf.co/a"));
  EXPECT_FALSE(SameOrigin("http://hf.co/a", "garbage"));
}

TEST(StripCredentialsTest, RemovesAuthorizationAndCookie) {
  HttpHeaders h{{"authorization", "Bearer t"}, {"Cookie", "c"}, {"Accept", "*/*"}};
  EXPECT_EQ(StripCredentials(h), 2u);
  EXPECT_EQ(h, (HttpHeaders{{"Accept", "*/*"}}));
}

}  // namespace
}  // namespace hangar
