// OpenAI's API (/v1/*): llama-server speaks it already, so requests go to
// the runner as they are (the model named as the runner knows it) and
// answers come back as they are; the front only watches the stream for the
// usage figures, and drops the usage chunk it asked for when the client did
// not.
#include <fmt/format.h>

#include "server/runner_call.h"
#include "server/server_internal.h"

namespace hangar::server {
namespace {

constexpr std::string_view kSse = "text/event-stream";

// A runner's prompt-processing progress event (asked for with
// return_progress): its key appears unescaped only as a key.
bool IsPromptProgress(std::string_view data) {
  if (data.find("\"prompt_progress\"") == std::string_view::npos) return false;
  Json ev = Json::parse(data, nullptr, false);
  return !ev.is_discarded() && ev.contains("prompt_progress");
}

}  // namespace

std::optional<app::ServePlan> Server::OpenAiPlan(Call& call, bool embeddings) {
  auto plan = PlanFor(call.model, embeddings);
  if (plan.ok()) return std::move(*plan);
  if (plan.status().code() == StatusCode::kNotFound) {
    call.OpenAiError(
        404, fmt::format("The model `{}` does not exist: {}", call.model, plan.status().message()));
  } else {
    call.OpenAiError(plan.status());
  }
  return std::nullopt;
}

// /v1/chat/completions and /v1/completions.
void Server::OpenAiChat(Call& call) {
  if (!call.ParseBody(true)) return;
  Json body = call.body;
  call.model = body.value("model", "");
  if (call.model.empty()) return call.OpenAiError(400, "you must provide a model parameter");
  const bool chat = call.req.Path() == "/v1/chat/completions";
  auto plan = OpenAiPlan(call, false);
  if (!plan) return;
  if (plan->embedding_model) {
    return call.OpenAiError(
        400, fmt::format("{} is an embedding model; use /v1/embeddings", call.model));
  }
  if (chat && !body.contains("messages")) return call.OpenAiError(400, "messages is required");
  const bool stream = body.value("stream", false);
  bool client_usage = false;
  const bool client_progress = body.value("return_progress", false);
  if (stream) {
    client_usage = body.value("stream_options", Json::object()).value("include_usage", false);
    body["stream_options"] = {{"include_usage", true}};
  }
  body["model"] = plan->display;
  // A model preset's defaults where the request has none.
  if (const auto& preset = plan->preset) {
    if (chat && body["messages"].is_array()) AddPresetSystem(preset, body["messages"]);
    auto fill = [&body](const char* key, const auto& value) {
      if (value && (!body.contains(key) || body[key].is_null())) body[key] = *value;
    };
    fill("temperature", preset->temperature);
    fill("top_p", preset->top_p);
    fill("top_k", preset->top_k);
    fill("min_p", preset->min_p);
    fill("repeat_penalty", preset->repeat_penalty);
    fill("seed", preset->seed);
    fill("max_tokens", preset->max_tokens);
    fill("stop", preset->stop);
  }

  auto lease = AcquireFor(*plan, std::nullopt, call.res);
  if (!lease.ok()) {
    RecordUsage(*plan, chat ? runtime::RequestKind::kChat : runtime::RequestKind::kGenerate,
                lease.status(), {}, 0, call.ElapsedNs() / 1000);
    return call.OpenAiError(lease.status());
  }
  const int64_t load_us = lease->loaded_now() ? lease->load_duration().count() / 1000 : 0;
  // Progress events (dropped below, never sent on) for a long prompt.
  if (stream && WantsPromptProgress(call.req.body.size(), lease->runner()))
    body["return_progress"] = true;
  runtime::Timings timings;
  int64_t first_ns = 0;
  bool began = false;
  bool client_ok = true;
  auto reply =
      CallRunner(lease->runner(), call.req.Path(), body, call.res, [&](std::string_view data) {
        // The first event (progress at the prompt's start) sends the head.
        if (!began) {
          began = call.res.Begin(200, kSse);
          if (!began) return false;
        }
        if (!client_progress && IsPromptProgress(data)) return true;
        // Only the events with figures (the last ones) are parsed; the others
        // pass through as they are.
        const bool figures = data.find("\"timings\"") != std::string_view::npos ||
                             data.find("\"usage\"") != std::string_view::npos;
        if (data != "[DONE]" && figures) {
          Json ev = Json::parse(data, nullptr, false);
          if (!ev.is_discarded()) {
            if (ev.contains("timings")) timings = TimingsFrom(ev);
            bool usage_only = ev.contains("usage") && ev.value("choices", Json::array()).empty();
            if (usage_only) {
              runtime::Timings u = TimingsFrom(ev);
              if (timings.prompt_tokens == 0) timings.prompt_tokens = u.prompt_tokens;
              if (timings.gen_tokens == 0) timings.gen_tokens = u.gen_tokens;
              if (!client_usage) return true;
            }
          }
        }
        if (first_ns == 0 && data.find("\"content\"") != std::string_view::npos) {
          first_ns = call.ElapsedNs();
        }
        const std::string_view sse[] = {"data: ", data, "\n\n"};
        client_ok = call.res.Write(sse);
        return client_ok;
      });
  Status outcome;
  if (!reply.ok()) {
    if (reply.status().code() != StatusCode::kCancelled) lease->ReportFailure();
    outcome = reply.status().code() == StatusCode::kCancelled
                  ? reply.status()
                  : WithLostWorkers(*plan, UnavailableError(fmt::format(
                                               "the runner of {} stopped answering ({}); it is "
                                               "restarted on the next request",
                                               plan->display, reply.status().message())));
  } else if (!began) {
    // A whole answer: a completion, or the runner's error in OpenAI's shape.
    Json whole = Json::parse(reply->body, nullptr, false);
    if (reply->status == 200 && !whole.is_discarded()) {
      timings = TimingsFrom(whole);
      first_ns = call.ElapsedNs();
    } else if (reply->status != 200) {
      outcome = Status(reply->status >= 500 ? StatusCode::kInternal : StatusCode::kInvalidArgument,
                       reply->body);
    }
    call.res.Send(reply->status, "application/json; charset=utf-8", reply->body);
  }
  if (outcome.ok() && call.res.stopping()->load() && began) {
    outcome = UnavailableError("the server is stopping");
  }
  timings.ttft_us = first_ns / 1000;
  timings.total_us = call.ElapsedNs() / 1000;
  RecordUsage(*plan, chat ? runtime::RequestKind::kChat : runtime::RequestKind::kGenerate, outcome,
              timings, load_us, timings.total_us);
  if (!outcome.ok() && !(outcome.code() == StatusCode::kCancelled && call.res.ClientGone())) {
    call.OpenAiError(outcome);
    if (began) call.res.Write("data: [DONE]\n\n");
  }
}

void Server::OpenAiCompletions(Call& call) { OpenAiChat(call); }

void Server::OpenAiEmbeddings(Call& call) {
  if (!call.ParseBody(true)) return;
  Json body = call.body;
  call.model = body.value("model", "");
  if (call.model.empty()) return call.OpenAiError(400, "you must provide a model parameter");
  if (!body.contains("input")) return call.OpenAiError(400, "input is required");
  auto plan = OpenAiPlan(call, true);
  if (!plan) return;
  body["model"] = plan->display;
  auto lease = AcquireFor(*plan, std::nullopt, call.res);
  if (!lease.ok()) return call.OpenAiError(lease.status());
  const int64_t load_us = lease->loaded_now() ? lease->load_duration().count() / 1000 : 0;
  auto reply = CallRunner(lease->runner(), "/v1/embeddings", body, call.res,
                          [](std::string_view) { return true; });
  runtime::Timings t;
  Status outcome;
  if (!reply.ok()) {
    if (reply.status().code() != StatusCode::kCancelled) lease->ReportFailure();
    outcome = reply.status();
  } else {
    Json whole = Json::parse(reply->body, nullptr, false);
    if (!whole.is_discarded()) t = TimingsFrom(whole);
    if (reply->status != 200) outcome = InvalidArgumentError(reply->body);
  }
  RecordUsage(*plan, runtime::RequestKind::kEmbed, outcome, t, load_us, call.ElapsedNs() / 1000);
  if (!reply.ok()) return call.OpenAiError(outcome);
  call.res.Send(reply->status, "application/json; charset=utf-8", reply->body);
}

namespace {
Json OpenAiModelJson(const ServedModel& m) {
  return {{"id", m.name},
          {"object", "model"},
          {"created",
           std::chrono::duration_cast<std::chrono::seconds>(m.modified.time_since_epoch()).count()},
          {"owned_by", "hangar"}};
}
}  // namespace

void Server::OpenAiModels(Call& call) {
  auto listed = ListModels();
  if (!listed.ok()) return call.OpenAiError(listed.status());
  Json data = Json::array();
  for (const ServedModel& m : *listed) data.push_back(OpenAiModelJson(m));
  call.Send(200, Json{{"object", "list"}, {"data", data}});
}

void Server::OpenAiModel(Call& call) {
  // The id as clients encode it in the path ("qwen3%3Alatest").
  const std::string id = call.PathTail("/v1/models/");
  auto listed = ListModels();
  if (!listed.ok()) return call.OpenAiError(listed.status());
  for (const ServedModel& m : *listed) {
    if (m.name == id) return call.Send(200, OpenAiModelJson(m));
  }
  call.OpenAiError(404, fmt::format("The model `{}` does not exist", id));
}

}  // namespace hangar::server
