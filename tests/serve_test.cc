// `hangar serve` end to end: the real binary with real llama-server runners
// on generated models, talked to over HTTP on 127.0.0.1: concurrency, the
// scheduler's memory budget and queue, runner faults, client disconnects,
// shutdown and the security checks, each with a hostile or failing case.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint_fixture.h"
#include "fake_hub.h"
#include "fetch/testing/test_http_server.h"
#include "http_client.h"
#include "process.h"
#include "runtime/http_wire.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
namespace wire = runtime::wire;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using Reply = testing::HttpReply;

wire::Socket ConnectTcp(uint16_t port) { return testing::ConnectLoopback(port); }

// A request whose answer is read as it comes.
class Stream {
 public:
  Stream(uint16_t port, std::string method, std::string target, std::string body,
         wire::HeaderList headers = {})
      : socket_(ConnectTcp(port)), reader_(&socket_) {
    socket_.set_deadline(wire::After(std::chrono::seconds(120)));
    if (!socket_.is_open()) return;
    headers.emplace_back("Host", "127.0.0.1");
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    wire::HttpRequest req{std::move(method), std::move(target), std::move(headers), std::move(body),
                          true};
    if (!wire::WriteRequest(socket_, req).ok()) return;
    auto head = reader_.ReadHead();
    if (head.ok()) status_ = head->status, headers_ = head->headers;
  }
  int status() const { return status_; }
  std::string_view Header(std::string_view n) const { return wire::FindHeader(headers_, n); }
  // The next whole line of an NDJSON body; nullopt at the end.
  std::optional<std::string> Line() {
    for (;;) {
      size_t nl = pending_.find('\n');
      if (nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        return line;
      }
      auto piece = reader_.ReadBodyPiece();
      if (!piece.ok() || piece->empty()) {
        if (pending_.empty()) return std::nullopt;
        std::string rest = std::move(pending_);
        pending_.clear();
        return rest;
      }
      pending_ += *piece;
    }
  }
  std::vector<Json> AllLines() {
    std::vector<Json> out;
    while (auto l = Line()) {
      if (!l->empty()) out.push_back(Json::parse(*l, nullptr, false));
    }
    return out;
  }
  void Close() { socket_.Close(); }

 private:
  wire::Socket socket_;
  wire::ResponseReader reader_;
  int status_ = 0;
  wire::HeaderList headers_;
  std::string pending_;
};

Reply Http(uint16_t port, std::string method, std::string target, std::string body = "",
           wire::HeaderList headers = {}) {
  return testing::HttpCall(port, std::move(method), std::move(target), std::move(body),
                           std::move(headers));
}

// The first line of a streamed answer, which must not be an error.
#define ASSERT_FIRST_LINE_OK(stream)                                            \
  do {                                                                          \
    auto first_line = (stream).Line();                                          \
    ASSERT_TRUE(first_line) << "no line; status " << (stream).status();         \
    ASSERT_EQ(first_line->find("\"error\""), std::string::npos) << *first_line; \
  } while (0)

// The status the server answers to `raw` bytes sent as they are (0: none).
int RawStatus(uint16_t port, std::string_view raw) {
  wire::Socket s = ConnectTcp(port);
  s.set_deadline(wire::After(std::chrono::seconds(10)));
  if (!s.WriteAll(raw).ok()) return 0;
  wire::ResponseReader reader(&s);
  auto head = reader.ReadHead();
  return head.ok() ? head->status : 0;
}

Json Chat(std::string model, std::string content, int num_predict, bool stream = false) {
  return {{"model", model},
          {"stream", stream},
          {"messages", {{{"role", "user"}, {"content", content}}}},
          {"options", {{"num_predict", num_predict}, {"temperature", 0}}}};
}

bool ProcessAlive(int pid) {
  if (::kill(pid, 0) != 0) return false;
  // A zombie (reaped later by its parent) counts as gone.
  std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// A job of the server on `port` once it has ended (or the last state seen
// after `seconds`).
Json WaitJob(uint16_t port, const std::string& job, int seconds = 15) {
  Json state;
  for (int i = 0; i < seconds * 20; ++i) {
    state = Http(port, "GET", "/api/jobs/" + job).json();
    if (state.value("state", "") != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return state;
}

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hangar-serve-test-XXXXXX";
    home_ = ::mkdtemp(tmpl);
    env_ = {{"HOME", home_.string()},
            {"XDG_DATA_HOME", (home_ / "data").string()},
            {"XDG_CONFIG_HOME", (home_ / "config").string()},
            {"XDG_CACHE_HOME", (home_ / "cache").string()},
            {"HF_HOME", (home_ / "hf").string()},
            {"PATH", "/usr/bin:/bin"},
            {"NO_COLOR", "1"}};
  }
  void TearDown() override {
    for (int pid : servers_) {
      ::kill(pid, SIGKILL);
      testing::WaitProcess(pid);
    }
    std::error_code ec;
    fs::remove_all(home_, ec);
  }

  // A generated qwen3 model imported under `id`.
  void MakeModel(const std::string& id, int layers = 4, int ctx = 2048) {
    fs::path file = home_ / (id + ".gguf");
    auto made =
        testing::RunProcess({HANGAR_MKMODEL_BIN, "--arch", "qwen3", "--type", "q8_0", "--layers",
                             std::to_string(layers), "--embd", "128", "--vocab", "qwen2", "--ctx",
                             std::to_string(ctx), "--seed", "5", "--out", file.string()},
                            env_);
    ASSERT_EQ(made.exit_code, 0) << made.err;
    auto imported = testing::RunProcess({HANGAR_BIN, "import", file.string()}, env_);
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
  }

  // A model file to serve as a remote one: llama, `type`, 2 layers of
  // `embd` (q8_0 at 64: about 5 MiB; f32 at 256: about 24 MiB).
  fs::path MakeRemoteFile(const std::string& type, int embd, int layers = 2) {
    fs::path file = home_ / "remote.gguf";
    auto made = testing::RunProcess(
        {HANGAR_MKMODEL_BIN, "--arch", "llama", "--type", type, "--layers", std::to_string(layers),
         "--embd", std::to_string(embd), "--vocab", "llama-spm", "--out", file.string()},
        env_);
    EXPECT_EQ(made.exit_code, 0) << made.err;
    return file;
  }

  // Starts `hangar serve --port 0 ARGS`; returns its port (0 on failure).
  uint16_t Start(std::vector<std::string> args = {},
                 std::map<std::string, std::string> extra = {}) {
    std::vector<std::string> argv = {HANGAR_BIN, "serve", "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto env = env_;
    env.insert(extra.begin(), extra.end());
    ++starts_;
    out_ = home_ / fmt::format("serve-{}.out", starts_);
    err_ = home_ / fmt::format("serve-{}.err", starts_);
    pid_ = testing::SpawnProcess(argv, env, out_.string(), err_.string());
    servers_.push_back(pid_);
    for (int i = 0; i < 300; ++i) {
      std::string out = ReadFile(out_);
      if (size_t at = out.find("listening on http://127.0.0.1:"); at != std::string::npos) {
        return static_cast<uint16_t>(std::stoi(out.substr(at + 30)));
      }
      if (!ProcessAlive(pid_)) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }
  // SIGTERM; the exit code and how long the server took.
  std::pair<int, double> Terminate() {
    auto t0 = Clock::now();
    ::kill(pid_, SIGTERM);
    int code = testing::WaitProcess(pid_);
    std::erase(servers_, pid_);
    return {code, std::chrono::duration<double>(Clock::now() - t0).count()};
  }
  Json Ps(uint16_t port) { return Http(port, "GET", "/api/ps").json(); }
  int RunnerPid(uint16_t port, const std::string& model) {
    Json ps = Ps(port);
    for (const Json& m : ps["models"]) {
      if (m["name"] == model) return m["pid"].get<int>();
    }
    ADD_FAILURE() << "no runner for " << model << " in " << ps.dump();
    return 0;
  }

  fs::path home_;
  std::map<std::string, std::string> env_;
  std::vector<int> servers_;
  int pid_ = 0;
  int starts_ = 0;
  fs::path out_, err_;
};

// A Hugging Face checkpoint behind the server: a chat names what it needs
// (convert it, with the size and time), POST /api/model/convert makes the
// GGUF as a job, and the GGUF then answers; a path is never accepted.
TEST_F(ServeTest, ACheckpointIsOfferedItsConversionAndConvertedAsAJob) {
  testing::FakeHub hub;
  const std::string failed = testing::MakeTinyCheckpoint(home_ / "made" / "Tiny-Llama");
  ASSERT_EQ(failed, "");
  std::vector<testing::FakeFile> files;
  for (const auto& e : fs::directory_iterator(home_ / "made" / "Tiny-Llama")) {
    files.push_back({e.path().filename().string(), testing::TestBlob::FromFile(e.path()), true});
  }
  hub.AddRepo("tester/Tiny-Llama", std::string(40, '1'), files);
  auto env = env_;
  env["HF_ENDPOINT"] = hub.Endpoint();
  auto pulled = testing::RunProcess({HANGAR_BIN, "pull", "tester/Tiny-Llama"}, env);
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);

  Reply chat = Http(port, "POST", "/api/chat", Chat("tester/Tiny-Llama", "Hello", 4, false).dump());
  EXPECT_GE(chat.status, 400) << chat.body;
  EXPECT_NE(chat.body.find("convert it first"), std::string::npos) << chat.body;
  EXPECT_NE(chat.body.find("GGUF in about"), std::string::npos) << chat.body;

  Reply by_path = Http(port, "POST", "/api/model/convert",
                       Json{{"model", (home_ / "made" / "Tiny-Llama").string()}}.dump());
  EXPECT_EQ(by_path.status, 404) << by_path.body;

  Reply started = Http(port, "POST", "/api/model/convert",
                       Json{{"model", "tester/Tiny-Llama"}, {"type", "q8_0"}}.dump());
  ASSERT_EQ(started.status, 202) << started.body;
  EXPECT_EQ(started.json()["architecture"], "llama");
  Json state = WaitJob(port, started.json()["job"]);
  ASSERT_EQ(state["state"], "succeeded") << state.dump();
  const std::string result = state["result"];
  const std::string id = result.substr(result.rfind(' ') + 1);  // "installed as ID"
  Reply answer = Http(port, "POST", "/api/chat", Chat(id, "Hello", 4, false).dump());
  EXPECT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.json()["eval_count"], 4) << answer.body;
  chat = Http(port, "POST", "/api/chat", Chat("tester/Tiny-Llama", "Hello", 4, false).dump());
  EXPECT_NE(chat.body.find("it was converted: run `hangar run " + id + "`"), std::string::npos)
      << chat.body;
}

TEST_F(ServeTest, EightConcurrentStreamedChatsAllComplete) {
  MakeModel("chat");
  uint16_t port = Start({"--parallel", "4"});
  ASSERT_NE(port, 0) << ReadFile(err_);
  std::vector<std::thread> clients;
  std::vector<std::vector<Json>> answers(8);
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, i] {
      Stream s(port, "POST", "/api/chat",
               Chat("chat", fmt::format("Question {}", i), 16, true).dump());
      answers[i] = s.AllLines();
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < 8; ++i) {
    ASSERT_GE(answers[i].size(), 2u) << i;
    const Json& last = answers[i].back();
    EXPECT_EQ(last["done"], true) << last.dump();
    EXPECT_EQ(last["eval_count"], 16) << last.dump();
    EXPECT_EQ(last["done_reason"], "length");
  }
  // Every request in the usage statistics, as `hangar stats` shows them.
  auto stats = testing::RunProcess({HANGAR_BIN, "stats", "--json"}, env_);
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find("\"serve\""), std::string::npos) << stats.out;
  std::string metrics = Http(port, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("hangar_requests_total{route=\"/api/chat\",code=\"200\"} 8"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("hangar_generated_tokens_total 128"), std::string::npos) << metrics;
}

