#include "server/security.h"

#include <gtest/gtest.h>

#include "core/status_matchers.h"
#include "server/server.h"

namespace hangar::server {
namespace {

TEST(SecurityTest, HostHeaderOnALoopbackBind) {
  struct Case {
    const char* host;
    bool allowed;
  } cases[] = {
      {"localhost:11435", true},
      {"LOCALHOST", true},
      {"127.0.0.1:80", true},
      {"127.1.2.3", true},
      {"[::1]:11435", true},
      {"app.localhost:3000", true},
      {"myhost:11435", true},
      {"evil.example:11435", false},
      {"attacker.com", false},
      {"10.0.0.5:11435", false},
      {"", false},
      {"localhost.evil.com", false},
      {"127.0.0.1.evil.com", false},
      {"[::2]:80", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(HostAllowed(c.host, "myhost"), c.allowed) << c.host;
  }
}

TEST(SecurityTest, BrowserOrigins) {
  EXPECT_TRUE(OriginAllowed("http://localhost:3000", {}));
  EXPECT_TRUE(OriginAllowed("http://127.0.0.1", {}));
  EXPECT_TRUE(OriginAllowed("https://localhost:8443", {}));
  EXPECT_FALSE(OriginAllowed("http://localhost:80.evil.com", {}));
  EXPECT_FALSE(OriginAllowed("http://evil.example", {}));
  EXPECT_FALSE(OriginAllowed("null", {}));
  EXPECT_FALSE(OriginAllowed("chrome-extension://abc", {}));
  EXPECT_TRUE(OriginAllowed("chrome-extension://abc", {"chrome-extension://*"}));
  EXPECT_TRUE(OriginAllowed("https://app.example.com", {"https://*.example.com"}));
  EXPECT_FALSE(OriginAllowed("https://example.com.evil", {"https://*.example.com"}));
}

runtime::wire::HttpRequest Request(std::string method, runtime::wire::HeaderList headers) {
  runtime::wire::HttpRequest r;
  r.method = std::move(method);
  r.target = "/api/tags";
  r.headers = std::move(headers);
  return r;
}

TEST(SecurityTest, ApiKeyIsRequiredOnEveryRouteWhenSet) {
  SecurityOptions o;
  o.loopback_bind = false;
  o.api_key = "s3cret";
  EXPECT_EQ(Check(o, Request("GET", {{"Host", "10.0.0.1"}}), false)->status, 401);
  EXPECT_EQ(Check(o, Request("GET", {{"Authorization", "Bearer wrong"}}), false)->status, 401);
  EXPECT_EQ(Check(o, Request("GET", {{"Authorization", "Bearer s3cre"}}), false)->status, 401);
  EXPECT_EQ(Check(o, Request("GET", {{"Authorization", "Basic s3cret"}}), false)->status, 401);
  EXPECT_FALSE(Check(o, Request("GET", {{"Authorization", "Bearer s3cret"}}), false));
  EXPECT_FALSE(Check(o, Request("GET", {{"authorization", "bearer s3cret"}}), false));
}

TEST(SecurityTest, RebindingOriginsAndWrites) {
  SecurityOptions o;
  o.allow_writes = false;
  auto host_refused = Check(o, Request("GET", {{"Host", "rebind.attacker.com"}}), false);
  ASSERT_TRUE(host_refused);
  EXPECT_EQ(host_refused->status, 403);
  EXPECT_NE(host_refused->message.find("rebind.attacker.com"), std::string::npos);
  auto origin_refused =
      Check(o, Request("POST", {{"Host", "localhost"}, {"Origin", "https://evil.example"}}), false);
  ASSERT_TRUE(origin_refused);
  EXPECT_EQ(origin_refused->status, 403);
  EXPECT_EQ(Check(o, Request("POST", {{"Host", "localhost"}}), true)->status, 403);
  EXPECT_FALSE(Check(o, Request("POST", {{"Host", "localhost"}}), false));
}

TEST(KeepAliveTest, OllamasMeanings) {
  using std::chrono::milliseconds;
  EXPECT_EQ(*ParseKeepAlive(nlohmann::json("5m")), milliseconds(300000));
  EXPECT_EQ(*ParseKeepAlive(nlohmann::json("1h30m")), milliseconds(5400000));
  EXPECT_EQ(*ParseKeepAlive(nlohmann::json("300ms")), milliseconds(300));
  EXPECT_EQ(*ParseKeepAlive(nlohmann::json(30)), milliseconds(30000));
  EXPECT_EQ(*ParseKeepAlive(nlohmann::json("30")), milliseconds(30000));
  EXPECT_EQ(*ParseKeepAlive(nlohmann::json(0)), milliseconds(0));
  EXPECT_EQ(*ParseKeepAlive(nlohmann::json(-1)), runtime::kForever);
  EXPECT_EQ(*ParseKeepAlive(nlohmann::json("-1m")), runtime::kForever);
  EXPECT_THAT(ParseKeepAlive(nlohmann::json("soon")), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseKeepAlive(nlohmann::json("5x")), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseKeepAlive(nlohmann::json(true)), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace hangar::server
