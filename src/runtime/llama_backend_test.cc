// Real llama.cpp inference on tiny generated models (random weights, real
// vocabularies; fit/test_models.h).
#include "runtime/llama_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "core/status_matchers.h"
#include "core/units.h"
#include "fit/model_facts.h"
#include "fit/test_models.h"
#include "runtime/chat_template.h"

namespace hangar::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

LoadOptions SmallOptions() {
  LoadOptions o;
  o.n_ctx = 512;
  o.n_batch = 512;
  o.threads = 1;
  return o;
}

std::unique_ptr<Backend> Loaded(std::string_view arch, LoadOptions options = SmallOptions(),
                                const HardwareInfo* hw = nullptr) {
  BackendContext context;
  context.hardware = hw;
  auto backend = MakeLlamaBackend(context);
  EXPECT_OK(backend);
  if (!backend.ok()) return nullptr;
  ModelTarget target{.id = std::string(arch), .file = fit::testing::TinyModel(arch)};
  Status s = (*backend)->Load(target, options);
  EXPECT_OK(s);
  return std::move(*backend);
}

GenerateRequest Greedy(std::string prompt, int max_tokens = 24) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

double Norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

TEST(LlamaBackendTest, LoadReportsWhatItGot) {
  auto b = Loaded("llama");
  ASSERT_NE(b, nullptr);
  const LoadedModel* m = b->loaded();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->backend, "llama");
  EXPECT_EQ(m->target.id, "llama");
  EXPECT_EQ(m->n_ctx, 512u);
  EXPECT_EQ(m->n_gpu_layers, 0);
  EXPECT_EQ(m->threads, 1);
  EXPECT_GT(m->host_bytes, 8 * kMiB);  // 32000 x 128 f16 embeddings alone
  EXPECT_EQ(m->n_embd, 128);
  EXPECT_TRUE(m->recoveries.empty());
  b->Unload();
  EXPECT_EQ(b->loaded(), nullptr);
  EXPECT_THAT(b->Generate(Greedy("hi")), StatusIs(StatusCode::kFailedPrecondition));
}

TEST(LlamaBackendTest, MissingFileIsNotFound) {
  auto b = MakeLlamaBackend({});
  ASSERT_OK(b);
  EXPECT_THAT((*b)->Load({.id = "x", .file = "/nonexistent/model.gguf"}, SmallOptions()),
              StatusIs(StatusCode::kNotFound));
  EXPECT_EQ((*b)->loaded(), nullptr);
}

TEST(LlamaBackendTest, GreedyOutputIsIdenticalAcrossCallsAndLoads) {
  auto a = Loaded("llama");
  ASSERT_NE(a, nullptr);
  Result<Completion> first = a->Generate(Greedy("The quick brown fox"));
  ASSERT_OK(first);
  EXPECT_EQ(first->timings.gen_tokens, 24);
  EXPECT_EQ(first->finish, FinishReason::kLength);
  EXPECT_FALSE(first->text.empty());
  // The second call reuses the cached prompt.
  Result<Completion> again = a->Generate(Greedy("The quick brown fox"));
  ASSERT_OK(again);
  EXPECT_GT(again->timings.cached_tokens, 0);
  EXPECT_EQ(again->text, first->text);
  // A fresh load gives the same text.
  auto b = Loaded("llama");
  ASSERT_NE(b, nullptr);
  Result<Completion> other = b->Generate(Greedy("The quick brown fox"));
  ASSERT_OK(other);
  EXPECT_EQ(other->text, first->text);
}

TEST(LlamaBackendTest, FixedSeedRepeatsAtAnyTemperature) {
  auto b = Loaded("qwen2");
  ASSERT_NE(b, nullptr);
  GenerateRequest r = Greedy("Once upon a time", 32);
  r.sampling.temperature = 1.0;
  r.sampling.top_k = 0;
  r.sampling.top_p = 1.0;
  r.sampling.min_p = 0;
  r.sampling.seed = 42;
  Result<Completion> x = b->Generate(r);
  Result<Completion> y = b->Generate(r);
  ASSERT_OK(x);
  ASSERT_OK(y);
  EXPECT_EQ(x->text, y->text);
  r.sampling.seed = 43;
  Result<Completion> z = b->Generate(r);
  ASSERT_OK(z);
  EXPECT_NE(z->text, x->text);  // 32 draws over 32000 tokens at temperature 1
}

