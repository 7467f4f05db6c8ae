#include "ferry/serving/deployments/model_preparer.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ferry/artifacts/artifact_store.h"
#include "ferry/registry/registry_store.h"
#include "ferry/serving/deployments/model_preparer_internal.h"
#include "ferry/serving/runtimes/onnx/onnx_model.h"
#include "ferry/serving/runtimes/onnx/testing/model_builder.h"
#include "ferry/store/testing/test_database.h"
#include "ferry/tracking/logged_model_store.h"
#include "ferry/tracking/tracking_store.h"

namespace ferry::serving::deployments {
namespace {

namespace fs = std::filesystem;
using onnx::testing::kFloat;
using onnx::testing::ModelBuilder;

constexpr char kUriField[] = "spec.predictor.model.storageUri";
constexpr char kFormatField[] = "spec.predictor.model.modelFormat.name";

// y = x: the smallest model the native runtime loads.
std::string IdentityOnnx() {
  ModelBuilder b(15);
  b.Input("x", kFloat, {-1, 2}).Output("y", kFloat, {-1, 2});
  b.Node("Identity", {"x"}, {"y"});
  return b.Bytes();
}

constexpr char kOnnxMLmodel[] = R"(artifact_path: model
flavors:
  onnx:
    code: null
    data: model.onnx
    onnx_version: 1.17.0
  python_function:
    data: model.onnx
    env: {conda: conda.yaml, virtualenv: python_env.yaml}
    loader_module: mlflow.onnx
    python_version: 3.12.3
mlflow_version: 3.1.0
)";

constexpr char kSklearnMLmodel[] = R"(artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.12.3
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.0
mlflow_version: 3.1.0
)";

void WriteFile(const fs::path& path, const std::string& data) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

class ModelPreparerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ferry-preparer-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    auto store = artifacts::OpenArtifactStore("file://" + (root_ / "artifacts").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    artifacts_ = std::move(store).value();
    tdb_ = store::testing::TestDatabase::Create(store::testing::Backend::kSqlite);
    ASSERT_TRUE(tdb_);
    auto tracking = tracking::TrackingStore::Open(&tdb_->db(), &env_);
    ASSERT_TRUE(tracking.ok()) << tracking.status().ToString();
    tracking_ = std::move(tracking).value();
    auto logged = tracking::LoggedModelStore::Open(&tdb_->db(), tracking_.get(), &env_);
    ASSERT_TRUE(logged.ok()) << logged.status().ToString();
    logged_ = std::move(logged).value();
    auto registry = registry::RegistryStore::Open(&tdb_->db(), &env_, {tracking_.get(), logged_.get()});
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    registry_ = std::move(registry).value();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::unique_ptr<ModelPreparer> Preparer(ModelPreparerOptions options = {}) {
    if (options.work_dir.empty()) options.work_dir = (root_ / "work").string();
    return std::make_unique<ModelPreparer>(registry_.get(), tracking_.get(), logged_.get(), artifacts_.get(),
                                           options);
  }

  // An MLflow model folder with an onnx flavor at `dir`.
  void WriteOnnxMlflowModel(const fs::path& dir) {
    WriteFile(dir / "MLmodel", kOnnxMLmodel);
    WriteFile(dir / "model.onnx", IdentityOnnx());
  }

  std::string FileUri(const fs::path& p) { return "file://" + p.string(); }

  FakeEnv env_;
  fs::path root_;
  std::unique_ptr<artifacts::ArtifactStore> artifacts_;
  std::unique_ptr<store::testing::TestDatabase> tdb_;
  std::unique_ptr<tracking::TrackingStore> tracking_;
  std::unique_ptr<tracking::LoggedModelStore> logged_;
  std::unique_ptr<registry::RegistryStore> registry_;
};

TEST_F(ModelPreparerTest, FileOnnx) {
  const fs::path source = root_ / "src" / "iris.onnx";
  WriteFile(source, IdentityOnnx());
  auto preparer = Preparer();
  auto prepared = preparer->Prepare("onnx", FileUri(source), "uid-1/1");
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_EQ(prepared->runtime, "onnx");
  EXPECT_EQ(prepared->reason, "");
  EXPECT_EQ(prepared->resolved_uri, FileUri(source));
  EXPECT_TRUE(prepared->path.starts_with((root_ / "work" / "uid-1" / "1").string())) << prepared->path;
  EXPECT_TRUE(prepared->path.ends_with(".onnx"));
  EXPECT_TRUE(onnx::LoadOnnxModelFile(prepared->path).ok());
}

