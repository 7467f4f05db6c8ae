#include "ferry/api/routes/mlflow/log_batch_fast.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::api::mlflow {
namespace {

std::optional<LogBatchBody> Parse(const std::string& body) { return ParseLogBatchFast(body, body.size()); }

TEST(LogBatchFastTest, ThePlainShapeIsReadWhole) {
  std::string body = R"({"run_id": "abc", "metrics": [
      {"key": "loss", "value": 0.5, "timestamp": 1700000000000, "step": 3},
      {"key": "acc", "value": 1, "timestamp": -5, "model_id": "m-1", "dataset_name": null,
       "dataset_digest": "d", "run_id": "abc"},
      {"key": "k\u00e9y", "value": -1e300, "timestamp": 0}],
    "params": [{"key": "lr", "value": "0.1"}, {"key": "empty"}],
    "tags": [{"value": "v", "key": "t"}]})";
  // Parsed in place when the buffer has simdjson's padding, copied when not.
  std::string padded = body;
  padded.reserve(body.size() + 128);
  for (const auto& parsed : {Parse(body), ParseLogBatchFast(padded, padded.capacity())}) {
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->run_id, "abc");
    ASSERT_EQ(parsed->metrics.size(), 3u);
    EXPECT_EQ(parsed->metrics[0].key, "loss");
    EXPECT_EQ(parsed->metrics[0].value, 0.5);
    EXPECT_EQ(parsed->metrics[0].timestamp, 1700000000000);
    EXPECT_EQ(parsed->metrics[0].step, 3);
    EXPECT_EQ(parsed->metrics[1].value, 1.0);
    EXPECT_EQ(parsed->metrics[1].step, 0);
    EXPECT_EQ(parsed->metrics[1].timestamp, -5);
    EXPECT_EQ(parsed->metrics[1].model_id, "m-1");
    EXPECT_EQ(parsed->metrics[1].dataset_name, "");
    EXPECT_EQ(parsed->metrics[1].dataset_digest, "d");
    EXPECT_TRUE(parsed->metrics[1].run_id.empty());
    EXPECT_EQ(parsed->metrics[2].key, "k\xc3\xa9y");
    EXPECT_EQ(parsed->metrics[2].value, -1e300);
    ASSERT_EQ(parsed->params.size(), 2u);
    EXPECT_EQ(parsed->params[0].key, "lr");
    EXPECT_EQ(parsed->params[0].value, "0.1");
    EXPECT_EQ(parsed->params[1].value, "");
    ASSERT_EQ(parsed->tags.size(), 1u);
    EXPECT_EQ(parsed->tags[0].key, "t");
    EXPECT_EQ(parsed->tags[0].value, "v");
  }
  auto only_id = Parse(R"({"run_id": "r"})");
  ASSERT_TRUE(only_id.has_value());
  EXPECT_TRUE(only_id->metrics.empty());
}

// Everything off the plain shape goes to the general path, which words the
// error or reads the body the lenient way MLflow does.
TEST(LogBatchFastTest, AnythingElseTakesTheGeneralPath) {
  for (std::string body : {
           "", "[]", "null", "{", R"({"run_id": "r"} x)", R"({"run_id": "r",})",
           R"({"metrics": []})",                                   // no run_id
           R"({"run_id": ""})",                                    // empty run_id
           R"({"run_uuid": "r"})",                                 // the other spelling
           R"({"run_id": 5})",
           R"({"run_id": "r", "run_id": "s"})",                    // duplicate field
           R"({"run_id": "r", "extra": 1})",                       // unknown field
           R"({"run_id": "r", "metrics": {}})",
           R"({"run_id": "r", "metrics": [5]})",
           R"({"run_id": "r", "metrics": [{"key": "a", "value": "NaN", "timestamp": 1}]})",
           R"({"run_id": "r", "metrics": [{"key": "a", "value": 1, "timestamp": 1.5}]})",
           R"({"run_id": "r", "metrics": [{"key": "a", "value": 1, "timestamp": "1"}]})",
           R"({"run_id": "r", "metrics": [{"key": "a", "value": 1}]})",       // no timestamp
           R"({"run_id": "r", "metrics": [{"value": 1, "timestamp": 1}]})",   // no key
           R"({"run_id": "r", "metrics": [{"key": "", "value": 1, "timestamp": 1}]})",
           R"({"run_id": "r", "metrics": [{"key": "a", "value": 1, "timestamp": 1, "step": null}]})",
           R"({"run_id": "r", "metrics": [{"key": "a", "value": 1, "timestamp": 1, "key": "b"}]})",
           R"({"run_id": "r", "metrics": [{"key": "a", "value": 1, "timestamp": 99999999999999999999}]})",
           R"({"run_id": "r", "metrics": [{"key": "a", "value": 1, "timestamp": 1, "unit": "s"}]})",
           R"({"run_id": "r", "params": [{"key": "a", "value": 1}]})",
           R"({"run_id": "r", "params": [{"value": "x"}]})",
           R"({"run_id": "r", "tags": [{"key": "a", "value": "x", "value": "y"}]})",
           "{\"run_id\": \"r\xff\"}",                                  // not UTF-8
       }) {
    EXPECT_FALSE(Parse(body).has_value()) << body;
  }
  std::string big = R"({"run_id": "r", "tags": [{"key": "a", "value": ")" + std::string(2 << 20, 'x') + "\"}]}";
  EXPECT_FALSE(Parse(big).has_value());
}

}  // namespace
}  // namespace ferry::api::mlflow
