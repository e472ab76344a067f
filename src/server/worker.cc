#include "server/worker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "core/file_util.h"

namespace hangar::server {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMiB = 1024 * 1024;

std::string ReadAll(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A kB figure of /proc's "Key:   123 kB" lines, in bytes; 0 when absent.
uint64_t ProcKb(const std::filesystem::path& file, std::string_view key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10) * 1024;
    }
  }
  return 0;
}

// Whether TCP `port` on the loopback address can be bound now.
bool PortFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A port P the kernel picks such that P + 1 is free too.
Result<int> FreePortPair() {
  for (int attempt = 0; attempt < 64; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      if (fd >= 0) ::close(fd);
      continue;
    }
    const int port = ntohs(a.sin_port);
    ::close(fd);
    if (port < 65535 && PortFree(port + 1)) return port;
  }
  return UnavailableError("no two free consecutive ports were found");
}

// fork + exec with stdout and stderr to `log_fd`; the child dies with us.
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env_add,
            int log_fd) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), env_add.begin(), env_add.end());
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::getppid() != parent) ::_exit(127);
  int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0) ::dup2(null_fd, 0);
  ::dup2(log_fd, 1);
  ::dup2(log_fd, 2);
  ::execve(args[0], args.data(), envp.data());
  ::_exit(127);
}

std::string DescribeExit(int status) {
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  }
  return fmt::format("exited with status {}", WEXITSTATUS(status));
}

std::string LastLines(const std::string& text, size_t n) {
  size_t pos = text.size();
  while (pos > 0 && text[pos - 1] == '\n') --pos;
  size_t end = pos;
  for (size_t i = 0; i < n && pos > 0; ++i) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
  }
  return text.substr(pos == 0 ? 0 : pos + 1, end - (pos == 0 ? 0 : pos + 1));
}

}  // namespace

std::vector<runtime::WorkerDevice> ParseRpcDevices(std::string_view output) {
  std::vector<runtime::WorkerDevice> devices;
  static const std::regex kLine(R"(^  (\S+): (.*) \((\d+) MiB, (\d+) MiB free\)\s*$)");
  bool in_devices = false;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string_view::npos) end = output.size();
    const std::string line(output.substr(start, end - start));
    start = end + 1;
    if (line == "Devices:") {
      in_devices = true;
      devices.clear();
      continue;
    }
    std::smatch m;
    if (in_devices && std::regex_match(line, m, kLine)) {
      devices.push_back(
          {m[1].str(), m[2].str(), std::stoull(m[3].str()) * kMiB, std::stoull(m[4].str()) * kMiB});
    } else if (in_devices) {
      in_devices = false;
    }
  }
  return devices;
}

int EstablishedConnections(const std::filesystem::path& proc_root, int port) {
  int count = 0;
  for (const char* table : {"proc/net/tcp", "proc/net/tcp6"}) {
    std::ifstream in(proc_root / table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      if (!(fields >> slot >> local >> remote >> state)) continue;
      const size_t colon = local.rfind(':');
      if (colon == std::string::npos || state != "01") continue;  // 01: ESTABLISHED
      if (std::strtol(local.c_str() + colon + 1, nullptr, 16) == port) ++count;
    }
  }
  return count;
}

Worker::Worker(WorkerOptions options, pid_t pid, int port)
    : options_(std::move(options)), pid_(pid), port_(port) {}

Worker::~Worker() { Stop(); }

std::string Worker::endpoint() const { return fmt::format("{}:{}", options_.host, port_); }

