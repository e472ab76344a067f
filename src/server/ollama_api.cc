// Ollama's API (/api/*) over the runners: requests are translated to
// llama-server's OpenAI-compatible endpoints, answers back to Ollama's
// NDJSON, field names and units (durations in nanoseconds).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/log.h"
#include "core/units.h"
#include "runtime/chat_template.h"
#include "server/runner_call.h"
#include "server/server_internal.h"

namespace hangar::server {
namespace {

constexpr std::string_view kNdjson = "application/x-ndjson";

// The generation settings Ollama's "options" give, as llama-server's
// request fields; the profile's values where the client gives none.
void ApplyOptions(const Json& options, const runtime::SamplingParams& profile, Json& out) {
  out["temperature"] = profile.temperature;
  out["top_p"] = profile.top_p;
  out["top_k"] = profile.top_k;
  out["min_p"] = profile.min_p;
  out["repeat_penalty"] = profile.repeat_penalty;
  if (!options.is_object()) return;
  static const std::pair<const char*, const char*> kSame[] = {
      {"temperature", "temperature"},
      {"top_p", "top_p"},
      {"top_k", "top_k"},
      {"min_p", "min_p"},
      {"typical_p", "typical_p"},
      {"seed", "seed"},
      {"stop", "stop"},
      {"repeat_penalty", "repeat_penalty"},
      {"repeat_last_n", "repeat_last_n"},
      {"presence_penalty", "presence_penalty"},
      {"frequency_penalty", "frequency_penalty"},
      {"num_keep", "n_keep"},
  };
  for (const auto& [from, to] : kSame) {
    if (auto it = options.find(from); it != options.end() && !it->is_null()) out[to] = *it;
  }
  if (auto it = options.find("num_predict");
      it != options.end() && it->is_number_integer() && it->get<int64_t>() >= 0) {
    out["max_tokens"] = *it;
  }
}

// Ollama's "format": "json" or a JSON schema.
Status ApplyFormat(const Json& format, Json& out) {
  if (format.is_null()) return Status::Ok();
  if (format.is_string()) {
    if (format.get<std::string>() == "json") {
      out["response_format"] = {{"type", "json_object"}};
      return Status::Ok();
    }
    if (format.get<std::string>().empty()) return Status::Ok();
    return InvalidArgumentError(fmt::format("format must be \"json\" or a JSON schema, not \"{}\"",
                                            format.get<std::string>()));
  }
  if (!format.is_object()) return InvalidArgumentError("format must be \"json\" or a JSON schema");
  out["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"schema", format}}}};
  return Status::Ok();
}

std::string ImageMime(std::string_view b64) {
  if (b64.rfind("/9j/", 0) == 0) return "image/jpeg";
  if (b64.rfind("R0lG", 0) == 0) return "image/gif";
  if (b64.rfind("UklG", 0) == 0) return "image/webp";
  return "image/png";
}

// Ollama's messages as OpenAI's (tool-call arguments as strings, images as
// data URLs). Counts the images.
Result<Json> ConvertMessages(const Json& messages, int* images) {
  if (!messages.is_array()) return InvalidArgumentError("messages must be an array");
  Json out = Json::array();
  for (const Json& m : messages) {
    if (!m.is_object()) return InvalidArgumentError("each message must be an object");
    Json o;
    std::string role = m.value("role", "");
    std::transform(role.begin(), role.end(), role.begin(), ::tolower);
    if (role.empty()) return InvalidArgumentError("a message has no role");
    o["role"] = role;
    std::string content =
        m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "";
    if (auto im = m.find("images"); im != m.end() && im->is_array() && !im->empty()) {
      Json parts = Json::array();
      if (!content.empty()) parts.push_back({{"type", "text"}, {"text", content}});
      for (const Json& img : *im) {
        if (!img.is_string()) return InvalidArgumentError("images must be base64 strings");
        std::string b64 = img.get<std::string>();
        parts.push_back({{"type", "image_url"},
                         {"image_url", {{"url", "data:" + ImageMime(b64) + ";base64," + b64}}}});
        ++*images;
      }
      o["content"] = parts;
    } else {
      o["content"] = content;
    }
    if (auto th = m.find("thinking");
        th != m.end() && th->is_string() && !th->get<std::string>().empty()) {
      o["reasoning_content"] = *th;
    }
    if (auto tc = m.find("tool_calls"); tc != m.end() && tc->is_array()) {
      Json calls = Json::array();
      int i = 0;
      for (const Json& c : *tc) {
        Json fn = c.value("function", Json::object());
        Json args = fn.value("arguments", Json::object());
        calls.push_back(
            {{"id", c.value("id", fmt::format("call_{}", i))},
             {"type", "function"},
             {"function",
              {{"name", fn.value("name", "")},
               {"arguments", args.is_string() ? args.get<std::string>() : args.dump()}}}});
        ++i;
      }
      o["tool_calls"] = calls;
    }
    if (auto n = m.find("tool_name"); n != m.end() && n->is_string()) o["name"] = *n;
    if (auto id = m.find("tool_call_id"); id != m.end() && id->is_string()) o["tool_call_id"] = *id;
    out.push_back(std::move(o));
  }
  return out;
}

// What a streamed generation produced.
struct Generation {
  Status status;
  std::string content;
  std::string thinking;
  std::map<int, Json> tool_calls;  // by index, OpenAI shape with arguments accumulated
  std::string finish_reason;
  runtime::Timings timings;
  int64_t first_token_ns = 0;
};

// Streams `body` from the runner's `path`, handing each piece of text (and
// of thinking) to `on_piece`; false from it stops the generation.
// `request_bytes`: the client's body, as received (WantsPromptProgress).
Generation Generate(runtime::Scheduler::Lease& lease, std::string_view path, Json body,
                    size_t request_bytes, Response& res, SteadyClock::time_point start,
                    const std::function<bool(std::string_view, std::string_view)>& on_piece) {
  Generation g;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  if (WantsPromptProgress(request_bytes, lease.runner())) body["return_progress"] = true;
  auto reply = CallRunner(lease.runner(), path, body, res, [&](std::string_view data) {
    if (data == "[DONE]") return false;
    Json ev = Json::parse(data, nullptr, false);
    if (ev.is_discarded()) return true;
    if (auto err = ev.find("error"); err != ev.end()) {
      std::string msg = err->is_object() ? err->value("message", err->dump()) : err->dump();
      g.status = InternalError(msg);
      return false;
    }
    if (ev.contains("timings")) g.timings = TimingsFrom(ev);
    if (auto u = ev.find("usage"); u != ev.end() && u->is_object()) {
      runtime::Timings t = TimingsFrom(ev);
      if (g.timings.prompt_tokens == 0) g.timings.prompt_tokens = t.prompt_tokens;
      if (g.timings.gen_tokens == 0) g.timings.gen_tokens = t.gen_tokens;
    }
    auto choices = ev.find("choices");
    if (choices == ev.end() || !choices->is_array() || choices->empty()) return true;
    const Json& c = (*choices)[0];
    if (auto fr = c.find("finish_reason"); fr != c.end() && fr->is_string()) g.finish_reason = *fr;
    std::string text, thinking;
    if (auto d = c.find("delta"); d != c.end() && d->is_object()) {
      if (auto t = d->find("content"); t != d->end() && t->is_string()) text = *t;
      if (auto t = d->find("reasoning_content"); t != d->end() && t->is_string()) thinking = *t;
      if (auto tc = d->find("tool_calls"); tc != d->end() && tc->is_array()) {
        for (const Json& part : *tc) {
          int index = part.value("index", 0);
          Json& acc = g.tool_calls[index];
          if (acc.is_null()) acc = {{"id", ""}, {"name", ""}, {"arguments", ""}};
          if (auto id = part.find("id"); id != part.end() && id->is_string()) acc["id"] = *id;
          if (auto fn = part.find("function"); fn != part.end() && fn->is_object()) {
            if (auto n = fn->find("name"); n != fn->end() && n->is_string()) {
              acc["name"] = acc["name"].get<std::string>() + n->get<std::string>();
            }
            if (auto a = fn->find("arguments"); a != fn->end() && a->is_string()) {
              acc["arguments"] = acc["arguments"].get<std::string>() + a->get<std::string>();
            }
          }
        }
      }
    } else if (auto t = c.find("text"); t != c.end() && t->is_string()) {
      text = *t;
    }
    if (text.empty() && thinking.empty()) return true;
    if (g.first_token_ns == 0) {
      g.first_token_ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - start).count();
    }
    g.content += text;
    g.thinking += thinking;
    return on_piece(text, thinking);
  });
  if (!reply.ok()) {
    if (reply.status().code() != StatusCode::kCancelled) lease.ReportFailure();
    g.status = reply.status().code() == StatusCode::kCancelled
                   ? reply.status()
                   : UnavailableError(fmt::format(
                         "the runner of {} stopped answering ({}); it is restarted on the next "
                         "request",
                         lease.name(), reply.status().message()));
  } else if (reply->status != 200) {
    Json err = Json::parse(reply->body, nullptr, false);
    std::string msg = reply->body;
    if (!err.is_discarded() && err.contains("error")) {
      msg = err["error"].is_object() ? err["error"].value("message", reply->body)
                                     : err["error"].dump();
    }
    g.status =
        Status(reply->status >= 500 ? StatusCode::kInternal : StatusCode::kInvalidArgument, msg);
  }
  g.timings.ttft_us = g.first_token_ns / 1000;
  return g;
}

Json OllamaToolCalls(const Generation& g) {
  Json calls = Json::array();
  for (const auto& [index, acc] : g.tool_calls) {
    Json args = Json::parse(acc.value("arguments", ""), nullptr, false);
    if (args.is_discarded() || !args.is_object()) args = Json::object();
    Json call = {
        {"function", {{"index", index}, {"name", acc.value("name", "")}, {"arguments", args}}}};
    if (!acc.value("id", "").empty()) call["id"] = acc["id"];
    calls.push_back(std::move(call));
  }
  return calls;
}

std::string DoneReason(const Generation& g) {
  return g.finish_reason == "length" ? "length" : "stop";
}

// The request's options over the defaults of the model preset it names, in
// Ollama's names.
Json WithPresetOptions(const std::optional<ModelPreset>& preset, const Json& options) {
  Json merged = Json::object();
  if (preset) {
    if (preset->temperature) merged["temperature"] = *preset->temperature;
    if (preset->top_p) merged["top_p"] = *preset->top_p;
    if (preset->top_k) merged["top_k"] = *preset->top_k;
    if (preset->min_p) merged["min_p"] = *preset->min_p;
    if (preset->repeat_penalty) merged["repeat_penalty"] = *preset->repeat_penalty;
    if (preset->seed) merged["seed"] = *preset->seed;
    if (preset->max_tokens) merged["num_predict"] = *preset->max_tokens;
    if (preset->stop) merged["stop"] = *preset->stop;
  }
  if (options.is_object()) {
    for (const auto& [key, value] : options.items()) {
      if (!value.is_null()) merged[key] = value;
    }
  }
  return merged;
}

// /api/create's system, template and parameters as model preset fields.
Result<ModelPreset> PresetFromCreate(const Json& b) {
  ModelPreset p;
  if (auto s = b.find("system"); s != b.end() && !s->is_null()) {
    if (!s->is_string()) return InvalidArgumentError("system must be a string");
    if (!s->get<std::string>().empty()) p.system = s->get<std::string>();
  }
  if (auto t = b.find("template"); t != b.end() && !t->is_null()) {
    if (!t->is_string()) return InvalidArgumentError("template must be a string");
    const std::string text = *t;
    if (text.find("{%") == std::string::npos &&
        (text.find(".Prompt") != std::string::npos || text.find(".Messages") != std::string::npos ||
         text.find(".System") != std::string::npos)) {
      return InvalidArgumentError(
          "template is a Go template; Hangar's runners read Jinja chat templates (the "
          "chat_template of a model's tokenizer_config.json)");
    }
    if (!text.empty()) {
      auto parsed = runtime::ChatTemplate::Create(nullptr, text);
      if (!parsed.ok()) return InvalidArgumentError("template: " + parsed.status().message());
      p.chat_template = text;
    }
  }
  auto params = b.find("parameters");
  if (params == b.end() || params->is_null()) return p;
  if (!params->is_object()) return InvalidArgumentError("parameters must be an object");
  static constexpr std::string_view kKnown =
      "temperature, top_p, top_k, min_p, repeat_penalty, seed, num_predict, num_ctx, stop";
  for (const auto& [key, value] : params->items()) {
    const bool number = value.is_number();
    const bool whole = value.is_number_integer();
    auto need = [&](bool ok, std::string_view what) -> Status {
      if (ok) return Status::Ok();
      return InvalidArgumentError(fmt::format("parameters.{} must be {}", key, what));
    };
    static const std::pair<std::string_view, std::optional<double> ModelPreset::*> kReal[] = {
        {"temperature", &ModelPreset::temperature},
        {"top_p", &ModelPreset::top_p},
        {"min_p", &ModelPreset::min_p},
        {"repeat_penalty", &ModelPreset::repeat_penalty}};
    static const std::pair<std::string_view, std::optional<int64_t> ModelPreset::*> kWhole[] = {
        {"top_k", &ModelPreset::top_k},
        {"seed", &ModelPreset::seed},
        {"num_predict", &ModelPreset::max_tokens},
        {"num_ctx", &ModelPreset::context_length}};
    auto real =
        std::find_if(std::begin(kReal), std::end(kReal), [&](auto& f) { return f.first == key; });
    auto whole_field =
        std::find_if(std::begin(kWhole), std::end(kWhole), [&](auto& f) { return f.first == key; });
    if (real != std::end(kReal)) {
      RETURN_IF_ERROR(need(number, "a number"));
      p.*(real->second) = value.get<double>();
    } else if (whole_field != std::end(kWhole)) {
      RETURN_IF_ERROR(need(whole, "a whole number"));
      p.*(whole_field->second) = value.get<int64_t>();
    } else if (key == "stop") {
      std::vector<std::string> stops;
      if (value.is_string()) stops.push_back(value);
      for (const Json& s : value.is_array() ? value : Json::array()) {
        RETURN_IF_ERROR(need(s.is_string(), "a string or a list of strings"));
        stops.push_back(s);
      }
      RETURN_IF_ERROR(need(!stops.empty(), "a string or a list of strings"));
      p.stop = std::move(stops);
    } else {
      return InvalidArgumentError(
          fmt::format("parameters.{} is not supported; Hangar keeps {}", key, kKnown));
    }
  }
  return p;
}

std::string ParameterSize(uint64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.1f}B", n / 1e9);
  return fmt::format("{:.0f}M", n / 1e6);
}

}  // namespace

