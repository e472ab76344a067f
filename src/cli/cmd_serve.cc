// hangar serve
#include <fmt/format.h>
#include <signal.h>

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
};

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
  sub.callback([&ctx, f] {
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
    if (ctx.json) {
      ctx.PrintJson({{"listening", url}, {"port", srv.port()}});
    } else {
      ctx.Print(fmt::format("hangar serve: listening on {}\n", url));
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
