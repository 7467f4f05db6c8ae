#include "ferry/api/routes/dashboard.h"

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "ferry/api/codec.h"
#include "ferry/api/errors.h"

namespace ferry::api {
namespace dashboard {

std::string_view ContentTypeFor(std::string_view path) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},     {".json", "application/json"},
      {".svg", "image/svg+xml"},               {".png", "image/png"},
      {".ico", "image/x-icon"},                {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},   {".map", "application/json"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext) return type;
  }
  return "application/octet-stream";
}

}  // namespace dashboard

namespace {

// The client-side pages; each answers index.html at its root and below.
constexpr std::string_view kPages[] = {"pipelines", "runs", "experiments", "tuning", "models", "endpoints"};

// Where the files come from: the embedded build or a folder on disk.
class FileSource {
 public:
  explicit FileSource(std::string web_root) : web_root_(std::move(web_root)) {
    for (const auto& f : dashboard::EmbeddedFiles()) embedded_.emplace(f.path, f.data);
  }

  bool from_disk() const { return !web_root_.empty(); }

  // The file's bytes, or nullopt when there is no such file. `path` is
  // relative, its segments already checked by Confined().
  std::optional<std::string> Read(const std::string& path) const {
    if (!from_disk()) {
      auto it = embedded_.find(path);
      if (it == embedded_.end()) return std::nullopt;
      return std::string(it->second);
    }
    std::ifstream in(web_root_ + "/" + path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    return std::move(out).str();
  }

 private:
  std::string web_root_;
  std::unordered_map<std::string_view, std::string_view> embedded_;
};

// A relative path with no empty, "." or ".." segment, no backslash and no
// control character: it cannot leave the web root.
bool Confined(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    start = end + 1;
  }
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  }
  return true;
}

HttpResponse FileResponse(const std::string& path, std::string body, bool immutable) {
  HttpResponse response = TextResponse(200, std::string(dashboard::ContentTypeFor(path)), std::move(body));
  response.headers.Set("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  response.headers.Set("X-Content-Type-Options", "nosniff");
  if (path.ends_with(".html")) {
    // The UI talks only to this server; inline styles are React's style attributes.
    response.headers.Set("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                         "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'");
    response.headers.Set("Referrer-Policy", "same-origin");
  }
  return response;
}

HttpResponse NotFound(const std::string& what) {
  return ErrorResponse(ApiError{404, "NotFound", what + " is not part of the dashboard", ""});
}

}  // namespace

Status AddDashboardRoutes(Router& router, DashboardOptions options) {
  auto files = std::make_shared<const FileSource>(std::move(options.web_root));
  const RouteOptions route_options{.blocking = files->from_disk()};

  auto index = [files](const HttpRequest&) {
    auto body = files->Read("index.html");
    if (!body) return NotFound("index.html");
    return FileResponse("index.html", std::move(*body), false);
  };
  RETURN_IF_ERROR(router.Add("GET", "/", index, route_options));
  for (std::string_view page : kPages) {
    RETURN_IF_ERROR(router.Add("GET", "/" + std::string(page), index, route_options));
    RETURN_IF_ERROR(router.Add("GET", "/" + std::string(page) + "/{rest...}", index, route_options));
  }
  RETURN_IF_ERROR(router.Add(
      "GET", "/assets/{file...}",
      [files](const HttpRequest& request) {
        const std::string path = "assets/" + request.Param("file");
        if (!Confined(path)) return NotFound("/" + path);
        auto body = files->Read(path);
        if (!body) return NotFound("/" + path);
        // Vite puts a content hash in every asset's name: a changed file is a new name.
        return FileResponse(path, std::move(*body), true);
      },
      route_options));
  return Status::OK();
}

}  // namespace ferry::api