TEST(LlamaBackendTest, StreamingEqualsNonStreaming) {
  auto b = Loaded("llama");
  ASSERT_NE(b, nullptr);
  Result<Completion> whole = b->Generate(Greedy("Streaming test prompt", 40));
  ASSERT_OK(whole);
  std::string streamed;
  int pieces = 0;
  Result<Completion> s = b->Stream(Greedy("Streaming test prompt", 40), [&](std::string_view p) {
    streamed += p;
    ++pieces;
    return true;
  });
  ASSERT_OK(s);
  EXPECT_EQ(streamed, whole->text);
  EXPECT_EQ(s->text, whole->text);
  EXPECT_GT(pieces, 1);
  EXPECT_GT(s->timings.ttft_us, 0);
}

TEST(LlamaBackendTest, ChatUsesTheModelsOwnTemplate) {
  auto b = Loaded("phi3");  // phi-3's vocabulary brings its own chat template
  ASSERT_NE(b, nullptr);
  ASSERT_FALSE(b->loaded()->chat_template.empty());
  const std::vector<ChatMessage> chat = {{"user", "What is two plus two?"}};
  Result<ChatTemplate> tmpl = ChatTemplate::Create(nullptr, b->loaded()->chat_template);
  ASSERT_OK(tmpl);
  Result<std::string> formatted = tmpl->Apply(chat, true);
  ASSERT_OK(formatted);
  EXPECT_THAT(*formatted, HasSubstr("<|user|>"));
  EXPECT_THAT(*formatted, HasSubstr("What is two plus two?"));
  EXPECT_THAT(*formatted, HasSubstr("<|assistant|>"));
  // The chat call reads exactly that text (special tokens parsed).
  Result<std::vector<int32_t>> tokens = b->Tokenize(*formatted, true);
  ASSERT_OK(tokens);
  GenerateRequest r = Greedy("", 8);
  Result<Completion> c = b->Chat(chat, r);
  ASSERT_OK(c);
  EXPECT_EQ(c->timings.prompt_tokens, static_cast<int>(tokens->size()));
  // <|user|> is one special token, not a run of characters.
  Result<std::vector<int32_t>> user = b->Tokenize("<|user|>", false);
  ASSERT_OK(user);
  EXPECT_THAT(*user, SizeIs(1));
}