TEST_F(ModelPreparerTest, ReusesAPreparedKeyAndRedoesAChangedOne) {
  const fs::path source = root_ / "src" / "iris.onnx";
  WriteFile(source, IdentityOnnx());
  auto preparer = Preparer();
  auto first = preparer->Prepare("onnx", FileUri(source), "ep/1");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // The prepared copy is independent of the source: a restart reuses it.
  fs::remove(source);
  auto again = Preparer()->Prepare("onnx", FileUri(source), "ep/1");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->path, first->path);
  // Another URI under the same key is prepared afresh (and here fails).
  auto other = preparer->Prepare("onnx", FileUri(root_ / "src" / "other.onnx"), "ep/1");
  EXPECT_EQ(other.status().code(), StatusCode::kNotFound) << other.status().ToString();
}

TEST_F(ModelPreparerTest, MlflowFolderWithOnnxFlavor) {
  const fs::path dir = root_ / "src" / "mlflow-onnx";
  WriteOnnxMlflowModel(dir);
  auto preparer = Preparer();
  for (const std::string format : {"onnx", "mlflow"}) {
    auto prepared = preparer->Prepare(format, FileUri(dir), "ep/" + format);
    ASSERT_TRUE(prepared.ok()) << format << ": " << prepared.status().ToString();
    EXPECT_EQ(prepared->runtime, "onnx");
    EXPECT_TRUE(prepared->path.ends_with("model.onnx"));
    EXPECT_TRUE(onnx::LoadOnnxModelFile(prepared->path).ok());
  }
}

TEST_F(ModelPreparerTest, ModelFormatMustMatchTheModel) {
  const fs::path onnx_file = root_ / "src" / "m.onnx";
  WriteFile(onnx_file, IdentityOnnx());
  const fs::path sklearn_dir = root_ / "src" / "sk";
  WriteFile(sklearn_dir / "MLmodel", kSklearnMLmodel);
  WriteFile(sklearn_dir / "model.pkl", "not really a pickle");
  auto preparer = Preparer();
  struct Case {
    std::string format, uri;
  };
  for (const Case& c : std::vector<Case>{Case{"sklearn", FileUri(onnx_file)}, Case{"mlflow", FileUri(onnx_file)},
                        Case{"onnx", FileUri(sklearn_dir)}, Case{"xgboost", FileUri(sklearn_dir)},
                        Case{"tensorflow", FileUri(onnx_file)}}) {
    auto prepared = preparer->Prepare(c.format, c.uri, "ep/1");
    ASSERT_FALSE(prepared.ok()) << c.format << " " << c.uri;
    EXPECT_EQ(prepared.status().code(), StatusCode::kInvalidArgument) << prepared.status().ToString();
    EXPECT_EQ(prepared.status().field(), kFormatField) << prepared.status().ToString();
  }
}

TEST_F(ModelPreparerTest, NotAModel) {
  WriteFile(root_ / "src" / "notes.txt", "hello");
  WriteFile(root_ / "src" / "plain" / "weights.bin", "x");
  WriteFile(root_ / "src" / "noflavor" / "MLmodel", "artifact_path: model\n");
  WriteFile(root_ / "src" / "badyaml" / "MLmodel", "flavors: [unclosed\n");
  WriteFile(root_ / "src" / "badonnx" / "MLmodel", "flavors:\n  onnx: {data: ../../etc/passwd}\n");
  auto preparer = Preparer();
  for (const std::string name : {"notes.txt", "plain", "noflavor", "badyaml", "badonnx"}) {
    auto prepared = preparer->Prepare("onnx", FileUri(root_ / "src" / name), "ep/1");
    ASSERT_FALSE(prepared.ok()) << name;
    EXPECT_EQ(prepared.status().field(), kUriField) << name << ": " << prepared.status().ToString();
  }
  // An .onnx file the native runtime cannot read is refused, not served.
  WriteFile(root_ / "src" / "garbage.onnx", "\x08\x01garbage");
  auto garbage = preparer->Prepare("onnx", FileUri(root_ / "src" / "garbage.onnx"), "ep/2");
  EXPECT_EQ(garbage.status().code(), StatusCode::kFailedPrecondition) << garbage.status().ToString();
}

