// Tests of the V2 and V1 REST codecs: every datatype both ways, JSON and
// binary tensor data, and a long list of malformed bodies, each refused
// with a message naming what is wrong.
#include "ferry/serving/protocol/infer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "ferry/serving/protocol/tensor_internal.h"

namespace ferry::serving::protocol {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

template <typename T>
std::string Raw(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  std::vector<T> out(t.data.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), t.data.data(), out.size() * sizeof(T));
  return out;
}

std::string BytesData(const std::vector<std::string>& elements) {
  std::string out;
  for (const std::string& e : elements) {
    const auto len = static_cast<uint32_t>(e.size());
    out.append(reinterpret_cast<const char*>(&len), 4);
    out.append(e);
  }
  return out;
}

Result<InferRequest> Decode(std::string_view body) { return DecodeInferRequest(body, std::nullopt); }

// The message of the error decoding `body` gives; fails the test when the
// body decodes.
std::string DecodeError(std::string_view body, std::optional<std::size_t> json_size = std::nullopt) {
  auto r = DecodeInferRequest(body, json_size);
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

std::string OneInput(std::string_view datatype, std::string_view shape, std::string_view data) {
  return R"({"inputs":[{"name":"x","datatype":")" + std::string(datatype) + R"(","shape":)" +
         std::string(shape) + R"(,"data":)" + std::string(data) + "}]}";
}

Tensor DecodeOne(std::string_view datatype, std::string_view shape, std::string_view data) {
  auto r = Decode(OneInput(datatype, shape, data));
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok() || r->inputs.size() != 1) return {};
  return r->inputs[0];
}

std::string DecodeOneError(std::string_view datatype, std::string_view shape, std::string_view data) {
  return DecodeError(OneInput(datatype, shape, data));
}

// Sends `t` out as a response output and back in as a request input: the
// response's output objects are exactly request input objects.
Tensor RoundTrip(const Tensor& t, bool binary) {
  InferResponse response{"m", "1", "", Json::object(), {t}};
  InferRequest request;
  request.binary_data_output = binary;
  EncodedResponse encoded = EncodeInferResponse(response, request);
  EXPECT_EQ(encoded.json_size.has_value(), binary);
  const std::size_t json_size = encoded.json_size.value_or(encoded.body.size());
  // Unknown top-level fields are ignored: renaming "outputs" suffices.
  std::string request_json = encoded.body.substr(0, json_size);
  const std::size_t at = request_json.find("\"outputs\":");
  EXPECT_NE(at, std::string::npos);
  if (at == std::string::npos) return {};
  request_json.replace(at, 10, "\"inputs\":");
  auto decoded = DecodeInferRequest(request_json + encoded.body.substr(json_size),
                                    binary ? std::optional<std::size_t>(request_json.size()) : std::nullopt);
  EXPECT_TRUE(decoded.ok()) << decoded.status().message() << "\n" << request_json;
  if (!decoded.ok()) return {};
  return decoded->inputs.at(0);
}

std::vector<Tensor> EveryDatatype() {
  return {
      {"bool", DataType::kBool, {2, 2}, std::string("\1\0\0\1", 4)},
      {"u8", DataType::kUint8, {3}, Raw<uint8_t>({0, 7, 255})},
      {"u16", DataType::kUint16, {3}, Raw<uint16_t>({0, 7, 65535})},
      {"u32", DataType::kUint32, {3}, Raw<uint32_t>({0, 7, 4294967295u})},
      {"u64", DataType::kUint64, {3}, Raw<uint64_t>({0, 7, std::numeric_limits<uint64_t>::max()})},
      {"i8", DataType::kInt8, {3}, Raw<int8_t>({-128, 0, 127})},
      {"i16", DataType::kInt16, {3}, Raw<int16_t>({-32768, 0, 32767})},
      {"i32", DataType::kInt32, {3}, Raw<int32_t>({std::numeric_limits<int32_t>::min(), 0, 2147483647})},
      {"i64",
       DataType::kInt64,
       {3},
       Raw<int64_t>({std::numeric_limits<int64_t>::min(), -1, std::numeric_limits<int64_t>::max()})},
      {"f16", DataType::kFp16, {4}, Raw<uint16_t>({0x3c00, 0x2e66, 0x7bff, 0x0001})},
      {"f32", DataType::kFp32, {2, 3}, Raw<float>({0.1f, -1.5f, 3.4028235e38f, 1e-45f, 0.0f, 16777217.0f})},
      {"f64", DataType::kFp64, {3}, Raw<double>({0.1, -1e308, 5e-324})},
      {"bytes", DataType::kBytes, {3}, BytesData({"hello", std::string("a\0b\n\"\\", 6), ""})},
      {"scalar", DataType::kFp32, {}, Raw<float>({2.5f})},
      {"empty", DataType::kInt64, {0, 4}, ""},
  };
}

// ---------------------------------------------------------------------------
// Round trips

TEST(InferRoundTripTest, EveryDatatypeAsJson) {
  for (const Tensor& t : EveryDatatype()) {
    Tensor back = RoundTrip(t, false);
    EXPECT_EQ(back.name, t.name);
    EXPECT_EQ(back.datatype, t.datatype) << t.name;
    EXPECT_EQ(back.shape, t.shape) << t.name;
    EXPECT_EQ(back.data, t.data) << t.name;
  }
}

TEST(InferRoundTripTest, EveryDatatypeAsBinary) {
  for (const Tensor& t : EveryDatatype()) {
    Tensor back = RoundTrip(t, true);
    EXPECT_EQ(back.datatype, t.datatype) << t.name;
    EXPECT_EQ(back.shape, t.shape) << t.name;
    EXPECT_EQ(back.data, t.data) << t.name;
  }
}

