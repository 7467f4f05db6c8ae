#pragma once
// Operational routes: GET /healthz (the process answers), /readyz (the
// store answers too), /version, and /metrics (Prometheus text format 0.0.4,
// of services.metrics).
//
// Thread-safety: the handlers are thread-safe.

#include <memory>
#include <string>

#include "ferry/api/api_server.h"
#include "ferry/api/router.h"
#include "ferry/common/status.h"

namespace ferry::api {

// Adds the routes to `router`; `services.db` and `services.metrics` must
// outlive it.
Status AddHealthRoutes(Router& router, const ApiServices& services, std::string version);

}  // namespace ferry::api