void AddPresetSystem(const std::optional<ModelPreset>& preset, Json& messages) {
  if (!preset || !preset->system || !messages.is_array()) return;
  for (const Json& m : messages) {
    if (m.is_object() && m.value("role", "") == "system") return;
  }
  messages.insert(messages.begin(), Json{{"role", "system"}, {"content", *preset->system}});
}

void Server::OllamaVersion(Call& call) { call.Send(200, Json{{"version", kVersion}}); }

// /api/chat and /api/generate share everything but the input and the
// output field.
void Server::OllamaChat(Call& call) {
  if (!call.ParseBody()) return;
  const Json& b = call.body;
  call.model = b.value("model", b.value("name", ""));
  if (call.model.empty()) return call.Error(400, "model is required");
  runtime::KeepAlive keep_alive;
  if (auto ka = b.find("keep_alive"); ka != b.end() && !ka->is_null()) {
    auto parsed = ParseKeepAlive(*ka);
    if (!parsed.ok()) return call.Error(parsed.status());
    keep_alive = *parsed;
  }
  const bool is_chat = call.req.Path() == "/api/chat";
  const bool stream = b.value("stream", true);
  uint32_t num_ctx = 0;
  if (auto o = b.find("options"); o != b.end() && o->is_object()) {
    if (auto n = o->find("num_ctx"); n != o->end() && !n->is_null()) {
      if (!n->is_number_integer() || n->get<int64_t>() < 1 || n->get<int64_t>() > (1 << 24)) {
        return call.Error(400, "options.num_ctx must be a whole number of tokens, 1 to 16777216");
      }
      num_ctx = static_cast<uint32_t>(n->get<int64_t>());
    }
  }
  auto plan = PlanFor(call.model, false, num_ctx);
  if (plan.ok() && num_ctx == 0 && plan->preset && plan->preset->context_length) {
    plan = PlanFor(call.model, false, static_cast<uint32_t>(*plan->preset->context_length));
  }
  if (!plan.ok()) return call.Error(plan.status());
  if (plan->embedding_model) {
    return call.Error(
        400, fmt::format("\"{}\" does not support {}", call.model, is_chat ? "chat" : "generate"));
  }
  const auto now_str = [] { return Rfc3339(std::chrono::system_clock::now()); };

  // The request for the runner.
  Json req;
  std::string path = "/v1/chat/completions";
  int images = 0;
  bool empty_input;
  if (is_chat) {
    auto messages = ConvertMessages(b.value("messages", Json::array()), &images);
    if (!messages.ok()) return call.Error(messages.status());
    empty_input = messages->empty();
    req["messages"] = *messages;
    AddPresetSystem(plan->preset, req["messages"]);
    if (auto tools = b.find("tools"); tools != b.end() && tools->is_array() && !tools->empty()) {
      req["tools"] = *tools;
      // Hangar's extension: OpenAI's tool_choice ("auto", "required", "none").
      if (auto choice = b.find("tool_choice"); choice != b.end() && !choice->is_null()) {
        req["tool_choice"] = *choice;
      }
    }
  } else {
    std::string prompt = b.value("prompt", "");
    empty_input = prompt.empty();
    if (b.contains("suffix") && !b.value("suffix", "").empty()) {
      return call.Error(400, fmt::format("\"{}\" does not support insert", call.model));
    }
    if (b.value("raw", false)) {
      path = "/v1/completions";
      req["prompt"] = prompt;
    } else {
      Json messages = Json::array();
      if (b.contains("system") && b["system"].is_string()) {
        messages.push_back({{"role", "system"}, {"content", b["system"]}});
      } else if (plan->preset && plan->preset->system) {
        messages.push_back({{"role", "system"}, {"content", *plan->preset->system}});
      }
      Json user = {{"role", "user"}, {"content", prompt}};
      if (b.contains("images")) user["images"] = b["images"];
      messages.push_back(user);
      auto converted = ConvertMessages(messages, &images);
      if (!converted.ok()) return call.Error(converted.status());
      req["messages"] = *converted;
    }
  }
  if (images > 0 && !plan->has_projector) {
    return call.Error(
        400,
        fmt::format("\"{}\" does not support images (it has no vision projector)", call.model));
  }
  ApplyOptions(WithPresetOptions(plan->preset, b.value("options", Json::object())),
               plan->run.request.sampling, req);
  if (Status s = ApplyFormat(b.value("format", Json()), req); !s.ok()) return call.Error(s);
  if (auto think = b.find("think"); think != b.end() && !think->is_null()) {
    bool on = think->is_boolean() ? think->get<bool>() : true;
    req["chat_template_kwargs"] = {{"enable_thinking", on}};
  }
  req["model"] = plan->display;

  // An empty prompt loads (or with keep_alive 0 unloads) the model.
  if (empty_input) {
    const bool unload = keep_alive && keep_alive->count() == 0;
    if (unload) {
      (void)scheduler_->Unload(plan->name);
      OnRunnerChange();
    } else {
      auto lease = AcquireFor(*plan, keep_alive, call.res);
      if (!lease.ok()) return call.Error(lease.status());
    }
    Json done = {{"model", call.model},
                 {"created_at", now_str()},
                 {"done", true},
                 {"done_reason", unload ? "unload" : "load"}};
    if (is_chat)
      done["message"] = {{"role", "assistant"}, {"content", ""}};
    else
      done["response"] = "";
    return call.Send(200, done);
  }

  auto lease = AcquireFor(*plan, keep_alive, call.res);
  if (!lease.ok()) {
    RecordUsage(*plan, is_chat ? runtime::RequestKind::kChat : runtime::RequestKind::kGenerate,
                lease.status(), {}, 0, call.ElapsedNs() / 1000);
    return call.Error(lease.status());
  }
  const int64_t load_ns = lease->loaded_now() ? lease->load_duration().count() : 0;

  auto piece_json = [&](std::string_view text, std::string_view thinking) {
    Json o = {{"model", call.model}, {"created_at", now_str()}};
    if (is_chat) {
      o["message"] = {{"role", "assistant"}, {"content", text}};
      if (!thinking.empty()) o["message"]["thinking"] = thinking;
    } else {
      o["response"] = text;
      if (!thinking.empty()) o["thinking"] = thinking;
    }
    o["done"] = false;
    return o;
  };
  if (stream && !call.res.Begin(200, kNdjson)) return;
  Generation g = Generate(*lease, path, req, call.req.body.size(), call.res, call.start,
                          [&](std::string_view text, std::string_view thinking) {
                            if (!stream) return true;
                            return call.res.Write(piece_json(text, thinking).dump() + "\n");
                          });
  if (g.status.ok() && call.res.stopping()->load()) {
    g.status = UnavailableError("the server is stopping");
  }
  if (g.status.code() == StatusCode::kUnavailable) g.status = WithLostWorkers(*plan, g.status);
  *lease = runtime::Scheduler::Lease();  // the slot is free before the last line goes out
  g.timings.total_us = call.ElapsedNs() / 1000;
  RecordUsage(*plan, is_chat ? runtime::RequestKind::kChat : runtime::RequestKind::kGenerate,
              g.status, g.timings, load_ns / 1000, g.timings.total_us);
  if (!g.status.ok()) {
    if (g.status.code() == StatusCode::kCancelled && call.res.ClientGone()) return;
    return call.Error(g.status);
  }
  Json done = stream ? piece_json("", "") : piece_json(g.content, g.thinking);
  if (!g.tool_calls.empty()) {
    if (is_chat) done["message"]["tool_calls"] = OllamaToolCalls(g);
  }
  done["done"] = true;
  done["done_reason"] = DoneReason(g);
  done["total_duration"] = call.ElapsedNs();
  done["load_duration"] = load_ns;
  done["prompt_eval_count"] = g.timings.prompt_tokens;
  done["prompt_eval_duration"] = g.timings.prompt_us * 1000;
  done["eval_count"] = g.timings.gen_tokens;
  done["eval_duration"] = g.timings.gen_us * 1000;
  if (stream) {
    call.res.Write(done.dump() + "\n");
  } else {
    call.Send(200, done);
  }
}

