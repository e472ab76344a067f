#include "cli/table.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace hangar::cli {

TermStyle TermStyle::Detect() {
  TermStyle s;
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  s.color = ::isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0') &&
            !(term != nullptr && std::strcmp(term, "dumb") == 0);
  return s;
}

namespace {
std::string Wrap(bool on, const char* code, const std::string& s) {
  if (!on || s.empty()) return s;
  return std::string("\033[") + code + "m" + s + "\033[0m";
}
}  // namespace

std::string TermStyle::Bold(const std::string& s) const { return Wrap(color, "1", s); }
std::string TermStyle::Dim(const std::string& s) const { return Wrap(color, "2", s); }
std::string TermStyle::Green(const std::string& s) const { return Wrap(color, "32", s); }
std::string TermStyle::Yellow(const std::string& s) const { return Wrap(color, "33", s); }
std::string TermStyle::Red(const std::string& s) const { return Wrap(color, "31", s); }

size_t DisplayWidth(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++w;  // count lead bytes only
  }
  return w;
}

Table::Table(std::vector<std::string> headers, std::vector<Align> aligns)
    : headers_(std::move(headers)), aligns_(std::move(aligns)) {
  aligns_.resize(headers_.size(), Align::kLeft);
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render(const TermStyle& style) const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) width[c] = DisplayWidth(headers_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], DisplayWidth(row[c]));
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells, bool header) {
    std::string line;
    for (size_t c = 0; c < cells.size(); ++c) {
      size_t pad = width[c] - DisplayWidth(cells[c]);
      bool last = c + 1 == cells.size();
      std::string cell = header ? style.Bold(cells[c]) : cells[c];
      if (aligns_[c] == Align::kRight) {
        line.append(pad, ' ');
        line += cell;
      } else {
        line += cell;
        if (!last) line.append(pad, ' ');
      }
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit(headers_, true);
  for (const auto& row : rows_) emit(row, false);
  return out;
}

std::string RenderKeyValues(const std::vector<std::pair<std::string, std::string>>& rows,
                            const TermStyle& style) {
  size_t width = 0;
  for (const auto& [k, v] : rows) width = std::max(width, DisplayWidth(k));
  std::string out;
  for (const auto& [k, v] : rows) {
    out += style.Bold(k);
    out.append(width - DisplayWidth(k) + 2, ' ');
    out += v;
    out += '\n';
  }
  return out;
}

}  // namespace hangar::cli
