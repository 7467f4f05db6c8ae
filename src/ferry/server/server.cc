#include "ferry/server/server.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>

#include <unistd.h>

#include "ferry/api/api_server.h"
#include "ferry/artifacts/artifact_store.h"
#include "ferry/common/env.h"
#include "ferry/common/logging.h"
#include "ferry/common/metrics.h"
#include "ferry/executors/local/local_executor.h"
#include "ferry/pipelines/catalog_store.h"
#include "ferry/pipelines/engine.h"
#include "ferry/pipelines/python_env.h"
#include "ferry/pipelines/schedules.h"
#include "ferry/registry/registry_store.h"
#include "ferry/server/data_dir_lock.h"
#include "ferry/server/options.h"
#include "ferry/server/process.h"
#include "ferry/serving/deployments/controller.h"
#include "ferry/serving/deployments/endpoint_spec.h"
#include "ferry/serving/deployments/model_preparer.h"
#include "ferry/serving/payload_log.h"
#include "ferry/serving/router.h"
#include "ferry/store/database.h"
#include "ferry/store/migrations.h"
#include "ferry/store/resource_store.h"
#include "ferry/store/resource_types.h"
#include "ferry/tracking/logged_model_store.h"
#include "ferry/tracking/tracking_store.h"
#include "ferry/tuning/experiment_controller.h"
#include "ferry/tuning/study_service.h"
#include "ferry/tuning/trial_runs.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.0.0-dev"
#endif

namespace ferry::server {
namespace {

// The local executor's load and capacity, read at scrape time: the
// dashboard's home page and Prometheus show how full the machine is.
void RegisterExecutorMetrics(const executors::LocalExecutor* executor, MetricsRegistry* metrics) {
  auto read = [executor](auto field) {
    return [executor, field] { return static_cast<double>(executor->Stats().*field); };
  };
  using Stats = executors::LocalExecutorStats;
  metrics->AddCallbackGauge("ferry_executor_tasks_running", "Tasks the local executor is running.",
                            read(&Stats::running));
  metrics->AddCallbackGauge("ferry_executor_tasks_queued", "Tasks waiting for capacity in the local executor.",
                            read(&Stats::queued));
  metrics->AddCallbackGauge("ferry_executor_cpu_in_use", "CPU cores the running tasks requested.",
                            read(&Stats::cpu_in_use));
  metrics->AddCallbackGauge("ferry_executor_cpu_capacity", "CPU cores the local executor admits tasks against.",
                            read(&Stats::cpu_capacity));
  metrics->AddCallbackGauge("ferry_executor_memory_in_use_bytes", "Memory the running tasks requested.",
                            read(&Stats::memory_in_use));
  metrics->AddCallbackGauge("ferry_executor_memory_capacity_bytes",
                            "Memory the local executor admits tasks against.", read(&Stats::memory_capacity));
  metrics->AddCallbackGauge("ferry_executor_max_concurrent_tasks",
                            "The local executor's limit on running tasks (0: none).", read(&Stats::max_concurrent));
}

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

  // Before any thread starts (logging's flusher is the first).
  ShutdownSignals signals;
  InitLoggingFromOptions(options.log_level, options.log_format);

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
  // Ask/tell studies; every trial is recorded as an MLflow run.
  tuning::TrialRuns trial_runs(tracking->get(), Env::Default());
  tuning::StudyServiceOptions study_options;
  study_options.observer = &trial_runs;
  auto studies = tuning::StudyService::Open(db->get(), Env::Default(), std::move(study_options));
  if (!studies.ok()) return Fail(studies.status().WithContext("opening the tuning studies"));

