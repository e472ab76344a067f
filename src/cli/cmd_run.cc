// hangar run | hangar embed | hangar bench
//
// run: one prompt (the arguments, or stdin when it is a pipe) streamed to
// stdout; with no prompt on a terminal (or --chat), an interactive chat that
// keeps the conversation and understands /help, /clear, /bye, /set, /show,
// /use. Ctrl-C stops the answer being written; at the chat's prompt it
// leaves the chat (the interrupted read ends the input).
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "config/value_rules.h"
#include "core/strings.h"
#include "core/units.h"

namespace hangar::cli {
namespace {

// Ctrl-C: the running request's flag.
runtime::CancelFlag g_cancel;

void OnSigint(int) { g_cancel.Cancel(); }

// Installs OnSigint for its lifetime.
class ScopedSigint {
 public:
  ScopedSigint() {
    struct sigaction sa = {};
    sa.sa_handler = OnSigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &previous_);
  }
  ~ScopedSigint() { sigaction(SIGINT, &previous_, nullptr); }

 private:
  struct sigaction previous_ = {};
};

struct RunFlags {
  std::string model;
  std::vector<std::string> prompt;
  std::string backend;
  std::string profile;
  std::string system;
  std::optional<double> temperature, top_p, min_p, repeat_penalty;
  std::optional<int> top_k, max_tokens, threads;
  std::optional<uint32_t> seed, ctx, batch, ubatch;
  std::string ngl = "auto";
  std::string fa;
  std::string kv_type;
  bool no_mmap = false;
  bool mlock = false;
  bool force = false;
  bool no_warmup = false;
  bool raw = false;
  bool chat = false;
  bool stats = false;
  bool ignore_eos = false;
  std::vector<std::string> stop;
};

void AddModelFlags(CLI::App& sub, RunFlags& f) {
  sub.add_option("--backend", f.backend, "llama (in-process, default), ollama or openai");
  sub.add_option("--ctx", f.ctx, "Context in tokens (default: by RAM, capped by the model's)");
  sub.add_option("--threads", f.threads, "CPU threads (default: physical cores)");
  sub.add_option("--ngl", f.ngl, "GPU layers: a number, -1 for all, or auto (the fit planner)");
  sub.add_option("--batch", f.batch, "Logical batch size");
  sub.add_option("--ubatch", f.ubatch, "Physical batch size");
  sub.add_option("--fa", f.fa, "Flash attention: on, off or auto");
  sub.add_option("--kv-type", f.kv_type, "KV cache type: f16, q8_0, q4_0, ...");
  sub.add_flag("--no-mmap", f.no_mmap, "Read the weights into memory instead of mapping the file");
  sub.add_flag("--mlock", f.mlock, "Keep the weights in RAM (no swapping)");
  sub.add_flag("--force", f.force, "Load even when the model is predicted not to fit in memory");
  sub.add_flag("--no-warmup", f.no_warmup, "Skip the warm-up decode after loading");
}

// The help line of a value's rule (config/value_rules.h).
std::string Help(std::string_view key) { return std::string(FindValueRule(key)->help); }

void AddSamplingFlags(CLI::App& sub, RunFlags& f) {
  sub.add_option("--profile", f.profile, "Performance profile for sampling (hangar profile list)");
  sub.add_option("--temperature", f.temperature, Help("temperature"));
  sub.add_option("--top-p", f.top_p, Help("top_p"));
  sub.add_option("--top-k", f.top_k, Help("top_k"));
  sub.add_option("--min-p", f.min_p, Help("min_p"));
  sub.add_option("--repeat-penalty", f.repeat_penalty, Help("repeat_penalty"));
  sub.add_option("--seed", f.seed, Help("seed"));
  sub.add_option("--max-tokens", f.max_tokens, Help("max_tokens"));
  sub.add_option("--stop", f.stop, "End the answer before this text (repeatable)");
  sub.add_flag("--ignore-eos", f.ignore_eos, "Keep generating past end-of-text tokens");
}

// The query `f` describes; a usage error message when a flag is malformed.
Result<app::RunQuery> QueryFrom(const RunFlags& f) {
  app::RunQuery q;
  q.model = f.model;
  q.backend = f.backend;
  if (!f.profile.empty()) q.profile = f.profile;
  q.sampling.temperature = f.temperature;
  q.sampling.top_p = f.top_p;
  q.sampling.top_k = f.top_k;
  q.sampling.min_p = f.min_p;
  q.sampling.repeat_penalty = f.repeat_penalty;
  q.sampling.seed = f.seed;
  q.sampling.max_tokens = f.max_tokens;
  q.load.ctx = f.ctx;
  q.load.threads = f.threads;
  q.load.n_batch = f.batch;
  q.load.n_ubatch = f.ubatch;
  if (!f.fa.empty()) q.load.flash_attn = f.fa;
  if (!f.kv_type.empty()) q.load.kv_type = f.kv_type;
  if (f.no_mmap) q.load.mmap = false;
  if (f.mlock) q.load.mlock = true;
  q.load.force = f.force;
  q.load.no_warmup = f.no_warmup;
  if (f.ngl != "auto") {
    try {
      size_t used = 0;
      q.load.n_gpu_layers = std::stoi(f.ngl, &used);
      if (used != f.ngl.size()) throw std::invalid_argument(f.ngl);
    } catch (...) {
      return InvalidArgumentError("--ngl: expected a number of layers, -1 (all) or auto, got " +
                                  f.ngl);
    }
  }
  return q;
}

// Load progress and recovery steps on stderr.
void WireLoadReporting(Context& ctx, runtime::ModelSpec& spec) {
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  std::ostream* err = ctx.err;
  spec.load.on_event = [err](const runtime::LoadEvent& e) {
    if (e.kind != runtime::LoadEvent::Kind::kSettings) *err << "hangar: " << e.message << '\n';
  };
  spec.load.cancel = &g_cancel;
  if (tty) {
    auto last = std::make_shared<int>(-1);
    std::string id = spec.target.id;
    spec.load.progress = [err, last, id](float p) {
      const int pct = static_cast<int>(p * 100);
      if (pct / 10 != *last / 10 || pct == 100) {
        *err << "\rloading " << id << " " << pct << "%" << (pct == 100 ? "\r\033[K" : "")
             << std::flush;
        *last = pct;
      }
      return true;
    };
  }
}

std::string Stats(const runtime::Timings& t) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "prompt %d tokens (%d cached) in %.0f ms, %.1f tokens/s; generated %d tokens in "
                "%.0f ms, %.1f tokens/s; first token after %.0f ms",
                t.prompt_tokens, t.cached_tokens, t.prompt_us / 1000.0, t.PromptTokensPerSecond(),
                t.gen_tokens, t.gen_us / 1000.0, t.GenTokensPerSecond(), t.ttft_us / 1000.0);
  return buf;
}

