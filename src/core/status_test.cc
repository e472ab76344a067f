#include "core/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/status_matchers.h"

namespace hangar {
namespace {

using ::testing::HasSubstr;

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd number " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x));
  return Status::Ok();
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = NotFoundError("model foo is not installed");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NotFound: model foo is not installed");
  EXPECT_EQ(s.WithContext("hangar rm").message(), "hangar rm: model foo is not installed");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

TEST(StatusTest, EveryCodeHasAName) {
  const std::pair<Status, std::string_view> cases[] = {
      {InvalidArgumentError("m"), "InvalidArgument"},
      {NotFoundError("m"), "NotFound"},
      {AlreadyExistsError("m"), "AlreadyExists"},
      {FailedPreconditionError("m"), "FailedPrecondition"},
      {ResourceExhaustedError("m"), "ResourceExhausted"},
      {UnavailableError("m"), "Unavailable"},
      {DataLossError("m"), "DataLoss"},
      {CancelledError("m"), "Cancelled"},
      {InternalError("m"), "Internal"},
  };
  for (const auto& [status, name] : cases) {
    EXPECT_EQ(StatusCodeName(status.code()), name);
  }
}

TEST(ResultTest, ValueAndError) {
  Result<int> ok = Half(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 4);
  EXPECT_OK(ok.status());
  Result<int> bad = Half(3);
  EXPECT_THAT(bad, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad, StatusHasMessage(HasSubstr("odd number 3")));
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(ResultTest, MacrosPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_OK(CheckEven(2));
  EXPECT_THAT(CheckEven(1), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ResultTest, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

}  // namespace
}  // namespace hangar
