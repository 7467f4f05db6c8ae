#include "ferry/common/json_fields.h"

namespace ferry {

const Json* FindField(const Json& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

Status WrongTypeError(const std::string& field, std::string_view want, const Json& got) {
  return InvalidArgument(field + " must be " + std::string(want) + ", not " + std::string(JsonTypeName(got)),
                         field);
}

Status RequiredFieldError(const std::string& field) { return InvalidArgument(field + " is required", field); }

}  // namespace ferry
