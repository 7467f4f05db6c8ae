// runtime_bench MODEL.onnx ROWS CALLS: loads the model with Ferry's native
// ONNX runtime, fills its (single, FP32 [-1, n]) input with ROWS rows of
// standard normal values, runs it CALLS times after one warm-up call and
// prints {"ns_per_row": ..., "ns_per_call": ...}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ferry/serving/runtimes/onnx/onnx_model.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "runtime_bench: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ferry::serving;
  if (argc != 4) return Fail("usage: runtime_bench MODEL.onnx ROWS CALLS");
  const long rows = std::atol(argv[2]), calls = std::atol(argv[3]);
  if (rows <= 0 || calls <= 0) return Fail("ROWS and CALLS must be positive");
  auto model = onnx::LoadOnnxModelFile(argv[1]);
  if (!model.ok()) return Fail(model.status().ToString());
  const auto& sig = (*model)->signature();
  if (sig.inputs.size() != 1 || sig.inputs[0].datatype != protocol::DataType::kFp32 ||
      sig.inputs[0].shape.size() != 2 || sig.inputs[0].shape[1] <= 0)
    return Fail("the model must have one FP32 [-1, n] input");
  const long features = sig.inputs[0].shape[1];

  std::mt19937 rng(static_cast<unsigned>(rows));
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(rows * features));
  for (auto& v : x) v = normal(rng);
  protocol::Tensor input{sig.inputs[0].name, protocol::DataType::kFp32, {rows, features}, {}};
  input.data.resize(x.size() * sizeof(float));
  std::memcpy(input.data.data(), x.data(), input.data.size());
  std::vector<protocol::Tensor> inputs{input};

  auto warm = (*model)->Infer(inputs, {});
  if (!warm.ok()) return Fail(warm.status().ToString());
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < calls; ++i) {
    auto out = (*model)->Infer(inputs, {});
    if (!out.ok()) return Fail(out.status().ToString());
  }
  double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"ns_per_row\": %.1f, \"ns_per_call\": %.1f}\n", ns / calls / rows, ns / calls);
  return 0;
}
