// ConfigParser (internal to the config module): turns TOML text or a toml++
// tree into a validated Config. Config::Load/Parse use it for files; the
// writers in config_writer.h use it to validate a changed tree before it is
// written, so that loading and writing check exactly the same things.
//
// Nodes that carry a source position (parsed from text) are named in errors
// as "FILE:LINE: KEY: ..."; nodes built in memory as "FILE: KEY: ...".
// Stateless: thread-safe. Never throws (toml++ exceptions are caught here).
#ifndef HANGAR_CONFIG_CONFIG_PARSER_H_
#define HANGAR_CONFIG_CONFIG_PARSER_H_

#include <toml++/toml.h>

#include <string_view>

#include "config/config.h"
#include "core/status.h"

namespace hangar {

class ConfigParser {
 public:
  // The tree of `text`. InvalidArgument "FILE:LINE:COLUMN: TOML syntax
  // error: ..." when it is not valid TOML.
  static Result<toml::table> ParseToml(std::string_view text, std::string_view file_name);

  // The Config described by `root` (exists() is true). InvalidArgument when
  // a value has the wrong type or is out of range, or inheritance fails.
  static Result<Config> FromTable(const toml::table& root, std::string_view file_name);

  // The defaults standing in for the missing file `file_name` (exists() is false).
  static Config Missing(std::string_view file_name);
};

}  // namespace hangar

#endif  // HANGAR_CONFIG_CONFIG_PARSER_H_