TEST_F(ServeTest, AnIdleModelIsEvictedForAnotherAndABusyOneNever) {
  MakeModel("first");
  MakeModel("second");
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  ASSERT_EQ(Http(port, "POST", "/api/generate", R"({"model":"first"})").status, 200);
  uint64_t size = Ps(port)["models"][0]["size"].get<uint64_t>();
  Terminate();

  // A budget for one model, not two.
  port = Start({"--max-memory", std::to_string(size * 3 / 2)});
  ASSERT_NE(port, 0) << ReadFile(err_);
  ASSERT_EQ(Http(port, "POST", "/api/generate", R"({"model":"first"})").status, 200);
  ASSERT_EQ(Http(port, "POST", "/api/chat", Chat("second", "hi", 2).dump()).status, 200);
  Json ps = Ps(port);
  ASSERT_EQ(ps["models"].size(), 1u) << ps.dump();
  EXPECT_EQ(ps["models"][0]["name"], "second");
  EXPECT_NE(ps["events"].dump().find("evicted to make room for second"), std::string::npos)
      << ps.dump();

  // "second" busy with a long stream: "first" waits rather than evict it.
  Stream busy(port, "POST", "/api/chat", Chat("second", "tell a long story", 400, true).dump());
  ASSERT_EQ(busy.status(), 200);
  ASSERT_FIRST_LINE_OK(busy);
  std::atomic<bool> first_done{false};
  Reply first_reply;
  std::thread waiter([&] {
    first_reply = Http(port, "POST", "/api/chat", Chat("first", "hi", 2).dump());
    first_done = true;
  });
  std::vector<Json> rest = busy.AllLines();
  bool first_done_when_busy_ended = first_done.load();
  waiter.join();
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.back()["done"], true) << rest.back().dump();
  EXPECT_EQ(rest.back()["eval_count"], 400);
  EXPECT_FALSE(first_done_when_busy_ended);
  EXPECT_EQ(first_reply.status, 200) << first_reply.body;
}

TEST_F(ServeTest, AFullQueueAnswers503WithRetryAfter) {
  MakeModel("chat");
  uint16_t port = Start({"--parallel", "1", "--max-queue", "1"});
  ASSERT_NE(port, 0) << ReadFile(err_);
  Stream busy(port, "POST", "/api/chat", Chat("chat", "long", 1500, true).dump());
  ASSERT_EQ(busy.status(), 200);
  ASSERT_FIRST_LINE_OK(busy);
  std::thread queued([&] { Http(port, "POST", "/api/chat", Chat("chat", "next", 1).dump()); });
  for (int i = 0; i < 200 && Http(port, "GET", "/health").json()["queue_depth"] != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Reply refused = Http(port, "POST", "/api/chat", Chat("chat", "one more", 1).dump());
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.Header("Retry-After"), "1");
  EXPECT_NE(refused.json()["error"].get<std::string>().find("server busy"), std::string::npos);
  busy.Close();
  queued.join();
}

TEST_F(ServeTest, ARunnerKilledMidStreamEndsTheStreamWithAnErrorAndIsReplaced) {
  MakeModel("chat");
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  Stream s(port, "POST", "/api/chat", Chat("chat", "long", 3000, true).dump());
  ASSERT_EQ(s.status(), 200);
  ASSERT_FIRST_LINE_OK(s);
  int runner = RunnerPid(port, "chat");
  ASSERT_GT(runner, 0);
  ASSERT_EQ(::kill(runner, SIGKILL), 0);
  std::vector<Json> rest = s.AllLines();
  ASSERT_FALSE(rest.empty());
  ASSERT_TRUE(rest.back().contains("error")) << rest.back().dump();
  EXPECT_NE(rest.back()["error"].get<std::string>().find("stopped answering"), std::string::npos);
  Reply again = Http(port, "POST", "/api/chat", Chat("chat", "hi", 2).dump());
  EXPECT_EQ(again.status, 200) << again.body;
  int replacement = RunnerPid(port, "chat");
  EXPECT_GT(replacement, 0);
  EXPECT_NE(replacement, runner);
  EXPECT_NE(Ps(port)["events"].dump().find("runner died (killed by signal 9"), std::string::npos);
}

