// The MLflow artifact proxy, /api/2.0/mlflow-artifacts/... (MLflow's
// server/handlers.py _upload_artifact, _download_artifact,
// _list_artifacts_mlflow_artifacts, _delete_artifact_mlflow_artifacts and
// the mpu/create|complete|abort handlers), over Ferry's ArtifactStore:
// `mlflow-artifacts:/X` is the store path `mlflow/X`.
//
// Multipart uploads (used by the client when
// MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true) are staged in the store under
// `mlflow-mpu/<upload_id>/`, outside what the proxy serves: create records
// the destination and hands out one URL per part pointing back at
// PUT /api/2.0/mlflow-artifacts/mpu/part/<upload_id>/<part_number>; complete
// streams the parts, in part-number order, into one ArtifactWriter whose
// Commit makes the file appear atomically; abort removes the staging area.
// MLflow's own server has no multipart support for local storage; this is
// what lets files larger than the request body limit through.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <map>

#include "ferry/api/routes/mlflow/artifacts_internal.h"
#include "ferry/api/routes/mlflow/common.h"
#include "ferry/api/routes/mlflow/routes.h"
#include "ferry/artifacts/artifact_store.h"
#include "ferry/common/env.h"
#include "ferry/common/strings.h"

namespace ferry::api::mlflow {
namespace {

using artifacts::ArtifactInfo;
using artifacts::ArtifactStore;

constexpr std::string_view kMpuPrefix = "mlflow-mpu";
constexpr std::int64_t kMaxParts = 10000;  // as S3
constexpr std::size_t kCopyChunk = 1 << 20;

std::string_view Basename(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string Join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return std::string(a) + "/" + std::string(b);
}

std::string StorePath(std::string_view client_path) { return Join(kMlflowArtifactPrefix, client_path); }

// MLflow's _guess_mime_type: its text extensions (and MLmodel / MLproject)
// are text/plain; otherwise what Python's mimetypes says for common types;
// anything else application/octet-stream.
std::string MimeType(std::string_view filename) {
  std::string ext;
  if (const std::size_t dot = filename.rfind('.'); dot != std::string_view::npos && dot != 0)
    ext = std::string(filename.substr(dot + 1));
  if (ext.empty()) ext = std::string(filename);
  static const std::map<std::string, std::string, std::less<>> kTypes = {
      {"txt", "text/plain"},        {"log", "text/plain"},
      {"err", "text/plain"},        {"cfg", "text/plain"},
      {"conf", "text/plain"},       {"cnf", "text/plain"},
      {"cf", "text/plain"},         {"ini", "text/plain"},
      {"properties", "text/plain"}, {"prop", "text/plain"},
      {"hocon", "text/plain"},      {"toml", "text/plain"},
      {"yaml", "text/plain"},       {"yml", "text/plain"},
      {"xml", "text/plain"},        {"json", "text/plain"},
      {"js", "text/plain"},         {"py", "text/plain"},
      {"py3", "text/plain"},        {"csv", "text/plain"},
      {"tsv", "text/plain"},        {"md", "text/plain"},
      {"rst", "text/plain"},        {"ipynb", "text/plain"},
      {"MLmodel", "text/plain"},    {"MLproject", "text/plain"},
      {"png", "image/png"},         {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},       {"gif", "image/gif"},
      {"bmp", "image/bmp"},         {"svg", "image/svg+xml"},
      {"webp", "image/webp"},       {"tif", "image/tiff"},
      {"tiff", "image/tiff"},       {"ico", "image/vnd.microsoft.icon"},
      {"html", "text/html"},        {"htm", "text/html"},
      {"css", "text/css"},          {"pdf", "application/pdf"},
      {"zip", "application/zip"},   {"tar", "application/x-tar"},
      {"mp3", "audio/mpeg"},        {"wav", "audio/x-wav"},
      {"mp4", "video/mp4"},         {"gz", "application/octet-stream"}};
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

// MLflow's _content_disposition_attachment: a bare token when the name is
// one, else a quoted string; non-ASCII names get an ASCII fallback and an
// RFC 5987 filename*.
std::string ContentDisposition(std::string_view filename) {
  static constexpr std::string_view kTokenChars =
      "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~";
  auto quote = [](std::string_view s) {
    if (!s.empty() && s.find_first_not_of(kTokenChars) == std::string_view::npos) return std::string(s);
    std::string q = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    return q + "\"";
  };
  const bool ascii = std::all_of(filename.begin(), filename.end(), [](char c) { return (c & 0x80) == 0; });
  if (ascii) return "attachment; filename=" + quote(filename);
  // NFKD-then-ASCII as MLflow does, for the Latin-1 letters that decompose;
  // other non-ASCII characters are dropped.
  static constexpr std::string_view kLatin1 =
      "AAAAAA-CEEEEIIII-NOOOOO--UUUUY--aaaaaa-ceeeeiiii-nooooo--uuuuy-y";
  static_assert(kLatin1.size() == 64);
  std::string fallback;
  for (std::size_t i = 0; i < filename.size();) {
    char32_t cp = 0;
    std::size_t n = DecodeUtf8(filename, i, &cp);
    if (n == 0) n = 1;
    if (cp < 0x80)
      fallback += static_cast<char>(cp);
    else if (cp >= 0xC0 && cp <= 0xFF && kLatin1[cp - 0xC0] != '-')
      fallback += kLatin1[cp - 0xC0];
    i += n;
  }
  if (fallback.empty()) fallback = "download";
  static constexpr std::string_view kSafe = "!#$&+-.^_`|~";
  std::string encoded;
  for (unsigned char c : filename) {
    if (std::isalnum(c) && c < 0x80) {
      encoded += static_cast<char>(c);
    } else if (kSafe.find(static_cast<char>(c)) != std::string_view::npos) {
      encoded += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      encoded += '%';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 15];
    }
  }
  return "attachment; filename=" + quote(fallback) + "; filename*=UTF-8''" + encoded;
}

std::uint64_t Fnv1a(std::uint64_t h, std::string_view data) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}
constexpr std::uint64_t kFnvBasis = 14695981039346656037ULL;

std::string Etag(std::uint64_t hash) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "\"%016llx\"", static_cast<unsigned long long>(hash));
  return buf;
}

