// Element-wise ai.onnx kernels: arithmetic and comparisons with numpy
// broadcasting, the variadic Max/Min/Sum/Mean, logic, Where, Clip and the
// unary math and activation functions.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ferry/serving/runtimes/onnx/dense/dense_internal.h"

namespace ferry::serving::onnx::dense {

namespace {

constexpr std::string_view kNumericTypes = "float, double, int64 or int32";
constexpr std::string_view kFloatTypes = "float or double";

// out = f(a, b) over the broadcast of a and b; O is the output's storage.
template <typename T, typename O, typename F>
Status BroadcastBinary(const DenseKernel& k, const Tensor& a, const Tensor& b, Value& out, F f) {
  Shape shape;
  if (!Broadcast(a.shape(), b.shape(), &shape)) {
    return k.Error("cannot broadcast shapes " + ShapeString(a.shape()) + " and " + ShapeString(b.shape()));
  }
  ASSIGN_OR_RETURN(Tensor o, k.NewTensor(ElemTypeOf<O>(), std::move(shape)));
  const T* pa = a.data<T>().data();
  const T* pb = b.data<T>().data();
  O* po = o.mutable_data<O>().data();
  const int64_t n = o.size();
  if (a.size() == n && b.size() == n) {
    for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
  } else if (b.size() == 1 && a.size() == n) {
    const T& vb = pb[0];
    for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], vb);
  } else if (a.size() == 1 && b.size() == n) {
    const T& va = pa[0];
    for (int64_t i = 0; i < n; ++i) po[i] = f(va, pb[i]);
  } else {
    ForEachBroadcastRow<2>(
        o.shape(), {&a.shape(), &b.shape()},
        [&](int64_t oo, const std::array<int64_t, 2>& off, int64_t len, const std::array<int64_t, 2>& st) {
          for (int64_t j = 0; j < len; ++j) {
            po[oo + j] = f(pa[off[0] + j * st[0]], pb[off[1] + j * st[1]]);
          }
        });
  }
  out = std::move(o);
  return Status::OK();
}

// --- Binary arithmetic and comparison -------------------------------------

struct AddOp {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (kIsInteger<T>) {
      return WrapAdd(a, b);
    } else {
      return a + b;
    }
  }
};
struct SubOp {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (kIsInteger<T>) {
      return WrapSub(a, b);
    } else {
      return a - b;
    }
  }
};
struct MulOp {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (kIsInteger<T>) {
      return WrapMul(a, b);
    } else {
      return a * b;
    }
  }
};
struct DivOp {  // integer divisors were checked for zero
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (kIsInteger<T>) {
      if (b == -1) return WrapSub(T{0}, a);  // min / -1 overflows
      return a / b;
    } else {
      return a / b;
    }
  }
};
struct MaxOp {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (kIsFloating<T>) {
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    }
    return a < b ? b : a;
  }
};
struct MinOp {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (kIsFloating<T>) {
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    }
    return b < a ? b : a;
  }
};

template <typename Op>
class ArithmeticKernel final : public DenseKernel {
 public:
  using DenseKernel::DenseKernel;
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 2, 2));
    return std::unique_ptr<Kernel>(new ArithmeticKernel(node));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(auto pair, SameTypePair(inputs));
    const auto [a, b] = pair;
    return VisitType(a->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!Op::template kTakes<T>) {
        return TypeError("input 0", a->type(), kNumericTypes);
      } else {
        if constexpr (std::is_same_v<Op, DivOp> && kIsInteger<T>) {
          for (T v : b->data<T>()) {
            if (v == 0) return Error("integer division by zero");
          }
        }
        return BroadcastBinary<T, T>(*this, *a, *b, outputs[0], Op());
      }
    });
  }
};

