#include "ferry/api/codec.h"

#include <gtest/gtest.h>

namespace ferry::api {
namespace {

HttpRequest WithHeader(std::string_view name, std::string value) {
  HttpRequest request;
  if (!value.empty()) request.headers.Add(std::string(name), std::move(value));
  return request;
}

BodyFormat FormatOf(std::string content_type, BodyKind kind = BodyKind::kObject) {
  auto format = RequestBodyFormat(WithHeader("Content-Type", std::move(content_type)), kind);
  EXPECT_TRUE(std::holds_alternative<BodyFormat>(format));
  return std::holds_alternative<BodyFormat>(format) ? std::get<BodyFormat>(format) : BodyFormat::kJson;
}

ApiError ErrorOf(std::string content_type, BodyKind kind = BodyKind::kObject) {
  auto format = RequestBodyFormat(WithHeader("Content-Type", std::move(content_type)), kind);
  EXPECT_TRUE(std::holds_alternative<ApiError>(format));
  return std::holds_alternative<ApiError>(format) ? std::get<ApiError>(format) : ApiError{};
}

TEST(MediaTypeTest, DropsParametersAndCase) {
  EXPECT_EQ(MediaTypeOf("Application/JSON; charset=utf-8"), "application/json");
  EXPECT_EQ(MediaTypeOf("  text/yaml  "), "text/yaml");
  EXPECT_EQ(MediaTypeOf(""), "");
}

TEST(RequestBodyFormatTest, ObjectsAreJsonOrYaml) {
  EXPECT_EQ(FormatOf(""), BodyFormat::kJson);  // no Content-Type: JSON
  EXPECT_EQ(FormatOf("application/json"), BodyFormat::kJson);
  EXPECT_EQ(FormatOf("application/json; charset=UTF-8"), BodyFormat::kJson);
  EXPECT_EQ(FormatOf("application/yaml"), BodyFormat::kYaml);
  EXPECT_EQ(FormatOf("application/x-yaml"), BodyFormat::kYaml);
  EXPECT_EQ(FormatOf("TEXT/YAML"), BodyFormat::kYaml);
}

TEST(RequestBodyFormatTest, OtherTypesAre415) {
  for (const char* type : {"text/plain", "application/xml", "application/merge-patch+json",
                           "multipart/form-data; boundary=x", "application/json; charset=latin1"}) {
    ApiError error = ErrorOf(type);
    EXPECT_EQ(error.http_status, 415) << type;
    EXPECT_EQ(error.code, "UnsupportedMediaType") << type;
    EXPECT_EQ(error.field, "Content-Type") << type;
    EXPECT_NE(error.message.find("application/yaml"), std::string::npos) << error.message;
  }
}

TEST(RequestBodyFormatTest, MergePatchIsJsonOnly) {
  EXPECT_EQ(FormatOf("application/merge-patch+json", BodyKind::kMergePatch), BodyFormat::kJson);
  EXPECT_EQ(FormatOf("application/json", BodyKind::kMergePatch), BodyFormat::kJson);
  for (const char* type :
       {"", "application/yaml", "application/json-patch+json", "application/strategic-merge-patch+json"}) {
    EXPECT_EQ(ErrorOf(type, BodyKind::kMergePatch).http_status, 415) << type;
  }
}

TEST(DecodeObjectTest, ParsesJsonAndYamlObjects) {
  auto json = DecodeObject(R"({"a": {"b": [1, "x"]}})", BodyFormat::kJson);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_EQ((*json)["a"]["b"][1], "x");
  auto yaml = DecodeObject("a:\n  b: [1, x]\n", BodyFormat::kYaml);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  EXPECT_EQ(*yaml, *json);
}

TEST(DecodeObjectTest, RejectsBadBodiesWithInvalidArgument) {
  struct Case {
    std::string body;
    BodyFormat format;
    std::string message_part;
  };
  for (const Case& c : std::vector<Case>{
           {"", BodyFormat::kJson, "empty"},
           {"  \n", BodyFormat::kYaml, "empty"},
           {"{", BodyFormat::kJson, "malformed JSON"},
           {"{\"a\": 1,}", BodyFormat::kJson, "malformed JSON"},
           {"[1, 2]", BodyFormat::kJson, "got array"},
           {"\"text\"", BodyFormat::kJson, "got string"},
           {"a: [1, 2", BodyFormat::kYaml, "malformed YAML"},
           {"- 1\n- 2\n", BodyFormat::kYaml, "got array"},
           {"a: 1\n---\nb: 2\n", BodyFormat::kYaml, "one YAML document"},
           {"a: 1\na: 2\n", BodyFormat::kYaml, "duplicate key"},
           {"a: {b: .nan}\n", BodyFormat::kYaml, "a.b"},
           {"a: [1, .inf]\n", BodyFormat::kYaml, "a[1]"},
           {"a: \xff\xfe\n", BodyFormat::kYaml, ""},
           {std::string(100, '[') + std::string(100, ']'), BodyFormat::kJson, "deeper"},
       }) {
    auto decoded = DecodeObject(c.body, c.format);
    ASSERT_FALSE(decoded.ok()) << c.body;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_NE(decoded.status().message().find(c.message_part), std::string::npos)
        << c.body << " -> " << decoded.status().message();
  }
}

TEST(DecodeObjectTest, NonFiniteNumberNamesTheField) {
  auto decoded = DecodeObject("spec:\n  \"odd key\": [0, -.inf]\n", BodyFormat::kYaml);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().field(), "spec[\"odd key\"][1]");
}

TEST(NegotiateTest, JsonUnlessYamlIsPreferred) {
  EXPECT_EQ(NegotiateResponseFormat(""), BodyFormat::kJson);
  EXPECT_EQ(NegotiateResponseFormat("*/*"), BodyFormat::kJson);
  EXPECT_EQ(NegotiateResponseFormat("application/json"), BodyFormat::kJson);
  EXPECT_EQ(NegotiateResponseFormat("text/html"), BodyFormat::kJson);
  EXPECT_EQ(NegotiateResponseFormat("application/yaml"), BodyFormat::kYaml);
  EXPECT_EQ(NegotiateResponseFormat("application/x-yaml"), BodyFormat::kYaml);
  EXPECT_EQ(NegotiateResponseFormat("Text/YAML"), BodyFormat::kYaml);
  EXPECT_EQ(NegotiateResponseFormat("application/yaml, application/json"), BodyFormat::kJson);  // tie: JSON
  EXPECT_EQ(NegotiateResponseFormat("application/json;q=0.5, application/yaml"), BodyFormat::kYaml);
  EXPECT_EQ(NegotiateResponseFormat("application/yaml;q=0.5, */*;q=0.9"), BodyFormat::kJson);
  EXPECT_EQ(NegotiateResponseFormat("application/yaml;q=0, application/json;q=0"), BodyFormat::kJson);
  EXPECT_EQ(NegotiateResponseFormat("application/*, application/yaml;q=0.1"), BodyFormat::kJson);
  EXPECT_EQ(NegotiateResponseFormat(",,;q=;,application/yaml;q=abc"), BodyFormat::kJson);
}

TEST(ObjectResponseTest, EncodesByAccept) {
  Json value = {{"kind", "ConfigMap"}, {"data", {{"k", "v"}}}};
  HttpResponse json = ObjectResponse(HttpRequest{}, 201, value);
  EXPECT_EQ(json.status, 201);
  EXPECT_EQ(json.headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(*ParseJson(json.body), value);

  HttpResponse yaml = ObjectResponse(WithHeader("Accept", "application/yaml"), 200, value);
  EXPECT_EQ(yaml.headers.Get("Content-Type"), "application/yaml");
  EXPECT_NE(yaml.body.find("kind: ConfigMap"), std::string::npos) << yaml.body;
  EXPECT_EQ(*ParseYaml(yaml.body), value);
}

TEST(EncodeTest, InvalidUtf8IsReplacedNotThrown) {
  Json value = {{"s", std::string("\xff\xfe")}};
  std::string out;
  EXPECT_NO_THROW(out = Encode(value, BodyFormat::kJson));
  EXPECT_TRUE(ParseJson(out).ok()) << out;
}

}  // namespace
}  // namespace ferry::api
