// The feature-transform operators of ai.onnx.ml: Scaler, Normalizer,
// Imputer, Binarizer, OneHotEncoder, LabelEncoder, ArrayFeatureExtractor,
// FeatureVectorizer and ZipMap, with onnxruntime's semantics.
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ferry/common/strings.h"
#include "ferry/serving/runtimes/onnx/ml/ml_common.h"
#include "ferry/serving/runtimes/onnx/ml/ml_kernels_internal.h"

namespace ferry::serving::onnx::ml {

namespace {

// Per-column parameter lists of size 1 (broadcast) or one per column.
Status CheckPerColumn(const std::string& label, std::string_view what, size_t size, int64_t cols) {
  if (size == 1 || static_cast<int64_t>(size) == cols) return Status::OK();
  return RunError(label, std::string(what) + " has " + std::to_string(size) + " values; the input has " +
                             std::to_string(cols) + " columns (need 1 or " + std::to_string(cols) + ")");
}

// ---------------------------------------------------------------------------

class ScalerKernel final : public Kernel {
 public:
  ScalerKernel(std::string label, std::vector<float> offset, std::vector<float> scale)
      : label_(std::move(label)), offset_(std::move(offset)), scale_(std::move(scale)) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    if (x->rank() == 0) return RunError(label_, "input must have at least one dimension");
    const int64_t cols = x->rank() == 1 ? x->dim(0) : x->dim(1);
    if (x->rank() > 2) return RunError(label_, "input must have rank 1 or 2");
    RETURN_IF_ERROR(CheckPerColumn(label_, "offset", offset_.size(), cols));
    RETURN_IF_ERROR(CheckPerColumn(label_, "scale", scale_.size(), cols));
    ASSIGN_OR_RETURN(std::vector<float> y, ToFloats(label_, *x));
    for (size_t i = 0; i < y.size(); ++i) {
      const size_t c = cols > 0 ? i % static_cast<size_t>(cols) : 0;
      const float off = offset_.size() == 1 ? offset_[0] : offset_[c];
      const float sc = scale_.size() == 1 ? scale_[0] : scale_[c];
      y[i] = (y[i] - off) * sc;
    }
    outputs[0] = Tensor::From<float>(x->shape(), std::move(y));
    return Status::OK();
  }

 private:
  std::string label_;
  std::vector<float> offset_, scale_;
};

Result<std::unique_ptr<Kernel>> MakeScaler(const NodeInfo& node) {
  ASSIGN_OR_RETURN(std::vector<float> offset, node.Floats("offset"));
  ASSIGN_OR_RETURN(std::vector<float> scale, node.Floats("scale"));
  if (offset.empty() || scale.empty()) return node.Error("offset and scale are required");
  return std::unique_ptr<Kernel>(new ScalerKernel(NodeLabel(node), std::move(offset), std::move(scale)));
}

// ---------------------------------------------------------------------------

enum class Norm { kMax, kL1, kL2 };

class NormalizerKernel final : public Kernel {
 public:
  NormalizerKernel(std::string label, Norm norm) : label_(std::move(label)), norm_(norm) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    ASSIGN_OR_RETURN(Matrix m, AsMatrix(label_, *x));
    std::vector<float> y(static_cast<size_t>(x->size()));
    RETURN_IF_ERROR(VisitNumeric(label_, *x, [&](auto in) {
      for (int64_t r = 0; r < m.rows; ++r) Normalize(in.data() + r * m.cols, y.data() + r * m.cols, m.cols);
      return Status::OK();
    }));
    outputs[0] = Tensor::From<float>(x->shape(), std::move(y));
    return Status::OK();
  }