  // Pipelines: tasks run under the local executor (its exit files under
  // the data dir let a restarted server re-attach to them); lightweight
  // components run in Python environments made from --task-python.
  executors::LocalExecutorOptions executor_options;
  executor_options.state_dir = options.data_dir + "/executor";
  executor_options.max_concurrent = options.max_concurrent_tasks;
  auto executor = executors::LocalExecutor::Create(executor_options);
  if (!executor.ok()) return Fail(executor.status().WithContext("starting the local executor"));
  pipelines::PythonEnvs python_envs({options.task_python, options.data_dir + "/pipelines/envs"});
  // Tasks start from the server's environment plus MLFLOW_TRACKING_URI
  // naming this server, so mlflow code in a task logs here with no
  // configuration (a component's own env still wins). With --listen port 0
  // the URL is known only once the API is bound, after the engine opens.
  struct {
    std::mutex mu;
    std::string url;
  } tracking_uri;
  if (!options.listen.ends_with(":0")) tracking_uri.url = "http://" + options.listen;
  pipelines::EngineOptions engine_options;
  engine_options.data_dir = options.data_dir;
  engine_options.enable_caching = options.pipeline_cache;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view kv(*entry);
    const std::size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    // Where the server's own environment points mlflow is not where its
    // tasks log: they get this server (below), and the registry follows.
    const std::string_view name = kv.substr(0, eq);
    if (name == "MLFLOW_TRACKING_URI" || name == "MLFLOW_REGISTRY_URI") continue;
    engine_options.base_env[std::string(name)] = std::string(kv.substr(eq + 1));
  }
  engine_options.prepare_command = [&python_envs, &tracking_uri](
                                       const std::vector<std::string>& argv,
                                       const std::string& work_dir) -> Result<pipelines::PreparedCommand> {
    ASSIGN_OR_RETURN(pipelines::LocalInvocation local, python_envs.Prepare(argv, work_dir));
    std::lock_guard<std::mutex> lock(tracking_uri.mu);
    if (!tracking_uri.url.empty()) local.extra_env["MLFLOW_TRACKING_URI"] = tracking_uri.url;
    return pipelines::PreparedCommand{std::move(local.argv), std::move(local.extra_env)};
  };
  auto engine = pipelines::PipelineEngine::Open(db->get(), Env::Default(), executor->get(), engine_options);
  if (!engine.ok()) return Fail(engine.status().WithContext("opening the pipeline engine"));
  auto catalog = pipelines::CatalogStore::Open(db->get(), Env::Default());
  if (!catalog.ok()) return Fail(catalog.status().WithContext("opening the pipeline catalog"));
  // Recurring runs fire through the engine; the scheduler resumes (and
  // catches up) from the store.
  auto schedules = pipelines::Scheduler::Open(db->get(), Env::Default(), engine->get(), catalog->get());
  if (!schedules.ok()) return Fail(schedules.status().WithContext("opening the recurring-run scheduler"));
  (*schedules)->Start();

  store::ResourceTypes types;
  store::RegisterCoreTypes(types);
  if (Status st = tuning::RegisterTuningTypes(types); !st.ok()) return Fail(st);
  if (Status st = serving::deployments::RegisterServingTypes(types); !st.ok()) return Fail(st);
  store::ResourceStore resources(db->get(), Env::Default());
  MetricsRegistry metrics;
  RegisterExecutorMetrics(executor->get(), &metrics);

  // Model serving: the gateway routes /v2/models/EP/... through the router
  // to the replicas the deployment controller runs; sampled payloads go to
  // the store.
  serving::Router serving_router;
  auto payload_log = serving::PayloadLog::Open(db->get(), Env::Default());
  if (!payload_log.ok()) return Fail(payload_log.status().WithContext("opening the payload log"));

