// PipelineService and PipelineUploadService: /apis/v2beta1/pipelines/...
// Every stored version has passed the pipeline parser, so a run started
// from it fails only for its parameters.

#include "ferry/api/routes/kfp/common_internal.h"
#include "ferry/api/routes/kfp/json_internal.h"
#include "ferry/api/routes/kfp/routes.h"
#include "ferry/pipelines/catalog_store.h"

namespace ferry::api::kfp {
namespace {

using pipelines::CatalogStore;
using pipelines::Pipeline;
using pipelines::PipelineVersion;

const ListFields& PipelineFields() {
  static const auto* fields = new ListFields{
      {"pipeline_id", {"pipeline_id"}},
      {"id", {"pipeline_id"}},
      {"display_name", {"display_name"}},
      {"name", {"name"}},
      {"description", {"description"}},
      {"namespace", {"namespace"}},
      {"created_at", {"created_at", FieldKind::kTime}},
  };
  return *fields;
}

const ListFields& VersionFields() {
  static const auto* fields = new ListFields{
      {"pipeline_version_id", {"pipeline_version_id"}},
      {"id", {"pipeline_version_id"}},
      {"pipeline_id", {"pipeline_id"}},
      {"display_name", {"display_name"}},
      {"name", {"name"}},
      {"description", {"description"}},
      {"created_at", {"created_at", FieldKind::kTime}},
  };
  return *fields;
}

HttpResponse Respond(const HttpRequest& request, const Result<Json>& result) {
  return result.ok() ? JsonResponse(*result) : ErrorResponse(request, result.status());
}

Result<std::map<std::string, std::string>> TagsFrom(const Json* tags, std::string_view field) {
  std::map<std::string, std::string> out;
  if (tags == nullptr || tags->is_null()) return out;
  if (!tags->is_object())
    return InvalidArgument(std::string(field) + " must be a map of strings", std::string(field));
  for (const auto& [k, v] : tags->items()) {
    if (!v.is_string())
      return InvalidArgument(std::string(field) + "." + k + " must be a string",
                             std::string(field) + "." + k);
    out[k] = v.get<std::string>();
  }
  return out;
}

Result<Pipeline> PipelineFromJson(const Json& object, std::string_view path) {
  Pipeline p;
  const std::string prefix(path);
  ASSIGN_OR_RETURN(p.name, StringField(object, "name", prefix + ".name"));
  ASSIGN_OR_RETURN(p.display_name, StringField(object, "display_name", prefix + ".display_name"));
  ASSIGN_OR_RETURN(p.description, StringField(object, "description", prefix + ".description"));
  ASSIGN_OR_RETURN(p.namespace_, StringField(object, "namespace", prefix + ".namespace"));
  if (p.name.empty()) p.name = p.display_name;
  ASSIGN_OR_RETURN(p.tags, TagsFrom(object.is_object() && object.contains("tags") ? &object["tags"] : nullptr,
                                    prefix + ".tags"));
  return p;
}

// A PipelineVersion body: the spec inline (pipeline_spec); package_url is
// refused, since Ferry does not fetch pipelines from URLs.
Result<PipelineVersion> VersionFromJson(const Json& object, std::string_view path) {
  PipelineVersion v;
  const std::string prefix(path);
  ASSIGN_OR_RETURN(v.pipeline_id, StringField(object, "pipeline_id", prefix + ".pipeline_id"));
  ASSIGN_OR_RETURN(v.name, StringField(object, "name", prefix + ".name"));
  ASSIGN_OR_RETURN(v.display_name, StringField(object, "display_name", prefix + ".display_name"));
  ASSIGN_OR_RETURN(v.description, StringField(object, "description", prefix + ".description"));
  ASSIGN_OR_RETURN(v.code_source_url, StringField(object, "code_source_url", prefix + ".code_source_url"));
  if (v.name.empty()) v.name = v.display_name;
  ASSIGN_OR_RETURN(v.tags, TagsFrom(object.is_object() && object.contains("tags") ? &object["tags"] : nullptr,
                                    prefix + ".tags"));
  ASSIGN_OR_RETURN(const Json* url, ObjectField(object, "package_url", prefix + ".package_url"));
  if (url != nullptr && !url->empty())
    return InvalidArgument(
        "package_url is not supported: Ferry does not fetch pipelines from URLs; send "
        "pipeline_spec or use the upload endpoint",
        prefix + ".package_url");
  const Json* spec =
      object.is_object() && object.contains("pipeline_spec") ? &object["pipeline_spec"] : nullptr;
  if (spec == nullptr || spec->is_null())
    return InvalidArgument("pipeline version needs a pipeline_spec", prefix + ".pipeline_spec");
  ASSIGN_OR_RETURN(v.pipeline_text, PipelineTextFromJson(*spec, prefix + ".pipeline_spec"));
  RETURN_IF_ERROR(CheckPipelineText(v.pipeline_text, prefix + ".pipeline_spec").status());
  return v;
}

// The name KFP's upload gives: the `name` parameter, else `display_name`,
// else the file's name without its extension.
std::string UploadName(const HttpRequest& request, const std::string& filename) {
  std::string name = QueryParam(request, "name");
  if (name.empty()) name = QueryParam(request, "display_name");
  if (name.empty()) {
    name =
        filename.substr(filename.find_last_of('/') == std::string::npos ? 0 : filename.find_last_of('/') + 1);
    for (const char* ext : {".tar.gz", ".tgz", ".zip", ".yaml", ".yml", ".json"}) {
      const std::string e(ext);
      if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
        name.resize(name.size() - e.size());
        break;
      }
    }
  }
  return name;
}

Result<std::map<std::string, std::string>> UploadTags(const HttpRequest& request) {
  const std::string text = QueryParam(request, "tags");
  if (text.empty()) return std::map<std::string, std::string>{};
  auto parsed = ParseJson(text);
  if (!parsed.ok())
    return InvalidArgument(
        "Failed to parse tags query parameter. Expected JSON object with string keys and values", "tags");
  return TagsFrom(&*parsed, "tags");
}

Result<Json> Upload(CatalogStore* catalog, const HttpRequest& request) {
  ASSIGN_OR_RETURN(UploadedFile file, MultipartFile(request, "uploadfile"));
  ASSIGN_OR_RETURN(PipelineInfo info, CheckPipelineText(file.content, "uploadfile"));
  Pipeline p;
  p.name = UploadName(request, file.filename);
  if (p.name.empty()) p.name = info.name;
  p.display_name = QueryParam(request, "display_name");
  p.description = QueryParam(request, "description");
  p.namespace_ = QueryParam(request, "namespace");
  ASSIGN_OR_RETURN(p.tags, UploadTags(request));
  PipelineVersion v;
  v.name = p.name;
  v.display_name = p.display_name;
  v.description = p.description;
  v.code_source_url = QueryParam(request, "code_source_url");
  v.pipeline_text = std::move(file.content);
  ASSIGN_OR_RETURN(auto created, catalog->CreatePipelineAndVersion(p, v));
  return PipelineJson(created.first);
}

Result<Json> UploadVersion(CatalogStore* catalog, const HttpRequest& request) {
  ASSIGN_OR_RETURN(UploadedFile file, MultipartFile(request, "uploadfile"));
  ASSIGN_OR_RETURN(PipelineInfo info, CheckPipelineText(file.content, "uploadfile"));
  PipelineVersion v;
  v.pipeline_id = QueryParam(request, "pipelineid");
  if (v.pipeline_id.empty())
    return InvalidArgument("Failed to create a pipeline version: the pipelineid parameter is required",
                           "pipelineid");
  v.name = UploadName(request, file.filename);
  if (v.name.empty()) v.name = info.name;
  v.display_name = QueryParam(request, "display_name");
  v.description = QueryParam(request, "description");
  v.code_source_url = QueryParam(request, "code_source_url");
  ASSIGN_OR_RETURN(v.tags, UploadTags(request));
  v.pipeline_text = std::move(file.content);
  ASSIGN_OR_RETURN(PipelineVersion created, catalog->CreatePipelineVersion(v));
  created.pipeline_text.clear();  // KFP's upload answers without the spec
  return PipelineVersionJson(created);
}

Result<Json> CreatePipeline(CatalogStore* catalog, const HttpRequest& request) {
  ASSIGN_OR_RETURN(Json body, BodyObject(request));
  ASSIGN_OR_RETURN(const Json* wrapped, ObjectField(body, "pipeline", "pipeline"));
  ASSIGN_OR_RETURN(Pipeline p, PipelineFromJson(wrapped ? *wrapped : body, "pipeline"));
  ASSIGN_OR_RETURN(Pipeline created, catalog->CreatePipeline(p));
  return PipelineJson(created);
}

// POST /pipelines/create: {pipeline, pipeline_version}.
Result<Json> CreatePipelineAndVersion(CatalogStore* catalog, const HttpRequest& request) {
  ASSIGN_OR_RETURN(Json body, BodyObject(request));
  ASSIGN_OR_RETURN(const Json* pj, ObjectField(body, "pipeline", "pipeline"));
  ASSIGN_OR_RETURN(const Json* vj, ObjectField(body, "pipeline_version", "pipeline_version"));
  if (pj == nullptr) return InvalidArgument("pipeline is required", "pipeline");
  if (vj == nullptr) return InvalidArgument("pipeline_version is required", "pipeline_version");
  ASSIGN_OR_RETURN(Pipeline p, PipelineFromJson(*pj, "pipeline"));
  ASSIGN_OR_RETURN(PipelineVersion v, VersionFromJson(*vj, "pipeline_version"));
  ASSIGN_OR_RETURN(auto created, catalog->CreatePipelineAndVersion(p, v));
  return PipelineJson(created.first);
}

Result<Json> CreateVersion(CatalogStore* catalog, const HttpRequest& request) {
  ASSIGN_OR_RETURN(Json body, BodyObject(request));
  ASSIGN_OR_RETURN(const Json* wrapped, ObjectField(body, "pipeline_version", "pipeline_version"));
  ASSIGN_OR_RETURN(PipelineVersion v, VersionFromJson(wrapped ? *wrapped : body, "pipeline_version"));
  const std::string& path_id = request.Param("id");
  if (!v.pipeline_id.empty() && v.pipeline_id != path_id)
    return InvalidArgument("pipeline_version.pipeline_id does not match the pipeline in the path",
                           "pipeline_version.pipeline_id");
  v.pipeline_id = path_id;
  ASSIGN_OR_RETURN(PipelineVersion created, catalog->CreatePipelineVersion(v));
  return PipelineVersionJson(created);
}

Result<Json> ListPipelines(CatalogStore* catalog, const HttpRequest& request) {
  ASSIGN_OR_RETURN(ListQuery query, ParseListQuery(request, PipelineFields(), "created_at"));
  ASSIGN_OR_RETURN(std::vector<Pipeline> all, catalog->ListPipelines());
  std::vector<Json> items;
  for (const auto& p : all) items.push_back(PipelineJson(p));
  ListPage page = ApplyListQuery(std::move(items), query, "pipeline_id");
  Json body = {{"total_size", page.total_size}};
  if (!page.items.empty()) body["pipelines"] = std::move(page.items);
  if (!page.next_page_token.empty()) body["next_page_token"] = page.next_page_token;
  return body;
}

Result<Json> ListVersions(CatalogStore* catalog, const HttpRequest& request) {
  ASSIGN_OR_RETURN(ListQuery query, ParseListQuery(request, VersionFields(), "created_at"));
  ASSIGN_OR_RETURN(std::vector<PipelineVersion> all, catalog->ListPipelineVersions(request.Param("id")));
  std::vector<Json> items;
  for (const auto& v : all) items.push_back(PipelineVersionJson(v));
  ListPage page = ApplyListQuery(std::move(items), query, "pipeline_version_id");
  Json body = {{"total_size", page.total_size}};
  if (!page.items.empty()) body["pipeline_versions"] = std::move(page.items);
  if (!page.next_page_token.empty()) body["next_page_token"] = page.next_page_token;
  return body;
}

}  // namespace

