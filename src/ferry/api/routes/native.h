#pragma once
// The native resource API (docs/api.md): discovery at GET /api/v1, and for
// every kind registered in ResourceTypes, list/watch, create, get, replace,
// merge patch, delete and the status subresource under
// /api/v1/namespaces/{ns}/{plural}[/{name}[/status]], plus list/watch
// across namespaces at /api/v1/{plural}.
//
// Handlers validate everything from the URL, the query and the body before
// the store sees it (ResourceTypes::ValidateObject), and map failures to the
// native error shape through errors.h.
//
// Thread-safety: the handlers are thread-safe.

#include <cstddef>

#include "ferry/api/api_server.h"
#include "ferry/api/router.h"
#include "ferry/common/status.h"

namespace ferry::api {

// Adds the routes to `router`; `services.resources` and `services.types`
// must outlive it. A watch stream is ended when its client lags more than
// `max_watch_backlog` events behind.
Status AddNativeRoutes(Router& router, const ApiServices& services, std::size_t max_watch_backlog);

}  // namespace ferry::api
