#include "core/sha256.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "core/file_util.h"
#include "core/status_matchers.h"

namespace hangar {
namespace {

TEST(Sha256Test, KnownVectors) {
  Sha256 empty;
  EXPECT_EQ(empty.FinishHex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 abc;
  abc.Update(std::string_view("a"));
  abc.Update(std::string_view("bc"));
  EXPECT_EQ(abc.FinishHex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, FileMatchesIncremental) {
  auto path = std::filesystem::temp_directory_path() /
              ("hangar-sha-" + std::to_string(::getpid()));
  std::string content(10 << 20, 'x');
  for (size_t i = 0; i < content.size(); i += 4099) content[i] = static_cast<char>(i);
  ASSERT_OK(WriteFileAtomic(path, content));
  Sha256 h;
  h.Update(content);
  EXPECT_EQ(*Sha256File(path), h.FinishHex());
  std::filesystem::remove(path);
  EXPECT_THAT(Sha256File(path), StatusIs(StatusCode::kNotFound));
}

TEST(Sha256Test, HexCheck) {
  EXPECT_TRUE(IsSha256Hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_FALSE(IsSha256Hex("e3b0"));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'g')));
}

// Known ids (`git hash-object`).
TEST(Sha256Test, GitBlobSha1) {
  EXPECT_EQ(GitBlobSha1(""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  EXPECT_EQ(GitBlobSha1("hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
}

}  // namespace
}  // namespace hangar
