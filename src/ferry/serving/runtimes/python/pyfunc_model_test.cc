// The Python runtime: the MLmodel signature mapping (no Python needed), and
// real worker processes (the repository's .venv python with mlflow) serving
// tiny pyfunc models saved by a Python snippet at set-up: answers, model
// errors, a worker that exits or is killed mid-request, a worker that
// hangs past the timeout, a full queue, and models that cannot load.

#include "ferry/serving/runtimes/python/pyfunc_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace ferry::serving::python {
namespace {

namespace fs = std::filesystem;
using protocol::DataType;
using protocol::Tensor;
using ::testing::HasSubstr;

std::string Python() {
  const char* env = std::getenv("FERRY_TEST_PYTHON");
  if (env != nullptr && *env != '\0') return env;
#ifdef FERRY_TEST_PYTHON_DEFAULT
  return FERRY_TEST_PYTHON_DEFAULT;
#else
  return "python3";
#endif
}

// ---- Signature mapping ------------------------------------------------------

constexpr char kColumnModel[] = R"(flavors:
  python_function:
    loader_module: mlflow.pyfunc.model
signature:
  inputs: '[{"type": "double", "name": "a", "required": true}, {"type": "string",
    "name": "s", "required": true}, {"type": "long", "name": "n", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
)";

TEST(ParsePyfuncSignatureTest, ColumnsBecomeRowsByOneTensorsFedAsDataFrame) {
  auto parsed = ParsePyfuncSignature(kColumnModel);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const ModelSignature& sig = parsed->signature;
  EXPECT_EQ(sig.platform, "python");
  ASSERT_EQ(sig.inputs.size(), 3u);
  EXPECT_EQ(sig.inputs[0].name, "a");
  EXPECT_EQ(sig.inputs[0].datatype, DataType::kFp64);
  EXPECT_EQ(sig.inputs[0].shape, (std::vector<int64_t>{-1, 1}));
  EXPECT_EQ(sig.inputs[1].datatype, DataType::kBytes);
  EXPECT_EQ(sig.inputs[2].datatype, DataType::kInt64);
  ASSERT_EQ(sig.outputs.size(), 1u);
  EXPECT_EQ(sig.outputs[0].name, "predict");
  EXPECT_EQ(sig.outputs[0].datatype, DataType::kInt64);
  EXPECT_EQ(sig.outputs[0].shape, (std::vector<int64_t>{-1}));
  EXPECT_EQ(parsed->worker_config["input_format"], "dataframe");
  EXPECT_EQ(parsed->worker_config["inputs"][1]["kind"], "string");
}

TEST(ParsePyfuncSignatureTest, TensorSpecsKeepDtypeShapeAndNames) {
  auto unnamed = ParsePyfuncSignature(R"(flavors: {python_function: {}}
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
)");
  ASSERT_TRUE(unnamed.ok()) << unnamed.status().message();
  EXPECT_EQ(unnamed->signature.inputs[0].name, "input-0");
  EXPECT_EQ(unnamed->signature.inputs[0].datatype, DataType::kFp32);
  EXPECT_EQ(unnamed->signature.inputs[0].shape, (std::vector<int64_t>{-1, 3}));
  EXPECT_EQ(unnamed->signature.outputs[0].name, "predict");
  EXPECT_EQ(unnamed->worker_config["input_format"], "ndarray");

  auto named = ParsePyfuncSignature(R"(flavors: {python_function: {}}
signature:
  inputs: '[{"type": "tensor", "name": "x", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}},
            {"type": "tensor", "name": "y", "tensor-spec": {"dtype": "str", "shape": [-1]}}]'
  outputs: '[{"type": "tensor", "name": "p", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}},
             {"type": "tensor", "name": "q", "tensor-spec": {"dtype": "bool", "shape": [-1]}}]'
)");
  ASSERT_TRUE(named.ok()) << named.status().message();
  EXPECT_EQ(named->worker_config["input_format"], "dict");
  EXPECT_EQ(named->signature.inputs[1].datatype, DataType::kBytes);
  EXPECT_EQ(named->signature.outputs[0].name, "p");
  EXPECT_EQ(named->signature.outputs[1].datatype, DataType::kBool);
}