// Pow: the exponent may have another numeric type (opset 12+).
class PowKernel final : public DenseKernel {
 public:
  using DenseKernel::DenseKernel;
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 2, 2));
    return std::unique_ptr<Kernel>(new PowKernel(node));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* a, In(inputs, 0));
    ASSIGN_OR_RETURN(const Tensor* b, In(inputs, 1));
    return VisitType(a->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!kIsNumeric<T>) {
        return TypeError("input 0", a->type(), kNumericTypes);
      } else {
        // The exponent in the base's type when they agree (float powf, as
        // onnxruntime), else in double.
        if (b->type() == a->type()) {
          return BroadcastBinary<T, T>(*this, *a, *b, outputs[0], [](T x, T y) -> T {
            if constexpr (kIsFloating<T>) {
              if (y == T{2}) return x * x;
              return std::pow(x, y);
            } else {
              return ConvertNumber<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
            }
          });
        }
        if (b->type() == ElemType::kString || b->type() == ElemType::kBool) {
          return TypeError("input 1", b->type(), kNumericTypes);
        }
        Tensor e(ElemType::kDouble, b->shape());
        auto ed = e.mutable_data<double>();
        VisitType(b->type(), [&](auto btag) {
          using B = typename decltype(btag)::type;
          if constexpr (kIsNumeric<B>) {
            auto bd = b->data<B>();
            for (size_t i = 0; i < bd.size(); ++i) ed[i] = static_cast<double>(bd[i]);
          }
        });
        Tensor base(ElemType::kDouble, a->shape());
        auto based = base.mutable_data<double>();
        auto ad = a->data<T>();
        for (size_t i = 0; i < ad.size(); ++i) based[i] = static_cast<double>(ad[i]);
        return BroadcastBinary<double, T>(*this, base, e, outputs[0], [](double x, double y) -> T {
          return ConvertNumber<T>(y == 2.0 ? x * x : std::pow(x, y));
        });
      }
    });
  }
};

struct EqualOp {
  template <typename T>
  static constexpr bool kTakes = true;
  template <typename T>
  bool operator()(const T& a, const T& b) const {
    return a == b;
  }
};
struct LessOp {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  template <typename T>
  bool operator()(T a, T b) const {
    return a < b;
  }
};
struct GreaterOp {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  template <typename T>
  bool operator()(T a, T b) const {
    return a > b;
  }
};
struct LessOrEqualOp {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  template <typename T>
  bool operator()(T a, T b) const {
    return a <= b;
  }
};
struct GreaterOrEqualOp {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  template <typename T>
  bool operator()(T a, T b) const {
    return a >= b;
  }
};
struct AndOp {
  template <typename T>
  static constexpr bool kTakes = std::is_same_v<T, uint8_t>;
  template <typename T>
  bool operator()(T a, T b) const {
    return a != 0 && b != 0;
  }
};
struct OrOp {
  template <typename T>
  static constexpr bool kTakes = std::is_same_v<T, uint8_t>;
  template <typename T>
  bool operator()(T a, T b) const {
    return a != 0 || b != 0;
  }
};
struct XorOp {
  template <typename T>
  static constexpr bool kTakes = std::is_same_v<T, uint8_t>;
  template <typename T>
  bool operator()(T a, T b) const {
    return (a != 0) != (b != 0);
  }
};

template <typename Op>
class PredicateKernel final : public DenseKernel {
 public:
  using DenseKernel::DenseKernel;
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 2, 2));
    return std::unique_ptr<Kernel>(new PredicateKernel(node));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(auto pair, SameTypePair(inputs));
    const auto [a, b] = pair;
    return VisitType(a->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!Op::template kTakes<T>) {
        return Error("does not take " + std::string(ElemTypeName(a->type())) + " inputs");
      } else {
        return BroadcastBinary<T, uint8_t>(
            *this, *a, *b, outputs[0], [](const T& x, const T& y) -> uint8_t { return Op()(x, y) ? 1 : 0; });
      }
    });
  }
};

// --- Variadic: Max, Min, Sum, Mean ------------------------------------------

