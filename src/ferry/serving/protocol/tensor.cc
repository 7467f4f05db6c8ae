#include "ferry/serving/protocol/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ferry/common/strings.h"
#include "ferry/serving/protocol/tensor_internal.h"

namespace ferry::serving::protocol {

std::string FormatShape(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(shape[i]);
  }
  out += ']';
  return out;
}

uint16_t DoubleToHalf(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const auto sign = static_cast<uint16_t>((bits >> 48) & 0x8000);
  const int exp_bits = static_cast<int>((bits >> 52) & 0x7ff);
  const uint64_t mantissa = bits & ((uint64_t{1} << 52) - 1);
  if (exp_bits == 0x7ff) return sign | (mantissa != 0 ? 0x7e00 : 0x7c00);
  if (exp_bits == 0) return sign;  // zero or a double subnormal, far below half's range
  const int exp = exp_bits - 1023;
  if (exp > 15) return sign | 0x7c00;
  // Keep the top bits that fit and round on the rest; a carry out of the
  // mantissa correctly bumps the exponent (and 65520 and up becomes inf).
  uint64_t full = mantissa;
  int shift = 42;  // 52 - 10 mantissa bits
  uint32_t base = 0;
  if (exp >= -14) {
    base = static_cast<uint32_t>(exp + 15) << 10;
  } else {
    full |= uint64_t{1} << 52;  // subnormal half: the implicit bit becomes explicit
    shift = 42 + (-14 - exp);
    if (shift > 53) return sign;  // below half the smallest subnormal
  }
  const uint64_t kept = full >> shift;
  const uint64_t rest = full & ((uint64_t{1} << shift) - 1);
  const uint64_t halfway = uint64_t{1} << (shift - 1);
  uint32_t h = base + static_cast<uint32_t>(kept);
  if (rest > halfway || (rest == halfway && (h & 1) != 0)) ++h;
  return static_cast<uint16_t>(sign | h);
}

float HalfToFloat(uint16_t bits) {
  const float sign = (bits & 0x8000) != 0 ? -1.0f : 1.0f;
  const int exp = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  if (exp == 0x1f) {
    return mantissa != 0 ? std::numeric_limits<float>::quiet_NaN()
                         : sign * std::numeric_limits<float>::infinity();
  }
  if (exp == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);
  return sign * std::ldexp(static_cast<float>(mantissa | 0x400), exp - 25);
}

Result<int64_t> ElementCount(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  bool overflow = false;
  for (int64_t dim : shape) {
    if (dim < 0) {
      return InvalidArgument("shape " + FormatShape(shape) + " has a negative dimension");
    }
    if (!overflow && __builtin_mul_overflow(count, dim, &count)) overflow = true;
  }
  // A zero dimension empties the tensor whatever the others say.
  for (int64_t dim : shape) {
    if (dim == 0) return int64_t{0};
  }
  if (overflow) return InvalidArgument("shape " + FormatShape(shape) + " has too many elements");
  return count;
}

Status CheckTensorData(const Tensor& t) {
  const std::string who = "input " + QuoteForMessage(t.name) + ": " + std::string(DataTypeName(t.datatype)) +
                          " " + FormatShape(t.shape);
  auto count = ElementCount(t.shape);
  if (!count.ok()) return InvalidArgument(who + ": " + count.status().message());
  const std::size_t size = t.data.size();
  if (t.datatype != DataType::kBytes) {
    const std::size_t element = ElementSize(t.datatype);
    if (static_cast<uint64_t>(*count) > std::numeric_limits<std::size_t>::max() / element) {
      return InvalidArgument(who + ": too many elements");
    }
    const std::size_t need = static_cast<std::size_t>(*count) * element;
    if (need != size) {
      return InvalidArgument(who + " needs " + std::to_string(need) + " bytes, got " + std::to_string(size));
    }
    if (t.datatype == DataType::kBool) {
      // Runtimes read BOOL bytes as 0 or 1; binary bodies could carry anything.
      for (std::size_t i = 0; i < size; ++i) {
        const auto b = static_cast<unsigned char>(t.data[i]);
        if (b > 1) {
          return InvalidArgument(who + ": element " + std::to_string(i) + " is " + std::to_string(b) +
                                 ", not 0 or 1");
        }
      }
    }
    return Status::OK();
  }
  return BytesElements(t).status();
}

Result<std::vector<std::string_view>> BytesElements(const Tensor& t) {
  const std::string who = "input " + QuoteForMessage(t.name) + ": " + std::string(DataTypeName(t.datatype)) +
                          " " + FormatShape(t.shape);
  auto counted = ElementCount(t.shape);
  if (!counted.ok()) return InvalidArgument(who + ": " + counted.status().message());
  const int64_t count = *counted;
  const std::size_t size = t.data.size();
  std::vector<std::string_view> elements;
  // Each element needs at least its 4-byte prefix: a huge shape reserves no
  // more than the data could hold (the walk below then names where it fails).
  elements.reserve(std::min(static_cast<std::size_t>(count), size / 4));
  std::size_t pos = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (size - pos < 4) {
      return InvalidArgument(who + ": element " + std::to_string(i) + " needs a 4-byte length at offset " +
                             std::to_string(pos) + ", but the data end at " + std::to_string(size));
    }
    uint32_t len;
    std::memcpy(&len, t.data.data() + pos, 4);  // little-endian hosts only (x86-64, aarch64)
    pos += 4;
    if (len > size - pos) {
      return InvalidArgument(who + ": element " + std::to_string(i) + " is " + std::to_string(len) +
                             " bytes long, but only " + std::to_string(size - pos) + " bytes remain");
    }
    elements.emplace_back(t.data.data() + pos, len);
    pos += len;
  }
  if (pos != size) {
    return InvalidArgument(who + ": " + std::to_string(size - pos) + " bytes left over after its " +
                           std::to_string(count) + " elements");
  }
  return elements;
}

void AppendBytesElement(std::string& data, std::string_view element) {
  const auto len = static_cast<uint32_t>(element.size());
  const char prefix[4] = {static_cast<char>(len & 0xff), static_cast<char>((len >> 8) & 0xff),
                          static_cast<char>((len >> 16) & 0xff), static_cast<char>((len >> 24) & 0xff)};
  data.append(prefix, 4);
  data.append(element);
}

}  // namespace ferry::serving::protocol
