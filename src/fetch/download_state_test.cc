#include "fetch/download_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "core/file_util.h"
#include "core/status_matchers.h"

namespace hangar {
namespace {

using ::testing::HasSubstr;

DownloadState Sample() {
  DownloadState s;
  s.size = 100'000;
  s.etag = "5f1a-186a0";
  s.expected_sha256 = std::string(64, 'a');
  s.done.Add(0, 4096);
  s.done.Add(8192, 9000);
  ResumableSha256 h;
  h.Update(std::string(4096, 'x'));
  s.hash = h.Midstate();
  return s;
}

TEST(DownloadStateTest, RoundTrip) {
  DownloadState s = Sample();
  std::string text = SerializeDownloadState(s);
  EXPECT_THAT(text, HasSubstr("hangar-partial 1\nsize 100000\netag 5f1a-186a0\n"));
  EXPECT_THAT(text, HasSubstr("done 0 4096\ndone 8192 9000\nhash 4096 "));
  auto back = ParseDownloadState(text);
  ASSERT_OK(back);
  EXPECT_EQ(*back, s);

  DownloadState empty;
  auto e = ParseDownloadState(SerializeDownloadState(empty));
  ASSERT_OK(e);
  EXPECT_EQ(*e, empty);
}

TEST(DownloadStateTest, RejectsDamagedText) {
  const std::string good = SerializeDownloadState(Sample());
  std::string flipped = good;
  flipped[flipped.find("done 8192") + 5] = '7';  // a range changed after the checksum
  std::string cut = good.substr(0, good.size() / 2);
  const struct {
    std::string text;
    const char* why;
  } cases[] = {
      {"", "no end record"},
      {cut, "no end record"},
      {flipped, "checksum"},
      {good.substr(0, good.find("end ")) + "end 0000\n", "checksum"},
  };
  for (const auto& c : cases) {
    auto r = ParseDownloadState(c.text);
    EXPECT_THAT(r, StatusIs(StatusCode::kDataLoss)) << c.text;
    EXPECT_THAT(r, StatusHasMessage(HasSubstr(c.why))) << c.text;
  }
}

TEST(DownloadStateTest, RejectsInconsistentRecordsEvenWithAValidChecksum) {
  // A writer bug sealed with a correct end line: only the record checks refuse it.
  DownloadState s;
  s.size = 10;
  s.done.Add(0, 20);  // past the size
  EXPECT_THAT(ParseDownloadState(SerializeDownloadState(s)),
              StatusHasMessage(HasSubstr("passes the file size")));
  DownloadState h;
  h.done.Add(0, 64);
  ResumableSha256 sha;
  sha.Update(std::string(128, 'x'));
  h.hash = sha.Midstate();  // claims 128 hashed bytes, only 64 written
  EXPECT_THAT(ParseDownloadState(SerializeDownloadState(h)),
              StatusHasMessage(HasSubstr("not all written")));
}

TEST(DownloadStateTest, FileReadWrite) {
  auto dir =
      std::filesystem::temp_directory_path() / ("hangar-state-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / "blob.incomplete.state";
  EXPECT_THAT(ReadDownloadState(path), StatusIs(StatusCode::kNotFound));
  ASSERT_OK(WriteDownloadState(path, Sample()));
  auto back = ReadDownloadState(path);
  ASSERT_OK(back);
  EXPECT_EQ(*back, Sample());
  ASSERT_OK(WriteFileAtomic(path, "hangar-partial 1\nsize 5\n"));
  EXPECT_THAT(ReadDownloadState(path), StatusIs(StatusCode::kDataLoss));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hangar