TEST(InferRoundTripTest, EveryFloatSurvivesJson) {
  // Shortest round-trip digits: a sweep of float bit patterns comes back
  // bit for bit.
  std::vector<float> values;
  for (uint32_t bits = 0; bits < 0x7f800000u; bits += 0x00012345u) {
    float f;
    std::memcpy(&f, &bits, 4);
    values.push_back(f);
    values.push_back(-f);
  }
  Tensor t{"f", DataType::kFp32, {static_cast<int64_t>(values.size())}, Raw(values)};
  const std::vector<float> back = Values<float>(RoundTrip(t, false));
  ASSERT_EQ(back.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(std::memcmp(&back[i], &values[i], 4), 0)
        << i << ": " << values[i] << " came back as " << back[i];
  }
}

// ---------------------------------------------------------------------------
// Decoding JSON data

TEST(InferDecodeTest, FlatAndNestedDataAreTheSame) {
  Tensor flat = DecodeOne("FP32", "[2,3]", "[1,2,3,4,5,6]");
  Tensor nested = DecodeOne("FP32", "[2,3]", "[[1,2,3],[4,5,6]]");
  EXPECT_EQ(flat.data, nested.data);
  EXPECT_EQ(Values<float>(flat), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(flat.shape, (std::vector<int64_t>{2, 3}));
  // Any nesting is flattened row-major, as Triton does.
  EXPECT_EQ(DecodeOne("FP32", "[2,3]", "[[1],[2,[3,[4]]],5,[[6]]]").data, flat.data);
}

TEST(InferDecodeTest, ReadsTheWholeRequest) {
  auto r = Decode(R"({"id":"req-1","parameters":{"binary_data_output":true,"priority":2,"custom":"v"},
    "inputs":[{"name":"a","shape":[1],"datatype":"INT32","data":[7],"parameters":{"note":1}},
              {"name":"b","shape":[2],"datatype":"BYTES","data":["x","yz"]}],
    "outputs":[{"name":"out","parameters":{"binary_data":false,"classification":3,"other":[1]}},
               {"name":"out2"}],
    "model_name":"ignored","something":{"deep":[1,2]}})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id, "req-1");
  EXPECT_TRUE(r->binary_data_output);
  EXPECT_EQ(r->parameters["priority"], 2);
  EXPECT_EQ(r->parameters["custom"], "v");
  ASSERT_EQ(r->inputs.size(), 2u);
  EXPECT_EQ(r->inputs[0].name, "a");
  EXPECT_EQ(Values<int32_t>(r->inputs[0]), std::vector<int32_t>{7});
  EXPECT_EQ(r->inputs[1].data, BytesData({"x", "yz"}));
  ASSERT_EQ(r->outputs.size(), 2u);
  EXPECT_EQ(r->outputs[0].name, "out");
  EXPECT_EQ(r->outputs[0].binary_data, false);
  EXPECT_EQ(r->outputs[0].classification, 3);
  EXPECT_EQ(r->outputs[0].parameters["other"], Json::array({1}));
  EXPECT_EQ(r->outputs[1].name, "out2");
  EXPECT_FALSE(r->outputs[1].binary_data.has_value());
  EXPECT_EQ(r->outputs[1].classification, 0);
}

TEST(InferDecodeTest, OptionalFieldsMayBeAbsentOrNull) {
  auto r = Decode(R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP64","data":[1]}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, "");
  EXPECT_TRUE(r->parameters.empty());
  EXPECT_TRUE(r->outputs.empty());
  EXPECT_FALSE(r->binary_data_output);
  auto nulls = Decode(
      R"({"id":null,"parameters":null,"outputs":null,
          "inputs":[{"name":"a","shape":[1],"datatype":"FP64","data":[1],"parameters":null}]})");
  ASSERT_TRUE(nulls.ok()) << nulls.status().message();
  EXPECT_TRUE(Decode(R"({"inputs":[]})").ok());
}