std::string Unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

std::string PartPath(std::string_view upload_id, std::int64_t part) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "part-%05lld", static_cast<long long>(part));
  return Join(Join(kMpuPrefix, upload_id), buf);
}

std::string MetaPath(std::string_view upload_id) { return Join(Join(kMpuPrefix, upload_id), "meta.json"); }

Status ValidateUploadId(std::string_view id) {
  if (id.size() != 32 || id.find_first_not_of("0123456789abcdef") != std::string_view::npos)
    return InvalidArgument("Invalid upload_id " + QuoteForMessage(id), "upload_id");
  return Status::OK();
}

// "http://host:port" of the request, for URLs handed back to the client.
std::string BaseUrl(const HttpRequest& request) {
  std::string_view proto = request.headers.Get("X-Forwarded-Proto");
  std::string scheme = proto == "https" ? "https" : "http";
  std::string_view host = request.headers.Get("Host");
  return scheme + "://" + std::string(host.empty() ? "127.0.0.1" : host);
}

// The directory a multipart route names ({path...}, possibly absent) plus
// the basename of the client's local file.
Result<std::string> MpuTarget(const HttpRequest& request, const Json& body) {
  const std::string& dir = request.Param("path");
  if (!dir.empty()) RETURN_IF_ERROR(ValidateClientPath(dir));
  ASSIGN_OR_RETURN(std::string local_file, RequiredString(body, "path"));
  std::string_view name = Basename(local_file);
  // The client sends its local path; only the file name is used.
  if (name.empty())
    return InvalidArgument("Invalid path " + QuoteForMessage(local_file) + ": no file name", "path");
  const std::string target = Join(dir, name);
  RETURN_IF_ERROR(ValidateClientPath(target));
  return StorePath(target);
}

class ArtifactRoutes {
 public:
  ArtifactRoutes(ArtifactStore* store, Env* env) : store_(store), env_(env) {}

  HttpResponse Upload(const HttpRequest& request) {
    const std::string& path = request.Param("path");
    if (Status st = ValidateClientPath(path); !st.ok()) return ErrorResponse(request, st);
    if (Status st = store_->Put(StorePath(path), request.body); !st.ok()) return ErrorResponse(request, st);
    return JsonResponse(Json::object());
  }

