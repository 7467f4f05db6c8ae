#pragma once
// Shared pieces of the ai.onnx kernels (internal to runtimes/onnx/dense):
// the kernel base that names its node in run-time errors, element-type
// dispatch, numpy broadcasting, size limits and the checked conversions
// between element types.
//
// Thread-safety: stateless helpers; kernels are immutable after Create.

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/serving/runtimes/onnx/kernel.h"
#include "ferry/serving/runtimes/onnx/value.h"

namespace ferry::serving::onnx::dense {

// The most elements a kernel allocates for one tensor: Expand, Tile,
// ConstantOfShape and Range take their sizes from request data, and a
// request must not exhaust the process's memory.
inline constexpr int64_t kMaxElements = int64_t{1} << 28;

template <typename T>
struct Tag {
  using type = T;
};

// Calls f(Tag<T>{}) with T the storage type of `type`.
template <typename F>
decltype(auto) VisitType(ElemType type, F&& f) {
  switch (type) {
    case ElemType::kDouble:
      return f(Tag<double>{});
    case ElemType::kInt64:
      return f(Tag<int64_t>{});
    case ElemType::kInt32:
      return f(Tag<int32_t>{});
    case ElemType::kString:
      return f(Tag<std::string>{});
    case ElemType::kBool:
      return f(Tag<uint8_t>{});
    case ElemType::kFloat:
      break;
  }
  return f(Tag<float>{});
}

template <typename T>
inline constexpr bool kIsFloating = std::is_same_v<T, float> || std::is_same_v<T, double>;
template <typename T>
inline constexpr bool kIsInteger = std::is_same_v<T, int64_t> || std::is_same_v<T, int32_t>;
template <typename T>
inline constexpr bool kIsNumeric = kIsFloating<T> || kIsInteger<T>;

template <typename T>
constexpr ElemType ElemTypeOf() {
  if constexpr (std::is_same_v<T, float>) return ElemType::kFloat;
  if constexpr (std::is_same_v<T, double>) return ElemType::kDouble;
  if constexpr (std::is_same_v<T, int64_t>) return ElemType::kInt64;
  if constexpr (std::is_same_v<T, int32_t>) return ElemType::kInt32;
  if constexpr (std::is_same_v<T, std::string>) return ElemType::kString;
  if constexpr (std::is_same_v<T, uint8_t>) return ElemType::kBool;
  return ElemType::kFloat;
}

// "[2,3]".
std::string ShapeString(const Shape& shape);

// Base of the dense kernels: keeps the node's label for run-time errors.
class DenseKernel : public Kernel {
 public:
  explicit DenseKernel(const NodeInfo& node);

  // InvalidArgument "node 'n' (Op): <message>".
  Status Error(std::string_view message) const;

  // inputs[i] as a tensor: InvalidArgument when it is omitted or a map.
  Result<const Tensor*> In(std::span<const Value* const> inputs, size_t i) const;
  // Inputs 0 and 1 as tensors of one element type (binary operators):
  // InvalidArgument naming both types when they differ.
  Result<std::pair<const Tensor*, const Tensor*>> SameTypePair(std::span<const Value* const> inputs) const;
  // Like In, but null when the optional input is omitted.
  Result<const Tensor*> OptionalIn(std::span<const Value* const> inputs, size_t i) const;
  // A zero-filled tensor of `shape`, refused above kMaxElements.
  Result<Tensor> NewTensor(ElemType type, Shape shape) const;
  // The values of an int64 or int32 tensor (shapes, axes, indices).
  Result<std::vector<int64_t>> ReadInts(const Tensor& t, std::string_view what) const;
  // `axis` in [-rank, rank) as [0, rank).
  Result<int> Axis(int64_t axis, int rank) const;
  // "input 2 must be float, double, int64 or int32, got string".
  Status TypeError(std::string_view what, ElemType got, std::string_view allowed) const;

