#pragma once
// The dashboard (web/): its Vite build is embedded into the binary and
// served at the server's root URL, so one file serves API and UI with no
// extra process. The page paths (/pipelines/…, /runs/…, /experiments/…,
// /tuning/…, /models/…, /endpoints/…) answer index.html, which routes on
// the client; /assets/… are the content-hashed scripts and styles, cached
// for a year. Nothing here shadows an API: paths outside those prefixes
// keep their 404.
//
// With `web_root` set (`ferry server --web-root web/dist`), files are read
// from that folder at each request instead, for working on the dashboard
// without relinking; paths are confined to the folder.
//
// Thread-safety: the routes are safe from any thread.

#include <span>
#include <string>
#include <string_view>

#include "ferry/api/router.h"
#include "ferry/common/status.h"

namespace ferry::api {
namespace dashboard {

struct EmbeddedFile {
  std::string_view path;  // relative to the build's root: "index.html", "assets/index-3f2a.js"
  std::string_view data;
};

// The embedded build (generated at build time by embed_dashboard.cmake).
std::span<const EmbeddedFile> EmbeddedFiles();

// The Content-Type served for `path`, by its extension.
std::string_view ContentTypeFor(std::string_view path);

}  // namespace dashboard

struct DashboardOptions {
  std::string web_root;  // empty: the embedded build
};

Status AddDashboardRoutes(Router& router, DashboardOptions options);

}  // namespace ferry::api