  api::ApiOptions api_options;
  api_options.listen = options.listen;
  api_options.max_body_bytes = options.max_body_bytes;
  api_options.max_upload_bytes = options.max_upload_bytes;
  api_options.threads = options.threads;
  api_options.version = FERRY_VERSION;
  api_options.web_root = options.web_root;
  api::ApiServices services{db->get(), &resources, &types, &metrics, Env::Default()};
  services.tracking = tracking->get();
  services.logged_models = logged_models->get();
  services.registry = registry->get();
  services.artifacts = artifacts->get();
  services.pipelines = engine->get();
  services.pipeline_catalog = catalog->get();
  services.pipeline_schedules = schedules->get();
  services.studies = studies->get();
  services.router = &serving_router;
  services.payload_log = payload_log->get();
  auto api = api::ApiServer::Start(api_options, services);
  if (!api.ok()) return Fail(api.status());
  {
    std::lock_guard<std::mutex> lock(tracking_uri.mu);
    tracking_uri.url = (*api)->url();
  }

  // Katib experiments: trials run under the same executor as pipeline
  // tasks, with this server as their MLflow tracking server.
  tuning::ExperimentControllerOptions experiment_options;
  experiment_options.data_dir = options.data_dir;
  experiment_options.base_env = engine_options.base_env;
  experiment_options.base_env["MLFLOW_TRACKING_URI"] = (*api)->url();
  experiment_options.base_env["FERRY_SERVER"] = (*api)->url();
  experiment_options.name_study = [&trial_runs](const std::string& study, const std::string& name) {
    trial_runs.NameExperiment(study, name);
  };
  auto experiments = tuning::ExperimentController::Start(&resources, studies->get(), executor->get(),
                                                         Env::Default(), std::move(experiment_options));
  if (!experiments.ok()) return Fail(experiments.status().WithContext("starting the experiment controller"));

  // InferenceServices: each replica is a `ferry serve` child of the
  // executor, running this very binary.
  serving::deployments::ModelPreparerOptions preparer_options;
  preparer_options.python = options.task_python;
  preparer_options.work_dir = options.data_dir + "/serving/prepared";
  serving::deployments::ModelPreparer preparer(registry->get(), tracking->get(), logged_models->get(),
                                               artifacts->get(), preparer_options);
  std::error_code self_error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", self_error);
  if (self_error) return Fail(Internal("cannot resolve /proc/self/exe: " + self_error.message()));
  serving::deployments::DeploymentControllerOptions deployment_options;
  deployment_options.data_dir = options.data_dir;
  deployment_options.ferry_binary = self.string();
  deployment_options.base_env = engine_options.base_env;
  // Replicas of models served by the Python runtime use the interpreter
  // the preparer converted them with (ferry serve reads FERRY_PYTHON).
  deployment_options.base_env["FERRY_PYTHON"] = options.task_python;
  deployment_options.gateway_url = (*api)->url();
  deployment_options.prepare = [&preparer](const std::string& format, const std::string& uri,
                                           const std::string& key) { return preparer.Prepare(format, uri, key); };
  auto deployments = serving::deployments::DeploymentController::Start(
      &resources, &serving_router, executor->get(), Env::Default(), std::move(deployment_options));
  if (!deployments.ok()) return Fail(deployments.status().WithContext("starting the deployment controller"));

  LogEvent(spdlog::level::info, "ferry server ready",
           {{"url", (*api)->url()},
            {"version", FERRY_VERSION},
            {"data_dir", options.data_dir},
            {"db", (*db)->redacted_url()},
            {"artifact_root", (*artifacts)->root_uri()},
            {"schema_version", *schema}});
  std::printf("ferry server listening on %s\n", (*api)->url().c_str());
  std::fflush(stdout);

  LogEvent(spdlog::level::info, "shutting down", {{"signal", signals.Wait()}});
  (*api)->Shutdown(std::chrono::milliseconds(static_cast<long>(options.drain_timeout_seconds * 1000)));
  // The engine stops scheduling before the executor detaches; running
  // tasks keep running and the next start re-attaches them.
  (*schedules)->Stop();
  (*engine)->Shutdown();
  (*experiments)->Shutdown();
  (*deployments)->Shutdown();
  (*executor)->Shutdown();
  (*payload_log)->Close();
  LogEvent(spdlog::level::info, "ferry server stopped");
  spdlog::default_logger_raw()->flush();
  return 0;
}

}  // namespace ferry::server
