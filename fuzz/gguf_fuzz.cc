// libFuzzer target for the GGUF reader: the whole-buffer API, the prefix API
// driven as a remote reader drives it, and everything built on a parsed file
// (summary, JSON, printable metadata, lazy array access). Beyond "no crash",
// it checks that both APIs agree and that NeedMore always asks for progress.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <variant>

#include "gguf/parser.h"
#include "gguf/summary.h"

namespace {

using hangar::gguf::GgufFile;
using hangar::gguf::NeedMore;
using hangar::gguf::ParseOptions;
using hangar::gguf::ParseOutcome;

void Check(bool ok) {
  if (!ok) std::abort();
}

void UseFile(const GgufFile& file, std::span<const uint8_t> bytes) {
  const hangar::gguf::ModelSummary summary = hangar::gguf::Summarize(file);
  Check(!hangar::gguf::ToJson(summary, true).dump().empty());
  Check(hangar::gguf::MetadataLines(file).size() == file.kvs.size());
  for (const hangar::gguf::KeyValue& kv : file.kvs) {
    const hangar::gguf::Array* array = kv.value.AsArray();
    if (array == nullptr) continue;
    const uint64_t n = std::min<uint64_t>(array->count, 3);
    auto first = hangar::gguf::ReadArrayElements(bytes, 0, *array, 0, n);
    Check(first.ok() && first->size() == n);
    auto last = hangar::gguf::ReadArrayElements(bytes, 0, *array, array->count - n, n);
    Check(last.ok() && last->size() == n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  ParseOptions options;
  options.name = "fuzz.gguf";
  auto whole = hangar::gguf::ParseHeader(bytes, options);
  if (whole.ok()) UseFile(*whole, bytes);

  // A remote reader: fetch a small first prefix, then what NeedMore suggests.
  options.file_size = size;
  uint64_t have = std::min<uint64_t>(size, size > 0 ? 1 + data[0] : 0);
  for (int requests = 0;; ++requests) {
    Check(requests < 64);
    auto out = hangar::gguf::ParseHeaderPrefix(bytes.first(have), options);
    if (!out.ok()) {
      Check(!whole.ok());
      break;
    }
    if (const auto* file = std::get_if<GgufFile>(&*out)) {
      Check(whole.ok() && file->header_size == whole->header_size &&
            file->kvs.size() == whole->kvs.size() && file->tensors.size() == whole->tensors.size());
      break;
    }
    const NeedMore& more = std::get<NeedMore>(*out);
    Check(more.bytes_needed_at_least > have && more.bytes_needed_at_least <= size);
    Check(more.suggested_bytes >= more.bytes_needed_at_least && more.suggested_bytes <= size);
    if (whole.ok()) Check(more.bytes_needed_at_least <= whole->header_size);
    have = more.suggested_bytes;
  }

  // An open-ended prefix (file size unknown) never fails where the whole
  // file parses.
  options.file_size.reset();
  auto open = hangar::gguf::ParseHeaderPrefix(bytes.first(size / 2), options);
  if (whole.ok()) Check(open.ok());
  return 0;
}
