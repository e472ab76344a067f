// DownloadState: what a partial download has on disk, persisted beside the
// partial file so a download resumes after Ctrl-C, SIGKILL or a power loss.
//
// On-disk format (text, one record per line, "\n" line ends):
//
//   hangar-partial 1                 magic and version
//   size 2147483648                  total bytes of the remote file, or "size -" if unknown
//   etag 5f1a-80000000               validator of the remote file ("-": none); a different
//                                    one on resume means the file changed: start over
//   sha256 3f2a...                   expected digest ("-": unknown); must match the request
//   done 0 41943040                  written bytes [begin, end), ascending, disjoint;
//   done 50331648 58720256           any number of lines
//   hash 33554432 6a09e667bb67...    optional: SHA-256 midstate (resumable_sha256.h) after
//                                    the first N bytes (N a multiple of 64, inside done)
//   end 9c1d...                      SHA-256 of every byte before this line
//
// A file without a valid `end` line (torn, edited, truncated) is rejected as
// a whole: the download then starts over, it never trusts half a record.
//
// Durability: the downloader writes a state only after fdatasync() of the
// partial file, and takes the `done` ranges and the hash midstate before that
// sync, so every range a state names is on disk even after a power loss. It
// writes one before a run's first byte too, so a partial file of Hangar's
// never lacks a state (one without, as other tools leave them, is taken as a
// prefix of the file).
// WriteDownloadState() writes a sibling temporary file, fsyncs it, renames it
// over the old state and fsyncs the folder: a reader sees the old or the new
// state, never a mix.
#ifndef HANGAR_FETCH_DOWNLOAD_STATE_H_
#define HANGAR_FETCH_DOWNLOAD_STATE_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "fetch/range_set.h"
#include "fetch/resumable_sha256.h"

namespace hangar {

struct DownloadState {
  std::optional<uint64_t> size;
  std::string etag;             // empty: none
  std::string expected_sha256;  // empty: unknown
  RangeSet done;
  std::optional<Sha256Midstate> hash;

  friend bool operator==(const DownloadState&, const DownloadState&) = default;
};

std::string SerializeDownloadState(const DownloadState& state);

// DataLoss when the text is not a complete, intact state (names what is wrong).
Result<DownloadState> ParseDownloadState(std::string_view text);

// NotFound when there is no state file; DataLoss as above; Unavailable on I/O errors.
Result<DownloadState> ReadDownloadState(const std::filesystem::path& path);

// Atomic and durable replacement (see above). Unavailable on I/O errors.
Status WriteDownloadState(const std::filesystem::path& path, const DownloadState& state);

}  // namespace hangar

#endif  // HANGAR_FETCH_DOWNLOAD_STATE_H_