TEST(InferDecodeTest, ScalarAndZeroSizedShapes) {
  Tensor scalar = DecodeOne("INT64", "[]", "[42]");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(Values<int64_t>(scalar), std::vector<int64_t>{42});
  Tensor empty = DecodeOne("FP32", "[0,4]", "[]");
  EXPECT_EQ(empty.shape, (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(empty.data.empty());
  EXPECT_TRUE(DecodeOne("FP32", "[2,0]", "[[],[]]").data.empty());
  EXPECT_TRUE(DecodeOne("BYTES", "[0]", "[]").data.empty());
  EXPECT_EQ(DecodeOneError("FP32", "[]", "[]"), "inputs[0].data: FP32 [] needs 1 elements, got 0");
  EXPECT_EQ(DecodeOneError("FP32", "[0,4]", "[1]"), "inputs[0].data: FP32 [0,4] needs 0 elements, got 1");
}

TEST(InferDecodeTest, BoolsAreJsonBooleans) {
  EXPECT_EQ(DecodeOne("BOOL", "[3]", "[true,false,true]").data, std::string("\1\0\1", 3));
  EXPECT_EQ(DecodeOneError("BOOL", "[2]", "[true,1]"),
            "inputs[0].data[1]: expected true or false for BOOL, got 1");
  EXPECT_EQ(DecodeOneError("BOOL", "[1]", R"(["true"])"),
            "inputs[0].data[0]: expected true or false for BOOL, got \"true\"");
}

TEST(InferDecodeTest, IntegersMustBeJsonIntegersInRange) {
  struct Case {
    const char* type;
    const char* too_low;
    const char* too_high;
    const char* range;
  };
  const Case cases[] = {
      {"UINT8", "-1", "256", "(0 to 255)"},
      {"UINT64", "-1", "18446744073709551615", "(0 to 18446744073709551615)"},
      {"UINT16", "-1", "65536", "(0 to 65535)"},
      {"UINT32", "-1", "4294967296", "(0 to 4294967295)"},

      {"INT8", "-129", "128", "(-128 to 127)"},
      {"INT16", "-32769", "32768", "(-32768 to 32767)"},
      {"INT32", "-2147483649", "2147483648", "(-2147483648 to 2147483647)"},
      {"INT64", "-9223372036854775808", "9223372036854775808",
       "(-9223372036854775808 to 9223372036854775807)"},
  };
  for (const Case& c : cases) {
    if (std::string(c.type) == "UINT64" || std::string(c.type) == "INT64") {
      // The other bound is a valid value: only one side can be out of range.
      const char* bad = std::string(c.type) == "UINT64" ? c.too_low : c.too_high;
      EXPECT_EQ(DecodeOneError(c.type, "[1]", std::string("[") + bad + "]"),
                "inputs[0].data[0]: " + std::string(bad) + " is out of range for " + c.type + " " + c.range);
      continue;
    }
    for (const char* bad : {c.too_low, c.too_high}) {
      const std::string message = DecodeOneError(c.type, "[2]", std::string("[0,") + bad + "]");
      EXPECT_THAT(message, HasSubstr("inputs[0].data[1]: ")) << c.type << " " << bad;
      EXPECT_THAT(message, HasSubstr("out of range for " + std::string(c.type))) << message;
      EXPECT_THAT(message, HasSubstr(c.range)) << message;
    }
    EXPECT_EQ(DecodeOneError(c.type, "[1]", "[1.5]"),
              "inputs[0].data[0]: expected an integer for " + std::string(c.type) + ", got 1.5");
    EXPECT_EQ(DecodeOneError(c.type, "[1]", "[1.0]"),
              "inputs[0].data[0]: expected an integer for " + std::string(c.type) + ", got 1.0");
    EXPECT_EQ(DecodeOneError(c.type, "[1]", R"(["1"])"),
              "inputs[0].data[0]: expected an integer for " + std::string(c.type) + ", got \"1\"");
    EXPECT_EQ(DecodeOneError(c.type, "[1]", "[true]"),
              "inputs[0].data[0]: expected an integer for " + std::string(c.type) + ", got true");
  }
  EXPECT_EQ(Values<int8_t>(DecodeOne("INT8", "[2]", "[-128,127]")), (std::vector<int8_t>{-128, 127}));
  EXPECT_EQ(Values<uint64_t>(DecodeOne("UINT64", "[1]", "[18446744073709551615]")),
            std::vector<uint64_t>{std::numeric_limits<uint64_t>::max()});
  // Beyond 64 bits simdjson refuses the number while parsing, before its
  // place in the document is known.
  for (const char* beyond : {"18446744073709551616", "-9223372036854775809"}) {
    EXPECT_EQ(DecodeOneError("INT64", "[1]", std::string("[") + beyond + "]"),
              "the request is not valid JSON: a number is malformed or beyond the 64-bit integer range");
  }
}

TEST(InferDecodeTest, FloatsAreNumbers) {
  EXPECT_EQ(Values<float>(DecodeOne("FP32", "[3]", "[1, 2.5, -1e-3]")),
            (std::vector<float>{1, 2.5f, -1e-3f}));
  EXPECT_EQ(Values<double>(DecodeOne("FP64", "[2]", "[0.1, 18446744073709551615]")),
            (std::vector<double>{0.1, 18446744073709551615.0}));
  EXPECT_EQ(DecodeOneError("FP32", "[1]", R"(["1.5"])"),
            "inputs[0].data[0]: expected a number for FP32, got \"1.5\"");
  EXPECT_EQ(DecodeOneError("FP64", "[1]", "[null]"),
            "inputs[0].data[0]: expected a number for FP64, got null");
  EXPECT_EQ(DecodeOneError("FP16", "[1]", "[false]"),
            "inputs[0].data[0]: expected a number for FP16, got false");
  EXPECT_EQ(DecodeOneError("FP32", "[2]", R"([1,{"a":1}])"),
            "inputs[0].data[1]: expected a number for FP32, got an object");
  // Finite values beyond the type's range would silently become infinity.
  EXPECT_EQ(DecodeOneError("FP32", "[1]", "[1e39]"), "inputs[0].data[0]: 1e+39 is out of range for FP32");
  EXPECT_EQ(DecodeOneError("FP16", "[1]", "[65520]"), "inputs[0].data[0]: 65520 is out of range for FP16");
  EXPECT_EQ(Values<float>(DecodeOne("FP32", "[1]", "[3.4028235e38]")),
            std::vector<float>{std::numeric_limits<float>::max()});
  EXPECT_EQ(Values<double>(DecodeOne("FP64", "[1]", "[1e308]")), std::vector<double>{1e308});
}

TEST(InferDecodeTest, Fp16IsStoredAsHalfBitsRoundedToNearestEven) {
  EXPECT_EQ(Values<uint16_t>(DecodeOne("FP16", "[6]", "[1, 0.1, -2, 65504, 65519, 5.960464477539063e-8]")),
            (std::vector<uint16_t>{0x3c00, 0x2e66, 0xc000, 0x7bff, 0x7bff, 0x0001}));
  // 1 + 2^-11 is the tie between 1 and 1 + 2^-10: even wins.
  EXPECT_EQ(Values<uint16_t>(DecodeOne("FP16", "[2]", "[1.00048828125, 1.00146484375]")),
            (std::vector<uint16_t>{0x3c00, 0x3c02}));
}

TEST(InferDecodeTest, NonFiniteFloatsAsTritonWritesThem) {
  Tensor t = DecodeOne("FP32", "[3]", "[NaN, Infinity, -Infinity]");
  auto v = Values<float>(t);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[2], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(Values<uint16_t>(DecodeOne("FP16", "[1]", "[-Infinity]")), std::vector<uint16_t>{0xfc00});
  // Only bare words outside strings are read that way.
  auto r = Decode(R"({"id":"NaN Infinity","inputs":[
      {"name":"s","shape":[1],"datatype":"BYTES","data":["NaN \"Infinity\""]},
      {"name":"f","shape":[1],"datatype":"FP64","data":[NaN]}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id, "NaN Infinity");
  EXPECT_EQ(r->inputs[0].data, BytesData({"NaN \"Infinity\""}));
  EXPECT_EQ(DecodeOneError("INT32", "[1]", "[NaN]"),
            "inputs[0].data[0]: expected an integer for INT32, got NaN");
  EXPECT_EQ(DecodeOneError("BYTES", "[1]", "[Infinity]"),
            "inputs[0].data[0]: expected a string for BYTES, got Infinity");
  EXPECT_EQ(DecodeOneError("FP32", "[1]", R"(["NaN"])"),
            "inputs[0].data[0]: expected a number for FP32, got \"NaN\"");
  EXPECT_THAT(DecodeOneError("FP32", "[1]", "[nan]"), HasSubstr("is not valid JSON"));
  EXPECT_THAT(DecodeOneError("FP32", "[1]", "[NaNa]"), HasSubstr("is not valid JSON"));
}

TEST(InferDecodeTest, BytesAreJsonStrings) {
  EXPECT_EQ(DecodeOne("BYTES", "[3]", R"(["a", "\u0000b\u0000", "é"])").data,
            BytesData({"a", std::string("\0b\0", 3), "é"}));
  EXPECT_EQ(DecodeOneError("BYTES", "[2]", R"(["a", 1])"),
            "inputs[0].data[1]: expected a string for BYTES, got 1");
}

TEST(InferDecodeTest, ElementCountMustMatchTheShape) {
  EXPECT_EQ(DecodeOneError("INT32", "[2,2]", "[1,2,3]"),
            "inputs[0].data: INT32 [2,2] needs 4 elements, got 3");
  EXPECT_EQ(DecodeOneError("INT32", "[2,2]", "[[1,2],[3,4],[5]]"),
            "inputs[0].data: INT32 [2,2] needs 4 elements, got 5");
  EXPECT_EQ(DecodeOneError("BYTES", "[1]", R"(["a","b"])"),
            "inputs[0].data: BYTES [1] needs 1 elements, got 2");
  // A shape far beyond what the body can hold is refused without allocating it.
  EXPECT_EQ(DecodeOneError("FP64", "[1000000000000]", "[1]"),
            "inputs[0].data: FP64 [1000000000000] needs 1000000000000 elements, got 1");
  EXPECT_EQ(DecodeOneError("FP64", "[4294967296,4294967296]", "[1]"),
            "inputs[0].shape: shape [4294967296,4294967296] has too many elements");
}

TEST(InferDecodeTest, DataMustBeAnArray) {
  EXPECT_EQ(DecodeOneError("FP32", "[1]", "1"), "inputs[0].data: expected an array, got 1");
  EXPECT_EQ(DecodeOneError("FP32", "[1]", R"({"a":1})"), "inputs[0].data: expected an array, got an object");
}

TEST(InferDecodeTest, FieldErrorsNameTheirPath) {
  const std::string ok_input = R"({"name":"a","shape":[1],"datatype":"FP32","data":[1]})";
  struct Case {
    std::string body;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"[]", "the request body must be a JSON object, got an array"},
      {"3", "the request body must be a JSON object, got a number"},
      {"{}", "inputs: missing"},
      {R"({"inputs":{}})", "inputs: expected an array, got an object"},
      {R"({"inputs":[],"inputs":[]})", "duplicate field 'inputs'"},
      {R"({"id":"a","inputs":[],"id":"b"})", "duplicate field 'id'"},
      {R"({"inputs":[3]})", "inputs[0]: expected an object, got 3"},
      {R"({"id":5,"inputs":[]})", "id: expected a string, got 5"},
      {R"({"parameters":[1],"inputs":[]})", "parameters: expected an object, got an array"},
      {R"({"parameters":{"binary_data_output":"yes"},"inputs":[]})",
       "parameters.binary_data_output: expected true or false, got \"yes\""},
      {R"({"inputs":[)" + ok_input + R"(,{"shape":[1],"datatype":"FP32","data":[1]}]})",
       "inputs[1].name: missing"},
      {R"({"inputs":[{"name":"a","datatype":"FP32","data":[1]}]})", "inputs[0].shape: missing"},
      {R"({"inputs":[{"name":"a","shape":[1],"data":[1]}]})", "inputs[0].datatype: missing"},
      {R"({"inputs":[{"name":7,"shape":[1],"datatype":"FP32","data":[1]}]})",
       "inputs[0].name: expected a string, got 7"},
      {R"({"inputs":[{"name":"a","shape":"1","datatype":"FP32","data":[1]}]})",
       "inputs[0].shape: expected an array of dimensions, got \"1\""},
      {R"({"inputs":[)" + ok_input + R"(,{"name":"b","shape":[2,-1],"datatype":"FP32","data":[1]}]})",
       "inputs[1].shape[1]: expected a non-negative integer, got -1"},
      {R"({"inputs":[{"name":"b","shape":[1.5],"datatype":"FP32","data":[1]}]})",
       "inputs[0].shape[0]: expected a non-negative integer, got 1.5"},
      {R"({"inputs":[{"name":"b","shape":[18446744073709551615],"datatype":"FP32","data":[1]}]})",
       "inputs[0].shape[0]: 18446744073709551615 is too large"},
      {R"({"inputs":[{"name":"b","shape":[1],"datatype":"FLOAT","data":[1]}]})",
       "inputs[0].datatype: unknown datatype 'FLOAT' (valid: BOOL, UINT8, UINT16, UINT32, UINT64, INT8, "
       "INT16, "
       "INT32, INT64, FP16, FP32, FP64, BYTES)"},
      {R"({"inputs":[{"name":"b","shape":[1],"datatype":"FP32","data":[1],"content":[1]}]})",
       "inputs[0].content: unknown field (an input has name, shape, datatype, parameters and data)"},
      {R"({"inputs":[{"name":"b","name":"c","shape":[1],"datatype":"FP32","data":[1]}]})",
       "inputs[0]: duplicate field 'name'"},
      {R"({"inputs":[{"name":"b","shape":[1],"datatype":"FP32"}]})",
       "inputs[0]: has neither 'data' nor parameters.binary_data_size"},
      {R"({"inputs":[{"name":"b","shape":[1],"datatype":"FP32","data":[1],"parameters":{"binary_data_size":4}}]})",
       "inputs[0]: has both 'data' and parameters.binary_data_size; send one"},
      {R"({"inputs":[{"name":"b","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":-4}}]})",
       "inputs[0].parameters.binary_data_size: expected a non-negative integer, got -4"},
      {R"({"inputs":[{"name":"b","shape":[1],"datatype":"FP32","parameters":{"shared_memory_region":"r"}}]})",
       "inputs[0].parameters.shared_memory_region: shared-memory tensors are not supported; send the data in "
       "the "
       "body"},
      {R"({"inputs":[{"name":"b","shape":[1],"datatype":"FP32","data":[1],"parameters":5}]})",
       "inputs[0].parameters: expected an object, got 5"},
      {R"({"inputs":[],"outputs":{}})", "outputs: expected an array, got an object"},
      {R"({"inputs":[],"outputs":[{}]})", "outputs[0].name: missing"},
      {R"({"inputs":[],"outputs":[{"name":"o","parameters":{"binary_data":1}}]})",
       "outputs[0].parameters.binary_data: expected true or false, got 1"},
      {R"({"inputs":[],"outputs":[{"name":"o","parameters":{"classification":-2}}]})",
       "outputs[0].parameters.classification: expected a non-negative integer, got -2"},
      {R"({"inputs":[],"outputs":[{"name":"o"},{"name":"p","datatype":"FP32"}]})",
       "outputs[1].datatype: unknown field (a requested output has name and parameters)"},
      {R"({"inputs":[],"outputs":[{"name":"o","parameters":{"shared_memory_region":"r"}}]})",
       "outputs[0].parameters.shared_memory_region: shared-memory tensors are not supported"},
  };
  for (const Case& c : cases) {
    auto r = Decode(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.message) << c.body;
  }
  auto r = Decode(R"({"inputs":[{"name":"b","shape":[2,-1],"datatype":"FP32","data":[1]}]})");
  EXPECT_EQ(r.status().field(), "inputs[0].shape[1]");
}

TEST(InferDecodeTest, MalformedJson) {
  for (const char* body : {"", "{", R"({"inputs":[})", R"({"inputs":[]} x)", R"({"inputs":[],})", "\xff\xfe",
                           R"({"id":"\xff","inputs":[]})", R"({"inputs":[1,]})"}) {
    EXPECT_THAT(DecodeError(body), HasSubstr("the request is not valid JSON: ")) << body;
  }
}

TEST(InferDecodeTest, NestingDepthIsLimitedTo64) {
  // The data array sits three levels down: {"inputs":[{"data":...}]}.
  auto nested = [](int levels) {
    std::string shape = "[";
    for (int i = 0; i < levels; ++i) shape += i == 0 ? "1" : ",1";
    shape += "]";
    return OneInput("FP32", shape, std::string(levels, '[') + "1" + std::string(levels, ']'));
  };
  EXPECT_TRUE(Decode(nested(61)).ok()) << Decode(nested(61)).status().message();
  EXPECT_EQ(DecodeError(nested(62)), "the request: JSON nesting deeper than 64 levels");
  EXPECT_EQ(DecodeError(std::string(100000, '[') + std::string(100000, ']')),
            "the request: JSON nesting deeper than 64 levels");
  EXPECT_THAT(DecodeError(std::string(100000, '[')), HasSubstr("is not valid JSON"));
  EXPECT_EQ(DecodeError(R"({"inputs":[],"parameters":)" + std::string(70, '[') + std::string(70, ']') + "}"),
            "the request: JSON nesting deeper than 64 levels");
}

// ---------------------------------------------------------------------------
// Binary tensor data

// A JSON header and its binary tail, as tritonclient sends them.
struct BinaryBody {
  std::string body;
  std::size_t json_size;
};

BinaryBody WithBinary(const std::string& json, const std::string& tail) { return {json + tail, json.size()}; }

TEST(InferBinaryTest, MixedJsonAndBinaryInputs) {
  const std::string floats = Raw<float>({1.5f, -2.0f, 3.25f, 0.0f});
  const std::string strings = BytesData({"ab", std::string("\0\0", 2), ""});
  BinaryBody b = WithBinary(
      R"({"inputs":[{"name":"f","shape":[2,2],"datatype":"FP32","parameters":{"binary_data_size":16}},)"
      R"({"name":"j","shape":[2],"datatype":"INT64","data":[5,6]},)"
      R"({"name":"s","shape":[3],"datatype":"BYTES","parameters":{"binary_data_size":)" +
          std::to_string(strings.size()) +
          R"(}}],"outputs":[{"name":"o","parameters":{"binary_data":true}}]})",
      floats + strings);
  auto r = DecodeInferRequest(b.body, b.json_size);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->inputs.size(), 3u);
  EXPECT_EQ(r->inputs[0].data, floats);
  EXPECT_EQ(Values<int64_t>(r->inputs[1]), (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(r->inputs[2].data, strings);
  EXPECT_EQ(r->outputs[0].binary_data, true);
}

TEST(InferBinaryTest, ZeroSizedBinaryInputs) {
  BinaryBody b = WithBinary(
      R"({"inputs":[{"name":"e","shape":[0,3],"datatype":"FP32","parameters":{"binary_data_size":0}},)"
      R"({"name":"f","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]})",
      Raw<float>({7}));
  auto r = DecodeInferRequest(b.body, b.json_size);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->inputs[0].data.empty());
  EXPECT_EQ(Values<float>(r->inputs[1]), std::vector<float>{7});
}