Status AddPipelineRoutes(Router& router, const ApiServices& services) {
  const std::string base = std::string(kApi) + "/pipelines";
  CatalogStore* catalog = services.pipeline_catalog;
  RETURN_IF_ERROR(router.Add("POST", base + "/upload", [catalog](const HttpRequest& request) {
    auto r = Upload(catalog, request);
    return r.ok() ? JsonResponse(*r) : UploadErrorResponse(request, r.status());
  }));
  RETURN_IF_ERROR(router.Add("POST", base + "/upload_version", [catalog](const HttpRequest& request) {
    auto r = UploadVersion(catalog, request);
    return r.ok() ? JsonResponse(*r) : UploadErrorResponse(request, r.status());
  }));
  RETURN_IF_ERROR(router.Add("POST", base, [catalog](const HttpRequest& request) {
    return Respond(request, CreatePipeline(catalog, request));
  }));
  RETURN_IF_ERROR(router.Add("POST", base + "/create", [catalog](const HttpRequest& request) {
    return Respond(request, CreatePipelineAndVersion(catalog, request));
  }));
  RETURN_IF_ERROR(router.Add("GET", base, [catalog](const HttpRequest& request) {
    return Respond(request, ListPipelines(catalog, request));
  }));
  RETURN_IF_ERROR(router.Add("GET", base + "/{id}", [catalog](const HttpRequest& request) {
    auto p = catalog->GetPipeline(request.Param("id"));
    return p.ok() ? JsonResponse(PipelineJson(*p)) : ErrorResponse(request, p.status());
  }));
  RETURN_IF_ERROR(router.Add("GET", base + "/names/{name}", [catalog](const HttpRequest& request) {
    auto p = catalog->GetPipelineByName(QueryParam(request, "namespace"), request.Param("name"));
    return p.ok() ? JsonResponse(PipelineJson(*p)) : ErrorResponse(request, p.status());
  }));
  RETURN_IF_ERROR(router.Add("DELETE", base + "/{id}", [catalog](const HttpRequest& request) {
    Status st = catalog->DeletePipeline(request.Param("id"), QueryParam(request, "cascade") == "true");
    return st.ok() ? JsonResponse(Json::object()) : ErrorResponse(request, st);
  }));
  RETURN_IF_ERROR(router.Add("POST", base + "/{id}/versions", [catalog](const HttpRequest& request) {
    return Respond(request, CreateVersion(catalog, request));
  }));
  RETURN_IF_ERROR(router.Add("GET", base + "/{id}/versions", [catalog](const HttpRequest& request) {
    return Respond(request, ListVersions(catalog, request));
  }));
  RETURN_IF_ERROR(router.Add("GET", base + "/{id}/versions/{vid}", [catalog](const HttpRequest& request) {
    auto v = catalog->GetPipelineVersion(request.Param("id"), request.Param("vid"));
    return v.ok() ? JsonResponse(PipelineVersionJson(*v)) : ErrorResponse(request, v.status());
  }));
  return router.Add("DELETE", base + "/{id}/versions/{vid}", [catalog](const HttpRequest& request) {
    Status st = catalog->DeletePipelineVersion(request.Param("id"), request.Param("vid"));
    return st.ok() ? JsonResponse(Json::object()) : ErrorResponse(request, st);
  });
}

}  // namespace ferry::api::kfp