TEST_F(ModelPreparerTest, HostileUris) {
  WriteFile(root_ / "src" / "m.onnx", IdentityOnnx());
  auto preparer = Preparer();
  const std::string base = root_.string();
  for (const std::string& uri : std::vector<std::string>{"file://" + base + "/src/../src/m.onnx", "file://" + base + "/src/./m.onnx", "file://evil.example/m.onnx",
        "file://relative/m.onnx", "file:", "s3://bucket/model", "gs://kfserving-examples/models/sklearn",
        "https://example.com/model.onnx", "/abs/model.onnx", "hdfs://x/y", "mlflow-artifacts:/../etc",
        "mlflow-artifacts:/1/%2e%2e/../x", "mlflow-artifacts:", "runs:/", "runs:/abc/../../x", "models:/",
        "models:/iris", "models:/iris/1/extra", "models:/@champion", "models:/iris@", "models:/iris/Bogus"}) {
    auto prepared = preparer->Prepare("onnx", uri, "ep/1");
    ASSERT_FALSE(prepared.ok()) << uri;
    EXPECT_EQ(prepared.status().code(), StatusCode::kInvalidArgument) << uri << prepared.status().ToString();
    EXPECT_EQ(prepared.status().field(), kUriField) << uri << ": " << prepared.status().ToString();
  }
  for (const std::string key : {"../escape", "/abs", "a/../b", ""}) {
    auto prepared = preparer->Prepare("onnx", FileUri(root_ / "src" / "m.onnx"), key);
    EXPECT_EQ(prepared.status().code(), StatusCode::kInvalidArgument) << key;
  }
  EXPECT_FALSE(fs::exists(root_ / "escape"));
}

TEST_F(ModelPreparerTest, SymlinksCannotLeadOutside) {
  // Outside everything: a model someone would like served from elsewhere.
  const fs::path outside = root_ / "outside";
  WriteOnnxMlflowModel(outside);
  auto preparer = Preparer();

  // A link planted inside the artifact root is never followed.
  fs::create_directories(root_ / "artifacts" / "mlflow" / "1");
  fs::create_directory_symlink(outside, root_ / "artifacts" / "mlflow" / "1" / "evil");
  auto through_dir = preparer->Prepare("onnx", "mlflow-artifacts:/1/evil", "ep/1");
  ASSERT_FALSE(through_dir.ok());
  EXPECT_EQ(through_dir.status().field(), kUriField) << through_dir.status().ToString();
  fs::create_directories(root_ / "artifacts" / "mlflow" / "2" / "model");
  WriteFile(root_ / "artifacts" / "mlflow" / "2" / "model" / "MLmodel", kOnnxMLmodel);
  fs::create_symlink(outside / "model.onnx", root_ / "artifacts" / "mlflow" / "2" / "model" / "model.onnx");
  auto through_file = preparer->Prepare("onnx", "mlflow-artifacts:/2/model", "ep/2");
  ASSERT_FALSE(through_file.ok());
  EXPECT_NE(through_file.status().code(), StatusCode::kOk);
  EXPECT_FALSE(fs::exists(root_ / "work" / "ep" / "2" / "prepared.json"));

  // Nor is one inside a file:// model folder.
  const fs::path folder = root_ / "src" / "linked";
  WriteFile(folder / "MLmodel", kOnnxMLmodel);
  fs::create_symlink(outside / "model.onnx", folder / "model.onnx");
  auto local = preparer->Prepare("onnx", FileUri(folder), "ep/3");
  ASSERT_FALSE(local.ok());
  EXPECT_EQ(local.status().field(), kUriField);
  EXPECT_NE(local.status().message().find("symbolic link"), std::string::npos) << local.status().ToString();
}