  HttpResponse Download(const HttpRequest& request) {
    const std::string& path = request.Param("path");
    if (Status st = ValidateClientPath(path); !st.ok()) return ErrorResponse(request, st);
    const std::string store_path = StorePath(path);
    auto info = store_->Stat(store_path);
    if (!info.ok()) {
      if (info.status().code() == StatusCode::kNotFound)
        return ErrorResponse(request, NotFound("No such artifact: " + QuoteForMessage(path)));
      return ErrorResponse(request, info.status());
    }
    if (info->is_dir) {
      return ErrorResponse(request, InvalidArgument("Artifact path refers to a directory, not a file: " +
                                                    QuoteForMessage(path)));
    }
    auto data = store_->Get(store_path);
    if (!data.ok()) {
      if (data.status().code() == StatusCode::kNotFound)
        return ErrorResponse(request, NotFound("No such artifact: " + QuoteForMessage(path)));
      return ErrorResponse(request, data.status());
    }
    const std::string_view name = Basename(path);
    HttpResponse response = TextResponse(200, MimeType(name), std::move(data).value());
    response.headers.Set("Content-Disposition", ContentDisposition(name));
    response.headers.Set("X-Content-Type-Options", "nosniff");
    response.headers.Set("Cache-Control", "no-cache");
    return response;
  }

  HttpResponse List(const HttpRequest& request) {
    auto object = RequestObject(request);
    if (!object.ok()) return ErrorResponse(request, object.status());
    auto path = OptString(*object, "path");
    if (!path.ok()) return ErrorResponse(request, path.status());
    std::string dir(kMlflowArtifactPrefix);
    if (path->has_value() && !(*path)->empty()) {
      if (Status st = ValidateClientPath(**path); !st.ok()) return ErrorResponse(request, st);
      dir = StorePath(**path);
    }
    auto files = ListFilesJson(*store_, dir, "");
    if (!files.ok()) return ErrorResponse(request, files.status());
    Json body = Json::object();
    if (!files->empty()) body["files"] = std::move(files).value();
    return JsonResponse(body);
  }

  HttpResponse Delete(const HttpRequest& request) {
    const std::string& path = request.Param("path");
    if (Status st = ValidateClientPath(path); !st.ok()) return ErrorResponse(request, st);
    Status st = store_->Delete(StorePath(path));
    // MLflow answers {} for a path that does not exist.
    if (!st.ok() && st.code() != StatusCode::kNotFound) return ErrorResponse(request, st);
    return JsonResponse(Json::object());
  }

  HttpResponse CreateMultipart(const HttpRequest& request) {
    auto body = RequestObject(request);
    if (!body.ok()) return ErrorResponse(request, body.status());
    auto target = MpuTarget(request, *body);
    if (!target.ok()) return ErrorResponse(request, target.status());
    auto num_parts = OptInt64(*body, "num_parts");
    if (!num_parts.ok()) return ErrorResponse(request, num_parts.status());
    const std::int64_t parts = num_parts->value_or(1);
    if (parts < 1 || parts > kMaxParts) {
      return ErrorResponse(request, InvalidArgument("Invalid value " + std::to_string(parts) +
                                                        " for parameter 'num_parts': expected 1 to " +
                                                        std::to_string(kMaxParts),
                                                    "num_parts"));
    }
    std::string upload_id;
    for (char c : env_->NewUuid())
      if (c != '-') upload_id += c;
    Json meta = {{"target", *target}, {"num_parts", parts}};
    if (Status st = store_->Put(MetaPath(upload_id), meta.dump()); !st.ok())
      return ErrorResponse(request, st);
    Json credentials = Json::array();
    const std::string base = BaseUrl(request) + "/api/2.0/mlflow-artifacts/mpu/part/" + upload_id + "/";
    for (std::int64_t i = 1; i <= parts; ++i)
      credentials.push_back(
          {{"url", base + std::to_string(i)}, {"part_number", i}, {"headers", Json::object()}});
    return JsonResponse({{"upload_id", upload_id}, {"credentials", std::move(credentials)}});
  }

  HttpResponse UploadPart(const HttpRequest& request) {
    const std::string& upload_id = request.Param("upload_id");
    if (Status st = ValidateUploadId(upload_id); !st.ok()) return ErrorResponse(request, st);
    auto meta = LoadMeta(upload_id);
    if (!meta.ok()) return ErrorResponse(request, meta.status());
    auto part = OptInt64(Json{{"part_number", request.Param("part_number")}}, "part_number");
    if (!part.ok()) return ErrorResponse(request, part.status());
    if (**part < 1 || **part > meta->num_parts) {
      return ErrorResponse(
          request, InvalidArgument("Invalid part_number " + std::to_string(**part) + ": the upload has " +
                                       std::to_string(meta->num_parts) + " parts",
                                   "part_number"));
    }
    if (Status st = store_->Put(PartPath(upload_id, **part), request.body); !st.ok())
      return ErrorResponse(request, st);
    HttpResponse response = JsonResponse(Json::object());
    response.headers.Set("ETag", Etag(Fnv1a(kFnvBasis, request.body)));
    return response;
  }