 private:
  // onnxruntime's NormalizeMax / NormalizeL1 / NormalizeL2.
  template <typename T>
  void Normalize(const T* in, float* out, int64_t n) const {
    switch (norm_) {
      case Norm::kMax: {
        float max = std::numeric_limits<float>::lowest();
        for (int64_t i = 0; i < n; ++i) max = std::max(max, static_cast<float>(in[i]));
        for (int64_t i = 0; i < n; ++i) out[i] = max != 0.f ? static_cast<float>(in[i]) / max : static_cast<float>(in[i]);
        return;
      }
      case Norm::kL1: {
        float sum = 0.f;
        for (int64_t i = 0; i < n; ++i) sum += static_cast<float>(std::abs(in[i]));
        for (int64_t i = 0; i < n; ++i) out[i] = sum != 0.f ? static_cast<float>(in[i]) / sum : static_cast<float>(in[i]);
        return;
      }
      case Norm::kL2: {
        float sum = 0.f;
        for (int64_t i = 0; i < n; ++i) {
          const float sq = static_cast<float>(in[i] * in[i]);
          out[i] = sq;
          sum += sq;
        }
        for (int64_t i = 0; i < n; ++i) {
          if (sum == 0.f) {
            out[i] = static_cast<float>(in[i]);
          } else {
            const float v = std::sqrt(out[i] / sum);
            out[i] = in[i] < 0 ? -v : v;
          }
        }
        return;
      }
    }
  }

  std::string label_;
  Norm norm_;
};

Result<std::unique_ptr<Kernel>> MakeNormalizer(const NodeInfo& node) {
  const std::string norm = node.StringOr("norm", "MAX");
  Norm n;
  if (norm == "MAX") {
    n = Norm::kMax;
  } else if (norm == "L1") {
    n = Norm::kL1;
  } else if (norm == "L2") {
    n = Norm::kL2;
  } else {
    return node.Error("norm " + QuoteForMessage(norm) + " is not one of MAX, L1, L2");
  }
  return std::unique_ptr<Kernel>(new NormalizerKernel(NodeLabel(node), n));
}

// ---------------------------------------------------------------------------

class ImputerKernel final : public Kernel {
 public:
  ImputerKernel(std::string label, std::vector<float> floats, float replaced_float, std::vector<int64_t> ints,
                int64_t replaced_int)
      : label_(std::move(label)),
        floats_(std::move(floats)),
        replaced_float_(replaced_float),
        ints_(std::move(ints)),
        replaced_int_(replaced_int) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    if (x->rank() == 0 || x->rank() > 2) return RunError(label_, "input must have rank 1 or 2");
    const int64_t cols = x->rank() == 1 ? x->dim(0) : x->dim(1);
    Tensor y = *x;
    if (x->type() == ElemType::kFloat) {
      if (floats_.empty()) return RunError(label_, "float input but no imputed_value_floats");
      RETURN_IF_ERROR(CheckPerColumn(label_, "imputed_value_floats", floats_.size(), cols));
      auto d = y.mutable_data<float>();
      const bool nan = std::isnan(replaced_float_);
      for (size_t i = 0; i < d.size(); ++i) {
        if (nan ? std::isnan(d[i]) : d[i] == replaced_float_) {
          d[i] = floats_.size() == 1 ? floats_[0] : floats_[i % static_cast<size_t>(cols)];
        }
      }
    } else if (x->type() == ElemType::kInt64) {
      if (ints_.empty()) return RunError(label_, "int64 input but no imputed_value_int64s");
      RETURN_IF_ERROR(CheckPerColumn(label_, "imputed_value_int64s", ints_.size(), cols));
      auto d = y.mutable_data<int64_t>();
      for (size_t i = 0; i < d.size(); ++i) {
        if (d[i] == replaced_int_) d[i] = ints_.size() == 1 ? ints_[0] : ints_[i % static_cast<size_t>(cols)];
      }
    } else {
      return RunError(label_, "input must be a float or int64 tensor, got " + std::string(ElemTypeName(x->type())));
    }
    outputs[0] = std::move(y);
    return Status::OK();
  }

 private:
  std::string label_;
  std::vector<float> floats_;
  float replaced_float_;
  std::vector<int64_t> ints_;
  int64_t replaced_int_;
};