TEST_F(ModelPreparerTest, RegistryAliasOfAFileSource) {
  // An experiment whose artifacts live on local disk, so the version's
  // source is a file:// folder (MLflow requires it inside the run's artifacts).
  const fs::path exp_root = root_ / "mlruns";
  auto experiment = tracking_->CreateExperiment("iris", FileUri(exp_root), {});
  ASSERT_TRUE(experiment.ok()) << experiment.status().ToString();
  tracking::CreateRunRequest run_request;
  run_request.experiment_id = *experiment;
  auto run = tracking_->CreateRun(run_request);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  const std::string model_uri = run->info.artifact_uri + "/model";
  ASSERT_TRUE(model_uri.starts_with("file://")) << model_uri;
  WriteOnnxMlflowModel(model_uri.substr(std::string("file://").size()));

  ASSERT_TRUE(registry_->CreateRegisteredModel("iris", {}, std::nullopt).ok());
  registry::CreateModelVersionRequest request;
  request.name = "iris";
  request.source = model_uri;
  request.run_id = run->info.run_id;
  auto version = registry_->CreateModelVersion(request);
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  ASSERT_TRUE(registry_->SetRegisteredModelAlias("iris", "champion", "1").ok());

  auto preparer = Preparer();
  struct Case {
    std::string uri, resolved;
  };
  for (const Case& c : std::vector<Case>{Case{"models:/iris@champion", "models:/iris/1"}, Case{"models:/iris/1", "models:/iris/1"},
                        Case{"models:/iris/latest", "models:/iris/1"},
                        Case{"runs:/" + run->info.run_id + "/model", "runs:/" + run->info.run_id + "/model"}}) {
    auto prepared = preparer->Prepare("mlflow", c.uri, "ep/" + std::to_string(c.uri.size()));
    ASSERT_TRUE(prepared.ok()) << c.uri << ": " << prepared.status().ToString();
    EXPECT_EQ(prepared->runtime, "onnx");
    EXPECT_EQ(prepared->resolved_uri, c.resolved);
    EXPECT_TRUE(onnx::LoadOnnxModelFile(prepared->path).ok());
  }
  ASSERT_TRUE(registry_->TransitionModelVersionStage("iris", "1", "Production", false).ok());
  auto staged = preparer->Prepare("onnx", "models:/iris/production", "ep/staged");
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  EXPECT_EQ(staged->resolved_uri, "models:/iris/1");

  for (const std::string missing : {"models:/iris@nosuch", "models:/iris/7", "models:/nosuch/1",
                                    "models:/iris/Staging", "runs:/0123456789abcdef/model"}) {
    auto prepared = preparer->Prepare("onnx", missing, "ep/missing");
    ASSERT_FALSE(prepared.ok()) << missing;
    EXPECT_NE(prepared.status().message().find(missing), std::string::npos) << prepared.status().ToString();
  }
}

