// Placeholder until the algorithm lands (the helper that owns this file replaces it).
#include "ferry/tuning/samplers_internal.h"

namespace ferry::tuning::internal {

Result<std::unique_ptr<Sampler>> MakeCmaEsSampler(AlgorithmSettings&, const SearchSpace&, std::uint64_t) {
  return Unimplemented("not implemented yet");
}

}  // namespace ferry::tuning::internal
