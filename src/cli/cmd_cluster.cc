// hangar worker | hangar cluster
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "cli/command.h"
#include "cli/table.h"
#include "core/units.h"
#include "server/server.h"
#include "server/worker.h"

namespace hangar::cli {
namespace {

std::string Mem(uint64_t bytes) { return FormatBytes(bytes); }

std::string DevicesText(const runtime::WorkerStatus& w) {
  std::string text;
  for (const runtime::WorkerDevice& d : w.devices) {
    if (!text.empty()) text += "; ";
    text += fmt::format("{} {} ({} free of {})", d.name, d.description, Mem(d.free), Mem(d.total));
  }
  return text;
}

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

struct WorkerFlags {
  std::string host = "127.0.0.1";
  int port = server::kDefaultWorkerPort;
  std::string mem;
  int threads = 0;
  bool cache = false;
  bool trusted_network = false;
};

}  // namespace

void AddWorker(CLI::App& sub, Context& ctx) {
  auto f = std::make_shared<WorkerFlags>();
  sub.footer(
      "Lends this machine's devices to the `hangar serve` of another machine: llama.cpp's RPC\n"
      "server on --port, and what it offers on the next port (GET /status). That machine lists\n"
      "this one in config.toml: [cluster] workers = [\"THIS-HOST:PORT\"].\n"
      "llama.cpp's RPC has no authentication and no encryption: listen beyond 127.0.0.1 only on\n"
      "a network you trust, with --trusted-network. Environment: HANGAR_RPC_SERVER (the binary).");
  sub.add_option("--host", f->host, "Address to listen on (default 127.0.0.1)");
  sub.add_option("--port", f->port,
                 fmt::format("RPC port (default {}; the status port is the next; 0: any free)",
                             server::kDefaultWorkerPort))
      ->check(CLI::Range(0, 65534));
  sub.add_option("--mem", f->mem,
                 "Memory models may take here, e.g. 12GB (default: 90% of the free memory)");
  sub.add_option("--threads", f->threads, "CPU threads for the layers computed here")
      ->check(CLI::Range(1, 1024));
  sub.add_flag("--cache", f->cache,
               "Keep the weights received on disk: the next load of the same model sends only "
               "hashes for tensors over 10 MB");
  sub.add_flag("--trusted-network", f->trusted_network,
               "Allow --host beyond loopback (anyone who reaches the port can use this machine)");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx, f] {
    if (!IsLoopback(f->host) && !f->trusted_network) {
      return ctx.UsageError(fmt::format(
          "--host {}: llama.cpp's RPC has no authentication; anyone who reaches the port can run "
          "code on this machine's devices and read what it computes. Add --trusted-network if {} "
          "is only reachable from machines you trust",
          f->host, f->host));
    }
    server::WorkerOptions o;
    auto binary = ctx.app().cluster().RpcServer();
    if (!binary.ok()) return ctx.Fail(binary.status());
    o.rpc_server = *binary;
    o.host = f->host;
    o.port = f->port;
    o.threads = f->threads;
    o.cache = f->cache;
    o.version = std::string(server::kVersion);
    if (!f->mem.empty()) {
      auto bytes = ParseSize(f->mem);
      if (!bytes.ok()) return ctx.Fail(bytes.status());
      if (*bytes == 0) return ctx.UsageError("--mem must be more than 0");
      o.mem = *bytes;
    }
    auto paths = ctx.app().core().paths();
    if (!paths.ok()) return ctx.Fail(paths.status());
    o.cache_dir = (*paths)->cache_dir / "worker";
    std::error_code ec;
    std::filesystem::create_directories((*paths)->data_dir / "logs", ec);
    o.log_file = (*paths)->data_dir / "logs" / fmt::format("worker-{}.log", ::getpid());

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    auto worker = server::Worker::Start(o, std::chrono::seconds(60));
    if (!worker.ok()) return ctx.Fail(worker.status());
    server::Worker& w = **worker;
    const runtime::WorkerStatus s = w.Status();
    if (ctx.json) {
      nlohmann::json doc = runtime::ToJson(s);
      doc["port"] = w.port();
      doc["status_port"] = w.status_port();
      doc["pid"] = w.pid();
      ctx.PrintJson(doc);
    } else {
      ctx.Print(fmt::format(
          "hangar worker: RPC on {} (llama.cpp RPC protocol {}), status on http://{}:{}/status\n"
          "  devices: {}\n  offered to models: {}{}\n",
          w.endpoint(), s.rpc_version, f->host, w.status_port(), DevicesText(s), Mem(s.capacity),
          o.mem > 0 ? " (--mem)" : " (90% of the free memory)"));
      if (!IsLoopback(f->host)) {
        ctx.Print(
            "  warning: llama.cpp's RPC has no authentication: anyone who reaches this port can "
            "use this machine; keep it on a trusted network\n");
      }
      ctx.Print(fmt::format("  on the serving machine: [cluster] workers = [\"{}:{}\"]\n",
                            IsLoopback(f->host) ? "127.0.0.1" : "THIS-HOST", w.port()));
    }
    ctx.out->flush();

    std::atomic<bool> stop{false};
    std::thread signals([&] {
      int sig = 0;
      sigwait(&stop_signals, &sig);
      stop = true;
    });
    const std::string ended = w.Wait(stop);
    if (!stop.load()) {
      // rpc-server ended by itself: wake the signal thread to end.
      ::kill(::getpid(), SIGTERM);
    }
    signals.join();
    w.Stop();
    if (!ended.empty()) {
      ctx.Fail(
          UnavailableError(fmt::format("rpc-server {}; its log: {}", ended, o.log_file.string())));
    }
  });
}

