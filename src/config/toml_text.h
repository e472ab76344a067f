// TOML text for toml++ trees (internal to the config module): the serialiser
// used when config.toml is rewritten, and the key/value spellings used in
// messages.
//
// toml++'s own formatter writes 0.7 as 0.69999999999999996; this one writes
// every float in its shortest form that reads back to the same double, so a
// rewrite keeps values the user wrote looking as written. Tables come out in
// key order (toml::table is sorted); comments are not kept (toml++ drops them
// when parsing). Integers keep their hex/octal/binary spelling; inline tables
// and arrays of tables keep their form.
//
// Pure functions: thread-safe for distinct or unchanging trees.
#ifndef HANGAR_CONFIG_TOML_TEXT_H_
#define HANGAR_CONFIG_TOML_TEXT_H_

#include <toml++/toml.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace hangar {

// The whole document; parsing it gives back an equal tree.
std::string SerializeToml(const toml::table& root);

// One value in inline form, as it would follow "key = ".
std::string TomlValueText(const toml::node& node);

// A dotted key path with each part bare when it can be, quoted otherwise:
// {"performance_profiles", "my profile"} -> performance_profiles."my profile".
std::string TomlKeyPath(std::initializer_list<std::string_view> parts);

// "string", "integer", "float", "boolean", "array", "table", "date", "time",
// "date-time".
std::string_view TomlTypeName(const toml::node& node);

}  // namespace hangar

#endif  // HANGAR_CONFIG_TOML_TEXT_H_
