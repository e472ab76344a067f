#include "fetch/line_splitter.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/status_matchers.h"

namespace hangar {
namespace {

TEST(LineSplitterTest, LinesAcrossAnyPieceBoundaries) {
  const std::string text = "{\"status\":\"pulling\"}\r\n\ndata: {\"a\":1}\nlast";
  // Every way of cutting the text in two pieces gives the same lines.
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    std::vector<std::string> lines;
    LineSplitter s([&](std::string_view l) {
      lines.emplace_back(l);
      return Status::Ok();
    });
    ASSERT_OK(s.Feed(std::string_view(text).substr(0, cut)));
    ASSERT_OK(s.Feed(std::string_view(text).substr(cut)));
    ASSERT_OK(s.Finish());
    EXPECT_EQ(lines,
              (std::vector<std::string>{"{\"status\":\"pulling\"}", "", "data: {\"a\":1}", "last"}))
        << cut;
  }
}

TEST(LineSplitterTest, CallbackErrorStops) {
  int calls = 0;
  LineSplitter s([&](std::string_view) {
    ++calls;
    return CancelledError("enough");
  });
  EXPECT_THAT(s.Feed("a\nb\nc\n"), StatusIs(StatusCode::kCancelled));
  EXPECT_EQ(calls, 1);
}

TEST(LineSplitterTest, OverlongLineIsResourceExhausted) {
  LineSplitter s([](std::string_view) { return Status::Ok(); }, 8);
  ASSERT_OK(s.Feed("1234"));
  EXPECT_THAT(s.Feed("567890"), StatusIs(StatusCode::kResourceExhausted));
}

}  // namespace
}  // namespace hangar
