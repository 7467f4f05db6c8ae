#pragma once
// Tree ensembles of ai.onnx.ml (TreeEnsembleRegressor, TreeEnsembleClassifier)
// compiled at load into a flat, cache-friendly layout and evaluated in
// row blocks.
//
// Layout: all trees' nodes in one array of 16-byte nodes (24 with double
// thresholds), each tree laid out depth-first so the true child usually
// follows its parent; children are indices into that array; leaves keep
// their weights contiguously in two parallel arrays (target, value), and a
// single-target ensemble keeps the leaf's weight in the node itself. Every
// structural property evaluation relies on (children in range, no cycles,
// no shared subtrees, leaves with weights, target and class ids in range)
// is checked once in BuildEnsemble, so the evaluation loops carry no checks.
//
// Semantics follow onnxruntime's CPU kernels exactly (post_transform, base
// values, the binary classifier special cases, missing-value tracks), since
// the runtime is checked against onnxruntime.
//
// Thread-safety: an Ensemble is immutable after BuildEnsemble; kernels
// evaluate it concurrently.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/serving/runtimes/onnx/kernel.h"

namespace ferry::serving::onnx::ml {

enum class NodeMode : uint8_t { kLeq, kLt, kGte, kGt, kEq, kNeq, kLeaf };

// Node flags packed with the feature index: bits 0..23 feature, 24..26 mode,
// bit 28 missing-value-tracks-true.
inline constexpr uint32_t kFeatureMask = (1u << 24) - 1;
inline constexpr int kModeShift = 24;
inline constexpr uint32_t kMissingTrueBit = 1u << 28;

template <typename T>
struct FlatNode {
  T value;               // threshold; a single-target leaf's weight
  uint32_t info;         // feature | mode << 24 | missing-true bit
  uint32_t true_child;   // leaf: index of its first weight
  uint32_t false_child;  // leaf: number of weights
  NodeMode mode() const { return static_cast<NodeMode>((info >> kModeShift) & 7u); }
  bool is_leaf() const { return mode() == NodeMode::kLeaf; }
};

// The node arrays as the legacy attributes give them, one entry per node
// and one per leaf weight.
struct TreeArrays {
  std::vector<int64_t> tree_ids, node_ids, feature_ids, true_ids, false_ids, missing_true;
  std::vector<NodeMode> modes;
  std::vector<double> values;
  std::vector<int64_t> weight_tree_ids, weight_node_ids, weight_targets;
  std::vector<double> weights;
  int64_t n_targets = 0;
  // Names of the weight attributes for messages: "target" or "class".
  std::string weight_prefix = "target";
};

template <typename T>
struct Ensemble {
  std::vector<FlatNode<T>> nodes;
  std::vector<uint32_t> roots;
  std::vector<uint32_t> weight_targets;
  std::vector<T> weight_values;
  int64_t n_targets = 0;
  int64_t max_feature = -1;  // highest feature index a branch reads
  bool has_missing_tracks = false;
  bool same_mode = true;              // every branch has `mode`
  NodeMode mode = NodeMode::kLeq;
};

// Checks the arrays and lays them out; errors name the node (via `node`)
// and the offending tree/node ids.
template <typename T>
Result<Ensemble<T>> BuildEnsemble(const NodeInfo& node, const TreeArrays& arrays);

Result<std::unique_ptr<Kernel>> MakeTreeEnsembleRegressor(const NodeInfo& node);
Result<std::unique_ptr<Kernel>> MakeTreeEnsembleClassifier(const NodeInfo& node);

}  // namespace ferry::serving::onnx::ml