Result<std::unique_ptr<Kernel>> MakeImputer(const NodeInfo& node) {
  ASSIGN_OR_RETURN(std::vector<float> floats, node.Floats("imputed_value_floats"));
  ASSIGN_OR_RETURN(std::vector<int64_t> ints, node.Ints("imputed_value_int64s"));
  if (floats.empty() == ints.empty()) {
    return node.Error("exactly one of imputed_value_floats and imputed_value_int64s must be given");
  }
  return std::unique_ptr<Kernel>(new ImputerKernel(NodeLabel(node), std::move(floats),
                                                   node.FloatOr("replaced_value_float", 0.f), std::move(ints),
                                                   node.IntOr("replaced_value_int64", 0)));
}

// ---------------------------------------------------------------------------

class BinarizerKernel final : public Kernel {
 public:
  BinarizerKernel(std::string label, float threshold) : label_(std::move(label)), threshold_(threshold) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    Tensor y = *x;
    if (y.type() == ElemType::kFloat) {
      for (float& v : y.mutable_data<float>()) v = std::isnan(v) ? v : (v > threshold_ ? 1.f : 0.f);
    } else if (y.type() == ElemType::kDouble) {
      for (double& v : y.mutable_data<double>()) v = std::isnan(v) ? v : (v > threshold_ ? 1.0 : 0.0);
    } else {
      return RunError(label_, "input must be a float or double tensor, got " + std::string(ElemTypeName(y.type())));
    }
    outputs[0] = std::move(y);
    return Status::OK();
  }

 private:
  std::string label_;
  float threshold_;
};

Result<std::unique_ptr<Kernel>> MakeBinarizer(const NodeInfo& node) {
  return std::unique_ptr<Kernel>(new BinarizerKernel(NodeLabel(node), node.FloatOr("threshold", 0.f)));
}

// ---------------------------------------------------------------------------

class OneHotEncoderKernel final : public Kernel {
 public:
  OneHotEncoderKernel(std::string label, std::unordered_map<int64_t, int64_t> ints,
                      std::unordered_map<std::string, int64_t> strings, int64_t n, bool zeros)
      : label_(std::move(label)), ints_(std::move(ints)), strings_(std::move(strings)), n_(n), zeros_(zeros) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    Shape shape = x->shape();
    shape.push_back(n_);
    Tensor y(ElemType::kFloat, shape);
    auto out = y.mutable_data<float>();
    auto set = [&](size_t i, std::optional<int64_t> idx, auto&& describe) -> Status {
      if (idx) {
        out[i * static_cast<size_t>(n_) + static_cast<size_t>(*idx)] = 1.f;
      } else if (!zeros_) {
        return RunError(label_, "unknown category " + describe() + " (zeros is 0)");
      }
      return Status::OK();
    };
    if (x->type() == ElemType::kString) {
      if (strings_.empty()) return RunError(label_, "string input but the encoder has int64 categories");
      auto d = x->data<std::string>();
      for (size_t i = 0; i < d.size(); ++i) {
        auto it = strings_.find(d[i]);
        RETURN_IF_ERROR(set(i, it == strings_.end() ? std::nullopt : std::optional<int64_t>(it->second),
                            [&] { return QuoteForMessage(d[i]); }));
      }
    } else {
      if (ints_.empty()) return RunError(label_, "numeric input but the encoder has string categories");
      RETURN_IF_ERROR(VisitNumeric(label_, *x, [&](auto d) -> Status {
        for (size_t i = 0; i < d.size(); ++i) {
          auto it = ints_.find(static_cast<int64_t>(d[i]));
          RETURN_IF_ERROR(set(i, it == ints_.end() ? std::nullopt : std::optional<int64_t>(it->second),
                              [&] { return std::to_string(static_cast<int64_t>(d[i])); }));
        }
        return Status::OK();
      }));
    }
    outputs[0] = std::move(y);
    return Status::OK();
  }

 private:
  std::string label_;
  std::unordered_map<int64_t, int64_t> ints_;
  std::unordered_map<std::string, int64_t> strings_;
  int64_t n_;
  bool zeros_;
};

