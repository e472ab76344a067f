// The ollama and openai backends against test servers on 127.0.0.1 that
// speak those APIs (fetch/testing/test_http_server.h), streaming included.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>
#include <sstream>

#include "core/status_matchers.h"
#include "fetch/curl_http_client.h"
#include "fetch/testing/test_http_server.h"
#include "runtime/http_backend_util.h"
#include "runtime/ollama_backend.h"
#include "runtime/openai_backend.h"

namespace hangar::runtime {
namespace {

using hangar::testing::TestHttpServer;
using hangar::testing::TestRequest;
using hangar::testing::TestResponse;
using hangar::testing::TestStreamWriter;
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;
using ::testing::SizeIs;

// "echo: the words" cut into pieces of up to 3 bytes (pieces split words and
// sometimes UTF-8 characters are kept whole by the servers: JSON strings).
std::vector<std::string> Pieces(const std::string& text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size(); i += 3) out.push_back(text.substr(i, 3));
  return out;
}

std::vector<float> FakeEmbedding(const std::string& text) {
  return {static_cast<float>(text.size()),
          static_cast<float>(std::count(text.begin(), text.end(), 'a')), 2.0f};
}

double Norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

// --- A server that speaks Ollama's API ----------------------------------------

class FakeOllama {
 public:
  FakeOllama() {
    server_.Route("POST", "/api/show", [this](const TestRequest& req, TestResponse& res) {
      const nlohmann::json body = nlohmann::json::parse(req.body);
      if (body.value("model", "") != "qwen-test") {
        res.SetJson(404, R"({"error":"model 'nope' not found"})");
        return;
      }
      res.SetJson(200, R"({"template":"{{ .Prompt }}","model_info":)"
                       R"({"qwen2.context_length":32768,"qwen2.embedding_length":3}})");
    });
    server_.Route("POST", "/api/generate", [this](const TestRequest& req, TestResponse& res) {
      const nlohmann::json body = nlohmann::json::parse(req.body);
      Remember(body);
      if (!body.contains("prompt")) {  // load or unload
        res.SetJson(200, R"({"done":true})");
        return;
      }
      Answer("echo: " + body["prompt"].get<std::string>(), body, res, [](const std::string& p) {
        return nlohmann::json{{"response", p}, {"done", false}};
      });
    });
    server_.Route("POST", "/api/chat", [this](const TestRequest& req, TestResponse& res) {
      const nlohmann::json body = nlohmann::json::parse(req.body);
      Remember(body);
      Answer("you said: " + body["messages"].back()["content"].get<std::string>(), body, res,
             [](const std::string& p) {
               return nlohmann::json{{"message", {{"role", "assistant"}, {"content", p}}},
                                     {"done", false}};
             });
    });
    server_.Route("POST", "/api/embed", [this](const TestRequest& req, TestResponse& res) {
      const nlohmann::json body = nlohmann::json::parse(req.body);
      Remember(body);
      nlohmann::json e = nlohmann::json::array();
      for (const auto& t : body["input"]) {
        std::vector<float> v = FakeEmbedding(t.get<std::string>());
        NormalizeL2(v);
        e.push_back(v);
      }
      res.SetJson(200, nlohmann::json{{"embeddings", e}, {"prompt_eval_count", 7}}.dump());
    });
  }

  std::string url() const { return server_.BaseUrl(); }
  std::vector<nlohmann::json> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }

 private:
  void Remember(const nlohmann::json& body) {
    std::lock_guard<std::mutex> lock(mu_);
    bodies_.push_back(body);
  }
  template <typename LineFn>
  void Answer(const std::string& text, const nlohmann::json& body, TestResponse& res, LineFn line) {
    const std::string prompt = body.contains("prompt") ? body["prompt"].get<std::string>() : "";
    const int limit = body["options"].value("num_predict", 1000);
    std::vector<std::string> pieces = Pieces(text);
    const bool cut = static_cast<int>(pieces.size()) > limit;
    if (cut) pieces.resize(static_cast<size_t>(limit));
    res.SetStream([=](TestStreamWriter& w) {
      for (size_t i = 0; i < pieces.size(); ++i) {
        if (prompt == "explode" && i == 2) {
          w.Write("{\"error\":\"the runner crashed\"}\n");
          return;
        }
        if (!w.Write(line(pieces[i]).dump() + "\n")) return;
        if (prompt == "slow" && !w.Sleep(20)) return;
      }
      nlohmann::json end = {{"done", true},
                            {"done_reason", cut ? "length" : "stop"},
                            {"prompt_eval_count", 11},
                            {"prompt_eval_duration", 2'000'000},
                            {"eval_count", pieces.size()},
                            {"eval_duration", 50'000'000}};
      if (body.contains("messages")) end["message"] = {{"role", "assistant"}, {"content", ""}};
      w.Write(end.dump() + "\n");
    });
  }

