#include "ferry/cli/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "ferry/api/client/http_client.h"
#include "ferry/cli/commands.h"
#include "ferry/cli/deploy.h"
#include "ferry/cli/pipeline_views.h"
#include "ferry/cli/resource_client.h"
#include "ferry/common/env.h"
#include "ferry/common/names.h"

#ifndef FERRY_VERSION
#error "FERRY_VERSION must be defined by the build (top-level CMakeLists.txt)"
#endif

namespace ferry::cli {
namespace {

constexpr const char* kDefaultServer = "http://127.0.0.1:8080";
constexpr const char* kGlobalFooter =
    "Global options (see `ferry --help`): --server URL (env FERRY_SERVER), -n/--namespace NS";

// The first argument that is not a global option or its value: the verb the
// user typed, or empty. Lets an unknown verb be reported as such.
std::string FirstVerb(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--server" || arg == "-n" || arg == "--namespace") {
      ++i;
      continue;
    }
    if (!arg.empty() && arg.front() == '-') continue;
    return std::string(arg);
  }
  return {};
}

}  // namespace

int Main(int argc, char** argv, const std::vector<ExternalCommand>& external) {
  // External verbs parse their own arguments: hand them over untouched.
  if (argc >= 2) {
    for (const auto& command : external) {
      if (command.name == argv[1]) return command.run(argc - 1, argv + 1);
    }
  }

  CLI::App app{
      "ferry: an MLOps platform in one binary. Every verb below but the\n"
      "control plane itself is a client of a Ferry server's REST API.",
      "ferry"};
  app.fallthrough();
  app.require_subcommand(1);

  std::string server = kDefaultServer;
  std::string ns = "default";
  app.add_option("--server", server, "URL of the Ferry server")
      ->envname("FERRY_SERVER")
      ->capture_default_str();
  auto* ns_option = app.add_option("-n,--namespace", ns, "Namespace to act in")->capture_default_str();

  auto* version = app.add_subcommand("version", "Print the client and server versions");

  ApplyOptions apply_options;
  auto* apply = app.add_subcommand("apply", "Create or update resources from files or standard input");
  apply
      ->add_option("-f,--filename", apply_options.files,
                   "File, directory (its *.yaml, *.yml, *.json) or - for standard input; repeatable")
      ->required()
      ->allow_extra_args(false);

  GetOptions get_options;
  auto* get = app.add_subcommand("get", "List resources or show some by name");
  get->add_option("kind", get_options.kind,
                  "Resource type: plural, singular, kind or short name (KIND[/NAME])")
      ->required();
  get->add_option("names", get_options.names, "Names of the objects to show");
  get->add_option("-o,--output", get_options.output, "Output format")
      ->check(CLI::IsMember({"table", "json", "yaml", "name"}))
      ->capture_default_str();
  get->add_option("-l,--selector", get_options.selector, "Label selector, e.g. app=web,tier!=db");
  get->add_flag("-A,--all-namespaces", get_options.all_namespaces, "List across all namespaces");
  get->add_flag("-w,--watch", get_options.watch, "After listing, keep printing changes");
  get->add_option("--experiment", get_options.experiment,
                  "Runs (name or id), pipelineruns (name), trials (Katib experiment name): "
                  "only those of this experiment");
  get->add_option("--filter", get_options.filter,
                  "Experiments, runs, models: MLflow search filter, e.g. \"metrics.acc > 0.9\"");
  get->add_option("--limit", get_options.limit,
                  "Experiments, runs, models, pipelineruns: show at most this many")
      ->check(CLI::PositiveNumber);

  DescribeOptions describe_options;
  auto* describe = app.add_subcommand("describe", "Show one or more resources in detail");
  describe->add_option("kind", describe_options.kind, "Resource type (KIND[/NAME])")->required();
  describe->add_option("names", describe_options.names, "Names of the objects to describe");

  DeleteOptions delete_options;
  auto* del = app.add_subcommand("delete", "Delete resources by name or by the objects of files");
  del->add_option("kind", delete_options.kind, "Resource type (KIND[/NAME])");
  del->add_option("names", delete_options.names, "Names of the objects to delete");
  del->add_option("-f,--filename", delete_options.files, "File, directory or - whose objects to delete")
      ->allow_extra_args(false);
  del->add_flag("--ignore-not-found", delete_options.ignore_not_found,
                "Treat objects that do not exist as deleted");

  RunPipelineOptions run_options;
  auto* run = app.add_subcommand("run", "Run a compiled KFP pipeline (PipelineSpec YAML/JSON)");
  run->add_option("pipeline", run_options.file, "Compiled pipeline file, or - for standard input")
      ->required();
  run->add_option("-p,--param", run_options.parameters,
                  "Pipeline parameter name=value (converted to the declared type); repeatable")
      ->allow_extra_args(false);
  run->add_option("--experiment", run_options.experiment, "Experiment name (created when missing)");
  run->add_option("--name", run_options.name, "Run name (default: the pipeline's name)");
  run->add_flag("-w,--watch", run_options.watch,
                "Print task state changes until the run ends; exit non-zero unless it succeeded");

  LogsOptions logs_options;
  auto* logs = app.add_subcommand("logs", "Print the logs of a pipeline run's tasks");
  logs->add_option("run", logs_options.target, "The pipeline run: run/ID or ID")->required();
  logs->add_option("task", logs_options.task, "Task name or path (default: every task, in order)");
  logs->add_flag("-f,--follow", logs_options.follow, "Keep printing new output until the task (or run) ends");
  logs->add_option("--limit-bytes", logs_options.limit_bytes, "Only the last N bytes already written")
      ->check(CLI::PositiveNumber);

  PipelineRunActionOptions cancel_options;
  auto* cancel = app.add_subcommand("cancel", "Cancel pipeline runs (kills their running tasks)");
  cancel->add_option("runs", cancel_options.targets, "Pipeline runs: run/ID or ID")->required();
  PipelineRunActionOptions retry_options;
  auto* retry =
      app.add_subcommand("retry", "Retry failed or canceled pipeline runs (succeeded tasks are kept)");
  retry->add_option("runs", retry_options.targets, "Pipeline runs: run/ID or ID")->required();

  DeployOptions deploy_options;
  auto* deploy = app.add_subcommand("deploy", "Deploy a model as an InferenceService (create or roll out)");
  deploy->add_option("model", deploy_options.model_uri,
                     "Model URI: models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/PATH, "
                     "mlflow-artifacts:/PATH or file:///PATH")
      ->required();
  deploy->add_option("--name", deploy_options.name, "Endpoint (InferenceService) name")->required();
  deploy->add_option("--canary-percent", deploy_options.canary_percent,
                     "Send this share of traffic to the new model, the rest to the current one")
      ->check(CLI::Range(0, 100));
  deploy->add_option("--min-replicas", deploy_options.min_replicas, "Fewest replicas (0: scale to zero when idle)")
      ->check(CLI::NonNegativeNumber);
  deploy->add_option("--max-replicas", deploy_options.max_replicas, "Most replicas (0: as many as --min-replicas)")
      ->check(CLI::NonNegativeNumber);
  deploy->add_option("--format", deploy_options.format, "modelFormat (default: mlflow, onnx for file://*.onnx)")
      ->check(CLI::IsMember({"mlflow", "onnx", "sklearn", "xgboost", "lightgbm"}));

  for (const auto& command : external) {
    // Listed for --help only: the dispatch above runs it when it comes first.
    auto* sub = app.add_subcommand(command.name, command.description);
    sub->prefix_command();
    sub->set_help_flag();
  }
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_help_ptr() != nullptr) sub->footer(kGlobalFooter);
  }

  if (argc == 1) {
    std::cout << app.help();
    return kExitOk;
  }
  const std::string verb = FirstVerb(argc, argv);
  const auto matching = app.get_subcommands([&](CLI::App* sub) { return sub->check_name(verb); });
  if (!verb.empty() && matching.empty()) {
    std::cerr << "error: unknown command \"" << verb << "\" for \"ferry\"\nRun 'ferry --help' for usage."
              << std::endl;
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  for (const auto& command : external) {
    if (app.got_subcommand(command.name)) {
      std::cerr << "error: `" << command.name << "` must come first: ferry " << command.name << " [OPTIONS]"
                << std::endl;
      return kExitUsage;
    }
  }

  auto base_url = api::client::HttpClient::NormalizeBaseUrl(server);
  if (!base_url.ok()) {
    std::cerr << "error: --server: " << base_url.status().message() << std::endl;
    return kExitUsage;
  }
  if (Status valid = ValidateDns1123Label(ns, "namespace"); !valid.ok()) {
    std::cerr << "error: --namespace: " << valid.message() << std::endl;
    return kExitUsage;
  }

  api::client::HttpClientOptions http_options;
  http_options.user_agent = std::string("ferry-cli/") + FERRY_VERSION;
  api::client::HttpClient http(*base_url, http_options);
  ResourceClient client(&http);
  Context ctx;
  ctx.client = &client;
  ctx.ns = ns;
  ctx.ns_explicit = ns_option->count() > 0;
  ctx.in = &std::cin;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  ctx.env = Env::Default();

  if (version->parsed()) return RunVersion(ctx, FERRY_VERSION);
  if (apply->parsed()) return RunApply(ctx, apply_options);
  if (get->parsed()) return RunGet(ctx, get_options);
  if (describe->parsed()) return RunDescribe(ctx, describe_options);
  if (del->parsed()) return RunDelete(ctx, delete_options);
  if (run->parsed()) return RunPipeline(ctx, run_options);
  if (logs->parsed()) return PipelineRunLogs(ctx, logs_options);
  if (cancel->parsed()) return CancelPipelineRuns(ctx, cancel_options);
  if (retry->parsed()) return RetryPipelineRuns(ctx, retry_options);
  if (deploy->parsed()) return RunDeploy(ctx, deploy_options);
  return kExitUsage;
}

}  // namespace ferry::cli