TEST_F(ModelPreparerTest, ArtifactStoreRunsAndLoggedModels) {
  // The default: runs' artifacts behind the MLflow proxy, mlflow/ in the store.
  auto run = tracking_->CreateRun({});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  const std::string artifact_uri = run->info.artifact_uri;
  ASSERT_TRUE(artifact_uri.starts_with("mlflow-artifacts:/")) << artifact_uri;
  const std::string store_dir = "mlflow/" + artifact_uri.substr(std::string("mlflow-artifacts:/").size());
  ASSERT_TRUE(artifacts_->Put(store_dir + "/model/MLmodel", kOnnxMLmodel).ok());
  ASSERT_TRUE(artifacts_->Put(store_dir + "/model/model.onnx", IdentityOnnx()).ok());
  ASSERT_TRUE(artifacts_->Put(store_dir + "/model/sub/extra.txt", "kept").ok());
  ASSERT_TRUE(artifacts_->Put(store_dir + "/single.onnx", IdentityOnnx()).ok());

  auto preparer = Preparer();
  auto by_run = preparer->Prepare("mlflow", "runs:/" + run->info.run_id + "/model", "ep/run");
  ASSERT_TRUE(by_run.ok()) << by_run.status().ToString();
  EXPECT_EQ(by_run->runtime, "onnx");
  EXPECT_TRUE(fs::exists(fs::path(by_run->path).parent_path() / "sub" / "extra.txt"));
  auto by_proxy = preparer->Prepare("onnx", artifact_uri + "/single.onnx", "ep/proxy");
  ASSERT_TRUE(by_proxy.ok()) << by_proxy.status().ToString();
  EXPECT_EQ(by_proxy->runtime, "onnx");
  auto with_host = preparer->Prepare("onnx", "mlflow-artifacts://host:5000/" + artifact_uri.substr(18) +
                                                 "/single.onnx", "ep/host");
  ASSERT_TRUE(with_host.ok()) << with_host.status().ToString();

  // An MLflow 3 logged model, directly and through a registered version.
  tracking::CreateLoggedModelRequest logged_request;
  logged_request.experiment_id = run->info.experiment_id;
  logged_request.source_run_id = run->info.run_id;
  auto logged = logged_->Create(logged_request);
  ASSERT_TRUE(logged.ok()) << logged.status().ToString();
  const std::string logged_dir =
      "mlflow/" + logged->artifact_location.substr(std::string("mlflow-artifacts:/").size());
  ASSERT_TRUE(artifacts_->Put(logged_dir + "/MLmodel", kOnnxMLmodel).ok());
  ASSERT_TRUE(artifacts_->Put(logged_dir + "/model.onnx", IdentityOnnx()).ok());
  auto direct = preparer->Prepare("onnx", "models:/" + logged->model_id, "ep/logged");
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  EXPECT_EQ(direct->resolved_uri, "models:/" + logged->model_id);

  ASSERT_TRUE(registry_->CreateRegisteredModel("wine", {}, std::nullopt).ok());
  registry::CreateModelVersionRequest request;
  request.name = "wine";
  request.source = "models:/" + logged->model_id;
  request.model_id = logged->model_id;
  ASSERT_TRUE(registry_->CreateModelVersion(request).ok());
  ASSERT_TRUE(registry_->SetRegisteredModelAlias("wine", "champion", "1").ok());
  auto registered = preparer->Prepare("onnx", "models:/wine@champion", "ep/registered");
  ASSERT_TRUE(registered.ok()) << registered.status().ToString();
  EXPECT_EQ(registered->resolved_uri, "models:/wine/1");

  auto missing = preparer->Prepare("onnx", artifact_uri + "/nothing-here", "ep/missing");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
  auto unknown_logged = preparer->Prepare("onnx", "models:/m-00000000000000000000000000000000", "ep/m");
  EXPECT_EQ(unknown_logged.status().code(), StatusCode::kNotFound) << unknown_logged.status().ToString();
}

TEST_F(ModelPreparerTest, MissingStoresAreFailedPrecondition) {
  ModelPreparerOptions options;
  options.work_dir = (root_ / "work").string();
  ModelPreparer bare(nullptr, nullptr, nullptr, nullptr, options);
  for (const std::string uri : {"models:/iris/1", "models:/m-0123", "runs:/abc/model", "mlflow-artifacts:/1/m"}) {
    auto prepared = bare.Prepare("onnx", uri, "ep/1");
    EXPECT_EQ(prepared.status().code(), StatusCode::kFailedPrecondition) << uri << prepared.status().ToString();
  }
  ModelPreparer no_dir(nullptr, nullptr, nullptr, nullptr, {});
  EXPECT_EQ(no_dir.Prepare("onnx", "file:///x.onnx", "ep/1").status().code(), StatusCode::kFailedPrecondition);
}

// A stand-in interpreter that fails the way a broken environment does; the
// real converter runs in tests/serving/test_model_preparer.py.
fs::path WriteScript(const fs::path& path, const std::string& body) {
  WriteFile(path, "#!/bin/sh\n" + body + "\n");
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

TEST_F(ModelPreparerTest, FailedConversionFallsBackToPython) {
  const fs::path dir = root_ / "src" / "sk";
  WriteFile(dir / "MLmodel", kSklearnMLmodel);
  WriteFile(dir / "model.pkl", "x");
  ModelPreparerOptions options;
  options.python = WriteScript(root_ / "bin" / "python", "echo 'No module named skl2onnx' >&2; exit 3").string();
  auto prepared = Preparer(options)->Prepare("sklearn", FileUri(dir), "ep/1");
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_EQ(prepared->runtime, "python");
  EXPECT_TRUE(fs::exists(fs::path(prepared->path) / "MLmodel")) << prepared->path;
  EXPECT_NE(prepared->reason.find("exit 3"), std::string::npos) << prepared->reason;
  EXPECT_NE(prepared->reason.find("No module named skl2onnx"), std::string::npos) << prepared->reason;
  // The converter script was written out for it to run.
  EXPECT_TRUE(fs::exists(root_ / "work" / "ep" / "1" / "convert.py"));

  // A verdict asking for the Python runtime is taken with its reason.
  options.python = WriteScript(root_ / "bin" / "verdict",
                               "while [ $# -gt 0 ]; do if [ \"$1\" = --verdict ]; then "
                               "echo '{\"runtime\": \"python\", \"reason\": \"labels differ\"}' > \"$2\"; fi; "
                               "shift; done")
                       .string();
  auto verdict = Preparer(options)->Prepare("sklearn", FileUri(dir), "ep/2");
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->runtime, "python");
  EXPECT_EQ(verdict->reason, "labels differ");

  // An interpreter that does not exist.
  options.python = (root_ / "bin" / "no-such-python").string();
  auto missing = Preparer(options)->Prepare("sklearn", FileUri(dir), "ep/3");
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_NE(missing->reason.find("could not start"), std::string::npos) << missing->reason;
}

