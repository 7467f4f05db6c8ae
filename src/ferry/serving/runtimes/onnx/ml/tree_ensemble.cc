#include "ferry/serving/runtimes/onnx/ml/tree_ensemble.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>
#include <utility>

#include "ferry/common/strings.h"
#include "ferry/serving/runtimes/onnx/ml/ml_common.h"
#include "ferry/serving/runtimes/onnx/ml/ml_kernels_internal.h"

namespace ferry::serving::onnx::ml {

namespace {

// Rows evaluated together against one tree before moving to the next: big
// enough to amortise the walk over the tree's hot nodes, small enough that
// the block's rows and scores stay in L1/L2.
constexpr int64_t kRowBlock = 128;

struct IdHash {
  size_t operator()(const std::pair<int64_t, int64_t>& p) const {
    return std::hash<int64_t>()(p.first) * 1000003u ^ std::hash<int64_t>()(p.second);
  }
};

std::string Where(int64_t tree, int64_t node) {
  return "tree " + std::to_string(tree) + " node " + std::to_string(node);
}

Result<NodeMode> ParseMode(const NodeInfo& node, const std::string& s) {
  if (s == "BRANCH_LEQ") return NodeMode::kLeq;
  if (s == "BRANCH_LT") return NodeMode::kLt;
  if (s == "BRANCH_GTE") return NodeMode::kGte;
  if (s == "BRANCH_GT") return NodeMode::kGt;
  if (s == "BRANCH_EQ") return NodeMode::kEq;
  if (s == "BRANCH_NEQ") return NodeMode::kNeq;
  if (s == "LEAF") return NodeMode::kLeaf;
  return node.Error("nodes_modes has " + QuoteForMessage(s) +
                    ", not one of BRANCH_LEQ, BRANCH_LT, BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ, LEAF");
}

// ---------------------------------------------------------------------------
// Walking a tree: one templated loop per comparison so the common
// single-mode ensembles (scikit-learn: LEQ, XGBoost: LT) branch on data only.

template <typename X>
inline bool IsNan(X v) {
  if constexpr (std::is_floating_point_v<X>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

template <NodeMode M, typename X, typename T>
inline bool Compare(X v, T t) {
  if constexpr (M == NodeMode::kLeq) return v <= t;
  if constexpr (M == NodeMode::kLt) return v < t;
  if constexpr (M == NodeMode::kGte) return v >= t;
  if constexpr (M == NodeMode::kGt) return v > t;
  if constexpr (M == NodeMode::kEq) return v == t;
  if constexpr (M == NodeMode::kNeq) return v != t;
  return false;
}

template <typename X, typename T>
inline bool CompareAny(NodeMode m, X v, T t) {
  switch (m) {
    case NodeMode::kLeq:
      return v <= t;
    case NodeMode::kLt:
      return v < t;
    case NodeMode::kGte:
      return v >= t;
    case NodeMode::kGt:
      return v > t;
    case NodeMode::kEq:
      return v == t;
    case NodeMode::kNeq:
      return v != t;
    case NodeMode::kLeaf:
      return false;
  }
  return false;
}

// Leaf index for rows [0, n) of `x` (row stride `stride`) in the tree at
// `root`; M == kLeaf means "read each node's mode".
template <NodeMode M, bool kMissing, typename X, typename T>
void WalkTree(const FlatNode<T>* nodes, uint32_t root, const X* x, int64_t stride, int64_t n, uint32_t* out) {
  for (int64_t r = 0; r < n; ++r) {
    const X* row = x + r * stride;
    uint32_t i = root;
    while (true) {
      const FlatNode<T>& nd = nodes[i];
      bool go;
      if constexpr (M == NodeMode::kLeaf) {
        const NodeMode m = nd.mode();
        if (m == NodeMode::kLeaf) break;
        const X v = row[nd.info & kFeatureMask];
        go = CompareAny(m, v, nd.value);
        if constexpr (kMissing) go = go || ((nd.info & kMissingTrueBit) != 0 && IsNan(v));
      } else {
        if (nd.is_leaf()) break;
        const X v = row[nd.info & kFeatureMask];
        go = Compare<M>(v, nd.value);
        if constexpr (kMissing) go = go || ((nd.info & kMissingTrueBit) != 0 && IsNan(v));
      }
      i = go ? nd.true_child : nd.false_child;
    }
    out[r] = i;
  }
}

template <typename X, typename T>
using WalkFn = void (*)(const FlatNode<T>*, uint32_t, const X*, int64_t, int64_t, uint32_t*);

template <bool kMissing, typename X, typename T>
WalkFn<X, T> PickWalkWith(const Ensemble<T>& e) {
  if (!e.same_mode) return &WalkTree<NodeMode::kLeaf, kMissing, X, T>;
  switch (e.mode) {
    case NodeMode::kLeq:
      return &WalkTree<NodeMode::kLeq, kMissing, X, T>;
    case NodeMode::kLt:
      return &WalkTree<NodeMode::kLt, kMissing, X, T>;
    case NodeMode::kGte:
      return &WalkTree<NodeMode::kGte, kMissing, X, T>;
    case NodeMode::kGt:
      return &WalkTree<NodeMode::kGt, kMissing, X, T>;
    default:
      return &WalkTree<NodeMode::kLeaf, kMissing, X, T>;
  }
}

template <typename X, typename T>
WalkFn<X, T> PickWalk(const Ensemble<T>& e) {
  return e.has_missing_tracks ? PickWalkWith<true, X, T>(e) : PickWalkWith<false, X, T>(e);
}

// onnxruntime's ScoreValue: a score and whether any leaf (or base value)
// set it; an unset score reads as 0 when written out.
template <typename A>
struct Score {
  A score;
  uint8_t has;
  A get() const { return has ? score : A(0); }
};

enum class Aggregate { kSum, kAverage, kMin, kMax };

Result<Aggregate> ReadAggregate(const NodeInfo& node) {
  std::string s = "SUM";
  if (node.Has("aggregate_function")) {
    ASSIGN_OR_RETURN(s, node.String("aggregate_function"));
  }
  if (s == "SUM") return Aggregate::kSum;
  if (s == "AVERAGE") return Aggregate::kAverage;
  if (s == "MIN") return Aggregate::kMin;
  if (s == "MAX") return Aggregate::kMax;
  return node.Error("aggregate_function " + QuoteForMessage(s) + " is not one of SUM, AVERAGE, MIN, MAX");
}

template <typename A>
inline void Accumulate(Aggregate agg, Score<A>& s, A v) {
  switch (agg) {
    case Aggregate::kSum:
    case Aggregate::kAverage:
      s.score += v;
      s.has = 1;
      return;
    case Aggregate::kMin:
      s.score = (!s.has || v < s.score) ? v : s.score;
      s.has = 1;
      return;
    case Aggregate::kMax:
      s.score = (!s.has || v > s.score) ? v : s.score;
      s.has = 1;
      return;
  }
}

// A scratch array on the stack for the common small cases, so a one-row
// request allocates nothing but its outputs.
template <typename V, size_t kInline = 256>
class Scratch {
 public:
  explicit Scratch(size_t n) {
    if (n > kInline) heap_.resize(n);
    data_ = n > kInline ? heap_.data() : inline_.data();
  }
  V* data() { return data_; }
  V& operator[](size_t i) { return data_[i]; }

 private:
  std::array<V, kInline> inline_;
  std::vector<V> heap_;
  V* data_;
};

// Reads the legacy attribute set shared by the regressor and classifier.
Status ReadTreeArrays(const NodeInfo& node, std::string_view prefix, TreeArrays& a) {
  ASSIGN_OR_RETURN(a.tree_ids, node.Ints("nodes_treeids"));
  ASSIGN_OR_RETURN(a.node_ids, node.Ints("nodes_nodeids"));
  ASSIGN_OR_RETURN(a.feature_ids, node.Ints("nodes_featureids"));
  ASSIGN_OR_RETURN(a.true_ids, node.Ints("nodes_truenodeids"));
  ASSIGN_OR_RETURN(a.false_ids, node.Ints("nodes_falsenodeids"));
  ASSIGN_OR_RETURN(a.missing_true, node.Ints("nodes_missing_value_tracks_true"));
  ASSIGN_OR_RETURN(std::vector<std::string> modes, node.Strings("nodes_modes"));
  a.modes.reserve(modes.size());
  for (const std::string& m : modes) {
    ASSIGN_OR_RETURN(NodeMode mode, ParseMode(node, m));
    a.modes.push_back(mode);
  }
  ASSIGN_OR_RETURN(a.values, FloatsOrTensor(node, "nodes_values"));
  const std::string p(prefix);
  a.weight_prefix = p;
  ASSIGN_OR_RETURN(a.weight_tree_ids, node.Ints(p + "_treeids"));
  ASSIGN_OR_RETURN(a.weight_node_ids, node.Ints(p + "_nodeids"));
  ASSIGN_OR_RETURN(a.weight_targets, node.Ints(p + "_ids"));
  ASSIGN_OR_RETURN(a.weights, FloatsOrTensor(node, p + "_weights"));
  return Status::OK();
}

bool WantsDouble(const NodeInfo& node, std::string_view prefix) {
  return IsDoubleTensorAttr(node, "nodes_values") || IsDoubleTensorAttr(node, std::string(prefix) + "_weights") ||
         IsDoubleTensorAttr(node, "base_values");
}

// Shared by both kernels: the checked input and the choice of walk.
struct InputRows {
  const Tensor* x;
  Matrix m;
};

template <typename T>
Result<InputRows> CheckInput(const std::string& label, const Ensemble<T>& e, std::span<const Value* const> inputs) {
  ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label, inputs, 0));
  if (!IsNumeric(x->type())) {
    return RunError(label, "input X must be a float, double, int64 or int32 tensor, got " +
                               std::string(ElemTypeName(x->type())));
  }
  ASSIGN_OR_RETURN(Matrix m, AsMatrix(label, *x));
  if (e.max_feature >= m.cols) {
    return RunError(label, "the trees read feature " + std::to_string(e.max_feature) + " but the input has " +
                               std::to_string(m.cols) + " features");
  }
  return InputRows{x, m};
}

// ---------------------------------------------------------------------------
// TreeEnsembleRegressor

template <typename T>
class TreeRegressorKernel final : public Kernel {
 public:
  TreeRegressorKernel(std::string label, Ensemble<T> e, Aggregate agg, PostTransform transform,
                      std::vector<double> base_values)
      : label_(std::move(label)),
        e_(std::move(e)),
        agg_(agg),
        transform_(transform),
        base_values_(std::move(base_values)) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(InputRows in, CheckInput(label_, e_, inputs));
    Tensor y(ElemType::kFloat, {in.m.rows, e_.n_targets});
    Status st = VisitNumeric(label_, *in.x, [&](auto data) {
      using X = typename decltype(data)::value_type;
      using A = std::conditional_t<std::is_same_v<X, double>, double, T>;
      Evaluate<X, A>(data.data(), in.m, y.mutable_data<float>().data());
      return Status::OK();
    });
    RETURN_IF_ERROR(st);
    outputs[0] = std::move(y);
    return Status::OK();
  }