void AddCluster(CLI::App& sub, Context& ctx) {
  sub.footer(
      "The workers of config.toml's [cluster] workers = [\"host:port\", ...] (machines running\n"
      "`hangar worker`), asked now: devices, memory offered and in use, latency, state.\n"
      "`hangar fit` and `hangar serve` place a model too large for this machine over the\n"
      "workers that are up.");
  AddJsonFlag(sub, ctx);
  sub.callback([&ctx] {
    auto statuses = ctx.app().cluster().Status();
    if (!statuses.ok()) return ctx.Fail(statuses.status());
    const bool all_up = std::all_of(
        statuses->begin(), statuses->end(),
        [](const runtime::WorkerStatus& w) { return w.state == runtime::WorkerState::kUp; });
    if (!all_up) ctx.exit_code = kExitFailure;
    if (ctx.json) {
      nlohmann::json workers = nlohmann::json::array();
      for (const auto& w : *statuses) workers.push_back(runtime::ToJson(w));
      return ctx.PrintJson({{"workers", workers}});
    }
    if (statuses->empty()) {
      ctx.Print(
          "No worker is configured. On each machine to lend: `hangar worker --host ADDRESS "
          "--trusted-network`; here, in config.toml: [cluster] workers = [\"ADDRESS:50052\"]\n");
      return;
    }
    Table t({"WORKER", "STATE", "DEVICES", "OFFERED", "IN USE", "CLIENTS", "LATENCY"},
            {Table::Align::kLeft, Table::Align::kLeft, Table::Align::kLeft, Table::Align::kRight,
             Table::Align::kRight, Table::Align::kRight, Table::Align::kRight});
    for (const auto& w : *statuses) {
      const bool is_up = w.state == runtime::WorkerState::kUp;
      std::string state(runtime::WorkerStateName(w.state));
      t.AddRow({w.endpoint, is_up ? ctx.style.Green(state) : ctx.style.Red(state + ": " + w.error),
                is_up ? DevicesText(w) : "-", is_up ? Mem(w.capacity) : "-",
                is_up ? Mem(w.used) : "-", is_up ? std::to_string(w.clients) : "-",
                is_up ? fmt::format("{:.1f} ms", w.latency_ms) : "-"});
    }
    ctx.Print(t.Render(ctx.style));
  });
}

}  // namespace hangar::cli