Result<std::unique_ptr<Kernel>> MakeOneHotEncoder(const NodeInfo& node) {
  ASSIGN_OR_RETURN(std::vector<int64_t> ints, node.Ints("cats_int64s"));
  ASSIGN_OR_RETURN(std::vector<std::string> strings, node.Strings("cats_strings"));
  if (ints.empty() == strings.empty()) return node.Error("exactly one of cats_int64s and cats_strings must be given");
  std::unordered_map<int64_t, int64_t> int_map;
  std::unordered_map<std::string, int64_t> string_map;
  for (size_t i = 0; i < ints.size(); ++i) int_map.emplace(ints[i], static_cast<int64_t>(i));
  for (size_t i = 0; i < strings.size(); ++i) string_map.emplace(strings[i], static_cast<int64_t>(i));
  const int64_t n = static_cast<int64_t>(ints.empty() ? strings.size() : ints.size());
  return std::unique_ptr<Kernel>(new OneHotEncoderKernel(NodeLabel(node), std::move(int_map), std::move(string_map), n,
                                                         node.IntOr("zeros", 1) != 0));
}

// ---------------------------------------------------------------------------
// LabelEncoder: opset 1 (classes_strings, either direction), opsets 2-3
// (keys_*/values_* lists), opset 4 (keys_tensor/values_tensor/default_tensor).

// Float and double keys are matched by value, NaN matching NaN (onnxruntime
// opset 4).
struct FloatKey {
  double v;
  bool operator==(const FloatKey& o) const { return (std::isnan(v) && std::isnan(o.v)) || v == o.v; }
};
struct FloatKeyHash {
  size_t operator()(const FloatKey& k) const {
    if (std::isnan(k.v)) return 0x7ff8;
    const double v = k.v == 0 ? 0.0 : k.v;  // -0 == 0
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    return std::hash<uint64_t>()(bits);
  }
};

class LabelEncoderKernel final : public Kernel {
 public:
  struct Table {
    ElemType key_type = ElemType::kString;
    std::unordered_map<std::string, size_t> string_keys;
    std::unordered_map<int64_t, size_t> int_keys;
    std::unordered_map<FloatKey, size_t, FloatKeyHash> float_keys;
    Tensor values;       // 1-D, the output type
    Tensor default_value;  // one element of the output type
  };