void Server::OllamaGenerate(Call& call) { OllamaChat(call); }

// Embeddings of `inputs` from the model's embedding runner.
namespace {
struct EmbedResult {
  Status status;
  Json embeddings = Json::array();
  int prompt_tokens = 0;
};
}  // namespace

// Inputs longer than `limit` tokens (what one runner slot embeds at once)
// cut to it when `truncate`, else InvalidArgument; the runner counts tokens.
static Result<Json> FitInputs(runtime::Scheduler::Lease& lease, const Json& inputs, uint32_t limit,
                              bool truncate, Response& res) {
  Json out = Json::array();
  for (const Json& input : inputs) {
    if (!input.is_string())
      return InvalidArgumentError("input must be a string or a list of strings");
    const std::string& text = input.get_ref<const std::string&>();
    // A token is at least one byte, plus the few special ones the model adds.
    if (text.size() + 4 <= limit) {
      out.push_back(input);
      continue;
    }
    Json req = {{"content", text}, {"add_special", true}, {"parse_special", false}};
    auto reply =
        CallRunner(lease.runner(), "/tokenize", req, res, [](std::string_view) { return true; });
    if (!reply.ok()) return reply.status();
    Json body = Json::parse(reply->body, nullptr, false);
    if (reply->status != 200 || body.is_discarded() || !body.contains("tokens")) {
      return InternalError("the runner could not count the input's tokens: " + reply->body);
    }
    Json tokens = body["tokens"];
    if (tokens.size() <= limit) {
      out.push_back(input);
    } else if (!truncate) {
      return InvalidArgumentError(fmt::format(
          "input length ({} tokens) exceeds the context length ({}); send truncate: true to cut it",
          tokens.size(), limit));
    } else {
      tokens.erase(tokens.begin() + limit, tokens.end());
      out.push_back(std::move(tokens));
    }
  }
  return out;
}

