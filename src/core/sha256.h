// SHA-256 over OpenSSL's EVP interface (SHA-NI when the CPU has it).
//
// Sha256 is an incremental hasher: Update() any number of times, then
// Finish() once. One object is not thread-safe; separate objects are.
#ifndef HANGAR_CORE_SHA256_H_
#define HANGAR_CORE_SHA256_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hangar {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::span<const uint8_t> data);
  void Update(std::string_view data);
  // Lower-case hex digest (64 characters). The hasher must not be used after.
  std::string FinishHex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Hex SHA-256 of a whole file. NotFound / Unavailable on I/O errors.
Result<std::string> Sha256File(const std::filesystem::path& path);

// Git's object id of a blob holding `content`: the hex SHA-1 of
// "blob <size>\0" + content (what the Hugging Face hub calls a file's oid).
std::string GitBlobSha1(std::string_view content);

// True for 64 hex digits (either case).
bool IsSha256Hex(std::string_view text);

}  // namespace hangar

#endif  // HANGAR_CORE_SHA256_H_