// Writes each piece to stdout at once.
runtime::TokenCallback StdoutPieces() {
  return [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  };
}

struct ChatState {
  std::vector<runtime::ChatMessage> history;
  std::string system;
  runtime::GenerateRequest request;
  std::optional<runtime::Timings> last;
};

const char kChatHelp[] =
    "Commands:\n"
    "  /help               this list\n"
    "  /clear              forget the conversation\n"
    "  /set KEY VALUE      temperature, top_p, top_k, min_p, repeat_penalty, seed, max_tokens,\n"
    "                      system (the system prompt)\n"
    "  /show               the model and the settings\n"
    "  /stats              timings of the last answer\n"
    "  /use MODEL          switch to another model (the current one is unloaded)\n"
    "  /bye                leave (also /exit, /quit, Ctrl-D)\n";

// Applies "/set KEY VALUE" (the ranges of config/value_rules.h); the
// message to show.
std::string SetValue(ChatState& s, const std::string& key, const std::string& value) {
  if (key == "system") {
    s.system = value;
    return value.empty() ? "system prompt cleared" : "system prompt set";
  }
  const ValueRule* rule = FindValueRule(key);
  const auto sampling = SamplingRules();
  if (rule == nullptr || rule < sampling.data() || rule >= sampling.data() + sampling.size()) {
    return "cannot set '" + key + "' to '" + value + "' (/help lists the keys)";
  }
  Result<double> v = ParseValue(key, value);
  if (!v.ok()) return "cannot set '" + key + "' to '" + value + "': " + v.status().message();
  runtime::SamplingParams& p = s.request.sampling;
  const std::string_view k = rule->key;
  if (k == "temperature") p.temperature = *v;
  if (k == "top_p") p.top_p = *v;
  if (k == "top_k") p.top_k = static_cast<int>(*v);
  if (k == "min_p") p.min_p = *v;
  if (k == "repeat_penalty") p.repeat_penalty = *v;
  if (k == "seed") p.seed = static_cast<uint32_t>(*v);
  if (k == "max_tokens") s.request.max_tokens = static_cast<int>(*v);
  return std::string(k) + " = " + value;
}

