// Reductions over axes: ReduceSum/Mean/Max/Min/Prod/SumSquare/LogSumExp/
// L1/L2/LogSum, ArgMax/ArgMin, Softmax/LogSoftmax and TopK.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "ferry/serving/runtimes/onnx/dense/dense_internal.h"

namespace ferry::serving::onnx::dense {

namespace {

constexpr std::string_view kNumericTypes = "float, double, int64 or int32";

// Splits `shape` around `axis`: outer (before), dim (at), inner (after).
void SplitAt(const Shape& shape, int axis, int64_t* outer, int64_t* dim, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int i = 0; i < axis; ++i) *outer *= shape[static_cast<size_t>(i)];
  *dim = shape[static_cast<size_t>(axis)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < shape.size(); ++i) *inner *= shape[i];
}

// --- Reduce* ---------------------------------------------------------------------------

enum class Reduction { kSum, kMean, kMax, kMin, kProd, kSumSquare, kLogSumExp, kL1, kL2, kLogSum };

class ReduceKernel final : public DenseKernel {
 public:
  static KernelFactory For(Reduction op) {
    return [op](const NodeInfo& node) -> Result<std::unique_ptr<Kernel>> {
      // ReduceSum took its axes as an input from opset 13, the others from 18.
      const bool axes_input = node.opset() >= (op == Reduction::kSum ? 13 : 18);
      RETURN_IF_ERROR(CheckArity(node, 1, axes_input ? 2 : 1));
      auto k = std::unique_ptr<ReduceKernel>(new ReduceKernel(node));
      k->op_ = op;
      k->axes_input_ = axes_input;
      if (!axes_input) {
        ASSIGN_OR_RETURN(k->attr_axes_, node.Ints("axes"));
      }
      ASSIGN_OR_RETURN(k->keepdims_, node.Has("keepdims") ? node.Int("keepdims") : Result<int64_t>(1));
      if (axes_input && node.Has("noop_with_empty_axes")) {
        ASSIGN_OR_RETURN(k->noop_with_empty_axes_, node.Int("noop_with_empty_axes"));
      }
      return std::unique_ptr<Kernel>(std::move(k));
    };
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    std::vector<int64_t> raw = attr_axes_;
    if (axes_input_) {
      ASSIGN_OR_RETURN(const Tensor* a, OptionalIn(inputs, 1));
      if (a != nullptr) {
        ASSIGN_OR_RETURN(raw, ReadInts(*a, "axes"));
      }
    }
    if (raw.empty() && noop_with_empty_axes_ != 0) {
      outputs[0] = *x;
      return Status::OK();
    }
    const int rank = x->rank();
    std::vector<bool> reduced(static_cast<size_t>(rank), raw.empty());
    for (int64_t a : raw) {
      ASSIGN_OR_RETURN(int axis, Axis(a, rank));
      reduced[static_cast<size_t>(axis)] = true;
    }
    // The kept-dims shape, its strides laid over the input (0 on reduced
    // axes), and the shape handed back.
    Shape kept(x->shape());
    Shape out_shape;
    int64_t count = 1;
    for (int i = 0; i < rank; ++i) {
      const auto iu = static_cast<size_t>(i);
      if (reduced[iu]) {
        count *= kept[iu];
        kept[iu] = 1;
        if (keepdims_ != 0) out_shape.push_back(1);
      } else {
        out_shape.push_back(kept[iu]);
      }
    }
    Shape strides(static_cast<size_t>(rank), 0);
    int64_t stride = 1;
    for (int i = rank - 1; i >= 0; --i) {
      const auto iu = static_cast<size_t>(i);
      strides[iu] = reduced[iu] ? 0 : stride;
      stride *= kept[iu];
    }
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!kIsNumeric<T>) {
        return TypeError("input 0", x->type(), kNumericTypes);
      } else {
        const bool floating_only =
            op_ == Reduction::kLogSumExp || op_ == Reduction::kLogSum || op_ == Reduction::kL2;
        if (floating_only && !kIsFloating<T>) return TypeError("input 0", x->type(), "float or double");
        Tensor o(x->type(), out_shape);
        auto out = o.mutable_data<T>();
        auto in = x->data<T>();
        std::vector<T> shift;  // LogSumExp: each output's maximum
        T init = T{0};
        if (op_ == Reduction::kProd) init = T{1};
        if (op_ == Reduction::kMax) init = std::numeric_limits<T>::lowest();
        if (op_ == Reduction::kMin) init = std::numeric_limits<T>::max();
        if constexpr (kIsFloating<T>) {
          if (op_ == Reduction::kMax) init = -std::numeric_limits<T>::infinity();
          if (op_ == Reduction::kMin) init = std::numeric_limits<T>::infinity();
          if (op_ == Reduction::kLogSumExp) {
            shift.assign(out.size(), -std::numeric_limits<T>::infinity());
            Walk(x->shape(), strides, [&](int64_t i, int64_t o_idx) {
              shift[static_cast<size_t>(o_idx)] =
                  std::max(shift[static_cast<size_t>(o_idx)], in[static_cast<size_t>(i)]);
            });
            for (T& s : shift) {
              if (!std::isfinite(s)) s = T{0};
            }
          }
        }
        std::fill(out.begin(), out.end(), init);
        Walk(x->shape(), strides, [&](int64_t i, int64_t o_idx) {
          T& acc = out[static_cast<size_t>(o_idx)];
          const T v = in[static_cast<size_t>(i)];
          switch (op_) {
            case Reduction::kSum:
            case Reduction::kMean:
            case Reduction::kLogSum:
              acc = Add(acc, v);
              break;
            case Reduction::kMax:
              if (v > acc || IsNan(v)) acc = v;
              break;
            case Reduction::kMin:
              if (v < acc || IsNan(v)) acc = v;
              break;
            case Reduction::kProd:
              acc = Mul(acc, v);
              break;
            case Reduction::kSumSquare:
            case Reduction::kL2:
              acc = Add(acc, Mul(v, v));
              break;
            case Reduction::kL1:
              acc = Add(acc, v < T{0} ? Neg(v) : v);
              break;
            case Reduction::kLogSumExp:
              if constexpr (kIsFloating<T>) acc += std::exp(v - shift[static_cast<size_t>(o_idx)]);
              break;
          }
        });
        for (size_t j = 0; j < out.size(); ++j) {
          if (op_ == Reduction::kMean) {
            if constexpr (kIsFloating<T>) {
              out[j] /= static_cast<T>(count);
            } else if (count > 0) {
              out[j] = static_cast<T>(out[j] / static_cast<T>(count));
            }
          }
          if constexpr (kIsFloating<T>) {
            if (op_ == Reduction::kLogSumExp) out[j] = std::log(out[j]) + shift[j];
            if (op_ == Reduction::kLogSum) out[j] = std::log(out[j]);
            if (op_ == Reduction::kL2) out[j] = std::sqrt(out[j]);
          }
        }
        outputs[0] = std::move(o);
        return Status::OK();
      }
    });
  }

 private:
  using DenseKernel::DenseKernel;

  template <typename T>
  static T Add(T a, T b) {
    if constexpr (kIsInteger<T>) {
      return WrapAdd(a, b);
    } else {
      return a + b;
    }
  }
  template <typename T>
  static T Mul(T a, T b) {
    if constexpr (kIsInteger<T>) {
      return WrapMul(a, b);
    } else {
      return a * b;
    }
  }
  template <typename T>
  static T Neg(T a) {
    if constexpr (kIsInteger<T>) {
      return WrapSub(T{0}, a);
    } else {
      return -a;
    }
  }
  template <typename T>
  static bool IsNan(T v) {
    if constexpr (kIsFloating<T>) {
      return std::isnan(v);
    } else {
      return false;
    }
  }

  // Calls f(input_index, output_index) for every input element in order.
  template <typename F>
  static void Walk(const Shape& shape, const Shape& out_strides, F&& f) {
    int64_t total = 1;
    for (int64_t d : shape) total *= d;
    if (total == 0) return;
    const int rank = static_cast<int>(shape.size());
    if (rank == 0) {
      f(int64_t{0}, int64_t{0});
      return;
    }
    const int64_t inner = shape.back();
    const int64_t inner_stride = out_strides.back();
    Shape idx(static_cast<size_t>(rank), 0);
    int64_t o = 0;
    for (int64_t i = 0; i < total; i += inner) {
      for (int64_t j = 0; j < inner; ++j) f(i + j, o + j * inner_stride);
      for (int d = rank - 2; d >= 0; --d) {
        const auto du = static_cast<size_t>(d);
        if (++idx[du] < shape[du]) {
          o += out_strides[du];
          break;
        }
        o -= out_strides[du] * (shape[du] - 1);
        idx[du] = 0;
      }
    }
  }

  Reduction op_ = Reduction::kSum;
  bool axes_input_ = false;
  std::vector<int64_t> attr_axes_;
  int64_t keepdims_ = 1;
  int64_t noop_with_empty_axes_ = 0;
};

