#include "ferry/api/testing/mlflow_test_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace ferry::api::testing {

MlflowTestServer::~MlflowTestServer() {
  conn_.reset();
  server_.reset();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

Status MlflowTestServer::Start(const MlflowTestServerOptions& options) {
  Env* env = options.env ? options.env : Env::Default();
  tdb_ = store::testing::TestDatabase::Create(store::testing::Backend::kSqlite);
  if (!tdb_) return Internal("cannot create the test database");
  resources_ = std::make_unique<store::ResourceStore>(&tdb_->db(), env);
  store::RegisterCoreTypes(types_);
  ApiServices services{&tdb_->db(), resources_.get(), &types_, &metrics_, env};
  if (options.tracking || options.logged_models) {
    ASSIGN_OR_RETURN(tracking_, tracking::TrackingStore::Open(&tdb_->db(), env));
    services.tracking = tracking_.get();
  }
  if (options.logged_models) {
    ASSIGN_OR_RETURN(models_, tracking::LoggedModelStore::Open(&tdb_->db(), tracking_.get(), env));
    services.logged_models = models_.get();
  }
  if (options.registry) {
    ASSIGN_OR_RETURN(registry_, registry::RegistryStore::Open(&tdb_->db(), env));
    services.registry = registry_.get();
  }
  if (options.artifacts) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-mlflow-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return Internal("mkdtemp failed");
    dir_ = tmpl;
    root_ = dir_ + "/root";
    ASSIGN_OR_RETURN(artifacts_, artifacts::OpenArtifactStore("file://" + root_));
    services.artifacts = artifacts_.get();
  }
  ApiOptions api;
  api.listen = "127.0.0.1:0";
  api.threads = 2;
  api.handler_threads = 2;
  if (options.max_body_bytes) api.max_body_bytes = options.max_body_bytes;
  if (options.max_upload_bytes) api.max_upload_bytes = options.max_upload_bytes;
  ASSIGN_OR_RETURN(server_, ApiServer::Start(api, services));
  conn_ = std::make_unique<TestConnection>(server_->url());
  return Status::OK();
}

Response MlflowTestServer::Raw(std::string_view method, const std::string& target, std::string_view body,
                               const std::map<std::string, std::string>& headers) {
  auto response = conn_->Request(method, target, body, headers);
  EXPECT_TRUE(response) << method << " " << target;
  return response ? *response : Response();
}

Json MlflowTestServer::JsonRequest(std::string_view method, const std::string& target, std::string_view body,
                                   int status) {
  std::map<std::string, std::string> headers;
  if (!body.empty()) headers["Content-Type"] = "application/json";
  Response response = Raw(method, target, body, headers);
  EXPECT_EQ(response.result_int(), status)
      << method << " " << target << " " << body << " -> " << response.body();
  return BodyOf(response);
}

}  // namespace ferry::api::testing
