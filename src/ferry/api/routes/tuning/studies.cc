// Studies: create (or load), get, list, delete.
#include "ferry/api/routes/tuning/common_internal.h"
#include "ferry/api/routes/tuning/json_internal.h"
#include "ferry/api/routes/tuning/routes.h"
#include "ferry/common/strings.h"

namespace ferry::api::studies {
namespace {

using tuning::StudyService;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

Result<HttpResponse> Create(StudyService* service, const HttpRequest& request, const Json& body) {
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  ASSIGN_OR_RETURN(CreateStudyRequest create, ParseCreateStudy(body));
  const tuning::SearchSpace* space = &create.config.space;
  auto created = service->CreateStudy(create.config, /*load_if_exists=*/false);
  if (created.ok()) return ObjectResponse(request, 201, StudyToJson(*created));
  if (created.status().code() != StatusCode::kAlreadyExists || !create.load_if_exists)
    return InRequestTerms(created.status(), space);
  // Taken: the same study loads (200); a different one is AlreadyExists
  // naming the first difference.
  auto loaded = service->CreateStudy(create.config, /*load_if_exists=*/true);
  if (!loaded.ok()) return InRequestTerms(loaded.status(), space);
  return ObjectResponse(request, 200, StudyToJson(*loaded));
}

Result<HttpResponse> List(StudyService* service, const HttpRequest& request) {
  ASSIGN_OR_RETURN(auto query, AcceptedQuery(request, {"page_size", "page_token"}));
  int page_size = kDefaultPageSize;
  if (auto it = query.find("page_size"); it != query.end()) {
    const std::string& text = it->second;
    const bool digits =
        !text.empty() && text.size() <= 4 && text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoi(text) < 1 || std::stoi(text) > kMaxPageSize) {
      return InvalidArgument("page_size must be an integer from 1 to " + std::to_string(kMaxPageSize) +
                                 ", not " + QuoteForMessage(text),
                             "page_size");
    }
    page_size = std::stoi(text);
  }
  std::string token;
  if (auto it = query.find("page_token"); it != query.end()) token = it->second;
  ASSIGN_OR_RETURN(tuning::StudyPage page, service->ListStudies(page_size, token));
  Json studies = Json::array();
  for (const tuning::StudyInfo& s : page.studies) studies.push_back(StudyToJson(s));
  return ObjectResponse(request, 200,
                        {{"studies", std::move(studies)}, {"next_page_token", page.next_page_token}});
}

Result<HttpResponse> Get(StudyService* service, const HttpRequest& request) {
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  ASSIGN_OR_RETURN(tuning::StudyInfo study, service->GetStudy(request.Param("name")));
  return ObjectResponse(request, 200, StudyToJson(study));
}

Result<HttpResponse> Delete(StudyService* service, const HttpRequest& request) {
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  RETURN_IF_ERROR(service->DeleteStudy(request.Param("name")));
  return ObjectResponse(request, 200, Json::object());
}

}  // namespace

Status AddStudyRoutes(Router& router, const ApiServices& services) {
  StudyService* service = services.studies;
  const std::string one = std::string(kStudies) + "/{name}";
  RETURN_IF_ERROR(router.Add("POST", kStudies, [service](const HttpRequest& r) {
    return WithBody(r, /*optional=*/false, [&](const Json& body) { return Create(service, r, body); });
  }));
  RETURN_IF_ERROR(
      router.Add("GET", kStudies, [service](const HttpRequest& r) { return Respond(r, List(service, r)); }));
  RETURN_IF_ERROR(
      router.Add("GET", one, [service](const HttpRequest& r) { return Respond(r, Get(service, r)); }));
  return router.Add("DELETE", one,
                    [service](const HttpRequest& r) { return Respond(r, Delete(service, r)); });
}

}  // namespace ferry::api::studies
