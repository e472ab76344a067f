// Models split over machines, end to end on 127.0.0.1: two real `hangar
// worker`s (llama.cpp's rpc-server) with memory caps, a generated model that
// fits only across this machine and both, `hangar fit`/`cluster` and `hangar
// serve` placing it; greedy output equal to the same model in one process; a
// worker killed mid-stream, one restarted, one stopped (SIGSTOP) at load time.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "process.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using ::testing::HasSubstr;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using Reply = testing::HttpReply;

Reply Post(uint16_t port, const std::string& target, const Json& body,
           const std::function<bool(const std::string&)>& on_line = nullptr) {
  return testing::HttpCall(port, "POST", target, body.dump(), {}, on_line);
}

Json Get(uint16_t port, const std::string& target) {
  return testing::HttpCall(port, "GET", target).json();
}

// Greedy: the same prompt, no template, temperature 0.
Json Generate(int num_predict, bool stream = false) {
  return {{"model", "big"},
          {"prompt", "The workers of a cluster"},
          {"raw", true},
          {"stream", stream},
          {"options", {{"temperature", 0}, {"num_predict", num_predict}, {"seed", 7}}}};
}

bool Alive(int pid) {
  if (::kill(pid, 0) != 0) return false;
  std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hangar-cluster-test-XXXXXX";
    home_ = ::mkdtemp(tmpl);
    env_ = {{"HOME", home_.string()},
            {"XDG_DATA_HOME", (home_ / "data").string()},
            {"XDG_CONFIG_HOME", (home_ / "config").string()},
            {"XDG_CACHE_HOME", (home_ / "cache").string()},
            {"PATH", "/usr/bin:/bin"},
            {"NO_COLOR", "1"}};
    // 8 layers of 512, F16, a 32,000-token vocabulary: 115 MB of weights,
    // about 210 MB to run with 4096 tokens of context.
    fs::path file = home_ / "big.gguf";
    auto made =
        testing::RunProcess({HANGAR_MKMODEL_BIN, "--arch", "llama", "--type", "f16", "--layers",
                             "8", "--embd", "512", "--ff", "1536", "--heads", "8", "--vocab",
                             "llama-spm", "--seed", "3", "--out", file.string()},
                            env_);
    ASSERT_EQ(made.exit_code, 0) << made.err;
    auto imported = testing::RunProcess({HANGAR_BIN, "import", file.string()}, env_);
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
  }
  void TearDown() override {
    for (int pid : pids_) {
      ::kill(pid, SIGCONT);
      ::kill(pid, SIGKILL);
      testing::WaitProcess(pid);
    }
    std::error_code ec;
    fs::remove_all(home_, ec);
  }

  // `hangar worker --port PORT --mem MEM`; its RPC port (0 on failure).
  int StartWorker(const std::string& mem, int port = 0, int* pid = nullptr, bool cache = false) {
    const fs::path out = home_ / fmt::format("worker-{}.out", ++started_);
    const fs::path err = home_ / fmt::format("worker-{}.err", started_);
    std::vector<std::string> argv = {HANGAR_BIN,           "worker", "--port",
                                     std::to_string(port), "--mem",  mem,
                                     "--threads",          "1",      "--json"};
    if (cache) argv.push_back("--cache");
    int p = testing::SpawnProcess(argv, env_, out.string(), err.string());
    pids_.push_back(p);
    if (pid) *pid = p;
    for (int i = 0; i < 1500; ++i) {
      Json doc = Json::parse(ReadFile(out), nullptr, false);
      if (!doc.is_discarded() && doc.contains("port")) return doc["port"].get<int>();
      if (!Alive(p)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "worker did not start: " << ReadFile(err);
    return 0;
  }

  void WriteConfig(const std::vector<int>& workers) {
    std::string list;
    for (int w : workers) list += fmt::format("{}\"127.0.0.1:{}\"", list.empty() ? "" : ", ", w);
    fs::create_directories(home_ / "config/hangar");
    std::ofstream(home_ / "config/hangar/config.toml")
        << "[limits]\nmax_ram_usage = \"110MB\"\nos_reserve = \"0\"\n"
        << (workers.empty() ? "" : fmt::format("[cluster]\nworkers = [{}]\n", list));
  }

  uint16_t StartServe() {
    const fs::path out = home_ / fmt::format("serve-{}.out", ++started_);
    err_ = home_ / fmt::format("serve-{}.err", started_);
    serve_pid_ = testing::SpawnProcess({HANGAR_BIN, "serve", "--port", "0", "--quiet"}, env_,
                                       out.string(), err_.string());
    pids_.push_back(serve_pid_);
    for (int i = 0; i < 500; ++i) {
      std::string text = ReadFile(out);
      if (size_t at = text.find("listening on http://127.0.0.1:"); at != std::string::npos) {
        return static_cast<uint16_t>(std::stoi(text.substr(at + 30)));
      }
      if (!Alive(serve_pid_)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "serve did not start: " << ReadFile(err_);
    return 0;
  }
  void StopServe() {
    ::kill(serve_pid_, SIGTERM);
    testing::WaitProcess(serve_pid_);
    std::erase(pids_, serve_pid_);
  }

  Json Hangar(const std::vector<std::string>& args, int* exit_code = nullptr) {
    std::vector<std::string> argv = {HANGAR_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = testing::RunProcess(argv, env_);
    if (exit_code) *exit_code = r.exit_code;
    Json doc = Json::parse(r.out, nullptr, false);
    EXPECT_FALSE(doc.is_discarded()) << r.out << r.err;
    return doc;
  }

  fs::path home_;
  fs::path err_;
  std::map<std::string, std::string> env_;
  std::vector<int> pids_;
  int serve_pid_ = 0;
  int started_ = 0;
};

TEST_F(ClusterTest, AModelTooLargeForThisMachineRunsSplitOverTwoWorkersWithTheSameOutput) {
  // The reference: the model in one llama-server process (no limits here).
  WriteConfig({});
  fs::remove(home_ / "config/hangar/config.toml");
  uint16_t port = StartServe();
  ASSERT_NE(port, 0);
  Reply local = Post(port, "/api/generate", Generate(32));
  ASSERT_EQ(local.status, 200) << local.body;
  const std::string expected = local.json()["response"];
  EXPECT_EQ(local.json()["eval_count"], 32);
  StopServe();

  // This machine may take 110 MB; the workers offer 40 MB and 115 MB.
  int pid1 = 0, pid2 = 0;
  const int w1 = StartWorker("40MB", 0, &pid1);
  const int w2 = StartWorker("115MB", 0, &pid2, /*cache=*/true);
  ASSERT_GT(w1, 0);
  ASSERT_GT(w2, 0);

  // `hangar cluster`: both up, with their devices and what they offer.
  WriteConfig({w1, w2});
  Json cluster = Hangar({"cluster", "--json"});
  ASSERT_EQ(cluster["workers"].size(), 2u) << cluster.dump();
  EXPECT_EQ(cluster["workers"][0]["capacity"], 40000000u);
  EXPECT_EQ(cluster["workers"][1]["capacity"], 115000000u);
  for (const Json& w : cluster["workers"]) {
    EXPECT_EQ(w["state"], "up") << w.dump();
    EXPECT_EQ(w["devices"][0]["name"], "CPU");
    EXPECT_EQ(w["rpc_version"], "7.0.0");
    EXPECT_EQ(w["clients"], 0);
  }

  // `hangar recommend` counts what the workers offer as RAM.
  Json rec = Hangar({"recommend", "--json"});
  EXPECT_EQ(rec["ram_budget"], 110000000u + 40000000u + 115000000u) << rec.dump();

  // `hangar fit`: not here alone, not with either worker, with both.
  int code = 0;
  Json fit = Hangar({"fit", "big", "--json"}, &code);
  EXPECT_EQ(code, 0) << fit.dump();
  EXPECT_FALSE(fit["requested"]["fits"]);
  ASSERT_TRUE(fit.contains("cluster")) << fit.dump();
  EXPECT_TRUE(fit["cluster"]["fit"]["fits"]) << fit["cluster"]["fit"]["reason"];
  const Json& devices = fit["cluster"]["fit"]["memory"]["devices"];
  ASSERT_EQ(devices.size(), 3u);
  EXPECT_EQ(devices[1]["device"], fmt::format("RPC0[127.0.0.1:{}]", w1));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_GT(devices[i]["weights"].get<uint64_t>(), 0u) << "device " << i << " holds layers";
  }
  EXPECT_GT(fit["cluster"]["weights_sent"].get<uint64_t>(), 0u);
  for (int only : {w1, w2}) {
    WriteConfig({only});
    Json one = Hangar({"fit", "big", "--json"}, &code);
    EXPECT_NE(code, 0);
    EXPECT_FALSE(one["cluster"]["fit"]["fits"]) << one.dump();
    EXPECT_THAT(one["cluster"]["fit"]["reason"].get<std::string>(),
                HasSubstr("offered by the worker"));
  }

  // Served split over both: the same tokens as in one process.
  WriteConfig({w1, w2});
  port = StartServe();
  ASSERT_NE(port, 0);
  Reply split = Post(port, "/api/generate", Generate(32));
  ASSERT_EQ(split.status, 200) << split.body << ReadFile(err_);
  EXPECT_EQ(split.json()["response"], expected);
  EXPECT_EQ(split.json()["eval_count"], 32);
  EXPECT_THAT(Get(port, "/api/ps").dump(), HasSubstr("split over 2 worker(s), "));
  EXPECT_THAT(Get(port, "/api/ps").dump(), HasSubstr(" of weights sent: 127.0.0.1:"));
  Json api = Get(port, "/api/cluster");
  ASSERT_EQ(api["workers"].size(), 2u) << api.dump();
  EXPECT_EQ(api["workers"][1]["state"], "up");
  for (const Json& w : Hangar({"cluster", "--json"})["workers"]) {
    EXPECT_EQ(w["clients"], 1) << "the runner holds each worker: " << w.dump();
    EXPECT_GT(w["used"].get<uint64_t>(), 10000000u) << "layers arrived: " << w.dump();
  }
  // The worker with --cache kept the tensor over 10 MB it holds (the
  // 32.8 MB output matrix) on its disk, for the next load to send its hash.
  int cached = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(home_ / "cache/hangar/worker/rpc", ec)) {
    cached += e.file_size() > 10000000 ? 1 : 0;
  }
  EXPECT_EQ(cached, 1);

  // A worker killed mid-stream: the stream ends with an error naming it.
  Json last;
  int lines = 0;
  Reply streamed = Post(port, "/api/generate", Generate(100000, true), [&](const std::string& l) {
    if (++lines == 3) {
      ::kill(pid2, SIGKILL);
      testing::WaitProcess(pid2);
      std::erase(pids_, pid2);
    }
    if (!l.empty()) last = Json::parse(l, nullptr, false);
    return true;
  });
  EXPECT_EQ(streamed.status, 200);
  ASSERT_TRUE(last.contains("error")) << last.dump();
  const std::string error = last["error"];
  EXPECT_THAT(error, HasSubstr("stopped answering"));
  EXPECT_THAT(error, HasSubstr(fmt::format("worker 127.0.0.1:{} is down", w2)));

  // The next request: placed again without it, which does not fit: need vs
  // what is offered, at once.
  Reply refused = Post(port, "/api/generate", Generate(4));
  EXPECT_EQ(refused.status, 507) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("does not fit this machine and its workers"));
  EXPECT_THAT(refused.body, HasSubstr("offered by the worker"));
  EXPECT_THAT(refused.body, HasSubstr(fmt::format("left out: 127.0.0.1:{}: down", w2)));
  EXPECT_EQ(Get(port, "/api/cluster")["workers"][1]["state"], "down");

  // The worker back on its port: the model is placed over both again.
  ASSERT_EQ(StartWorker("115MB", w2, &pid2), w2);
  Reply again = Post(port, "/api/generate", Generate(32));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["response"], expected);
}

