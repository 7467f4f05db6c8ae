#include "ferry/common/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ferry {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kOk);
  EXPECT_EQ(status.ToString(), "OK");
  EXPECT_TRUE(Status::OK().ok());
}

TEST(StatusTest, HelpersSetTheirCodes) {
  EXPECT_EQ(InvalidArgument("m").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NotFound("m").code(), StatusCode::kNotFound);
  EXPECT_EQ(AlreadyExists("m").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Conflict("m").code(), StatusCode::kConflict);
  EXPECT_EQ(FailedPrecondition("m").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Internal("m").code(), StatusCode::kInternal);
  EXPECT_EQ(Unavailable("m").code(), StatusCode::kUnavailable);
  EXPECT_EQ(Unimplemented("m").code(), StatusCode::kUnimplemented);
  EXPECT_EQ(PayloadTooLarge("m").code(), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(ResourceExhausted("m").code(), StatusCode::kResourceExhausted);
  Status status = InvalidArgument("bad min", "spec.min");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "bad min");
  EXPECT_EQ(status.field(), "spec.min");
}

TEST(StatusTest, CodeNamesMatchTheNativeErrorShape) {
  const std::pair<StatusCode, std::string_view> names[] = {
      {StatusCode::kOk, "OK"},
      {StatusCode::kInvalidArgument, "InvalidArgument"},
      {StatusCode::kNotFound, "NotFound"},
      {StatusCode::kAlreadyExists, "AlreadyExists"},
      {StatusCode::kConflict, "Conflict"},
      {StatusCode::kFailedPrecondition, "FailedPrecondition"},
      {StatusCode::kPermissionDenied, "PermissionDenied"},
      {StatusCode::kUnauthenticated, "Unauthenticated"},
      {StatusCode::kResourceExhausted, "ResourceExhausted"},
      {StatusCode::kPayloadTooLarge, "PayloadTooLarge"},
      {StatusCode::kDeadlineExceeded, "DeadlineExceeded"},
      {StatusCode::kUnavailable, "Unavailable"},
      {StatusCode::kUnimplemented, "Unimplemented"},
      {StatusCode::kInternal, "Internal"},
  };
  for (const auto& [code, name] : names) EXPECT_EQ(StatusCodeName(code), name);
  EXPECT_EQ(StatusCodeName(static_cast<StatusCode>(999)), "Unknown");
}

TEST(StatusTest, ToStringShowsCodeMessageAndField) {
  EXPECT_EQ(NotFound("run 'x' not found").ToString(), "NotFound: run 'x' not found");
  EXPECT_EQ(InvalidArgument("must be positive", "spec.replicas").ToString(),
            "InvalidArgument: must be positive (field spec.replicas)");
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsTheRest) {
  Status status = InvalidArgument("bad", "f").WithContext("parsing pipeline.yaml");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "parsing pipeline.yaml: bad");
  EXPECT_EQ(status.field(), "f");
  EXPECT_TRUE(Status::OK().WithContext("ignored").ok());
  EXPECT_EQ(Status::OK().WithContext("ignored").message(), "");
}

TEST(StatusTest, WithFieldPrefixJoinsPaths) {
  EXPECT_EQ(InvalidArgument("m").WithFieldPrefix("spec").field(), "spec");
  EXPECT_EQ(InvalidArgument("m", "min").WithFieldPrefix("spec.feasibleSpace").field(),
            "spec.feasibleSpace.min");
  EXPECT_EQ(InvalidArgument("m", "[2].min").WithFieldPrefix("spec.parameters").field(),
            "spec.parameters[2].min");
  EXPECT_EQ(InvalidArgument("m", "min").WithFieldPrefix("").field(), "min");
  Status nested = InvalidArgument("m", "min")
                      .WithFieldPrefix("feasibleSpace")
                      .WithFieldPrefix("[2]")
                      .WithFieldPrefix("spec.parameters");
  EXPECT_EQ(nested.field(), "spec.parameters[2].feasibleSpace.min");
  EXPECT_EQ(nested.message(), "m");
  EXPECT_EQ(nested.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Status::OK().WithFieldPrefix("spec").field(), "");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good = 42;
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good.status().ok());
  EXPECT_EQ(*good, 42);
  EXPECT_EQ(good.value(), 42);
  EXPECT_EQ(good.ValueOr(7), 42);

  Result<int> bad = NotFound("gone");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bad.status().message(), "gone");
  EXPECT_EQ(bad.ValueOr(7), 7);
}

TEST(ResultTest, SupportsMoveOnlyValuesAndArrow) {
  Result<std::unique_ptr<std::string>> r = std::make_unique<std::string>("abc");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->size(), 3u);
  std::unique_ptr<std::string> taken = std::move(r).value();
  EXPECT_EQ(*taken, "abc");

  Result<std::string> s = std::string("xyz");
  EXPECT_EQ(s->size(), 3u);
}

Status FailIf(bool fail) { return fail ? FailedPrecondition("failed") : Status::OK(); }
Result<int> Half(int v) {
  if (v % 2 != 0) return InvalidArgument("odd", "v");
  return v / 2;
}

Status UsesReturnIfError(bool fail, int* reached) {
  RETURN_IF_ERROR(FailIf(fail));
  RETURN_IF_ERROR(Half(4));  // a Result works too
  *reached = 1;
  return Status::OK();
}

Result<int> Quarter(int v) {
  ASSIGN_OR_RETURN(int half, Half(v));
  ASSIGN_OR_RETURN(int quarter, Half(half));  // two uses in one scope
  return quarter;
}

Result<std::unique_ptr<int>> MakeBox(bool fail) {
  if (fail) return Internal("no box");
  return std::make_unique<int>(5);
}

Result<int> Unbox(bool fail) {
  ASSIGN_OR_RETURN(std::unique_ptr<int> box, MakeBox(fail));
  return *box;
}

TEST(MacrosTest, ReturnIfErrorPropagatesFirstFailure) {
  int reached = 0;
  Status status = UsesReturnIfError(true, &reached);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(reached, 0);
  EXPECT_TRUE(UsesReturnIfError(false, &reached).ok());
  EXPECT_EQ(reached, 1);
}

TEST(MacrosTest, AssignOrReturnUnwrapsOrPropagates) {
  EXPECT_EQ(Quarter(8).ValueOr(-1), 2);
  Result<int> odd_first = Quarter(3);
  ASSERT_FALSE(odd_first.ok());
  EXPECT_EQ(odd_first.status().field(), "v");
  Result<int> odd_second = Quarter(6);  // 6/2 = 3 is odd
  ASSERT_FALSE(odd_second.ok());
  EXPECT_EQ(odd_second.status().message(), "odd");
  EXPECT_EQ(Unbox(false).ValueOr(-1), 5);
  EXPECT_EQ(Unbox(true).status().code(), StatusCode::kInternal);
}

TEST(MacrosTest, ReturnIfErrorIsOneStatement) {
  int reached = 0;
  auto f = [&](bool fail) -> Status {
    if (fail)
      RETURN_IF_ERROR(FailIf(true));
    else
      reached = 2;
    return Status::OK();
  };
  EXPECT_FALSE(f(true).ok());
  EXPECT_TRUE(f(false).ok());
  EXPECT_EQ(reached, 2);
}

}  // namespace
}  // namespace ferry