TEST(InferBinaryTest, SizesMustAddUpToTheBody) {
  const std::string json =
      R"({"inputs":[{"name":"a","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}},)"
      R"({"name":"b","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]})";
  const std::string full = json + Raw<float>({1, 2, 3});
  // Truncated: the last input's bytes are cut short.
  EXPECT_EQ(DecodeError(full.substr(0, full.size() - 2), json.size()),
            "inputs[1].parameters.binary_data_size: 4 bytes, but only 2 bytes of binary data remain after "
            "the JSON");
  EXPECT_EQ(DecodeError(json, json.size()),
            "inputs[0].parameters.binary_data_size: 8 bytes, but only 0 bytes of binary data remain after "
            "the JSON");
  // Extra bytes nobody claims.
  EXPECT_EQ(DecodeError(full + "xyz", json.size()),
            "15 bytes follow the JSON, but the inputs' binary_data_size add up to 12");
  EXPECT_TRUE(DecodeInferRequest(full, json.size()).ok());
  // Without any binary input the JSON must be the whole body.
  const std::string plain = OneInput("FP32", "[1]", "[1]");
  EXPECT_EQ(DecodeError(plain + "zz", plain.size()),
            "2 bytes follow the JSON, but the inputs' binary_data_size add up to 0");
  EXPECT_TRUE(DecodeInferRequest(plain, plain.size()).ok());
}