  TestHttpServer server_;
  std::mutex mu_;
  std::vector<nlohmann::json> bodies_;
};

class OllamaBackendTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> Make(std::string host = "") {
    BackendContext c;
    c.http = &http_;
    c.ollama_host = host.empty() ? ollama_.url() : host;
    auto b = MakeOllamaBackend(c);
    EXPECT_OK(b);
    return std::move(*b);
  }
  std::unique_ptr<Backend> Loaded() {
    auto b = Make();
    LoadOptions o;
    o.n_ctx = 8192;
    o.threads = 3;
    o.n_gpu_layers = 0;
    EXPECT_OK(b->Load({.id = "qwen", .remote_name = "qwen-test"}, o));
    return b;
  }
  GenerateRequest Prompt(std::string p, int max_tokens = 100) {
    GenerateRequest r;
    r.prompt = std::move(p);
    r.max_tokens = max_tokens;
    r.sampling.temperature = 0.3;
    r.sampling.seed = 99;
    r.stop = {"\n\n"};
    return r;
  }

  CurlHttpClient http_;
  FakeOllama ollama_;
};

TEST_F(OllamaBackendTest, LoadChecksTheModelAndWarmsItUp) {
  auto b = Make();
  Status missing = b->Load({.id = "nope"}, {});
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(missing.message(), HasSubstr("ollama pull nope"));
  auto ok = Loaded();
  ASSERT_NE(ok->loaded(), nullptr);
  EXPECT_EQ(ok->loaded()->backend, "ollama");
  EXPECT_EQ(ok->loaded()->n_embd, 3);
  EXPECT_EQ(ok->loaded()->n_ctx, 8192u);
  EXPECT_EQ(ok->loaded()->chat_template, "{{ .Prompt }}");
  const auto bodies = ollama_.bodies();
  ASSERT_FALSE(bodies.empty());
  EXPECT_EQ(bodies.back()["model"], "qwen-test");  // the warm-up load
  EXPECT_EQ(bodies.back()["options"]["num_ctx"], 8192);
  EXPECT_EQ(bodies.back()["options"]["num_thread"], 3);
  EXPECT_EQ(bodies.back()["options"]["num_gpu"], 0);
  ok->Unload();
  EXPECT_EQ(ollama_.bodies().back()["keep_alive"], 0);
  EXPECT_EQ(ok->loaded(), nullptr);
}