void ChatLoop(Context& ctx, app::RunPlan plan, runtime::SessionManager& session,
              const RunFlags& f) {
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  ChatState s;
  s.system = f.system;
  s.request = plan.request;
  s.request.stop = f.stop;
  s.request.ignore_eos = f.ignore_eos;
  s.request.cancel = &g_cancel;
  std::string model = plan.spec.target.id;
  // After [runtime] idle_ttl without a question the model is unloaded; the
  // next question loads it again.
  session.StartIdleReaper(1000);
  if (tty) *ctx.out << "Chatting with " << model << ". /help for commands, /bye to leave.\n";
  std::string line;
  while (true) {
    if (tty) *ctx.out << ">>> " << std::flush;
    if (!std::getline(std::cin, line)) {
      if (tty) *ctx.out << '\n';
      break;
    }
    if (line.empty()) continue;
    if (line[0] == '/') {
      std::istringstream words(line);
      std::string cmd, key;
      words >> cmd;
      if (cmd == "/bye" || cmd == "/exit" || cmd == "/quit") break;
      if (cmd == "/help" || cmd == "/?") {
        *ctx.out << kChatHelp;
      } else if (cmd == "/clear") {
        s.history.clear();
        *ctx.out << "conversation cleared\n";
      } else if (cmd == "/set") {
        words >> key;
        std::string value;
        std::getline(words, value);
        value.erase(0, value.find_first_not_of(' '));
        *ctx.out << SetValue(s, key, value) << '\n';
      } else if (cmd == "/show") {
        const auto& p = s.request.sampling;
        auto loaded = session.loaded();
        *ctx.out << "model " << model << " (" << plan.spec.backend << ", "
                 << (loaded ? "loaded, context " + std::to_string(loaded->n_ctx) : "not loaded")
                 << ")\nprofile " << plan.profile << ": temperature " << p.temperature << ", top_p "
                 << p.top_p << ", top_k " << p.top_k << ", min_p " << p.min_p << ", repeat_penalty "
                 << p.repeat_penalty << ", seed " << p.seed << ", max_tokens "
                 << s.request.max_tokens << "\n"
                 << s.history.size() << " messages in the conversation\n";
      } else if (cmd == "/stats") {
        *ctx.out << (s.last ? Stats(*s.last) : std::string("no answer yet")) << '\n';
      } else if (cmd == "/use") {
        words >> key;
        if (key.empty()) {
          *ctx.out << "/use MODEL: name the model\n";
          continue;
        }
        app::RunQuery q;
        q.model = key;
        q.backend = plan.spec.backend;
        auto next = ctx.app().runs().PlanRun(q);
        if (!next.ok()) {
          *ctx.out << "cannot use " << key << ": " << next.status().message() << '\n';
          continue;
        }
        WireLoadReporting(ctx, next->spec);
        if (Status st = session.Use(next->spec); !st.ok()) {
          *ctx.out << "cannot use " << key << ": " << st.message() << '\n';
          continue;
        }
        plan = *next;
        model = plan.spec.target.id;
        s.history.clear();
        *ctx.out << "now using " << model << " (the conversation starts afresh)\n";
      } else {
        *ctx.out << "unknown command " << cmd << " (/help lists them)\n";
      }
      continue;
    }
    std::vector<runtime::ChatMessage> messages;
    if (!s.system.empty()) messages.push_back({"system", s.system});
    messages.insert(messages.end(), s.history.begin(), s.history.end());
    messages.push_back({"user", line});
    g_cancel.Reset();
    auto answer = session.Chat(messages, s.request, StdoutPieces());
    *ctx.out << '\n' << std::flush;
    if (!answer.ok()) {
      if (answer.status().code() == StatusCode::kCancelled) {
        *ctx.out << "(stopped)\n";
        continue;
      }
      *ctx.err << "hangar: error: " << answer.status().message() << '\n';
      if (!tty) ctx.exit_code = kExitFailure;
      continue;
    }
    s.history.push_back({"user", line});
    s.history.push_back({"assistant", answer->text});
    s.last = answer->timings;
    if (f.stats) *ctx.err << Stats(answer->timings) << '\n';
  }
}