TEST(ParsePyfuncSignatureTest, NoOutputSchemaGivesOnePredictOutput) {
  auto parsed = ParsePyfuncSignature(R"(flavors: {python_function: {}}
signature:
  inputs: '[{"type": "double", "name": "a"}]'
  outputs: null
)");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->signature.outputs.size(), 1u);
  EXPECT_EQ(parsed->signature.outputs[0].name, "predict");
  EXPECT_EQ(parsed->signature.outputs[0].datatype, DataType::kFp64);
}

TEST(ParsePyfuncSignatureTest, RefusesWhatHasNoV2Form) {
  struct Case {
    const char* mlmodel;
    const char* message;
  };
  const Case cases[] = {
      {"flavors: {python_function: {}}\n", "has no signature"},
      {"flavors: {sklearn: {}}\nsignature: {inputs: '[]'}\n", "no python_function flavor"},
      {"- just\n- a list\n", "must be a YAML mapping"},
      {"flavors: {python_function: {}}\nsignature: {inputs: 'not json'}\n", "signature.inputs"},
      {"flavors: {python_function: {}}\nsignature: {inputs: '[]'}\n", "non-empty JSON array"},
      {"flavors: {python_function: {}}\nsignature: {inputs: '[{\"type\": \"array\", \"name\": \"a\"}]'}\n",
       "column type 'array'"},
      {"flavors: {python_function: {}}\nsignature: {inputs: '[{\"type\": \"tensor\", \"tensor-spec\": "
       "{\"dtype\": \"complex64\", \"shape\": [-1]}}]'}\n",
       "numpy dtype 'complex64'"},
      {"flavors: {python_function: {}}\nsignature: {inputs: '[{\"type\": \"tensor\", \"tensor-spec\": "
       "{\"dtype\": \"float32\", \"shape\": [-1]}}, {\"type\": \"double\"}]'}\n",
       "mixes tensor and column"},
      {"flavors: {python_function: {}}\nsignature: {inputs: '[{\"type\": \"tensor\", \"tensor-spec\": "
       "{\"dtype\": \"float32\", \"shape\": [-1]}}, {\"type\": \"tensor\", \"tensor-spec\": "
       "{\"dtype\": \"float32\", \"shape\": [-1]}}]'}\n",
       "unnamed tensors"},
      {"flavors: {python_function: {}}\nsignature: {inputs: '[{\"type\": \"double\", \"name\": \"a\"}, "
       "{\"type\": \"double\", \"name\": \"a\"}]'}\n",
       "names 'a' twice"},
      {"flavors: {python_function: {}}\nsignature: {inputs: '[{\"type\": \"tensor\", \"tensor-spec\": "
       "{\"dtype\": \"float32\", \"shape\": [-5]}}]'}\n",
       "dimensions must be integers >= -1"},
      {"flavors: {python_function: {}}\nsignature: {inputs: '[{\"name\": \"a\"}]'}\n", "string \"type\""},
      {"flavors: {python_function: {}}\nsignature: {inputs: 7}\n", "must be a JSON string"},
  };
  for (const Case& c : cases) {
    auto parsed = ParsePyfuncSignature(c.mlmodel);
    ASSERT_FALSE(parsed.ok()) << c.mlmodel;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << c.mlmodel;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.message)) << c.mlmodel;
  }
}