TEST_F(OllamaBackendTest, StreamingEqualsNonStreamingAndCarriesTheServersTimings) {
  auto b = Loaded();
  Result<Completion> whole = b->Generate(Prompt("hello there"));
  ASSERT_OK(whole);
  EXPECT_EQ(whole->text, "echo: hello there");
  EXPECT_EQ(whole->finish, FinishReason::kStop);
  EXPECT_EQ(whole->timings.prompt_tokens, 11);
  EXPECT_EQ(whole->timings.prompt_us, 2000);
  EXPECT_EQ(whole->timings.gen_tokens, 6);
  EXPECT_EQ(whole->timings.gen_us, 50'000);
  std::vector<std::string> pieces;
  Result<Completion> streamed = b->Stream(Prompt("hello there"), [&](std::string_view p) {
    pieces.emplace_back(p);
    return true;
  });
  ASSERT_OK(streamed);
  EXPECT_THAT(pieces, ElementsAre("ech", "o: ", "hel", "lo ", "the", "re"));
  EXPECT_EQ(streamed->text, whole->text);
  const nlohmann::json sent = ollama_.bodies().back();
  EXPECT_EQ(sent["raw"], true);
  EXPECT_EQ(sent["stream"], true);
  EXPECT_DOUBLE_EQ(sent["options"]["temperature"].get<double>(), 0.3);
  EXPECT_EQ(sent["options"]["seed"], 99);
  EXPECT_EQ(sent["options"]["num_predict"], 100);
  EXPECT_EQ(sent["options"]["stop"], nlohmann::json::array({"\n\n"}));
  EXPECT_EQ(sent["options"]["num_ctx"], 8192);
}

TEST_F(OllamaBackendTest, LengthLimitIsReported) {
  auto b = Loaded();
  Result<Completion> c = b->Generate(Prompt("a long prompt indeed", 2));
  ASSERT_OK(c);
  EXPECT_EQ(c->text, "echo: ");
  EXPECT_EQ(c->finish, FinishReason::kLength);
}

TEST_F(OllamaBackendTest, ChatSendsTheMessagesForTheServersTemplate) {
  auto b = Loaded();
  const std::vector<ChatMessage> chat = {{"system", "be brief"}, {"user", "hi"}};
  Result<Completion> c = b->Chat(chat, Prompt(""));
  ASSERT_OK(c);
  EXPECT_EQ(c->text, "you said: hi");
  const nlohmann::json sent = ollama_.bodies().back();
  ASSERT_THAT(sent["messages"], SizeIs(2));
  EXPECT_EQ(sent["messages"][0]["role"], "system");
  EXPECT_EQ(sent["messages"][1]["content"], "hi");
}

TEST_F(OllamaBackendTest, EmbeddingsAreUnitVectorsInOrder) {
  auto b = Loaded();
  const std::vector<std::string> texts = {"banana", "kiwi"};
  Result<Embeddings> e = b->Embed(texts, {});
  ASSERT_OK(e);
  ASSERT_THAT(e->vectors, SizeIs(2));
  for (const auto& v : e->vectors) EXPECT_NEAR(Norm(v), 1.0, 1e-6);
  std::vector<float> banana = FakeEmbedding("banana");
  NormalizeL2(banana);
  EXPECT_THAT(e->vectors[0], Pointwise(FloatNear(1e-6), banana));
  EXPECT_EQ(e->prompt_tokens, 7);
  EXPECT_THAT(b->Embed(texts, {.pooling = Pooling::kMean}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(b->Tokenize("x", true), StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(OllamaBackendTest, CancelAndErrorsMidStream) {
  auto b = Loaded();
  int pieces = 0;
  Result<Completion> r = b->Stream(Prompt("slow prompt with many words to send"),
                                   [&](std::string_view) { return ++pieces < 2; });
  EXPECT_THAT(r, StatusIs(StatusCode::kCancelled));
  EXPECT_EQ(pieces, 2);
  CancelFlag flag;
  GenerateRequest g = Prompt("slow");
  g.cancel = &flag;
  r = b->Stream(g, [&](std::string_view) {
    flag.Cancel();
    return true;
  });
  EXPECT_THAT(r, StatusIs(StatusCode::kCancelled));
  Result<Completion> crashed = b->Generate(Prompt("explode"));
  EXPECT_THAT(crashed, StatusIs(StatusCode::kInternal));
  EXPECT_THAT(crashed.status().message(), HasSubstr("the runner crashed"));
  // The backend still works.
  EXPECT_OK(b->Generate(Prompt("fine")));
}

TEST_F(OllamaBackendTest, ServerDownIsUnavailable) {
  std::string dead;
  {
    TestHttpServer gone;
    dead = gone.BaseUrl();
  }
  auto b = Make(dead);
  Status s = b->Load({.id = "qwen-test"}, {});
  EXPECT_THAT(s, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(s.message(), HasSubstr("OLLAMA_HOST"));
}

TEST(ServerBaseUrlTest, Table) {
  MapEnvironment env{{"OLLAMA_HOST", "0.0.0.0:11435"}};
  MapEnvironment none;
  EXPECT_EQ(ServerBaseUrl("", &env, "OLLAMA_HOST", kDefaultOllamaHost), "http://127.0.0.1:11435");
  EXPECT_EQ(ServerBaseUrl("", &none, "OLLAMA_HOST", kDefaultOllamaHost), "http://127.0.0.1:11434");
  EXPECT_EQ(ServerBaseUrl("https://box:1/v1/", &env, "X", "y"), "https://box:1/v1");
  EXPECT_EQ(ServerBaseUrl("", nullptr, "X", "gpu-box:8080"), "http://gpu-box:8080");
}

// --- A server that speaks the OpenAI API ----------------------------------------

class FakeOpenAi {
 public:
  FakeOpenAi() {
    server_.Route("GET", "/v1/models", [this](const TestRequest& req, TestResponse& res) {
      if (!Authorized(req, res)) return;
      res.SetJson(200, R"({"object":"list","data":[{"id":"gpt-test"},{"id":"embed-test"}]})");
    });
    server_.Route("POST", "/v1/(completions|chat/completions)",
                  [this](const TestRequest& req, TestResponse& res) {
                    if (!Authorized(req, res)) return;
                    const nlohmann::json body = nlohmann::json::parse(req.body);
                    Remember(body);
                    const bool chat = req.params[0] != "completions";
                    const std::string text =
                        chat ? "assistant: " + body["messages"].back()["content"].get<std::string>()
                             : "completion of " + body["prompt"].get<std::string>();
                    Answer(text, body, chat, res);
                  });
    server_.Route("POST", "/v1/embeddings", [this](const TestRequest& req, TestResponse& res) {
      if (!Authorized(req, res)) return;
      const nlohmann::json body = nlohmann::json::parse(req.body);
      nlohmann::json data = nlohmann::json::array();
      // In reverse order: the client must sort by index.
      for (size_t i = body["input"].size(); i-- > 0;) {
        data.push_back({{"object", "embedding"},
                        {"index", i},
                        {"embedding", FakeEmbedding(body["input"][i].get<std::string>())}});
      }
      res.SetJson(200, nlohmann::json{{"data", data}, {"usage", {{"prompt_tokens", 5}}}}.dump());
    });
  }
  std::string url() const { return server_.BaseUrl() + "/v1"; }
  nlohmann::json last() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_.back();
  }

 private:
  bool Authorized(const TestRequest& req, TestResponse& res) {
    if (req.headers.Get("Authorization") == "Bearer sk-test") return true;
    res.SetJson(401, R"({"error":{"message":"Incorrect API key provided"}})");
    return false;
  }
  void Remember(const nlohmann::json& body) {
    std::lock_guard<std::mutex> lock(mu_);
    bodies_.push_back(body);
  }
  void Answer(const std::string& text, const nlohmann::json& body, bool chat, TestResponse& res) {
    std::vector<std::string> pieces = Pieces(text);
    const int limit = body.value("max_tokens", 1000);
    const bool cut = static_cast<int>(pieces.size()) > limit;
    if (cut) pieces.resize(static_cast<size_t>(limit));
    const bool slow = text.find("slow") != std::string::npos;
    res.SetStream(
        [=](TestStreamWriter& w) {
          w.Write(": a comment line\n\n");
          for (const std::string& p : pieces) {
            nlohmann::json choice = {{"index", 0}, {"finish_reason", nullptr}};
            if (chat) {
              choice["delta"] = {{"content", p}};
            } else {
              choice["text"] = p;
            }
            if (!w.Write("data: " + nlohmann::json{{"choices", {choice}}}.dump() + "\n\n")) return;
            if (slow && !w.Sleep(20)) return;
          }
          nlohmann::json last = {{"index", 0}, {"finish_reason", cut ? "length" : "stop"}};
          if (chat) last["delta"] = nlohmann::json::object();
          w.Write("data: " + nlohmann::json{{"choices", {last}}}.dump() + "\n\n");
          w.Write("data: " +
                  nlohmann::json{
                      {"choices", nlohmann::json::array()},
                      {"usage", {{"prompt_tokens", 9}, {"completion_tokens", pieces.size()}}}}
                      .dump() +
                  "\n\n");
          w.Write("data: [DONE]\n\n");
        },
        "text/event-stream");
  }

  TestHttpServer server_;
  std::mutex mu_;
  std::vector<nlohmann::json> bodies_;
};

class OpenAiBackendTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> Make(std::string key = "sk-test") {
    BackendContext c;
    c.http = &http_;
    c.openai_base_url = openai_.url();
    auto env = std::make_shared<MapEnvironment>();
    if (!key.empty()) env->Set("MY_KEY", key);
    c.env = env;
    c.openai_api_key_env = "MY_KEY";
    auto b = MakeOpenAiBackend(c);
    EXPECT_OK(b);
    return std::move(*b);
  }
  std::unique_ptr<Backend> Loaded() {
    auto b = Make();
    EXPECT_OK(b->Load({.id = "gpt-test"}, {}));
    return b;
  }
  GenerateRequest Prompt(std::string p, int max_tokens = 100) {
    GenerateRequest r;
    r.prompt = std::move(p);
    r.max_tokens = max_tokens;
    r.sampling.seed = 5;
    return r;
  }

  CurlHttpClient http_;
  FakeOpenAi openai_;
};

TEST_F(OpenAiBackendTest, KeyAndModelAreChecked) {
  Status no_key = Make("")->Load({.id = "gpt-test"}, {});
  EXPECT_THAT(no_key, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(no_key.message(), HasSubstr("$MY_KEY"));
  Status unknown = Make()->Load({.id = "gpt-9"}, {});
  EXPECT_THAT(unknown, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(unknown.message(), HasSubstr("gpt-test, embed-test"));
  auto b = Loaded();
  ASSERT_NE(b->loaded(), nullptr);
  EXPECT_EQ(b->loaded()->backend, "openai");
}

TEST_F(OpenAiBackendTest, CompletionsStreamAsServerSentEvents) {
  auto b = Loaded();
  std::string streamed;
  Result<Completion> s = b->Stream(Prompt("abc"), [&](std::string_view p) {
    streamed += p;
    return true;
  });
  ASSERT_OK(s);
  EXPECT_EQ(streamed, "completion of abc");
  Result<Completion> whole = b->Generate(Prompt("abc"));
  ASSERT_OK(whole);
  EXPECT_EQ(whole->text, streamed);
  EXPECT_EQ(whole->finish, FinishReason::kStop);
  EXPECT_EQ(whole->timings.prompt_tokens, 9);
  EXPECT_EQ(whole->timings.gen_tokens, 6);
  const nlohmann::json sent = openai_.last();
  EXPECT_EQ(sent["model"], "gpt-test");
  EXPECT_EQ(sent["stream"], true);
  EXPECT_EQ(sent["seed"], 5);
  EXPECT_EQ(sent["max_tokens"], 100);
  EXPECT_EQ(sent["stream_options"]["include_usage"], true);
  Result<Completion> cut = b->Generate(Prompt("abc", 2));
  ASSERT_OK(cut);
  EXPECT_EQ(cut->finish, FinishReason::kLength);
}

TEST_F(OpenAiBackendTest, ChatCompletionsStreamDeltas) {
  auto b = Loaded();
  const std::vector<ChatMessage> chat = {{"user", "hello"}};
  std::vector<std::string> pieces;
  Result<Completion> c = b->ChatStream(chat, Prompt(""), [&](std::string_view p) {
    pieces.emplace_back(p);
    return true;
  });
  ASSERT_OK(c);
  EXPECT_EQ(c->text, "assistant: hello");
  EXPECT_GT(pieces.size(), 3u);
  EXPECT_EQ(openai_.last()["messages"][0]["role"], "user");
}

TEST_F(OpenAiBackendTest, EmbeddingsComeBackInInputOrderNormalised) {
  auto b = Loaded();
  const std::vector<std::string> texts = {"aaa", "bb", "c"};
  Result<Embeddings> e = b->Embed(texts, {});
  ASSERT_OK(e);
  ASSERT_THAT(e->vectors, SizeIs(3));
  std::vector<float> first = FakeEmbedding("aaa");
  NormalizeL2(first);
  EXPECT_THAT(e->vectors[0], Pointwise(FloatNear(1e-6), first));
  for (const auto& v : e->vectors) EXPECT_NEAR(Norm(v), 1.0, 1e-6);
  Result<Embeddings> raw = b->Embed(texts, {.normalize = false});
  ASSERT_OK(raw);
  EXPECT_THAT(raw->vectors[2], Pointwise(FloatNear(1e-6), FakeEmbedding("c")));
  EXPECT_EQ(raw->prompt_tokens, 5);
}

TEST_F(OpenAiBackendTest, CallbackCancelsTheStream) {
  auto b = Loaded();
  int pieces = 0;
  Result<Completion> r =
      b->Stream(Prompt("slow and long words here"), [&](std::string_view) { return ++pieces < 2; });
  EXPECT_THAT(r, StatusIs(StatusCode::kCancelled));
  EXPECT_EQ(pieces, 2);
  EXPECT_OK(b->Generate(Prompt("after")));
}

TEST(HttpBackendRegistryTest, AllThreeAreRegistered) {
  std::vector<std::string> names;
  for (const auto& e : DefaultRegistry().entries()) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre("llama", "ollama", "openai"));
  EXPECT_THAT(DefaultRegistry().Create("ollama", {}), StatusIs(StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace hangar::runtime