template <typename Op, bool kMean>
class VariadicKernel final : public DenseKernel {
 public:
  using DenseKernel::DenseKernel;
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, std::numeric_limits<int>::max()));
    for (int i = 0; i < node.input_count(); ++i) {
      if (!node.has_input(i)) return node.Error("input " + std::to_string(i) + " is required");
    }
    return std::unique_ptr<Kernel>(new VariadicKernel(node));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* first, In(inputs, 0));
    return VisitType(first->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!kIsNumeric<T> || (kMean && !kIsFloating<T>)) {
        return TypeError("input 0", first->type(), kMean ? kFloatTypes : kNumericTypes);
      } else {
        Value acc = *first;
        for (size_t i = 1; i < inputs.size(); ++i) {
          ASSIGN_OR_RETURN(const Tensor* x, In(inputs, i));
          if (x->type() != first->type()) {
            return Error("input " + std::to_string(i) + " is " + std::string(ElemTypeName(x->type())) +
                         ", input 0 is " + std::string(ElemTypeName(first->type())));
          }
          Value next;
          RETURN_IF_ERROR((BroadcastBinary<T, T>(*this, std::get<Tensor>(acc), *x, next, Op())));
          acc = std::move(next);
        }
        if constexpr (kMean) {
          const T count = static_cast<T>(inputs.size());
          for (T& v : std::get<Tensor>(acc).mutable_data<T>()) v /= count;
        }
        outputs[0] = std::move(acc);
        return Status::OK();
      }
    });
  }
};

// --- Where ----------------------------------------------------------------------

class WhereKernel final : public DenseKernel {
 public:
  using DenseKernel::DenseKernel;
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 3, 3));
    return std::unique_ptr<Kernel>(new WhereKernel(node));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* c, In(inputs, 0));
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 1));
    ASSIGN_OR_RETURN(const Tensor* y, In(inputs, 2));
    if (c->type() != ElemType::kBool) return TypeError("the condition", c->type(), "bool");
    if (x->type() != y->type()) {
      return Error("X is " + std::string(ElemTypeName(x->type())) + ", Y is " +
                   std::string(ElemTypeName(y->type())));
    }
    Shape s1, shape;
    if (!Broadcast(c->shape(), x->shape(), &s1) || !Broadcast(s1, y->shape(), &shape)) {
      return Error("cannot broadcast shapes " + ShapeString(c->shape()) + ", " + ShapeString(x->shape()) +
                   " and " + ShapeString(y->shape()));
    }
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      ASSIGN_OR_RETURN(Tensor o, NewTensor(x->type(), shape));
      const uint8_t* pc = c->data<uint8_t>().data();
      const T* px = x->data<T>().data();
      const T* py = y->data<T>().data();
      T* po = o.mutable_data<T>().data();
      ForEachBroadcastRow<3>(
          o.shape(), {&c->shape(), &x->shape(), &y->shape()},
          [&](int64_t oo, const std::array<int64_t, 3>& off, int64_t len, const std::array<int64_t, 3>& st) {
            for (int64_t j = 0; j < len; ++j) {
              po[oo + j] = pc[off[0] + j * st[0]] != 0 ? px[off[1] + j * st[1]] : py[off[2] + j * st[2]];
            }
          });
      outputs[0] = std::move(o);
      return Status::OK();
    });
  }
};

// --- Unary ----------------------------------------------------------------------

// Unary kernels: Op has kTakes<T>, kAllowed (for messages) and
// T operator()(T) const; attributes live in the Op.
template <typename Op>
class UnaryKernel final : public DenseKernel {
 public:
  UnaryKernel(const NodeInfo& node, Op op) : DenseKernel(node), op_(op) {}

  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, 1));
    ASSIGN_OR_RETURN(Op op, Op::Make(node));
    return std::unique_ptr<Kernel>(new UnaryKernel(node, op));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!Op::template kTakes<T>) {
        return TypeError("input 0", x->type(), Op::kAllowed);
      } else {
        Tensor o(x->type(), x->shape());
        auto in = x->data<T>();
        auto out = o.mutable_data<T>();
        for (size_t i = 0; i < in.size(); ++i) out[i] = op_(in[i]);
        outputs[0] = std::move(o);
        return Status::OK();
      }
    });
  }

 private:
  Op op_;
};

// Ops without attributes.
template <typename Derived>
struct PlainOp {
  static Result<Derived> Make(const NodeInfo&) { return Derived(); }
};

