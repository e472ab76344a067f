#include "runtime/runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <thread>

namespace hangar::runtime {
namespace {

using Clock = std::chrono::steady_clock;

std::string RandomKey() {
  unsigned char bytes[24];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  std::string key;
  for (unsigned char b : bytes) key += fmt::format("{:02x}", b);
  return key;
}

// Forks every runner from one thread that lives as long as the process:
// PR_SET_PDEATHSIG fires when the thread that forked ends, and request
// threads come and go.
class Launcher {
 public:
  static Launcher& Get() {
    static Launcher* launcher = new Launcher();  // never destroyed: its thread runs until exit
    return *launcher;
  }

  // fork + exec of argv[0] with stdout and stderr to `log_fd`. Returns the
  // pid, or -errno.
  pid_t Launch(const std::vector<std::string>& argv, int log_fd) {
    std::packaged_task<pid_t()> task([&] { return Fork(argv, log_fd); });
    auto result = task.get_future();
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return result.get();
  }

 private:
  Launcher() : thread_([this] { Loop(); }) { thread_.detach(); }

  void Loop() {
    for (;;) {
      std::packaged_task<pid_t()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  static pid_t Fork(const std::vector<std::string>& argv, int log_fd) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
      // Only async-signal-safe calls from here on.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      sigset_t none;
      ::sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the server blocks SIGTERM for sigwait
      if (::getppid() != parent) ::_exit(127);
      int null_fd = ::open("/dev/null", O_RDONLY);
      if (null_fd >= 0) ::dup2(null_fd, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::setpgid(0, 0);  // a terminal's ^C reaches the server, which stops its runners
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    return pid;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<pid_t()>> tasks_;
  std::thread thread_;
};

std::string DescribeWaitStatus(int status) {
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  }
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  return "ended";
}

std::string TailOf(const std::filesystem::path& file, size_t lines) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff start = std::max<std::streamoff>(0, size - 64 * 1024);
  in.seekg(start);
  std::string text(static_cast<size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  size_t pos = text.size();
  for (size_t n = 0; n < lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos || pos == 0 ? text : text.substr(pos + 1);
}

// 200 from /health: ready; 503: still loading; anything else is an error.
Result<bool> Healthy(const std::filesystem::path& socket) {
  auto conn = wire::Socket::ConnectUnix(socket, wire::After(std::chrono::milliseconds(500)));
  if (!conn.ok()) return false;  // not listening yet
  conn->set_deadline(wire::After(std::chrono::seconds(2)));
  wire::HttpRequest req{
      .method = "GET", .target = "/health", .headers = {}, .body = {}, .keep_alive = false};
  if (!wire::WriteRequest(*conn, req).ok()) return false;
  wire::ResponseReader reader(&*conn);
  auto head = reader.ReadHead();
  if (!head.ok()) return false;
  if (head->status == 200) return true;
  if (head->status == 503) return false;
  return UnavailableError(fmt::format("llama-server's /health answered {}", head->status));
}

}  // namespace

std::vector<std::string> RunnerCommandLine(const RunnerConfig& c, const std::string& api_key) {
  std::vector<std::string> args = {
      c.binary.string(),
      "--model",
      c.model.string(),
      "--host",
      c.socket.string(),
      "--api-key",
      api_key,
      "--alias",
      c.alias.empty() ? c.model.filename().string() : c.alias,
      "--no-webui",
      "--offline",
      "--jinja",
      "--ctx-size",
      std::to_string(static_cast<uint64_t>(c.ctx_per_slot) * c.parallel),
      "--parallel",
      std::to_string(c.parallel),
      "--n-gpu-layers",
      std::to_string(c.n_gpu_layers),
      "--batch-size",
      std::to_string(c.n_batch),
      "--ubatch-size",
      std::to_string(c.n_ubatch),
      "--flash-attn",
      c.flash_attn,
      "--cache-type-k",
      c.type_k,
      "--cache-type-v",
      c.type_v,
  };
  if (c.threads > 0) {
    args.insert(args.end(), {"--threads", std::to_string(c.threads)});
  }
  if (!c.rpc_servers.empty()) {
    args.insert(args.end(), {"--rpc", fmt::format("{}", fmt::join(c.rpc_servers, ","))});
  }
  if (!c.tensor_split.empty()) {
    std::vector<std::string> shares;
    for (double d : c.tensor_split) shares.push_back(fmt::format("{:.6g}", d));
    args.insert(args.end(), {"--tensor-split", fmt::format("{}", fmt::join(shares, ","))});
  }
  if (!c.mmap) args.push_back("--no-mmap");
  if (c.embedding) args.push_back("--embedding");
  if (c.embedding && !c.pooling.empty()) args.insert(args.end(), {"--pooling", c.pooling});
  if (c.mmproj) args.insert(args.end(), {"--mmproj", c.mmproj->string()});
  if (c.chat_template_file) {
    args.insert(args.end(), {"--chat-template-file", c.chat_template_file->string()});
  }
  return args;
}

Runner::Runner(RunnerConfig config, std::string api_key, pid_t pid)
    : config_(std::move(config)), api_key_(std::move(api_key)), pid_(pid) {}

Runner::~Runner() { Stop(); }

Result<std::unique_ptr<Runner>> Runner::Start(const RunnerConfig& config,
                                              const std::atomic<bool>* cancel) {
  if (::access(config.binary.c_str(), X_OK) != 0) {
    return FailedPreconditionError(fmt::format(
        "llama-server not found at {}; run scripts/build-llama", config.binary.string()));
  }
  std::error_code ec;
  std::filesystem::remove(config.socket, ec);
  int log_fd = ::open(config.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    return UnavailableError(
        fmt::format("cannot open {}: {}", config.log_file.string(), std::strerror(errno)));
  }
  const std::string key = RandomKey();
  const auto started = Clock::now();
  pid_t pid = Launcher::Get().Launch(RunnerCommandLine(config, key), log_fd);
  ::close(log_fd);
  if (pid < 0) return UnavailableError(fmt::format("fork: {}", std::strerror(-pid)));
  std::unique_ptr<Runner> runner(new Runner(config, key, pid));

  const auto deadline = started + config.load_timeout;
  // Polled often: the time from ready to answered is part of every first
  // request (a refused connection costs microseconds).
  const auto pause = std::chrono::milliseconds(2);
  for (;;) {
    auto healthy = Healthy(config.socket);
    if (healthy.ok() && *healthy) break;
    if (!runner->Alive()) {
      return UnavailableError(fmt::format("llama-server for {} {} while loading; its log ends:\n{}",
                                          config.model.filename().string(),
                                          runner->ExitDescription(), runner->LogTail(12)));
    }
    if (!healthy.ok()) {
      runner->Stop();
      return healthy.status();
    }
    if (cancel != nullptr && cancel->load()) {
      runner->Stop();
      return CancelledError(fmt::format("loading {} was cancelled", config.alias));
    }
    if (Clock::now() >= deadline) {
      runner->Stop(std::chrono::milliseconds(0));
      return UnavailableError(fmt::format(
          "llama-server for {} was not ready within {} s and was stopped; its log ends:\n{}",
          config.model.filename().string(),
          std::chrono::duration_cast<std::chrono::seconds>(config.load_timeout).count(),
          runner->LogTail(12)));
    }
    std::this_thread::sleep_for(pause);
  }
  runner->load_duration_ = Clock::now() - started;
  return runner;
}

bool Runner::ReapLocked(bool wait) {
  if (exited_) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, wait ? 0 : WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    exited_ = true;
    wait_status_ = status;
  }
  return exited_;
}

bool Runner::Alive() {
  std::lock_guard lock(mu_);
  return !ReapLocked(false);
}

std::string Runner::ExitDescription() {
  std::lock_guard lock(mu_);
  if (!ReapLocked(false)) return {};
  return DescribeWaitStatus(wait_status_);
}

void Runner::Stop(std::chrono::milliseconds grace) {
  std::lock_guard lock(mu_);
  if (ReapLocked(false)) return;
  if (grace.count() > 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + grace;
    while (Clock::now() < deadline) {
      if (ReapLocked(false)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  if (!exited_) {
    ::kill(pid_, SIGKILL);
    ReapLocked(true);
  }
  std::error_code ec;
  std::filesystem::remove(config_.socket, ec);
}

Result<wire::Socket> Runner::Connect(wire::Deadline deadline) const {
  return wire::Socket::ConnectUnix(config_.socket, deadline);
}

wire::HeaderList Runner::AuthHeaders() const { return {{"Authorization", "Bearer " + api_key_}}; }

std::string Runner::LogTail(size_t lines) const { return TailOf(config_.log_file, lines); }

}  // namespace hangar::runtime