TEST(InferBinaryTest, HeaderLengthBeyondTheBody) {
  const std::string plain = OneInput("FP32", "[1]", "[1]");
  EXPECT_EQ(DecodeError(plain, plain.size() + 1),
            "Inference-Header-Content-Length " + std::to_string(plain.size() + 1) + " is beyond the body's " +
                std::to_string(plain.size()) + " bytes");
  // A header length inside the JSON cuts it: not valid JSON.
  EXPECT_THAT(DecodeError(plain, plain.size() - 3), HasSubstr("is not valid JSON"));
  EXPECT_THAT(DecodeError(plain, 0), HasSubstr("is not valid JSON"));
}

TEST(InferBinaryTest, BinaryBoolsAreZeroOrOne) {
  const std::string json =
      R"({"inputs":[{"name":"b","shape":[3],"datatype":"BOOL","parameters":{"binary_data_size":3}}]})";
  auto ok = DecodeInferRequest(json + std::string("\1\0\1", 3), json.size());
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->inputs[0].data, std::string("\1\0\1", 3));
  EXPECT_EQ(DecodeError(json + std::string("\1\2\1", 3), json.size()),
            "input 'b': BOOL [3]: element 1 is 2, not 0 or 1");
}

TEST(InferBinaryTest, BinaryDataNeedTheHeader) {
  const std::string json =
      R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]})";
  EXPECT_EQ(
      DecodeError(json),
      "inputs[0].parameters.binary_data_size: binary data need the Inference-Header-Content-Length header to "
      "say where the JSON ends");
}