 private:
  template <typename X, typename A>
  void Evaluate(const X* x, Matrix m, float* out) const {
    const WalkFn<X, T> walk = PickWalk<X, T>(e_);
    const int64_t nt = e_.n_targets;
    const int64_t block = std::min(m.rows, kRowBlock);
    std::array<uint32_t, kRowBlock> leaves;
    Scratch<Score<A>> scores(static_cast<size_t>(block * nt));
    for (int64_t b = 0; b < m.rows; b += kRowBlock) {
      const int64_t n = std::min(kRowBlock, m.rows - b);
      for (int64_t i = 0; i < n * nt; ++i) scores[static_cast<size_t>(i)] = {A(0), 0};
      const X* xb = x + b * m.cols;
      for (uint32_t root : e_.roots) {
        walk(e_.nodes.data(), root, xb, m.cols, n, leaves.data());
        if (nt == 1) {
          for (int64_t r = 0; r < n; ++r) {
            Accumulate<A>(agg_, scores[static_cast<size_t>(r)], static_cast<A>(e_.nodes[leaves[r]].value));
          }
        } else {
          for (int64_t r = 0; r < n; ++r) {
            const FlatNode<T>& leaf = e_.nodes[leaves[r]];
            Score<A>* row = &scores[static_cast<size_t>(r * nt)];
            for (uint32_t w = leaf.true_child, end = leaf.true_child + leaf.false_child; w < end; ++w) {
              Accumulate<A>(agg_, row[e_.weight_targets[w]], static_cast<A>(e_.weight_values[w]));
            }
          }
        }
      }
      for (int64_t r = 0; r < n; ++r) {
        Finalize<A>(&scores[static_cast<size_t>(r * nt)], out + (b + r) * nt);
      }
    }
  }

