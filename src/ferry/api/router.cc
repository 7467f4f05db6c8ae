#include "ferry/api/router.h"

#include <algorithm>
#include <set>

namespace ferry::api {
namespace {

std::vector<std::string_view> RawSegments(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  while (true) {
    std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> SplitPath(std::string_view path) {
  if (path.empty() || path.front() != '/') return InvalidArgument("request path must start with '/'");
  std::vector<std::string> out;
  for (std::string_view raw : RawSegments(path)) {
    auto decoded = PercentDecode(raw, /*plus_as_space=*/false);
    if (!decoded.ok()) return InvalidArgument("malformed request path: " + decoded.status().message());
    out.push_back(std::move(decoded).value());
  }
  return out;
}

Status Router::Add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
  if (pattern.empty() || pattern.front() != '/')
    return InvalidArgument("route pattern '" + pattern + "' must start with '/'");
  std::vector<Segment> segments;
  std::set<std::string> names;
  for (std::string_view raw : RawSegments(pattern)) {
    if (!segments.empty() && segments.back().rest)
      return InvalidArgument("route pattern '" + pattern + "' has segments after a '{name...}' parameter");
    if (raw.size() >= 2 && raw.front() == '{' && raw.back() == '}') {
      std::string name(raw.substr(1, raw.size() - 2));
      bool rest = name.size() > 3 && name.ends_with("...");
      if (rest) name.resize(name.size() - 3);
      if (name.empty() || name.find('.') != std::string::npos || !names.insert(name).second)
        return InvalidArgument("route pattern '" + pattern + "' has an empty, malformed or repeated parameter");
      segments.push_back({true, std::move(name), rest});
    } else {
      if (raw.find_first_of("{}") != std::string_view::npos)
        return InvalidArgument("route pattern '" + pattern + "' has a malformed parameter segment");
      segments.push_back({false, std::string(raw), false});
    }
  }
  auto it =
      std::find_if(patterns_.begin(), patterns_.end(), [&](const Pattern& p) { return p.text == pattern; });
  if (it == patterns_.end()) {
    patterns_.push_back({pattern, std::move(segments), {}});
    it = patterns_.end() - 1;
  }
  for (const auto& route : it->routes)
    if (route->method == method)
      return AlreadyExists("route " + method + " " + pattern + " is already registered");
  it->routes.push_back(
      std::make_unique<Route>(Route{std::move(method), std::move(pattern), std::move(handler), options}));
  return Status::OK();
}

RouteMatch Router::Match(std::string_view method, std::string_view path) const {
  RouteMatch match;
  match.pattern = std::string(kUnmatchedRoute);
  auto segments = SplitPath(path);
  if (!segments.ok()) {
    match.kind = RouteMatch::Kind::kBadPath;
    match.error = segments.status();
    return match;
  }

  std::vector<const Pattern*> candidates;
  for (const auto& pattern : patterns_) {
    const bool rest = pattern.segments.back().rest;
    if (rest ? segments->size() < pattern.segments.size() : pattern.segments.size() != segments->size())
      continue;
    bool ok = true;
    for (std::size_t i = 0; ok && i < segments->size(); ++i) {
      const Segment& s = pattern.segments[std::min(i, pattern.segments.size() - 1)];
      ok = s.param ? !(*segments)[i].empty() : s.text == (*segments)[i];
    }
    if (ok) candidates.push_back(&pattern);
  }
  if (candidates.empty()) return match;
  // A '{name...}' pattern is a fallback: a path that some fixed-length
  // pattern matches is answered by those only (405 if none of them has the
  // method), never by the rest parameter.
  if (std::any_of(candidates.begin(), candidates.end(), [](const Pattern* p) { return !p->segments.back().rest; }))
    std::erase_if(candidates, [](const Pattern* p) { return p->segments.back().rest; });

  // Most specific first: a literal beats a parameter at the first position
  // where two patterns differ.
  // A one-segment parameter beats a '{name...}' one.
  std::stable_sort(candidates.begin(), candidates.end(), [](const Pattern* a, const Pattern* b) {
    for (std::size_t i = 0; i < std::min(a->segments.size(), b->segments.size()); ++i) {
      const Segment& x = a->segments[i];
      const Segment& y = b->segments[i];
      if (x.param != y.param) return !x.param;
      if (x.rest != y.rest) return !x.rest;
    }
    return false;
  });

  std::set<std::string> allowed;
  for (const Pattern* pattern : candidates) {
    for (const auto& route : pattern->routes) {
      if (route->method != method) {
        allowed.insert(route->method);
        continue;
      }
      match.kind = RouteMatch::Kind::kFound;
      match.route = route.get();
      match.pattern = pattern->text;
      for (std::size_t i = 0; i < segments->size(); ++i) {
        const Segment& s = pattern->segments[std::min(i, pattern->segments.size() - 1)];
        if (!s.param) continue;
        std::string& value = match.params[s.text];
        if (!value.empty()) value += '/';
        value += (*segments)[i];
      }
      return match;
    }
  }
  match.kind = RouteMatch::Kind::kMethodNotAllowed;
  match.pattern = candidates.front()->text;
  match.allowed.assign(allowed.begin(), allowed.end());
  return match;
}

}  // namespace ferry::api