static EmbedResult EmbedOn(runtime::Scheduler::Lease& lease, const Json& inputs, Response& res) {
  EmbedResult out;
  Json req = {{"input", inputs}, {"model", lease.name()}, {"encoding_format", "float"}};
  auto reply =
      CallRunner(lease.runner(), "/v1/embeddings", req, res, [](std::string_view) { return true; });
  if (!reply.ok()) {
    if (reply.status().code() != StatusCode::kCancelled) lease.ReportFailure();
    out.status = reply.status();
    return out;
  }
  Json body = Json::parse(reply->body, nullptr, false);
  if (reply->status != 200 || body.is_discarded()) {
    std::string msg = !body.is_discarded() && body.contains("error") && body["error"].is_object()
                          ? body["error"].value("message", reply->body)
                          : reply->body;
    out.status =
        Status(reply->status >= 500 ? StatusCode::kInternal : StatusCode::kInvalidArgument, msg);
    return out;
  }
  for (const Json& d : body.value("data", Json::array()))
    out.embeddings.push_back(d.value("embedding", Json::array()));
  out.prompt_tokens = body.value("usage", Json::object()).value("prompt_tokens", 0);
  return out;
}

// /api/embed ({"input": text or texts} -> {"embeddings": [...]}) and the
// legacy /api/embeddings ({"prompt"} -> {"embedding": [...]}).
void Server::OllamaEmbed(Call& call) {
  if (!call.ParseBody()) return;
  const Json& b = call.body;
  const bool legacy = call.req.Path() == "/api/embeddings";
  call.model = b.value("model", "");
  if (call.model.empty()) return call.Error(400, "model is required");
  Json input = legacy ? Json(b.value("prompt", "")) : b.value("input", Json());
  if (input.is_string()) input = Json::array({input});
  if (!input.is_array() || input.empty())
    return call.Error(400, "input must be a string or a list of strings");
  auto plan = PlanFor(call.model, true);
  if (!plan.ok()) return call.Error(plan.status());
  runtime::KeepAlive keep_alive;
  if (auto ka = b.find("keep_alive"); ka != b.end() && !ka->is_null()) {
    auto parsed = ParseKeepAlive(*ka);
    if (!parsed.ok()) return call.Error(parsed.status());
    keep_alive = *parsed;
  }
  const bool truncate = b.value("truncate", true);
  int64_t dimensions = 0;
  if (auto d = b.find("dimensions"); d != b.end() && !d->is_null()) {
    if (!d->is_number_integer() || d->get<int64_t>() < 1) {
      return call.Error(400, "dimensions must be a whole number above 0");
    }
    dimensions = d->get<int64_t>();
  }
  auto lease = AcquireFor(*plan, keep_alive, call.res);
  if (!lease.ok()) return call.Error(lease.status());
  const int64_t load_ns = lease->loaded_now() ? lease->load_duration().count() : 0;
  const runtime::RunnerConfig& rc = plan->load.runner;
  auto fitted =
      FitInputs(*lease, input, std::min(rc.ctx_per_slot, rc.n_ubatch), truncate, call.res);
  if (!fitted.ok()) return call.Error(fitted.status());
  EmbedResult r = EmbedOn(*lease, *fitted, call.res);
  // Fewer dimensions: the first ones, normalised again (as Ollama does).
  for (Json& e : r.embeddings) {
    if (dimensions == 0 || !e.is_array()) continue;
    if (static_cast<size_t>(dimensions) > e.size()) {
      r.status = InvalidArgumentError(fmt::format(
          "dimensions ({}) exceeds the model's embedding length ({})", dimensions, e.size()));
      break;
    }
    e.erase(e.begin() + dimensions, e.end());
    double norm = 0;
    for (const Json& v : e) norm += v.get<double>() * v.get<double>();
    norm = std::sqrt(norm);
    if (norm > 0) {
      for (Json& v : e) v = v.get<double>() / norm;
    }
  }
  runtime::Timings t;
  t.prompt_tokens = r.prompt_tokens;
  RecordUsage(*plan, runtime::RequestKind::kEmbed, r.status, t, load_ns / 1000,
              call.ElapsedNs() / 1000);
  if (!r.status.ok()) return call.Error(r.status);
  if (legacy) {
    return call.Send(200,
                     Json{{"embedding", r.embeddings.empty() ? Json::array() : r.embeddings[0]}});
  }
  call.Send(200, Json{{"model", call.model},
                      {"embeddings", r.embeddings},
                      {"total_duration", call.ElapsedNs()},
                      {"load_duration", load_ns},
                      {"prompt_eval_count", r.prompt_tokens}});
}