  // onnxruntime's TreeAggregator{Sum,Average,Min,Max}::FinalizeScores{1,}.
  template <typename A>
  void Finalize(Score<A>* s, float* out) const {
    const int64_t nt = e_.n_targets;
    const A n_trees = static_cast<A>(e_.roots.size());
    if (nt == 1) {
      const A origin = base_values_.size() == 1 ? static_cast<A>(base_values_[0]) : A(0);
      A v;
      switch (agg_) {
        case Aggregate::kSum:
          v = s[0].score + origin;
          break;
        case Aggregate::kAverage:
          v = s[0].score / n_trees + origin;
          break;
        default:
          v = s[0].has ? s[0].score + origin : origin;
          break;
      }
      out[0] = transform_ == PostTransform::kProbit ? ComputeProbit(static_cast<float>(v)) : static_cast<float>(v);
      return;
    }
    const bool use_base = base_values_.size() == static_cast<size_t>(nt);
    for (int64_t j = 0; j < nt; ++j) {
      const A base = use_base ? static_cast<A>(base_values_[static_cast<size_t>(j)]) : A(0);
      switch (agg_) {
        case Aggregate::kSum:
          s[j].score += base;
          break;
        case Aggregate::kAverage:
          s[j].score = s[j].score / n_trees + base;
          break;
        default:
          s[j].score = base + (s[j].has ? s[j].score : A(0));
          break;
      }
      out[j] = static_cast<float>(s[j].get());
    }
    ApplyTransform(transform_, std::span<float>(out, static_cast<size_t>(nt)));
  }

