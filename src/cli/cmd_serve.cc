// hangar serve
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "cli/command.h"
#include "core/env.h"
#include "core/units.h"
#include "server/server.h"

namespace hangar::cli {
namespace {

// HANGAR_HOST: "host", "host:port", "[v6]:port", with or without http://.
Status ApplyHostEnv(std::string value, server::ServeOptions& o) {
  if (value.rfind("http://", 0) == 0) value = value.substr(7);
  if (!value.empty() && value.back() == '/') value.pop_back();
  std::string host = value;
  std::string port;
  if (!value.empty() && value.front() == '[') {
    size_t close = value.find(']');
    if (close == std::string::npos) return InvalidArgumentError("HANGAR_HOST: missing ]");
    host = value.substr(1, close - 1);
    if (close + 1 < value.size() && value[close + 1] == ':') port = value.substr(close + 2);
  } else if (size_t colon = value.rfind(':');
             colon != std::string::npos && value.find(':') == colon) {
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
  if (!host.empty()) o.host = host;
  if (!port.empty()) {
    try {
      int p = std::stoi(port);
      if (p < 0 || p > 65535) throw std::out_of_range("port");
      o.port = static_cast<uint16_t>(p);
    } catch (const std::exception&) {
      return InvalidArgumentError(fmt::format("HANGAR_HOST: \"{}\" is not a port", port));
    }
  }
  return Status::Ok();
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string part =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    while (!part.empty() && part.back() == ' ') part.pop_back();
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

struct ServeFlags {
  std::optional<std::string> host;
  std::optional<int> port;
  std::string api_key_file;
  std::vector<std::string> origins;
  bool no_writes = false;
  int parallel = 0;
  int max_queue = 512;
  std::string keep_alive = "5m";
  int load_timeout_s = 300;
  bool quiet = false;
  std::string max_memory;
  int header_timeout_s = 10;
  bool mirror = false;
  std::string mirror_upstream;
};

// The address other machines reach `host` by: this machine's name for a
// wildcard bind.
std::string ReachableHost(const std::string& host) {
  if (host == "0.0.0.0" || host == "::" || host == "[::]") {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0 && name[0] != '\0') return name;
  }
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

void AddServe(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<ServeFlags>();
  sub.footer(
      "Environment: HANGAR_HOST (host[:port], like OLLAMA_HOST), HANGAR_API_KEY (required to\n"
      "listen beyond 127.0.0.1), HANGAR_ORIGINS (browser origins allowed, comma-separated),\n"
      "HANGAR_KEEP_ALIVE, HANGAR_LLAMA_SERVER (the llama-server binary).\n"
      "--port 11434 makes Hangar a drop-in for Ollama's clients.");
  sub.add_option("--host", f->host, "Address to listen on (default 127.0.0.1)");
  sub.add_option(
         "--port", f->port,
         fmt::format("Port to listen on (default {}; 0: any free port)", server::kDefaultPort))
      ->check(CLI::Range(0, 65535));
  sub.add_option("--api-key-file", f->api_key_file,
                 "File holding the API key every request must carry (Authorization: Bearer)");
  sub.add_option("--origin", f->origins,
                 "A browser origin to allow besides localhost (repeatable, * wildcards)");
  sub.add_flag("--no-writes", f->no_writes, "Refuse pull, delete, create, copy and blob uploads");
  sub.add_option("--parallel", f->parallel,
                 "Requests each model decodes together (default: planned for this machine)")
      ->check(CLI::Range(1, 256));
  sub.add_option("--max-queue", f->max_queue, "Requests that may wait for a model; beyond: 503")
      ->check(CLI::Range(1, 100000));
  sub.add_option("--keep-alive", f->keep_alive,
                 "How long an idle model stays loaded (5m, 1h, 0, -1 = forever)");
  sub.add_option("--load-timeout", f->load_timeout_s, "Seconds a model may take to load")
      ->check(CLI::Range(1, 86400));
  sub.add_flag("--quiet", f->quiet, "No access log on stderr");
  sub.add_option(
      "--max-memory", f->max_memory,
      "RAM all loaded models may take together (e.g. 12GB; default: [limits] of config.toml)");
  sub.add_option("--header-timeout", f->header_timeout_s,
                 "Seconds a client has to send a request's header (slow clients are cut off)")
      ->check(CLI::Range(1, 3600));
  sub.add_flag("--mirror", f->mirror,
               "Also serve this store's models to other machines, read-only, as a Hugging Face\n"
               "hub (HF_ENDPOINT=http://HOST:PORT) and an Ollama registry\n"
               "(OLLAMA_REGISTRY=http://HOST:PORT)");
  CLI::Option* upstream =
      sub.add_option("--mirror-upstream", f->mirror_upstream,
                     "--mirror, and what the store lacks is fetched once from URL (a hub; default\n"
                     "HF_ENDPOINT, else https://huggingface.co) and from OLLAMA_REGISTRY (else\n"
                     "registry.ollama.ai), verified and kept, then served")
          ->expected(0, 1)
          ->type_name("[URL]");
  sub.callback([&ctx, f, upstream] {
    server::ServeOptions o;
    const Environment& env = ctx.app().core().env();
    if (auto h = env.Get("HANGAR_HOST"); h && !h->empty()) {
      if (Status s = ApplyHostEnv(*h, o); !s.ok()) return ctx.Fail(s);
    }
    if (f->host) o.host = *f->host;
    if (f->port) o.port = static_cast<uint16_t>(*f->port);
    if (auto k = env.Get("HANGAR_API_KEY"); k && !k->empty()) o.api_key = *k;
    if (!f->api_key_file.empty()) {
      std::ifstream in(f->api_key_file);
      std::string key;
      if (!in || !std::getline(in, key) || key.empty()) {
        return ctx.Fail(
            InvalidArgumentError(fmt::format("cannot read an API key from {}", f->api_key_file)));
      }
      o.api_key = key;
    }
    if (auto origins = env.Get("HANGAR_ORIGINS")) o.origins = SplitComma(*origins);
    o.origins.insert(o.origins.end(), f->origins.begin(), f->origins.end());
    o.allow_writes = !f->no_writes;
    std::string keep_alive = env.Get("HANGAR_KEEP_ALIVE").value_or(f->keep_alive);
    auto ka = server::ParseKeepAlive(nlohmann::json(keep_alive));
    if (!ka.ok()) return ctx.Fail(ka.status());
    o.settings.keep_alive = *ka;
    o.settings.parallel = f->parallel;
    o.settings.max_queue = f->max_queue;
    o.settings.load_timeout = std::chrono::seconds(f->load_timeout_s);
    o.access_log = !f->quiet;
    o.http.header_timeout = std::chrono::seconds(f->header_timeout_s);
    if (!f->max_memory.empty()) {
      auto bytes = ParseSize(f->max_memory);
      if (!bytes.ok()) return ctx.Fail(bytes.status());
      o.settings.max_memory = *bytes;
    }
    o.mirror = f->mirror || upstream->count() > 0;
    o.mirror_settings.upstream = upstream->count() > 0;
    o.mirror_settings.hf_endpoint = f->mirror_upstream;

    // SIGINT and SIGTERM are taken by sigwait below, in every thread.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    server::Server srv(&ctx.app(), o);
    if (Status s = srv.Start(); !s.ok()) return ctx.Fail(s);
    std::string url = fmt::format(
        "http://{}:{}", o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host,
        srv.port());
    // A mirror says what other machines set to pull from it.
    const std::string reach = fmt::format("http://{}:{}", ReachableHost(o.host), srv.port());
    std::string from = "only what this store holds";
    if (o.mirror_settings.upstream) {
      const std::string hub = !o.mirror_settings.hf_endpoint.empty()
                                  ? o.mirror_settings.hf_endpoint
                                  : env.Get("HF_ENDPOINT").value_or("https://huggingface.co");
      from = fmt::format("what this store lacks is fetched once from {} and {}", hub,
                         env.Get("OLLAMA_REGISTRY").value_or("https://registry.ollama.ai"));
    }
    if (ctx.json) {
      nlohmann::json j = {{"listening", url}, {"port", srv.port()}};
      if (o.mirror) {
        j["mirror"] = {{"HF_ENDPOINT", reach}, {"OLLAMA_REGISTRY", reach}, {"serves", from}};
      }
      ctx.PrintJson(j);
    } else {
      ctx.Print(fmt::format("hangar serve: listening on {}\n", url));
      if (o.mirror) {
        ctx.Print(fmt::format(
            "hangar serve: mirror on ({}); on other machines set HF_ENDPOINT={} and "
            "OLLAMA_REGISTRY={}{}\n",
            from, reach, reach,
            o.api_key.empty() ? ""
                              : ", and HF_TOKEN and OLLAMA_REGISTRY_TOKEN to the API key (or "
                                "`hangar pull --registry URL` with HF_TOKEN)"));
      }
    }
    ctx.out->flush();
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::fprintf(stderr, "hangar serve: %s received, stopping\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv.Stop();
  });
}

}  // namespace hangar::cli
