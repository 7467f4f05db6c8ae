#pragma once
// MlflowTestServer: the in-process server the MLflow route tests drive. It
// owns a throwaway SQLite TestDatabase with the core resource types, the
// MLflow stores a test asks for (tracking, logged models, registry, a
// file:// artifact store under a fresh temporary directory), an ApiServer on
// an ephemeral loopback port over them, and one TestConnection to it. The
// temporary directory is removed on destruction.
//
// Thread-safety: one test thread; the server itself serves concurrently.

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "ferry/api/api_server.h"
#include "ferry/api/testing/test_client.h"
#include "ferry/artifacts/artifact_store.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/registry/registry_store.h"
#include "ferry/store/testing/test_database.h"
#include "ferry/tracking/logged_model_store.h"
#include "ferry/tracking/tracking_store.h"

namespace ferry::api::testing {

// The MLflow REST prefix, "/api/2.0/mlflow/".
inline constexpr char kMlflowApi[] = "/api/2.0/mlflow/";

struct MlflowTestServerOptions {
  bool tracking = false;
  bool logged_models = false;  // needs tracking
  bool registry = false;
  bool artifacts = false;            // a file:// store at artifact_root()
  Env* env = nullptr;                // Env::Default() when null
  std::size_t max_body_bytes = 0;    // 0: the ApiOptions default
  std::size_t max_upload_bytes = 0;  // 0: the ApiOptions default
};

class MlflowTestServer {
 public:
  MlflowTestServer() = default;
  ~MlflowTestServer();
  MlflowTestServer(const MlflowTestServer&) = delete;
  MlflowTestServer& operator=(const MlflowTestServer&) = delete;

  // Opens the stores and starts the server; call once. A test's SetUp
  // should ASSERT_TRUE(Start(...).ok()).
  Status Start(const MlflowTestServerOptions& options);

  store::Database& db() { return tdb_->db(); }
  tracking::TrackingStore* tracking() { return tracking_.get(); }
  tracking::LoggedModelStore* logged_models() { return models_.get(); }
  registry::RegistryStore* registry() { return registry_.get(); }
  artifacts::ArtifactStore* artifacts() { return artifacts_.get(); }
  // The temporary directory (removed on destruction) and the artifact
  // store's root inside it, dir() + "/root".
  const std::string& dir() const { return dir_; }
  const std::string& artifact_root() const { return root_; }
  std::string url() const { return server_->url(); }
  TestConnection& conn() { return *conn_; }
  // Replaces the connection with a fresh one, e.g. after the server closed it.
  void Reconnect() { conn_ = std::make_unique<TestConnection>(server_->url()); }

  // Sends one request on conn() and returns the response; records a test
  // failure (and returns an empty response) when none came.
  Response Raw(std::string_view method, const std::string& target, std::string_view body = {},
               const std::map<std::string, std::string>& headers = {});
  // Sends `body` (unless empty) as application/json, expects `status` and
  // returns the answer parsed as JSON.
  Json JsonRequest(std::string_view method, const std::string& target, std::string_view body, int status);

 private:
  std::unique_ptr<store::testing::TestDatabase> tdb_;
  std::unique_ptr<store::ResourceStore> resources_;
  store::ResourceTypes types_;
  MetricsRegistry metrics_;
  std::unique_ptr<tracking::TrackingStore> tracking_;
  std::unique_ptr<tracking::LoggedModelStore> models_;
  std::unique_ptr<registry::RegistryStore> registry_;
  std::string dir_, root_;
  std::unique_ptr<artifacts::ArtifactStore> artifacts_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<TestConnection> conn_;
};

}  // namespace ferry::api::testing
