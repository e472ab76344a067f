// OpenSSL 3 marks the SHA256_CTX functions deprecated in favour of EVP, which
// offers no way to save a midstate. They remain part of the public API.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "fetch/resumable_sha256.h"

#include <openssl/sha.h>

#include <cstdio>

namespace hangar {

struct ResumableSha256::Ctx {
  SHA256_CTX c;
};

std::string Sha256Midstate::WordsHex() const {
  std::string out;
  char buf[9];
  for (uint32_t w : h) {
    std::snprintf(buf, sizeof buf, "%08x", w);
    out += buf;
  }
  return out;
}

Result<Sha256Midstate> Sha256Midstate::FromHex(std::string_view hex, uint64_t bytes) {
  if (hex.size() != 64 || bytes % 64 != 0) {
    return InvalidArgumentError("not a SHA-256 midstate: " + std::string(hex.substr(0, 80)) +
                                " after " + std::to_string(bytes) + " bytes");
  }
  Sha256Midstate s;
  s.bytes = bytes;
  for (size_t i = 0; i < 8; ++i) {
    uint32_t w = 0;
    for (size_t j = 0; j < 8; ++j) {
      char c = hex[i * 8 + j];
      int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (v < 0) return InvalidArgumentError("not a SHA-256 midstate: " + std::string(hex));
      w = (w << 4) | static_cast<uint32_t>(v);
    }
    s.h[i] = w;
  }
  return s;
}

ResumableSha256::ResumableSha256() : ctx_(std::make_unique<Ctx>()) { SHA256_Init(&ctx_->c); }

ResumableSha256::ResumableSha256(const Sha256Midstate& state) : ResumableSha256() {
  for (size_t i = 0; i < 8; ++i) ctx_->c.h[i] = state.h[i];
  const uint64_t bits = state.bytes * 8;
  ctx_->c.Nl = static_cast<SHA_LONG>(bits & 0xffffffffu);
  ctx_->c.Nh = static_cast<SHA_LONG>(bits >> 32);
  ctx_->c.num = 0;
  bytes_ = state.bytes;
}

ResumableSha256::~ResumableSha256() = default;
ResumableSha256::ResumableSha256(ResumableSha256&&) noexcept = default;
ResumableSha256& ResumableSha256::operator=(ResumableSha256&&) noexcept = default;

void ResumableSha256::Update(std::string_view data) {
  SHA256_Update(&ctx_->c, data.data(), data.size());
  bytes_ += data.size();
}

std::optional<Sha256Midstate> ResumableSha256::Midstate() const {
  if (bytes_ % 64 != 0 || ctx_->c.num != 0) return std::nullopt;
  Sha256Midstate s;
  for (size_t i = 0; i < 8; ++i) s.h[i] = ctx_->c.h[i];
  s.bytes = bytes_;
  return s;
}

std::string ResumableSha256::FinishHex() {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, &ctx_->c);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace hangar