std::string ClientName(const store::InstalledModel& m) {
  const Json& md = m.metadata;
  if (auto e = md.find("entry"); e != md.end() && e->is_object()) {
    if (auto id = e->find("id");
        id != e->end() && id->is_string() && !id->get<std::string>().empty()) {
      return id->get<std::string>();
    }
  }
  return m.id;
}

namespace {
Json DetailsOf(const store::InstalledModel& m) {
  const Json& md = m.metadata;
  std::string arch = md.value("architecture", "");
  Json details = {{"parent_model", ""},
                  {"format", m.format},
                  {"family", arch},
                  {"families", arch.empty() ? Json(nullptr) : Json::array({arch})},
                  {"parameter_size", md.contains("parameters") && md["parameters"].is_number()
                                         ? ParameterSize(md["parameters"].get<uint64_t>())
                                         : ""},
                  {"quantization_level", md.value("quantization", "")}};
  return details;
}
}  // namespace

Result<std::vector<ServedModel>> Server::ListModels() {
  ASSIGN_OR_RETURN(std::vector<store::InstalledModel> installed, app_->store().Installed());
  std::vector<ServedModel> out;
  for (const auto& m : installed) {
    out.push_back({ClientName(m),
                   std::chrono::system_clock::time_point(std::chrono::seconds(m.installed_at)),
                   m.size_bytes, m.digest, DetailsOf(m)});
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const app::Snapshot> s, app_->core().snapshot());
  for (const ModelPreset& p : s->config.presets()) {
    if (!p.weights) continue;
    std::error_code ec;
    const std::filesystem::path file = *p.weights;
    if (!std::filesystem::is_regular_file(file, ec)) continue;
    const std::string name = file.filename().string();
    out.push_back({p.name,
                   std::chrono::time_point_cast<std::chrono::system_clock::duration>(
                       std::chrono::file_clock::to_sys(std::filesystem::last_write_time(file, ec))),
                   std::filesystem::file_size(file, ec),
                   name.rfind("sha256-", 0) == 0 ? name.substr(7) : "", Json{{"format", "gguf"}}});
  }
  return out;
}