template <typename T>
T WrapNeg(T v) {
  return WrapSub(T{0}, v);
}

struct NegOp : PlainOp<NegOp> {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  static constexpr std::string_view kAllowed = kNumericTypes;
  template <typename T>
  T operator()(T x) const {
    if constexpr (kIsInteger<T>) {
      return WrapNeg(x);
    } else {
      return -x;
    }
  }
};
struct AbsOp : PlainOp<AbsOp> {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  static constexpr std::string_view kAllowed = kNumericTypes;
  template <typename T>
  T operator()(T x) const {
    if constexpr (kIsInteger<T>) {
      return x < 0 ? WrapNeg(x) : x;
    } else {
      return std::abs(x);
    }
  }
};
struct SignOp : PlainOp<SignOp> {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  static constexpr std::string_view kAllowed = kNumericTypes;
  template <typename T>
  T operator()(T x) const {
    if constexpr (kIsFloating<T>) {
      if (std::isnan(x)) return x;
    }
    return x > T{0} ? T{1} : x < T{0} ? T{-1} : T{0};
  }
};
struct ReluOp : PlainOp<ReluOp> {
  template <typename T>
  static constexpr bool kTakes = kIsNumeric<T>;
  static constexpr std::string_view kAllowed = kNumericTypes;
  template <typename T>
  T operator()(T x) const {
    return x > T{0} ? x : T{0};
  }
};

// Float-only functions; the macro writes the same struct as above for each.
#define FERRY_FLOAT_UNARY(Name, expr)                         \
  struct Name : PlainOp<Name> {                               \
    template <typename T>                                     \
    static constexpr bool kTakes = kIsFloating<T>;            \
    static constexpr std::string_view kAllowed = kFloatTypes; \
    template <typename T>                                     \
    T operator()(T x) const {                                 \
      return expr;                                            \
    }                                                         \
  };

FERRY_FLOAT_UNARY(ExpOp, std::exp(x))
FERRY_FLOAT_UNARY(LogOp, std::log(x))
FERRY_FLOAT_UNARY(SqrtOp, std::sqrt(x))
FERRY_FLOAT_UNARY(ReciprocalOp, T{1} / x)
FERRY_FLOAT_UNARY(FloorOp, std::floor(x))
FERRY_FLOAT_UNARY(CeilOp, std::ceil(x))
FERRY_FLOAT_UNARY(RoundOp, std::nearbyint(x))  // halves to even, the default rounding mode
FERRY_FLOAT_UNARY(TanhOp, std::tanh(x))
FERRY_FLOAT_UNARY(ErfOp, std::erf(x))
FERRY_FLOAT_UNARY(SoftplusOp, x > T{0} ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)))
FERRY_FLOAT_UNARY(SoftsignOp, x / (T{1} + std::abs(x)))
FERRY_FLOAT_UNARY(SigmoidOp, x >= T{0} ? T{1} / (T{1} + std::exp(-x)) : std::exp(x) / (T{1} + std::exp(x)))

#undef FERRY_FLOAT_UNARY

struct LeakyReluOp {
  template <typename T>
  static constexpr bool kTakes = kIsFloating<T>;
  static constexpr std::string_view kAllowed = kFloatTypes;
  float alpha = 0.01f;
  static Result<LeakyReluOp> Make(const NodeInfo& node) {
    LeakyReluOp op;
    if (node.Has("alpha")) {
      ASSIGN_OR_RETURN(op.alpha, node.Float("alpha"));
    }
    return op;
  }
  template <typename T>
  T operator()(T x) const {
    return x >= T{0} ? x : static_cast<T>(alpha) * x;
  }
};

