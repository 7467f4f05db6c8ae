#pragma once
// The ask/tell surface over tuning::StudyService (/api/v1/tuning/studies),
// added when ApiServices has `studies`: Optuna-style studies created, read,
// listed and deleted; trials asked, reported, checked for pruning and told.
// Ferry's Python SDK (python/ferry/tune.py) talks to it.
//
//   POST   /api/v1/tuning/studies                          create (201; 200 when
//                                                          load_if_exists found it)
//   GET    /api/v1/tuning/studies?page_size=&page_token=   list
//   GET    /api/v1/tuning/studies/{name}                   get; DELETE deletes
//   POST   /api/v1/tuning/studies/{name}/trials            ask (201; 503 with
//          Retry-After while the sampler waits, 409 when it has nothing left)
//   GET    /api/v1/tuning/studies/{name}/trials[/{number}]
//   POST   /api/v1/tuning/studies/{name}/trials/{number}/tell|report
//   GET    /api/v1/tuning/studies/{name}/trials/{number}/should-prune
//   GET    /api/v1/tuning/studies/{name}/best-trial        404 while none is complete
//
// Bodies are JSON objects with snake_case fields (json_internal.h has the
// Study, Dist and Trial shapes); numbers that JSON cannot carry are the
// strings "NaN", "Infinity" and "-Infinity"; errors have the native shape
// {"error": {"code", "message", "field"}} (errors.h).
//
// Every input is checked at the edge: unknown fields and query parameters,
// wrong JSON types, non-integer trial numbers and steps, oversize names and
// lists are 400 naming the field; the service's own errors name the field
// in the request's words ("distributions[2].low", "sampler_settings.x",
// "fixed_params.lr"), not Katib's.
//
// Thread-safety: the handlers are thread-safe.

#include "ferry/api/api_server.h"
#include "ferry/api/router.h"
#include "ferry/common/status.h"

// Not ferry::api::tuning, which would hide ferry::tuning inside ferry::api.
namespace ferry::api::studies {

inline constexpr char kStudies[] = "/api/v1/tuning/studies";

Status AddTuningRoutes(Router& router, const ApiServices& services);

// One function a resource, each in its own file.
Status AddStudyRoutes(Router& router, const ApiServices& services);  // studies.cc
Status AddTrialRoutes(Router& router, const ApiServices& services);  // trials.cc

}  // namespace ferry::api::studies