TEST_F(ModelPreparerTest, ConversionTimesOut) {
  const fs::path dir = root_ / "src" / "sk";
  WriteFile(dir / "MLmodel", kSklearnMLmodel);
  ModelPreparerOptions options;
  options.python = WriteScript(root_ / "bin" / "slow", "sleep 60 & sleep 60").string();
  options.conversion_timeout = std::chrono::seconds(1);
  auto prepared = Preparer(options)->Prepare("sklearn", FileUri(dir), "ep/1");
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_EQ(prepared->runtime, "python");
  EXPECT_NE(prepared->reason.find("longer than 1 s"), std::string::npos) << prepared->reason;
}

TEST_F(ModelPreparerTest, NoRuntimeIsFailedPrecondition) {
  // A sklearn flavor without python_function, whose conversion fails.
  const fs::path dir = root_ / "src" / "bare-sk";
  WriteFile(dir / "MLmodel", "flavors:\n  sklearn: {pickled_model: model.pkl}\n");
  ModelPreparerOptions options;
  options.python = WriteScript(root_ / "bin" / "python", "exit 1").string();
  auto prepared = Preparer(options)->Prepare("sklearn", FileUri(dir), "ep/1");
  EXPECT_EQ(prepared.status().code(), StatusCode::kFailedPrecondition) << prepared.status().ToString();

  // An MLflow model with neither an onnx nor a python_function flavor.
  const fs::path odd = root_ / "src" / "odd";
  WriteFile(odd / "MLmodel", "flavors:\n  pytorch: {model_data: data}\n");
  auto unservable = Preparer(options)->Prepare("mlflow", FileUri(odd), "ep/2");
  EXPECT_EQ(unservable.status().code(), StatusCode::kFailedPrecondition) << unservable.status().ToString();

  // With python_function only: the Python runtime, saying why.
  const fs::path pyfunc = root_ / "src" / "pyfunc";
  WriteFile(pyfunc / "MLmodel", "flavors:\n  python_function: {loader_module: my_model}\n");
  auto python = Preparer(options)->Prepare("mlflow", FileUri(pyfunc), "ep/3");
  ASSERT_TRUE(python.ok()) << python.status().ToString();
  EXPECT_EQ(python->runtime, "python");
  EXPECT_NE(python->reason.find("python_function"), std::string::npos) << python->reason;
}

TEST(RunWithTimeout, CapturesOutputAndExitCode) {
  auto run = internal::RunWithTimeout({"sh", "-c", "echo out; echo err >&2; exit 7"}, std::chrono::seconds(10));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->exit_code, 7);
  EXPECT_FALSE(run->timed_out);
  EXPECT_NE(run->output.find("out"), std::string::npos);
  EXPECT_NE(run->output.find("err"), std::string::npos);
  auto killed = internal::RunWithTimeout({"sh", "-c", "sleep 30"}, std::chrono::milliseconds(200));
  ASSERT_TRUE(killed.ok());
  EXPECT_TRUE(killed->timed_out);
  EXPECT_FALSE(internal::RunWithTimeout({"/no/such/binary"}, std::chrono::seconds(1)).ok());
}

TEST(LastLines, KeepsTheTail) {
  EXPECT_EQ(internal::LastLines("a\nb\nc\n", 2), "b\nc");
  EXPECT_EQ(internal::LastLines("a\nb\nc", 5), "a\nb\nc");
  EXPECT_EQ(internal::LastLines("a\nb", 0), "");
  EXPECT_EQ(internal::LastLines("", 3), "");
}

}  // namespace
}  // namespace ferry::serving::deployments