void RunRun(Context& ctx, const RunFlags& f) {
  auto q = QueryFrom(f);
  if (!q.ok()) return ctx.UsageError(q.status().message());
  auto plan = ctx.app().runs().PlanRun(*q);
  if (!plan.ok()) return ctx.Fail(plan.status());
  WireLoadReporting(ctx, plan->spec);
  auto session = ctx.app().runs().OpenSession(*plan);
  if (!session.ok()) return ctx.Fail(session.status());
  ScopedSigint sigint;
  g_cancel.Reset();

  std::string prompt;
  for (const std::string& p : f.prompt) prompt += (prompt.empty() ? "" : " ") + p;
  const bool stdin_tty = ::isatty(STDIN_FILENO) == 1;
  if (f.chat || (prompt.empty() && stdin_tty)) {
    if (ctx.json) return ctx.UsageError("--json needs a prompt (an argument or stdin)");
    return ChatLoop(ctx, *plan, **session, f);
  }
  if (prompt.empty()) {
    prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    while (!prompt.empty() && (prompt.back() == '\n' || prompt.back() == '\r')) prompt.pop_back();
  }
  if (prompt.empty()) return ctx.UsageError("run: the prompt is empty");

  runtime::GenerateRequest request = plan->request;
  request.stop = f.stop;
  request.ignore_eos = f.ignore_eos;
  request.cancel = &g_cancel;
  runtime::TokenCallback pieces = ctx.json ? runtime::TokenCallback() : StdoutPieces();
  Result<runtime::Completion> c = [&]() -> Result<runtime::Completion> {
    if (f.raw) {
      request.prompt = prompt;
      return (*session)->Generate(request, pieces);
    }
    std::vector<runtime::ChatMessage> messages;
    if (!f.system.empty()) messages.push_back({"system", f.system});
    messages.push_back({"user", prompt});
    return (*session)->Chat(messages, request, pieces);
  }();
  if (!ctx.json) std::fputs("\n", stdout);
  std::fflush(stdout);
  if (!c.ok()) return ctx.Fail(c.status());
  auto loaded = (*session)->loaded();
  if (ctx.json) {
    nlohmann::json j = {{"model", plan->spec.target.id},
                        {"backend", plan->spec.backend},
                        {"profile", plan->profile},
                        {"text", c->text},
                        {"finish", std::string(runtime::FinishReasonName(c->finish))},
                        {"timings", runtime::ToJson(c->timings)}};
    if (loaded) j["load"] = runtime::ToJson(*loaded);
    ctx.PrintJson(j);
  }
  if (f.stats) {
    *ctx.err << Stats(c->timings);
    if (loaded) *ctx.err << "; loaded in " << loaded->load_us / 1000 << " ms";
    *ctx.err << '\n';
  }
}

