#include "ferry/api/grpc/grpc_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "grpc_service.grpc.pb.h"

namespace ferry::api::grpc {
namespace {

namespace protocol = serving::protocol;

// y = x + 1 over FP32 [-1, 2]: a test double of our own Model interface.
class AddOne : public serving::Model {
 public:
  AddOne() {
    signature_.platform = "onnxruntime_onnx";
    signature_.inputs = {{"x", protocol::DataType::kFp32, {-1, 2}}};
    signature_.outputs = {{"y", protocol::DataType::kFp32, {-1, 2}}};
    signature_.max_batch_size = 8;
  }
  const serving::ModelSignature& signature() const override { return signature_; }
  Result<std::vector<protocol::Tensor>> Infer(const std::vector<protocol::Tensor>& inputs,
                                              const std::vector<std::string>&) const override {
    protocol::Tensor y = inputs[0];
    y.name = "y";
    for (size_t i = 0; i + 4 <= y.data.size(); i += 4) {
      float v;
      std::memcpy(&v, y.data.data() + i, 4);
      v += 1;
      std::memcpy(y.data.data() + i, &v, 4);
    }
    return std::vector<protocol::Tensor>{std::move(y)};
  }

 private:
  serving::ModelSignature signature_;
};

// y = x as FP64: an answer twice the size of the request.
class Widen : public serving::Model {
 public:
  Widen() {
    signature_.platform = "onnxruntime_onnx";
    signature_.inputs = {{"x", protocol::DataType::kFp32, {-1, 2}}};
    signature_.outputs = {{"y", protocol::DataType::kFp64, {-1, 2}}};
  }
  const serving::ModelSignature& signature() const override { return signature_; }
  Result<std::vector<protocol::Tensor>> Infer(const std::vector<protocol::Tensor>& inputs,
                                              const std::vector<std::string>&) const override {
    protocol::Tensor y{"y", protocol::DataType::kFp64, inputs[0].shape,
                       std::string(inputs[0].data.size() * 2, '\0')};
    return std::vector<protocol::Tensor>{std::move(y)};
  }