 private:
  std::string label_;
};

// InvalidArgument at load when the node's input or output count is outside
// the operator's.
Status CheckArity(const NodeInfo& node, int min_inputs, int max_inputs, int min_outputs = 1,
                  int max_outputs = 1);

// Element count of `shape`, or -1 when it overflows or exceeds kMaxElements
// (or has a negative dimension).
int64_t BoundedSize(const Shape& shape);

// Numpy broadcasting of two shapes into `out`; false when incompatible.
bool Broadcast(const Shape& a, const Shape& b, Shape* out);

// Element strides of `in` laid over `out` (same or lower rank, aligned on
// the right): 0 for dimensions `in` broadcasts.
Shape BroadcastStrides(const Shape& in, const Shape& out);

// Walks `out` one innermost row at a time, calling
// f(out_offset, in_offsets, row_length, in_row_strides) where in_offsets[k]
// is where input k's elements for that row start and in_row_strides[k] is
// 1 or 0 (broadcast).
template <size_t N, typename F>
void ForEachBroadcastRow(const Shape& out, const std::array<const Shape*, N>& ins, F&& f) {
  const int rank = static_cast<int>(out.size());
  int64_t total = 1;
  for (int64_t d : out) total *= d;
  if (total == 0) return;
  std::array<int64_t, N> off{};
  std::array<int64_t, N> row_stride{};
  if (rank == 0) {
    f(int64_t{0}, off, int64_t{1}, row_stride);
    return;
  }
  std::array<Shape, N> strides;
  for (size_t k = 0; k < N; ++k) {
    strides[k] = BroadcastStrides(*ins[k], out);
    row_stride[k] = strides[k][static_cast<size_t>(rank - 1)];
  }
  const int64_t inner = out[static_cast<size_t>(rank - 1)];
  const int64_t rows = total / inner;
  Shape idx(static_cast<size_t>(rank), 0);
  int64_t out_off = 0;
  for (int64_t r = 0; r < rows; ++r) {
    f(out_off, off, inner, row_stride);
    out_off += inner;
    for (int d = rank - 2; d >= 0; --d) {
      const auto du = static_cast<size_t>(d);
      if (++idx[du] < out[du]) {
        for (size_t k = 0; k < N; ++k) off[k] += strides[k][du];
        break;
      }
      for (size_t k = 0; k < N; ++k) off[k] -= strides[k][du] * (out[du] - 1);
      idx[du] = 0;
    }
  }
}

// Numeric conversion as onnxruntime computes it on x86-64: floating to
// integer truncates toward zero, and NaN or an out-of-range value gives the
// integer type's minimum (what cvttsd2si returns) instead of undefined
// behaviour; wider to narrower integers wrap.
template <typename To, typename From>
To ConvertNumber(From v) {
  if constexpr (std::is_same_v<To, uint8_t>) {
    return v != From{} ? 1 : 0;  // bool: NaN is true, as in C++
  } else if constexpr (std::is_same_v<From, uint8_t>) {
    return static_cast<To>(v != 0 ? 1 : 0);
  } else if constexpr (kIsInteger<To> && kIsFloating<From>) {
    // The bounds are powers of two, exact in float and double.
    constexpr auto lo = static_cast<From>(std::numeric_limits<To>::min());
    if (!(v >= lo && v < -lo)) return std::numeric_limits<To>::min();
    return static_cast<To>(v);
  } else if constexpr (std::is_same_v<To, float> && std::is_same_v<From, double>) {
    // Out of float's range the conversion is undefined; IEEE rounding gives
    // the infinities.
    if (v > std::numeric_limits<float>::max()) return std::numeric_limits<float>::infinity();
    if (v < -std::numeric_limits<float>::max()) return -std::numeric_limits<float>::infinity();
    return static_cast<float>(v);
  } else {
    return static_cast<To>(v);
  }
}

// Integer arithmetic that wraps instead of overflowing (signed overflow is
// undefined behaviour, and request data must not reach it).
template <typename T>
T WrapAdd(T a, T b) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
}
template <typename T>
T WrapSub(T a, T b) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
}
template <typename T>
T WrapMul(T a, T b) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
}

// The factory of a kernel class with `static Result<std::unique_ptr<Kernel>>
// Create(const NodeInfo&)`.
template <typename K>
KernelFactory Factory() {
  return [](const NodeInfo& node) { return K::Create(node); };
}

Status RegisterElementwiseKernels(KernelRegistry& registry);
Status RegisterMatmulKernels(KernelRegistry& registry);
Status RegisterShapeKernels(KernelRegistry& registry);
Status RegisterReduceKernels(KernelRegistry& registry);
Status RegisterCastKernels(KernelRegistry& registry);

}  // namespace ferry::serving::onnx::dense