TEST(LoadPyfuncModelTest, RefusesBadFoldersAndOptionsWithoutStartingPython) {
  const fs::path dir = fs::temp_directory_path() / ("ferry-pyfunc-bad-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  PythonRuntimeOptions options;
  options.python = "/nonexistent/python";

  auto missing = LoadPyfuncModel((dir / "nothing").string(), "m", options);
  EXPECT_THAT(missing.status().message(), HasSubstr("is not a folder with an MLmodel file"));

  std::ofstream(dir / "MLmodel") << "flavors: {python_function: {}}\n";
  auto unsigned_model = LoadPyfuncModel(dir.string(), "m", options);
  EXPECT_EQ(unsigned_model.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(unsigned_model.status().message(), HasSubstr("has no signature"));

  std::ofstream(dir / "MLmodel")
      << "flavors: {python_function: {}}\nsignature: {inputs: '[{\"type\": \"double\"}]'}\n";
  PythonRuntimeOptions zero = options;
  zero.workers = 0;
  EXPECT_THAT(LoadPyfuncModel(dir.string(), "m", zero).status().message(), HasSubstr("between 1 and 256"));
  auto no_python = LoadPyfuncModel(dir.string(), "m", options);
  EXPECT_EQ(no_python.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_python.status().message(), HasSubstr("cannot start python '/nonexistent/python'"));
  fs::remove_all(dir);
}

// Live processes whose command line mentions `text`.
int ProcessesMentioning(const std::string& text) {
  int count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ifstream stat(entry.path() / "stat");
    std::string pid, comm, state;
    stat >> pid >> comm >> state;
    if (state != "Z" && cmdline.find(text) != std::string::npos) ++count;
  }
  return count;
}

// ---- Real workers ------------------------------------------------------------

// Saves the test models with mlflow into `dir`:
//   columns/  a DataFrame model: a (double), s (string) -> a * 2 + len(s)
//   tensor/   an ndarray model, float64 [-1, 2] -> row sums; a row whose
//             first value is -1 exits the worker (os._exit(3)), -2 raises,
//             -3 sleeps 30 s, -4 SIGKILLs itself
//   broken/   a model whose python_model pickle is gone
constexpr char kSaveModels[] = R"PY(
import os, shutil, sys, time, signal
import numpy as np, pandas as pd
import mlflow.pyfunc
from mlflow.models import ModelSignature
from mlflow.types.schema import Schema, ColSpec, TensorSpec

root = sys.argv[1]

class Columns(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        print("predicting", len(model_input), "rows")  # must not break the framing
        return (model_input["a"] * 2 + model_input["s"].str.len()).to_numpy()

class Tensor(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        first = float(model_input[0, 0])
        if first == -1:
            os._exit(3)
        if first == -2:
            raise ValueError("minus two is not allowed")
        if first == -3:
            time.sleep(30)
        if first == -4:
            os.kill(os.getpid(), signal.SIGKILL)
        return model_input.sum(axis=1)

reqs = ["mlflow"]  # skips requirement inference, which loads each model again
mlflow.pyfunc.save_model(os.path.join(root, "columns"), python_model=Columns(), pip_requirements=reqs,
    signature=ModelSignature(Schema([ColSpec("double", "a"), ColSpec("string", "s")]),
                             Schema([ColSpec("double")])))
mlflow.pyfunc.save_model(os.path.join(root, "tensor"), python_model=Tensor(), pip_requirements=reqs,
    signature=ModelSignature(Schema([TensorSpec(np.dtype("float64"), (-1, 2))]),
                             Schema([TensorSpec(np.dtype("float64"), (-1,))])))
mlflow.pyfunc.save_model(os.path.join(root, "broken"), python_model=Tensor(), pip_requirements=reqs,
    signature=ModelSignature(Schema([TensorSpec(np.dtype("float64"), (-1, 2))]),
                             Schema([TensorSpec(np.dtype("float64"), (-1,))])))
for name in os.listdir(os.path.join(root, "broken")):
    if name.endswith(".pkl"):
        os.remove(os.path.join(root, "broken", name))
)PY";

class PyfuncWorkersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("ferry-pyfunc-test-" + std::to_string(::getpid())));
    fs::create_directories(*root_);
    std::ofstream(*root_ / "save.py") << kSaveModels;
    const std::string command = Python() + " " + (*root_ / "save.py").string() + " " + root_->string() +
                                " > " + (*root_ / "save.log").string() + " 2>&1";
    save_status_ = std::system(command.c_str());
  }
  static void TearDownTestSuite() {
    shared_tensor_.reset();
    std::error_code ec;
    fs::remove_all(*root_, ec);
    delete root_;
  }
  void SetUp() override {
    ASSERT_EQ(save_status_, 0) << "saving the test models failed; see " << (*root_ / "save.log").string();
  }

  static std::shared_ptr<const Model> Load(const std::string& name, PythonRuntimeOptions options = {}) {
    options.python = Python();
    auto model = LoadPyfuncModel((*root_ / name).string(), name, options);
    EXPECT_TRUE(model.ok()) << model.status().message();
    return model.ok() ? *model : nullptr;
  }

  static Tensor Rows(std::vector<double> values) {
    Tensor t;
    t.name = "input-0";
    t.datatype = DataType::kFp64;
    t.shape = {static_cast<int64_t>(values.size() / 2), 2};
    t.data.assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
    return t;
  }

  static std::vector<double> Doubles(const Tensor& t) {
    std::vector<double> out(t.data.size() / sizeof(double));
    std::memcpy(out.data(), t.data.data(), t.data.size());
    return out;
  }

  // The tensor model with two workers, loaded once for the tests that can
  // share it (loading imports mlflow in every worker: seconds).
  static std::shared_ptr<const Model> SharedTensorModel() {
    if (!shared_tensor_) shared_tensor_ = Load("tensor");
    return shared_tensor_;
  }

  static fs::path* root_;
  static int save_status_;
  static std::shared_ptr<const Model> shared_tensor_;
};
fs::path* PyfuncWorkersTest::root_ = nullptr;
int PyfuncWorkersTest::save_status_ = -1;
std::shared_ptr<const Model> PyfuncWorkersTest::shared_tensor_;