// --- ArgMax, ArgMin -------------------------------------------------------------------------

template <bool kMax>
class ArgKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, 1));
    auto k = std::unique_ptr<ArgKernel>(new ArgKernel(node));
    ASSIGN_OR_RETURN(k->axis_, node.Has("axis") ? node.Int("axis") : Result<int64_t>(0));
    ASSIGN_OR_RETURN(k->keepdims_, node.Has("keepdims") ? node.Int("keepdims") : Result<int64_t>(1));
    if (node.opset() >= 12 && node.Has("select_last_index")) {
      ASSIGN_OR_RETURN(k->select_last_, node.Int("select_last_index"));
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    if (x->rank() == 0) return Error("input must have rank 1 or more");
    ASSIGN_OR_RETURN(int axis, Axis(axis_, x->rank()));
    int64_t outer, dim, inner;
    SplitAt(x->shape(), axis, &outer, &dim, &inner);
    if (dim == 0) return Error("cannot take the arg of an empty axis");
    Shape out_shape = x->shape();
    if (keepdims_ != 0) {
      out_shape[static_cast<size_t>(axis)] = 1;
    } else {
      out_shape.erase(out_shape.begin() + axis);
    }
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!kIsNumeric<T>) {
        return TypeError("input 0", x->type(), kNumericTypes);
      } else {
        Tensor o(ElemType::kInt64, out_shape);
        auto out = o.mutable_data<int64_t>();
        const T* in = x->data<T>().data();
        for (int64_t b = 0; b < outer; ++b) {
          for (int64_t i = 0; i < inner; ++i) {
            const T* p = in + b * dim * inner + i;
            int64_t best = 0;
            for (int64_t j = 1; j < dim; ++j) {
              const T v = p[j * inner];
              const T cur = p[best * inner];
              const bool better = kMax ? v > cur : v < cur;
              if (better || (select_last_ != 0 && v == cur)) best = j;
            }
            out[static_cast<size_t>(b * inner + i)] = best;
          }
        }
        outputs[0] = std::move(o);
        return Status::OK();
      }
    });
  }

 private:
  using DenseKernel::DenseKernel;
  int64_t axis_ = 0;
  int64_t keepdims_ = 1;
  int64_t select_last_ = 0;
};

