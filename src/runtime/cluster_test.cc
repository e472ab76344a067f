#include "runtime/cluster.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/status_matchers.h"
#include "fetch/curl_http_client.h"

namespace hangar::runtime {
namespace {

using ::testing::HasSubstr;

// A TCP socket listening on 127.0.0.1 that never answers (its backlog
// accepts connections).
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port nothing listens on (bound, then closed).
int ClosedPort() {
  SilentListener l;
  return l.port();
}

TEST(ClusterTest, StatusJsonRoundTrips) {
  WorkerStatus s;
  s.endpoint = "10.0.0.2:50052";
  s.state = WorkerState::kUp;
  s.devices = {{"CPU", "AMD EPYC", 64000000000, 60000000000}};
  s.capacity = 8000000000;
  s.used = 1200000000;
  s.available = 50000000000;
  s.clients = 1;
  s.threads = 16;
  s.cache = true;
  s.rpc_version = "7.0.0";
  s.hangar_version = "0.9";
  auto back = WorkerStatusFromJson(ToJson(s));
  ASSERT_OK(back);
  EXPECT_EQ(back->devices, s.devices);
  EXPECT_EQ(back->capacity, s.capacity);
  EXPECT_EQ(back->used, s.used);
  EXPECT_EQ(back->clients, 1);
  EXPECT_TRUE(back->cache);
  EXPECT_EQ(back->rpc_version, "7.0.0");
  EXPECT_EQ(ToJson(s)["state"], "up");

  auto bad = WorkerStatusFromJson(nlohmann::json{{"devices", nlohmann::json::array()}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("capacity"));
  EXPECT_EQ(StatusEndpoint("10.0.0.2:50052"), "10.0.0.2:50053");
}

TEST(ClusterTest, AWorkerThatRefusesIsDownAndOneThatIsSilentIsNotAnswering) {
  CurlHttpClient http;
  const auto timeout = std::chrono::milliseconds(400);
  // The status port is the RPC port + 1: point both at what the test holds.
  const int refused = ClosedPort();
  WorkerStatus down = ProbeWorker(http, fmt::format("127.0.0.1:{}", refused - 1), timeout);
  EXPECT_EQ(down.state, WorkerState::kDown);
  EXPECT_THAT(down.error, HasSubstr("unreachable"));

  SilentListener silent;
  WorkerStatus stuck = ProbeWorker(http, fmt::format("127.0.0.1:{}", silent.port() - 1), timeout);
  EXPECT_EQ(stuck.state, WorkerState::kNotAnswering);
  EXPECT_THAT(stuck.error, HasSubstr("no answer within 400 ms"));

  Cluster cluster(
      {fmt::format("127.0.0.1:{}", refused - 1), fmt::format("127.0.0.1:{}", silent.port() - 1)},
      &http, timeout);
  EXPECT_EQ(cluster.Last()[0].error, "not probed yet");
  const uint64_t before = cluster.generation();
  auto statuses = cluster.Probe();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].state, WorkerState::kDown);
  EXPECT_EQ(statuses[1].state, WorkerState::kNotAnswering);
  EXPECT_NE(cluster.generation(), before);
  cluster.MarkDown(statuses[1].endpoint, "lost during generation");
  EXPECT_EQ(cluster.Last()[1].state, WorkerState::kDown);
  EXPECT_EQ(cluster.Last()[1].error, "lost during generation");
}

TEST(ClusterTest, RpcHelloToSomethingElseFailsWithinItsTimeout) {
  auto refused = RpcHello(fmt::format("127.0.0.1:{}", ClosedPort()), std::chrono::seconds(2));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("refused"));
  SilentListener silent;
  auto busy = RpcHello(fmt::format("127.0.0.1:{}", silent.port()), std::chrono::milliseconds(300));
  ASSERT_FALSE(busy.ok());
  EXPECT_THAT(busy.status().message(), HasSubstr("did not answer the RPC handshake"));
}

}  // namespace
}  // namespace hangar::runtime
