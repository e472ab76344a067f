// Reading the GGUF header of a file that is not downloaded yet, by HTTP
// Range requests: one of gguf::kFirstFetchBytes, then what the parser says
// it still needs (one to three requests for headers up to 16 MiB).
//
// The bytes read are returned with the parsed header, so the fit probe can
// write them into a sparse file of the remote file's full size
// (fit::ProbeMemory needs only the header). Thread-safe as far as the
// HttpClient is.
#ifndef HANGAR_FETCH_REMOTE_HEADER_H_
#define HANGAR_FETCH_REMOTE_HEADER_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "checkpoint/safetensors.h"
#include "core/status.h"
#include "fetch/http_client.h"
#include "gguf/gguf_file.h"

namespace hangar::fetch {

struct RemoteHeader {
  gguf::GgufFile file;
  std::string prefix;      // the first bytes of the file (the whole header)
  uint64_t file_size = 0;  // from Content-Range (or the caller's size)
  int requests = 0;        // Range requests made
  std::string final_url;   // after redirects
};

// `size_hint` (0: unknown) is the file's size when the source knows it.
// FailedPrecondition when the server ignores Range and the file is large
// (the header cannot be read without downloading it); DataLoss or
// InvalidArgument from the parser; errors of the HttpClient.
Result<RemoteHeader> ReadRemoteHeader(HttpClient& http, const std::string& url,
                                      const HttpHeaders& headers, uint64_t size_hint,
                                      std::string_view name);

// The header of a remote .safetensors file, by Range: the first 64 KiB,
// then the rest of the header if it is longer. Errors as above, and those of
// checkpoint::ParseSafetensorsHeader.
struct RemoteSafetensors {
  checkpoint::SafetensorsHeader header;
  uint64_t file_size = 0;
  int requests = 0;
};
Result<RemoteSafetensors> ReadRemoteSafetensorsHeader(HttpClient& http, const std::string& url,
                                                      const HttpHeaders& headers,
                                                      uint64_t size_hint, std::string_view name);

// A small remote file whole (config.json, tokenizer_config.json): at most
// `max_bytes`, else FailedPrecondition.
Result<std::string> ReadRemoteSmallFile(HttpClient& http, const std::string& url,
                                        const HttpHeaders& headers, uint64_t max_bytes,
                                        std::string_view name);

// Writes `header.prefix` at the start of a sparse file of `header.file_size`
// bytes at `path` (what llama.cpp's no-alloc probe reads). Unavailable on
// I/O errors.
Status WriteSparseCopy(const RemoteHeader& header, const std::filesystem::path& path);

}  // namespace hangar::fetch

#endif  // HANGAR_FETCH_REMOTE_HEADER_H_
