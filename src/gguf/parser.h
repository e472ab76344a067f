// Reading the metadata of GGUF files (layout in gguf/gguf_file.h): from a
// local file, from a whole file in memory, or from a prefix of a remote file,
// where the reader says how many more bytes it needs so that a remote caller
// gets the header with one to three HTTP Range requests:
//
//   std::string buf = Fetch(0, kFirstFetchBytes);
//   for (;;) {
//     ASSIGN_OR_RETURN(ParseOutcome out, ParseHeaderPrefix(AsBytes(buf), opts));
//     if (auto* file = std::get_if<GgufFile>(&out)) return *file;
//     buf += Fetch(buf.size(), std::get<NeedMore>(out).suggested_bytes);
//   }
//
// Tensor data is never read. Input is treated as hostile: every count,
// length, type id, dimension, offset and the alignment is checked, integer
// overflow included, before it is used, and memory grows with the bytes
// actually present, never with a count read from the file. A malformed file
// gives DataLoss (InvalidArgument when it is not GGUF at all or of an
// unsupported version) with a message "<name>: offset <n>: <what>".
//
// Functions are thread-safe: they share no state.
#ifndef HANGAR_GGUF_PARSER_H_
#define HANGAR_GGUF_PARSER_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "gguf/gguf_file.h"

namespace hangar::gguf {

// Limits on what a file may declare.
inline constexpr uint64_t kMaxTensors = uint64_t{1} << 20;
inline constexpr uint64_t kMaxKeyValues = uint64_t{1} << 20;
inline constexpr uint64_t kMaxStringBytes = uint64_t{64} << 20;
inline constexpr uint64_t kMaxArrayElements = uint64_t{1} << 30;
inline constexpr uint32_t kMaxArrayDepth = 8;        // arrays of arrays of ...
inline constexpr uint64_t kMaxTensorNameBytes = 63;  // GGML_MAX_NAME - 1
inline constexpr uint64_t kMaxHeaderBytes = uint64_t{1} << 30;
// Arrays of at most this many elements keep all of them; longer ones keep
// the first kPreviewElements. At most kMaxKeptElements array elements are
// kept per file.
inline constexpr uint64_t kSmallArrayElements = 1024;
inline constexpr uint64_t kPreviewElements = 8;
inline constexpr uint64_t kMaxKeptElements = uint64_t{1} << 18;

// A good size for the first request of a remote header.
inline constexpr uint64_t kFirstFetchBytes = uint64_t{1} << 20;

struct ParseOptions {
  // How the file is named in messages ("model.gguf: offset 12: ...").
  std::string name = "GGUF data";
  // Size of the whole file, when known (a remote file's Content-Range total).
  // ParseHeader takes the buffer's size when this is unset.
  std::optional<uint64_t> file_size;
  // Requires every tensor's data to lie within file_size. Turn off for files
  // that hold only the metadata (gguf_write_to_file with only_meta).
  bool check_tensor_data = true;
};

// The prefix ends before the header does.
struct NeedMore {
  // The header certainly does not end before this file offset.
  uint64_t bytes_needed_at_least = 0;
  // Fetch the prefix up to this offset next: at least bytes_needed_at_least,
  // at most the file size when known. Grows fast enough that a header of up
  // to 16 MiB takes three requests starting from kFirstFetchBytes.
  uint64_t suggested_bytes = 0;
};

using ParseOutcome = std::variant<GgufFile, NeedMore>;

// Parses the header from `prefix`, the first bytes of a file. A complete
// GgufFile once the prefix holds every tensor info; NeedMore while it does
// not; DataLoss/InvalidArgument when the bytes present are malformed, or when
// options.file_size is known and the header cannot fit in it.
Result<ParseOutcome> ParseHeaderPrefix(std::span<const uint8_t> prefix,
                                       const ParseOptions& options);

// Parses the header of a whole file held in `file`. DataLoss when the file is
// truncated or malformed (also when tensor data lies past its end, unless
// options.check_tensor_data is off).
Result<GgufFile> ParseHeader(std::span<const uint8_t> file, ParseOptions options = {});

// Reads the header of the file at `path` in one pass, parsing as it reads.
// A regular file is read with pread through a 64 KiB buffer that moves along
// with the parser: the header is copied once, the numbers of big arrays are
// skipped unread, the buffer grows only for one longer item that is looked
// at (a long string), and at most one buffer past the header's end is read,
// never past the size the file had when opened. The file is not mapped:
// a mapping costs a page fault per page touched, more than copying the page,
// and a file cut while mapped would raise SIGBUS. A stream (a pipe,
// /dev/stdin) is read to its end, holding the header in memory, so that its
// size is known and the tensor data can be checked against it.
//
// The name in messages is the file name. NotFound when the file does not
// exist; InvalidArgument when it is neither a regular file nor a stream (a
// directory); Unavailable on I/O errors; DataLoss when a regular file gets
// shorter while it is read; otherwise, for a regular file, the result of
// ParseHeader on its bytes (DataLoss/InvalidArgument when malformed or
// truncated), and for a stream the same but for the limit on the metadata
// size, which is checked as the bytes arrive rather than against the size.
Result<GgufFile> ReadHeader(const std::filesystem::path& path, bool check_tensor_data = true);

// Elements [first, first + count) of `array`, decoded from `bytes`, which
// hold the file's bytes from offset `bytes_offset` on and must cover the
// array. InvalidArgument when the range is outside the array or the bytes do
// not cover it; DataLoss when they are not the array's bytes after all.
Result<std::vector<Value>> ReadArrayElements(std::span<const uint8_t> bytes, uint64_t bytes_offset,
                                             const Array& array, uint64_t first, uint64_t count);

// The same, reading only the array's bytes from the file at `path`.
Result<std::vector<Value>> ReadArrayElements(const std::filesystem::path& path, const Array& array,
                                             uint64_t first, uint64_t count);

}  // namespace hangar::gguf

#endif  // HANGAR_GGUF_PARSER_H_