TEST(InferBinaryTest, BinarySizeMustFitTheShape) {
  const std::string json =
      R"({"inputs":[{"name":"a","shape":[2,3],"datatype":"FP32","parameters":{"binary_data_size":20}}]})";
  EXPECT_EQ(DecodeError(json + std::string(20, '\0'), json.size()),
            "input 'a': FP32 [2,3] needs 24 bytes, got 20");
  const std::string bytes_json =
      R"({"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":9}}]})";
  std::string bad = BytesData({"abc"}) + std::string("\x09\0", 2);  // second length prefix cut short
  EXPECT_EQ(DecodeError(bytes_json + bad, bytes_json.size()),
            "input 's': BYTES [2]: element 1 needs a 4-byte length at offset 7, but the data end at 9");
  std::string long_element = BytesData({"abc", "de"});
  long_element[7] = 9;  // element 1 claims 9 bytes, 2 remain
  const std::string long_json =
      R"({"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":13}}]})";
  EXPECT_EQ(DecodeError(long_json + long_element, long_json.size()),
            "input 's': BYTES [2]: element 1 is 9 bytes long, but only 2 bytes remain");
}

// ---------------------------------------------------------------------------
// Encoding responses

TEST(InferEncodeTest, JsonResponse) {
  InferResponse response{
      "iris",
      "3",
      "",
      Json::object(),
      {{"label", DataType::kInt64, {2}, Raw<int64_t>({1, 2})},
       {"probabilities", DataType::kFp32, {2, 2}, Raw<float>({0.1f, 0.9f, 0.25f, 0.75f})}}};
  EncodedResponse e = EncodeInferResponse(response, InferRequest{});
  EXPECT_FALSE(e.json_size.has_value());
  EXPECT_EQ(e.body,
            R"({"model_name":"iris","model_version":"3","outputs":[)"
            R"({"name":"label","datatype":"INT64","shape":[2],"data":[1,2]},)"
            R"({"name":"probabilities","datatype":"FP32","shape":[2,2],"data":[0.1,0.9,0.25,0.75]}]})");
}

TEST(InferEncodeTest, IdAndParametersOnlyWhenSet) {
  InferResponse response{"m", "1", "req \"7\"", Json{{"sequence_id", 4}}, {}};
  EXPECT_EQ(
      EncodeInferResponse(response, InferRequest{}).body,
      R"({"model_name":"m","model_version":"1","id":"req \"7\"","parameters":{"sequence_id":4},"outputs":[]})");
}

TEST(InferEncodeTest, BinaryOutputsFollowTheJson) {
  const std::string floats = Raw<float>({1, 2});
  const std::string strings = BytesData({"a", std::string("\0", 1)});
  InferResponse response{"m",
                         "1",
                         "",
                         Json::object(),
                         {{"a", DataType::kFp32, {2}, floats},
                          {"b", DataType::kInt32, {1}, Raw<int32_t>({9})},
                          {"c", DataType::kBytes, {2}, strings}}};
  InferRequest request;
  request.outputs = {{"a", true, 0, {}}, {"b", std::nullopt, 0, {}}, {"c", true, 0, {}}};
  EncodedResponse e = EncodeInferResponse(response, request);
  const std::string json =
      R"({"model_name":"m","model_version":"1","outputs":[)"
      R"({"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},)"
      R"({"name":"b","datatype":"INT32","shape":[1],"data":[9]},)"
      R"({"name":"c","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":10}}]})";
  ASSERT_TRUE(e.json_size.has_value());
  EXPECT_EQ(*e.json_size, json.size());
  EXPECT_EQ(e.body, json + floats + strings);

  // The request-wide default applies where an output does not say.
  request.binary_data_output = true;
  request.outputs = {{"a", false, 0, {}}};
  e = EncodeInferResponse(response, request);
  EXPECT_THAT(e.body, HasSubstr(R"("name":"a","datatype":"FP32","shape":[2],"data":[1,2]})"));
  EXPECT_THAT(e.body,
              HasSubstr(R"("name":"b","datatype":"INT32","shape":[1],"parameters":{"binary_data_size":4}})"));
  EXPECT_EQ(e.body.substr(*e.json_size), Raw<int32_t>({9}) + strings);
}

