#include "ferry/api/grpc/grpc_server.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <limits>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ferry/api/grpc/codec.h"
#include "ferry/api/http_server.h"
#include "ferry/common/logging.h"
#include "grpc_service.pb.h"

namespace ferry::api::grpc {
namespace {

namespace protocol = serving::protocol;

constexpr std::string_view kServicePrefix = "/inference.GRPCInferenceService/";
// How long Shutdown() lets calls in flight finish before cancelling them.
constexpr auto kDrainTimeout = std::chrono::seconds(5);

// The extensions ServerMetadata reports, as the REST front end does.
constexpr std::string_view kExtensions[] = {"binary_tensor_data", "model_repository", "model_configuration",
                                            "statistics", "classification"};

::grpc::StatusCode GrpcCode(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return ::grpc::StatusCode::OK;
    case StatusCode::kInvalidArgument:
      return ::grpc::StatusCode::INVALID_ARGUMENT;
    case StatusCode::kNotFound:
      return ::grpc::StatusCode::NOT_FOUND;
    case StatusCode::kAlreadyExists:
      return ::grpc::StatusCode::ALREADY_EXISTS;
    case StatusCode::kConflict:
      return ::grpc::StatusCode::ABORTED;
    case StatusCode::kFailedPrecondition:
      return ::grpc::StatusCode::FAILED_PRECONDITION;
    case StatusCode::kPermissionDenied:
      return ::grpc::StatusCode::PERMISSION_DENIED;
    case StatusCode::kUnauthenticated:
      return ::grpc::StatusCode::UNAUTHENTICATED;
    case StatusCode::kResourceExhausted:
    case StatusCode::kPayloadTooLarge:
      return ::grpc::StatusCode::RESOURCE_EXHAUSTED;
    case StatusCode::kDeadlineExceeded:
      return ::grpc::StatusCode::DEADLINE_EXCEEDED;
    case StatusCode::kUnavailable:
      return ::grpc::StatusCode::UNAVAILABLE;
    case StatusCode::kUnimplemented:
      return ::grpc::StatusCode::UNIMPLEMENTED;
    case StatusCode::kInternal:
      return ::grpc::StatusCode::INTERNAL;
  }
  return ::grpc::StatusCode::UNKNOWN;
}

// The one place where a Status becomes a gRPC status. Internal errors keep
// their detail (paths, library messages) in the log, as the REST surface does.
::grpc::Status ToGrpcStatus(const Status& status, std::string_view method) {
  if (status.ok()) return ::grpc::Status::OK;
  if (status.code() == StatusCode::kInternal) {
    LogEvent(spdlog::level::err, "grpc internal error",
             {{"method", std::string(method)}, {"error", status.message()}});
    return {::grpc::StatusCode::INTERNAL,
            "internal error in " + std::string(method) + "; see the ferry serve log"};
  }
  return {GrpcCode(status.code()), status.message()};
}

// Parses a request message; gRPC's typed handlers would answer INTERNAL
// with an empty message for bytes that are not the message.
template <typename Message>
Status ParseMessage(::grpc::ByteBuffer& buffer, Message* message) {
  ::grpc::ProtoBufferReader reader(&buffer);
  if (!reader.status().ok() || !message->ParseFromZeroCopyStream(&reader)) {
    return InvalidArgument("the request is not a valid " + message->GetDescriptor()->full_name() +
                           " protobuf message");
  }
  return Status::OK();
}

}  // namespace

struct GrpcServer::Impl {
  // A unary method's handler: request bytes in, response bytes out.
  using Handler = Status (*)(Impl&, ::grpc::ByteBuffer&, ::grpc::ByteBuffer*);
  struct Method {
    std::string name;
    Handler handler = nullptr;  // unary methods
    bool streaming = false;     // ModelStreamInfer
    bool blocking = false;      // runs on the worker pool
  };