TEST_F(ClusterTest, AStoppedWorkerIsReportedNotWaitedOn) {
  int pid1 = 0;
  const int w1 = StartWorker("40MB", 0, &pid1);
  const int w2 = StartWorker("115MB");
  ASSERT_GT(w1, 0);
  ASSERT_GT(w2, 0);
  WriteConfig({w1, w2});
  ASSERT_EQ(::kill(pid1, SIGSTOP), 0);
  int code = 0;
  Json cluster = Hangar({"cluster", "--json"}, &code);
  EXPECT_NE(code, 0);
  EXPECT_EQ(cluster["workers"][0]["state"], "not answering") << cluster.dump();
  EXPECT_THAT(cluster["workers"][0]["error"].get<std::string>(), HasSubstr("no answer within"));
  EXPECT_EQ(cluster["workers"][1]["state"], "up");

  uint16_t port = StartServe();
  ASSERT_NE(port, 0);
  Reply refused = Post(port, "/api/generate", Generate(4));
  EXPECT_EQ(refused.status, 507) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr(fmt::format("left out: 127.0.0.1:{}: not answering", w1)));
  ::kill(pid1, SIGCONT);
  Reply served = Post(port, "/api/generate", Generate(4));
  EXPECT_EQ(served.status, 200) << served.body;
}

TEST_F(ClusterTest, AWorkerRefusesToListenBeyondLoopbackWithoutTrustedNetwork) {
  auto r = testing::RunProcess({HANGAR_BIN, "worker", "--host", "0.0.0.0", "--port", "0"}, env_);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("no authentication"));
  EXPECT_THAT(r.err, HasSubstr("--trusted-network"));
}

}  // namespace
}  // namespace hangar