  LabelEncoderKernel(std::string label, std::vector<Table> tables) : label_(std::move(label)), tables_(std::move(tables)) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    const Table* table = nullptr;
    for (const Table& t : tables_) {
      if (t.key_type == x->type()) table = &t;
    }
    if (table == nullptr) {
      std::string want;
      for (const Table& t : tables_) want += (want.empty() ? "" : " or ") + std::string(ElemTypeName(t.key_type));
      return RunError(label_, "input must be a " + want + " tensor, got " + std::string(ElemTypeName(x->type())));
    }
    Tensor y(table->values.type(), x->shape());
    const size_t n = static_cast<size_t>(x->size());
    auto lookup = [&](size_t i) -> std::optional<size_t> {
      switch (x->type()) {
        case ElemType::kString: {
          auto it = table->string_keys.find(x->data<std::string>()[i]);
          return it == table->string_keys.end() ? std::nullopt : std::optional<size_t>(it->second);
        }
        case ElemType::kInt64: {
          auto it = table->int_keys.find(x->data<int64_t>()[i]);
          return it == table->int_keys.end() ? std::nullopt : std::optional<size_t>(it->second);
        }
        case ElemType::kFloat: {
          auto it = table->float_keys.find(FloatKey{x->data<float>()[i]});
          return it == table->float_keys.end() ? std::nullopt : std::optional<size_t>(it->second);
        }
        case ElemType::kDouble: {
          auto it = table->float_keys.find(FloatKey{x->data<double>()[i]});
          return it == table->float_keys.end() ? std::nullopt : std::optional<size_t>(it->second);
        }
        default:
          return std::nullopt;
      }
    };
    auto fill = [&](auto tag) {
      using V = decltype(tag);
      auto out = y.mutable_data<V>();
      auto values = table->values.data<V>();
      const V& def = table->default_value.data<V>()[0];
      for (size_t i = 0; i < n; ++i) {
        auto idx = lookup(i);
        out[i] = idx ? values[*idx] : def;
      }
    };
    switch (y.type()) {
      case ElemType::kString:
        fill(std::string());
        break;
      case ElemType::kInt64:
        fill(int64_t());
        break;
      case ElemType::kFloat:
        fill(float());
        break;
      case ElemType::kDouble:
        fill(double());
        break;
      default:
        return RunError(label_, "unsupported value type");
    }
    outputs[0] = std::move(y);
    return Status::OK();
  }

 private:
  std::string label_;
  std::vector<Table> tables_;
};

using LeTable = LabelEncoderKernel::Table;

Status AddKeys(const NodeInfo& node, LeTable& t, const Tensor& keys) {
  t.key_type = keys.type();
  const size_t n = static_cast<size_t>(keys.size());
  for (size_t i = 0; i < n; ++i) {
    bool fresh = true;
    switch (keys.type()) {
      case ElemType::kString:
        fresh = t.string_keys.emplace(keys.data<std::string>()[i], i).second;
        break;
      case ElemType::kInt64:
        fresh = t.int_keys.emplace(keys.data<int64_t>()[i], i).second;
        break;
      case ElemType::kFloat:
        fresh = t.float_keys.emplace(FloatKey{keys.data<float>()[i]}, i).second;
        break;
      case ElemType::kDouble:
        fresh = t.float_keys.emplace(FloatKey{keys.data<double>()[i]}, i).second;
        break;
      default:
        return node.Error("keys must be strings, int64, float or double, got " + std::string(ElemTypeName(keys.type())));
    }
    if (!fresh) return node.Error("key " + std::to_string(i) + " is repeated");
  }
  return Status::OK();
}

Status CheckValueType(const NodeInfo& node, ElemType t) {
  if (t == ElemType::kString || t == ElemType::kInt64 || t == ElemType::kFloat || t == ElemType::kDouble) {
    return Status::OK();
  }
  return node.Error("values must be strings, int64, float or double, got " + std::string(ElemTypeName(t)));
}

