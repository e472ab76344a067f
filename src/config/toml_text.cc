#include "config/toml_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

namespace hangar {

namespace {

bool IsBareKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void AppendQuoted(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void AppendKey(std::string& out, std::string_view key) {
  if (IsBareKey(key)) {
    out += key;
  } else {
    AppendQuoted(out, key);
  }
}

void AppendPath(std::string& out, const std::vector<std::string_view>& path) {
  for (size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out += '.';
    AppendKey(out, path[i]);
  }
}

void AppendInteger(std::string& out, const toml::value<int64_t>& v) {
  int64_t n = v.get();
  toml::value_flags flags = v.flags();
  int base = 10;
  const char* prefix = "";
  // The three formats are values of a two-bit field, not separate bits.
  const toml::value_flags format = flags & toml::value_flags::format_as_hexadecimal;
  if (n >= 0 && format == toml::value_flags::format_as_hexadecimal) {
    base = 16;
    prefix = "0x";
  } else if (n >= 0 && format == toml::value_flags::format_as_octal) {
    base = 8;
    prefix = "0o";
  } else if (n >= 0 && format == toml::value_flags::format_as_binary) {
    base = 2;
    prefix = "0b";
  }
  char buf[80];
  auto res = std::to_chars(buf, buf + sizeof buf, n, base);
  out += prefix;
  out.append(buf, res.ptr);
}

void AppendFloat(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "nan";
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-inf" : "inf";
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view s(buf, static_cast<size_t>(res.ptr - buf));
  out += s;
  if (s.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

template <typename T>
void AppendStreamed(std::string& out, const T& value) {
  std::ostringstream os;
  os << value;
  out += os.str();
}

bool IsArrayOfTables(const toml::node& node) {
  const toml::array* a = node.as_array();
  if (a == nullptr || a->empty()) return false;
  for (const toml::node& e : *a) {
    const toml::table* t = e.as_table();
    if (t == nullptr || t->is_inline()) return false;
  }
  return true;
}

// A value written as "key = value" inside its table's section.
bool IsSimple(const toml::node& node) {
  if (const toml::table* t = node.as_table()) return t->is_inline();
  return !IsArrayOfTables(node);
}

void AppendValue(std::string& out, const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      AppendQuoted(out, node.as_string()->get());
      break;
    case toml::node_type::integer:
      AppendInteger(out, *node.as_integer());
      break;
    case toml::node_type::floating_point:
      AppendFloat(out, node.as_floating_point()->get());
      break;
    case toml::node_type::boolean:
      out += node.as_boolean()->get() ? "true" : "false";
      break;
    case toml::node_type::date:
      AppendStreamed(out, node.as_date()->get());
      break;
    case toml::node_type::time:
      AppendStreamed(out, node.as_time()->get());
      break;
    case toml::node_type::date_time:
      AppendStreamed(out, node.as_date_time()->get());
      break;
    case toml::node_type::array: {
      const toml::array& a = *node.as_array();
      if (a.empty()) {
        out += "[]";
        break;
      }
      out += "[ ";
      bool first = true;
      for (const toml::node& e : a) {
        if (!first) out += ", ";
        first = false;
        AppendValue(out, e);
      }
      out += " ]";
      break;
    }
    case toml::node_type::table: {
      const toml::table& t = *node.as_table();
      if (t.empty()) {
        out += "{}";
        break;
      }
      out += "{ ";
      bool first = true;
      for (auto&& [k, v] : t) {
        if (!first) out += ", ";
        first = false;
        AppendKey(out, k.str());
        out += " = ";
        AppendValue(out, v);
      }
      out += " }";
      break;
    }
    case toml::node_type::none:
      break;
  }
}

// Writes `table`'s own keys under a header (when it needs one), then its
// sub-tables and arrays of tables, each in its own section.
void AppendSection(std::string& out, const toml::table& table, std::vector<std::string_view>& path,
                   bool array_element) {
  bool has_simple = false;
  bool has_sections = false;
  for (auto&& [k, v] : table) {
    if (IsSimple(v)) {
      has_simple = true;
    } else {
      has_sections = true;
    }
  }
  if (!path.empty() && (array_element || has_simple || !has_sections)) {
    if (!out.empty()) out += '\n';
    out += array_element ? "[[" : "[";
    AppendPath(out, path);
    out += array_element ? "]]\n" : "]\n";
  }
  for (auto&& [k, v] : table) {
    if (!IsSimple(v)) continue;
    AppendKey(out, k.str());
    out += " = ";
    AppendValue(out, v);
    out += '\n';
  }
  for (auto&& [k, v] : table) {
    if (IsSimple(v)) continue;
    path.push_back(k.str());
    if (const toml::table* t = v.as_table()) {
      AppendSection(out, *t, path, false);
    } else {
      for (const toml::node& e : *v.as_array()) AppendSection(out, *e.as_table(), path, true);
    }
    path.pop_back();
  }
}

}  // namespace

std::string SerializeToml(const toml::table& root) {
  std::string out;
  std::vector<std::string_view> path;
  AppendSection(out, root, path, false);
  return out;
}

std::string TomlValueText(const toml::node& node) {
  std::string out;
  AppendValue(out, node);
  return out;
}

std::string TomlKeyPath(std::initializer_list<std::string_view> parts) {
  std::string out;
  AppendPath(out, std::vector<std::string_view>(parts));
  return out;
}

std::string_view TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::array:
      return "array";
    case toml::node_type::table:
      return "table";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

}  // namespace hangar
