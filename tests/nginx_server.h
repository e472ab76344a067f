// A real nginx (Debian nginx-light) for tests: its own configuration, logs
// and pid file in a private folder, listening on 127.0.0.1 at a port chosen
// at run time, started in the foreground and stopped by the destructor. Runs
// as any user. Test code only.
#ifndef HANGAR_TESTS_NGINX_SERVER_H_
#define HANGAR_TESTS_NGINX_SERVER_H_

#include <filesystem>
#include <memory>
#include <string>

namespace hangar::testing {

class NginxServer {
 public:
  // Serves `root` at "/" (Range, ETag as nginx does), at "/norange/" with
  // ranges disabled (max_ranges 0), and at "/slow/" with `limit_rate` per
  // connection. `work_dir` is created and holds config and logs. nullptr (and
  // `error` set) when nginx is not installed or does not start.
  static std::unique_ptr<NginxServer> Start(const std::filesystem::path& work_dir,
                                            const std::filesystem::path& root,
                                            const std::string& slow_rate, std::string* error);
  ~NginxServer();

  std::string Url(const std::string& path) const;
  // The path of the nginx binary, or empty when there is none.
  static std::string Binary();

 private:
  NginxServer() = default;
  int pid_ = -1;
  int port_ = 0;
};

}  // namespace hangar::testing

#endif  // HANGAR_TESTS_NGINX_SERVER_H_
