// Table: aligned plain-text tables for the terminal.
//
// Columns are sized to their widest cell (UTF-8 aware); numeric columns can be
// right-aligned. Colour is added only when the caller says the output is a
// terminal and NO_COLOR is unset (see TermStyle). Not thread-safe; one table is
// built and rendered by one thread.
#ifndef HANGAR_CLI_TABLE_H_
#define HANGAR_CLI_TABLE_H_

#include <string>
#include <vector>

namespace hangar::cli {

// Whether and how to colour output.
struct TermStyle {
  bool color = false;
  // Colour when stdout is a terminal, NO_COLOR is unset and TERM is not "dumb".
  static TermStyle Detect();
  std::string Bold(const std::string& s) const;
  std::string Dim(const std::string& s) const;
  std::string Green(const std::string& s) const;
  std::string Yellow(const std::string& s) const;
  std::string Red(const std::string& s) const;
};

class Table {
 public:
  enum class Align { kLeft, kRight };
  explicit Table(std::vector<std::string> headers, std::vector<Align> aligns = {});

  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }

  // The table with a bold header line, columns separated by two spaces, no
  // trailing spaces, one row per line.
  std::string Render(const TermStyle& style) const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> aligns_;
  std::vector<std::vector<std::string>> rows_;
};

// Two-column "label  value" listing, labels aligned (for `info`, `hw`).
std::string RenderKeyValues(const std::vector<std::pair<std::string, std::string>>& rows,
                            const TermStyle& style);

// Display width of a UTF-8 string (code points; no wide-character tables).
size_t DisplayWidth(const std::string& s);

}  // namespace hangar::cli

#endif  // HANGAR_CLI_TABLE_H_
