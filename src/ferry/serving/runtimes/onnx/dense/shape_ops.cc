// ai.onnx kernels that move elements without computing on them: Identity,
// Constant, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Shape, Size,
// Gather, Slice, Expand, Tile, Concat, Split, ConstantOfShape and Range.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ferry/serving/runtimes/onnx/dense/dense_internal.h"

namespace ferry::serving::onnx::dense {

namespace {

// out (of out_shape) = in read at base + sum(index[d] * in_strides[d]).
template <typename T>
void StridedCopy(const T* in, int64_t base, const Shape& out_shape, const Shape& in_strides, T* out) {
  int64_t total = 1;
  for (int64_t d : out_shape) total *= d;
  if (total == 0) return;
  const int rank = static_cast<int>(out_shape.size());
  if (rank == 0) {
    out[0] = in[base];
    return;
  }
  const int64_t inner = out_shape.back();
  const int64_t inner_stride = in_strides.back();
  Shape idx(static_cast<size_t>(rank), 0);
  int64_t off = base;
  for (int64_t o = 0; o < total; o += inner) {
    for (int64_t j = 0; j < inner; ++j) out[o + j] = in[off + j * inner_stride];
    for (int d = rank - 2; d >= 0; --d) {
      const auto du = static_cast<size_t>(d);
      if (++idx[du] < out_shape[du]) {
        off += in_strides[du];
        break;
      }
      off -= in_strides[du] * (out_shape[du] - 1);
      idx[du] = 0;
    }
  }
}

Shape ContiguousStrides(const Shape& shape) {
  Shape strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

// Axes from the attribute (before `input_opset`) or the optional input
// `index` (from it on).
Result<std::vector<int64_t>> AxesOf(const DenseKernel& k, const std::vector<int64_t>& attr_axes,
                                    bool from_input, std::span<const Value* const> inputs, size_t index,
                                    bool* given) {
  if (!from_input) {
    *given = !attr_axes.empty();
    return attr_axes;
  }
  ASSIGN_OR_RETURN(const Tensor* t, k.OptionalIn(inputs, index));
  *given = t != nullptr;
  if (t == nullptr) return std::vector<int64_t>{};
  return k.ReadInts(*t, "axes");
}

// Normalized, sorted, distinct axes of a tensor of rank `rank`.
Result<std::vector<int>> NormalizeAxes(const DenseKernel& k, const std::vector<int64_t>& axes, int rank) {
  std::vector<int> out;
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int axis, k.Axis(a, rank));
    if (std::find(out.begin(), out.end(), axis) != out.end()) {
      return k.Error("axis " + std::to_string(a) + " is repeated");
    }
    out.push_back(axis);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// --- Identity, Constant ---------------------------------------------------------

class IdentityKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, 1));
    return std::unique_ptr<Kernel>(new IdentityKernel(node));
  }
  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    if (inputs.empty() || inputs[0] == nullptr) return Error("input 0 is required");
    outputs[0] = *inputs[0];
    return Status::OK();
  }

 private:
  using DenseKernel::DenseKernel;
};

class ConstantKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 0, 0));
    auto k = std::unique_ptr<ConstantKernel>(new ConstantKernel(node));
    if (node.Has("value")) {
      ASSIGN_OR_RETURN(k->value_, node.TensorAttr("value"));
    } else if (node.Has("value_float")) {
      ASSIGN_OR_RETURN(float v, node.Float("value_float"));
      k->value_ = Tensor::From<float>({}, {v});
    } else if (node.Has("value_floats")) {
      ASSIGN_OR_RETURN(std::vector<float> v, node.Floats("value_floats"));
      const auto n = static_cast<int64_t>(v.size());
      k->value_ = Tensor::From<float>({n}, std::move(v));
    } else if (node.Has("value_int")) {
      ASSIGN_OR_RETURN(int64_t v, node.Int("value_int"));
      k->value_ = Tensor::From<int64_t>({}, {v});
    } else if (node.Has("value_ints")) {
      ASSIGN_OR_RETURN(std::vector<int64_t> v, node.Ints("value_ints"));
      const auto n = static_cast<int64_t>(v.size());
      k->value_ = Tensor::From<int64_t>({n}, std::move(v));
    } else if (node.Has("value_string")) {
      ASSIGN_OR_RETURN(std::string v, node.String("value_string"));
      k->value_ = Tensor::From<std::string>({}, {std::move(v)});
    } else if (node.Has("value_strings")) {
      ASSIGN_OR_RETURN(std::vector<std::string> v, node.Strings("value_strings"));
      const auto n = static_cast<int64_t>(v.size());
      k->value_ = Tensor::From<std::string>({n}, std::move(v));
    } else if (node.Has("sparse_value")) {
      return node.Error("sparse_value is not supported");
    } else {
      return node.Error("has no value attribute");
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }
  Status Run(std::span<const Value* const>, std::span<Value> outputs) const override {
    outputs[0] = value_;
    return Status::OK();
  }

 private:
  using DenseKernel::DenseKernel;
  Tensor value_;
};

