#include "ferry/server/server.h"

#include <csignal>
#include <cstdio>
#include <iostream>

#include <pthread.h>

#include "ferry/api/api_server.h"
#include "ferry/artifacts/artifact_store.h"
#include "ferry/common/env.h"
#include "ferry/common/logging.h"
#include "ferry/common/metrics.h"
#include "ferry/registry/registry_store.h"
#include "ferry/server/data_dir_lock.h"
#include "ferry/server/options.h"
#include "ferry/store/database.h"
#include "ferry/store/migrations.h"
#include "ferry/store/resource_store.h"
#include "ferry/store/resource_types.h"
#include "ferry/tracking/logged_model_store.h"
#include "ferry/tracking/tracking_store.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.0.0-dev"
#endif

namespace ferry::server {
namespace {

int Fail(const Status& status) {
  LogEvent(spdlog::level::err, "ferry server failed to start", {{"error", status.message()}});
  spdlog::default_logger_raw()->flush();
  std::cerr << "ferry server: " << status.message() << "\n";
  return 1;
}

}  // namespace

int Main(int argc, char** argv) {
  ParsedOptions parsed = ParseServerOptions(argc, argv);
  if (parsed.exit_now) return parsed.exit_code;
  ServerOptions& options = parsed.options;

  // Signals are handled by sigwait() below; block them before any thread
  // starts (logging's flusher is the first) so that every thread inherits
  // the mask and a SIGTERM always means a clean drain.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  LogOptions log_options;
  log_options.level = ParseLogLevel(options.log_level).ValueOr(spdlog::level::info);
  log_options.format = options.log_format == "json" ? LogFormat::kJson : LogFormat::kText;
  InitLogging(log_options);

  if (Status st = ResolveDefaults(options); !st.ok()) return Fail(st);

  auto lock = DataDirLock::Acquire(options.data_dir);
  if (!lock.ok()) return Fail(lock.status());

  auto db = store::OpenDatabase(options.db);
  if (!db.ok()) return Fail(db.status().WithContext("opening the store"));
  auto schema = store::Migrate(**db);
  if (!schema.ok()) return Fail(schema.status().WithContext("migrating the store"));

  auto artifacts = artifacts::OpenArtifactStore(options.artifact_root);
  if (!artifacts.ok()) return Fail(artifacts.status().WithContext("opening the artifact store"));
  auto tracking = tracking::TrackingStore::Open(db->get(), Env::Default());
  if (!tracking.ok()) return Fail(tracking.status().WithContext("opening the tracking store"));
  auto logged_models = tracking::LoggedModelStore::Open(db->get(), tracking->get(), Env::Default());
  if (!logged_models.ok()) return Fail(logged_models.status().WithContext("opening the logged-model store"));
  auto registry =
      registry::RegistryStore::Open(db->get(), Env::Default(), {tracking->get(), logged_models->get()});
  if (!registry.ok()) return Fail(registry.status().WithContext("opening the model registry"));

  store::ResourceTypes types;
  store::RegisterCoreTypes(types);
  store::ResourceStore resources(db->get(), Env::Default());
  MetricsRegistry metrics;

  api::ApiOptions api_options;
  api_options.listen = options.listen;
  api_options.max_body_bytes = options.max_body_bytes;
  api_options.max_upload_bytes = options.max_upload_bytes;
  api_options.threads = options.threads;
  api_options.version = FERRY_VERSION;
  api::ApiServices services{db->get(), &resources, &types, &metrics, Env::Default()};
  services.tracking = tracking->get();
  services.logged_models = logged_models->get();
  services.registry = registry->get();
  services.artifacts = artifacts->get();
  auto api = api::ApiServer::Start(api_options, services);
  if (!api.ok()) return Fail(api.status());

  LogEvent(spdlog::level::info, "ferry server ready",
           {{"url", (*api)->url()},
            {"version", FERRY_VERSION},
            {"data_dir", options.data_dir},
            {"db", (*db)->redacted_url()},
            {"artifact_root", (*artifacts)->root_uri()},
            {"schema_version", *schema}});
  std::printf("ferry server listening on %s\n", (*api)->url().c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  LogEvent(spdlog::level::info, "shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*api)->Shutdown(std::chrono::milliseconds(static_cast<long>(options.drain_timeout_seconds * 1000)));
  LogEvent(spdlog::level::info, "ferry server stopped");
  spdlog::default_logger_raw()->flush();
  return 0;
}

}  // namespace ferry::server