  HttpResponse CompleteMultipart(const HttpRequest& request) {
    auto body = RequestObject(request);
    if (!body.ok()) return ErrorResponse(request, body.status());
    Status st = Complete(request, *body);
    if (!st.ok()) return ErrorResponse(request, st);
    return JsonResponse(Json::object());
  }

  HttpResponse AbortMultipart(const HttpRequest& request) {
    auto body = RequestObject(request);
    if (!body.ok()) return ErrorResponse(request, body.status());
    auto target = MpuTarget(request, *body);
    if (!target.ok()) return ErrorResponse(request, target.status());
    auto upload_id = RequiredString(*body, "upload_id");
    if (!upload_id.ok()) return ErrorResponse(request, upload_id.status());
    if (Status st = ValidateUploadId(*upload_id); !st.ok()) return ErrorResponse(request, st);
    Status st = store_->Delete(Join(kMpuPrefix, *upload_id));
    if (!st.ok() && st.code() != StatusCode::kNotFound) return ErrorResponse(request, st);
    return JsonResponse(Json::object());
  }

 private:
  struct Meta {
    std::string target;
    std::int64_t num_parts = 0;
  };

  Result<Meta> LoadMeta(const std::string& upload_id) {
    auto text = store_->Get(MetaPath(upload_id));
    if (!text.ok()) {
      if (text.status().code() == StatusCode::kNotFound)
        return NotFound("No multipart upload with upload_id " + QuoteForMessage(upload_id));
      return text.status();
    }
    auto json = ParseJson(*text);
    if (!json.ok() || !json->is_object() || !(*json)["target"].is_string() ||
        !(*json)["num_parts"].is_number_integer())
      return Internal("multipart upload " + upload_id + " has a corrupt meta.json");
    return Meta{(*json)["target"].get<std::string>(), (*json)["num_parts"].get<std::int64_t>()};
  }

  Status Complete(const HttpRequest& request, const Json& body) {
    ASSIGN_OR_RETURN(std::string target, MpuTarget(request, body));
    ASSIGN_OR_RETURN(std::string upload_id, RequiredString(body, "upload_id"));
    RETURN_IF_ERROR(ValidateUploadId(upload_id));
    ASSIGN_OR_RETURN(Meta meta, LoadMeta(upload_id));
    if (meta.target != target) {
      return InvalidArgument("Multipart upload " + upload_id + " was created for another path than " +
                                 QuoteForMessage(target.substr(kMlflowArtifactPrefix.size() + 1)),
                             "path");
    }
    ASSIGN_OR_RETURN(const Json* parts, OptArray(body, "parts"));
    if (parts == nullptr || parts->empty()) return InvalidArgument(MissingParameterMessage("parts"), "parts");
    std::map<std::int64_t, std::string> etags;  // part number -> etag, in order
    for (const Json& part : *parts) {
      ASSIGN_OR_RETURN(std::int64_t number, RequiredInt64(part, "part_number"));
      ASSIGN_OR_RETURN(std::optional<std::string> etag, OptString(part, "etag"));
      if (number < 1 || number > meta.num_parts)
        return InvalidArgument("Invalid part_number " + std::to_string(number), "parts");
      if (!etags.emplace(number, etag.value_or("")).second)
        return InvalidArgument("Part " + std::to_string(number) + " is listed twice", "parts");
    }
    ASSIGN_OR_RETURN(std::unique_ptr<artifacts::ArtifactWriter> writer, store_->OpenWriter(target));
    std::string buf(kCopyChunk, '\0');
    for (const auto& [number, etag] : etags) {
      auto reader = store_->OpenReader(PartPath(upload_id, number));
      if (!reader.ok()) {
        if (reader.status().code() == StatusCode::kNotFound)
          return InvalidArgument(
              "Part " + std::to_string(number) + " of upload " + upload_id + " was never uploaded", "parts");
        return reader.status();
      }
      std::uint64_t hash = kFnvBasis;
      for (;;) {
        ASSIGN_OR_RETURN(std::size_t n, (*reader)->Read(buf.data(), buf.size()));
        if (n == 0) break;
        std::string_view chunk(buf.data(), n);
        hash = Fnv1a(hash, chunk);
        RETURN_IF_ERROR(writer->Append(chunk));
      }
      if (!etag.empty() && Unquote(etag) != Unquote(Etag(hash)))
        return InvalidArgument("ETag of part " + std::to_string(number) + " does not match", "parts");
    }
    RETURN_IF_ERROR(writer->Commit());
    // The file is in place; a failure to clean up only leaves staging files.
    (void)store_->Delete(Join(kMpuPrefix, upload_id));
    return Status::OK();
  }

