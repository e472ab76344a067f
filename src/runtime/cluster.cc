#include "runtime/cluster.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <span>

#include "runtime/http_wire.h"

namespace hangar::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// llama.cpp's RPC command number of HELLO (fixed across protocol versions)
// and the size of its request: the connection capabilities.
constexpr uint8_t kRpcHello = 14;
constexpr uint64_t kRpcHelloRequestSize = 24;
constexpr uint64_t kRpcHelloResponseSize = 4 + kRpcHelloRequestSize;

std::pair<std::string, std::string> SplitEndpoint(std::string_view endpoint) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) return {std::string(endpoint), ""};
  return {std::string(endpoint.substr(0, colon)), std::string(endpoint.substr(colon + 1))};
}

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// Waits for `events` on `fd` until `deadline`: 1 ready, 0 timed out, -1 error.
int WaitFd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, RemainingMs(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return r;
    return 1;
  }
}

// Connects `fd` (non-blocking) to `addr` before `deadline`.
Status ConnectTcp(int fd, const sockaddr* addr, socklen_t len, Clock::time_point deadline,
                  std::string_view endpoint) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (::connect(fd, addr, len) != 0 && errno != EINPROGRESS) {
    return UnavailableError(fmt::format("{}: {}", endpoint, std::strerror(errno)));
  }
  if (WaitFd(fd, POLLOUT, deadline) != 1) {
    return UnavailableError(fmt::format("{}: no connection within the timeout", endpoint));
  }
  int err = 0;
  socklen_t err_len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0) return UnavailableError(fmt::format("{}: {}", endpoint, std::strerror(err)));
  return Status::Ok();
}

// Reads exactly out.size() bytes from `socket`.
Status ReadExact(wire::Socket& socket, std::span<char> out, std::string_view endpoint) {
  while (!out.empty()) {
    Result<size_t> n = socket.ReadSome(out);
    if (!n.ok()) {
      return UnavailableError(fmt::format(
          "{} accepted the connection but did not answer the RPC handshake (busy with another "
          "client, or stopped): {}",
          endpoint, n.status().message()));
    }
    if (*n == 0) return UnavailableError(fmt::format("{} closed the connection", endpoint));
    out = out.subspan(*n);
  }
  return Status::Ok();
}

uint64_t ReadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void WriteLe64(uint64_t v, uint8_t* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

std::string_view WorkerStateName(WorkerState state) {
  switch (state) {
    case WorkerState::kUp:
      return "up";
    case WorkerState::kNotAnswering:
      return "not answering";
    default:
      return "down";
  }
}

std::string StatusEndpoint(std::string_view endpoint) {
  auto [host, port] = SplitEndpoint(endpoint);
  return fmt::format("{}:{}", host, std::atoi(port.c_str()) + 1);
}

Json ToJson(const WorkerStatus& s) {
  Json devices = Json::array();
  for (const WorkerDevice& d : s.devices) {
    devices.push_back(
        {{"name", d.name}, {"description", d.description}, {"total", d.total}, {"free", d.free}});
  }
  return Json{{"endpoint", s.endpoint},
              {"state", WorkerStateName(s.state)},
              {"error", s.error},
              {"devices", devices},
              {"capacity", s.capacity},
              {"used", s.used},
              {"available", s.available},
              {"clients", s.clients},
              {"threads", s.threads},
              {"cache", s.cache},
              {"rpc_version", s.rpc_version},
              {"hangar_version", s.hangar_version},
              {"latency_ms", s.latency_ms}};
}

Result<WorkerStatus> WorkerStatusFromJson(const Json& j) {
  if (!j.is_object()) return InvalidArgumentError("a worker's status is not a JSON object");
  WorkerStatus s;
  auto number = [&](const char* key, uint64_t* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned()) {
      return InvalidArgumentError(fmt::format("a worker's status lacks \"{}\" (bytes)", key));
    }
    *out = it->get<uint64_t>();
    return Status::Ok();
  };
  RETURN_IF_ERROR(number("capacity", &s.capacity));
  RETURN_IF_ERROR(number("used", &s.used));
  RETURN_IF_ERROR(number("available", &s.available));
  auto devices = j.find("devices");
  if (devices == j.end() || !devices->is_array()) {
    return InvalidArgumentError("a worker's status lacks \"devices\"");
  }
  for (const Json& d : *devices) {
    if (!d.is_object() || !d.contains("name") || !d["name"].is_string()) {
      return InvalidArgumentError("a worker's device has no name");
    }
    WorkerDevice dev;
    dev.name = d["name"].get<std::string>();
    dev.description = d.value("description", "");
    dev.total = d.value("total", uint64_t{0});
    dev.free = d.value("free", uint64_t{0});
    s.devices.push_back(std::move(dev));
  }
  s.endpoint = j.value("endpoint", "");
  const std::string state = j.value("state", "up");
  s.state = state == "up"              ? WorkerState::kUp
            : state == "not answering" ? WorkerState::kNotAnswering
                                       : WorkerState::kDown;
  s.error = j.value("error", "");
  s.clients = j.value("clients", 0);
  s.threads = j.value("threads", 0);
  s.cache = j.value("cache", false);
  s.rpc_version = j.value("rpc_version", "");
  s.hangar_version = j.value("hangar_version", "");
  s.latency_ms = j.value("latency_ms", 0.0);
  return s;
}

