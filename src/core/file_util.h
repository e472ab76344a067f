// Small file helpers that report failures as Status values.
// WriteFileAtomic writes a sibling temporary file, fsyncs it and renames it
// over the target, so readers see the old or the new content, never a mix.
// Functions are thread-safe as far as the file system is.
#ifndef HANGAR_CORE_FILE_UTIL_H_
#define HANGAR_CORE_FILE_UTIL_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hangar {

// The whole file. NotFound when it does not exist; Unavailable on I/O errors.
Result<std::string> ReadFile(const std::filesystem::path& path);

// Replaces `path` with `content` atomically, creating parent folders.
// Unavailable (with errno text) when any step fails; the target is untouched then.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content);

// "No such file or directory" style text for an errno value.
std::string ErrnoText(int err);

// `p` made absolute (against the working directory) and lexically normal;
// `p` itself when that fails.
std::filesystem::path AbsolutePath(const std::filesystem::path& p);

}  // namespace hangar

#endif  // HANGAR_CORE_FILE_UTIL_H_