struct HardSigmoidOp {
  template <typename T>
  static constexpr bool kTakes = kIsFloating<T>;
  static constexpr std::string_view kAllowed = kFloatTypes;
  float alpha = 0.2f;
  float beta = 0.5f;
  static Result<HardSigmoidOp> Make(const NodeInfo& node) {
    HardSigmoidOp op;
    if (node.Has("alpha")) {
      ASSIGN_OR_RETURN(op.alpha, node.Float("alpha"));
    }
    if (node.Has("beta")) {
      ASSIGN_OR_RETURN(op.beta, node.Float("beta"));
    }
    return op;
  }
  template <typename T>
  T operator()(T x) const {
    return std::max(T{0}, std::min(T{1}, static_cast<T>(alpha) * x + static_cast<T>(beta)));
  }
};

struct NotOp : PlainOp<NotOp> {
  template <typename T>
  static constexpr bool kTakes = std::is_same_v<T, uint8_t>;
  static constexpr std::string_view kAllowed = "bool";
  template <typename T>
  T operator()(T x) const {
    return x != 0 ? 0 : 1;
  }
};

// --- Clip ------------------------------------------------------------------------

// Clip: bounds from attributes before opset 11, from optional scalar inputs
// after. A lower bound above the upper one gives the upper one everywhere.
class ClipKernel final : public DenseKernel {
 public:
  ClipKernel(const NodeInfo& node, bool attr_form, float lo, float hi)
      : DenseKernel(node), attr_form_(attr_form), lo_(lo), hi_(hi) {}

  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    if (node.opset() < 11) {
      RETURN_IF_ERROR(CheckArity(node, 1, 1));
      float lo = std::numeric_limits<float>::lowest();
      float hi = std::numeric_limits<float>::max();
      if (node.Has("min")) {
        ASSIGN_OR_RETURN(lo, node.Float("min"));
      }
      if (node.Has("max")) {
        ASSIGN_OR_RETURN(hi, node.Float("max"));
      }
      return std::unique_ptr<Kernel>(new ClipKernel(node, true, lo, hi));
    }
    RETURN_IF_ERROR(CheckArity(node, 1, 3));
    return std::unique_ptr<Kernel>(new ClipKernel(node, false, 0, 0));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    return VisitType(x->type(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!kIsNumeric<T>) {
        return TypeError("input 0", x->type(), kNumericTypes);
      } else {
        T lo = std::numeric_limits<T>::lowest();
        T hi = std::numeric_limits<T>::max();
        if (attr_form_) {
          if constexpr (!kIsFloating<T>) return TypeError("input 0", x->type(), kFloatTypes);
          lo = static_cast<T>(lo_);
          hi = static_cast<T>(hi_);
        } else {
          for (size_t i = 1; i <= 2; ++i) {
            ASSIGN_OR_RETURN(const Tensor* b, OptionalIn(inputs, i));
            if (b == nullptr) continue;
            if (b->type() != x->type() || b->size() != 1) {
              return Error(std::string(i == 1 ? "min" : "max") + " must be a one-element " +
                           std::string(ElemTypeName(x->type())) + " tensor, got " +
                           std::string(ElemTypeName(b->type())) + " " + ShapeString(b->shape()));
            }
            (i == 1 ? lo : hi) = b->data<T>()[0];
          }
        }
        Tensor o(x->type(), x->shape());
        auto in = x->data<T>();
        auto out = o.mutable_data<T>();
        for (size_t i = 0; i < in.size(); ++i) {
          T v = in[i];
          if (v < lo) v = lo;
          if (v > hi) v = hi;
          out[i] = v;
        }
        outputs[0] = std::move(o);
        return Status::OK();
      }
    });
  }

 private:
  bool attr_form_;
  float lo_;
  float hi_;
};

}  // namespace

