#include "fetch/remote_header.h"

#include <fcntl.h>
#include <unistd.h>

#include <span>

#include "core/file_util.h"
#include "fetch/url.h"
#include "gguf/parser.h"

namespace hangar::fetch {
namespace {

// Only so much of a server without Range support is read to find a header.
constexpr uint64_t kMaxWholeRead = uint64_t{64} << 20;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

Result<RemoteHeader> ReadRemoteHeader(HttpClient& http, const std::string& url,
                                      const HttpHeaders& headers, uint64_t size_hint,
                                      std::string_view name) {
  RemoteHeader out;
  out.file_size = size_hint;
  uint64_t want = gguf::kFirstFetchBytes;
  for (int attempt = 0; attempt < 6; ++attempt) {
    HttpRequest req;
    req.url = out.final_url.empty() ? url : out.final_url;
    req.headers = headers;
    // Straight to the CDN after the first redirect: without the credentials
    // meant for the first origin.
    if (!SameOrigin(req.url, url)) StripCredentials(req.headers);
    req.range = ByteRange{out.prefix.size(), want - 1};
    req.timeout_ms = 120'000;
    bool ranged = true;
    HttpStreamHandler handler;
    handler.on_response = [&](const HttpResponse& r) -> Status {
      if (r.status == 206) {
        if (auto cr = r.headers.Get("Content-Range")) {
          if (auto total = ParseContentRange(*cr); total && total->total)
            out.file_size = *total->total;
        }
        return Status::Ok();
      }
      ranged = false;
      if (auto len = r.ContentLength()) out.file_size = *len;
      if (!out.prefix.empty() || out.file_size > kMaxWholeRead) {
        return FailedPreconditionError(
            "the server of " + std::string(name) +
            " ignores Range requests, so its GGUF header cannot be read before the download; "
            "pull with --force to skip the fit check");
      }
      return Status::Ok();
    };
    handler.on_body = [&](std::string_view data) -> Status {
      out.prefix.append(data);
      if (!ranged && out.prefix.size() > kMaxWholeRead) {
        return FailedPreconditionError("the header of " + std::string(name) + " is too large");
      }
      return Status::Ok();
    };
    ASSIGN_OR_RETURN(HttpResponse r, http.Stream(req, handler));
    out.final_url = r.url;
    ++out.requests;
    gguf::ParseOptions opts;
    opts.name = std::string(name);
    if (out.file_size > 0) opts.file_size = out.file_size;
    ASSIGN_OR_RETURN(gguf::ParseOutcome parsed, gguf::ParseHeaderPrefix(Bytes(out.prefix), opts));
    if (auto* file = std::get_if<gguf::GgufFile>(&parsed)) {
      out.file = std::move(*file);
      return out;
    }
    const gguf::NeedMore more = std::get<gguf::NeedMore>(parsed);
    if (!ranged || (out.file_size > 0 && out.prefix.size() >= out.file_size)) {
      return DataLossError(std::string(name) + ": the file ends before its GGUF header does");
    }
    want = std::max<uint64_t>(more.suggested_bytes, more.bytes_needed_at_least);
    if (out.file_size > 0) want = std::min(want, out.file_size);
  }
  return DataLossError(std::string(name) + ": the GGUF header did not end after " +
                       std::to_string(out.prefix.size()) + " bytes");
}

namespace {

// Bytes [from, to] of `url` by one Range request (following redirects, the
// credentials kept to their origin). `total` gets the file's size when the
// server tells it.
Result<std::string> FetchRange(HttpClient& http, const std::string& url, const HttpHeaders& headers,
                               uint64_t from, uint64_t to, uint64_t* total, std::string* final_url,
                               std::string_view name) {
  HttpRequest req;
  req.url = final_url->empty() ? url : *final_url;
  req.headers = headers;
  if (!SameOrigin(req.url, url)) StripCredentials(req.headers);
  req.range = ByteRange{from, to};
  req.timeout_ms = 120'000;
  std::string body;
  HttpStreamHandler handler;
  handler.on_response = [&](const HttpResponse& r) -> Status {
    if (r.status == 206) {
      if (auto cr = r.headers.Get("Content-Range")) {
        if (auto t = ParseContentRange(*cr); t && t->total) *total = *t->total;
      }
      return Status::Ok();
    }
    return FailedPreconditionError("the server of " + std::string(name) +
                                   " ignores Range requests, so its header cannot be read alone");
  };
  handler.on_body = [&](std::string_view data) -> Status {
    body.append(data);
    if (body.size() > to - from + 1) return DataLossError(std::string(name) + ": more bytes than asked for");
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(HttpResponse r, http.Stream(req, handler));
  *final_url = r.url;
  return body;
}

}  // namespace

Result<RemoteSafetensors> ReadRemoteSafetensorsHeader(HttpClient& http, const std::string& url,
                                                      const HttpHeaders& headers,
                                                      uint64_t size_hint, std::string_view name) {
  RemoteSafetensors out;
  out.file_size = size_hint;
  std::string final_url;
  constexpr uint64_t kFirst = 64 << 10;
  ASSIGN_OR_RETURN(std::string prefix,
                   FetchRange(http, url, headers, 0, kFirst - 1, &out.file_size, &final_url, name));
  ++out.requests;
  const std::optional<uint64_t> size = out.file_size > 0 ? std::optional(out.file_size) : std::nullopt;
  auto named = [&](const Status& s) { return Status(s.code(), std::string(name) + ": " + s.message()); };
  Result<uint64_t> n = checkpoint::SafetensorsHeaderLength(prefix, size);
  if (!n.ok()) return named(n.status());
  if (prefix.size() < 8 + *n) {
    if (prefix.size() < kFirst) return DataLossError(std::string(name) + ": the file ends inside its header");
    ASSIGN_OR_RETURN(std::string rest, FetchRange(http, url, headers, prefix.size(), 8 + *n - 1,
                                                  &out.file_size, &final_url, name));
    ++out.requests;
    prefix += rest;
  }
  Result<checkpoint::SafetensorsHeader> h = checkpoint::ParseSafetensorsHeader(prefix, size);
  if (!h.ok()) return named(h.status());
  out.header = std::move(*h);
  return out;
}

Result<std::string> ReadRemoteSmallFile(HttpClient& http, const std::string& url,
                                        const HttpHeaders& headers, uint64_t max_bytes,
                                        std::string_view name) {
  HttpRequest req;
  req.url = url;
  req.headers = headers;
  req.timeout_ms = 60'000;
  std::string body;
  HttpStreamHandler handler;
  handler.on_response = [&](const HttpResponse& r) -> Status {
    if (r.status >= 400) return NotFoundError(std::string(name) + ": HTTP " + std::to_string(r.status));
    if (auto len = r.ContentLength(); len && *len > max_bytes) {
      return FailedPreconditionError(std::string(name) + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    return Status::Ok();
  };
  handler.on_body = [&](std::string_view data) -> Status {
    body.append(data);
    if (body.size() > max_bytes) {
      return FailedPreconditionError(std::string(name) + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(HttpResponse r, http.Stream(req, handler));
  (void)r;
  return body;
}

Status WriteSparseCopy(const RemoteHeader& header, const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return UnavailableError("cannot create " + path.string() + ": " + ErrnoText(errno));
  size_t done = 0;
  while (done < header.prefix.size()) {
    const ssize_t n = ::write(fd, header.prefix.data() + done, header.prefix.size() - done);
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return UnavailableError("cannot write " + path.string() + ": " + ErrnoText(err));
    }
    done += static_cast<size_t>(n);
  }
  const uint64_t size = std::max<uint64_t>(header.file_size, header.prefix.size());
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int err = errno;
    ::close(fd);
    return UnavailableError("cannot size " + path.string() + ": " + ErrnoText(err));
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace hangar::fetch