void Server::OllamaTags(Call& call) {
  auto listed = ListModels();
  if (!listed.ok()) return call.Error(listed.status());
  Json models = Json::array();
  for (const ServedModel& m : *listed) {
    models.push_back({{"name", m.name},
                      {"model", m.name},
                      {"modified_at", Rfc3339(m.modified)},
                      {"size", m.size},
                      {"digest", m.digest},
                      {"details", m.details}});
  }
  call.Send(200, Json{{"models", models}});
}

void Server::OllamaShow(Call& call) {
  if (!call.ParseBody()) return;
  call.model = call.body.value("model", call.body.value("name", ""));
  if (call.model.empty()) return call.Error(400, "model is required");
  auto plan = PlanFor(call.model, false);
  if (!plan.ok()) return call.Error(plan.status());
  auto installed = app_->store().FindInstalled(call.model);
  Json details = installed.ok() ? DetailsOf(*installed) : Json::object();
  const gguf::ModelSummary& s = plan->summary;
  Json info = {{"general.architecture", s.architecture},
               {"general.parameter_count", s.parameter_count}};
  if (s.context_length) info[s.architecture + ".context_length"] = *s.context_length;
  if (s.block_count) info[s.architecture + ".block_count"] = *s.block_count;
  if (s.embedding_length) info[s.architecture + ".embedding_length"] = *s.embedding_length;
  if (s.head_count) info[s.architecture + ".attention.head_count"] = *s.head_count;
  if (s.head_count_kv) info[s.architecture + ".attention.head_count_kv"] = *s.head_count_kv;
  Json caps = Json::array();
  if (plan->embedding_model) {
    caps.push_back("embedding");
  } else {
    caps.push_back("completion");
    if (s.has_chat_template) caps.push_back("tools");
    if (plan->has_projector) caps.push_back("vision");
  }
  // The values a request gets by default: the preset's over the profile's.
  const runtime::SamplingParams& sp = plan->run.request.sampling;
  const Json defaults = WithPresetOptions(plan->preset, Json::object());
  auto value = [&](const char* key, auto fallback) {
    return defaults.contains(key) ? defaults[key].dump() : fmt::format("{}", fallback);
  };
  std::string parameters =
      fmt::format("temperature {}\ntop_p {}\ntop_k {}\nmin_p {}\nrepeat_penalty {}\nnum_ctx {}",
                  value("temperature", sp.temperature), value("top_p", sp.top_p),
                  value("top_k", sp.top_k), value("min_p", sp.min_p),
                  value("repeat_penalty", sp.repeat_penalty), plan->load.runner.ctx_per_slot);
  for (const char* key : {"seed", "num_predict"}) {
    if (defaults.contains(key)) parameters += fmt::format("\n{} {}", key, defaults[key].dump());
  }
  for (const Json& stop : defaults.value("stop", Json::array())) {
    parameters += fmt::format("\nstop {}", stop.dump());
  }
  Json shown = {{"license", ""},
                {"modelfile", fmt::format("FROM {}\n", plan->load.runner.model.string())},
                {"parameters", parameters},
                {"template", plan->preset ? plan->preset->chat_template.value_or("") : ""},
                {"details", details},
                {"model_info", info},
                {"capabilities", caps},
                {"modified_at", installed.ok() ? Rfc3339(std::chrono::system_clock::time_point(
                                                     std::chrono::seconds(installed->installed_at)))
                                               : Rfc3339(std::chrono::system_clock::now())}};
  if (plan->preset && plan->preset->system) shown["system"] = *plan->preset->system;
  call.Send(200, shown);
}