Result<std::unique_ptr<Kernel>> MakeLabelEncoder(const NodeInfo& node) {
  std::vector<LeTable> tables;
  const std::string default_string = node.StringOr("default_string", "_Unused");
  const int64_t default_int = node.IntOr("default_int64", -1);
  if (node.opset() <= 1) {
    ASSIGN_OR_RETURN(std::vector<std::string> classes, node.Strings("classes_strings"));
    std::vector<int64_t> idx(classes.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
    LeTable forward;  // string -> index
    RETURN_IF_ERROR(AddKeys(node, forward, Tensor::From<std::string>({static_cast<int64_t>(classes.size())}, classes)));
    forward.values = Tensor::From<int64_t>({static_cast<int64_t>(idx.size())}, idx);
    forward.default_value = Tensor::From<int64_t>({1}, {default_int});
    LeTable backward;  // index -> string
    RETURN_IF_ERROR(AddKeys(node, backward, Tensor::From<int64_t>({static_cast<int64_t>(idx.size())}, idx)));
    backward.values = Tensor::From<std::string>({static_cast<int64_t>(classes.size())}, classes);
    backward.default_value = Tensor::From<std::string>({1}, {default_string});
    tables.push_back(std::move(forward));
    tables.push_back(std::move(backward));
    return std::unique_ptr<Kernel>(new LabelEncoderKernel(NodeLabel(node), std::move(tables)));
  }
  LeTable t;
  std::optional<Tensor> keys, values;
  if (node.Has("keys_tensor")) {
    ASSIGN_OR_RETURN(Tensor k, node.TensorAttr("keys_tensor"));
    keys = std::move(k);
  }
  if (node.Has("values_tensor")) {
    ASSIGN_OR_RETURN(Tensor v, node.TensorAttr("values_tensor"));
    values = std::move(v);
  }
  int given = keys ? 1 : 0;
  if (node.Has("keys_strings")) {
    ASSIGN_OR_RETURN(std::vector<std::string> k, node.Strings("keys_strings"));
    const int64_t n = static_cast<int64_t>(k.size());
    keys = Tensor::From<std::string>({n}, std::move(k));
    ++given;
  }
  if (node.Has("keys_int64s")) {
    ASSIGN_OR_RETURN(std::vector<int64_t> k, node.Ints("keys_int64s"));
    const int64_t n = static_cast<int64_t>(k.size());
    keys = Tensor::From<int64_t>({n}, std::move(k));
    ++given;
  }
  if (node.Has("keys_floats")) {
    ASSIGN_OR_RETURN(std::vector<float> k, node.Floats("keys_floats"));
    const int64_t n = static_cast<int64_t>(k.size());
    keys = Tensor::From<float>({n}, std::move(k));
    ++given;
  }
  if (given != 1) return node.Error("exactly one of keys_strings, keys_int64s, keys_floats, keys_tensor is required");
  given = values ? 1 : 0;
  if (node.Has("values_strings")) {
    ASSIGN_OR_RETURN(std::vector<std::string> v, node.Strings("values_strings"));
    const int64_t n = static_cast<int64_t>(v.size());
    values = Tensor::From<std::string>({n}, std::move(v));
    ++given;
  }
  if (node.Has("values_int64s")) {
    ASSIGN_OR_RETURN(std::vector<int64_t> v, node.Ints("values_int64s"));
    const int64_t n = static_cast<int64_t>(v.size());
    values = Tensor::From<int64_t>({n}, std::move(v));
    ++given;
  }
  if (node.Has("values_floats")) {
    ASSIGN_OR_RETURN(std::vector<float> v, node.Floats("values_floats"));
    const int64_t n = static_cast<int64_t>(v.size());
    values = Tensor::From<float>({n}, std::move(v));
    ++given;
  }
  if (given != 1) {
    return node.Error("exactly one of values_strings, values_int64s, values_floats, values_tensor is required");
  }
  if (keys->size() != values->size()) {
    return node.Error("keys has " + std::to_string(keys->size()) + " entries, values " +
                      std::to_string(values->size()));
  }
  RETURN_IF_ERROR(AddKeys(node, t, *keys));
  RETURN_IF_ERROR(CheckValueType(node, values->type()));
  t.values = values->Reshaped({values->size()});
  if (node.Has("default_tensor")) {
    ASSIGN_OR_RETURN(Tensor d, node.TensorAttr("default_tensor"));
    if (d.type() != values->type() || d.size() != 1) {
      return node.Error("default_tensor must hold one " + std::string(ElemTypeName(values->type())) + " value");
    }
    t.default_value = d.Reshaped({1});
  } else {
    switch (values->type()) {
      case ElemType::kString:
        t.default_value = Tensor::From<std::string>({1}, {default_string});
        break;
      case ElemType::kInt64:
        t.default_value = Tensor::From<int64_t>({1}, {default_int});
        break;
      case ElemType::kFloat:
        t.default_value = Tensor::From<float>({1}, {node.FloatOr("default_float", -0.0f)});
        break;
      default:
        t.default_value = Tensor::From<double>({1}, {-0.0});
        break;
    }
  }
  tables.push_back(std::move(t));
  return std::unique_ptr<Kernel>(new LabelEncoderKernel(NodeLabel(node), std::move(tables)));
}

// ---------------------------------------------------------------------------

class ArrayFeatureExtractorKernel final : public Kernel {
 public:
  explicit ArrayFeatureExtractorKernel(std::string label) : label_(std::move(label)) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    ASSIGN_OR_RETURN(const Tensor* idx, TensorInput(label_, inputs, 1));
    if (idx->type() != ElemType::kInt64) return RunError(label_, "indices must be an int64 tensor");
    if (x->rank() == 0) return RunError(label_, "input must have at least one dimension");
    const int64_t last = x->dim(x->rank() - 1);
    auto ind = idx->data<int64_t>();
    if (ind.empty()) return RunError(label_, "indices must not be empty");
    for (int64_t i : ind) {
      if (i < 0 || i >= last) {
        return RunError(label_, "index " + std::to_string(i) + " is outside [0, " + std::to_string(last) + ")");
      }
    }
    Shape shape = x->shape();
    if (x->rank() == 1) {
      shape = {1, static_cast<int64_t>(ind.size())};
    } else {
      shape.back() = static_cast<int64_t>(ind.size());
    }
    const int64_t rows = last == 0 ? 0 : x->size() / last;
    Tensor y(x->type(), shape);
    auto gather = [&](auto tag) {
      using V = decltype(tag);
      auto in = x->data<V>();
      auto out = y.mutable_data<V>();
      size_t o = 0;
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i : ind) out[o++] = in[static_cast<size_t>(r * last + i)];
      }
    };
    switch (x->type()) {
      case ElemType::kFloat:
        gather(float());
        break;
      case ElemType::kDouble:
        gather(double());
        break;
      case ElemType::kInt64:
        gather(int64_t());
        break;
      case ElemType::kInt32:
        gather(int32_t());
        break;
      case ElemType::kString:
        gather(std::string());
        break;
      case ElemType::kBool:
        gather(uint8_t());
        break;
    }
    outputs[0] = std::move(y);
    return Status::OK();
  }

 private:
  std::string label_;
};