WorkerStatus ProbeWorker(HttpClient& http, std::string_view endpoint,
                         std::chrono::milliseconds timeout) {
  WorkerStatus down;
  down.endpoint = std::string(endpoint);
  HttpRequest req;
  req.url = fmt::format("http://{}/status", StatusEndpoint(endpoint));
  req.connect_timeout_ms = timeout.count();
  req.timeout_ms = timeout.count();
  req.stall_timeout_ms = timeout.count();
  req.max_redirects = 0;
  const auto started = Clock::now();
  Result<HttpResponse> r = http.Fetch(req, 1 << 20);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (!r.ok()) {
    const bool timed_out = ms >= static_cast<double>(timeout.count()) * 0.95;
    down.state = timed_out ? WorkerState::kNotAnswering : WorkerState::kDown;
    down.error = timed_out ? fmt::format("no answer within {} ms", timeout.count())
                           : fmt::format("unreachable: {}", r.status().message());
    return down;
  }
  Json doc = Json::parse(r->body, nullptr, false);
  Result<WorkerStatus> s = WorkerStatusFromJson(doc);
  if (!s.ok()) {
    down.error = fmt::format("not a hangar worker: {}", s.status().message());
    return down;
  }
  s->endpoint = std::string(endpoint);
  s->latency_ms = ms;
  return *std::move(s);
}

Result<std::string> RpcHello(std::string_view endpoint, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto [host, port] = SplitEndpoint(endpoint);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return UnavailableError(fmt::format("{}: {}", endpoint, ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(fmt::format("socket: {}", std::strerror(errno)));
  wire::Socket socket(fd);
  RETURN_IF_ERROR(ConnectTcp(fd, found->ai_addr, found->ai_addrlen, deadline, endpoint));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  socket.set_deadline(
      wire::After(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())));
  uint8_t request[1 + 8 + kRpcHelloRequestSize] = {};
  request[0] = kRpcHello;
  WriteLe64(kRpcHelloRequestSize, request + 1);
  if (Status s =
          socket.WriteAll(std::string_view(reinterpret_cast<char*>(request), sizeof request));
      !s.ok()) {
    return UnavailableError(fmt::format("{}: {}", endpoint, s.message()));
  }
  uint8_t size[8];
  RETURN_IF_ERROR(
      ReadExact(socket, std::span(reinterpret_cast<char*>(size), sizeof size), endpoint));
  if (ReadLe64(size) != kRpcHelloResponseSize) {
    return UnavailableError(fmt::format(
        "{} answered the RPC handshake with {} bytes, not {}: not llama.cpp's RPC protocol 7",
        endpoint, ReadLe64(size), kRpcHelloResponseSize));
  }
  uint8_t response[kRpcHelloResponseSize];
  RETURN_IF_ERROR(
      ReadExact(socket, std::span(reinterpret_cast<char*>(response), sizeof response), endpoint));
  return fmt::format("{}.{}.{}", response[0], response[1], response[2]);
}

Cluster::Cluster(std::vector<std::string> workers, HttpClient* http,
                 std::chrono::milliseconds timeout)
    : workers_(std::move(workers)), http_(http), timeout_(timeout) {
  for (const std::string& w : workers_) {
    WorkerStatus s;
    s.endpoint = w;
    s.error = "not probed yet";
    last_.push_back(std::move(s));
  }
}

std::vector<WorkerStatus> Cluster::Probe() {
  std::vector<std::future<WorkerStatus>> pending;
  for (const std::string& w : workers_) {
    pending.push_back(
        std::async(std::launch::async, [this, w] { return ProbeWorker(*http_, w, timeout_); }));
  }
  std::vector<WorkerStatus> statuses;
  for (auto& p : pending) statuses.push_back(p.get());
  Update(statuses);
  return statuses;
}

std::vector<WorkerStatus> Cluster::Last() const {
  std::lock_guard lock(mu_);
  return last_;
}

void Cluster::MarkDown(std::string_view endpoint, std::string why) {
  std::lock_guard lock(mu_);
  for (WorkerStatus& s : last_) {
    if (s.endpoint != endpoint) continue;
    if (s.state != WorkerState::kDown) generation_.fetch_add(1);
    s.state = WorkerState::kDown;
    s.error = std::move(why);
  }
}

void Cluster::Update(std::vector<WorkerStatus> statuses) {
  std::lock_guard lock(mu_);
  bool changed = statuses.size() != last_.size();
  for (size_t i = 0; !changed && i < statuses.size(); ++i) {
    changed = statuses[i].state != last_[i].state || statuses[i].capacity != last_[i].capacity;
  }
  last_ = std::move(statuses);
  if (changed) generation_.fetch_add(1);
}

}  // namespace hangar::runtime
