// Cast between the runtime's element types, as onnxruntime converts:
// numbers to strings with printf's "%.8g" ("NaN", "INF", "-INF" for the
// specials), strings to numbers with strtod/strtoll (a numeric prefix is
// enough, nothing parseable or out of range is an error), floating values to
// integers truncated (NaN and out of range: the type's minimum).
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "ferry/common/strings.h"
#include "ferry/serving/runtimes/onnx/dense/dense_internal.h"
#include "onnx/onnx_pb.h"

namespace ferry::serving::onnx::dense {

namespace {

template <typename From>
std::string NumberToString(From v) {
  if constexpr (std::is_same_v<From, uint8_t>) {
    return v != 0 ? "1" : "0";
  } else if constexpr (kIsFloating<From>) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "INF" : "-INF";
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.8g", static_cast<double>(v));
    return buf;
  } else {
    return std::to_string(v);
  }
}

Result<double> ParseDouble(const std::string& s) {
  const char* begin = s.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(begin, &end);
  if (end == begin || errno == ERANGE) return InvalidArgument("cannot convert " + QuoteForMessage(s, 60));
  return v;
}

Result<int64_t> ParseInt(const std::string& s) {
  const char* begin = s.c_str();
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(begin, &end, 10);
  if (end == begin || errno == ERANGE) return InvalidArgument("cannot convert " + QuoteForMessage(s, 60));
  return static_cast<int64_t>(v);
}

template <typename To>
Result<To> StringToNumber(const std::string& s) {
  if constexpr (kIsFloating<To>) {
    ASSIGN_OR_RETURN(double v, ParseDouble(s));
    return ConvertNumber<To>(v);
  } else if constexpr (std::is_same_v<To, uint8_t>) {
    std::string lower;
    for (char c : s) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    if (lower == "true") return To{1};
    if (lower == "false") return To{0};
    ASSIGN_OR_RETURN(double v, ParseDouble(s));
    return ConvertNumber<To>(v);
  } else {
    ASSIGN_OR_RETURN(int64_t v, ParseInt(s));
    return static_cast<To>(v);  // wraps for int32, as onnxruntime
  }
}

class CastKernel final : public DenseKernel {
 public:
  static Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) {
    RETURN_IF_ERROR(CheckArity(node, 1, 1));
    int to = 0;
    if (node.opset() < 6 && node.String("to").ok()) {
      // Opset 1 names the type: "FLOAT".
      ::onnx::TensorProto::DataType parsed{};
      ASSIGN_OR_RETURN(std::string name, node.String("to"));
      if (!::onnx::TensorProto::DataType_Parse(name, &parsed)) {
        return node.Error("attribute 'to' names no type: " + QuoteForMessage(name, 60));
      }
      to = parsed;
    } else {
      ASSIGN_OR_RETURN(int64_t v, node.Int("to"));
      to = static_cast<int>(v);
    }
    ElemType target;
    switch (to) {
      case ::onnx::TensorProto::FLOAT:
        target = ElemType::kFloat;
        break;
      case ::onnx::TensorProto::DOUBLE:
        target = ElemType::kDouble;
        break;
      case ::onnx::TensorProto::INT64:
        target = ElemType::kInt64;
        break;
      case ::onnx::TensorProto::INT32:
        target = ElemType::kInt32;
        break;
      case ::onnx::TensorProto::STRING:
        target = ElemType::kString;
        break;
      case ::onnx::TensorProto::BOOL:
        target = ElemType::kBool;
        break;
      default: {
        const std::string name = ::onnx::TensorProto::DataType_IsValid(to)
                                     ? ::onnx::TensorProto::DataType_Name(to)
                                     : std::to_string(to);
        return node.Error(
            "casting to " + name +
            " is not supported; the native runtime computes with float, double, int64, int32, string "
            "and bool");
      }
    }
    return std::unique_ptr<Kernel>(new CastKernel(node, target));
  }

  Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const override {
    ASSIGN_OR_RETURN(const Tensor* x, In(inputs, 0));
    if (x->type() == to_) {
      outputs[0] = *x;
      return Status::OK();
    }
    return VisitType(x->type(), [&](auto from_tag) -> Status {
      using From = typename decltype(from_tag)::type;
      return VisitType(to_, [&](auto to_tag) -> Status {
        using To = typename decltype(to_tag)::type;
        Tensor o(to_, x->shape());
        auto in = x->data<From>();
        auto out = o.mutable_data<To>();
        for (size_t i = 0; i < in.size(); ++i) {
          if constexpr (std::is_same_v<From, std::string> && std::is_same_v<To, std::string>) {
            out[i] = in[i];
          } else if constexpr (std::is_same_v<From, std::string>) {
            auto v = StringToNumber<To>(in[i]);
            if (!v.ok()) return Error(v.status().message() + " to " + std::string(ElemTypeName(to_)));
            out[i] = *v;
          } else if constexpr (std::is_same_v<To, std::string>) {
            out[i] = NumberToString(in[i]);
          } else {
            out[i] = ConvertNumber<To>(in[i]);
          }
        }
        outputs[0] = std::move(o);
        return Status::OK();
      });
    });
  }

 private:
  CastKernel(const NodeInfo& node, ElemType to) : DenseKernel(node), to_(to) {}
  ElemType to_;
};

}  // namespace

Status RegisterCastKernels(KernelRegistry& r) { return r.Register("", "Cast", Factory<CastKernel>()); }

}  // namespace ferry::serving::onnx::dense