TEST_F(PyfuncWorkersTest, ColumnModelTakesADataFrameOfItsColumns) {
  PythonRuntimeOptions options;
  options.workers = 1;
  auto model = Load("columns", options);
  ASSERT_NE(model, nullptr);
  ASSERT_EQ(model->signature().inputs.size(), 2u);
  Tensor a{"a", DataType::kFp64, {3, 1}, {}};
  for (double v : {1.5, 2.0, -1.0}) a.data.append(reinterpret_cast<const char*>(&v), sizeof v);
  Tensor s{"s", DataType::kBytes, {3, 1}, {}};
  for (const char* v : {"", "ab", "héllo"}) protocol::AppendBytesElement(s.data, v);
  ASSERT_TRUE(CheckInputs(model->signature(), {a, s}).ok());
  auto out = model->Infer({a, s}, {});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].name, "predict");
  EXPECT_EQ((*out)[0].shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(Doubles((*out)[0]), (std::vector<double>{3.0, 6.0, 3.0}));  // "héllo" has 5 characters
}

TEST_F(PyfuncWorkersTest, ModelErrorsAnswerTheRequestAndKeepTheWorker) {
  auto model = SharedTensorModel();
  ASSERT_NE(model, nullptr);
  auto raised = model->Infer({Rows({-2, 0})}, {});
  EXPECT_EQ(raised.status().code(), StatusCode::kInternal);
  EXPECT_THAT(raised.status().message(), HasSubstr("ValueError: minus two is not allowed"));

  Tensor columns = Rows({1, 2, 3, 4});
  columns.shape = {1, 4};  // mlflow's schema enforcement refuses the shape
  auto refused = model->Infer({columns}, {});
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << refused.status().message();

  Tensor truncated = Rows({1, 2});
  truncated.data.resize(7);
  EXPECT_FALSE(model->Infer({truncated}, {}).ok());

  auto out = model->Infer({Rows({1, 2, 3, 4})}, {"predict"});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(Doubles((*out)[0]), (std::vector<double>{3, 7}));
  EXPECT_THAT(model->Infer({Rows({1, 2})}, {"nope"}).status().message(), HasSubstr("nope"));
}

