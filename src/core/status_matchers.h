// GoogleTest helpers for Status and Result (test code only).
#ifndef HANGAR_CORE_STATUS_MATCHERS_H_
#define HANGAR_CORE_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include "core/status.h"

namespace hangar {

// EXPECT_THAT(DoIt(), StatusIs(StatusCode::kNotFound));
// Works on a Status or a Result<T>.
MATCHER_P(StatusIs, code, std::string("status code is ") + std::string(StatusCodeName(code))) {
  ::hangar::Status s = ::hangar::internal::AsStatus(arg);
  *result_listener << "status is " << s.ToString();
  return s.code() == code;
}

// EXPECT_THAT(DoIt(), StatusHasMessage(HasSubstr("line 3")));
MATCHER_P(StatusHasMessage, matcher, "status message matches") {
  ::hangar::Status s = ::hangar::internal::AsStatus(arg);
  return ::testing::ExplainMatchResult(matcher, s.message(), result_listener);
}

#define EXPECT_OK(expr) EXPECT_THAT((expr), ::hangar::StatusIs(::hangar::StatusCode::kOk))
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::hangar::StatusIs(::hangar::StatusCode::kOk))

}  // namespace hangar

#endif  // HANGAR_CORE_STATUS_MATCHERS_H_