void Server::OllamaPs(Call& call) {
  std::vector<runtime::LoadedRunner> loaded = scheduler_->Loaded();
  std::sort(loaded.begin(), loaded.end(), [](const auto& a, const auto& b) {
    auto ea = a.expires_at.value_or(std::chrono::system_clock::time_point::max());
    auto eb = b.expires_at.value_or(std::chrono::system_clock::time_point::max());
    return ea > eb;
  });
  Json models = Json::array();
  for (const auto& m : loaded) {
    uint64_t total = 0, vram = 0;
    for (size_t i = 0; i < m.memory.size(); ++i) {
      total += m.memory[i];
      if (i > 0) vram += m.memory[i];
    }
    std::string display = m.name;
    auto installed = app_->store().FindInstalled(display);
    models.push_back(
        {{"name", display},
         {"model", display},
         {"size", total},
         {"digest", installed.ok() ? installed->digest : ""},
         {"details", installed.ok() ? DetailsOf(*installed) : Json::object()},
         {"expires_at", m.expires_at ? Rfc3339(*m.expires_at)
                                     : (m.forever ? "2318-01-01T00:00:00Z"
                                                  : Rfc3339(std::chrono::system_clock::now()))},
         {"size_vram", vram},
         {"context_length", m.context_per_slot},
         {"pid", m.pid},
         {"in_flight", m.in_flight},
         {"parallel", m.parallel},
         {"state", m.loading ? "loading" : (m.in_flight > 0 ? "busy" : "idle")}});
  }
  Json events = Json::array();
  for (const auto& e : scheduler_->Events()) {
    events.push_back({{"at", Rfc3339(e.at)}, {"model", e.model}, {"event", e.what}});
  }
  call.Send(200, Json{{"models", models}, {"events", events}});
}