  std::string label_;
  Ensemble<T> e_;
  Aggregate agg_;
  PostTransform transform_;
  std::vector<double> base_values_;
};

// ---------------------------------------------------------------------------
// TreeEnsembleClassifier

template <typename T>
class TreeClassifierKernel final : public Kernel {
 public:
  TreeClassifierKernel(std::string label, Ensemble<T> e, PostTransform transform, std::vector<double> base_values,
                       std::vector<int64_t> int_labels, std::vector<std::string> string_labels, bool binary_case,
                       bool weights_all_positive)
      : label_(std::move(label)),
        e_(std::move(e)),
        transform_(transform),
        base_values_(std::move(base_values)),
        int_labels_(std::move(int_labels)),
        string_labels_(std::move(string_labels)),
        binary_case_(binary_case),
        weights_all_positive_(weights_all_positive) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(InputRows in, CheckInput(label_, e_, inputs));
    const int64_t nc = e_.n_targets;
    Tensor z(ElemType::kFloat, {in.m.rows, nc});
    Scratch<int64_t> label_index(static_cast<size_t>(in.m.rows));
    Status st = VisitNumeric(label_, *in.x, [&](auto data) {
      using X = typename decltype(data)::value_type;
      using A = std::conditional_t<std::is_same_v<X, double>, double, T>;
      Evaluate<X, A>(data.data(), in.m, z.mutable_data<float>().data(), label_index.data());
      return Status::OK();
    });
    RETURN_IF_ERROR(st);
    if (string_labels_.empty()) {
      Tensor y(ElemType::kInt64, {in.m.rows});
      auto yd = y.mutable_data<int64_t>();
      for (int64_t r = 0; r < in.m.rows; ++r) yd[static_cast<size_t>(r)] = label_index[static_cast<size_t>(r)];
      outputs[0] = std::move(y);
    } else {
      Tensor y(ElemType::kString, {in.m.rows});
      auto yd = y.mutable_data<std::string>();
      for (int64_t r = 0; r < in.m.rows; ++r) {
        yd[static_cast<size_t>(r)] = string_labels_[static_cast<size_t>(label_index[static_cast<size_t>(r)])];
      }
      outputs[0] = std::move(y);
    }
    if (outputs.size() > 1) outputs[1] = std::move(z);
    return Status::OK();
  }

 private:
  template <typename X, typename A>
  void Evaluate(const X* x, Matrix m, float* z, int64_t* labels) const {
    const WalkFn<X, T> walk = PickWalk<X, T>(e_);
    const int64_t nc = e_.n_targets;
    std::array<uint32_t, kRowBlock> leaves;
    Scratch<Score<A>> scores(static_cast<size_t>(std::min(m.rows, kRowBlock) * nc));
    for (int64_t b = 0; b < m.rows; b += kRowBlock) {
      const int64_t n = std::min(kRowBlock, m.rows - b);
      for (int64_t i = 0; i < n * nc; ++i) scores[static_cast<size_t>(i)] = {A(0), 0};
      const X* xb = x + b * m.cols;
      for (uint32_t root : e_.roots) {
        walk(e_.nodes.data(), root, xb, m.cols, n, leaves.data());
        for (int64_t r = 0; r < n; ++r) {
          const FlatNode<T>& leaf = e_.nodes[leaves[r]];
          Score<A>* row = &scores[static_cast<size_t>(r * nc)];
          for (uint32_t w = leaf.true_child, end = leaf.true_child + leaf.false_child; w < end; ++w) {
            Score<A>& s = row[e_.weight_targets[w]];
            s.score += static_cast<A>(e_.weight_values[w]);
            s.has = 1;
          }
        }
      }
      for (int64_t r = 0; r < n; ++r) {
        labels[b + r] = Finalize<A>(&scores[static_cast<size_t>(r * nc)], z + (b + r) * nc);
      }
    }
  }