// --- Reshape, Flatten, Squeeze, Unsqueeze -----------------------------------------

class ReshapeKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    auto k = std::unique_ptr<ReshapeKernel>(new ReshapeKernel(node));
    if (node.opset() < 5) {
      RETURN_IF_ERROR(CheckArity(node, 1, 1));
      ASSIGN_OR_RETURN(k->attr_shape_, node.Ints("shape"));
      k->attr_form_ = true;
    } else {
      RETURN_IF_ERROR(CheckArity(node, 2, 2));
    }
    if (node.opset() >= 14 && node.Has("allowzero")) {
      ASSIGN_OR_RETURN(k->allow_zero_, node.Int("allowzero"));
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    std::vector<int64_t> spec = attr_shape_;
    if (!attr_form_) {
      ASSIGN_OR_RETURN(const Tensor* s, In(inputs, 1));
      if (s->rank() != 1) return Error("shape must be 1-D, got " + ShapeString(s->shape()));
      ASSIGN_OR_RETURN(spec, ReadInts(*s, "shape"));
    }
    Shape out(spec.size());
    int infer = -1;
    int64_t known = 1;
    for (size_t i = 0; i < spec.size(); ++i) {
      int64_t d = spec[i];
      if (d == 0 && allow_zero_ == 0) {
        if (i >= x->shape().size()) {
          return Error("shape " + ShapeString(spec) + " copies dimension " + std::to_string(i) + " of " +
                       ShapeString(x->shape()) + ", which has none");
        }
        d = x->shape()[i];
      }
      if (d == -1) {
        if (infer >= 0) return Error("shape " + ShapeString(spec) + " has more than one -1");
        infer = static_cast<int>(i);
        continue;
      }
      if (d < 0) return Error("shape " + ShapeString(spec) + " has a negative dimension");
      if (d != 0 && known > kMaxElements / d) return Error("shape " + ShapeString(spec) + " is too large");
      known *= d;
      out[i] = d;
    }
    const int64_t total = x->size();
    if (infer >= 0) {
      if (known == 0 || total % known != 0) {
        return Error("cannot reshape " + ShapeString(x->shape()) + " to " + ShapeString(spec));
      }
      out[static_cast<size_t>(infer)] = total / known;
    } else if (known != total) {
      return Error("cannot reshape " + ShapeString(x->shape()) + " (" + std::to_string(total) +
                   " elements) to " + ShapeString(spec));
    }
    outputs[0] = x->Reshaped(std::move(out));
    return Status::OK();
  }

 private:
  using DenseKernel::DenseKernel;
  std::vector<int64_t> attr_shape_;
  bool attr_form_ = false;
  int64_t allow_zero_ = 0;
};

class FlattenKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, 1));
    auto k = std::unique_ptr<FlattenKernel>(new FlattenKernel(node));
    ASSIGN_OR_RETURN(k->axis_, node.Has("axis") ? node.Int("axis") : Result<int64_t>(1));
    if (node.opset() < 11 && k->axis_ < 0) return node.Error("axis must be >= 0 before opset 11");
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    const int rank = x->rank();
    if (axis_ < -rank || axis_ > rank) {
      return Error("axis " + std::to_string(axis_) + " is out of range for rank " + std::to_string(rank));
    }
    const auto axis = static_cast<size_t>(axis_ < 0 ? axis_ + rank : axis_);
    int64_t outer = 1;
    for (size_t i = 0; i < axis; ++i) outer *= x->shape()[i];
    int64_t inner = 1;
    for (size_t i = axis; i < x->shape().size(); ++i) inner *= x->shape()[i];
    outputs[0] = x->Reshaped({outer, inner});
    return Status::OK();
  }

 private:
  using DenseKernel::DenseKernel;
  int64_t axis_ = 1;
};

class SqueezeKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    auto k = std::unique_ptr<SqueezeKernel>(new SqueezeKernel(node));
    k->axes_input_ = node.opset() >= 13;
    RETURN_IF_ERROR(CheckArity(node, 1, k->axes_input_ ? 2 : 1));
    if (!k->axes_input_) {
      ASSIGN_OR_RETURN(k->attr_axes_, node.Ints("axes"));
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    bool given = false;
    ASSIGN_OR_RETURN(std::vector<int64_t> raw, AxesOf(*this, attr_axes_, axes_input_, inputs, 1, &given));
    ASSIGN_OR_RETURN(std::vector<int> axes, NormalizeAxes(*this, raw, x->rank()));
    Shape out;
    for (int i = 0; i < x->rank(); ++i) {
      const int64_t d = x->dim(i);
      const bool listed = std::find(axes.begin(), axes.end(), i) != axes.end();
      if (listed && d != 1) {
        return Error("cannot squeeze axis " + std::to_string(i) + " of " + ShapeString(x->shape()) +
                     ": its size is not 1");
      }
      if (listed || (!given && d == 1)) continue;
      out.push_back(d);
    }
    outputs[0] = x->Reshaped(std::move(out));
    return Status::OK();
  }

 private:
  using DenseKernel::DenseKernel;
  std::vector<int64_t> attr_axes_;
  bool axes_input_ = false;
};

class UnsqueezeKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    auto k = std::unique_ptr<UnsqueezeKernel>(new UnsqueezeKernel(node));
    k->axes_input_ = node.opset() >= 13;
    RETURN_IF_ERROR(CheckArity(node, k->axes_input_ ? 2 : 1, k->axes_input_ ? 2 : 1));
    if (!k->axes_input_) {
      ASSIGN_OR_RETURN(k->attr_axes_, node.Ints("axes"));
      if (k->attr_axes_.empty()) return node.Error("attribute 'axes' is required");
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    bool given = false;
    ASSIGN_OR_RETURN(std::vector<int64_t> raw, AxesOf(*this, attr_axes_, axes_input_, inputs, 1, &given));
    if (raw.empty()) return Error("axes must not be empty");
    const int out_rank = x->rank() + static_cast<int>(raw.size());
    ASSIGN_OR_RETURN(std::vector<int> axes, NormalizeAxes(*this, raw, out_rank));
    Shape out;
    size_t next = 0;
    for (int i = 0; i < out_rank; ++i) {
      if (std::find(axes.begin(), axes.end(), i) != axes.end()) {
        out.push_back(1);
      } else {
        out.push_back(x->shape()[next++]);
      }
    }
    outputs[0] = x->Reshaped(std::move(out));
    return Status::OK();
  }

 private:
  using DenseKernel::DenseKernel;
  std::vector<int64_t> attr_axes_;
  bool axes_input_ = false;
};

// --- Transpose -------------------------------------------------------------------

class TransposeKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, 1));
    auto k = std::unique_ptr<TransposeKernel>(new TransposeKernel(node));
    ASSIGN_OR_RETURN(k->perm_, node.Ints("perm"));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    const int rank = x->rank();
    std::vector<int64_t> perm = perm_;
    if (perm.empty()) {
      for (int i = rank - 1; i >= 0; --i) perm.push_back(i);
    }
    if (static_cast<int>(perm.size()) != rank) {
      return Error("perm " + ShapeString(perm) + " does not fit rank " + std::to_string(rank));
    }
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (int64_t p : perm) {
      if (p < 0 || p >= rank || seen[static_cast<size_t>(p)]) {
        return Error("perm " + ShapeString(perm) + " is not a permutation of the axes");
      }
      seen[static_cast<size_t>(p)] = true;
    }
    const Shape in_strides = ContiguousStrides(x->shape());
    Shape out_shape(static_cast<size_t>(rank));
    Shape strides(static_cast<size_t>(rank));
    for (size_t i = 0; i < perm.size(); ++i) {
      out_shape[i] = x->shape()[static_cast<size_t>(perm[i])];
      strides[i] = in_strides[static_cast<size_t>(perm[i])];
    }
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      Tensor o(x->type(), out_shape);
      StridedCopy<T>(x->data<T>().data(), 0, out_shape, strides, o.mutable_data<T>().data());
      outputs[0] = std::move(o);
      return Status::OK();
    });
  }

 private:
  using DenseKernel::DenseKernel;
  std::vector<int64_t> perm_;
};