void Server::OllamaPull(Call& call) {
  if (!call.ParseBody()) return;
  call.model = call.body.value("model", call.body.value("name", ""));
  if (call.model.empty()) return call.Error(400, "model is required");
  const bool stream = call.body.value("stream", true);
  app::PullQuery q;
  q.ref = call.model;
  // Events of this pull's job reach this request's thread through a queue.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Json> lines;
  bool finished = false;
  Status final_status;
  std::string job_id;
  auto token = app_->jobs().Subscribe([&](const app::JobInfo& info, const app::JobEvent* ev) {
    std::lock_guard lock(mu);
    if (job_id.empty() || info.id != job_id) return;
    if (ev == nullptr) {
      finished = true;
      final_status = info.status;
    } else {
      Json line = {{"status", ev->status}};
      if (ev->total > 0) {
        line["total"] = ev->total;
        line["completed"] = ev->completed;
      }
      lines.push_back(std::move(line));
    }
    cv.notify_all();
  });
  {
    std::lock_guard lock(mu);
    job_id = app_->pulls().StartPull(q);
  }
  // A job that finished before job_id was known: ask the registry.
  bool began = stream && call.res.Begin(200, kNdjson);
  Json last = {{"status", "pulling manifest"}};
  if (began) call.res.Write(last.dump() + "\n");
  for (;;) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(200));
    if (!finished) {
      auto info = app_->jobs().Get(job_id);
      if (info.ok() && info->state != app::JobState::kRunning) {
        finished = true;
        final_status = info->status;
      }
    }
    std::deque<Json> out;
    out.swap(lines);
    bool done = finished;
    lock.unlock();
    for (Json& l : out) {
      last = l;
      if (began && !call.res.Write(l.dump() + "\n")) break;
    }
    if (began && call.res.ClientGone()) break;  // the pull goes on as a job
    if (done) break;
    if (call.res.stopping()->load()) {
      // Stopped with the server: what was downloaded is kept, and the next
      // pull of the same model resumes from there.
      (void)app_->jobs().Cancel(job_id);
      (void)app_->jobs().Wait(job_id);
      app_->jobs().Unsubscribe(token);
      return call.Error(503, "the server is stopping; the pull resumes when it is asked for again");
    }
  }
  app_->jobs().Unsubscribe(token);
  if (call.res.ClientGone()) return;
  if (!finished) return;
  if (!final_status.ok()) return call.Error(final_status);
  Json success = {{"status", "success"}};
  if (began) {
    call.res.Write(success.dump() + "\n");
  } else {
    call.Send(200, success);
  }
}

void Server::OllamaDelete(Call& call) {
  if (!call.ParseBody()) return;
  call.model = call.body.value("model", call.body.value("name", ""));
  if (call.model.empty()) return call.Error(400, "model is required");
  // A name made by copy or create goes alone; the bytes stay for the others.
  auto removed_name = app_->store().RemoveName(call.model);
  if (!removed_name.ok()) return call.Error(removed_name.status());
  if (*removed_name) {
    (void)scheduler_->Unload(call.model);
    (void)scheduler_->Unload(call.model + " (embeddings)");
    OnRunnerChange();
    call.res.Send(200, "", "");
    return;
  }
  auto installed = app_->store().FindInstalled(call.model);
  if (!installed.ok()) {
    return call.Error(404, fmt::format("model '{}' not found", call.model));
  }
  (void)scheduler_->Unload(installed->id);
  (void)scheduler_->Unload(installed->id + " (embeddings)");
  auto removed = app_->store().Remove(installed->id, false);
  OnRunnerChange();
  if (!removed.ok()) return call.Error(removed.status());
  call.res.Send(200, "", "");
}

void Server::OllamaBlob(Call& call) {
  const std::string digest(call.req.Path().substr(std::string_view("/api/blobs/").size()));
  if (call.req.method == "HEAD") {
    auto has = app_->store().HasBlob(digest);
    if (!has.ok()) return call.Error(has.status());
    call.res.Send(*has ? 200 : 404, "", "");
    return;
  }
  auto created = app_->store().PutBlob(digest, [&] { return call.res.ReadBodyPiece(); });
  if (!created.ok()) return call.Error(created.status());
  call.res.Send(*created ? 201 : 200, "", "");
}

void Server::OllamaCopy(Call& call) {
  if (!call.ParseBody()) return;
  const std::string source = call.body.value("source", "");
  const std::string destination = call.body.value("destination", "");
  if (source.empty() || destination.empty()) {
    return call.Error(400, "source and destination are required");
  }
  call.model = source;
  Status s = app_->store().Copy(source, destination);
  if (!s.ok()) return call.Error(s);
  call.res.Send(200, "", "");
}

void Server::OllamaCreate(Call& call) {
  if (!call.ParseBody()) return;
  const Json& b = call.body;
  call.model = b.value("model", b.value("name", ""));
  if (call.model.empty()) return call.Error(400, "model is required");
  for (const char* field :
       {"messages", "adapters", "quantize", "quantization", "license", "modelfile"}) {
    if (b.contains(field) && !b[field].is_null()) {
      return call.Error(400, fmt::format("create with \"{}\" is not supported by Hangar yet; "
                                         "create from \"from\" or \"files\" with \"system\", "
                                         "\"template\" and \"parameters\"",
                                         field));
    }
  }
  auto more = PresetFromCreate(b);
  if (!more.ok()) return call.Error(more.status());
  Status s;
  if (auto files = b.find("files"); files != b.end() && files->is_object() && !files->empty()) {
    if (files->size() != 1 || !files->begin().value().is_string()) {
      return call.Error(400, "files must name one GGUF file: {\"name.gguf\": \"sha256:...\"}");
    }
    s = app_->store().CreateFromBlob(call.model, files->begin().value().get<std::string>(), *more);
  } else if (auto from = b.find("from"); from != b.end() && from->is_string()) {
    s = app_->store().Copy(from->get<std::string>(), call.model, *more);
  } else {
    return call.Error(400, "give \"from\" (a model) or \"files\" (an uploaded blob)");
  }
  if (!s.ok()) return call.Error(s);
  const Json success = {{"status", "success"}};
  if (b.value("stream", true) && call.res.Begin(200, kNdjson)) {
    call.res.Write(Json{{"status", "using existing layer"}}.dump() + "\n");
    call.res.Write(success.dump() + "\n");
    return;
  }
  call.Send(200, success);
}

}  // namespace hangar::server
