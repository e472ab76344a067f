// What server.cc, ollama_api.cc and openai_api.cc share: the per-request
// Call, the route table entry and the metrics. Internal to server/.
#ifndef HANGAR_SERVER_SERVER_INTERNAL_H_
#define HANGAR_SERVER_SERVER_INTERNAL_H_

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "server/server.h"

namespace hangar::server {

using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// "%41b" -> "Ab" (an escape that is not two hex digits stays as it is).
std::string PercentDecode(std::string_view text);

// Whether to ask a runner for prompt-progress events (return_progress): one
// after every batch of the prompt lets it see a closed connection then, not
// only at its once-a-second check, but they cost throughput (about 5% with 8
// short streams, bench/serve). So only for a request that may take more
// than one batch: one whose body has more bytes than a batch has tokens
// (`request_bytes`, the client's body as received).
bool WantsPromptProgress(size_t request_bytes, const runtime::Runner& runner);

// A model preset's system prompt first in `messages` (OpenAI's shape) when
// they have none of their own (ollama_api.cc).
void AddPresetSystem(const std::optional<ModelPreset>& preset, Json& messages);

struct Server::Call {
  const wire::HttpRequest& req;
  Response& res;
  const Peer& peer;
  SteadyClock::time_point start = SteadyClock::now();
  std::string model;  // for the access log
  Json body;

  // The model a management route names (the body's "model" after
  // ParseBody, else ?model=), kept in `model` for the access log; false
  // after answering 400 when there is none.
  bool NeedModel(bool from_body);
  // The query string's value for `key` ("a+b%21" -> "a b!"); nullopt when
  // it has none.
  std::optional<std::string> QueryParam(std::string_view key) const;
  // The path after a prefix route's `prefix` ("/api/jobs/"), percent-decoded.
  std::string PathTail(std::string_view prefix) const;
  // Parses the body as a JSON object; on failure answers 400 (Ollama's
  // shape, or OpenAI's when `openai`) and returns false.
  bool ParseBody(bool openai = false);
  void Send(int status, const Json& json);
  // {"error": message}
  void Error(int status, std::string_view message);
  void Error(const Status& status) { Error(HttpStatusOf(status), status.message()); }
  // {"error": {"message", "type", "param", "code"}}
  void OpenAiError(int status, std::string_view message);
  void OpenAiError(const Status& status) { OpenAiError(HttpStatusOf(status), status.message()); }
  int64_t ElapsedNs() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - start).count();
  }
};

struct Server::Route {
  std::string method;
  // Exact; a prefix when it ends with '/'; with "{name}" parts, a pattern
  // whose parts each match any non-empty run of characters ('/' included).
  std::string path;
  bool writes = false;
  void (Server::*handler)(Call&);
  // A page of the web console: open without the API key (it holds no data;
  // the console asks for the key and sends it with its API calls).
  bool page = false;
  // A route of `hangar serve --mirror` only (unknown otherwise).
  bool mirror = false;
};

// Prometheus counters and histograms.
class Server::Metrics {
 public:
  void CountRequest(const std::string& route, int status);
  void AddTokens(int prompt, int generated, double gen_seconds);
  void ObserveLoad(double seconds) { Observe(load_, seconds); }
  void ObserveTtft(double seconds) { Observe(ttft_, seconds); }
  std::string Render(const runtime::Scheduler& scheduler) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1,    2.5,   5,    10,  30};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> counts{};
    uint64_t count = 0;
    double sum = 0;
  };
  void Observe(Histogram& h, double seconds);

  mutable std::mutex mu_;  // guards everything below
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0;
  uint64_t generated_tokens_ = 0;
  double gen_seconds_ = 0;
  Histogram load_;
  Histogram ttft_;
};

// The name clients know an installed model by (its catalog or preset id,
// else the store's id).
std::string ClientName(const store::InstalledModel& m);

// A model clients can name: an installed model, or a name made by copy or
// create (a preset with a weights file).
struct ServedModel {
  std::string name;
  std::chrono::system_clock::time_point modified;
  uint64_t size = 0;
  std::string digest;
  Json details;
};

// Timings from llama-server's "timings" object (and "usage" when present).
runtime::Timings TimingsFrom(const Json& event);

}  // namespace hangar::server

#endif  // HANGAR_SERVER_SERVER_INTERNAL_H_
