#include "store/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

namespace hangar::store {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "sha256-";
constexpr std::string_view kPartial = "-partial";

Status FsyncPath(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return UnavailableError("cannot open " + path.string());
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return UnavailableError("cannot fsync " + path.string());
  return Status::Ok();
}

}  // namespace

Status ValidateSha256(std::string_view hex) {
  if (hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    return Status::Ok();
  }
  return InvalidArgumentError("'" + std::string(hex) +
                              "' is not a SHA-256 digest (64 lowercase hex digits)");
}

fs::path BlobStore::BlobPath(std::string_view hex) const {
  return root_ / "blobs" / (std::string(kPrefix) + std::string(hex));
}

fs::path BlobStore::PartialPath(std::string_view hex) const {
  return root_ / "blobs" / (std::string(kPrefix) + std::string(hex) + std::string(kPartial));
}

fs::path BlobStore::LockPath(std::string_view hex) const {
  return root_ / "blobs" / ".locks" / (std::string(kPrefix) + std::string(hex) + ".lock");
}

bool BlobStore::Has(std::string_view hex) const {
  std::error_code ec;
  return fs::is_regular_file(BlobPath(hex), ec);
}

Result<fs::path> BlobStore::Adopt(const fs::path& file, std::string_view hex,
                                  bool keep_source) const {
  RETURN_IF_ERROR(ValidateSha256(hex));
  const fs::path blob = BlobPath(hex);
  std::error_code ec;
  fs::create_directories(blob.parent_path(), ec);
  if (ec)
    return UnavailableError("cannot create " + blob.parent_path().string() + ": " + ec.message());
  if (Has(hex)) {
    if (!keep_source) fs::remove(file, ec);
    return blob;
  }
  const fs::path tmp = blob.string() + ".adopt-" + std::to_string(getpid());
  if (!keep_source) {
    fs::rename(file, blob, ec);
    if (!ec) return blob;
    ec.clear();  // another file system: copy, then remove
  }
  fs::copy_file(file, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    fs::remove(tmp);
    return UnavailableError("cannot copy " + file.string() + " into " + blob.string() + ": " +
                            ec.message());
  }
  RETURN_IF_ERROR(FsyncPath(tmp));
  fs::rename(tmp, blob, ec);
  if (ec) {
    fs::remove(tmp);
    return UnavailableError("cannot create " + blob.string() + ": " + ec.message());
  }
  if (!keep_source) fs::remove(file, ec);
  return blob;
}

std::vector<BlobStore::Blob> BlobStore::List() const {
  std::vector<Blob> blobs;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(root_ / "blobs", ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(kPrefix) || name.size() != kPrefix.size() + 64) continue;
    const std::string hex = name.substr(kPrefix.size());
    std::error_code fec;
    if (!ValidateSha256(hex).ok() || !e.is_regular_file(fec)) continue;
    blobs.push_back({hex, e.path(), e.file_size(fec)});
  }
  std::sort(blobs.begin(), blobs.end(),
            [](const Blob& a, const Blob& b) { return a.sha256 < b.sha256; });
  return blobs;
}

std::vector<fs::path> BlobStore::Partials() const {
  std::vector<fs::path> partials;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(root_ / "blobs", ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(kPrefix) && name.find(kPartial) != std::string::npos) {
      partials.push_back(e.path());
    }
  }
  std::sort(partials.begin(), partials.end());
  return partials;
}

}  // namespace hangar::store
