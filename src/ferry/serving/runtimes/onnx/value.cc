#include "ferry/serving/runtimes/onnx/value.h"

#include <cassert>
#include <utility>

namespace ferry::serving::onnx {

namespace {

// The variant alternative holding each element type's storage.
template <typename T>
constexpr ElemType kTypeOf = ElemType::kFloat;
template <>
constexpr ElemType kTypeOf<double> = ElemType::kDouble;
template <>
constexpr ElemType kTypeOf<int64_t> = ElemType::kInt64;
template <>
constexpr ElemType kTypeOf<int32_t> = ElemType::kInt32;
template <>
constexpr ElemType kTypeOf<std::string> = ElemType::kString;
template <>
constexpr ElemType kTypeOf<uint8_t> = ElemType::kBool;

int64_t Product(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace

std::string_view ElemTypeName(ElemType type) {
  switch (type) {
    case ElemType::kFloat:
      return "float";
    case ElemType::kDouble:
      return "double";
    case ElemType::kInt64:
      return "int64";
    case ElemType::kInt32:
      return "int32";
    case ElemType::kString:
      return "string";
    case ElemType::kBool:
      return "bool";
  }
  return "unknown";
}

Tensor::Tensor(ElemType type, Shape shape) : type_(type), shape_(std::move(shape)) {
  const auto n = static_cast<size_t>(Product(shape_));
  switch (type) {
    case ElemType::kFloat:
      data_ = std::vector<float>(n);
      break;
    case ElemType::kDouble:
      data_ = std::vector<double>(n);
      break;
    case ElemType::kInt64:
      data_ = std::vector<int64_t>(n);
      break;
    case ElemType::kInt32:
      data_ = std::vector<int32_t>(n);
      break;
    case ElemType::kString:
      data_ = std::vector<std::string>(n);
      break;
    case ElemType::kBool:
      data_ = std::vector<uint8_t>(n);
      break;
  }
}

template <typename T>
Tensor Tensor::From(Shape shape, std::vector<T> data) {
  assert(static_cast<int64_t>(data.size()) == Product(shape));
  Tensor t;
  t.type_ = kTypeOf<T>;
  t.shape_ = std::move(shape);
  t.data_ = std::move(data);
  return t;
}

int64_t Tensor::size() const { return Product(shape_); }

template <typename T>
std::span<const T> Tensor::data() const {
  assert(type_ == kTypeOf<T>);
  const auto& v = std::get<std::vector<T>>(data_);
  return {v.data(), v.size()};
}

template <typename T>
std::span<T> Tensor::mutable_data() {
  assert(type_ == kTypeOf<T>);
  auto& v = std::get<std::vector<T>>(data_);
  return {v.data(), v.size()};
}

Tensor Tensor::Reshaped(Shape shape) const& {
  Tensor copy = *this;
  return std::move(copy).Reshaped(std::move(shape));
}

Tensor Tensor::Reshaped(Shape shape) && {
  assert(Product(shape) == Product(shape_));
  Tensor t = std::move(*this);
  t.shape_ = std::move(shape);
  return t;
}

#define FERRY_ONNX_INSTANTIATE(T)                                    \
  template Tensor Tensor::From<T>(Shape shape, std::vector<T> data); \
  template std::span<const T> Tensor::data<T>() const;               \
  template std::span<T> Tensor::mutable_data<T>();

FERRY_ONNX_INSTANTIATE(float)
FERRY_ONNX_INSTANTIATE(double)
FERRY_ONNX_INSTANTIATE(int64_t)
FERRY_ONNX_INSTANTIATE(int32_t)
FERRY_ONNX_INSTANTIATE(std::string)
FERRY_ONNX_INSTANTIATE(uint8_t)

#undef FERRY_ONNX_INSTANTIATE

}  // namespace ferry::serving::onnx