  // The label (a class label, or an index into the string labels) for a
  // row, as onnxruntime's _set_score_binary decides the binary case.
  template <typename A>
  int64_t BinaryLabel(int& write_additional, A score0, uint8_t has0, A score1, uint8_t has1) const {
    const A pos_weight = has1 ? score1 : (has0 ? score0 : A(0));
    if (binary_case_) {
      if (weights_all_positive_) {
        if (pos_weight > A(0.5)) {
          write_additional = 0;
          return ClassLabel(1);
        }
        write_additional = 1;
        return ClassLabel(0);
      }
      if (pos_weight > 0) {
        write_additional = 2;
        return ClassLabel(1);
      }
      write_additional = 3;
      return ClassLabel(0);
    }
    return pos_weight > 0 ? 1 : 0;
  }

  int64_t ClassLabel(size_t i) const {
    return string_labels_.empty() ? int_labels_[i] : static_cast<int64_t>(i);
  }

  // onnxruntime's TreeAggregatorClassifier::FinalizeScores followed by
  // write_scores.
  template <typename A>
  int64_t Finalize(Score<A>* p, float* z) const {
    const int64_t nc = e_.n_targets;
    int write_additional = -1;
    int64_t label;
    size_t size = static_cast<size_t>(nc);
    if (nc > 2) {
      for (size_t k = 0; k < base_values_.size() && k < size; ++k) {
        if (!p[k].has) {
          p[k] = {static_cast<A>(base_values_[k]), 1};
        } else {
          p[k].score += static_cast<A>(base_values_[k]);
        }
      }
      int64_t maxclass = -1;
      A maxweight = 0;
      for (int64_t k = 0; k < nc; ++k) {
        if (p[k].has && (maxclass == -1 || p[k].score > maxweight)) {
          maxclass = k;
          maxweight = p[k].score;
        }
      }
      label = ClassLabel(static_cast<size_t>(std::max<int64_t>(maxclass, 0)));
    } else {
      if (base_values_.size() == 2) {
        if (p[1].has) {
          // onnxruntime uses base_values[1] only and assumes both are equal.
          p[1].score = static_cast<A>(base_values_[1]) + p[0].score;
          p[0].score = -p[1].score;
          p[1].has = 1;
        } else {
          p[1].score += static_cast<A>(base_values_[1]);
          p[0].score += static_cast<A>(base_values_[0]);
        }
      } else if (base_values_.size() == 1) {
        p[0].score += static_cast<A>(base_values_[0]);
        if (!p[1].has) size = 1;
      } else if (base_values_.empty()) {
        write_additional = 3;
        if (!p[1].has) size = 1;
      }
      if (size == 2 && p[1].has) {
        label = BinaryLabel<A>(write_additional, p[0].score, p[0].has, p[1].score, p[1].has);
      } else {
        label = BinaryLabel<A>(write_additional, p[0].score, p[0].has, A(0), 0);
      }
    }
    if (size >= 2) {
      for (size_t k = 0; k < size; ++k) z[k] = static_cast<float>(p[k].get());
      ApplyTransform(transform_, std::span<float>(z, size));
      return label;
    }
    const float v = static_cast<float>(p[0].get());
    if (transform_ == PostTransform::kProbit) {
      z[0] = ComputeProbit(v);
      return label;
    }
    switch (write_additional) {
      case 0:
      case 1:
        z[0] = 1 - v;
        z[1] = v;
        break;
      case 2:
      case 3:
        if (transform_ == PostTransform::kLogistic) {
          z[0] = ComputeLogistic(-v);
          z[1] = ComputeLogistic(v);
        } else {
          z[0] = -v;
          z[1] = v;
        }
        break;
      default:
        z[0] = v;
        break;
    }
    return label;
  }