TEST_F(PyfuncWorkersTest, AWorkerThatDiesIsNamedRestartedAndServesAgain) {
  auto model = SharedTensorModel();
  ASSERT_NE(model, nullptr);
  auto exited = model->Infer({Rows({-1, 0})}, {});
  EXPECT_EQ(exited.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(exited.status().message(),
              ::testing::MatchesRegex("python worker [01] exited \\(exit code 3\\) while running the "
                                      "request; restarted"));
  auto after = model->Infer({Rows({5, 6})}, {});
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(Doubles((*after)[0]), (std::vector<double>{11}));

  auto killed = model->Infer({Rows({-4, 0})}, {});
  EXPECT_THAT(killed.status().message(),
              HasSubstr("exited (killed by SIGKILL) while running the request; restarted"));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(model->Infer({Rows({1, 1})}, {}).ok());  // both workers
}

TEST_F(PyfuncWorkersTest, ACrashUnderConcurrentLoadFailsOnlyItsOwnRequest) {
  auto model = SharedTensorModel();
  ASSERT_NE(model, nullptr);
  std::atomic<int> ok{0}, crashed{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        const bool magic = t == 0 && i == 5;
        auto out = model->Infer({Rows({magic ? -1.0 : 1.0, 2.0})}, {});
        if (out.ok() && Doubles((*out)[0]) == std::vector<double>{3}) {
          ok++;
        } else if (!out.ok() && out.status().code() == StatusCode::kUnavailable &&
                   out.status().message().find("exited (exit code 3) while running the request") !=
                       std::string::npos) {
          crashed++;
        } else {
          other++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(crashed.load(), 1);
  EXPECT_EQ(ok.load(), 6 * 15 - 1);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(PyfuncWorkersTest, AHungWorkerIsKilledAFullQueueRefusesAndUnloadStopsTheWorkers) {
  PythonRuntimeOptions options;
  options.work_dir = (*root_ / "work").string();
  options.workers = 1;
  options.max_queued_requests = 0;
  options.request_timeout = std::chrono::milliseconds(1500);
  auto model = Load("tensor", options);
  ASSERT_NE(model, nullptr);
  Result<std::vector<Tensor>> hung = Internal("not run");
  std::thread sleeper([&] {
    // Refused while the main thread holds the worker; retried until it runs.
    do {
      hung = model->Infer({Rows({-3, 0})}, {});
    } while (hung.status().code() == StatusCode::kResourceExhausted);
  });
  // While the sleeper holds the only worker, a request has no queue to wait in.
  Status refused;
  for (int i = 0; i < 1000 && refused.ok(); ++i) {
    auto out = model->Infer({Rows({1, 2})}, {});
    refused = out.status();
    if (refused.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("queue is full"));
  sleeper.join();
  EXPECT_EQ(hung.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(hung.status().message(), HasSubstr("python worker 0 did not answer within 1500 ms; killed"));
  auto after = model->Infer({Rows({2, 2})}, {});
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(Doubles((*after)[0]), (std::vector<double>{4}));

  // The restarted worker is the only process running the script; none is
  // left, nor the script's folder, once the model is gone.
  EXPECT_FALSE(fs::is_empty(options.work_dir));
  EXPECT_EQ(ProcessesMentioning(options.work_dir), 1);
  model.reset();
  EXPECT_EQ(ProcessesMentioning(options.work_dir), 0);
  EXPECT_TRUE(fs::is_empty(options.work_dir));
}

TEST_F(PyfuncWorkersTest, AModelThatCannotLoadIsRefusedWithTheWorkersReason) {
  PythonRuntimeOptions options;
  options.python = Python();
  options.workers = 1;
  auto model = LoadPyfuncModel((*root_ / "broken").string(), "broken", options);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(model.status().message(), HasSubstr("mlflow.pyfunc.load_model failed"));
  EXPECT_THAT(model.status().message(), HasSubstr("python worker 0 for model 'broken'"));
}

}  // namespace
}  // namespace ferry::serving::python