// --- Softmax, LogSoftmax ----------------------------------------------------------------------

// Before opset 13 the input is read as a 2-D matrix [prod(dims < axis),
// prod(dims >= axis)] (axis 1 by default) and each row normalized; from 13
// the normalization runs along `axis` alone (-1 by default).
template <bool kLog>
class SoftmaxKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, 1));
    auto k = std::unique_ptr<SoftmaxKernel>(new SoftmaxKernel(node));
    k->coerce_2d_ = node.opset() < 13;
    ASSIGN_OR_RETURN(k->axis_, node.Has("axis") ? node.Int("axis") : Result<int64_t>(k->coerce_2d_ ? 1 : -1));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    const int rank = x->rank();
    int64_t outer = 1, dim = 1, inner = 1;
    if (rank == 0) {
      if (axis_ != -1 && axis_ != 0)
        return Error("axis " + std::to_string(axis_) + " is out of range for a scalar");
    } else if (coerce_2d_) {
      if (axis_ < -rank || axis_ > rank) {
        return Error("axis " + std::to_string(axis_) + " is out of range for rank " + std::to_string(rank));
      }
      const auto axis = static_cast<size_t>(axis_ < 0 ? axis_ + rank : axis_);
      for (size_t i = 0; i < axis; ++i) outer *= x->shape()[i];
      for (size_t i = axis; i < x->shape().size(); ++i) dim *= x->shape()[i];
    } else {
      ASSIGN_OR_RETURN(int axis, Axis(axis_, rank));
      SplitAt(x->shape(), axis, &outer, &dim, &inner);
    }
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!kIsFloating<T>) {
        return TypeError("input 0", x->type(), "float or double");
      } else {
        Tensor o(x->type(), x->shape());
        const T* in = x->data<T>().data();
        T* out = o.mutable_data<T>().data();
        for (int64_t b = 0; b < outer; ++b) {
          for (int64_t i = 0; i < inner; ++i) {
            const int64_t base = b * dim * inner + i;
            T max = -std::numeric_limits<T>::infinity();
            for (int64_t j = 0; j < dim; ++j) max = std::max(max, in[base + j * inner]);
            if (!std::isfinite(max)) max = T{0};
            T sum = 0;
            for (int64_t j = 0; j < dim; ++j) {
              const T e = std::exp(in[base + j * inner] - max);
              if constexpr (!kLog) out[base + j * inner] = e;
              sum += e;
            }
            if constexpr (kLog) {
              const T log_sum = std::log(sum);
              for (int64_t j = 0; j < dim; ++j) out[base + j * inner] = in[base + j * inner] - max - log_sum;
            } else {
              for (int64_t j = 0; j < dim; ++j) out[base + j * inner] /= sum;
            }
          }
        }
        outputs[0] = std::move(o);
        return Status::OK();
      }
    });
  }

 private:
  using DenseKernel::DenseKernel;
  bool coerce_2d_ = false;
  int64_t axis_ = -1;
};

