#pragma once
// Router: maps a request's method and path to a handler by patterns such as
// "/api/v1/namespaces/{ns}/{plural}/{name}", where a `{param}` segment
// matches any one non-empty path segment (percent-decoded), and a last
// segment `{param...}` matches one or more non-empty segments, given to the
// handler decoded and joined by '/'. When several patterns match, the one
// with a literal segment where the others have a parameter (or a one-segment
// parameter where they have `{param...}`) wins, left to right. A
// `{param...}` pattern is a fallback: it never answers a path that a
// fixed-length pattern matches, whatever the method (that is 405). A path that matches no pattern is 404; one
// that matches only with other methods is 405 with the allowed methods.
//
// The matched pattern, never the raw path, labels metrics, so their
// cardinality stays bounded.
//
// Thread-safety: Add() during start-up only; Match() is then safe from any
// thread.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/api/http_message.h"
#include "ferry/common/status.h"

namespace ferry::api {

using Handler = std::function<HttpResponse(const HttpRequest&)>;

struct RouteOptions {
  // Handlers that may block (store access) run on the server's worker pool;
  // cheap ones that never block (liveness, metrics) run on the I/O thread
  // and so still answer when the pool is saturated.
  bool blocking = true;
  // Largest request body the route accepts; 0: the server's max_body_bytes.
  // For routes that take big uploads (artifacts).
  std::size_t max_body_bytes = 0;
};

struct Route {
  std::string method;
  std::string pattern;
  Handler handler;
  RouteOptions options;
};

// Label of requests that matched no route, for metrics.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

struct RouteMatch {
  enum class Kind { kFound, kMethodNotAllowed, kNotFound, kBadPath };
  Kind kind = Kind::kNotFound;
  const Route* route = nullptr;  // kFound
  std::string pattern;           // kFound and kMethodNotAllowed; else kUnmatchedRoute
  std::map<std::string, std::string> params;
  std::vector<std::string> allowed;  // kMethodNotAllowed
  Status error;                      // kBadPath: why the path is malformed
};

class Router {
 public:
  // Adds `handler` for `method` on `pattern`; InvalidArgument for a
  // malformed pattern, AlreadyExists for a repeated method and pattern.
  Status Add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});

  // Finds the route for `method` on `path` (the encoded path, no query).
  RouteMatch Match(std::string_view method, std::string_view path) const;

 private:
  struct Segment {
    bool param;
    std::string text;  // the literal, or the parameter's name
    bool rest;         // `{name...}`: this and all further segments
  };
  struct Pattern {
    std::string text;
    std::vector<Segment> segments;
    std::vector<std::unique_ptr<Route>> routes;  // one per method
  };

  std::vector<Pattern> patterns_;
};

// Splits "/a/b%2Fc" into decoded segments {"a", "b/c"}; InvalidArgument for
// a path that does not start with '/' or has a malformed escape.
Result<std::vector<std::string>> SplitPath(std::string_view path);

}  // namespace ferry::api