TEST(InferEncodeTest, EmptyBinaryOutputStillSetsTheHeader) {
  InferResponse response{"m", "1", "", Json::object(), {{"e", DataType::kFp32, {0}, ""}}};
  InferRequest request;
  request.binary_data_output = true;
  EncodedResponse e = EncodeInferResponse(response, request);
  ASSERT_TRUE(e.json_size.has_value());
  EXPECT_EQ(*e.json_size, e.body.size());
  EXPECT_THAT(e.body, HasSubstr(R"("parameters":{"binary_data_size":0})"));
}

TEST(InferEncodeTest, NonFiniteFloatsAsTritonWritesThem) {
  const float inf = std::numeric_limits<float>::infinity();
  InferResponse response{
      "m",
      "1",
      "",
      Json::object(),
      {{"f", DataType::kFp32, {3}, Raw<float>({std::nanf(""), inf, -inf})},
       {"d", DataType::kFp64, {2}, Raw<double>({-std::numeric_limits<double>::infinity(), 1e300})},
       {"h", DataType::kFp16, {3}, Raw<uint16_t>({0x7e00, 0x7c00, 0x3555})}}};
  const std::string body = EncodeInferResponse(response, InferRequest{}).body;
  EXPECT_THAT(body, HasSubstr(R"("data":[NaN,Infinity,-Infinity])"));
  EXPECT_THAT(body, HasSubstr(R"("data":[-Infinity,1e+300])"));
  EXPECT_THAT(body, HasSubstr(R"("data":[NaN,Infinity,0.33325195])"));
  // ...which this decoder reads back.
  Tensor back = RoundTrip(response.outputs[0], false);
  auto v = Values<float>(back);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], inf);
  EXPECT_EQ(v[2], -inf);
}

TEST(InferEncodeTest, BytesAndBoolsAsJson) {
  InferResponse response{
      "m",
      "1",
      "",
      Json::object(),
      {{"s", DataType::kBytes, {3}, BytesData({"a\"b\\", std::string("\0\n\x1f", 3), "é"})},
       {"b", DataType::kBool, {2}, std::string("\1\0", 2)}}};
  const std::string body = EncodeInferResponse(response, InferRequest{}).body;
  EXPECT_THAT(body, HasSubstr(R"("data":["a\"b\\","\u0000\n\u001f","é"])"));
  EXPECT_THAT(body, HasSubstr(R"("data":[true,false])"));
  EXPECT_TRUE(Json::accept(body)) << body;
}

TEST(InferEncodeTest, MalformedOutputDataIsCutShortNotOverread) {
  InferResponse response{"m",
                         "1",
                         "",
                         Json::object(),
                         {{"f", DataType::kFp32, {4}, Raw<float>({1, 2})},
                          {"s", DataType::kBytes, {2}, std::string("\x05\0\0\0ab", 6)}}};
  const std::string body = EncodeInferResponse(response, InferRequest{}).body;
  EXPECT_THAT(body, HasSubstr(R"("shape":[4],"data":[1,2]})"));
  EXPECT_THAT(body, HasSubstr(R"("shape":[2],"data":[]})"));
  EXPECT_TRUE(Json::accept(body)) << body;
}

TEST(InferEncodeTest, ErrorBodies) {
  EXPECT_EQ(EncodeError("input 'x': bad"), R"({"error":"input 'x': bad"})");
  EXPECT_EQ(EncodeError("a \"b\" \\ c\nd\t\x01"), R"({"error":"a \"b\" \\ c\nd\t\u0001"})");
  EXPECT_EQ(EncodeError("caf\xc3\xa9 \xff!"), "{\"error\":\"caf\xc3\xa9 \xef\xbf\xbd!\"}");
  EXPECT_EQ(EncodeError(""), R"({"error":""})");
  for (const char* m : {"\"", "\\", "\x7f", "\xe2\x82", "\xed\xa0\x80"}) {
    auto j = Json::parse(EncodeError(m));  // throws on invalid JSON or UTF-8
    EXPECT_TRUE(j["error"].is_string());
  }
}

// ---------------------------------------------------------------------------
// V1

Result<InferRequest> DecodeV1(std::string_view body, DataType type, std::vector<int64_t> shape) {
  return DecodeV1Request(body, TensorSpec{"input", type, std::move(shape)});
}

std::string V1Error(std::string_view body, DataType type, std::vector<int64_t> shape) {
  auto r = DecodeV1(body, type, std::move(shape));
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? "" : r.status().message();
}