TEST_F(ServeTest, AClientThatDisconnectsDuringALongPromptFreesTheSlot) {
  MakeModel("slow", 24, 16384);
  uint16_t port = Start({"--parallel", "1"});
  ASSERT_NE(port, 0) << ReadFile(err_);
  std::string prompt;
  for (int i = 0; i < 800; ++i) prompt += fmt::format("word{} ", i);
  // How long the prompt takes alone.
  Reply solo = Http(port, "POST", "/api/generate",
                    Json{{"model", "slow"},
                         {"prompt", prompt},
                         {"stream", false},
                         {"options", {{"num_predict", 1}}}}
                        .dump());
  ASSERT_EQ(solo.status, 200) << solo.body;
  double prompt_s = solo.json()["prompt_eval_duration"].get<double>() / 1e9;
  ASSERT_GT(prompt_s, 1.2) << "the prompt must take long enough to be cut off";

  // The same prompt with a different start (no cache), cut off after 200 ms.
  Stream cut(
      port, "POST", "/api/generate",
      Json{{"model", "slow"}, {"prompt", "other " + prompt}, {"options", {{"num_predict", 1}}}}
          .dump());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  cut.Close();
  auto t0 = Clock::now();
  Reply next = Http(
      port, "POST", "/api/generate",
      Json{
          {"model", "slow"}, {"prompt", "hi"}, {"stream", false}, {"options", {{"num_predict", 1}}}}
          .dump());
  double freed_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_EQ(next.status, 200) << next.body;
  std::printf(
      "slot freed: the next request answered %.0f ms after the disconnect (the prompt alone takes "
      "%.0f ms)\n",
      freed_s * 1000, prompt_s * 1000);
  // Freed, not waited out: far sooner than the prompt would have taken (the
  // time itself is a figure to report, not a pass mark on a loaded machine).
  EXPECT_LT(freed_s, prompt_s / 3);

  // The same through OpenAI's streamed chat.
  Stream cut_openai(port, "POST", "/v1/chat/completions",
                    Json{{"model", "slow"},
                         {"stream", true},
                         {"max_tokens", 1},
                         {"messages", {{{"role", "user"}, {"content", "third " + prompt}}}}}
                        .dump());
  ASSERT_EQ(cut_openai.status(), 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  cut_openai.Close();
  t0 = Clock::now();
  next = Http(port, "POST", "/v1/completions",
              Json{{"model", "slow"}, {"prompt", "hi"}, {"max_tokens", 1}}.dump());
  freed_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_EQ(next.status, 200) << next.body;
  std::printf(
      "slot freed (OpenAI stream): the next request answered %.0f ms after the disconnect\n",
      freed_s * 1000);
  EXPECT_LT(freed_s, prompt_s / 3);
}

TEST_F(ServeTest, SigtermDuringAStreamEndsItStopsEveryRunnerAndExits) {
  MakeModel("chat");
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  Stream s(port, "POST", "/api/chat", Chat("chat", "long", 5000, true).dump());
  ASSERT_FIRST_LINE_OK(s);
  int runner = RunnerPid(port, "chat");
  ASSERT_GT(runner, 0);
  std::thread stopper([&] { Terminate(); });
  std::vector<Json> rest = s.AllLines();
  stopper.join();
  ASSERT_FALSE(rest.empty());
  EXPECT_TRUE(rest.back().contains("error")) << rest.back().dump();
  EXPECT_FALSE(ProcessAlive(runner));
  EXPECT_EQ(ConnectTcp(port).is_open(), false);
}

TEST_F(ServeTest, ExitsWithinFiveSecondsOfSigterm) {
  MakeModel("chat");
  uint16_t port = Start();
  ASSERT_NE(port, 0);
  ASSERT_EQ(Http(port, "POST", "/api/generate", R"({"model":"chat"})").status, 200);
  int runner = RunnerPid(port, "chat");
  auto [code, seconds] = Terminate();
  std::printf("hangar serve exited %.3f s after SIGTERM (code %d)\n", seconds, code);
  EXPECT_EQ(code, 0);
  EXPECT_LT(seconds, 5.0);
  EXPECT_FALSE(ProcessAlive(runner));
}

TEST_F(ServeTest, RunnersDieWithAServerKilledBySigkill) {
  MakeModel("chat");
  uint16_t port = Start();
  ASSERT_NE(port, 0);
  ASSERT_EQ(Http(port, "POST", "/api/generate", R"({"model":"chat"})").status, 200);
  int runner = RunnerPid(port, "chat");
  ASSERT_GT(runner, 0);
  ::kill(pid_, SIGKILL);
  testing::WaitProcess(pid_);
  std::erase(servers_, pid_);
  for (int i = 0; i < 250 && ProcessAlive(runner); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(ProcessAlive(runner));
}

TEST_F(ServeTest, AModelThatCannotFitIsRefusedAtOnce) {
  MakeModel("chat");
  uint16_t port = Start({"--max-memory", "1MB"});
  ASSERT_NE(port, 0) << ReadFile(err_);
  Reply r = Http(port, "POST", "/api/chat", Chat("chat", "hi", 2).dump());
  EXPECT_EQ(r.status, 507) << r.body;
  std::string error = r.json()["error"];
  EXPECT_NE(error.find("needs"), std::string::npos) << error;
  EXPECT_NE(error.find("whole budget"), std::string::npos) << error;
  EXPECT_TRUE(Ps(port)["models"].empty());
}

TEST_F(ServeTest, HostileRequestsAreRefused) {
  MakeModel("chat");
  uint16_t port = Start({"--no-writes", "--header-timeout", "1"});
  ASSERT_NE(port, 0) << ReadFile(err_);
  // DNS rebinding: a page on evil.example resolving to 127.0.0.1.
  Reply rebinding = Http(port, "GET", "/api/tags", "", {{"Host", "evil.example:11435"}});
  EXPECT_EQ(rebinding.status, 403);
  EXPECT_NE(rebinding.body.find("evil.example"), std::string::npos);
  // A browser on another site.
  Reply cross = Http(port, "POST", "/api/chat", Chat("chat", "hi", 1).dump(),
                     {{"Origin", "https://evil.example"}});
  EXPECT_EQ(cross.status, 403);
  EXPECT_EQ(cross.Header("Access-Control-Allow-Origin"), "");
  Reply preflight =
      Http(port, "OPTIONS", "/api/chat", "",
           {{"Origin", "http://localhost:3000"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.Header("Access-Control-Allow-Origin"), "http://localhost:3000");
  // Writes switched off.
  EXPECT_EQ(Http(port, "DELETE", "/api/delete", R"({"model":"chat"})").status, 403);
  EXPECT_EQ(Http(port, "POST", "/api/pull", R"({"model":"chat"})").status, 403);
  EXPECT_EQ(Http(port, "POST", "/api/blobs/sha256:" + std::string(64, '0'), "x").status, 403);
  // A local path is not a model name for a remote caller.
  Reply path =
      Http(port, "POST", "/api/chat", Chat((home_ / "chat.gguf").string(), "hi", 1).dump());
  EXPECT_EQ(path.status, 400) << path.body;
  EXPECT_NE(path.body.find("local file paths are not accepted"), std::string::npos) << path.body;
  // Too large a body, announced.
  EXPECT_EQ(
      RawStatus(port,
                "POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000000000\r\n\r\n"),
      413);
  // A slow client that never finishes its header is cut off.
  EXPECT_EQ(RawStatus(port, "GET /api/tags HTTP/1.1\r\nHost: local"), 408);
  // Malformed requests.
  EXPECT_EQ(RawStatus(port, "NOT HTTP AT ALL\r\n\r\n"), 400);
  EXPECT_EQ(Http(port, "POST", "/api/chat", "{not json").status, 400);

  // The runner: a socket in a folder only this user can open, and its key
  // required.
  ASSERT_EQ(Http(port, "POST", "/api/generate", R"({"model":"chat"})").status, 200);
  int runner = RunnerPid(port, "chat");
  std::string cmdline = ReadFile(fmt::format("/proc/{}/cmdline", runner));
  std::vector<std::string> args;
  for (size_t start = 0; start < cmdline.size();) {
    size_t end = cmdline.find('\0', start);
    args.push_back(cmdline.substr(start, end - start));
    start = end + 1;
  }
  auto host = std::find(args.begin(), args.end(), "--host");
  ASSERT_NE(host, args.end());
  fs::path socket = *(host + 1);
  struct stat st {};
  ASSERT_EQ(::stat(socket.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto conn = wire::Socket::ConnectUnix(socket, wire::After(std::chrono::seconds(2)));
  ASSERT_TRUE(conn.ok());
  wire::HttpRequest probe{"GET", "/v1/models", {{"Host", "localhost"}}, "", false};
  ASSERT_TRUE(wire::WriteRequest(*conn, probe).ok());
  wire::ResponseReader runner_reader(&*conn);
  auto runner_head = runner_reader.ReadHead();
  ASSERT_TRUE(runner_head.ok());
  EXPECT_EQ(runner_head->status, 401);
}

TEST_F(ServeTest, BeyondLoopbackAKeyIsRequiredOnEveryRoute) {
  MakeModel("chat");
  uint16_t refused = Start({"--host", "0.0.0.0"});
  EXPECT_EQ(refused, 0);
  EXPECT_NE(ReadFile(err_).find("without an API key"), std::string::npos) << ReadFile(err_);
  uint16_t port = Start({"--host", "0.0.0.0"}, {{"HANGAR_API_KEY", "k3y-for-tests"}});
  // The listening line names 0.0.0.0: read the port from it.
  std::string out = ReadFile(out_);
  ASSERT_NE(out.find("listening on http://0.0.0.0:"), std::string::npos) << ReadFile(err_);
  port = static_cast<uint16_t>(std::stoi(out.substr(out.find("0.0.0.0:") + 8)));
  for (const char* path : {"/api/tags", "/api/version", "/v1/models", "/metrics", "/health",
                           "/api/events", "/api/model/list"}) {
    Reply r = Http(port, "GET", path);
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer") << path;
  }
  // The console's pages hold no data: they load without the key, and ask for it.
  EXPECT_EQ(
      Http(port, "GET", "/", "", {{"Accept", "text/html"}, {"Accept-Encoding", "gzip"}}).status,
      200);
  EXPECT_EQ(Http(port, "GET", "/ui/app.js", "", {{"Accept-Encoding", "gzip"}}).status, 200);
  EXPECT_EQ(Http(port, "GET", "/api/tags", "", {{"Authorization", "Bearer wrong"}}).status, 401);
  Reply ok = Http(port, "GET", "/api/tags", "", {{"Authorization", "Bearer k3y-for-tests"}});
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(ServeTest, KeepAliveZeroUnloadsAndHangarPsShowsTheRunners) {
  MakeModel("chat");
  uint16_t port = Start({"--keep-alive", "-1"});
  ASSERT_NE(port, 0) << ReadFile(err_);
  ASSERT_EQ(Http(port, "POST", "/api/chat", Chat("chat", "hi", 2).dump()).status, 200);
  int runner = RunnerPid(port, "chat");
  Json ps = Ps(port);
  EXPECT_EQ(ps["models"][0]["expires_at"], "2318-01-01T00:00:00Z") << ps.dump();
  // `hangar ps` in another process lists the server's runner.
  auto cli = testing::RunProcess({HANGAR_BIN, "ps", "--json"}, env_);
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find(fmt::format("\"pid\": {}", runner)), std::string::npos) << cli.out;
  EXPECT_NE(cli.out.find("\"serve\""), std::string::npos) << cli.out;
  // keep_alive 0 with an empty prompt unloads it at once (Ollama's meaning).
  Reply unload = Http(port, "POST", "/api/generate", R"({"model":"chat","keep_alive":0})");
  ASSERT_EQ(unload.status, 200);
  EXPECT_EQ(unload.json()["done_reason"], "unload");
  EXPECT_TRUE(Ps(port)["models"].empty());
  EXPECT_FALSE(ProcessAlive(runner));
  // A short keep_alive on a request expires the runner after it.
  ASSERT_EQ(Http(port, "POST", "/api/chat",
                 Json{{"model", "chat"},
                      {"keep_alive", "300ms"},
                      {"stream", false},
                      {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                      {"options", {{"num_predict", 1}}}}
                     .dump())
                .status,
            200);
  runner = RunnerPid(port, "chat");
  for (int i = 0; i < 100 && !Ps(port)["models"].empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(Ps(port)["models"].empty());
  EXPECT_NE(Ps(port)["events"].dump().find("expired (keep_alive)"), std::string::npos);
  // Stopped gracefully (SIGTERM) right after it left the ledger.
  for (int i = 0; i < 150 && ProcessAlive(runner); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(ProcessAlive(runner));
}

// `hangar run` formats a chat with llama.cpp's common Jinja code, as the
// runners do: the same chat at temperature 0 gives the same prompt and the
// same tokens both ways. Qwen's template adds a default system message when a
// chat has none, which llama_chat_apply_template never did.
TEST_F(ServeTest, HangarRunAndServeGiveAChatTheSamePromptAndTokens) {
  MakeModel("chat");
  auto run = testing::RunProcess({HANGAR_BIN, "run", "chat", "--temperature", "0", "--max-tokens",
                                  "12", "--json", "Why is the sky blue?"},
                                 env_);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  Json local = Json::parse(run.out);
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  Reply served = Http(port, "POST", "/api/chat", Chat("chat", "Why is the sky blue?", 12).dump());
  ASSERT_EQ(served.status, 200) << served.body;
  Json answer = served.json();
  std::printf("hangar run: %d prompt tokens, \"%s\"; hangar serve: %d prompt tokens\n",
              local["timings"]["prompt_tokens"].get<int>(),
              local["text"].get<std::string>().c_str(), answer["prompt_eval_count"].get<int>());
  EXPECT_EQ(local["timings"]["prompt_tokens"], answer["prompt_eval_count"]);
  EXPECT_EQ(local["timings"]["gen_tokens"], answer["eval_count"]);
  EXPECT_EQ(local["text"], answer["message"]["content"]);
  EXPECT_FALSE(local["text"].get<std::string>().empty());
}

TEST_F(ServeTest, BadRequestsGetOllamasErrorsAndNumCtxReloads) {
  MakeModel("chat");
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  // Images for a model without a vision projector.
  Json with_image = Chat("chat", "what is this?", 2);
  with_image["messages"][0]["images"] = {"iVBORw0KGgo="};
  Reply image = Http(port, "POST", "/api/chat", with_image.dump());
  EXPECT_EQ(image.status, 400) << image.body;
  EXPECT_NE(image.body.find("does not support images"), std::string::npos) << image.body;
  // Hostile or malformed names never reach a file: 400 or 404, never 500.
  const std::vector<std::string> hostile = {
      "../../../../etc/passwd", std::string("a\0b", 3), std::string(5000, 'x'),
      "hf://../../x",           "/etc/passwd",          "file:///etc/passwd"};
  for (const std::string& name : hostile) {
    Reply r = Http(port, "POST", "/api/chat", Chat(name, "hi", 1).dump());
    EXPECT_TRUE(r.status == 400 || r.status == 404) << r.status << " " << r.body;
    EXPECT_TRUE(r.json().contains("error")) << r.body;
  }
  EXPECT_EQ(Http(port, "POST", "/api/chat", R"({"messages":[]})").status, 400);
  EXPECT_EQ(Http(port, "POST", "/api/chat", R"({"model":"chat","keep_alive":"soon"})").status, 400);
  EXPECT_EQ(Http(port, "POST", "/api/chat", R"({"model":"chat","format":"yaml"})").status, 400);
  EXPECT_EQ(Http(port, "GET", "/api/chat").status, 405);
  EXPECT_EQ(Http(port, "GET", "/api/nothing-here").status, 404);
  // think is passed to the template (accepted by a model without thinking).
  Json think = Chat("chat", "hi", 2);
  think["think"] = false;
  EXPECT_EQ(Http(port, "POST", "/api/chat", think.dump()).status, 200);

  // A request with another num_ctx reloads the model with it (Ollama's rule).
  Json small = Chat("chat", "hi", 2);
  small["options"]["num_ctx"] = 512;
  ASSERT_EQ(Http(port, "POST", "/api/chat", small.dump()).status, 200);
  Json ps = Ps(port);
  ASSERT_EQ(ps["models"].size(), 1u);
  EXPECT_EQ(ps["models"][0]["context_length"], 512) << ps.dump();
  EXPECT_NE(ps["events"].dump().find("reloaded with a context of 512"), std::string::npos);
  small["options"]["num_ctx"] = -3;
  EXPECT_EQ(Http(port, "POST", "/api/chat", small.dump()).status, 400);
  // The histograms and gauges of /metrics.
  std::string metrics = Http(port, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("hangar_load_seconds_count 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("hangar_time_to_first_token_seconds_bucket{le=\"+Inf\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("hangar_model_memory_bytes{model=\"chat\",device=\"ram\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("hangar_queue_depth 0"), std::string::npos);
}

// /api/create with a system prompt, a Jinja template and parameters makes a
// preset whose chats get all three: the same tokens as the base model given
// the prompt that template renders, raw.
TEST_F(ServeTest, CreateWithSystemTemplateAndParametersMakesAPresetThatUsesThem) {
  MakeModel("chat");
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  const std::string tmpl =
      "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
      "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  auto create = [&](Json extra) {
    Json b = {{"model", "terse"}, {"from", "chat"}, {"stream", false}};
    b.update(extra);
    return Http(port, "POST", "/api/create", b.dump());
  };
  Reply go = create({{"template", "{{ .System }} {{ .Prompt }}"}});
  EXPECT_EQ(go.status, 400);
  EXPECT_NE(go.body.find("Go template"), std::string::npos) << go.body;
  EXPECT_EQ(create({{"template", "{% for %}"}}).status, 400);
  Reply unknown = create({{"parameters", {{"mirostat", 2}}}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("num_predict"), std::string::npos) << unknown.body;
  EXPECT_EQ(create({{"parameters", {{"temperature", 9}}}}).status, 400);
  Reply made = create({{"system", "You are terse."},
                       {"template", tmpl},
                       {"parameters", {{"temperature", 0}, {"num_predict", 3}, {"stop", "zzz"}}}});
  ASSERT_EQ(made.status, 200) << made.body;
  Json shown = Http(port, "POST", "/api/show", R"({"model":"terse"})").json();
  EXPECT_EQ(shown["system"], "You are terse.");
  EXPECT_EQ(shown["template"], tmpl);
  EXPECT_NE(shown["parameters"].get<std::string>().find("num_predict 3"), std::string::npos)
      << shown["parameters"];

  Json chat = {
      {"model", "terse"}, {"stream", false}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  Reply preset = Http(port, "POST", "/api/chat", chat.dump());
  ASSERT_EQ(preset.status, 200) << preset.body;
  Reply raw =
      Http(port, "POST", "/api/generate",
           Json{{"model", "chat"},
                {"stream", false},
                {"raw", true},
                {"prompt",
                 "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nhi<|im_end|>"
                 "\n<|im_start|>assistant\n"},
                {"options", {{"temperature", 0}, {"num_predict", 3}}}}
               .dump());
  ASSERT_EQ(raw.status, 200) << raw.body;
  EXPECT_EQ(preset.json()["eval_count"], 3);
  EXPECT_EQ(preset.json()["prompt_eval_count"], raw.json()["prompt_eval_count"]);
  EXPECT_EQ(preset.json()["message"]["content"], raw.json()["response"]);
  // The request's own options and system message win.
  chat["options"] = {{"num_predict", 5}};
  EXPECT_EQ(Http(port, "POST", "/api/chat", chat.dump()).json()["eval_count"], 5);
  // OpenAI's route gets the same defaults.
  Reply openai = Http(port, "POST", "/v1/chat/completions",
                      Json{{"model", "terse"}, {"messages", chat["messages"]}}.dump());
  ASSERT_EQ(openai.status, 200) << openai.body;
  EXPECT_EQ(openai.json()["usage"]["completion_tokens"], 3);
  EXPECT_EQ(openai.json()["usage"]["prompt_tokens"], raw.json()["prompt_eval_count"]);
  EXPECT_EQ(openai.json()["choices"][0]["message"]["content"], raw.json()["response"]);
}

TEST_F(ServeTest, BlobsAreStreamedVerifiedAndStoredOnce) {
  MakeModel("chat");
  std::string bytes = ReadFile(home_ / "chat.gguf");
  auto hashed = testing::RunProcess({"/usr/bin/sha256sum", (home_ / "chat.gguf").string()}, env_);
  ASSERT_EQ(hashed.exit_code, 0);
  const std::string hex = hashed.out.substr(0, 64);
  const std::string path = "/api/blobs/sha256:" + hex;
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  EXPECT_EQ(Http(port, "HEAD", path).status, 404);
  // Bytes of another digest: refused, nothing kept (no blob, no temporary).
  Reply wrong = Http(port, "POST", "/api/blobs/sha256:" + std::string(64, '0'), bytes,
                     {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(wrong.status, 400) << wrong.body;
  EXPECT_NE(wrong.body.find("digest mismatch"), std::string::npos) << wrong.body;
  fs::path blobs = home_ / "data" / "hangar" / "blobs";
  EXPECT_TRUE(!fs::exists(blobs) || fs::is_empty(blobs));
  // The right bytes: created, then present; a second upload is not stored twice.
  Reply created = Http(port, "POST", path, bytes, {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Http(port, "HEAD", path).status, 200);
  EXPECT_EQ(ReadFile(blobs / ("sha256-" + hex)), bytes);
  EXPECT_EQ(Http(port, "POST", path, bytes).status, 200);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(blobs)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
  // Digests are checked strictly before any path is made of them.
  const std::vector<std::string> bad_digests = {"sha256:../../../../tmp/x",
                                                "sha256:" + std::string(64, 'A'),
                                                "sha256-" + hex,
                                                "sha256:" + hex.substr(0, 63),
                                                "md5:" + hex,
                                                "sha256:" + hex + "0",
                                                "sha256:%2e%2e%2f"};
  for (const std::string& bad : bad_digests) {
    Reply r = Http(port, "POST", "/api/blobs/" + bad, "x");
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(Http(port, "HEAD", "/api/blobs/" + bad).status, 400) << bad;
  }
  files = 0;
  for (const auto& e : fs::directory_iterator(blobs)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);

  // A model made of the blob, another name for it, and their removal: no
  // byte copied, none removed.
  Reply missing = Http(
      port, "POST", "/api/create",
      Json{{"model", "made"}, {"files", {{"m.gguf", "sha256:" + std::string(64, 'e')}}}}.dump());
  EXPECT_EQ(missing.status, 404) << missing.body;
  Reply made = Http(
      port, "POST", "/api/create",
      Json{{"model", "made"}, {"stream", false}, {"files", {{"m.gguf", "sha256:" + hex}}}}.dump());
  ASSERT_EQ(made.status, 200) << made.body;
  EXPECT_EQ(made.json()["status"], "success");
  EXPECT_EQ(Http(port, "POST", "/api/create",
                 Json{{"model", "other"}, {"from", "made"}, {"messages", Json::array()}}.dump())
                .status,
            400);
  EXPECT_EQ(
      Http(port, "POST", "/api/create", Json{{"model", "../x"}, {"from", "made"}}.dump()).status,
      400);
  EXPECT_EQ(Http(port, "POST", "/api/copy", R"({"source":"made","destination":"made-too"})").status,
            200);
  EXPECT_EQ(Http(port, "POST", "/api/copy", R"({"source":"made","destination":"chat"})").status,
            409);
  EXPECT_EQ(Http(port, "POST", "/api/copy", R"({"source":"nothing","destination":"x"})").status,
            404);
  EXPECT_EQ(Http(port, "POST", "/api/chat", Chat("made-too", "hi", 2).dump()).status, 200);
  std::string tags = Http(port, "GET", "/api/tags").body;
  EXPECT_NE(tags.find("\"made-too\""), std::string::npos) << tags;
  EXPECT_EQ(Http(port, "DELETE", "/api/delete", R"({"model":"made-too"})").status, 200);
  EXPECT_EQ(Http(port, "DELETE", "/api/delete", R"({"model":"made"})").status, 200);
  tags = Http(port, "GET", "/api/tags").body;
  EXPECT_EQ(tags.find("\"made"), std::string::npos) << tags;
  EXPECT_EQ(ReadFile(blobs / ("sha256-" + hex)), bytes);
  EXPECT_EQ(Http(port, "POST", "/api/chat", Chat("chat", "hi", 2).dump()).status, 200);
}

TEST_F(ServeTest, ARunnerThatNeverBecomesReadyIsKilledAndReported) {
  MakeModel("chat");
  // A runner binary that never answers /health.
  fs::path fake = home_ / "stuck-llama-server";
  std::ofstream(fake) << "#!/bin/sh\necho $$ > \"$(dirname \"$0\")/stuck.pid\"\nexec sleep 120\n";
  fs::permissions(fake, fs::perms::owner_all);
  uint16_t port = Start({"--load-timeout", "1"}, {{"HANGAR_LLAMA_SERVER", fake.string()}});
  ASSERT_NE(port, 0) << ReadFile(err_);
  Reply r = Http(port, "POST", "/api/chat", Chat("chat", "hi", 2).dump());
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("was not ready within 1 s and was stopped"), std::string::npos) << r.body;
  int stuck = std::stoi(ReadFile(home_ / "stuck.pid"));
  EXPECT_FALSE(ProcessAlive(stuck));
  EXPECT_NE(Ps(port)["events"].dump().find("load failed"), std::string::npos);
  EXPECT_NE(ReadFile(err_).find("load failed"), std::string::npos);
}

// The management API of the model-management specification, route by route:
// list with its filters, current, switch, download (a job), recommend (its
// tiers, available_vram_gb 0 = no GPU), statistics; jobs and hardware.
TEST_F(ServeTest, TheManagementApiRouteByRoute) {
  MakeModel("chat");
  fs::path file = MakeRemoteFile("q8_0", 64);
  testing::TestHttpServer files;
  files.AddFile("/remote.gguf", ReadFile(file));
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  auto get = [&](std::string target) { return Http(port, "GET", target); };
  auto post = [&](std::string target, Json body) {
    return Http(port, "POST", target, body.dump());
  };

  // list: everything, installed only, by purpose, by video memory; bad values.
  Reply all = get("/api/model/list");
  ASSERT_EQ(all.status, 200) << all.body;
  ASSERT_GT(all.json()["count"].get<int>(), 1);
  std::string not_installed;
  const Json everything = all.json();
  for (const Json& m : everything["models"]) {
    if (!m.value("installed", false)) not_installed = m["id"];
  }
  ASSERT_FALSE(not_installed.empty()) << "the catalog has models not installed here";
  Reply installed = get("/api/model/list?installed_only=true");
  ASSERT_EQ(installed.status, 200);
  std::vector<std::string> ids;
  const Json installed_list = installed.json();
  for (const Json& m : installed_list["models"]) {
    EXPECT_TRUE(m["installed"].get<bool>()) << m.dump();
    ids.push_back(m["id"]);
  }
  EXPECT_THAT(ids, ::testing::Contains("chat"));
  Reply speed = get("/api/model/list?purpose=speed");
  ASSERT_EQ(speed.status, 200);
  ASSERT_GT(speed.json()["count"].get<int>(), 0);
  const Json speed_list = speed.json();
  for (const Json& m : speed_list["models"]) EXPECT_EQ(m["purpose"], "speed") << m.dump();
  Reply small = get("/api/model/list?max_vram=2");
  ASSERT_EQ(small.status, 200);
  EXPECT_LT(small.json()["count"].get<int>(), all.json()["count"].get<int>());
  EXPECT_EQ(get("/api/model/list?purpose=fastest").status, 400);
  EXPECT_EQ(get("/api/model/list?max_vram=lots").status, 400);
  EXPECT_EQ(get("/api/model/list?installed_only=maybe").status, 400);
  // Large answers go gzip-compressed to a client that accepts it.
  Reply zipped = Http(port, "GET", "/api/model/list", "", {{"Accept-Encoding", "gzip, deflate"}});
  ASSERT_EQ(zipped.status, 200);
  EXPECT_EQ(zipped.Header("Content-Encoding"), "gzip");
  ASSERT_GT(zipped.body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(zipped.body[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(zipped.body[1]), 0x8b);
  EXPECT_LT(zipped.body.size() * 5, all.body.size());
  EXPECT_EQ(Http(port, "GET", "/api/model/list", "", {{"Accept-Encoding", "gzip;q=0"}})
                .Header("Content-Encoding"),
            "");

  // current and switch.
  Reply none = get("/api/model/current");
  ASSERT_EQ(none.status, 200);
  EXPECT_TRUE(none.json()["current_model"].is_null()) << none.body;
  EXPECT_EQ(post("/api/model/switch", {{"model", "no-such-model"}}).status, 404);
  Reply absent = post("/api/model/switch", {{"model", not_installed}});
  EXPECT_EQ(absent.status, 409) << absent.body;
  EXPECT_NE(absent.body.find("/api/model/download"), std::string::npos) << absent.body;
  EXPECT_EQ(post("/api/model/switch", Json::object()).status, 400);
  Reply switched = post("/api/model/switch", {{"model", "chat"}});
  ASSERT_EQ(switched.status, 200) << switched.body;
  EXPECT_EQ(switched.json()["current_model"], "chat");
  EXPECT_TRUE(switched.json()["previous_model"].is_null());
  EXPECT_EQ(get("/api/model/current").json()["current_model"], "chat");
  // Under a memory limit it cannot meet, a switch is refused with the numbers.
  ASSERT_EQ(Http(port, "PATCH", "/api/settings", R"({"limits.max_ram_usage":"1MB"})").status, 200);
  Reply starved = post("/api/model/switch", {{"model", "chat"}});
  EXPECT_EQ(starved.status, 507) << starved.body;
  EXPECT_NE(starved.body.find("insufficient memory"), std::string::npos) << starved.body;
  EXPECT_EQ(post("/api/model/switch", {{"model", "chat"}, {"force", true}}).status, 200);
  ASSERT_EQ(Http(port, "PATCH", "/api/settings", R"({"limits.max_ram_usage":null})").status, 200);

  // download: a job whose id comes back at once, followed to its end.
  EXPECT_EQ(post("/api/model/download", {{"model", "no-such-model"}}).status, 404);
  EXPECT_EQ(post("/api/model/download", {{"model", "chat"}}).json()["status"], "installed");
  Reply started = post("/api/model/download", {{"model", files.Url("/remote.gguf")}});
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string job = started.json()["job"];
  Json state = WaitJob(port, job);
  EXPECT_EQ(state["state"], "succeeded") << state.dump();
  EXPECT_NE(get("/api/jobs").body.find(job), std::string::npos);
  EXPECT_EQ(get("/api/jobs/job-999").status, 404);
  // Insufficient memory, with the numbers: a 70B model is refused before a byte.
  Reply too_large = post("/api/model/download", {{"model", "llama3.1-70b-q8"}});
  EXPECT_EQ(too_large.status, 507) << too_large.body;
  EXPECT_NE(too_large.body.find("insufficient memory"), std::string::npos) << too_large.body;
  EXPECT_NE(too_large.body.find("GB"), std::string::npos) << too_large.body;
  // A download that fails: the job says why.
  Reply missing = post("/api/model/download", {{"model", files.Url("/missing.gguf")}});
  ASSERT_EQ(missing.status, 202) << missing.body;
  Json failed = WaitJob(port, missing.json()["job"]);
  EXPECT_EQ(failed["state"], "failed") << failed.dump();
  EXPECT_NE(failed.value("error", "").find("404"), std::string::npos) << failed.dump();
  Json failed_list = get("/api/downloads").json();
  ASSERT_EQ(failed_list["downloads"].size(), 1u) << failed_list.dump();
  EXPECT_EQ(failed_list["downloads"][0]["state"], "failed");
  EXPECT_EQ(
      Http(port, "DELETE", "/api/downloads/" + failed_list["downloads"][0]["id"].get<std::string>())
          .status,
      200);
  EXPECT_EQ(Http(port, "DELETE", "/api/jobs/job-999").status, 404);
  EXPECT_GT(get("/api/model/list?installed_only=true").json()["count"].get<int>(),
            installed.json()["count"].get<int>());

  // recommend: tiers by memory and priority; 0 GB means no GPU.
  Reply cpu = post("/api/model/recommend", {{"available_vram_gb", 0}, {"priority", "speed"}});
  ASSERT_EQ(cpu.status, 200) << cpu.body;
  EXPECT_EQ(cpu.json()["priority"], "speed");
  EXPECT_TRUE(cpu.json()["recommendation"]["gpu_budgets"].empty()) << cpu.body;
  Reply big = post("/api/model/recommend", {{"available_vram_gb", 80}, {"priority", "quality"}});
  ASSERT_EQ(big.status, 200) << big.body;
  EXPECT_EQ(big.json()["priority"], "quality");
  EXPECT_EQ(big.json()["recommendation"]["gpu_budgets"].size(), 1u) << big.body;
  EXPECT_FALSE(big.json()["recommended_model"].is_null());
  EXPECT_EQ(post("/api/model/recommend", {{"priority", "fastest"}}).status, 400);
  EXPECT_EQ(post("/api/model/recommend", {{"available_vram_gb", -1}}).status, 400);

  // statistics after a request.
  EXPECT_EQ(get("/api/model/statistics").status, 400);
  EXPECT_EQ(get("/api/model/statistics?model=no-such-model").status, 404);
  ASSERT_EQ(post("/api/chat", Chat("chat", "hi", 2)).status, 200);
  Reply stats = get("/api/model/statistics?model=chat");
  ASSERT_EQ(stats.status, 200) << stats.body;
  EXPECT_GE(stats.json()["usage_count"].get<int>(), 1);
  EXPECT_EQ(stats.json()["success_rate"], 1.0);
  EXPECT_GT(stats.json()["avg_inference_time"].get<double>(), 0);
  EXPECT_FALSE(stats.json()["last_used"].is_null());

  // fit and inspect, of an installed model and of a catalog one (its header
  // cannot be read here: no network) .
  Reply fit = get("/api/model/fit?model=chat&ctx=1024");
  ASSERT_EQ(fit.status, 200) << fit.body;
  EXPECT_EQ(fit.json()["requested"]["n_ctx"], 1024) << fit.body;
  EXPECT_TRUE(fit.json()["requested"]["fits"].get<bool>()) << fit.body;
  EXPECT_GE(fit.json()["largest"]["n_ctx"].get<int>(), 1024);
  EXPECT_EQ(get("/api/model/fit?model=chat&ctx=lots").status, 400);
  EXPECT_EQ(get("/api/model/fit?model=no-such-model").status, 404);
  Reply inspected = get("/api/model/inspect?model=chat");
  ASSERT_EQ(inspected.status, 200) << inspected.body;
  EXPECT_EQ(inspected.json()["architecture"], "qwen3") << inspected.body;
  EXPECT_EQ(get("/api/model/inspect").status, 400);

  // delete: never the current model; another installed one goes.
  Reply current_delete = post("/api/model/delete", {{"model", "chat"}});
  EXPECT_EQ(current_delete.status, 409) << current_delete.body;
  EXPECT_NE(current_delete.body.find("current model"), std::string::npos);
  EXPECT_EQ(post("/api/model/delete", {{"model", not_installed}}).status, 404);
  const Json after_download = get("/api/model/list?installed_only=true").json();
  std::string downloaded;
  for (const Json& m : after_download["models"]) {
    if (m["id"] != "chat") downloaded = m["id"];
  }
  ASSERT_FALSE(downloaded.empty()) << after_download.dump();
  Reply cache = get("/api/cache");
  ASSERT_EQ(cache.status, 200) << cache.body;
  Reply prune = post("/api/cache/prune", {{"max_size", "1KB"}});
  ASSERT_EQ(prune.status, 200) << prune.body;
  EXPECT_NE(prune.body.find(downloaded), std::string::npos) << prune.body;  // planned, dry run
  EXPECT_EQ(post("/api/cache/prune", Json::object()).status, 400);
  Reply deleted = post("/api/model/delete", {{"model", downloaded}});
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_GT(deleted.json()["freed_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(get("/api/model/list?installed_only=true").json()["count"], 1);

  ASSERT_EQ(get("/api/limits").status, 200);
  Reply profiles = get("/api/profiles");
  ASSERT_EQ(profiles.status, 200);
  EXPECT_FALSE(profiles.json()["profiles"].empty()) << profiles.body;
  Reply exported = get("/api/export");
  ASSERT_EQ(exported.status, 200);
  EXPECT_NE(exported.body.find("chat"), std::string::npos) << exported.body;

  Reply hw = get("/api/hardware");
  ASSERT_EQ(hw.status, 200);
  EXPECT_TRUE(hw.json().contains("cpu")) << hw.body;
  // The OpenAPI document of every route (checked against the routes by
  // OpenApiTest).
  Reply doc = get("/api/openapi.json");
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(doc.json()["openapi"], "3.1.0");
  EXPECT_TRUE(doc.json()["paths"].contains("/api/model/switch"));
}

// Settings, profiles, doctor, share, discover, outdated/update, and the
// state exported from one server and imported into another (a second home),
// which downloads the model again from its source.
TEST_F(ServeTest, SettingsProfilesHealthSharingUpdatesAndTheStateRouteByRoute) {
  MakeModel("chat");
  fs::path file = MakeRemoteFile("q8_0", 64);
  testing::TestHttpServer files;
  files.AddFile("/remote.gguf", ReadFile(file));
  ASSERT_EQ(testing::RunProcess({HANGAR_BIN, "pull", files.Url("/remote.gguf")}, env_).exit_code,
            0);
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  auto get = [&](std::string target) { return Http(port, "GET", target); };
  auto send = [&](std::string method, std::string target, Json body) {
    return Http(port, method, target, body.dump());
  };
  auto setting = [](const Json& shown, std::string_view key) {
    for (const Json& s : shown["settings"]) {
      if (s["key"] == key) return s["value"];
    }
    return Json();
  };

  // Settings: read, changed all or nothing, refused with the key named.
  Reply settings = get("/api/settings");
  ASSERT_EQ(settings.status, 200) << settings.body;
  EXPECT_EQ(setting(settings.json(), "runtime.gpu"), "auto");
  Reply changed =
      send("PATCH", "/api/settings",
           {{"runtime.gpu", "off"}, {"downloads.connections", 2}, {"limits.os_reserve", "3GB"}});
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(setting(changed.json(), "runtime.gpu"), "off");
  EXPECT_EQ(setting(changed.json(), "downloads.connections"), 2);
  Reply refused =
      send("PATCH", "/api/settings", {{"runtime.gpu", "auto"}, {"downloads.connections", 0}});
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("downloads.connections"), std::string::npos) << refused.body;
  EXPECT_EQ(setting(get("/api/settings").json(), "runtime.gpu"), "off");
  EXPECT_EQ(send("PATCH", "/api/settings", {{"gpu", "off"}}).status, 400);
  EXPECT_EQ(get("/api/limits").json()["os_reserve"]["text"], "2.79 GiB");

  // Profiles: create, read, change, refuse, delete.
  Reply created = send("POST", "/api/profiles",
                       {{"name", "code"}, {"temperature", 0.2}, {"inherits", "precise"}});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["temperature"], 0.2);
  EXPECT_EQ(send("POST", "/api/profiles", {{"name", "code"}}).status, 409);
  EXPECT_EQ(send("POST", "/api/profiles", {{"temperature", 0.2}}).status, 400);
  EXPECT_EQ(send("PATCH", "/api/profiles/code", {{"max_tokens", 77}}).json()["max_tokens"], 77);
  Reply hot = send("PATCH", "/api/profiles/code", {{"temperature", "hot"}});
  EXPECT_EQ(hot.status, 400);
  EXPECT_NE(hot.body.find("temperature"), std::string::npos) << hot.body;
  EXPECT_EQ(send("PATCH", "/api/profiles/code", {{"temperature", 9}}).status, 400);
  EXPECT_EQ(get("/api/profiles/code").json()["max_tokens"], 77);
  EXPECT_EQ(get("/api/profiles/ghost").status, 404);
  EXPECT_EQ(Http(port, "DELETE", "/api/profiles/balanced").status, 400);  // a built-in

  // Quantize, as a job; the result is installed.
  Reply quantized = send("POST", "/api/model/quantize",
                         {{"model", "chat"}, {"type", "q4_k_m"}, {"allow_requantize", true}});
  ASSERT_EQ(quantized.status, 202) << quantized.body;
  Json qjob = WaitJob(port, quantized.json()["job"]);
  EXPECT_EQ(qjob["state"], "succeeded") << qjob.dump();
  EXPECT_NE(qjob.value("result", "").find("chat-q4_k_m"), std::string::npos) << qjob.dump();
  EXPECT_EQ(send("POST", "/api/model/quantize", {{"model", "chat"}, {"type", "Q9"}}).status, 400);
  Reply needs = send("POST", "/api/model/quantize", {{"model", "chat"}, {"type", "IQ2_XS"}});
  ASSERT_EQ(needs.status, 202);
  qjob = WaitJob(port, needs.json()["job"], 5);
  EXPECT_EQ(qjob["state"], "failed");
  EXPECT_NE(qjob.value("error", "").find("importance matrix"), std::string::npos) << qjob.dump();

  // Doctor.
  Reply doctor = get("/api/doctor");
  ASSERT_EQ(doctor.status, 200) << doctor.body;
  EXPECT_FALSE(doctor.json()["checks"].empty());
  EXPECT_TRUE(doctor.json()["overall"] == "ok" || doctor.json()["overall"] == "warn" ||
              doctor.json()["overall"] == "fail");

  // Share with Ollama, without a copy; discover finds it as already known.
  Reply shared = send("POST", "/api/model/share", {{"model", "chat"}, {"tool", "ollama"}});
  ASSERT_EQ(shared.status, 200) << shared.body;
  EXPECT_TRUE(fs::exists(shared.json()["index"].get<std::string>())) << shared.body;
  EXPECT_EQ(send("POST", "/api/model/share", {{"model", "chat"}, {"tool", "gpt4all"}}).status, 400);
  EXPECT_EQ(send("POST", "/api/model/share", {{"model", "chat"}}).status, 400);
  Reply discovered = send("POST", "/api/model/discover", Json::object());
  ASSERT_EQ(discovered.status, 200) << discovered.body;
  EXPECT_TRUE(discovered.json().contains("already_known")) << discovered.body;

  // Outdated: a URL has no revisions, an imported file is updated by whoever
  // made it; update has nothing to do. No check ran by itself yet.
  EXPECT_EQ(get("/api/model/outdated?cached=true").status, 404);
  Reply outdated = get("/api/model/outdated");
  ASSERT_EQ(outdated.status, 200) << outdated.body;
  EXPECT_EQ(outdated.json()["outdated"], 0);
  EXPECT_EQ(outdated.json()["models"].size(), 3u) << outdated.body;
  EXPECT_EQ(get("/api/model/outdated?model=no-such-model").status, 404);
  Reply update = send("POST", "/api/model/update", {{"all", true}});
  ASSERT_EQ(update.status, 200) << update.body;
  EXPECT_EQ(update.json()["not_updated"].size(), 3u);
  EXPECT_EQ(send("POST", "/api/model/update", Json::object()).status, 400);

  // The state, then a second machine (another home) that imports it.
  Reply exported = get("/api/export");
  ASSERT_EQ(exported.status, 200);
  const Json state = exported.json();
  EXPECT_EQ(state["version"], "1.1");
  EXPECT_EQ(state["settings"]["runtime.gpu"], "off");
  EXPECT_EQ(state["models"].size(), 3u);
  ASSERT_EQ(state["profiles"].size(), 1u) << exported.body;
  EXPECT_EQ(state["profiles"][0]["name"], "code");

  const fs::path first_home = home_;
  home_ = first_home / "second";
  fs::create_directories(home_);
  for (auto& [k, v] : env_) {
    if (v.rfind(first_home.string(), 0) == 0)
      v = (home_ / fs::path(v).lexically_relative(first_home)).string();
  }
  uint16_t second = Start();
  ASSERT_NE(second, 0) << ReadFile(err_);
  EXPECT_EQ(Http(second, "POST", "/api/import", R"({"models": "none"})").status, 400);
  EXPECT_EQ(Http(second, "POST", "/api/import", R"({"version": "9", "models": []})").status, 400);
  Reply imported = Http(second, "POST", "/api/import", state.dump());
  ASSERT_EQ(imported.status, 200) << imported.body;
  const Json result = imported.json();
  ASSERT_EQ(result["downloading"].size(), 1u) << imported.body;  // the model with a source
  ASSERT_EQ(result["skipped"].size(), 2u) << imported.body;      // the files made in place
  EXPECT_EQ(result["profiles"], Json::array({"code"}));
  const std::string job = result["downloading"][0]["job"];
  Json done = WaitJob(second, job);
  EXPECT_EQ(done["state"], "succeeded") << done.dump();
  EXPECT_EQ(Http(second, "GET", "/api/model/list?installed_only=true").json()["count"], 1);
  EXPECT_EQ(setting(Http(second, "GET", "/api/settings").json(), "runtime.gpu"), "off");
  EXPECT_EQ(Http(second, "GET", "/api/profiles/code").json()["max_tokens"], 77);
  EXPECT_TRUE(Http(second, "GET", "/api/downloads").json()["downloads"].empty());

  // The second server's own update check: none until [updates] check is
  // set, then one at once, kept for GET ?cached=true.
  EXPECT_EQ(Http(second, "GET", "/api/model/outdated?cached=true").status, 404);
  ASSERT_EQ(Http(second, "PATCH", "/api/settings", R"({"updates.check":"1h"})").status, 200);
  Reply cached;
  for (int i = 0; i < 100; ++i) {
    cached = Http(second, "GET", "/api/model/outdated?cached=true");
    if (cached.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(cached.status, 200) << cached.body;
  EXPECT_EQ(cached.json()["models"].size(), 1u);
  home_ = first_home;
}

// Downloads: pause (the partial stays), resume, a server restart in the
// middle (the next server goes on by itself), cancel (the partial goes).
TEST_F(ServeTest, DownloadsPauseResumeCancelAndSurviveARestart) {
  fs::path file = MakeRemoteFile("f32", 256, 4);  // about 24 MiB
  testing::TestHttpServer files;
  testing::FileOptions slow;
  slow.bytes_per_second = 4 << 20;
  files.AddFile("/remote.gguf", ReadFile(file), slow);
  files.AddFile("/other.gguf", ReadFile(file), slow);
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  auto progress = [&](uint16_t p, const std::string& job, uint64_t at_least = 1) {
    Json j;
    for (int i = 0; i < 500; ++i) {
      j = Http(p, "GET", "/api/jobs/" + job).json();
      if (j.value("completed", uint64_t{0}) >= at_least || j.value("state", "") != "running") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return j.value("completed", uint64_t{0});
  };
  auto partials = [&] {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(home_)) {
      const std::string name = e.path().filename().string();
      n +=
          name.ends_with("-partial") || name.ends_with(".partial") || name.ends_with(".incomplete");
    }
    return n;
  };
  Reply started =
      Http(port, "POST", "/api/model/download", Json{{"model", files.Url("/remote.gguf")}}.dump());
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string id = started.json()["download"];
  ASSERT_GT(progress(port, started.json()["job"]), 0u);

  Reply paused = Http(port, "PATCH", "/api/downloads/" + id, R"({"state":"paused"})");
  ASSERT_EQ(paused.status, 200) << paused.body;
  EXPECT_EQ(paused.json()["state"], "paused");
  EXPECT_GT(partials(), 0u);
  EXPECT_EQ(Http(port, "PATCH", "/api/downloads/" + id, R"({"state":"paused"})").status, 409);
  EXPECT_EQ(Http(port, "PATCH", "/api/downloads/" + id, R"({"state":"gone"})").status, 400);
  EXPECT_EQ(Http(port, "PATCH", "/api/downloads/dl-99", R"({"state":"running"})").status, 404);
  Json listed = Http(port, "GET", "/api/downloads").json();
  ASSERT_EQ(listed["downloads"].size(), 1u);
  EXPECT_EQ(listed["downloads"][0]["state"], "paused");

  Reply resumed = Http(port, "PATCH", "/api/downloads/" + id, R"({"state":"running"})");
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  ASSERT_GE(progress(port, resumed.json()["job"], 8 << 20), 8u << 20);
  auto [code, seconds] = Terminate();
  EXPECT_EQ(code, 0);
  const uint64_t sent_before = files.BodyBytesSent();

  // The next server resumes it by itself.
  port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  listed = Http(port, "GET", "/api/downloads").json();
  ASSERT_EQ(listed["downloads"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["downloads"][0]["state"], "running");
  const std::string job = listed["downloads"][0]["job"];
  Json done = WaitJob(port, job, 30);
  EXPECT_EQ(done["state"], "succeeded") << done.dump();
  // A resume: the second server fetched less than the file (the header
  // read for the fit check included).
  EXPECT_LT(files.BodyBytesSent() - sent_before, fs::file_size(file));
  EXPECT_TRUE(Http(port, "GET", "/api/downloads").json()["downloads"].empty());
  EXPECT_EQ(Http(port, "GET", "/api/model/list?installed_only=true").json()["count"], 1);
  EXPECT_EQ(partials(), 0u);

  // Cancel: gone, and so is its partial file.
  Reply other =
      Http(port, "POST", "/api/model/download", Json{{"model", files.Url("/other.gguf")}}.dump());
  ASSERT_EQ(other.status, 202) << other.body;
  ASSERT_GT(progress(port, other.json()["job"]), 0u);
  EXPECT_GT(partials(), 0u);
  Reply cancelled =
      Http(port, "DELETE", "/api/downloads/" + other.json()["download"].get<std::string>());
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(partials(), 0u);
  EXPECT_TRUE(Http(port, "GET", "/api/downloads").json()["downloads"].empty());
  EXPECT_EQ(
      Http(port, "GET", "/api/jobs/" + other.json()["job"].get<std::string>()).json()["state"],
      "cancelled");
}

// /api/events: one stream with a job's progress (bytes, speed, ETA) and its
// end, a runner's load and unload, and a resource sample every second.
TEST_F(ServeTest, OneEventStreamCarriesJobsRunnersAndResources) {
  MakeModel("chat");
  fs::path file = MakeRemoteFile("f32", 256);
  testing::TestHttpServer files;
  testing::FileOptions slow;
  slow.bytes_per_second = 4 << 20;
  files.AddFile("/remote.gguf", ReadFile(file), slow);
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  Stream events(port, "GET", "/api/events", "");
  ASSERT_EQ(events.status(), 200);
  EXPECT_EQ(events.Header("Content-Type"), "text/event-stream");
  Reply started =
      Http(port, "POST", "/api/model/download", Json{{"model", files.Url("/remote.gguf")}}.dump());
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string job = started.json()["job"];
  ASSERT_EQ(Http(port, "POST", "/api/chat", Chat("chat", "hi", 2).dump()).status, 200);
  ASSERT_EQ(Http(port, "POST", "/api/generate", R"({"model":"chat","keep_alive":0})").status, 200);

  bool speed = false, done = false, loaded = false, unloaded = false;
  int samples = 0, connections = 0;
  std::string type;
  Json sample;
  while (!(speed && done && loaded && unloaded && samples >= 2)) {
    auto line = events.Line();
    ASSERT_TRUE(line) << "the stream ended; speed " << speed << " done " << done << " loaded "
                      << loaded << " unloaded " << unloaded << " samples " << samples;
    if (line->rfind("event: ", 0) == 0) type = line->substr(7);
    if (line->rfind("data: ", 0) != 0) continue;
    Json data = Json::parse(line->substr(6));
    if (type == "job" && data["id"] == job) {
      if (data.contains("speed")) {
        speed = true;
        EXPECT_GT(data["speed"].get<double>(), 0);
        EXPECT_TRUE(data.contains("eta_seconds"));
        EXPECT_GT(data["total"].get<uint64_t>(), 0u);
        connections = std::max(connections, data.value("connections", 0));
      }
      if (data["state"] == "succeeded") done = true;
    } else if (type == "runner" && data["model"] == "chat") {
      const std::string what = data["what"];
      loaded |= what.rfind("loaded in ", 0) == 0;
      unloaded |= what.rfind("unloaded", 0) == 0;
    } else if (type == "resources") {
      ++samples;
      sample = data;
    }
  }
  EXPECT_GE(connections, 1);  // requests in flight, as the downloader counts them
  EXPECT_TRUE(sample.contains("cpu_busy")) << sample.dump();
  EXPECT_GT(sample["memory"]["total"].get<uint64_t>(), 0u);
  EXPECT_GT(sample["disk"]["free"].get<uint64_t>(), 0u);
  EXPECT_TRUE(sample["gpus"].is_array());
  EXPECT_TRUE(sample["runners"].is_array());
  // The stream ends with the server.
  auto [code, seconds] = Terminate();
  EXPECT_EQ(code, 0);
  EXPECT_LT(seconds, 5.0);
}

TEST_F(ServeTest, TheManagementApiWritesAreOffWithNoWrites) {
  MakeModel("chat");
  uint16_t port = Start({"--no-writes"});
  ASSERT_NE(port, 0) << ReadFile(err_);
  EXPECT_EQ(Http(port, "POST", "/api/model/switch", R"({"model":"chat"})").status, 403);
  EXPECT_EQ(Http(port, "POST", "/api/model/download", R"({"model":"chat"})").status, 403);
  EXPECT_EQ(Http(port, "PATCH", "/api/settings", R"({"runtime.gpu":"off"})").status, 403);
  EXPECT_EQ(Http(port, "POST", "/api/profiles", R"({"name":"x"})").status, 403);
  EXPECT_EQ(Http(port, "POST", "/api/import", R"({"version":"1.1","models":[]})").status, 403);
  EXPECT_EQ(Http(port, "DELETE", "/api/downloads/dl-1").status, 403);
  EXPECT_EQ(Http(port, "GET", "/api/model/list").status, 200);
  EXPECT_EQ(Http(port, "GET", "/api/settings").status, 200);
}

TEST_F(ServeTest, SigtermDuringAPullAndTheNextPullResumes) {
  // A 24 MiB model served at 4 MiB/s: the pull is cut by SIGTERM midway.
  fs::path file = MakeRemoteFile("f32", 256, 4);
  testing::TestHttpServer files;
  testing::FileOptions slow;
  slow.bytes_per_second = 4 << 20;
  files.AddFile("/remote.gguf", ReadFile(file), slow);
  uint16_t port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  Stream pull(port, "POST", "/api/pull", Json{{"model", files.Url("/remote.gguf")}}.dump());
  ASSERT_EQ(pull.status(), 200);
  uint64_t completed = 0;
  while (auto line = pull.Line()) {
    Json j = Json::parse(*line, nullptr, false);
    if (j.value("completed", uint64_t{0}) > (2u << 20)) {
      completed = j["completed"];
      break;
    }
  }
  ASSERT_GT(completed, 0u);
  auto [code, seconds] = Terminate();
  EXPECT_EQ(code, 0);
  EXPECT_LT(seconds, 5.0);
  std::printf("SIGTERM during the pull at %llu bytes: exited in %.3f s\n",
              static_cast<unsigned long long>(completed), seconds);

  port = Start();
  ASSERT_NE(port, 0) << ReadFile(err_);
  Stream again(port, "POST", "/api/pull", Json{{"model", files.Url("/remote.gguf")}}.dump());
  std::vector<Json> lines = again.AllLines();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["status"], "success") << lines.back().dump();
  bool resumed = false;
  for (const Json& l : lines) {
    if (l.value("status", "").find("resum") != std::string::npos) resumed = true;
  }
  EXPECT_TRUE(resumed) << "no resume reported in: " << Json(lines).dump();
  Json tags = Http(port, "GET", "/api/tags").json();
  EXPECT_EQ(tags["models"].size(), 1u) << tags.dump();
}

}  // namespace
}  // namespace hangar