struct EmbedFlags {
  RunFlags run;
  std::vector<std::string> texts;
  std::string file;
  std::string pooling = "model";
  bool no_normalize = false;
};

void RunEmbed(Context& ctx, const EmbedFlags& f) {
  auto q = QueryFrom(f.run);
  if (!q.ok()) return ctx.UsageError(q.status().message());
  app::EmbedQuery eq;
  eq.run = *q;
  eq.texts = f.texts;
  if (!f.file.empty()) {
    std::ifstream in(f.file);
    if (!in) return ctx.Fail(NotFoundError("cannot read " + f.file));
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) eq.texts.push_back(line);
    }
  }
  if (eq.texts.empty()) return ctx.UsageError("embed: give TEXT arguments or --file");
  auto pooling = runtime::ParsePooling(f.pooling);
  if (!pooling.ok()) return ctx.UsageError("--pooling: " + pooling.status().message());
  eq.options.pooling = *pooling;
  eq.options.normalize = !f.no_normalize;
  auto r = ctx.app().runs().Embed(eq);
  if (!r.ok()) return ctx.Fail(r.status());
  const auto& vectors = r->embeddings.vectors;
  const size_t dims = vectors.empty() ? 0 : vectors.front().size();
  if (ctx.json) {
    nlohmann::json items = nlohmann::json::array();
    for (size_t i = 0; i < vectors.size(); ++i) {
      items.push_back({{"index", i}, {"text", eq.texts[i]}, {"embedding", vectors[i]}});
    }
    return ctx.PrintJson({{"model", r->model},
                          {"dimensions", dims},
                          {"pooling", std::string(runtime::PoolingName(eq.options.pooling))},
                          {"normalized", eq.options.normalize},
                          {"prompt_tokens", r->embeddings.prompt_tokens},
                          {"data", items}});
  }
  Table t({"#", "DIMS", "NORM", "FIRST VALUES", "TEXT"},
          {Table::Align::kRight, Table::Align::kRight, Table::Align::kRight});
  for (size_t i = 0; i < vectors.size(); ++i) {
    double norm = 0;
    for (float x : vectors[i]) norm += static_cast<double>(x) * x;
    std::string head;
    for (size_t k = 0; k < std::min<size_t>(4, vectors[i].size()); ++k) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%s%.4f", k ? " " : "", vectors[i][k]);
      head += buf;
    }
    char nbuf[32];
    std::snprintf(nbuf, sizeof nbuf, "%.4f", std::sqrt(norm));
    std::string text = eq.texts[i].size() > 40 ? eq.texts[i].substr(0, 37) + "..." : eq.texts[i];
    t.AddRow({std::to_string(i + 1), std::to_string(vectors[i].size()), nbuf, head + " ...", text});
  }
  ctx.Print(t.Render(ctx.style));
}

struct BenchFlags {
  RunFlags run;
  int n_prompt = 512;
  int n_gen = 128;
  int reps = 5;
};

