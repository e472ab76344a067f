#include "fetch/download_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <vector>

#include "core/file_util.h"
#include "core/sha256.h"

namespace hangar {
namespace {

constexpr std::string_view kMagic = "hangar-partial 1";

std::string Sha256Text(std::string_view text) {
  Sha256 h;
  h.Update(text);
  return h.FinishHex();
}

std::optional<uint64_t> Number(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    size_t sp = line.find(' ', i);
    if (sp == std::string_view::npos) sp = line.size();
    if (sp > i) out.push_back(line.substr(i, sp - i));
    i = sp + 1;
  }
  return out;
}

Status Bad(std::string_view why) {
  return DataLossError("partial download state is not usable: " + std::string(why));
}

Status SyncFolder(const std::filesystem::path& folder) {
  int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return UnavailableError("cannot open " + folder.string() + ": " + ErrnoText(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems refuse fsync on folders; the rename itself is atomic anyway.
  if (rc != 0 && err != EINVAL && err != EROFS) {
    return UnavailableError("cannot sync " + folder.string() + ": " + ErrnoText(err));
  }
  return Status::Ok();
}

}  // namespace

std::string SerializeDownloadState(const DownloadState& s) {
  std::string out(kMagic);
  out += "\n";
  out += "size " + (s.size ? std::to_string(*s.size) : std::string("-")) + "\n";
  out += "etag " + (s.etag.empty() ? std::string("-") : s.etag) + "\n";
  out += "sha256 " + (s.expected_sha256.empty() ? std::string("-") : s.expected_sha256) + "\n";
  for (auto [b, e] : s.done.Intervals()) {
    out += "done " + std::to_string(b) + " " + std::to_string(e) + "\n";
  }
  if (s.hash) out += "hash " + std::to_string(s.hash->bytes) + " " + s.hash->WordsHex() + "\n";
  out += "end " + Sha256Text(out) + "\n";
  return out;
}

Result<DownloadState> ParseDownloadState(std::string_view text) {
  size_t end_at = text.rfind("end ");
  if (end_at == std::string_view::npos || (end_at > 0 && text[end_at - 1] != '\n')) {
    return Bad("no end record (the file was cut short)");
  }
  std::string_view body = text.substr(0, end_at);
  std::string_view end_line = text.substr(end_at + 4);
  if (!end_line.empty() && end_line.back() == '\n') end_line.remove_suffix(1);
  if (end_line != Sha256Text(body)) return Bad("checksum of the records does not match");

  DownloadState s;
  bool magic = false, size = false, etag = false, sha = false;
  uint64_t last_end = 0;
  bool first_done = true;
  size_t i = 0;
  while (i < body.size()) {
    size_t nl = body.find('\n', i);
    if (nl == std::string_view::npos) return Bad("a record without line end");
    std::string_view line = body.substr(i, nl - i);
    i = nl + 1;
    if (!magic) {
      if (line != kMagic) return Bad("not a hangar partial state (or another version)");
      magic = true;
      continue;
    }
    std::vector<std::string_view> f = Fields(line);
    if (f.empty()) return Bad("an empty record");
    if (f[0] == "size" && f.size() == 2 && !size) {
      size = true;
      if (f[1] != "-") {
        s.size = Number(f[1]);
        if (!s.size) return Bad("size is not a number");
      }
    } else if (f[0] == "etag" && f.size() == 2 && !etag) {
      etag = true;
      if (f[1] != "-") s.etag = std::string(f[1]);
    } else if (f[0] == "sha256" && f.size() == 2 && !sha) {
      sha = true;
      if (f[1] != "-") {
        if (!IsSha256Hex(f[1])) return Bad("sha256 is not 64 hex digits");
        s.expected_sha256 = std::string(f[1]);
      }
    } else if (f[0] == "done" && f.size() == 3) {
      auto b = Number(f[1]), e = Number(f[2]);
      if (!b || !e || *b >= *e) return Bad("a done range is malformed");
      if (!first_done && *b <= last_end) return Bad("done ranges are not ascending");
      if (s.size && *e > *s.size) return Bad("a done range passes the file size");
      s.done.Add(*b, *e);
      last_end = *e;
      first_done = false;
    } else if (f[0] == "hash" && f.size() == 3 && !s.hash) {
      auto n = Number(f[1]);
      if (!n) return Bad("hash length is not a number");
      auto mid = Sha256Midstate::FromHex(f[2], *n);
      if (!mid.ok()) return Bad(mid.status().message());
      if (!s.done.Covers(0, *n)) return Bad("the hashed prefix is not all written");
      s.hash = *mid;
    } else {
      return Bad("unknown record \"" + std::string(line.substr(0, 40)) + "\"");
    }
  }
  if (!magic || !size || !etag || !sha) return Bad("records missing");
  return s;
}

Result<DownloadState> ReadDownloadState(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  Result<DownloadState> s = ParseDownloadState(text);
  if (!s.ok()) return s.status().WithContext(path.string());
  return s;
}

Status WriteDownloadState(const std::filesystem::path& path, const DownloadState& state) {
  RETURN_IF_ERROR(WriteFileAtomic(path, SerializeDownloadState(state)));
  return SyncFolder(path.parent_path());
}

}  // namespace hangar