  std::string label_;
  Ensemble<T> e_;
  PostTransform transform_;
  std::vector<double> base_values_;
  std::vector<int64_t> int_labels_;
  std::vector<std::string> string_labels_;
  bool binary_case_;
  bool weights_all_positive_;
};

template <typename T>
Result<std::unique_ptr<Kernel>> MakeRegressor(const NodeInfo& node, const TreeArrays& arrays, Aggregate agg,
                                              PostTransform transform, std::vector<double> base_values) {
  ASSIGN_OR_RETURN(Ensemble<T> e, BuildEnsemble<T>(node, arrays));
  return std::unique_ptr<Kernel>(
      new TreeRegressorKernel<T>(NodeLabel(node), std::move(e), agg, transform, std::move(base_values)));
}

template <typename T>
Result<std::unique_ptr<Kernel>> MakeClassifier(const NodeInfo& node, const TreeArrays& arrays,
                                               PostTransform transform, std::vector<double> base_values,
                                               std::vector<int64_t> int_labels,
                                               std::vector<std::string> string_labels) {
  ASSIGN_OR_RETURN(Ensemble<T> e, BuildEnsemble<T>(node, arrays));
  const std::set<int64_t> classes(arrays.weight_targets.begin(), arrays.weight_targets.end());
  const bool all_positive =
      std::all_of(arrays.weights.begin(), arrays.weights.end(), [](double w) { return !(w < 0); });
  const bool binary_case = arrays.n_targets == 2 && classes.size() == 1;
  return std::unique_ptr<Kernel>(new TreeClassifierKernel<T>(NodeLabel(node), std::move(e), transform,
                                                             std::move(base_values), std::move(int_labels),
                                                             std::move(string_labels), binary_case, all_positive));
}

}  // namespace

// ---------------------------------------------------------------------------
// BuildEnsemble

