#pragma once
// Private pieces of the pipeline engine (engine.cc) that tests may reach:
// the cache key of a leaf execution and the retry backoff.
//
// Thread-safety: pure functions.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/pipelines/pipeline_spec.h"
#include "ferry/pipelines/placeholders.h"

namespace ferry::pipelines::internal {

// KFP's cache fingerprint (engine.h): SHA-256 over the canonical JSON of the
// component's interface, the container (image, command, args), the resolved
// input parameters and the input artifacts (uri + metadata).
std::string CacheKey(const ComponentSpec& component, const ContainerSpec& container,
                     const std::map<std::string, Json>& parameters,
                     const std::map<std::string, std::vector<RuntimeArtifact>>& artifacts);

// Delay before attempt `failed_attempt + 1`: backoff_seconds *
// backoff_factor^(failed_attempt - 1), capped by backoff_max_seconds.
double RetryBackoffSeconds(const RetryPolicy& policy, int failed_attempt);

// The executor task id of one attempt of a task: "kfp-<run id>-<16 hex
// digits of SHA-256(path)>-<attempt>". The same for the same attempt, so a
// recovered run finds a process started before a crash (engine.h).
std::string ExecutionId(std::string_view run_id, std::string_view path, int attempt);

// An artifact as stored and reported: {name, uri, type: {schemaTitle,
// schemaVersion}, metadata}; the reverse tolerates anything (missing or
// mistyped fields read as defaults).
Json ArtifactToJson(const RuntimeArtifact& artifact);
RuntimeArtifact ArtifactFromJson(const Json& json);

}  // namespace ferry::pipelines::internal