  class Call;
  class UnimplementedCall;
  class Service : public ::grpc::CallbackGenericService {
   public:
    explicit Service(Impl* impl) : impl_(impl) {}
    ::grpc::ServerGenericBidiReactor* CreateReactor(::grpc::GenericCallbackServerContext* ctx) override;

   private:
    Impl* impl_;
  };

  Impl(const GrpcOptions& opts, serving::InferenceService* svc, int threads)
      : options(opts), service(svc), generic(this), pool(static_cast<std::size_t>(threads)) {}

  // Unary handlers over typed messages; each may consume its request (the
  // inference handler moves the tensor bytes out rather than copy them).
  template <typename Req, typename Resp, Status (Impl::*Fn)(Req&, Resp*)>
  static Status Unary(Impl& impl, ::grpc::ByteBuffer& in, ::grpc::ByteBuffer* out);

  Status ServerLive(inference::ServerLiveRequest&, inference::ServerLiveResponse* out);
  Status ServerReady(inference::ServerReadyRequest&, inference::ServerReadyResponse* out);
  Status ModelReady(inference::ModelReadyRequest& req, inference::ModelReadyResponse* out);
  Status ServerMetadata(inference::ServerMetadataRequest&, inference::ServerMetadataResponse* out);
  Status ModelMetadata(inference::ModelMetadataRequest& req, inference::ModelMetadataResponse* out);
  Status ModelInfer(inference::ModelInferRequest& req, inference::ModelInferResponse* out);
  Status ModelConfig(inference::ModelConfigRequest& req, inference::ModelConfigResponse* out);
  Status ModelStatistics(inference::ModelStatisticsRequest& req, inference::ModelStatisticsResponse* out);
  Status RepositoryIndex(inference::RepositoryIndexRequest& req, inference::RepositoryIndexResponse* out);
  Status RepositoryModelLoad(inference::RepositoryModelLoadRequest& req,
                             inference::RepositoryModelLoadResponse* out);
  Status RepositoryModelUnload(inference::RepositoryModelUnloadRequest& req,
                               inference::RepositoryModelUnloadResponse* out);

  // One ModelStreamInfer request: the answer or the error, in one message.
  void StreamInfer(::grpc::ByteBuffer& in, inference::ModelStreamInferResponse* out);

  // The model to describe, with Triton's error for a name it does not know.
  Result<std::shared_ptr<const serving::LoadedModel>> Lookup(const std::string& name,
                                                             const std::string& version);
  // Triton answers a model name it has never heard of with INVALID_ARGUMENT
  // "Request for unknown model: 'x' is not found" and a known model without
  // that (ready) version with NOT_FOUND; tritonclient users match on the text.
  Status ModelLookupError(const std::string& name, const Status& status) const;
  // The ready versions of `name`, oldest first.
  std::vector<std::string> ReadyVersions(const std::string& name) const;
  // ResourceExhausted when `message` would exceed the size limit; gRPC
  // would otherwise fail the call with a message naming neither side.
  Status CheckResponseSize(const google::protobuf::Message& message) const;

  const Method* FindMethod(const std::string& path) const {
    auto it = methods.find(path);
    return it == methods.end() ? nullptr : &it->second;
  }

  GrpcOptions options;
  serving::InferenceService* service;
  Service generic;
  boost::asio::thread_pool pool;
  std::unordered_map<std::string, Method> methods;
  std::unique_ptr<::grpc::Server> server;
  std::string address;
  std::atomic<bool> shutting_down{false};
  std::once_flag shutdown_once;
};

// One call of any method. Unary calls read one message, answer and finish;
// ModelStreamInfer reads, answers and reads again until the client closes
// its side, so answers go out in the order of the requests.
class GrpcServer::Impl::Call : public ::grpc::ServerGenericBidiReactor {
 public:
  Call(Impl* impl, const Method* method) : impl_(impl), method_(method) { StartRead(&request_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client closed its side (or went away): every request read has
      // been answered.
      if (method_->streaming) {
        Finish(::grpc::Status::OK);
      } else {
        Finish({::grpc::StatusCode::INVALID_ARGUMENT, "no request message for " + method_->name});
      }
      return;
    }
    if (method_->blocking) {
      boost::asio::post(impl_->pool, [this] { Process(); });
    } else {
      Process();
    }
  }