template <typename T>
Result<Ensemble<T>> BuildEnsemble(const NodeInfo& node, const TreeArrays& a) {
  const size_t n = a.tree_ids.size();
  auto same = [&](size_t m, std::string_view what) -> Status {
    if (m == n) return Status::OK();
    return node.Error("attribute '" + std::string(what) + "' has " + std::to_string(m) + " entries, nodes_treeids has " +
                      std::to_string(n));
  };
  RETURN_IF_ERROR(same(a.node_ids.size(), "nodes_nodeids"));
  RETURN_IF_ERROR(same(a.feature_ids.size(), "nodes_featureids"));
  RETURN_IF_ERROR(same(a.true_ids.size(), "nodes_truenodeids"));
  RETURN_IF_ERROR(same(a.false_ids.size(), "nodes_falsenodeids"));
  RETURN_IF_ERROR(same(a.modes.size(), "nodes_modes"));
  RETURN_IF_ERROR(same(a.values.size(), "nodes_values"));
  if (!a.missing_true.empty()) RETURN_IF_ERROR(same(a.missing_true.size(), "nodes_missing_value_tracks_true"));
  const std::string& wp = a.weight_prefix;
  const size_t nw = a.weight_tree_ids.size();
  if (a.weight_node_ids.size() != nw || a.weight_targets.size() != nw || a.weights.size() != nw) {
    return node.Error(wp + "_treeids, " + wp + "_nodeids, " + wp + "_ids and " + wp + "_weights have " +
                      std::to_string(nw) + ", " + std::to_string(a.weight_node_ids.size()) + ", " +
                      std::to_string(a.weight_targets.size()) + " and " + std::to_string(a.weights.size()) +
                      " entries; they must be equal");
  }
  if (n == 0) return node.Error("the ensemble has no nodes");
  if (a.n_targets <= 0) return node.Error("the ensemble must have at least one target or class");
  if (n >= std::numeric_limits<uint32_t>::max() / 2 || nw >= std::numeric_limits<uint32_t>::max() / 2) {
    return node.Error("the ensemble has too many nodes");
  }

  // (tree id, node id) -> attribute index; trees in order of first appearance,
  // rooted at their first listed node as onnxruntime does.
  std::unordered_map<std::pair<int64_t, int64_t>, uint32_t, IdHash> index;
  index.reserve(n);
  std::vector<uint32_t> roots_attr;
  std::unordered_map<int64_t, bool> seen_tree;
  for (size_t i = 0; i < n; ++i) {
    if (!index.emplace(std::make_pair(a.tree_ids[i], a.node_ids[i]), static_cast<uint32_t>(i)).second) {
      return node.Error(Where(a.tree_ids[i], a.node_ids[i]) + " is listed twice");
    }
    if (seen_tree.emplace(a.tree_ids[i], true).second) roots_attr.push_back(static_cast<uint32_t>(i));
  }

  // Leaf weights per attribute node, in onnxruntime's order (by tree, node,
  // then attribute position).
  std::vector<std::vector<uint32_t>> weights_of(n);
  std::vector<uint32_t> order(nw);
  for (uint32_t w = 0; w < nw; ++w) order[w] = w;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
    return std::make_pair(a.weight_tree_ids[x], a.weight_node_ids[x]) <
           std::make_pair(a.weight_tree_ids[y], a.weight_node_ids[y]);
  });
  for (uint32_t w : order) {
    auto it = index.find({a.weight_tree_ids[w], a.weight_node_ids[w]});
    if (it == index.end()) {
      return node.Error(wp + " weight " + std::to_string(w) + " refers to " +
                        Where(a.weight_tree_ids[w], a.weight_node_ids[w]) + ", which does not exist");
    }
    if (a.weight_targets[w] < 0 || a.weight_targets[w] >= a.n_targets) {
      return node.Error(wp + "_ids[" + std::to_string(w) + "] is " + std::to_string(a.weight_targets[w]) +
                        ", outside [0, " + std::to_string(a.n_targets) + ")");
    }
    if (!std::isfinite(a.weights[w])) {
      return node.Error(wp + "_weights[" + std::to_string(w) + "] is not finite");
    }
    // Weights on branch nodes are ignored, as onnxruntime does for models
    // from old converters.
    if (a.modes[it->second] == NodeMode::kLeaf) weights_of[it->second].push_back(w);
  }

  Ensemble<T> e;
  e.n_targets = a.n_targets;
  e.nodes.reserve(n);
  bool first_branch = true;
  // Depth-first from each root; a node reached twice is a cycle or a shared
  // subtree, both refused, so every walk ends at a leaf.
  std::vector<uint32_t> new_index(n, std::numeric_limits<uint32_t>::max());
  std::vector<std::pair<uint32_t, uint32_t>> fixups;  // (flat index, attribute index) of branches
  std::vector<uint32_t> stack;
  for (uint32_t root : roots_attr) {
    e.roots.push_back(static_cast<uint32_t>(e.nodes.size()));
    stack.push_back(root);
    while (!stack.empty()) {
      const uint32_t i = stack.back();
      stack.pop_back();
      if (new_index[i] != std::numeric_limits<uint32_t>::max()) {
        return node.Error(Where(a.tree_ids[i], a.node_ids[i]) +
                          " is reached twice: the tree has a cycle or a shared subtree");
      }
      new_index[i] = static_cast<uint32_t>(e.nodes.size());
      FlatNode<T> fn{};
      const NodeMode mode = a.modes[i];
      const bool missing_true = !a.missing_true.empty() && a.missing_true[i] == 1;
      fn.info = static_cast<uint32_t>(mode) << kModeShift;
      if (mode == NodeMode::kLeaf) {
        const auto& ws = weights_of[i];
        if (ws.empty()) {
          return node.Error("leaf " + Where(a.tree_ids[i], a.node_ids[i]) + " has no " + wp + " weight");
        }
        fn.true_child = static_cast<uint32_t>(e.weight_values.size());
        fn.false_child = static_cast<uint32_t>(ws.size());
        fn.value = static_cast<T>(a.weights[ws[0]]);
        for (uint32_t w : ws) {
          e.weight_targets.push_back(static_cast<uint32_t>(a.weight_targets[w]));
          e.weight_values.push_back(static_cast<T>(a.weights[w]));
        }
        e.nodes.push_back(fn);
        continue;
      }
      const int64_t feature = a.feature_ids[i];
      if (feature < 0 || feature > static_cast<int64_t>(kFeatureMask)) {
        return node.Error(Where(a.tree_ids[i], a.node_ids[i]) + " reads feature " + std::to_string(feature) +
                          ", outside [0, " + std::to_string(kFeatureMask) + "]");
      }
      e.max_feature = std::max(e.max_feature, feature);
      fn.info |= static_cast<uint32_t>(feature);
      if (missing_true) {
        fn.info |= kMissingTrueBit;
        e.has_missing_tracks = true;
      }
      fn.value = static_cast<T>(a.values[i]);
      if (first_branch) {
        e.mode = mode;
        first_branch = false;
      } else if (mode != e.mode) {
        e.same_mode = false;
      }
      uint32_t children[2];
      const int64_t child_ids[2] = {a.true_ids[i], a.false_ids[i]};
      for (int c = 0; c < 2; ++c) {
        auto it = index.find({a.tree_ids[i], child_ids[c]});
        if (it == index.end()) {
          return node.Error(Where(a.tree_ids[i], a.node_ids[i]) + ": its " + (c == 0 ? "true" : "false") +
                            " child " + std::to_string(child_ids[c]) + " does not exist in the tree");
        }
        children[c] = it->second;
      }
      e.nodes.push_back(fn);
      fixups.emplace_back(new_index[i], i);
      // False child pushed first so the true child is laid out right after
      // its parent.
      stack.push_back(children[1]);
      stack.push_back(children[0]);
    }
  }
  for (auto [flat, attr] : fixups) {
    const uint32_t t = index.at({a.tree_ids[attr], a.true_ids[attr]});
    const uint32_t f = index.at({a.tree_ids[attr], a.false_ids[attr]});
    e.nodes[flat].true_child = new_index[t];
    e.nodes[flat].false_child = new_index[f];
  }
  return e;
}

