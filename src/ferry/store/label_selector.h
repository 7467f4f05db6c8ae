#pragma once
// Kubernetes label selectors: "a=b,c!=d,e in (x,y),f notin (z),g,!h"
// (also "==" for "="). An empty selector matches everything.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/json.h"

namespace ferry::store {

class LabelSelector {
 public:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };

  LabelSelector() = default;
  // Errors name the offending term, e.g. "labelSelector: unexpected ')' at 7".
  static Result<LabelSelector> Parse(std::string_view text);

  bool Matches(const std::map<std::string, std::string>& labels) const;
  // Reads metadata.labels of a resource object.
  bool MatchesObject(const Json& object) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

}  // namespace ferry::store
