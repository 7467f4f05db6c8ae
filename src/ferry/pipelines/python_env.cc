#include "ferry/pipelines/python_env.h"

namespace ferry::pipelines {

std::optional<LightweightComponent> ParseLightweightCommand(const std::vector<std::string>&) {
  return std::nullopt;
}
struct PythonEnvs::State {};
PythonEnvs::PythonEnvs(PythonEnvsOptions options) : options_(std::move(options)) {}
Result<std::string> PythonEnvs::EnsureEnv(const std::vector<std::string>&,
                                          const std::vector<std::string>&) {
  return Unimplemented("stub");
}
Result<std::vector<std::string>> PythonEnvs::LocalCommand(const LightweightComponent&,
                                                          const std::string&) {
  return Unimplemented("stub");
}

}  // namespace ferry::pipelines
