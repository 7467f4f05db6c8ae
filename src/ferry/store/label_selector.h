#pragma once
// Kubernetes label selectors: "a=b,c!=d,e in (x,y),f notin (z),g,!h"
// (also "==" for "="), parsed and matched as Kubernetes does: requirements
// are ANDed, and a missing label satisfies "!=" and "notin". An empty
// selector matches everything.
//
// Thread-safety: a value; const methods are safe from any thread.

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
    std::vector<std::string> values;  // sorted, distinct; one for kEquals/kNotEquals

    bool operator==(const Requirement&) const = default;
  };

  // The selector that matches everything.
  LabelSelector() = default;
  // Parses untrusted text; InvalidArgument (field "labelSelector") names the
  // offending term and its 0-based offset, e.g. "labelSelector: unexpected
  // ')' at 7, expected ...". Keys and values are checked as label keys/values.
  static Result<LabelSelector> Parse(std::string_view text);

  // Whether `labels` satisfy every requirement.
  bool Matches(const std::map<std::string, std::string>& labels) const;
  // Reads metadata.labels of a resource object (absent or malformed: none).
  bool MatchesObject(const Json& object) const;
  // True when there are no requirements.
  bool empty() const { return requirements_.empty(); }
  // The requirements in the order written.
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

}  // namespace ferry::store
