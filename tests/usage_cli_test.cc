// End-to-end tests of sessions and statistics (`hangar use`, `stats`, `ps`,
// `doctor`, measured speed in `recommend`) and of the HTTP backends through
// the command line, against test servers on 127.0.0.1.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "fetch/testing/test_http_server.h"
#include "process.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ProcessResult;

class UsageCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("hangar-usage-cli-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    model_ = new fs::path(*dir_ / "tiny.gguf");
    ProcessResult r =
        testing::RunProcess({HANGAR_MKMODEL_BIN, "--arch", "llama", "--type", "f16", "--vocab",
                             "llama-spm", "--threads", "1", "--out", model_->string()},
                            {{"PATH", "/usr/bin:/bin"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete model_;
    delete dir_;
  }
  void SetUp() override {
    home_ = *dir_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(home_);
    fs::create_directories(home_);
  }
  std::map<std::string, std::string> Env() const {
    std::map<std::string, std::string> env = {{"HOME", home_.string()}, {"PATH", "/usr/bin:/bin"}};
    for (const auto& [k, v] : extra_env_) env[k] = v;
    return env;
  }
  ProcessResult Run(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), HANGAR_BIN);
    return testing::RunProcess(args, Env(), input);
  }
  nlohmann::json Json(std::vector<std::string> args) {
    args.push_back("--json");
    ProcessResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out.empty() ? "null" : r.out);
  }
  // An interactive `hangar run` of `model` that answers in two tokens.
  static std::vector<std::string> ChatArgs(const std::string& model) {
    return {HANGAR_BIN, "run",   model, "--chat",       "--threads",
            "1",        "--ctx", "512", "--max-tokens", "2"};
  }
  // `hangar ps` once a process has registered its model (the first answer
  // loads it); waits at most a minute, a guard, not a measure.
  nlohmann::json PsOnceLoaded() {
    nlohmann::json ps;
    for (int i = 0; i < 600 && ps.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ps = Json({"ps"});
    }
    return ps;
  }
  void WriteConfig(const std::string& text) {
    fs::create_directories(home_ / ".config/hangar");
    std::ofstream(home_ / ".config/hangar/config.toml") << text;
  }
  std::vector<std::string> Quick(std::vector<std::string> args) {
    for (std::string a : {"--temperature", "0", "--ignore-eos", "--threads", "1", "--ctx", "512",
                          "--max-tokens", "8"}) {
      args.push_back(a);
    }
    return args;
  }

  static fs::path* dir_;
  static fs::path* model_;
  fs::path home_;
  std::map<std::string, std::string> extra_env_;
};

fs::path* UsageCliTest::dir_ = nullptr;
fs::path* UsageCliTest::model_ = nullptr;