Status RegisterElementwiseKernels(KernelRegistry& r) {
  RETURN_IF_ERROR(r.Register("", "Add", Factory<ArithmeticKernel<AddOp>>()));
  RETURN_IF_ERROR(r.Register("", "Sub", Factory<ArithmeticKernel<SubOp>>()));
  RETURN_IF_ERROR(r.Register("", "Mul", Factory<ArithmeticKernel<MulOp>>()));
  RETURN_IF_ERROR(r.Register("", "Div", Factory<ArithmeticKernel<DivOp>>()));
  RETURN_IF_ERROR(r.Register("", "Pow", Factory<PowKernel>()));
  RETURN_IF_ERROR(r.Register("", "Max", Factory<VariadicKernel<MaxOp, false>>()));
  RETURN_IF_ERROR(r.Register("", "Min", Factory<VariadicKernel<MinOp, false>>()));
  RETURN_IF_ERROR(r.Register("", "Sum", Factory<VariadicKernel<AddOp, false>>()));
  RETURN_IF_ERROR(r.Register("", "Mean", Factory<VariadicKernel<AddOp, true>>()));
  RETURN_IF_ERROR(r.Register("", "Equal", Factory<PredicateKernel<EqualOp>>()));
  RETURN_IF_ERROR(r.Register("", "Less", Factory<PredicateKernel<LessOp>>()));
  RETURN_IF_ERROR(r.Register("", "Greater", Factory<PredicateKernel<GreaterOp>>()));
  RETURN_IF_ERROR(r.Register("", "LessOrEqual", Factory<PredicateKernel<LessOrEqualOp>>()));
  RETURN_IF_ERROR(r.Register("", "GreaterOrEqual", Factory<PredicateKernel<GreaterOrEqualOp>>()));
  RETURN_IF_ERROR(r.Register("", "And", Factory<PredicateKernel<AndOp>>()));
  RETURN_IF_ERROR(r.Register("", "Or", Factory<PredicateKernel<OrOp>>()));
  RETURN_IF_ERROR(r.Register("", "Xor", Factory<PredicateKernel<XorOp>>()));
  RETURN_IF_ERROR(r.Register("", "Where", Factory<WhereKernel>()));
  RETURN_IF_ERROR(r.Register("", "Not", Factory<UnaryKernel<NotOp>>()));
  RETURN_IF_ERROR(r.Register("", "Neg", Factory<UnaryKernel<NegOp>>()));
  RETURN_IF_ERROR(r.Register("", "Abs", Factory<UnaryKernel<AbsOp>>()));
  RETURN_IF_ERROR(r.Register("", "Sign", Factory<UnaryKernel<SignOp>>()));
  RETURN_IF_ERROR(r.Register("", "Relu", Factory<UnaryKernel<ReluOp>>()));
  RETURN_IF_ERROR(r.Register("", "Exp", Factory<UnaryKernel<ExpOp>>()));
  RETURN_IF_ERROR(r.Register("", "Log", Factory<UnaryKernel<LogOp>>()));
  RETURN_IF_ERROR(r.Register("", "Sqrt", Factory<UnaryKernel<SqrtOp>>()));
  RETURN_IF_ERROR(r.Register("", "Reciprocal", Factory<UnaryKernel<ReciprocalOp>>()));
  RETURN_IF_ERROR(r.Register("", "Floor", Factory<UnaryKernel<FloorOp>>()));
  RETURN_IF_ERROR(r.Register("", "Ceil", Factory<UnaryKernel<CeilOp>>()));
  RETURN_IF_ERROR(r.Register("", "Round", Factory<UnaryKernel<RoundOp>>()));
  RETURN_IF_ERROR(r.Register("", "Tanh", Factory<UnaryKernel<TanhOp>>()));
  RETURN_IF_ERROR(r.Register("", "Erf", Factory<UnaryKernel<ErfOp>>()));
  RETURN_IF_ERROR(r.Register("", "Softplus", Factory<UnaryKernel<SoftplusOp>>()));
  RETURN_IF_ERROR(r.Register("", "Softsign", Factory<UnaryKernel<SoftsignOp>>()));
  RETURN_IF_ERROR(r.Register("", "Sigmoid", Factory<UnaryKernel<SigmoidOp>>()));
  RETURN_IF_ERROR(r.Register("", "LeakyRelu", Factory<UnaryKernel<LeakyReluOp>>()));
  RETURN_IF_ERROR(r.Register("", "HardSigmoid", Factory<UnaryKernel<HardSigmoidOp>>()));
  RETURN_IF_ERROR(r.Register("", "Clip", Factory<ClipKernel>()));
  return Status::OK();
}

}  // namespace ferry::serving::onnx::dense