void RunBench(Context& ctx, const BenchFlags& f) {
  auto q = QueryFrom(f.run);
  if (!q.ok()) return ctx.UsageError(q.status().message());
  app::BenchQuery bq;
  bq.run = *q;
  bq.request.n_prompt = f.n_prompt;
  bq.request.n_gen = f.n_gen;
  bq.request.repetitions = f.reps;
  bq.request.cancel = &g_cancel;
  ScopedSigint sigint;
  g_cancel.Reset();
  auto r = ctx.app().runs().Bench(bq);
  if (!r.ok()) return ctx.Fail(r.status());
  const runtime::BenchResult& b = r->result;
  if (ctx.json) {
    return ctx.PrintJson({{"model", r->model.target.id},
                          {"backend", r->model.backend},
                          {"threads", r->model.threads},
                          {"n_ctx", r->model.n_ctx},
                          {"n_gpu_layers", r->model.n_gpu_layers},
                          {"load_ms", r->model.load_us / 1000.0},
                          {"n_prompt", f.n_prompt},
                          {"n_gen", f.n_gen},
                          {"repetitions", f.reps},
                          {"prompt_tokens_per_second", b.prompt_tokens_per_second},
                          {"prompt_stddev", b.prompt_stddev},
                          {"gen_tokens_per_second", b.gen_tokens_per_second},
                          {"gen_stddev", b.gen_stddev},
                          {"prompt_samples", b.prompt_samples},
                          {"gen_samples", b.gen_samples}});
  }
  char pp[64], tg[64], load[64];
  std::snprintf(pp, sizeof pp, "%.2f ± %.2f", b.prompt_tokens_per_second, b.prompt_stddev);
  std::snprintf(tg, sizeof tg, "%.2f ± %.2f", b.gen_tokens_per_second, b.gen_stddev);
  std::snprintf(load, sizeof load, "%.0f ms", r->model.load_us / 1000.0);
  ctx.Print(RenderKeyValues(
      {{"Model", r->model.target.id},
       {"Backend", r->model.backend},
       {"Threads", std::to_string(r->model.threads)},
       {"GPU layers", std::to_string(r->model.n_gpu_layers)},
       {"Load time", load},
       {"Prompt (pp" + std::to_string(f.n_prompt) + ")", std::string(pp) + " tokens/s"},
       {"Generation (tg" + std::to_string(f.n_gen) + ")", std::string(tg) + " tokens/s"}},
      ctx.style));
}

}  // namespace

void AddRun(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<RunFlags>();
  sub.add_option("MODEL", f->model,
                 "A catalog id, an installed model or a GGUF file (default: the current model, "
                 "else the default model)");
  sub.add_option("PROMPT", f->prompt, "The prompt (default: stdin when it is a pipe, else a chat)");
  AddSamplingFlags(sub, *f);
  sub.add_option("--system", f->system, "System prompt");
  sub.add_flag("--raw", f->raw, "Complete the prompt as it is, without the chat template");
  sub.add_flag("--chat", f->chat, "Interactive chat reading lines from stdin, terminal or not");
  sub.add_flag("--stats", f->stats, "Timings on stderr after the answer");
  AddModelFlags(sub, *f);
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunRun(ctx, *f); });
}

void AddEmbed(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<EmbedFlags>();
  sub.add_option("MODEL", f->run.model, "A catalog id, an installed preset or a GGUF file")
      ->required();
  sub.add_option("TEXT", f->texts, "Texts to embed (one vector each)");
  sub.add_option("--file", f->file, "Embed each non-empty line of this file");
  sub.add_option("--pooling", f->pooling, "model (the model's own, else mean), mean, cls or last");
  sub.add_flag("--no-normalize", f->no_normalize, "Keep the raw vectors (default: L2 norm 1)");
  AddModelFlags(sub, f->run);
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunEmbed(ctx, *f); });
}

void AddBench(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<BenchFlags>();
  sub.add_option("MODEL", f->run.model, "A catalog id, an installed preset or a GGUF file")
      ->required();
  sub.add_option("--prompt-tokens,-p", f->n_prompt, "Prompt tokens per run (default 512)");
  sub.add_option("--gen-tokens,-n", f->n_gen, "Generated tokens per run (default 128)");
  sub.add_option("--reps,-r", f->reps, "Repetitions (default 5)");
  AddModelFlags(sub, f->run);
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] { RunBench(ctx, *f); });
}

}  // namespace hangar::cli
