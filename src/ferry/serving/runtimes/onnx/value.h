#pragma once
// Values flowing between the nodes of the native ONNX runtime: dense
// tensors of the element types classical-ML graphs use, and the sequence of
// maps that ai.onnx.ml ZipMap produces.
//
// Thread-safety: plain values.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::serving::onnx {

// The ONNX TensorProto.DataType subset the runtime computes with. Graph
// inputs, outputs and Cast targets of any other type are refused at load
// with a message naming the type.
enum class ElemType { kFloat, kDouble, kInt64, kInt32, kString, kBool };

std::string_view ElemTypeName(ElemType type);  // "tensor(float)" style: "float"

using Shape = std::vector<int64_t>;

// A dense, row-major tensor. Bool elements are stored as uint8_t (0/1).
class Tensor {
 public:
  Tensor() = default;
  Tensor(ElemType type, Shape shape);  // zero-filled (empty strings)
  template <typename T>
  static Tensor From(Shape shape, std::vector<T> data);  // size must match

  ElemType type() const { return type_; }
  const Shape& shape() const { return shape_; }
  int64_t size() const;  // element count (1 for a scalar)
  int64_t dim(int i) const { return shape_[static_cast<size_t>(i)]; }
  int rank() const { return static_cast<int>(shape_.size()); }

  // Typed views; T must be the storage type of type(): float, double,
  // int64_t, int32_t, std::string, uint8_t (bool). Checked in debug builds.
  template <typename T>
  std::span<const T> data() const;
  template <typename T>
  std::span<T> mutable_data();

  // Same elements, new shape of the same size (Reshape, Flatten, Squeeze).
  Tensor Reshaped(Shape shape) const&;
  Tensor Reshaped(Shape shape) &&;

 private:
  ElemType type_ = ElemType::kFloat;
  Shape shape_;
  std::variant<std::vector<float>, std::vector<double>, std::vector<int64_t>, std::vector<int32_t>,
               std::vector<std::string>, std::vector<uint8_t>>
      data_;
};

// ZipMap's output: one map a row, every map with the same keys (the class
// labels), so kept as a [rows, keys] float matrix.
struct MapSequence {
  std::vector<int64_t> int64_keys;    // classlabels_int64s, or
  std::vector<std::string> string_keys;  // classlabels_strings
  int64_t rows = 0;
  std::vector<float> values;  // rows x keys
};

using Value = std::variant<Tensor, MapSequence>;

}  // namespace ferry::serving::onnx
