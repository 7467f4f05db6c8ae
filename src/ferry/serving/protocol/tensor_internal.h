#pragma once
// Helpers shared by the protocol codecs and the input checks: shape
// formatting for messages and IEEE half-precision conversion.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::serving::protocol {

// "[2,-1,4]", as error messages cite shapes.
std::string FormatShape(const std::vector<int64_t>& shape);

// IEEE binary16 bits of `value`, rounded to nearest even (overflow to
// infinity, NaN kept a quiet NaN). Converting from double directly avoids
// the double rounding a detour through float would add.
uint16_t DoubleToHalf(double value);

// The exact value of IEEE binary16 bits (every half is a float).
float HalfToFloat(uint16_t bits);

}  // namespace ferry::serving::protocol