// ---------------------------------------------------------------------------

class FeatureVectorizerKernel final : public Kernel {
 public:
  FeatureVectorizerKernel(std::string label, std::vector<int64_t> dims) : label_(std::move(label)), dims_(std::move(dims)) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    if (inputs.size() != dims_.size()) {
      return RunError(label_, std::to_string(inputs.size()) + " inputs for " + std::to_string(dims_.size()) +
                                  " inputdimensions");
    }
    int64_t total = 0;
    for (int64_t d : dims_) total += d;
    int64_t rows = -1;
    std::vector<const Tensor*> xs;
    for (size_t k = 0; k < inputs.size(); ++k) {
      ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, k));
      if (x->rank() == 0) return RunError(label_, "input " + std::to_string(k) + " must have at least one dimension");
      const int64_t n = x->rank() == 1 ? 1 : x->dim(0);
      if (rows >= 0 && n != rows) {
        return RunError(label_, "input " + std::to_string(k) + " has " + std::to_string(n) + " rows, input 0 has " +
                                    std::to_string(rows));
      }
      rows = n;
      xs.push_back(x);
    }
    Tensor y(ElemType::kFloat, {rows, total});
    auto out = y.mutable_data<float>();
    int64_t offset = 0;
    for (size_t k = 0; k < xs.size(); ++k) {
      const Tensor* x = xs[k];
      const int64_t cols = rows == 0 ? 0 : x->size() / rows;
      const int64_t take = std::min(cols, dims_[k]);
      RETURN_IF_ERROR(VisitNumeric(label_, *x, [&](auto in) {
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t c = 0; c < take; ++c) {
            out[static_cast<size_t>(r * total + offset + c)] = static_cast<float>(in[static_cast<size_t>(r * cols + c)]);
          }
        }
        return Status::OK();
      }));
      offset += dims_[k];
    }
    outputs[0] = std::move(y);
    return Status::OK();
  }

 private:
  std::string label_;
  std::vector<int64_t> dims_;
};

