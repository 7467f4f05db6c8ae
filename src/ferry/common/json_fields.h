#pragma once
// Helpers of the validators of resource specs (Katib Experiment, KServe
// InferenceService), whose errors name the field at fault.
//
// Thread-safety: plain functions.

#include <string>
#include <string_view>

#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry {

// The member `key` of object `obj`, or nullptr when it is absent or null.
const Json* FindField(const Json& obj, std::string_view key);
// InvalidArgument "<field> must be <want>, not <type>", naming `field`.
Status WrongTypeError(const std::string& field, std::string_view want, const Json& got);
// InvalidArgument "<field> is required", naming `field`.
Status RequiredFieldError(const std::string& field);

}  // namespace ferry