TEST(InferV1Test, InstancesBecomeTheBatch) {
  auto r = DecodeV1(R"({"instances":[[1,2,3,4],[5,6,7,8]]})", DataType::kFp32, {-1, 4});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(r->inputs[0].name, "input");
  EXPECT_EQ(r->inputs[0].datatype, DataType::kFp32);
  EXPECT_EQ(r->inputs[0].shape, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(Values<float>(r->inputs[0]), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_TRUE(r->outputs.empty());
  // The row format of TF serving says the same with "inputs".
  auto rows = DecodeV1(R"({"inputs":[[1,2,3,4],[5,6,7,8]],"signature_name":"serving_default"})",
                       DataType::kFp32, {-1, 4});
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->inputs[0].data, r->inputs[0].data);
}

TEST(InferV1Test, ScalarRows) {
  for (std::vector<int64_t> shape : {std::vector<int64_t>{-1}, std::vector<int64_t>{-1, 1}}) {
    auto r = DecodeV1(R"({"instances":[1,2,3]})", DataType::kInt64, shape);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(Values<int64_t>(r->inputs[0]), (std::vector<int64_t>{1, 2, 3}));
    shape[0] = 3;
    EXPECT_EQ(r->inputs[0].shape, shape);
  }
}

TEST(InferV1Test, VariableAndNestedRowDims) {
  auto r = DecodeV1(R"({"instances":[[1,2,3],[4,5,6]]})", DataType::kFp64, {-1, -1});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->inputs[0].shape, (std::vector<int64_t>{2, 3}));
  auto nested = DecodeV1(R"({"instances":[[[1,2],[3,4]],[[5,6],[7,8]]]})", DataType::kInt32, {-1, 2, 2});
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(nested->inputs[0].shape, (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(Values<int32_t>(nested->inputs[0]), (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(V1Error(R"({"instances":[[1,2,3],[4,5]]})", DataType::kFp64, {-1, -1}),
            "instances[1]: expected 3 values, got 2");
}

TEST(InferV1Test, StringsAndBools) {
  auto r = DecodeV1(R"({"instances":["a b", ""]})", DataType::kBytes, {-1});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->inputs[0].data, BytesData({"a b", ""}));
  auto b = DecodeV1(R"({"instances":[[true,false]]})", DataType::kBool, {-1, 2});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->inputs[0].data, std::string("\1\0", 2));
}

TEST(InferV1Test, EmptyInstances) {
  auto r = DecodeV1(R"({"instances":[]})", DataType::kFp32, {-1, 4});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->inputs[0].shape, (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(r->inputs[0].data.empty());
}

TEST(InferV1Test, ErrorsNameTheRow) {
  EXPECT_EQ(V1Error(R"({"instances":[[1,2,3,4],[1,2,3,4],[1,2,3,4],[1,2,3]]})", DataType::kFp32, {-1, 4}),
            "instances[3]: expected 4 values, got 3");
  EXPECT_EQ(V1Error(R"({"instances":[1]})", DataType::kFp32, {-1, 4}),
            "instances[0]: expected 4 values, got 1");
  EXPECT_EQ(V1Error(R"({"inputs":[[1,2],[3,"x"]]})", DataType::kFp32, {-1, 2}),
            "inputs[1][1]: expected a number for FP32, got \"x\"");
  EXPECT_EQ(V1Error(R"({"instances":[[1,300]]})", DataType::kUint8, {-1, 2}),
            "instances[0][1]: 300 is out of range for UINT8 (0 to 255)");
  EXPECT_EQ(V1Error(R"({"instances":[{"x":1}]})", DataType::kFp32, {-1}),
            "instances[0]: expected a number for FP32, got an object");
  EXPECT_EQ(V1Error(R"({"instances":[1],"inputs":[1]})", DataType::kFp32, {-1}),
            "the request has both 'instances' and 'inputs'; send one");
  EXPECT_EQ(V1Error(R"({"data":[1]})", DataType::kFp32, {-1}),
            "the request needs 'instances' (or 'inputs'): a list of rows");
  EXPECT_EQ(V1Error(R"({"instances":{"a":1}})", DataType::kFp32, {-1}),
            "instances: expected a list of rows, got an object");
  EXPECT_EQ(V1Error("[1]", DataType::kFp32, {-1}), "the request body must be a JSON object, got an array");
  EXPECT_THAT(V1Error("{", DataType::kFp32, {-1}), HasSubstr("not valid JSON"));
  EXPECT_EQ(V1Error(std::string(1000, '[') + std::string(1000, ']'), DataType::kFp32, {-1}),
            "the request: JSON nesting deeper than 64 levels");
}

TEST(InferV1Test, Predictions) {
  auto encode = [](Tensor t) {
    return EncodeV1Response(InferResponse{"m", "1", "", Json::object(), {std::move(t)}});
  };
  EXPECT_EQ(encode({"y", DataType::kInt64, {3}, Raw<int64_t>({0, 2, 1})}), R"({"predictions":[0,2,1]})");
  EXPECT_EQ(encode({"y", DataType::kFp32, {2, 1}, Raw<float>({0.5f, 1.5f})}), R"({"predictions":[0.5,1.5]})");
  EXPECT_EQ(encode({"y", DataType::kFp32, {2, 2}, Raw<float>({0.1f, 0.9f, 0.8f, 0.2f})}),
            R"({"predictions":[[0.1,0.9],[0.8,0.2]]})");
  EXPECT_EQ(encode({"y", DataType::kInt32, {1, 2, 2}, Raw<int32_t>({1, 2, 3, 4})}),
            R"({"predictions":[[[1,2],[3,4]]]})");
  EXPECT_EQ(encode({"y", DataType::kBytes, {2}, BytesData({"cat", "dog"})}),
            R"({"predictions":["cat","dog"]})");
  EXPECT_EQ(encode({"y", DataType::kFp64, {}, Raw<double>({2.5})}), R"({"predictions":[2.5]})");
  EXPECT_EQ(encode({"y", DataType::kFp64, {0, 3}, ""}), R"({"predictions":[]})");
  EXPECT_EQ(EncodeV1Response(InferResponse{}), R"({"predictions":[]})");
  // The first output answers; the others are not part of V1.
  InferResponse two{
      "m",
      "1",
      "",
      Json::object(),
      {{"a", DataType::kBool, {2}, std::string("\1\0", 2)}, {"b", DataType::kInt8, {1}, "\x05"}}};
  EXPECT_EQ(EncodeV1Response(two), R"({"predictions":[true,false]})");
  // Short data are cut with null rather than read out of bounds.
  EXPECT_EQ(encode({"y", DataType::kFp32, {3, 2}, Raw<float>({1, 2, 3})}),
            R"({"predictions":[[1,2],[3,null]]})");
}

// ---------------------------------------------------------------------------
// Bodies large enough to leave the per-thread buffers

TEST(InferDecodeTest, LargeBodies) {
  for (int n : {1000, 600000}) {  // the second is beyond the 256 KiB scratch limit
    std::string data = "[";
    for (int i = 0; i < n; ++i) {
      if (i > 0) data += ',';
      data += std::to_string(i % 1000) + ".5";
    }
    data += "]";
    Tensor t = DecodeOne("FP32", "[" + std::to_string(n) + "]", data);
    auto v = Values<float>(t);
    ASSERT_EQ(v.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(v[n - 1], static_cast<float>((n - 1) % 1000) + 0.5f);
  }
  // And the small path still works after the large one.
  EXPECT_EQ(Values<float>(DecodeOne("FP32", "[1]", "[3]")), std::vector<float>{3});
}

}  // namespace
}  // namespace ferry::serving::protocol
