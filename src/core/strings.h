// ASCII string helpers shared by every module (ids, units, file names and
// keys are ASCII; other bytes pass through unchanged). Pure and thread-safe.
#ifndef HANGAR_CORE_STRINGS_H_
#define HANGAR_CORE_STRINGS_H_

#include <string>
#include <string_view>

namespace hangar {

// `text` with ASCII letters in lower case.
std::string AsciiLower(std::string_view text);

// True when `a` and `b` differ only in the case of ASCII letters.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace hangar

#endif  // HANGAR_CORE_STRINGS_H_
