#include "ferry/api/grpc/codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace ferry::api::grpc {
namespace {

namespace protocol = serving::protocol;

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

inference::ModelInferRequest OneInput(const std::string& datatype, std::vector<int64_t> shape) {
  inference::ModelInferRequest req;
  req.set_model_name("m");
  auto* in = req.add_inputs();
  in->set_name("x");
  in->set_datatype(datatype);
  for (int64_t d : shape) in->add_shape(d);
  return req;
}

std::string DecodedData(inference::ModelInferRequest req) {
  auto decoded = DecodeInferRequest(&req);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  if (!decoded.ok()) return {};
  return decoded->inputs.at(0).data;
}

std::string DecodeError(inference::ModelInferRequest req) {
  auto decoded = DecodeInferRequest(&req);
  EXPECT_FALSE(decoded.ok());
  if (decoded.ok()) return {};
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << decoded.status().ToString();
  return decoded.status().message();
}

TEST(GrpcCodecTest, TypedContentsBecomeTheBinaryLayout) {
  {
    auto req = OneInput("BOOL", {3});
    for (bool b : {true, false, true}) req.mutable_inputs(0)->mutable_contents()->add_bool_contents(b);
    EXPECT_EQ(DecodedData(req), std::string("\1\0\1", 3));
  }
  {
    auto req = OneInput("INT8", {2});
    for (int v : {-128, 127}) req.mutable_inputs(0)->mutable_contents()->add_int_contents(v);
    EXPECT_EQ(DecodedData(req), Bytes<int8_t>({-128, 127}));
  }
  {
    auto req = OneInput("INT16", {2});
    for (int v : {-300, 300}) req.mutable_inputs(0)->mutable_contents()->add_int_contents(v);
    EXPECT_EQ(DecodedData(req), Bytes<int16_t>({-300, 300}));
  }
  {
    auto req = OneInput("INT32", {2});
    for (int v : {-7, 1 << 30}) req.mutable_inputs(0)->mutable_contents()->add_int_contents(v);
    EXPECT_EQ(DecodedData(req), Bytes<int32_t>({-7, 1 << 30}));
  }
  {
    auto req = OneInput("INT64", {1, 2});
    for (int64_t v : {int64_t{-1}, int64_t{1} << 40})
      req.mutable_inputs(0)->mutable_contents()->add_int64_contents(v);
    EXPECT_EQ(DecodedData(req), Bytes<int64_t>({-1, int64_t{1} << 40}));
  }
  {
    auto req = OneInput("UINT8", {2});
    for (unsigned v : {0u, 255u}) req.mutable_inputs(0)->mutable_contents()->add_uint_contents(v);
    EXPECT_EQ(DecodedData(req), Bytes<uint8_t>({0, 255}));
  }
  {
    auto req = OneInput("UINT16", {1});
    req.mutable_inputs(0)->mutable_contents()->add_uint_contents(65535);
    EXPECT_EQ(DecodedData(req), Bytes<uint16_t>({65535}));
  }
  {
    auto req = OneInput("UINT32", {1});
    req.mutable_inputs(0)->mutable_contents()->add_uint_contents(4000000000u);
    EXPECT_EQ(DecodedData(req), Bytes<uint32_t>({4000000000u}));
  }
  {
    auto req = OneInput("UINT64", {1});
    req.mutable_inputs(0)->mutable_contents()->add_uint64_contents(uint64_t{1} << 63);
    EXPECT_EQ(DecodedData(req), Bytes<uint64_t>({uint64_t{1} << 63}));
  }
  {
    auto req = OneInput("FP32", {2, 1});
    for (float v : {1.5f, -2.0f}) req.mutable_inputs(0)->mutable_contents()->add_fp32_contents(v);
    EXPECT_EQ(DecodedData(req), Bytes<float>({1.5f, -2.0f}));
  }
  {
    auto req = OneInput("FP64", {1});
    req.mutable_inputs(0)->mutable_contents()->add_fp64_contents(0.25);
    EXPECT_EQ(DecodedData(req), Bytes<double>({0.25}));
  }
  {
    auto req = OneInput("BYTES", {2});
    req.mutable_inputs(0)->mutable_contents()->add_bytes_contents("ab");
    req.mutable_inputs(0)->mutable_contents()->add_bytes_contents("");
    EXPECT_EQ(DecodedData(req), std::string("\2\0\0\0ab\0\0\0\0", 10));
  }
}

TEST(GrpcCodecTest, RawContentsPassThrough) {
  auto req = OneInput("FP32", {2});
  req.add_raw_input_contents(Bytes<float>({1, 2}));
  EXPECT_EQ(DecodedData(req), Bytes<float>({1, 2}));
}

TEST(GrpcCodecTest, RequestFieldsAndParameters) {
  auto req = OneInput("FP32", {1});
  req.add_raw_input_contents(Bytes<float>({1}));
  req.set_id("abc");
  (*req.mutable_parameters())["priority"].set_uint64_param(3);
  (*req.mutable_parameters())["flag"].set_bool_param(true);
  auto* out = req.add_outputs();
  out->set_name("probs");
  (*out->mutable_parameters())["classification"].set_int64_param(2);
  auto decoded = DecodeInferRequest(&req);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->id, "abc");
  EXPECT_EQ(decoded->parameters["priority"], 3);
  EXPECT_EQ(decoded->parameters["flag"], true);
  ASSERT_EQ(decoded->outputs.size(), 1u);
  EXPECT_EQ(decoded->outputs[0].name, "probs");
  EXPECT_EQ(decoded->outputs[0].classification, 2);
  EXPECT_EQ(decoded->inputs[0].datatype, protocol::DataType::kFp32);
  EXPECT_EQ(decoded->inputs[0].shape, std::vector<int64_t>{1});
}