TEST_F(UsageCliTest, UseKeepsTheCurrentModelWithItsTime) {
  EXPECT_THAT(Run({"use"}).out, HasSubstr("No current model"));
  ProcessResult missing = Run({"use", "qwen2.5-coder-7b-q5"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("hangar pull qwen2.5-coder-7b-q5"));
  nlohmann::json set = Json({"use", model_->string()});
  EXPECT_EQ(set["model"], model_->string());
  EXPECT_EQ(set["backend"], "llama");
  EXPECT_GT(set["since"].get<int64_t>(), 1'600'000'000);
  nlohmann::json shown = Json({"use"});
  EXPECT_EQ(shown, set);
  // `hangar run` without a model runs the current one.
  nlohmann::json ran = Json(Quick({"run", "", "hello"}));
  EXPECT_EQ(ran["model"], "tiny.gguf");
}

TEST_F(UsageCliTest, StatsCountEveryRunAndBenchSetsTheBaseline) {
  EXPECT_EQ(Run({"stats", "tiny.gguf"}).exit_code, 1);  // never run
  ASSERT_EQ(Run(Quick({"run", model_->string(), "one"})).exit_code, 0);
  ASSERT_EQ(Run(Quick({"run", model_->string(), "two"})).exit_code, 0);
  EXPECT_EQ(Run({"run", model_->string(), "bad", "--temperature", "9"}).exit_code, 1);
  nlohmann::json stats = Json({"stats", "tiny.gguf"});
  ASSERT_EQ(stats.size(), 1u);
  const nlohmann::json& s = stats[0];
  EXPECT_EQ(s["uses"], 3);
  EXPECT_EQ(s["successes"], 2);
  EXPECT_EQ(s["failures"], 1);
  EXPECT_EQ(s["gen_tokens"], 16);
  EXPECT_GT(s["gen_tokens_per_second"].get<double>(), 0);
  EXPECT_GT(s["inference_ms"]["max"].get<double>(), 0);
  EXPECT_LE(s["inference_ms"]["min"].get<double>(), s["inference_ms"]["max"].get<double>());
  EXPECT_GT(s["time_to_first_token_ms"].get<double>(), 0);
  EXPECT_GT(s["peak_memory_bytes"].get<uint64_t>(), 0u);
  EXPECT_THAT(s["last_error"].get<std::string>(), HasSubstr("temperature"));
  EXPECT_TRUE(s["baseline"].is_null());
  ASSERT_EQ(Run({"bench", model_->string(), "-p", "32", "-n", "8", "-r", "1", "--threads", "1"})
                .exit_code,
            0);
  nlohmann::json after = Json({"stats", "tiny.gguf"});
  EXPECT_EQ(after[0]["uses"], 3);  // a benchmark is not a use
  EXPECT_GT(after[0]["baseline"]["gen_tokens_per_second"].get<double>(), 0);
  ProcessResult table = Run({"stats"});
  EXPECT_THAT(table.out, HasSubstr("tiny.gguf"));
  EXPECT_THAT(table.out, HasSubstr("BENCH T/S"));
}

TEST_F(UsageCliTest, InstalledModelsRunByIdAndCountTheirUses) {
  const fs::path copy = home_ / "models" / "imported-tiny.gguf";
  fs::create_directories(copy.parent_path());
  fs::copy_file(*model_, copy);
  ASSERT_EQ(Run({"import", copy.string()}).exit_code, 0);
  nlohmann::json ran = Json(Quick({"run", "imported-tiny", "hello"}));
  EXPECT_EQ(ran["model"], "imported-tiny");
  nlohmann::json info = Json({"info", "imported-tiny"});
  EXPECT_EQ(info["store"]["use_count"], 1);
  EXPECT_FALSE(info["store"]["last_used"].is_null());
}

TEST_F(UsageCliTest, RecommendUsesTheMeasuredSpeed) {
  WriteConfig("[model_presets.tiny]\nweights = \"" + model_->string() +
              "\"\nformat = \"gguf\"\ncontext_length = 4096\n");
  auto source = [&] {
    nlohmann::json r = Json({"recommend", "--installed", "--limit", "0"});
    for (const auto& c : r["candidates"]) {
      if (c["id"] == "tiny") return c["speed"]["source"].get<std::string>();
    }
    return std::string("absent");
  };
  EXPECT_EQ(source(), "predicted");
  ASSERT_EQ(Run({"bench", "tiny", "-p", "32", "-n", "8", "-r", "1", "--threads", "1"}).exit_code,
            0);
  EXPECT_EQ(source(), "measured");
}

// A `hangar run --chat` holding its model, for `hangar ps` to see.
class ChatProcess {
 public:
  ChatProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
    int in[2];
    EXPECT_EQ(::pipe(in), 0);
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::close(in[1]);
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      std::vector<char*> a, e;
      for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      for (const auto& s : env_strings) e.push_back(const_cast<char*>(s.c_str()));
      e.push_back(nullptr);
      ::execve(a[0], a.data(), e.data());
      ::_exit(127);
    }
    ::close(in[0]);
    stdin_ = in[1];
  }
  void Say(const std::string& line) {
    EXPECT_EQ(::write(stdin_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }
  int pid() const { return pid_; }
  int Finish() {
    ::close(stdin_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  int pid_ = -1;
  int stdin_ = -1;
};

TEST_F(UsageCliTest, PsListsTheModelsOfRunningProcesses) {
  nlohmann::json none = Json({"ps"});
  EXPECT_TRUE(none.empty());
  ChatProcess chat(ChatArgs(model_->string()), Env());
  chat.Say("hello\n");
  nlohmann::json ps = PsOnceLoaded();
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0]["pid"], chat.pid());
  EXPECT_EQ(ps[0]["model"], "tiny.gguf");
  EXPECT_EQ(ps[0]["backend"], "llama");
  EXPECT_EQ(ps[0]["command"], "run");
  EXPECT_EQ(ps[0]["n_ctx"], 512);
  EXPECT_GT(ps[0]["host_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(ps[0]["rss_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(ps[0]["idle_until"].get<int64_t>(), ps[0]["loaded_at"].get<int64_t>());  // 5 min TTL
  EXPECT_THAT(Run({"ps"}).out, HasSubstr("tiny.gguf"));
  chat.Say("/bye\n");
  EXPECT_EQ(chat.Finish(), 0);
  EXPECT_TRUE(Json({"ps"}).empty());
}

TEST_F(UsageCliTest, PsForgetsAProcessThatWasKilled) {
  ChatProcess chat(ChatArgs(model_->string()), Env());
  chat.Say("hello\n");
  nlohmann::json ps = PsOnceLoaded();
  ASSERT_EQ(ps.size(), 1u);
  ::kill(chat.pid(), SIGKILL);  // no chance to remove its row
  chat.Finish();
  EXPECT_TRUE(Json({"ps"}).empty());
}

TEST_F(UsageCliTest, ALoadedModelIsNotRemovedWithoutForce) {
  const fs::path copy = home_ / "models" / "held-tiny.gguf";
  fs::create_directories(copy.parent_path());
  fs::copy_file(*model_, copy);
  ASSERT_EQ(Run({"import", copy.string(), "--copy"}).exit_code, 0);
  ChatProcess chat(ChatArgs("held-tiny"), Env());
  chat.Say("hello\n");
  nlohmann::json ps = PsOnceLoaded();
  ASSERT_EQ(ps.size(), 1u);
  ProcessResult refused = Run({"rm", "held-tiny"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("loaded by `hangar run` (pid " + std::to_string(chat.pid())));
  // Pruning everything keeps it too.
  nlohmann::json plan = Json({"cache", "prune", "--max-size", "0", "--dry-run"});
  EXPECT_TRUE(plan["removed"].empty()) << plan.dump();
  chat.Say("/bye\n");
  EXPECT_EQ(chat.Finish(), 0);
  EXPECT_EQ(Run({"rm", "held-tiny"}).exit_code, 0);
}

TEST_F(UsageCliTest, IdleTtlComesFromTheConfig) {
  WriteConfig("[runtime]\nidle_ttl = 0\n");
  ChatProcess chat(ChatArgs(model_->string()), Env());
  chat.Say("hello\n");
  nlohmann::json ps = PsOnceLoaded();
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_TRUE(ps[0]["idle_until"].is_null());  // never unloaded for idleness
  EXPECT_THAT(Run({"ps"}).out, HasSubstr("never"));
  chat.Say("/bye\n");
  EXPECT_EQ(chat.Finish(), 0);
}

TEST_F(UsageCliTest, DoctorReportsTheMachineAndTheModels) {
  nlohmann::json d = Json({"doctor"});
  EXPECT_TRUE(d["overall"] == "ok" || d["overall"] == "warn") << d.dump();
  std::vector<std::string> names;
  for (const auto& c : d["checks"]) names.push_back(c["name"]);
  EXPECT_THAT(names, ::testing::IsSupersetOf({"memory", "disk", "loaded models"}));
  ASSERT_EQ(Run({"bench", model_->string(), "-p", "32", "-n", "8", "-r", "1", "--threads", "1"})
                .exit_code,
            0);
  ASSERT_EQ(Run(Quick({"run", model_->string(), "hello"})).exit_code, 0);
  nlohmann::json after = Json({"doctor"});
  bool speed = false;
  for (const auto& c : after["checks"]) speed = speed || c["name"] == "speed tiny.gguf (llama)";
  EXPECT_TRUE(speed) << after.dump();
  EXPECT_THAT(Run({"doctor"}).out, HasSubstr("memory"));
}

TEST_F(UsageCliTest, RunsOnAnOllamaServer) {
  hangar::testing::TestHttpServer ollama;
  ollama.Route("POST", "/api/show", [](const auto& req, auto& res) {
    if (req.body.find("\"qwen-test\"") == std::string::npos) {
      res.SetJson(404, R"({"error":"model not found"})");
    } else {
      res.SetJson(200, R"({"template":"{{ .Prompt }}"})");
    }
  });
  ollama.Route("POST", "/api/(generate|chat)", [](const auto& req, auto& res) {
    if (req.body.find("\"messages\"") == std::string::npos) {
      res.SetJson(200, R"({"done":true})");  // load / unload
      return;
    }
    res.SetStream([](hangar::testing::TestStreamWriter& w) {
      w.Write(R"({"message":{"role":"assistant","content":"Hello "},"done":false})"
              "\n");
      w.Write(R"({"message":{"role":"assistant","content":"from Ollama"},"done":false})"
              "\n");
      w.Write(R"({"done":true,"done_reason":"stop","prompt_eval_count":4,)"
              R"("prompt_eval_duration":1000000,"eval_count":2,"eval_duration":2000000})"
              "\n");
    });
  });
  extra_env_["OLLAMA_HOST"] = ollama.BaseUrl();
  ProcessResult r = Run({"run", "qwen-test", "hi", "--backend", "ollama"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello from Ollama\n");
  ProcessResult missing = Run({"run", "nope", "hi", "--backend", "ollama"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("ollama pull nope"));
  nlohmann::json stats = Json({"stats", "qwen-test"});
  EXPECT_EQ(stats[0]["backend"], "ollama");
  EXPECT_EQ(stats[0]["gen_tokens"], 2);
}

TEST_F(UsageCliTest, RunsOnAnOpenAiCompatibleServer) {
  hangar::testing::TestHttpServer server;
  server.Route("GET", "/v1/models", [](const auto& req, auto& res) {
    if (req.headers.Get("Authorization") != "Bearer sk-e2e") {
      res.SetJson(401, R"({"error":{"message":"bad key"}})");
      return;
    }
    res.SetJson(200, R"({"data":[{"id":"local-model"}]})");
  });
  server.Route("POST", "/v1/chat/completions", [](const auto&, auto& res) {
    res.SetStream(
        [](hangar::testing::TestStreamWriter& w) {
          w.Write("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi \"}}]}\n\n");
          w.Write("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"there\"}}]}\n\n");
          w.Write("data: [DONE]\n\n");
        },
        "text/event-stream");
  });
  WriteConfig("[runtime]\nbackend = \"openai\"\nopenai_base_url = \"" + server.BaseUrl() +
              "/v1\"\n");
  ProcessResult no_key = Run({"run", "local-model", "hi"});
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_THAT(no_key.err, HasSubstr("OPENAI_API_KEY"));
  extra_env_["OPENAI_API_KEY"] = "sk-e2e";
  ProcessResult r = Run({"run", "local-model", "hi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hi there\n");
}

}  // namespace
}  // namespace hangar
