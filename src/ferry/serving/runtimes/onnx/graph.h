#pragma once
// Graph: an ONNX graph checked and planned for execution (internal to the
// native runtime; onnx_model.cc puts the protocol mapping around it).
//
// Load does all the work that does not depend on a request: it checks the
// model (opsets, element types, names, cycles, refused features), creates
// one kernel per node, sorts the nodes topologically, folds initializers,
// Constant nodes and every node computable from them into immutable
// constants, numbers every other value with a slot index, and records the
// step after which each intermediate is no longer read so that Run frees it
// there. Run then walks the steps over a per-call vector of slots: no name
// lookups, no locks.
//
// Thread-safety: immutable after Load; Run is const and runs concurrently.

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/serving/runtimes/onnx/kernel.h"
#include "ferry/serving/runtimes/onnx/value.h"

namespace onnx {
class ModelProto;
}  // namespace onnx

namespace ferry::serving::onnx {

// A graph input's or output's declared type.
struct ValueDecl {
  std::string name;
  // kTensor: a tensor of `type`. kMapSequence: ZipMap's sequence of maps
  // (only as an output); `type` is float, its values.
  enum class Kind { kTensor, kMapSequence } kind = Kind::kTensor;
  ElemType type = ElemType::kFloat;
  // -1 for a symbolic or unknown dimension. For kMapSequence [rows, keys],
  // keys known when a ZipMap node produces the output.
  Shape shape;
};

// The ai.onnx opsets the dense kernels implement, and ai.onnx.ml's: the
// newest onnxruntime 1.31 loads. Opsets 23 to 26 changed the supported
// operators only by admitting more element types (float8, int4, ...), which
// the runtime refuses by type anyway.
inline constexpr int64_t kMaxOnnxOpset = 26;
inline constexpr int64_t kMaxOnnxMlOpset = 5;

class Graph {
 public:
  // Takes the parsed model (kept for the kernels' NodeInfo, its initializer
  // data dropped once converted). InvalidArgument or Unimplemented naming
  // what is refused.
  static Result<std::unique_ptr<Graph>> Load(std::unique_ptr<::onnx::ModelProto> model,
                                             const KernelRegistry& registry);
  ~Graph();

  // Inputs the caller feeds (graph inputs without an initializer), in graph
  // order, and the graph outputs.
  const std::vector<ValueDecl>& inputs() const { return inputs_; }
  const std::vector<ValueDecl>& outputs() const { return outputs_; }

  // `inputs` in inputs() order; returns every output in outputs() order.
  // Errors are the kernels' (InvalidArgument naming the node).
  Result<std::vector<Value>> Run(std::vector<Value> inputs) const;

  // Steps run per call after constant folding (for tests).
  int step_count() const { return static_cast<int>(steps_.size()); }

 private:
  // A value's location: a slot index (>= 0), a constant (-1 - index), or
  // kOmitted for an optional input left out.
  using Ref = int32_t;
  static constexpr Ref kOmitted = std::numeric_limits<int32_t>::min();

  struct Step {
    std::unique_ptr<Kernel> kernel;
    std::vector<Ref> inputs;
    int32_t first_output = 0;  // outputs take consecutive slots
    int32_t output_count = 0;
    std::vector<bool> named;       // outputs the graph names; the others may stay unassigned
    std::vector<int32_t> release;  // slots no longer read after this step
  };

  Graph() = default;

  std::unique_ptr<::onnx::ModelProto> model_;
  std::vector<ValueDecl> inputs_;
  std::vector<ValueDecl> outputs_;
  std::vector<Value> constants_;
  std::vector<Step> steps_;
  std::vector<Ref> output_refs_;
  std::vector<bool> output_moves_;  // false: the slot is read again by a later output, copy
  int32_t slot_count_ = 0;
  size_t max_step_inputs_ = 0;
};

}  // namespace ferry::serving::onnx