  void OnWriteDone(bool ok) override {  // streaming only; unary calls finish with their write
    if (!ok) {
      Finish({::grpc::StatusCode::CANCELLED, "the client stopped reading the stream"});
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  // Answers the request just read. Nothing may touch the call after the
  // Finish/StartWrite at the end: OnDone may already have deleted it.
  void Process() {
    response_.Clear();
    if (method_->streaming) {
      inference::ModelStreamInferResponse message;
      impl_->StreamInfer(request_, &message);
      ::grpc::Status st = SerializeInto(message);
      if (!st.ok()) {
        Finish(st);
        return;
      }
      StartWrite(&response_);
      return;
    }
    ::grpc::Status st = ToGrpcStatus(method_->handler(*impl_, request_, &response_), method_->name);
    if (st.ok()) {
      StartWriteAndFinish(&response_, ::grpc::WriteOptions(), ::grpc::Status::OK);
    } else {
      Finish(st);
    }
  }

  ::grpc::Status SerializeInto(const inference::ModelStreamInferResponse& message) {
    bool own_buffer = false;
    return ::grpc::SerializationTraits<inference::ModelStreamInferResponse>::Serialize(message, &response_,
                                                                                       &own_buffer);
  }

  Impl* impl_;
  const Method* method_;
  ::grpc::ByteBuffer request_;
  ::grpc::ByteBuffer response_;
};

// Methods of Triton's service Ferry does not implement, and unknown paths.
class GrpcServer::Impl::UnimplementedCall : public ::grpc::ServerGenericBidiReactor {
 public:
  explicit UnimplementedCall(const std::string& path) {
    Finish({::grpc::StatusCode::UNIMPLEMENTED, Message(path)});
  }
  void OnDone() override { delete this; }

 private:
  static std::string Message(const std::string& path) {
    std::string_view method = path;
    if (method.rfind(kServicePrefix, 0) != 0) {
      return "unknown method " + path + "; ferry serve implements inference.GRPCInferenceService";
    }
    method.remove_prefix(kServicePrefix.size());
    std::string what = "this method";
    if (method.find("SharedMemory") != std::string_view::npos) {
      what = "shared memory";
    } else if (method == "TraceSetting") {
      what = "trace settings";
    } else if (method == "LogSettings") {
      what = "log settings";
    }
    return std::string(method) + " is not implemented by ferry serve (" + what + " is not supported)";
  }
};

::grpc::ServerGenericBidiReactor* GrpcServer::Impl::Service::CreateReactor(
    ::grpc::GenericCallbackServerContext* ctx) {
  const Method* method = impl_->FindMethod(ctx->method());
  if (method == nullptr) return new UnimplementedCall(ctx->method());
  return new Call(impl_, method);
}

template <typename Req, typename Resp, Status (GrpcServer::Impl::*Fn)(Req&, Resp*)>
Status GrpcServer::Impl::Unary(Impl& impl, ::grpc::ByteBuffer& in, ::grpc::ByteBuffer* out) {
  Req request;
  RETURN_IF_ERROR(ParseMessage(in, &request));
  Resp response;
  RETURN_IF_ERROR((impl.*Fn)(request, &response));
  RETURN_IF_ERROR(impl.CheckResponseSize(response));
  bool own_buffer = false;
  if (!::grpc::SerializationTraits<Resp>::Serialize(response, out, &own_buffer).ok()) {
    return Internal("cannot serialize " + Resp::descriptor()->full_name());
  }
  return Status::OK();
}

Status GrpcServer::Impl::ServerLive(inference::ServerLiveRequest&, inference::ServerLiveResponse* out) {
  out->set_live(true);
  return Status::OK();
}

Status GrpcServer::Impl::ServerReady(inference::ServerReadyRequest&, inference::ServerReadyResponse* out) {
  out->set_ready(!shutting_down.load() && (!options.ready || options.ready()));
  return Status::OK();
}

Status GrpcServer::Impl::ModelReady(inference::ModelReadyRequest& req, inference::ModelReadyResponse* out) {
  // An unknown model is simply not ready, as Triton answers.
  out->set_ready(service->repository().Get(req.name(), req.version()).ok());
  return Status::OK();
}

Status GrpcServer::Impl::ServerMetadata(inference::ServerMetadataRequest&,
                                        inference::ServerMetadataResponse* out) {
  out->set_name("ferry");
  out->set_version(FERRY_VERSION);
  for (std::string_view ext : kExtensions) out->add_extensions(std::string(ext));
  return Status::OK();
}

Status GrpcServer::Impl::ModelMetadata(inference::ModelMetadataRequest& req,
                                       inference::ModelMetadataResponse* out) {
  ASSIGN_OR_RETURN(auto model, Lookup(req.name(), req.version()));
  // With a version asked for, only that version, as the REST front end.
  std::vector<std::string> versions =
      req.version().empty() ? ReadyVersions(req.name()) : std::vector<std::string>{model->version};
  EncodeModelMetadata(*model, versions, out);
  return Status::OK();
}

Status GrpcServer::Impl::ModelInfer(inference::ModelInferRequest& req, inference::ModelInferResponse* out) {
  ASSIGN_OR_RETURN(protocol::InferRequest request, DecodeInferRequest(&req));
  auto response = service->Infer(req.model_name(), req.model_version(), request);
  if (!response.ok()) {
    if (response.status().code() == StatusCode::kNotFound) {
      return ModelLookupError(req.model_name(), response.status());
    }
    return response.status();
  }
  EncodeInferResponse(std::move(response).value(), out);
  return Status::OK();
}

Status GrpcServer::Impl::ModelConfig(inference::ModelConfigRequest& req,
                                     inference::ModelConfigResponse* out) {
  ASSIGN_OR_RETURN(auto model, Lookup(req.name(), req.version()));
  EncodeModelConfig(*model, out->mutable_config());
  return Status::OK();
}

Status GrpcServer::Impl::ModelStatistics(inference::ModelStatisticsRequest& req,
                                         inference::ModelStatisticsResponse* out) {
  if (!req.name().empty()) {
    ASSIGN_OR_RETURN(auto model, Lookup(req.name(), req.version()));
    if (!req.version().empty()) {
      EncodeModelStatistics(*model, out->add_model_stats());
      return Status::OK();
    }
  } else if (!req.version().empty()) {
    return InvalidArgument("version '" + req.version() + "' given without a model name");
  }
  for (const auto& model : service->repository().Loaded(req.name())) {
    EncodeModelStatistics(*model, out->add_model_stats());
  }
  return Status::OK();
}

Status GrpcServer::Impl::RepositoryIndex(inference::RepositoryIndexRequest& req,
                                         inference::RepositoryIndexResponse* out) {
  if (!req.repository_name().empty()) {
    return InvalidArgument("repository_name '" + req.repository_name() +
                           "': ferry serve has one model repository; leave repository_name empty");
  }
  for (const serving::ModelIndexEntry& entry : service->repository().Index(req.ready())) {
    auto* m = out->add_models();
    m->set_name(entry.name);
    m->set_version(entry.version);
    m->set_state(entry.state);
    m->set_reason(entry.reason);
  }
  return Status::OK();
}

Status GrpcServer::Impl::RepositoryModelLoad(inference::RepositoryModelLoadRequest& req,
                                             inference::RepositoryModelLoadResponse*) {
  if (!req.repository_name().empty()) {
    return InvalidArgument("repository_name '" + req.repository_name() +
                           "': ferry serve has one model repository; leave repository_name empty");
  }
  for (const auto& [key, value] : req.parameters()) {
    if (key == "config" || key.rfind("file:", 0) == 0) {
      return Unimplemented("load parameter '" + key +
                           "': ferry serve loads models only from its repository; "
                           "configuration and file overrides are not supported");
    }
    return InvalidArgument("load parameter '" + key + "' is not supported");
  }
  return service->repository().Load(req.model_name());
}

Status GrpcServer::Impl::RepositoryModelUnload(inference::RepositoryModelUnloadRequest& req,
                                               inference::RepositoryModelUnloadResponse*) {
  if (!req.repository_name().empty()) {
    return InvalidArgument("repository_name '" + req.repository_name() +
                           "': ferry serve has one model repository; leave repository_name empty");
  }
  for (const auto& [key, value] : req.parameters()) {
    // tritonclient always sends unload_dependents; Ferry has no ensembles,
    // so no model depends on another.
    if (key == "unload_dependents" &&
        value.parameter_choice_case() == inference::ModelRepositoryParameter::kBoolParam) {
      continue;
    }
    return InvalidArgument("unload parameter '" + key + "' is not supported");
  }
  return service->repository().Unload(req.model_name());
}

void GrpcServer::Impl::StreamInfer(::grpc::ByteBuffer& in, inference::ModelStreamInferResponse* out) {
  inference::ModelInferRequest request;
  Status st = ParseMessage(in, &request);
  if (st.ok()) st = ModelInfer(request, out->mutable_infer_response());
  if (st.ok()) st = CheckResponseSize(*out);
  if (!st.ok()) {
    out->Clear();
    out->set_error_message(ToGrpcStatus(st, "ModelStreamInfer").error_message());
    // Triton echoes the request's id and model with an error so that the
    // client can tell which request failed.
    auto* r = out->mutable_infer_response();
    r->set_id(request.id());
    r->set_model_name(request.model_name());
    r->set_model_version(request.model_version());
  }
}

Result<std::shared_ptr<const serving::LoadedModel>> GrpcServer::Impl::Lookup(const std::string& name,
                                                                             const std::string& version) {
  auto model = service->repository().Get(name, version);
  if (!model.ok() && model.status().code() == StatusCode::kNotFound) {
    return ModelLookupError(name, model.status());
  }
  return model;
}

Status GrpcServer::Impl::ModelLookupError(const std::string& name, const Status& status) const {
  for (const serving::ModelIndexEntry& entry : service->repository().Index(/*ready_only=*/false)) {
    if (entry.name == name) return NotFound("Request for unknown model: " + status.message());
  }
  return InvalidArgument("Request for unknown model: '" + name + "' is not found");
}

std::vector<std::string> GrpcServer::Impl::ReadyVersions(const std::string& name) const {
  std::vector<std::string> versions;
  for (const auto& model : service->repository().Loaded(name)) versions.push_back(model->version);
  return versions;
}

Status GrpcServer::Impl::CheckResponseSize(const google::protobuf::Message& message) const {
  std::size_t size = message.ByteSizeLong();
  if (size > options.max_message_bytes) {
    return ResourceExhausted("the response of " + std::to_string(size) +
                             " bytes exceeds the gRPC message limit of " +
                             std::to_string(options.max_message_bytes) + " bytes");
  }
  return Status::OK();
}

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcServer::~GrpcServer() { Shutdown(); }

Result<std::unique_ptr<GrpcServer>> GrpcServer::Start(const GrpcOptions& options,
                                                      serving::InferenceService* service) {
  ASSIGN_OR_RETURN(auto host_port, ParseListenAddress(options.listen));
  if (options.threads < 0) {
    return InvalidArgument("gRPC inference threads must be 0 (inline) or positive, got " +
                           std::to_string(options.threads));
  }
  if (options.max_message_bytes == 0 || options.max_message_bytes > std::numeric_limits<int>::max()) {
    return InvalidArgument("gRPC max message bytes must be between 1 and " +
                           std::to_string(std::numeric_limits<int>::max()) + ", got " +
                           std::to_string(options.max_message_bytes));
  }
  // Without inference threads the pool only runs repository loads and
  // unloads, one at a time (the repository serialises them anyway).
  const bool infer_on_pool = options.threads > 0;
  auto impl = std::make_unique<Impl>(options, service, infer_on_pool ? options.threads : 1);

  using I = Impl;
  auto add = [&](std::string name, Impl::Handler handler, bool blocking) {
    std::string path = std::string(kServicePrefix) + name;
    impl->methods.emplace(path, Impl::Method{std::move(name), handler, false, blocking});
  };
  add("ServerLive", &I::Unary<inference::ServerLiveRequest, inference::ServerLiveResponse, &I::ServerLive>,
      false);
  add("ServerReady",
      &I::Unary<inference::ServerReadyRequest, inference::ServerReadyResponse, &I::ServerReady>, false);
  add("ModelReady", &I::Unary<inference::ModelReadyRequest, inference::ModelReadyResponse, &I::ModelReady>,
      false);
  add("ServerMetadata",
      &I::Unary<inference::ServerMetadataRequest, inference::ServerMetadataResponse, &I::ServerMetadata>,
      false);
  add("ModelMetadata",
      &I::Unary<inference::ModelMetadataRequest, inference::ModelMetadataResponse, &I::ModelMetadata>, false);
  add("ModelInfer", &I::Unary<inference::ModelInferRequest, inference::ModelInferResponse, &I::ModelInfer>,
      infer_on_pool);
  add("ModelConfig",
      &I::Unary<inference::ModelConfigRequest, inference::ModelConfigResponse, &I::ModelConfig>, false);
  add("ModelStatistics",
      &I::Unary<inference::ModelStatisticsRequest, inference::ModelStatisticsResponse, &I::ModelStatistics>,
      false);
  add("RepositoryIndex",
      &I::Unary<inference::RepositoryIndexRequest, inference::RepositoryIndexResponse, &I::RepositoryIndex>,
      false);
  add("RepositoryModelLoad",
      &I::Unary<inference::RepositoryModelLoadRequest, inference::RepositoryModelLoadResponse,
                &I::RepositoryModelLoad>,
      true);
  add("RepositoryModelUnload",
      &I::Unary<inference::RepositoryModelUnloadRequest, inference::RepositoryModelUnloadResponse,
                &I::RepositoryModelUnload>,
      true);
  std::string stream_path = std::string(kServicePrefix) + "ModelStreamInfer";
  impl->methods.emplace(stream_path, Impl::Method{"ModelStreamInfer", nullptr, true, infer_on_pool});

  ::grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, ::grpc::InsecureServerCredentials(), &port);
  // gRPC enables SO_REUSEPORT by default, which would let a second server
  // bind the same port silently and split the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  builder.RegisterCallbackGenericService(&impl->generic);
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || port == 0) {
    if (impl->server != nullptr) impl->server->Shutdown();
    impl->pool.join();
    return Unavailable("cannot listen for gRPC on " + options.listen + " (address in use or not available)");
  }
  const std::string& host = host_port.first;
  impl->address =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

std::string GrpcServer::address() const { return impl_->address; }

void GrpcServer::Shutdown() {
  std::call_once(impl_->shutdown_once, [this] {
    impl_->shutting_down = true;
    // Calls queued on the pool still run (and finish their calls) while
    // the server drains; streams still open at the deadline are cancelled.
    impl_->server->Shutdown(std::chrono::system_clock::now() + kDrainTimeout);
    impl_->pool.join();
    impl_->server->Wait();
  });
}

}  // namespace ferry::api::grpc