  ArtifactStore* store_;
  Env* env_;
};

}  // namespace

Status ValidateClientPath(std::string_view path) {
  std::string current(path);
  for (int round = 0; round < 4; ++round) {
    Status st = artifacts::ValidateArtifactPath(current);
    if (st.ok() && current.find('#') != std::string::npos) st = InvalidArgument("'#' is not allowed");
    if (!st.ok())
      return InvalidArgument("Invalid path " + QuoteForMessage(path) + ": " + st.message(), "path");
    if (current.find('%') == std::string::npos) break;
    auto decoded = PercentDecode(current, false);
    if (!decoded.ok() || *decoded == current) break;  // a literal '%' in a name
    current = std::move(decoded).value();
  }
  return Status::OK();
}

Result<std::string> ProxiedStorePath(std::string_view artifact_uri, std::string_view relative) {
  constexpr std::string_view kScheme = "mlflow-artifacts:";
  if (artifact_uri.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("Artifact location " + QuoteForMessage(artifact_uri) +
                           " is not served by this server's artifact proxy (mlflow-artifacts:)");
  }
  std::string_view rest = artifact_uri.substr(kScheme.size());
  if (rest.substr(0, 2) == "//") {  // mlflow-artifacts://host:port/path
    const std::size_t slash = rest.find('/', 2);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (!rest.empty()) RETURN_IF_ERROR(ValidateClientPath(rest));
  if (!relative.empty()) RETURN_IF_ERROR(ValidateClientPath(relative));
  return Join(Join(kMlflowArtifactPrefix, rest), relative);
}

Result<Json> ListFilesJson(ArtifactStore& store, std::string_view store_dir, std::string_view path_prefix) {
  Json files = Json::array();
  auto info = store.Stat(store_dir);
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) return files;
    return info.status();
  }
  if (!info->is_dir) return files;
  ASSIGN_OR_RETURN(std::vector<ArtifactInfo> children, store.List(store_dir, false));
  for (const ArtifactInfo& child : children) {
    Json entry = {{"path", Join(path_prefix, Basename(child.path))}, {"is_dir", child.is_dir}};
    // MLflow leaves file_size out for empty files (proto2: unset).
    if (!child.is_dir && child.size != 0) entry["file_size"] = child.size;
    files.push_back(std::move(entry));
  }
  return files;
}

Status AddArtifactRoutes(Router& router, const ApiServices& services, std::size_t max_upload_bytes) {
  auto routes = std::make_shared<ArtifactRoutes>(services.artifacts, services.env);
  auto bind = [routes](HttpResponse (ArtifactRoutes::*method)(const HttpRequest&)) {
    return [routes, method](const HttpRequest& request) { return ((*routes).*method)(request); };
  };
  constexpr std::string_view kBase = "/api/2.0/mlflow-artifacts";
  const std::string files = std::string(kBase) + "/artifacts";
  RETURN_IF_ERROR(router.Add("GET", files, bind(&ArtifactRoutes::List)));
  RETURN_IF_ERROR(router.Add("GET", files + "/{path...}", bind(&ArtifactRoutes::Download)));
  const RouteOptions upload{.max_body_bytes = max_upload_bytes};
  RETURN_IF_ERROR(router.Add("PUT", files + "/{path...}", bind(&ArtifactRoutes::Upload), upload));
  RETURN_IF_ERROR(router.Add("DELETE", files + "/{path...}", bind(&ArtifactRoutes::Delete)));
  const std::string mpu = std::string(kBase) + "/mpu";
  for (const char* op : {"create", "complete", "abort"}) {
    auto method = std::string(op) == "create"     ? &ArtifactRoutes::CreateMultipart
                  : std::string(op) == "complete" ? &ArtifactRoutes::CompleteMultipart
                                                  : &ArtifactRoutes::AbortMultipart;
    RETURN_IF_ERROR(router.Add("POST", mpu + "/" + op, bind(method)));
    RETURN_IF_ERROR(router.Add("POST", mpu + "/" + op + "/{path...}", bind(method)));
  }
  RETURN_IF_ERROR(
      router.Add("PUT", mpu + "/part/{upload_id}/{part_number}", bind(&ArtifactRoutes::UploadPart), upload));
  return Status::OK();
}

}  // namespace ferry::api::mlflow