Result<std::unique_ptr<Worker>> Worker::Start(WorkerOptions options,
                                              std::chrono::milliseconds timeout) {
  if (::access(options.rpc_server.c_str(), X_OK) != 0) {
    return FailedPreconditionError(fmt::format(
        "rpc-server not found at {}; run scripts/build-llama", options.rpc_server.string()));
  }
  int port = options.port;
  if (port == 0) {
    ASSIGN_OR_RETURN(port, FreePortPair());
  }
  std::vector<std::string> argv = {options.rpc_server.string(), "--host", options.host, "--port",
                                   std::to_string(port)};
  if (options.threads > 0) argv.insert(argv.end(), {"--threads", std::to_string(options.threads)});
  std::vector<std::string> env;
  if (options.cache) {
    argv.push_back("--cache");
    std::error_code ec;
    std::filesystem::create_directories(options.cache_dir, ec);
    env.push_back("LLAMA_CACHE=" + options.cache_dir.string());
  }
  int log_fd = ::open(options.log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    return UnavailableError(
        fmt::format("cannot open {}: {}", options.log_file.string(), std::strerror(errno)));
  }
  const pid_t pid = Spawn(argv, env, log_fd);
  ::close(log_fd);
  if (pid < 0) return UnavailableError(fmt::format("fork: {}", std::strerror(errno)));
  std::unique_ptr<Worker> w(new Worker(options, pid, port));

  // Ready when it answers the handshake (which also flushes its device list).
  const std::string local =
      fmt::format("{}:{}", options.host == "0.0.0.0" ? "127.0.0.1" : options.host, port);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    Result<std::string> hello = runtime::RpcHello(local, std::chrono::milliseconds(500));
    if (hello.ok()) {
      w->rpc_version_ = *hello;
      break;
    }
    if (w->Reap(false)) {
      return UnavailableError(fmt::format("rpc-server {}; its output ends:\n{}",
                                          DescribeExit(w->wait_status_),
                                          LastLines(ReadAll(options.log_file), 12)));
    }
    if (Clock::now() >= deadline) {
      return UnavailableError(
          fmt::format("rpc-server did not answer on {} within {} s", local,
                      std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Its output is flushed once it accepts a client: the device list is there.
  for (int i = 0; i < 100 && w->devices_.empty(); ++i) {
    w->devices_ = ParseRpcDevices(ReadAll(options.log_file));
    if (w->devices_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (w->devices_.empty()) {
    return UnavailableError(fmt::format("rpc-server listed no device; its output:\n{}",
                                        LastLines(ReadAll(options.log_file), 12)));
  }
  uint64_t free = 0;
  for (const runtime::WorkerDevice& d : w->devices_) free += d.free;
  w->capacity_ = options.mem > 0 ? options.mem : free / 10 * 9;

  HttpServerOptions http;
  http.host = options.host;
  http.port = static_cast<uint16_t>(port + 1);
  http.max_body_bytes = 4096;
  http.max_connections = 64;
  Worker* self = w.get();
  w->status_ = std::make_unique<HttpServer>(
      http, [self](const wire::HttpRequest& req, const Peer&, Response& res) {
        if (req.Path() != "/status") {
          res.Send(404, "application/json", R"({"error":"not found: GET /status"})");
          return;
        }
        if (req.method != "GET" && req.method != "HEAD") {
          res.Send(405, "application/json", R"({"error":"GET /status"})", {{"Allow", "GET"}});
          return;
        }
        res.Send(200, "application/json", runtime::ToJson(self->Status()).dump());
      });
  if (hangar::Status s = w->status_->Start(); !s.ok()) {
    return UnavailableError(fmt::format("the status port {}: {}", port + 1, s.message()));
  }
  return w;
}

runtime::WorkerStatus Worker::Status() {
  runtime::WorkerStatus s;
  s.endpoint = endpoint();
  s.devices = devices_;
  s.capacity = capacity_;
  s.threads = options_.threads;
  s.cache = options_.cache;
  s.rpc_version = rpc_version_;
  s.hangar_version = options_.version;
  s.used = ProcKb(fmt::format("/proc/{}/status", pid_), "VmRSS");
  s.available = ProcKb("/proc/meminfo", "MemAvailable");
  s.clients = EstablishedConnections("/", port_);
  {
    std::lock_guard lock(mu_);
    if (Reap(false)) {
      s.state = runtime::WorkerState::kDown;
      s.error = "rpc-server " + DescribeExit(wait_status_);
      return s;
    }
  }
  s.state = runtime::WorkerState::kUp;
  if (s.clients == 0) {
    // Nobody holds it: it must answer its handshake.
    const std::string local =
        fmt::format("{}:{}", options_.host == "0.0.0.0" ? "127.0.0.1" : options_.host, port_);
    Result<std::string> hello = runtime::RpcHello(local, std::chrono::milliseconds(1000));
    if (!hello.ok()) {
      s.state = runtime::WorkerState::kNotAnswering;
      s.error = hello.status().message();
    }
  }
  return s;
}

bool Worker::Reap(bool wait) {
  if (exited_) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, wait ? 0 : WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    exited_ = true;
    wait_status_ = status;
  }
  return exited_;
}

std::string Worker::Wait(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    {
      std::lock_guard lock(mu_);
      if (Reap(false)) return DescribeExit(wait_status_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {};
}

void Worker::Stop() {
  if (status_) status_->Stop(std::chrono::milliseconds(500));
  std::lock_guard lock(mu_);
  if (Reap(false)) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (Clock::now() < deadline && !Reap(false)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!exited_) {
    ::kill(pid_, SIGKILL);
    Reap(true);
  }
}

}  // namespace hangar::server
