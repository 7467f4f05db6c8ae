// Placeholder until the pruners land.
#include "ferry/tuning/pruner.h"

namespace ferry::tuning {

Result<std::unique_ptr<Pruner>> MakePruner(std::string_view, const std::map<std::string, std::string>&) {
  return Unimplemented("not implemented yet");
}

}  // namespace ferry::tuning