TEST(LlamaBackendTest, ChatTemplatesAreJinjaWithChatmlAsTheDefault) {
  Result<ChatTemplate> chatml = ChatTemplate::Create(nullptr, "chatml");
  ASSERT_OK(chatml);
  Result<std::string> text = chatml->Apply({{ChatMessage{"user", "hi"}}}, true);
  ASSERT_OK(text);
  EXPECT_EQ(*text, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  // A template llama_chat_apply_template never knew: any Jinja works.
  Result<ChatTemplate> custom = ChatTemplate::Create(
      nullptr,
      "{% for m in messages %}[{{ m.role | upper }}] {{ m.content }}\n{% endfor %}"
      "{% if add_generation_prompt %}[ASSISTANT]{% endif %}");
  ASSERT_OK(custom);
  text = custom->Apply({{ChatMessage{"system", "Be brief."}, ChatMessage{"user", "hi"}}}, true);
  ASSERT_OK(text);
  EXPECT_EQ(*text, "[SYSTEM] Be brief.\n[USER] hi\n[ASSISTANT]");
  EXPECT_THAT(ChatTemplate::Create(nullptr, "{% for %}"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(chatml->Apply({{ChatMessage{"", "hi"}}}, true),
              StatusIs(StatusCode::kInvalidArgument));
  // Thinking: on by default where the template has the switch, as llama-server does.
  // (A Qwen3-style template: thinking off closes an empty think block.)
  Result<ChatTemplate> thinker = ChatTemplate::Create(
      nullptr,
      "{% for m in messages %}<|im_start|>{{ m.role }}\n"
      "{% if m.role == 'assistant' and m.reasoning_content %}<think>\n{{ m.reasoning_content }}"
      "\n</think>\n\n{% endif %}{{ m.content }}<|im_end|>\n{% endfor %}"
      "{% if add_generation_prompt %}<|im_start|>assistant\n{% if enable_thinking is defined and "
      "enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}{% endif %}");
  ASSERT_OK(thinker);
  EXPECT_TRUE(thinker->supports_thinking());
  EXPECT_EQ(*thinker->Apply({{ChatMessage{"user", "x"}}}, true),
            "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(*thinker->Apply({{ChatMessage{"user", "x"}}}, true, false),
            "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(LlamaBackendTest, ChatKeepsTheConversationInTheCache) {
  auto b = Loaded("llama");
  ASSERT_NE(b, nullptr);
  std::vector<ChatMessage> chat = {{"user", "Hello there"}};
  Result<Completion> one = b->Chat(chat, Greedy("", 8));
  ASSERT_OK(one);
  chat.push_back({"assistant", one->text});
  chat.push_back({"user", "And then?"});
  Result<Completion> two = b->Chat(chat, Greedy("", 8));
  ASSERT_OK(two);
  // The first turn is not read again.
  EXPECT_GE(two->timings.cached_tokens, one->timings.prompt_tokens - 1);
}

TEST(LlamaBackendTest, StopStringEndsTheText) {
  auto b = Loaded("llama");
  ASSERT_NE(b, nullptr);
  Result<Completion> whole = b->Generate(Greedy("Count with me", 30));
  ASSERT_OK(whole);
  ASSERT_GE(whole->text.size(), 6u);
  // Stop at a piece of the greedy output: the text ends right before it.
  const std::string stop = whole->text.substr(whole->text.size() / 2, 3);
  GenerateRequest r = Greedy("Count with me", 30);
  r.stop = {stop};
  Result<Completion> cut = b->Generate(r);
  ASSERT_OK(cut);
  EXPECT_EQ(cut->finish, FinishReason::kStopString);
  EXPECT_EQ(cut->text, whole->text.substr(0, whole->text.find(stop)));
}

TEST(LlamaBackendTest, CallbackAndFlagCancel) {
  auto b = Loaded("llama");
  ASSERT_NE(b, nullptr);
  int pieces = 0;
  Result<Completion> r =
      b->Stream(Greedy("Cancel me", 100), [&](std::string_view) { return ++pieces < 3; });
  EXPECT_THAT(r, StatusIs(StatusCode::kCancelled));
  EXPECT_EQ(pieces, 3);

  CancelFlag flag;
  GenerateRequest g = Greedy("Cancel me too", 100);
  g.cancel = &flag;
  pieces = 0;
  r = b->Stream(g, [&](std::string_view) {
    if (++pieces == 2) flag.Cancel();  // as another thread would
    return true;
  });
  EXPECT_THAT(r, StatusIs(StatusCode::kCancelled));
  EXPECT_EQ(pieces, 2);
  // The model is still usable afterwards.
  flag.Reset();
  EXPECT_OK(b->Generate(Greedy("Still there?", 4)));
}

TEST(LlamaBackendTest, LoadCanBeCancelledFromTheProgressCallback) {
  auto b = MakeLlamaBackend({});
  ASSERT_OK(b);
  LoadOptions o = SmallOptions();
  bool called = false;
  o.progress = [&](float) {
    called = true;
    return false;
  };
  EXPECT_THAT((*b)->Load({.id = "llama", .file = fit::testing::TinyModel("llama")}, o),
              StatusIs(StatusCode::kCancelled));
  EXPECT_TRUE(called);
  EXPECT_EQ((*b)->loaded(), nullptr);
  CancelFlag flag;
  flag.Cancel();
  o.progress = nullptr;
  o.cancel = &flag;
  EXPECT_THAT((*b)->Load({.id = "llama", .file = fit::testing::TinyModel("llama")}, o),
              StatusIs(StatusCode::kCancelled));
}

TEST(LlamaBackendTest, PromptLongerThanTheContextIsResourceExhausted) {
  LoadOptions o = SmallOptions();
  o.n_ctx = 256;
  auto b = Loaded("llama", o);
  ASSERT_NE(b, nullptr);
  std::string prompt;
  for (int i = 0; i < 300; ++i) prompt += "word ";
  Result<Completion> r = b->Generate(Greedy(prompt));
  EXPECT_THAT(r, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(r.status().message(), HasSubstr("--ctx"));
  // Generation stops when the context is full.
  std::string medium;
  for (int i = 0; i < 120; ++i) medium += "word ";
  Result<Completion> full = b->Generate(Greedy(medium, 1000));
  ASSERT_OK(full);
  EXPECT_EQ(full->finish, FinishReason::kLength);
  EXPECT_LE(full->timings.prompt_tokens + full->timings.gen_tokens, 257);
}

TEST(LlamaBackendTest, MemoryGuardRefusesWithTheNumbersUnlessForced) {
  HardwareInfo tiny;
  tiny.memory.total = 64 * kMiB;
  tiny.memory.available = 2 * kMiB;
  tiny.cpu.physical_cores = 2;
  BackendContext context;
  context.hardware = &tiny;
  auto b = MakeLlamaBackend(context);
  ASSERT_OK(b);
  const ModelTarget target{.id = "llama", .file = fit::testing::TinyModel("llama")};
  Status s = (*b)->Load(target, SmallOptions());
  EXPECT_THAT(s, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(s.message(), HasSubstr("of RAM"));
  EXPECT_THAT(s.message(), HasSubstr("2.10 MB available"));
  LoadOptions forced = SmallOptions();
  forced.force = true;
  std::vector<LoadEvent> events;
  forced.on_event = [&](const LoadEvent& e) { events.push_back(e); };
  ASSERT_OK((*b)->Load(target, forced));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, LoadEvent::Kind::kSettings);
  EXPECT_EQ(events[0].message, "GPU layers: 0: no GPU on this machine");
  EXPECT_EQ(events[1].kind, LoadEvent::Kind::kGuard);
  EXPECT_THAT(events[1].message, HasSubstr("(--force)"));
}

TEST(LlamaBackendTest, EmbeddingsHaveTheModelWidthAndUnitNorm) {
  auto b = Loaded("llama");
  ASSERT_NE(b, nullptr);
  const std::vector<std::string> texts = {"a red apple", "the stock market fell", "a green apple"};
  Result<Embeddings> batch = b->Embed(texts, {});
  ASSERT_OK(batch);
  ASSERT_THAT(batch->vectors, SizeIs(3));
  for (const auto& v : batch->vectors) {
    EXPECT_THAT(v, SizeIs(128));
    EXPECT_NEAR(Norm(v), 1.0, 1e-4);
  }
  // One at a time gives the same vectors as the packed batch.
  for (size_t i = 0; i < texts.size(); ++i) {
    Result<Embeddings> one = b->Embed(std::span(&texts[i], 1), {});
    ASSERT_OK(one);
    ASSERT_THAT(one->vectors, SizeIs(1));
    for (size_t k = 0; k < 128; ++k) {
      EXPECT_NEAR(one->vectors[0][k], batch->vectors[i][k], 2e-3) << i << ":" << k;
    }
  }
  EXPECT_NE(batch->vectors[0], batch->vectors[1]);
  // Without normalisation the norm is the model's own; other poolings differ.
  Result<Embeddings> raw = b->Embed(std::span(texts.data(), 1), {.normalize = false});
  ASSERT_OK(raw);
  EXPECT_GT(std::abs(Norm(raw->vectors[0]) - 1.0), 1e-3);
  Result<Embeddings> last = b->Embed(std::span(texts.data(), 1), {.pooling = Pooling::kLast});
  ASSERT_OK(last);
  EXPECT_NE(last->vectors[0], batch->vectors[0]);
  EXPECT_THAT(b->Embed(std::vector<std::string>{""}, {}), StatusIs(StatusCode::kInvalidArgument));
  // Generation still works after embeddings.
  EXPECT_OK(b->Generate(Greedy("after embeddings", 4)));
}

TEST(LlamaBackendTest, TokenizeAndCount) {
  auto b = Loaded("llama");
  ASSERT_NE(b, nullptr);
  Result<std::vector<int32_t>> with_bos = b->Tokenize("Hello world", true);
  Result<std::vector<int32_t>> plain = b->Tokenize("Hello world", false);
  ASSERT_OK(with_bos);
  ASSERT_OK(plain);
  EXPECT_EQ(with_bos->size(), plain->size() + 1);
  EXPECT_EQ(with_bos->front(), 1);  // llama-spm's BOS
  Result<size_t> n = b->CountTokens("Hello world");
  ASSERT_OK(n);
  EXPECT_EQ(*n, plain->size());
}

TEST(LlamaBackendTest, BenchMeasuresBothPhases) {
  auto b = Loaded("llama");
  ASSERT_NE(b, nullptr);
  Result<BenchResult> r = b->Bench({.n_prompt = 64, .n_gen = 8, .repetitions = 2});
  ASSERT_OK(r);
  EXPECT_THAT(r->prompt_samples, SizeIs(2));
  EXPECT_THAT(r->gen_samples, SizeIs(2));
  EXPECT_GT(r->prompt_tokens_per_second, 0);
  EXPECT_GT(r->gen_tokens_per_second, 0);
  EXPECT_THAT(b->Bench({.n_prompt = 4096, .n_gen = 8, .repetitions = 1}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_OK(b->Generate(Greedy("after the bench", 4)));
}

TEST(LlamaBackendTest, BadSamplingIsInvalidArgument) {
  auto b = Loaded("llama");
  ASSERT_NE(b, nullptr);
  GenerateRequest r = Greedy("x");
  r.sampling.temperature = 3;
  EXPECT_THAT(b->Generate(r), StatusIs(StatusCode::kInvalidArgument));
  r = Greedy("x");
  r.max_tokens = 0;
  EXPECT_THAT(b->Generate(r), StatusIs(StatusCode::kInvalidArgument));
}

TEST(BackendRegistryTest, DefaultIsLlamaAndUnknownNamesAreNotFound) {
  const BackendRegistry& r = DefaultRegistry();
  auto d = r.Create("", {});
  ASSERT_OK(d);
  EXPECT_EQ((*d)->name(), "llama");
  auto unknown = r.Create("vllm", {});
  EXPECT_THAT(unknown, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(unknown.status().message(), HasSubstr("llama"));
}

}  // namespace
}  // namespace hangar::runtime

namespace hangar::runtime {
namespace {

// Real out-of-memory recovery: in a child process whose address space is
// capped, a context too large to allocate makes llama.cpp fail, and the
// ladder retries with smaller contexts until one fits.
TEST(LlamaRecoveryTest, SmallerContextAfterARealAllocationFailure) {
  const std::filesystem::path model = fit::testing::TinyModel("llama");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    // Room for what the process holds now plus 160 MiB: the weights (8 MiB)
    // and a modest context fit, 262144 tokens of context do not.
    rlimit limit{};
    std::ifstream status("/proc/self/status");
    std::string line;
    uint64_t vm = 0;
    while (std::getline(status, line)) {
      if (line.rfind("VmSize:", 0) == 0) vm = std::stoull(line.substr(7)) * 1024;
    }
    limit.rlim_cur = limit.rlim_max = vm + 160 * kMiB;
    ::setrlimit(RLIMIT_AS, &limit);
    auto backend = MakeLlamaBackend({});
    LoadOptions o;
    o.n_ctx = 262144;
    o.n_batch = 512;
    o.threads = 1;
    o.warmup = false;
    std::string report;
    o.on_event = [&](const LoadEvent& e) { report += e.message + "\n"; };
    Status s = (*backend)->Load({.id = "tiny", .file = model}, o);
    report = (s.ok() ? "ok " + std::to_string((*backend)->loaded()->n_ctx) : s.ToString()) + "\n" +
             report;
    ssize_t ignored = ::write(fds[1], report.data(), report.size());
    (void)ignored;
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  ASSERT_THAT(out, ::testing::StartsWith("ok ")) << out;
  const uint32_t got = static_cast<uint32_t>(std::stoul(out.substr(3)));
  EXPECT_LT(got, 262144u) << out;
  EXPECT_GE(got, kMinRecoveryContext) << out;
  EXPECT_THAT(out, HasSubstr("out of memory with CPU only, context 262144: retrying with CPU only, "
                             "context 131072"))
      << out;
}

}  // namespace
}  // namespace hangar::runtime

namespace hangar::runtime {
namespace {

HardwareInfo WithGpu(uint64_t vram) {
  HardwareInfo hw;
  hw.cpu.physical_cores = 8;
  hw.memory.total = hw.memory.usable = hw.memory.available = 32 * kGB;
  GpuInfo g;
  g.vendor = "nvidia";
  g.name = "NVIDIA GeForce RTX 4090";
  g.vram_total = vram;
  g.vram_free = vram;
  hw.gpus.push_back(g);
  return hw;
}

TEST(ChooseGpuLayersTest, PlannerRequestAndFallbacks) {
  Result<fit::ModelFacts> facts = fit::FactsFromSummary(fit::testing::TinySummary("llama"));
  ASSERT_OK(facts);
  fit::MemoryRequest request;
  request.n_ctx = 4096;
  const Limits limits;
  const HardwareInfo big = WithGpu(24 * kGB);
  const HardwareInfo none;

  // A GPU with room for everything: every layer.
  Result<GpuLayerChoice> all = ChooseGpuLayers(*facts, request, std::nullopt, &big, limits, true);
  ASSERT_OK(all);
  EXPECT_TRUE(all->offload);
  EXPECT_EQ(all->n_gpu_layers, 3);  // 2 blocks and the output layer: all of them
  EXPECT_THAT(all->reason, HasSubstr("planned for this machine"));
  // A GPU too small for the output layer (the 32000 x 128 vocabulary matrix):
  // fewer layers.
  const HardwareInfo small = WithGpu(10 * kMiB);
  Result<GpuLayerChoice> some =
      ChooseGpuLayers(*facts, request, std::nullopt, &small, limits, true);
  ASSERT_OK(some);
  EXPECT_GE(some->n_gpu_layers, 0);
  EXPECT_LT(some->n_gpu_layers, 3);
  // Asked for: as asked, when a GPU can take them.
  Result<GpuLayerChoice> asked = ChooseGpuLayers(*facts, request, 1, &big, limits, true);
  ASSERT_OK(asked);
  EXPECT_EQ(asked->n_gpu_layers, 1);
  // No GPU, or a CPU-only build: none, saying why.
  Result<GpuLayerChoice> cpu = ChooseGpuLayers(*facts, request, std::nullopt, &none, limits, true);
  ASSERT_OK(cpu);
  EXPECT_EQ(cpu->n_gpu_layers, 0);
  EXPECT_THAT(cpu->reason, HasSubstr("no GPU on this machine"));
  Result<GpuLayerChoice> build = ChooseGpuLayers(*facts, request, -1, &big, limits, false);
  ASSERT_OK(build);
  EXPECT_EQ(build->n_gpu_layers, 0);
  EXPECT_THAT(build->reason, HasSubstr("no GPU backend"));
}

}  // namespace
}  // namespace hangar::runtime