template Result<Ensemble<float>> BuildEnsemble<float>(const NodeInfo&, const TreeArrays&);
template Result<Ensemble<double>> BuildEnsemble<double>(const NodeInfo&, const TreeArrays&);

// ---------------------------------------------------------------------------
// Factories

Result<std::unique_ptr<Kernel>> MakeTreeEnsembleRegressor(const NodeInfo& node) {
  TreeArrays arrays;
  RETURN_IF_ERROR(ReadTreeArrays(node, "target", arrays));
  ASSIGN_OR_RETURN(arrays.n_targets, node.Int("n_targets"));
  ASSIGN_OR_RETURN(Aggregate agg, ReadAggregate(node));
  ASSIGN_OR_RETURN(PostTransform transform, ReadPostTransform(node));
  ASSIGN_OR_RETURN(std::vector<double> base_values, FloatsOrTensor(node, "base_values"));
  if (!base_values.empty() && base_values.size() != 1 &&
      base_values.size() != static_cast<size_t>(arrays.n_targets)) {
    return node.Error("base_values has " + std::to_string(base_values.size()) + " entries for " +
                      std::to_string(arrays.n_targets) + " targets");
  }
  if (WantsDouble(node, "target")) {
    return MakeRegressor<double>(node, arrays, agg, transform, std::move(base_values));
  }
  return MakeRegressor<float>(node, arrays, agg, transform, std::move(base_values));
}

Result<std::unique_ptr<Kernel>> MakeTreeEnsembleClassifier(const NodeInfo& node) {
  TreeArrays arrays;
  RETURN_IF_ERROR(ReadTreeArrays(node, "class", arrays));
  ASSIGN_OR_RETURN(std::vector<int64_t> int_labels, node.Ints("classlabels_int64s"));
  ASSIGN_OR_RETURN(std::vector<std::string> string_labels, node.Strings("classlabels_strings"));
  if (int_labels.empty() == string_labels.empty()) {
    return node.Error("exactly one of classlabels_int64s and classlabels_strings must be given");
  }
  arrays.n_targets = static_cast<int64_t>(int_labels.empty() ? string_labels.size() : int_labels.size());
  if (arrays.n_targets < 2) return node.Error("a classifier needs at least two class labels");
  if (node.output_count() < 1) return node.Error("the classifier needs a label output");
  ASSIGN_OR_RETURN(PostTransform transform, ReadPostTransform(node));
  ASSIGN_OR_RETURN(std::vector<double> base_values, FloatsOrTensor(node, "base_values"));
  if (base_values.size() > static_cast<size_t>(arrays.n_targets)) {
    return node.Error("base_values has " + std::to_string(base_values.size()) + " entries for " +
                      std::to_string(arrays.n_targets) + " classes");
  }
  if (WantsDouble(node, "class")) {
    return MakeClassifier<double>(node, arrays, transform, std::move(base_values), std::move(int_labels),
                                  std::move(string_labels));
  }
  return MakeClassifier<float>(node, arrays, transform, std::move(base_values), std::move(int_labels),
                               std::move(string_labels));
}

Status RegisterTreeKernels(KernelRegistry& registry) {
  RETURN_IF_ERROR(registry.Register(kMlDomain, "TreeEnsembleRegressor", MakeTreeEnsembleRegressor));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "TreeEnsembleClassifier", MakeTreeEnsembleClassifier));
  return Status::OK();
}

}  // namespace ferry::serving::onnx::ml