TEST(GrpcCodecTest, MalformedRequestsNameTheProblem) {
  {
    auto req = OneInput("FP32", {2, 4});
    for (int i = 0; i < 6; ++i) req.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1);
    EXPECT_EQ(DecodeError(req), "input 'x': FP32 [2,4] needs 8 values in contents.fp32_contents, got 6");
  }
  {
    auto req = OneInput("FP32", {1});
    req.mutable_inputs(0)->mutable_contents()->add_int_contents(1);
    EXPECT_EQ(DecodeError(req),
              "input 'x': FP32 data go in contents.fp32_contents, got contents.int_contents");
  }
  {
    auto req = OneInput("INT8", {1});
    req.mutable_inputs(0)->mutable_contents()->add_int_contents(300);
    EXPECT_EQ(DecodeError(req), "input 'x': contents.int_contents[0] = 300 is out of range for INT8");
  }
  {
    auto req = OneInput("FP16", {1});
    req.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1);
    EXPECT_NE(DecodeError(req).find("FP16 data must be sent in raw_input_contents"), std::string::npos);
  }
  {
    auto req = OneInput("FP32", {2});
    EXPECT_EQ(DecodeError(req), "input 'x' has no data: send raw_input_contents or contents.fp32_contents");
  }
  {
    auto req = OneInput("FP32", {1});
    req.add_raw_input_contents(Bytes<float>({1}));
    req.add_raw_input_contents(Bytes<float>({1}));
    EXPECT_EQ(DecodeError(req),
              "raw_input_contents has 2 entries for 1 inputs; send one per input, in order");
  }
  {
    auto req = OneInput("FP32", {1});
    req.add_raw_input_contents(Bytes<float>({1}));
    req.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1);
    EXPECT_EQ(DecodeError(req), "input 'x': contents must be empty when the request uses raw_input_contents");
  }
  {
    auto req = OneInput("FP32", {3});
    req.add_raw_input_contents(Bytes<float>({1, 2}));
    EXPECT_NE(DecodeError(req).find("input 'x'"), std::string::npos);
  }
  {
    auto req = OneInput("BYTES", {1});
    req.add_raw_input_contents(std::string("\x09\0\0\0ab", 6));  // length beyond the buffer
    EXPECT_NE(DecodeError(req).find("input 'x'"), std::string::npos);
  }
  {
    auto req = OneInput("float32", {1});
    EXPECT_NE(DecodeError(req).find("float32"), std::string::npos);
  }
  {
    auto req = OneInput("FP32", {-2});
    req.add_raw_input_contents("");
    EXPECT_NE(DecodeError(req).find("input 'x'"), std::string::npos);
  }
}

TEST(GrpcCodecTest, SharedMemoryIsUnimplemented) {
  auto req = OneInput("FP32", {1});
  (*req.mutable_inputs(0)->mutable_parameters())["shared_memory_region"].set_string_param("r");
  auto decoded = DecodeInferRequest(&req);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(decoded.status().message().find("shared memory"), std::string::npos);
}

TEST(GrpcCodecTest, ResponseUsesRawOutputContents) {
  protocol::InferResponse response;
  response.model_name = "m";
  response.model_version = "2";
  response.id = "r";
  response.parameters = {{"sequence_id", 7}, {"label", "x"}};
  response.outputs.push_back({"y", protocol::DataType::kInt64, {1, 2}, Bytes<int64_t>({3, 4})});
  inference::ModelInferResponse out;
  EncodeInferResponse(std::move(response), &out);
  EXPECT_EQ(out.model_name(), "m");
  EXPECT_EQ(out.model_version(), "2");
  EXPECT_EQ(out.id(), "r");
  EXPECT_EQ(out.parameters().at("sequence_id").int64_param(), 7);
  EXPECT_EQ(out.parameters().at("label").string_param(), "x");
  ASSERT_EQ(out.outputs_size(), 1);
  EXPECT_EQ(out.outputs(0).datatype(), "INT64");
  EXPECT_FALSE(out.outputs(0).has_contents());
  ASSERT_EQ(out.raw_output_contents_size(), 1);
  EXPECT_EQ(out.raw_output_contents(0), Bytes<int64_t>({3, 4}));
}

}  // namespace
}  // namespace ferry::api::grpc
