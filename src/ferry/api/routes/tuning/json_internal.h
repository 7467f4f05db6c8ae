#pragma once
// The JSON of the ask/tell surface and its mapping to tuning's types.
//
//   Study: {"name", "study_id", "direction", "sampler", "sampler_settings",
//           "pruner", "pruner_settings", "seed", "metric_names",
//           "distributions": [Dist...], "created": RFC 3339,
//           "counts": {"running", "complete", "pruned", "failed"},
//           "best_trial": Trial | null}
//   Dist:  {"name", "type": "float"|"int"|"discrete"|"categorical",
//           float/int: "low", "high", "log" (false), "step" (optional);
//           discrete: "values": [num]; categorical: "choices": [str|num|bool]}
//   Trial: {"number", "state": "RUNNING"|"COMPLETE"|"PRUNED"|"FAILED",
//           "params": {name: value}, "value": num | null,
//           "intermediate_values": {"<step>": num}}
//
// A param value is a JSON integer for an int parameter, a number for float
// and discrete ones, and the choice's string for a categorical one (a
// non-string choice was stored as its JSON text: 1 -> "1", true -> "true").
// Numbers JSON cannot carry are "NaN", "Infinity" and "-Infinity".
//
// Parsing refuses, naming the field: unknown fields, wrong JSON types,
// fields that do not belong to the distribution's type, non-integral
// integers, and names, lists and maps beyond the limits below.
//
// Thread-safety: stateless functions.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/tuning/study_service.h"

namespace ferry::api::studies {

inline constexpr std::size_t kMaxDistributions = 1000;
inline constexpr std::size_t kMaxListItems = 10000;  // values, choices
inline constexpr std::size_t kMaxMapEntries = 100;   // settings; metric names
inline constexpr std::size_t kMaxTextBytes = 1024;   // names, choices, settings

struct CreateStudyRequest {
  tuning::StudyConfig config;
  bool load_if_exists = false;
};

struct TellRequest {
  tuning::TrialState state = tuning::TrialState::kComplete;
  std::optional<double> value;
};

struct ReportRequest {
  std::int64_t step = 0;
  double value = 0;
};

// InvalidArgument naming `path.<field>` (or `<field>` at the top) for the
// first field of `object` not in `allowed`.
Status CheckFields(const Json& object, std::initializer_list<std::string_view> allowed,
                   std::string_view path);

Result<CreateStudyRequest> ParseCreateStudy(const Json& body);
// The ask body's fixed_params (absent or null: none), as values of `space`.
Result<tuning::FixedParams> ParseAsk(const Json& body, const tuning::SearchSpace& space);
Result<TellRequest> ParseTell(const Json& body);
Result<ReportRequest> ParseReport(const Json& body);

Json StudyToJson(const tuning::StudyInfo& study);
Json TrialToJson(const tuning::SearchSpace& space, const tuning::Trial& trial);
std::string_view TrialStateName(tuning::TrialState state);  // "RUNNING", ..., "FAILED"

// The service's error with its field in the request's words: Katib's
// "spec.parameters[2].feasibleSpace.min" becomes "distributions[2].low",
// "spec.algorithm.algorithmSettings[x]" "sampler_settings.x", "params.lr"
// "fixed_params.lr". `space` (may be null) tells a discrete list from a
// categorical one.
Status InRequestTerms(const Status& status, const tuning::SearchSpace* space);

}  // namespace ferry::api::studies
