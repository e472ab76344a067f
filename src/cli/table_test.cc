#include "cli/table.h"

#include <gtest/gtest.h>

namespace hangar::cli {
namespace {

TEST(TableTest, AlignsColumns) {
  Table t({"ID", "SIZE", "PURPOSE"}, {Table::Align::kLeft, Table::Align::kRight});
  t.AddRow({"qwen3-0.6b-q8", "639 MB", "speed"});
  t.AddRow({"llama-3.1-70b-q4", "42.5 GB", "quality"});
  EXPECT_EQ(t.Render(TermStyle{}),
            "ID                   SIZE  PURPOSE\n"
            "qwen3-0.6b-q8      639 MB  speed\n"
            "llama-3.1-70b-q4  42.5 GB  quality\n");
}

TEST(TableTest, ColourOnlyWhenAsked) {
  Table t({"A"});
  t.AddRow({"x"});
  EXPECT_EQ(t.Render(TermStyle{false}), "A\nx\n");
  EXPECT_EQ(t.Render(TermStyle{true}), "\033[1mA\033[0m\nx\n");
}

TEST(TableTest, Utf8Width) {
  EXPECT_EQ(DisplayWidth("héllo"), 5u);
  Table t({"NAME", "X"});
  t.AddRow({"é", "1"});
  EXPECT_EQ(t.Render(TermStyle{}), "NAME  X\né     1\n");
}

TEST(KeyValuesTest, LabelsAligned) {
  EXPECT_EQ(RenderKeyValues({{"CPU", "x"}, {"Memory", "y"}}, TermStyle{}),
            "CPU     x\nMemory  y\n");
}

}  // namespace
}  // namespace hangar::cli
