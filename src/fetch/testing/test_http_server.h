// TestHttpServer: a real HTTP/1.1 server for tests, on 127.0.0.1 and a port
// the kernel picks, with fault injection. Test code only.
//
// It runs an accept thread plus one thread per connection (keep-alive), and
// stops in its destructor: open connections are shut down, stalled answers
// end, every thread is joined.
//
// Files (from memory or disk) are served with HEAD, single `Range` requests
// (206 + Content-Range, 416 for an offset past the end), ETag and
// Accept-Ranges, and the faults of FileOptions (persistent: no Range support,
// a bearer token, a per-connection rate) and of AddFault (one-shot or counted:
// body cut at a file offset, 503/429 with Retry-After, a stall, one corrupted
// byte).
//
// Adding routes (e.g. the Hugging Face or Ollama registry endpoints): a route
// is a method ("GET" also answers HEAD; "*" is any) and a regex matched
// against the whole path (no query); capture groups land in
// TestRequest::params. A handler fills a TestResponse:
//
//   TestHttpServer hub, cdn("localhost");   // two origins: other host, other port
//   cdn.AddFile("/blobs/abc", content);
//   hub.Route("GET", R"(/([^/]+)/([^/]+)/resolve/([^/]+)/(.+))",
//             [&](const TestRequest& req, TestResponse& res) {
//               res.SetRedirect(cdn.BaseUrl() + "/blobs/abc");
//               res.headers.Add("X-Linked-Etag", "\"" + sha + "\"");
//             });
//   hub.Route("GET", "/api/models/org/repo", [](const TestRequest&, TestResponse& res) {
//     res.SetJson(200, R"({"sha":"..."})");
//   });
//   // A handler can also answer with a registered file, faults included:
//   //   hub.SendFile("/blobs/abc", req, res);
//
// Routes are tried newest first, so a test can override a general route.
// Thread-safe: routes, files and faults may be added while serving.
#ifndef HANGAR_FETCH_TESTING_TEST_HTTP_SERVER_H_
#define HANGAR_FETCH_TESTING_TEST_HTTP_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fetch/http_headers.h"

namespace hangar::testing {

struct TestRequest {
  std::string method;  // "GET", "HEAD", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;
  std::string query;  // without "?"
  HttpHeaders headers;
  std::string body;
  int connection = 0;               // 1 for the server's first connection, 2 ...
  std::vector<std::string> params;  // capture groups of the matched route
};

// Bytes a response body comes from: a string, or a file mapped into memory.
class TestBlob {
 public:
  virtual ~TestBlob() = default;
  virtual std::string_view data() const = 0;
  static std::shared_ptr<const TestBlob> FromString(std::string content);
  // The file's bytes, mapped read-only; aborts the test when it cannot be read.
  static std::shared_ptr<const TestBlob> FromFile(const std::filesystem::path& path);
};

// Writes the pieces of a streamed (chunked) answer. Write() returns false
// once the client is gone or the server stops.
class TestStreamWriter {
 public:
  virtual ~TestStreamWriter() = default;
  virtual bool Write(std::string_view data) = 0;
  // Sleeps, ending early when the server stops; false then.
  virtual bool Sleep(int64_t ms) = 0;
};

// What happens to the body while it is sent (set by SendFile from faults, or
// by hand). Offsets count bytes of this body.
struct BodyFaults {
  std::optional<uint64_t> cut_after;    // close the connection after this many
  std::optional<uint64_t> stall_after;  // then send nothing ...
  int64_t stall_ms = -1;                // ... for this long (-1: until the client leaves)
  std::optional<uint64_t> corrupt_at;   // this byte is sent with its bits flipped
  uint64_t bytes_per_second = 0;        // this connection's rate; 0: no cap
};

struct TestResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;
  // Instead of `body`: bytes [blob_begin, blob_end) of a blob.
  std::shared_ptr<const TestBlob> blob;
  uint64_t blob_begin = 0;
  uint64_t blob_end = 0;
  // Instead of either: a chunked stream produced by this function.
  std::function<void(TestStreamWriter&)> stream;
  BodyFaults faults;
  bool close_connection = false;