// --- Shape, Size -------------------------------------------------------------------

class ShapeKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, 1));
    auto k = std::unique_ptr<ShapeKernel>(new ShapeKernel(node));
    if (node.opset() >= 15) {
      if (node.Has("start")) {
        ASSIGN_OR_RETURN(k->start_, node.Int("start"));
      }
      if (node.Has("end")) {
        ASSIGN_OR_RETURN(int64_t end, node.Int("end"));
        k->end_ = end;
      }
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    const int64_t rank = x->rank();
    auto clamp = [rank](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
    const int64_t start = clamp(start_);
    const int64_t end = end_.has_value() ? clamp(*end_) : rank;
    std::vector<int64_t> dims;
    for (int64_t i = start; i < end; ++i) dims.push_back(x->shape()[static_cast<size_t>(i)]);
    const auto n = static_cast<int64_t>(dims.size());
    outputs[0] = Tensor::From<int64_t>({n}, std::move(dims));
    return Status::OK();
  }

 private:
  using DenseKernel::DenseKernel;
  int64_t start_ = 0;
  std::optional<int64_t> end_;
};

class SizeKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, 1));
    return std::unique_ptr<Kernel>(new SizeKernel(node));
  }
  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    outputs[0] = Tensor::From<int64_t>({}, {x->size()});
    return Status::OK();
  }

 private:
  using DenseKernel::DenseKernel;
};

// --- Gather -------------------------------------------------------------------------

class GatherKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 2, 2));
    auto k = std::unique_ptr<GatherKernel>(new GatherKernel(node));
    ASSIGN_OR_RETURN(k->axis_, node.Has("axis") ? node.Int("axis") : Result<int64_t>(0));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    ASSIGN_OR_RETURN(const Tensor* ind, In(inputs, 1));
    if (x->rank() == 0) return Error("data must have rank 1 or more");
    ASSIGN_OR_RETURN(int axis, Axis(axis_, x->rank()));
    ASSIGN_OR_RETURN(std::vector<int64_t> idx, ReadInts(*ind, "indices"));
    const int64_t dim = x->dim(axis);
    for (int64_t& i : idx) {
      if (i < -dim || i >= dim) {
        return Error("index " + std::to_string(i) + " is out of range for axis " + std::to_string(axis) +
                     " of size " + std::to_string(dim));
      }
      if (i < 0) i += dim;
    }
    Shape out_shape(x->shape().begin(), x->shape().begin() + axis);
    out_shape.insert(out_shape.end(), ind->shape().begin(), ind->shape().end());
    out_shape.insert(out_shape.end(), x->shape().begin() + axis + 1, x->shape().end());
    int64_t outer = 1;
    for (int i = 0; i < axis; ++i) outer *= x->dim(i);
    int64_t inner = 1;
    for (int i = axis + 1; i < x->rank(); ++i) inner *= x->dim(i);
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      ASSIGN_OR_RETURN(Tensor o, NewTensor(x->type(), out_shape));
      const T* in = x->data<T>().data();
      T* out = o.mutable_data<T>().data();
      const auto count = static_cast<int64_t>(idx.size());
      for (int64_t b = 0; b < outer; ++b) {
        for (int64_t j = 0; j < count; ++j) {
          const T* src = in + (b * dim + idx[static_cast<size_t>(j)]) * inner;
          std::copy(src, src + inner, out + (b * count + j) * inner);
        }
      }
      outputs[0] = std::move(o);
      return Status::OK();
    });
  }

 private:
  using DenseKernel::DenseKernel;
  int64_t axis_ = 0;
};

// --- Slice ---------------------------------------------------------------------------

class SliceKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    auto k = std::unique_ptr<SliceKernel>(new SliceKernel(node));
    if (node.opset() < 10) {
      RETURN_IF_ERROR(CheckArity(node, 1, 1));
      k->attr_form_ = true;
      ASSIGN_OR_RETURN(k->starts_, node.Ints("starts"));
      ASSIGN_OR_RETURN(k->ends_, node.Ints("ends"));
      ASSIGN_OR_RETURN(k->axes_, node.Ints("axes"));
      if (k->starts_.size() != k->ends_.size()) return node.Error("starts and ends differ in length");
    } else {
      RETURN_IF_ERROR(CheckArity(node, 3, 5));
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    std::vector<int64_t> starts = starts_, ends = ends_, axes = axes_, steps;
    if (!attr_form_) {
      ASSIGN_OR_RETURN(const Tensor* s, In(inputs, 1));
      ASSIGN_OR_RETURN(const Tensor* e, In(inputs, 2));
      ASSIGN_OR_RETURN(starts, ReadInts(*s, "starts"));
      ASSIGN_OR_RETURN(ends, ReadInts(*e, "ends"));
      ASSIGN_OR_RETURN(const Tensor* a, OptionalIn(inputs, 3));
      if (a != nullptr) {
        ASSIGN_OR_RETURN(axes, ReadInts(*a, "axes"));
      }
      ASSIGN_OR_RETURN(const Tensor* st, OptionalIn(inputs, 4));
      if (st != nullptr) {
        ASSIGN_OR_RETURN(steps, ReadInts(*st, "steps"));
      }
    }
    const size_t n = starts.size();
    if (ends.size() != n || (!axes.empty() && axes.size() != n) || (!steps.empty() && steps.size() != n)) {
      return Error("starts, ends, axes and steps must have one length");
    }
    const int rank = x->rank();
    Shape out_shape = x->shape();
    Shape begin(static_cast<size_t>(rank), 0);
    Shape step_of(static_cast<size_t>(rank), 1);
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (size_t i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(int axis, Axis(axes.empty() ? static_cast<int64_t>(i) : axes[i], rank));
      const auto au = static_cast<size_t>(axis);
      if (seen[au]) return Error("axis " + std::to_string(axis) + " is repeated");
      seen[au] = true;
      const int64_t dim = x->shape()[au];
      const int64_t step = steps.empty() ? 1 : steps[i];
      if (step == 0) return Error("steps must not be 0");
      int64_t start = starts[i];
      int64_t end = ends[i];
      if (start < 0) start = start < -dim ? -1 : start + dim;  // may stay negative; clamped below
      if (end < 0) end = end < -dim ? -1 : end + dim;
      int64_t count = 0;
      if (step > 0) {
        start = std::clamp(start, int64_t{0}, dim);
        end = std::clamp(end, int64_t{0}, dim);
        count = end > start ? (end - start - 1) / step + 1 : 0;
      } else {
        start = std::clamp(start, int64_t{0}, dim - 1);
        end = std::clamp(end, int64_t{-1}, dim - 1);
        // -step may overflow for INT64_MIN; such a step takes one element at most.
        const int64_t neg =
            step == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : -step;
        count = start > end ? (start - end - 1) / neg + 1 : 0;
      }
      out_shape[au] = count;
      begin[au] = start;
      step_of[au] = step;
    }
    const Shape in_strides = ContiguousStrides(x->shape());
    Shape strides(static_cast<size_t>(rank));
    int64_t base = 0;
    for (size_t d = 0; d < static_cast<size_t>(rank); ++d) {
      if (out_shape[d] > 0) base += begin[d] * in_strides[d];
      strides[d] = step_of[d] * in_strides[d];
    }
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      Tensor o(x->type(), out_shape);
      StridedCopy<T>(x->data<T>().data(), base, out_shape, strides, o.mutable_data<T>().data());
      outputs[0] = std::move(o);
      return Status::OK();
    });
  }

 private:
  using DenseKernel::DenseKernel;
  bool attr_form_ = false;
  std::vector<int64_t> starts_, ends_, axes_;
};

// --- Expand, Tile --------------------------------------------------------------------

class ExpandKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 2, 2));
    return std::unique_ptr<Kernel>(new ExpandKernel(node));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    ASSIGN_OR_RETURN(const Tensor* s, In(inputs, 1));
    if (s->rank() != 1) return Error("shape must be 1-D, got " + ShapeString(s->shape()));
    ASSIGN_OR_RETURN(std::vector<int64_t> target, ReadInts(*s, "shape"));
    for (int64_t d : target) {
      if (d < 0) return Error("shape " + ShapeString(target) + " has a negative dimension");
    }
    Shape out_shape;
    if (!Broadcast(x->shape(), target, &out_shape)) {
      return Error("cannot expand " + ShapeString(x->shape()) + " to " + ShapeString(target));
    }
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      ASSIGN_OR_RETURN(Tensor o, NewTensor(x->type(), out_shape));
      StridedCopy<T>(x->data<T>().data(), 0, out_shape, BroadcastStrides(x->shape(), out_shape),
                     o.mutable_data<T>().data());
      outputs[0] = std::move(o);
      return Status::OK();
    });
  }

 private:
  using DenseKernel::DenseKernel;
};

class TileKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 2, 2));
    return std::unique_ptr<Kernel>(new TileKernel(node));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    ASSIGN_OR_RETURN(const Tensor* r, In(inputs, 1));
    ASSIGN_OR_RETURN(std::vector<int64_t> repeats, ReadInts(*r, "repeats"));
    if (static_cast<int>(repeats.size()) != x->rank()) {
      return Error("repeats " + ShapeString(repeats) + " must have one value per axis of " +
                   ShapeString(x->shape()));
    }
    Shape out_shape(x->shape().size());
    for (size_t i = 0; i < repeats.size(); ++i) {
      if (repeats[i] < 0) return Error("repeats must not be negative");
      const int64_t d = x->shape()[i];
      if (d != 0 && repeats[i] > kMaxElements / d) return Error("the tiled tensor is too large");
      out_shape[i] = d * repeats[i];
    }
    const Shape in_strides = ContiguousStrides(x->shape());
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      ASSIGN_OR_RETURN(Tensor o, NewTensor(x->type(), out_shape));
      const T* in = x->data<T>().data();
      T* out = o.mutable_data<T>().data();
      const int64_t total = o.size();
      const int rank = x->rank();
      Shape idx(static_cast<size_t>(rank), 0);
      for (int64_t i = 0; i < total; ++i) {
        int64_t rem = i;
        int64_t off = 0;
        for (int d = rank - 1; d >= 0; --d) {
          const auto du = static_cast<size_t>(d);
          off += (rem % out_shape[du]) % x->shape()[du] * in_strides[du];
          rem /= out_shape[du];
        }
        out[i] = in[off];
      }
      outputs[0] = std::move(o);
      return Status::OK();
    });
  }

 private:
  using DenseKernel::DenseKernel;
};

// --- Concat, Split -------------------------------------------------------------------

class ConcatKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, std::numeric_limits<int>::max()));
    for (int i = 0; i < node.input_count(); ++i) {
      if (!node.has_input(i)) return node.Error("input " + std::to_string(i) + " is required");
    }
    auto k = std::unique_ptr<ConcatKernel>(new ConcatKernel(node));
    if (node.opset() < 4 && !node.Has("axis")) {
      k->axis_ = 1;
    } else {
      ASSIGN_OR_RETURN(k->axis_, node.Int("axis"));
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* first, In(inputs, 0));
    const int rank = first->rank();
    if (rank == 0) return Error("inputs must have rank 1 or more");
    ASSIGN_OR_RETURN(int axis, Axis(axis_, rank));
    std::vector<const Tensor*> xs;
    Shape out_shape = first->shape();
    out_shape[static_cast<size_t>(axis)] = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      ASSIGN_OR_RETURN(const Tensor* x, In(inputs, i));
      if (x->type() != first->type()) {
        return Error("input " + std::to_string(i) + " is " + std::string(ElemTypeName(x->type())) +
                     ", input 0 is " + std::string(ElemTypeName(first->type())));
      }
      bool fits = x->rank() == rank;
      for (int d = 0; fits && d < rank; ++d) fits = d == axis || x->dim(d) == first->dim(d);
      if (!fits) {
        return Error("input " + std::to_string(i) + " " + ShapeString(x->shape()) +
                     " does not concatenate with " + ShapeString(first->shape()) + " on axis " +
                     std::to_string(axis));
      }
      out_shape[static_cast<size_t>(axis)] += x->dim(axis);
      xs.push_back(x);
    }
    int64_t outer = 1;
    for (int d = 0; d < axis; ++d) outer *= first->dim(d);
    int64_t inner = 1;
    for (int d = axis + 1; d < rank; ++d) inner *= first->dim(d);
    return VisitType(first->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      ASSIGN_OR_RETURN(Tensor o, NewTensor(first->type(), out_shape));
      T* out = o.mutable_data<T>().data();
      for (int64_t b = 0; b < outer; ++b) {
        for (const Tensor* x : xs) {
          const int64_t chunk = x->dim(axis) * inner;
          const T* src = x->data<T>().data() + b * chunk;
          out = std::copy(src, src + chunk, out);
        }
      }
      outputs[0] = std::move(o);
      return Status::OK();
    });
  }

 private:
  using DenseKernel::DenseKernel;
  int64_t axis_ = 0;
};

class SplitKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    auto k = std::unique_ptr<SplitKernel>(new SplitKernel(node));
    k->split_input_ = node.opset() >= 13;
    RETURN_IF_ERROR(CheckArity(node, 1, k->split_input_ ? 2 : 1, 1, std::numeric_limits<int>::max()));
    ASSIGN_OR_RETURN(k->axis_, node.Has("axis") ? node.Int("axis") : Result<int64_t>(0));
    if (!k->split_input_) {
      ASSIGN_OR_RETURN(k->attr_split_, node.Ints("split"));
    }
    if (node.opset() >= 18 && node.Has("num_outputs")) {
      ASSIGN_OR_RETURN(int64_t num, node.Int("num_outputs"));
      if (num != node.output_count()) return node.Error("num_outputs does not match the outputs");
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    if (x->rank() == 0) return Error("input must have rank 1 or more");
    ASSIGN_OR_RETURN(int axis, Axis(axis_, x->rank()));
    std::vector<int64_t> split = attr_split_;
    if (split_input_) {
      ASSIGN_OR_RETURN(const Tensor* s, OptionalIn(inputs, 1));
      if (s != nullptr) {
        ASSIGN_OR_RETURN(split, ReadInts(*s, "split"));
      }
    }
    const int64_t dim = x->dim(axis);
    const auto parts = static_cast<int64_t>(outputs.size());
    if (split.empty()) {
      // Equal parts; the last one smaller when the size does not divide (opset 18).
      const int64_t each = (dim + parts - 1) / parts;
      for (int64_t i = 0; i < parts; ++i)
        split.push_back(std::max<int64_t>(0, std::min(each, dim - i * each)));
    }
    if (static_cast<int64_t>(split.size()) != parts) {
      return Error("split has " + std::to_string(split.size()) + " sizes for " + std::to_string(parts) +
                   " outputs");
    }
    int64_t sum = 0;
    for (int64_t v : split) {
      if (v < 0) return Error("split sizes must not be negative");
      sum += v;
    }
    if (sum != dim) {
      return Error("split sizes add up to " + std::to_string(sum) + ", axis " + std::to_string(axis) +
                   " has " + std::to_string(dim));
    }
    int64_t outer = 1;
    for (int d = 0; d < axis; ++d) outer *= x->dim(d);
    int64_t inner = 1;
    for (int d = axis + 1; d < x->rank(); ++d) inner *= x->dim(d);
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      const T* in = x->data<T>().data();
      int64_t at = 0;
      for (size_t p = 0; p < split.size(); ++p) {
        Shape s = x->shape();
        s[static_cast<size_t>(axis)] = split[p];
        Tensor o(x->type(), s);
        T* out = o.mutable_data<T>().data();
        const int64_t chunk = split[p] * inner;
        for (int64_t b = 0; b < outer; ++b) {
          const T* src = in + b * dim * inner + at * inner;
          std::copy(src, src + chunk, out + b * chunk);
        }
        at += split[p];
        outputs[p] = std::move(o);
      }
      return Status::OK();
    });
  }

 private:
  using DenseKernel::DenseKernel;
  int64_t axis_ = 0;
  std::vector<int64_t> attr_split_;
  bool split_input_ = false;
};

// --- ConstantOfShape, Range ------------------------------------------------------------

class ConstantOfShapeKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, 1));
    auto k = std::unique_ptr<ConstantOfShapeKernel>(new ConstantOfShapeKernel(node));
    if (node.Has("value")) {
      ASSIGN_OR_RETURN(k->value_, node.TensorAttr("value"));
      if (k->value_.size() != 1) return node.Error("value must hold one element");
    } else {
      k->value_ = Tensor::From<float>({1}, {0.0f});
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* s, In(inputs, 0));
    if (s->rank() != 1) return Error("shape must be 1-D, got " + ShapeString(s->shape()));
    ASSIGN_OR_RETURN(std::vector<int64_t> shape, ReadInts(*s, "shape"));
    return VisitType(value_.type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      ASSIGN_OR_RETURN(Tensor o, NewTensor(value_.type(), shape));
      const T v = value_.data<T>()[0];
      for (T& e : o.mutable_data<T>()) e = v;
      outputs[0] = std::move(o);
      return Status::OK();
    });
  }

 private:
  using DenseKernel::DenseKernel;
  Tensor value_;
};

class RangeKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 3, 3));
    return std::unique_ptr<Kernel>(new RangeKernel(node));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* s, In(inputs, 0));
    ASSIGN_OR_RETURN(const Tensor* l, In(inputs, 1));
    ASSIGN_OR_RETURN(const Tensor* d, In(inputs, 2));
    if (s->type() != l->type() || s->type() != d->type())
      return Error("start, limit and delta must have one type");
    if (s->size() != 1 || l->size() != 1 || d->size() != 1)
      return Error("start, limit and delta must be scalars");
    return VisitType(s->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!kIsNumeric<T>) {
        return TypeError("start", s->type(), "float, double, int64 or int32");
      } else {
        const T start = s->data<T>()[0];
        const T limit = l->data<T>()[0];
        const T delta = d->data<T>()[0];
        if (delta == T{0}) return Error("delta must not be 0");
        const double count =
            std::ceil((static_cast<double>(limit) - static_cast<double>(start)) / static_cast<double>(delta));
        if (!(count <= static_cast<double>(kMaxElements))) return Error("the range is too long");
        const auto n = count > 0 ? static_cast<int64_t>(count) : int64_t{0};
        std::vector<T> v(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
          if constexpr (kIsInteger<T>) {
            v[static_cast<size_t>(i)] = WrapAdd(start, WrapMul(static_cast<T>(i), delta));
          } else {
            v[static_cast<size_t>(i)] = start + static_cast<T>(i) * delta;
          }
        }
        outputs[0] = Tensor::From<T>({n}, std::move(v));
        return Status::OK();
      }
    });
  }

 private:
  using DenseKernel::DenseKernel;
};

}  // namespace

Status RegisterShapeKernels(KernelRegistry& r) {
  RETURN_IF_ERROR(r.Register("", "Identity", Factory<IdentityKernel>()));
  RETURN_IF_ERROR(r.Register("", "Constant", Factory<ConstantKernel>()));
  RETURN_IF_ERROR(r.Register("", "Reshape", Factory<ReshapeKernel>()));
  RETURN_IF_ERROR(r.Register("", "Flatten", Factory<FlattenKernel>()));
  RETURN_IF_ERROR(r.Register("", "Squeeze", Factory<SqueezeKernel>()));
  RETURN_IF_ERROR(r.Register("", "Unsqueeze", Factory<UnsqueezeKernel>()));
  RETURN_IF_ERROR(r.Register("", "Transpose", Factory<TransposeKernel>()));
  RETURN_IF_ERROR(r.Register("", "Shape", Factory<ShapeKernel>()));
  RETURN_IF_ERROR(r.Register("", "Size", Factory<SizeKernel>()));
  RETURN_IF_ERROR(r.Register("", "Gather", Factory<GatherKernel>()));
  RETURN_IF_ERROR(r.Register("", "Slice", Factory<SliceKernel>()));
  RETURN_IF_ERROR(r.Register("", "Expand", Factory<ExpandKernel>()));
  RETURN_IF_ERROR(r.Register("", "Tile", Factory<TileKernel>()));
  RETURN_IF_ERROR(r.Register("", "Concat", Factory<ConcatKernel>()));
  RETURN_IF_ERROR(r.Register("", "Split", Factory<SplitKernel>()));
  RETURN_IF_ERROR(r.Register("", "ConstantOfShape", Factory<ConstantOfShapeKernel>()));
  RETURN_IF_ERROR(r.Register("", "Range", Factory<RangeKernel>()));
  return Status::OK();
}

}  // namespace ferry::serving::onnx::dense