// --- TopK --------------------------------------------------------------------------------------

// TopK: k from the attribute (opset 1) or the input (10+); largest and
// sorted from opset 11. Equal values keep the lower index first, as
// onnxruntime; the result is always sorted.
class TopKKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    auto k = std::unique_ptr<TopKKernel>(new TopKKernel(node));
    k->k_input_ = node.opset() >= 10;
    RETURN_IF_ERROR(CheckArity(node, k->k_input_ ? 2 : 1, k->k_input_ ? 2 : 1, 2, 2));
    if (!k->k_input_) {
      ASSIGN_OR_RETURN(k->attr_k_, node.Int("k"));
    }
    ASSIGN_OR_RETURN(k->axis_, node.Has("axis") ? node.Int("axis") : Result<int64_t>(-1));
    if (node.opset() >= 11 && node.Has("largest")) {
      ASSIGN_OR_RETURN(k->largest_, node.Int("largest"));
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    int64_t kk = attr_k_;
    if (k_input_) {
      ASSIGN_OR_RETURN(const Tensor* kt, In(inputs, 1));
      ASSIGN_OR_RETURN(std::vector<int64_t> kv, ReadInts(*kt, "K"));
      if (kv.size() != 1) return Error("K must hold one value");
      kk = kv[0];
    }
    if (x->rank() == 0) return Error("input must have rank 1 or more");
    ASSIGN_OR_RETURN(int axis, Axis(axis_, x->rank()));
    int64_t outer, dim, inner;
    SplitAt(x->shape(), axis, &outer, &dim, &inner);
    if (kk < 0 || kk > dim) {
      return Error("k " + std::to_string(kk) + " is out of range for axis " + std::to_string(axis) +
                   " of size " + std::to_string(dim));
    }
    Shape out_shape = x->shape();
    out_shape[static_cast<size_t>(axis)] = kk;
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!kIsNumeric<T>) {
        return TypeError("input 0", x->type(), kNumericTypes);
      } else {
        Tensor values(x->type(), out_shape);
        Tensor indices(ElemType::kInt64, out_shape);
        const T* in = x->data<T>().data();
        T* pv = values.mutable_data<T>().data();
        int64_t* pi = indices.mutable_data<int64_t>().data();
        std::vector<int64_t> order(static_cast<size_t>(dim));
        for (int64_t b = 0; b < outer; ++b) {
          for (int64_t i = 0; i < inner; ++i) {
            const T* p = in + b * dim * inner + i;
            std::iota(order.begin(), order.end(), int64_t{0});
            auto before = [&](int64_t l, int64_t r) {
              const T a = p[l * inner];
              const T c = p[r * inner];
              if (a == c) return l < r;
              return largest_ != 0 ? a > c : a < c;
            };
            std::partial_sort(order.begin(), order.begin() + kk, order.end(), before);
            for (int64_t j = 0; j < kk; ++j) {
              const int64_t at = b * kk * inner + j * inner + i;
              pv[at] = p[order[static_cast<size_t>(j)] * inner];
              pi[at] = order[static_cast<size_t>(j)];
            }
          }
        }
        outputs[0] = std::move(values);
        outputs[1] = std::move(indices);
        return Status::OK();
      }
    });
  }

 private:
  using DenseKernel::DenseKernel;
  bool k_input_ = true;
  int64_t attr_k_ = 0;
  int64_t axis_ = -1;
  int64_t largest_ = 1;
};

}  // namespace