  void SetText(int status, std::string body, std::string content_type = "text/plain");
  void SetJson(int status, std::string json);
  void SetRedirect(const std::string& location, int status = 302);
  void SetStream(std::function<void(TestStreamWriter&)> producer,
                 std::string content_type = "application/x-ndjson");
};

struct FileOptions {
  std::optional<std::string> etag;  // quoted ETag; default: derived from size and content
  bool ranges = true;               // false: Range is ignored, always 200 + full body
  std::string bearer_token;         // non-empty: 401 without "Authorization: Bearer <token>"
  uint64_t bytes_per_second = 0;    // per-connection rate of the body; 0: no cap
  HttpHeaders extra_headers;        // added to every answer for the file
};

// A fault of a file path, used by the next `times` requests it fits.
struct Fault {
  enum class Kind { kCut, kStatus, kStall, kCorrupt };
  Kind kind = Kind::kCut;
  uint64_t offset = 0;      // file offset (kCut: first byte not sent; kStall: first byte
                            // held back; kCorrupt: the flipped byte); fits a request whose
                            // body covers it
  int status = 503;         // kStatus
  std::string retry_after;  // kStatus: Retry-After value, empty for none
  int64_t stall_ms = -1;    // kStall: -1 until the client gives up or the server stops
  int times = 1;            // requests affected; -1 every one

  static Fault CutAt(uint64_t offset, int times = 1);
  static Fault Status(int status, std::string retry_after = "", int times = 1);
  static Fault StallAt(uint64_t offset, int64_t stall_ms = -1, int times = 1);
  static Fault CorruptAt(uint64_t offset, int times = 1);
};

class TestHttpServer {
 public:
  using Handler = std::function<void(const TestRequest&, TestResponse&)>;

  // Listens on 127.0.0.1; URLs name the server as `url_host` ("127.0.0.1",
  // or "localhost" for a second origin on the same machine).
  explicit TestHttpServer(std::string url_host = "127.0.0.1");
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT".
  std::string BaseUrl() const;
  std::string Url(std::string_view path) const { return BaseUrl() + std::string(path); }

  void Route(std::string method, std::string path_regex, Handler handler);

  // Serves `content` at `path` (GET and HEAD). Replaces an earlier file there.
  void AddFile(const std::string& path, std::string content, FileOptions options = {});
  void AddFile(const std::string& path, std::shared_ptr<const TestBlob> blob,
               FileOptions options = {});
  void SetFileOptions(const std::string& path, FileOptions options);
  void AddFault(const std::string& path, Fault fault);
  void ClearFaults(const std::string& path);

  // Answers `req` with the file registered at `file_path` (Range, ETag,
  // options and faults applied); 404 when there is none.
  void SendFile(const std::string& file_path, const TestRequest& req, TestResponse& res);

  // Requests received so far (every path), in arrival order.
  std::vector<TestRequest> Requests() const;
  int RequestCount(std::string_view path) const;
  int ConnectionCount() const { return connections_.load(); }
  // Body bytes written to clients so far.
  uint64_t BodyBytesSent() const { return body_bytes_.load(); }

 private:
  struct RouteEntry;
  struct FileEntry;
  class ConnectionWriter;

  void AcceptLoop();
  void ServeConnection(int fd, int number);
  void Dispatch(TestRequest& req, TestResponse& res);
  // Sends head and body; false when the connection must close.
  bool WriteResponse(int fd, const TestRequest& req, TestResponse& res);
  bool WaitStopped(int fd, int64_t ms);  // true when the server stopped or the peer left

  std::string url_host_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<uint64_t> body_bytes_{0};
  std::thread accept_thread_;

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  std::vector<std::shared_ptr<RouteEntry>> routes_;
  std::map<std::string, std::shared_ptr<FileEntry>> files_;
  std::vector<TestRequest> log_;
  std::vector<std::thread> threads_;
  std::vector<int> open_fds_;
};

}  // namespace hangar::testing

#endif  // HANGAR_FETCH_TESTING_TEST_HTTP_SERVER_H_
