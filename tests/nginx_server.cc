#include "nginx_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "process.h"

namespace hangar::testing {
namespace {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool Accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::string NginxServer::Binary() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

std::unique_ptr<NginxServer> NginxServer::Start(const std::filesystem::path& work_dir,
                                                const std::filesystem::path& root,
                                                const std::string& slow_rate, std::string* error) {
  std::string bin = Binary();
  if (bin.empty()) {
    *error = "nginx is not installed (Debian package nginx-light)";
    return nullptr;
  }
  std::filesystem::create_directories(work_dir / "tmp");
  std::unique_ptr<NginxServer> server(new NginxServer());
  server->port_ = FreePort();
  const std::string w = work_dir.string(), r = std::filesystem::absolute(root).string();
  std::ofstream conf(work_dir / "nginx.conf");
  if (::geteuid() == 0) conf << "user root;\n";  // workers may read the test's private files
  conf << "worker_processes 1;\ndaemon off;\npid " << w << "/nginx.pid;\nerror_log " << w
       << "/error.log warn;\nevents { worker_connections 512; }\nhttp {\n  access_log " << w
       << "/access.log;\n  client_body_temp_path " << w << "/tmp/body;\n  proxy_temp_path " << w
       << "/tmp/proxy;\n  fastcgi_temp_path " << w << "/tmp/fastcgi;\n  uwsgi_temp_path " << w
       << "/tmp/uwsgi;\n  scgi_temp_path " << w
       << "/tmp/scgi;\n  default_type application/octet-stream;\n  sendfile on;\n"
       << "  keepalive_requests 100000;\n  server {\n    listen 127.0.0.1:" << server->port_
       << ";\n    root " << r << ";\n    location /norange/ { alias " << r
       << "/; max_ranges 0; }\n    location /slow/ { alias " << r << "/; limit_rate " << slow_rate
       << "; }\n  }\n}\n";
  conf.close();
  server->pid_ =
      SpawnProcess({bin, "-p", w, "-e", w + "/error.log", "-c", w + "/nginx.conf"},
                   {{"PATH", "/usr/sbin:/usr/bin:/bin"}}, w + "/stdout.log", w + "/stderr.log");
  for (int i = 0; i < 500; ++i) {
    if (Accepts(server->port_)) return server;
    int status;
    if (::waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
      server->pid_ = -1;
      std::ifstream log(w + "/stderr.log");
      *error = "nginx did not start: " + std::string(std::istreambuf_iterator<char>(log), {});
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  *error = "nginx did not listen on its port within 5 s";
  return nullptr;
}

NginxServer::~NginxServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    WaitProcess(pid_);
  }
}

std::string NginxServer::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

}  // namespace hangar::testing