Status RegisterReduceKernels(KernelRegistry& r) {
  RETURN_IF_ERROR(r.Register("", "ReduceSum", ReduceKernel::For(Reduction::kSum)));
  RETURN_IF_ERROR(r.Register("", "ReduceMean", ReduceKernel::For(Reduction::kMean)));
  RETURN_IF_ERROR(r.Register("", "ReduceMax", ReduceKernel::For(Reduction::kMax)));
  RETURN_IF_ERROR(r.Register("", "ReduceMin", ReduceKernel::For(Reduction::kMin)));
  RETURN_IF_ERROR(r.Register("", "ReduceProd", ReduceKernel::For(Reduction::kProd)));
  RETURN_IF_ERROR(r.Register("", "ReduceSumSquare", ReduceKernel::For(Reduction::kSumSquare)));
  RETURN_IF_ERROR(r.Register("", "ReduceLogSumExp", ReduceKernel::For(Reduction::kLogSumExp)));
  RETURN_IF_ERROR(r.Register("", "ReduceL1", ReduceKernel::For(Reduction::kL1)));
  RETURN_IF_ERROR(r.Register("", "ReduceL2", ReduceKernel::For(Reduction::kL2)));
  RETURN_IF_ERROR(r.Register("", "ReduceLogSum", ReduceKernel::For(Reduction::kLogSum)));
  RETURN_IF_ERROR(r.Register("", "ArgMax", Factory<ArgKernel<true>>()));
  RETURN_IF_ERROR(r.Register("", "ArgMin", Factory<ArgKernel<false>>()));
  RETURN_IF_ERROR(r.Register("", "Softmax", Factory<SoftmaxKernel<false>>()));
  RETURN_IF_ERROR(r.Register("", "LogSoftmax", Factory<SoftmaxKernel<true>>()));
  RETURN_IF_ERROR(r.Register("", "TopK", Factory<TopKKernel>()));
  return Status::OK();
}

}  // namespace ferry::serving::onnx::dense