 private:
  serving::ModelSignature signature_;
};

std::string Floats(const std::vector<float>& values) {
  std::string out(values.size() * 4, '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());  // no null source, even for 0 bytes
  return out;
}

std::vector<float> ToFloats(const std::string& data) {
  std::vector<float> out(data.size() / 4);
  if (!out.empty()) std::memcpy(out.data(), data.data(), out.size() * 4);
  return out;
}

class GrpcServerTest : public ::testing::Test {
 protected:
  void StartServer(GrpcOptions options = {}) {
    ASSERT_TRUE(repository_.AddModel("add_one", "1", std::make_shared<AddOne>()).ok());
    options.listen = "127.0.0.1:0";
    auto server = GrpcServer::Start(options, &service_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    channel_ = ::grpc::CreateChannel(server_->address(), ::grpc::InsecureChannelCredentials());
    stub_ = inference::GRPCInferenceService::NewStub(channel_);
  }

  static inference::ModelInferRequest AddOneRequest(const std::vector<float>& x) {
    inference::ModelInferRequest req;
    req.set_model_name("add_one");
    req.set_id("r1");
    auto* in = req.add_inputs();
    in->set_name("x");
    in->set_datatype("FP32");
    in->add_shape(static_cast<int64_t>(x.size() / 2));
    in->add_shape(2);
    req.add_raw_input_contents(Floats(x));
    return req;
  }

  // A call with raw bytes, as a client with another schema (or none) sends.
  ::grpc::Status RawCall(const std::string& method, const std::string& bytes) {
    ::grpc::GenericStub generic(channel_);
    ::grpc::Slice slice(bytes);
    ::grpc::ByteBuffer request(&slice, 1), response;
    ::grpc::ClientContext ctx;
    std::promise<::grpc::Status> done;
    generic.UnaryCall(&ctx, method, ::grpc::StubOptions(), &request, &response,
                      [&](::grpc::Status st) { done.set_value(st); });
    return done.get_future().get();
  }

  bool Live() {
    inference::ServerLiveResponse resp;
    ::grpc::ClientContext ctx;
    return stub_->ServerLive(&ctx, {}, &resp).ok() && resp.live();
  }

  serving::ModelRepository repository_{""};
  serving::InferenceService service_{&repository_};
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<::grpc::Channel> channel_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

TEST_F(GrpcServerTest, HealthAndServerMetadata) {
  StartServer();
  EXPECT_NE(server_->address(), "127.0.0.1:0");
  EXPECT_TRUE(Live());
  inference::ServerReadyResponse ready;
  ::grpc::ClientContext c1;
  ASSERT_TRUE(stub_->ServerReady(&c1, {}, &ready).ok());
  EXPECT_TRUE(ready.ready());
  inference::ServerMetadataResponse meta;
  ::grpc::ClientContext c2;
  ASSERT_TRUE(stub_->ServerMetadata(&c2, {}, &meta).ok());
  EXPECT_EQ(meta.name(), "ferry");
  EXPECT_EQ(meta.version(), FERRY_VERSION);
  EXPECT_GE(meta.extensions_size(), 4);
}

TEST_F(GrpcServerTest, ReadyPredicateDecidesServerReady) {
  GrpcOptions options;
  options.ready = [] { return false; };
  StartServer(options);
  inference::ServerReadyResponse ready;
  ::grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ServerReady(&ctx, {}, &ready).ok());
  EXPECT_FALSE(ready.ready());
}

TEST_F(GrpcServerTest, ModelInferRawContents) {
  StartServer();
  inference::ModelInferResponse resp;
  ::grpc::ClientContext ctx;
  ::grpc::Status st = stub_->ModelInfer(&ctx, AddOneRequest({1, 2, 3, 4}), &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.model_name(), "add_one");
  EXPECT_EQ(resp.model_version(), "1");
  EXPECT_EQ(resp.id(), "r1");
  ASSERT_EQ(resp.outputs_size(), 1);
  EXPECT_EQ(resp.outputs(0).name(), "y");
  EXPECT_EQ(resp.outputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(resp.outputs(0).shape().begin(), resp.outputs(0).shape().end()),
            (std::vector<int64_t>{2, 2}));
  ASSERT_EQ(resp.raw_output_contents_size(), 1);
  EXPECT_EQ(ToFloats(resp.raw_output_contents(0)), (std::vector<float>{2, 3, 4, 5}));
}

TEST_F(GrpcServerTest, WorkerPoolServesInferAndStreams) {
  GrpcOptions options;
  options.threads = 2;
  StartServer(options);
  std::vector<std::future<bool>> calls;
  for (int i = 0; i < 8; ++i) {
    calls.push_back(std::async(std::launch::async, [this, i] {
      inference::ModelInferResponse resp;
      ::grpc::ClientContext ctx;
      float v = static_cast<float>(i);
      return stub_->ModelInfer(&ctx, AddOneRequest({v, v}), &resp).ok() &&
             ToFloats(resp.raw_output_contents(0)) == std::vector<float>{v + 1, v + 1};
    }));
  }
  for (auto& call : calls) EXPECT_TRUE(call.get());
  ::grpc::ClientContext ctx;
  auto stream = stub_->ModelStreamInfer(&ctx);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(stream->Write(AddOneRequest({static_cast<float>(i), 0})));
  stream->WritesDone();
  inference::ModelStreamInferResponse r;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(stream->Read(&r));
    EXPECT_EQ(ToFloats(r.infer_response().raw_output_contents(0)), (std::vector<float>{i + 1.0f, 1}));
  }
  EXPECT_FALSE(stream->Read(&r));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(GrpcServerTest, ModelInferTypedContents) {
  StartServer();
  inference::ModelInferRequest req = AddOneRequest({});
  req.clear_raw_input_contents();
  req.mutable_inputs(0)->clear_shape();
  req.mutable_inputs(0)->add_shape(1);
  req.mutable_inputs(0)->add_shape(2);
  req.mutable_inputs(0)->mutable_contents()->add_fp32_contents(0.5f);
  req.mutable_inputs(0)->mutable_contents()->add_fp32_contents(-1.0f);
  inference::ModelInferResponse resp;
  ::grpc::ClientContext ctx;
  ::grpc::Status st = stub_->ModelInfer(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(ToFloats(resp.raw_output_contents(0)), (std::vector<float>{1.5f, 0.0f}));
}

TEST_F(GrpcServerTest, UnknownModelAndVersionAsTriton) {
  StartServer();
  inference::ModelInferRequest req = AddOneRequest({1, 2});
  req.set_model_name("nope");
  inference::ModelInferResponse resp;
  ::grpc::ClientContext c1;
  ::grpc::Status st = stub_->ModelInfer(&c1, req, &resp);
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "Request for unknown model: 'nope' is not found");

  req.set_model_name("add_one");
  req.set_model_version("7");
  ::grpc::ClientContext c2;
  st = stub_->ModelInfer(&c2, req, &resp);
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(st.error_message().find("Request for unknown model: "), std::string::npos) << st.error_message();

  inference::ModelReadyRequest ready_req;
  ready_req.set_name("nope");
  inference::ModelReadyResponse ready;
  ::grpc::ClientContext c3;
  ASSERT_TRUE(stub_->ModelReady(&c3, ready_req, &ready).ok());
  EXPECT_FALSE(ready.ready());
}

TEST_F(GrpcServerTest, BadInputsNameTheProblem) {
  StartServer();
  struct Case {
    std::string what;
    inference::ModelInferRequest req;
    std::string expect;
  };
  std::vector<Case> cases;
  {
    auto req = AddOneRequest({1, 2, 3, 4});
    req.mutable_raw_input_contents(0)->resize(12);
    cases.push_back({"raw size", req, "needs 16 bytes"});
  }
  {
    auto req = AddOneRequest({1, 2});
    req.mutable_inputs(0)->set_datatype("FP64");
    req.set_raw_input_contents(0, std::string(16, '\0'));
    cases.push_back({"datatype", req, "input 'x'"});
  }
  {
    auto req = AddOneRequest({1, 2});
    req.mutable_inputs(0)->set_datatype("FLOAT");
    cases.push_back({"unknown datatype", req, "FLOAT"});
  }
  {
    auto req = AddOneRequest({1, 2});
    req.add_raw_input_contents("extra");
    cases.push_back({"raw count", req, "raw_input_contents has 2 entries for 1 inputs"});
  }
  for (const Case& c : cases) {
    inference::ModelInferResponse resp;
    ::grpc::ClientContext ctx;
    ::grpc::Status st = stub_->ModelInfer(&ctx, c.req, &resp);
    EXPECT_EQ(st.error_code(), ::grpc::StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_NE(st.error_message().find(c.expect), std::string::npos) << c.what << ": " << st.error_message();
  }
  EXPECT_TRUE(Live());
}

TEST_F(GrpcServerTest, ModelMetadataAndConfig) {
  StartServer();
  inference::ModelMetadataRequest mreq;
  mreq.set_name("add_one");
  inference::ModelMetadataResponse meta;
  ::grpc::ClientContext c1;
  ASSERT_TRUE(stub_->ModelMetadata(&c1, mreq, &meta).ok());
  EXPECT_EQ(meta.name(), "add_one");
  ASSERT_EQ(meta.versions_size(), 1);
  EXPECT_EQ(meta.versions(0), "1");
  EXPECT_EQ(meta.platform(), "onnxruntime_onnx");
  ASSERT_EQ(meta.inputs_size(), 1);
  EXPECT_EQ(meta.inputs(0).datatype(), "FP32");
  EXPECT_EQ(meta.inputs(0).shape_size(), 2);
  EXPECT_EQ(meta.inputs(0).shape(0), -1);

  inference::ModelConfigRequest creq;
  creq.set_name("add_one");
  inference::ModelConfigResponse config;
  ::grpc::ClientContext c2;
  ASSERT_TRUE(stub_->ModelConfig(&c2, creq, &config).ok());
  EXPECT_EQ(config.config().name(), "add_one");
  EXPECT_EQ(config.config().backend(), "onnxruntime");
  EXPECT_EQ(config.config().max_batch_size(), 8);
  ASSERT_EQ(config.config().input_size(), 1);
  EXPECT_EQ(config.config().input(0).data_type(), inference::TYPE_FP32);
  ASSERT_EQ(config.config().input(0).dims_size(), 1);  // without the batch dimension
  EXPECT_EQ(config.config().input(0).dims(0), 2);
}

TEST_F(GrpcServerTest, StatisticsCountRequests) {
  StartServer();
  for (int i = 0; i < 2; ++i) {
    inference::ModelInferResponse resp;
    ::grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->ModelInfer(&ctx, AddOneRequest({1, 2, 3, 4}), &resp).ok());
  }
  inference::ModelStatisticsRequest req;
  req.set_name("add_one");
  inference::ModelStatisticsResponse stats;
  ::grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ModelStatistics(&ctx, req, &stats).ok());
  ASSERT_EQ(stats.model_stats_size(), 1);
  EXPECT_EQ(stats.model_stats(0).inference_stats().success().count(), 2u);
  EXPECT_EQ(stats.model_stats(0).inference_count(), 4u);  // two rows each
}

TEST_F(GrpcServerTest, StreamAnswersInOrderWithErrorsInline) {
  StartServer();
  ::grpc::ClientContext ctx;
  auto stream = stub_->ModelStreamInfer(&ctx);
  auto good1 = AddOneRequest({1, 2});
  good1.set_id("a");
  auto bad = AddOneRequest({1, 2});
  bad.set_id("b");
  bad.set_model_name("nope");
  auto good2 = AddOneRequest({5, 6});
  good2.set_id("c");
  ASSERT_TRUE(stream->Write(good1));
  ASSERT_TRUE(stream->Write(bad));
  ASSERT_TRUE(stream->Write(good2));
  stream->WritesDone();
  std::vector<inference::ModelStreamInferResponse> answers;
  inference::ModelStreamInferResponse r;
  while (stream->Read(&r)) answers.push_back(r);
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[0].error_message(), "");
  EXPECT_EQ(answers[0].infer_response().id(), "a");
  EXPECT_EQ(answers[1].error_message(), "Request for unknown model: 'nope' is not found");
  EXPECT_EQ(answers[1].infer_response().id(), "b");
  EXPECT_EQ(answers[2].infer_response().id(), "c");
  EXPECT_EQ(ToFloats(answers[2].infer_response().raw_output_contents(0)), (std::vector<float>{6, 7}));
}

TEST_F(GrpcServerTest, GarbageBytesAreInvalidArgument) {
  StartServer();
  ::grpc::Status st = RawCall("/inference.GRPCInferenceService/ModelInfer", "\xff\xff\xff\xff garbage");
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("inference.ModelInferRequest"), std::string::npos) << st.error_message();
  EXPECT_TRUE(Live());
}

TEST_F(GrpcServerTest, UnimplementedMethodsSaySo) {
  StartServer();
  ::grpc::Status st = RawCall("/inference.GRPCInferenceService/SystemSharedMemoryRegister", "");
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(st.error_message().find("shared memory"), std::string::npos) << st.error_message();
  st = RawCall("/other.Service/Method", "");
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(st.error_message().find("unknown method"), std::string::npos) << st.error_message();
  EXPECT_TRUE(Live());
}

TEST_F(GrpcServerTest, MessageLimitBothWays) {
  GrpcOptions options;
  options.max_message_bytes = 4096;
  StartServer(options);
  std::vector<float> big(2048, 1.0f);  // 8 KiB in
  inference::ModelInferResponse resp;
  ::grpc::ClientContext c1;
  ::grpc::Status st = stub_->ModelInfer(&c1, AddOneRequest(big), &resp);
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_TRUE(Live());
}

TEST_F(GrpcServerTest, ResponseOverLimitIsResourceExhausted) {
  ASSERT_TRUE(repository_.AddModel("widen", "1", std::make_shared<Widen>()).ok());
  GrpcOptions options;
  options.max_message_bytes = 4096;
  StartServer(options);
  inference::ModelInferRequest req = AddOneRequest(std::vector<float>(600, 1.0f));  // 2400 bytes in, 4800 out
  req.set_model_name("widen");
  inference::ModelInferResponse resp;
  ::grpc::ClientContext ctx;
  ::grpc::Status st = stub_->ModelInfer(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_NE(st.error_message().find("the response of"), std::string::npos) << st.error_message();
}

TEST_F(GrpcServerTest, PortInUseIsUnavailable) {
  StartServer();
  GrpcOptions options;
  options.listen = server_->address();
  auto second = GrpcServer::Start(options, &service_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status().ToString();
}

TEST_F(GrpcServerTest, BadOptionsAreInvalidArgument) {
  GrpcOptions options;
  options.listen = "no-port";
  EXPECT_EQ(GrpcServer::Start(options, &service_).status().code(), StatusCode::kInvalidArgument);
  options.listen = "127.0.0.1:0";
  options.threads = -1;
  EXPECT_EQ(GrpcServer::Start(options, &service_).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GrpcServerTest, ShutdownIsIdempotent) {
  StartServer();
  server_->Shutdown();
  server_->Shutdown();
  server_.reset();
}

}  // namespace
}  // namespace ferry::api::grpc