Result<std::unique_ptr<Kernel>> MakeFeatureVectorizer(const NodeInfo& node) {
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, node.Ints("inputdimensions"));
  if (dims.empty()) return node.Error("inputdimensions is required");
  for (int64_t d : dims) {
    if (d < 0) return node.Error("inputdimensions has a negative entry");
  }
  if (static_cast<size_t>(node.input_count()) != dims.size()) {
    return node.Error(std::to_string(node.input_count()) + " inputs for " + std::to_string(dims.size()) +
                      " inputdimensions");
  }
  return std::unique_ptr<Kernel>(new FeatureVectorizerKernel(NodeLabel(node), std::move(dims)));
}

// ---------------------------------------------------------------------------

class ZipMapKernel final : public Kernel {
 public:
  ZipMapKernel(std::string label, std::vector<int64_t> ints, std::vector<std::string> strings)
      : label_(std::move(label)), ints_(std::move(ints)), strings_(std::move(strings)) {}

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, TensorInput(label_, inputs, 0));
    if (x->type() != ElemType::kFloat) {
      return RunError(label_, "input must be a float tensor, got " + std::string(ElemTypeName(x->type())));
    }
    ASSIGN_OR_RETURN(Matrix m, AsMatrix(label_, *x));
    const int64_t keys = static_cast<int64_t>(ints_.empty() ? strings_.size() : ints_.size());
    if (m.cols != keys) {
      return RunError(label_, "input has " + std::to_string(m.cols) + " columns for " + std::to_string(keys) +
                                  " class labels");
    }
    MapSequence seq;
    seq.int64_keys = ints_;
    seq.string_keys = strings_;
    seq.rows = m.rows;
    auto d = x->data<float>();
    seq.values.assign(d.begin(), d.end());
    outputs[0] = std::move(seq);
    return Status::OK();
  }

 private:
  std::string label_;
  std::vector<int64_t> ints_;
  std::vector<std::string> strings_;
};

Result<std::unique_ptr<Kernel>> MakeZipMap(const NodeInfo& node) {
  ASSIGN_OR_RETURN(std::vector<int64_t> ints, node.Ints("classlabels_int64s"));
  ASSIGN_OR_RETURN(std::vector<std::string> strings, node.Strings("classlabels_strings"));
  if (ints.empty() == strings.empty()) {
    return node.Error("exactly one of classlabels_int64s and classlabels_strings must be given");
  }
  return std::unique_ptr<Kernel>(new ZipMapKernel(NodeLabel(node), std::move(ints), std::move(strings)));
}

template <typename K>
Result<std::unique_ptr<Kernel>> MakeSimple(const NodeInfo& node) {
  return std::unique_ptr<Kernel>(new K(NodeLabel(node)));
}

}  // namespace

Status RegisterTransformKernels(KernelRegistry& registry) {
  RETURN_IF_ERROR(registry.Register(kMlDomain, "Scaler", MakeScaler));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "Normalizer", MakeNormalizer));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "Imputer", MakeImputer));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "Binarizer", MakeBinarizer));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "OneHotEncoder", MakeOneHotEncoder));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "LabelEncoder", MakeLabelEncoder));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "ArrayFeatureExtractor", MakeSimple<ArrayFeatureExtractorKernel>));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "FeatureVectorizer", MakeFeatureVectorizer));
  RETURN_IF_ERROR(registry.Register(kMlDomain, "ZipMap", MakeZipMap));
  return Status::OK();
}

}  // namespace ferry::serving::onnx::ml
