#include "runtime/text_assembler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hangar::runtime {
namespace {

using ::testing::ElementsAreArray;

TEST(IncompleteUtf8TailTest, Table) {
  struct Case {
    std::string text;
    size_t tail;
  };
  const Case cases[] = {
      {"", 0},
      {"abc", 0},
      {"\xC3\xA9", 0},          // é complete
      {"a\xC3", 1},             // é started
      {"\xE2\x82", 2},          // € two of three
      {"\xE2\x82\xAC", 0},      // € complete
      {"\xF0\x9F\x98", 3},      // 😀 three of four
      {"\xF0\x9F\x98\x80", 0},  // 😀 complete
      {"\x80\x80", 0},          // stray continuation bytes: shown as they are
  };
  for (const Case& c : cases) EXPECT_EQ(IncompleteUtf8Tail(c.text), c.tail) << c.text;
}

// Pushes `pieces` and returns what each push (and the final Finish) emitted.
std::vector<std::string> Feed(TextAssembler& a, const std::vector<std::string>& pieces) {
  std::vector<std::string> out;
  for (const std::string& p : pieces) out.push_back(a.Push(p));
  out.push_back(a.Finish());
  return out;
}

TEST(TextAssemblerTest, HoldsBackSplitCharacters) {
  TextAssembler a;
  EXPECT_THAT(Feed(a, {"caf", "\xC3", "\xA9", " ok"}),
              ElementsAreArray({"caf", "", "\xC3\xA9", " ok", ""}));
  EXPECT_EQ(a.text(), "caf\xC3\xA9 ok");
}

TEST(TextAssemblerTest, StopStringEndsTheTextBeforeIt) {
  TextAssembler a({"</s>", "\n\nUser:"});
  EXPECT_THAT(Feed(a, {"Hello", " world<", "/", "s> more"}),
              ElementsAreArray({"Hello", " world", "", "", ""}));
  EXPECT_TRUE(a.stopped());
  EXPECT_EQ(a.text(), "Hello world");
  EXPECT_EQ(a.Push("ignored"), "");
}

TEST(TextAssemblerTest, PartialStopStringIsReleasedWhenItDiverges) {
  TextAssembler a({"STOP"});
  EXPECT_THAT(Feed(a, {"a ST", "OP?"}), ElementsAreArray({"a ", "", ""}));
  TextAssembler b({"STOP"});
  EXPECT_THAT(Feed(b, {"a ST", "ART"}), ElementsAreArray({"a ", "START", ""}));
  TextAssembler c({"STOP"});
  EXPECT_THAT(Feed(c, {"end ST"}), ElementsAreArray({"end ", "ST"}));  // Finish releases it
  EXPECT_FALSE(c.stopped());
}

TEST(TextAssemblerTest, EmptyStopStringsAreIgnored) {
  TextAssembler a({""});
  EXPECT_EQ(a.Push("text"), "text");
  EXPECT_FALSE(a.stopped());
}

}  // namespace
}  // namespace hangar::runtime
