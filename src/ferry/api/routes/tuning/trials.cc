// Trials: ask, list, get, tell, report, should-prune, and the best trial.
//
// Responses that carry a trial's params need the study's search space, so
// those routes read the study first (a read of what is in memory); a study
// deleted and made again in between can only make the params come out
// under the new space's names, never a crash.
#include "ferry/api/routes/tuning/common_internal.h"
#include "ferry/api/routes/tuning/json_internal.h"
#include "ferry/api/routes/tuning/routes.h"
#include "ferry/common/strings.h"

namespace ferry::api::studies {
namespace {

using tuning::StudyInfo;
using tuning::StudyService;

Result<HttpResponse> Ask(StudyService* service, const HttpRequest& request, const Json& body) {
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  const std::string& name = request.Param("name");
  ASSIGN_OR_RETURN(StudyInfo study, service->GetStudy(name));
  const tuning::SearchSpace& space = study.config.space;
  ASSIGN_OR_RETURN(tuning::FixedParams fixed, ParseAsk(body, space));
  auto trial = service->Ask(name, fixed);
  if (!trial.ok()) {
    const Status st = InRequestTerms(trial.status(), &space);
    // The sampler has nothing left to propose (a grid exhausted): a
    // conflict with the study's state rather than a malformed request.
    // Unavailable (hyperband waiting for a rung) is 503 with Retry-After.
    if (st.code() == StatusCode::kFailedPrecondition)
      return ErrorResponse(ApiError{409, std::string(StatusCodeName(st.code())), st.message(), st.field()});
    return st;
  }
  return ObjectResponse(request, 201, TrialToJson(space, *trial));
}

Result<HttpResponse> List(StudyService* service, const HttpRequest& request) {
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  const std::string& name = request.Param("name");
  ASSIGN_OR_RETURN(StudyInfo study, service->GetStudy(name));
  ASSIGN_OR_RETURN(std::vector<tuning::Trial> trials, service->Trials(name));
  Json out = Json::array();
  for (const tuning::Trial& t : trials) out.push_back(TrialToJson(study.config.space, t));
  return ObjectResponse(request, 200, {{"trials", std::move(out)}});
}

Result<HttpResponse> Get(StudyService* service, const HttpRequest& request) {
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  ASSIGN_OR_RETURN(std::int64_t number, TrialNumber(request));
  const std::string& name = request.Param("name");
  ASSIGN_OR_RETURN(StudyInfo study, service->GetStudy(name));
  ASSIGN_OR_RETURN(tuning::Trial trial, service->GetTrial(name, number));
  return ObjectResponse(request, 200, TrialToJson(study.config.space, trial));
}

Result<HttpResponse> Tell(StudyService* service, const HttpRequest& request, const Json& body) {
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  ASSIGN_OR_RETURN(std::int64_t number, TrialNumber(request));
  ASSIGN_OR_RETURN(TellRequest tell, ParseTell(body));
  const std::string& name = request.Param("name");
  ASSIGN_OR_RETURN(StudyInfo study, service->GetStudy(name));
  auto trial = service->Tell(name, number, tell.state, tell.value);
  if (!trial.ok()) return InRequestTerms(trial.status(), &study.config.space);
  return ObjectResponse(request, 200, TrialToJson(study.config.space, *trial));
}

Result<HttpResponse> Report(StudyService* service, const HttpRequest& request, const Json& body) {
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  ASSIGN_OR_RETURN(std::int64_t number, TrialNumber(request));
  ASSIGN_OR_RETURN(ReportRequest report, ParseReport(body));
  RETURN_IF_ERROR(service->Report(request.Param("name"), number, report.step, report.value));
  return ObjectResponse(request, 200, Json::object());
}

Result<HttpResponse> ShouldPrune(StudyService* service, const HttpRequest& request) {
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  ASSIGN_OR_RETURN(std::int64_t number, TrialNumber(request));
  ASSIGN_OR_RETURN(bool prune, service->ShouldPrune(request.Param("name"), number));
  return ObjectResponse(request, 200, {{"should_prune", prune}});
}

Result<HttpResponse> Best(StudyService* service, const HttpRequest& request) {
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  const std::string& name = request.Param("name");
  ASSIGN_OR_RETURN(StudyInfo study, service->GetStudy(name));
  if (!study.best_trial) return NotFound("study " + QuoteForMessage(name) + " has no complete trial yet");
  return ObjectResponse(request, 200, TrialToJson(study.config.space, *study.best_trial));
}

}  // namespace

Status AddTrialRoutes(Router& router, const ApiServices& services) {
  StudyService* service = services.studies;
  const std::string study = std::string(kStudies) + "/{name}";
  const std::string trials = study + "/trials";
  const std::string trial = trials + "/{number}";
  RETURN_IF_ERROR(router.Add("POST", trials, [service](const HttpRequest& r) {
    return WithBody(r, /*optional=*/true, [&](const Json& body) { return Ask(service, r, body); });
  }));
  RETURN_IF_ERROR(
      router.Add("GET", trials, [service](const HttpRequest& r) { return Respond(r, List(service, r)); }));
  RETURN_IF_ERROR(
      router.Add("GET", trial, [service](const HttpRequest& r) { return Respond(r, Get(service, r)); }));
  RETURN_IF_ERROR(router.Add("POST", trial + "/tell", [service](const HttpRequest& r) {
    return WithBody(r, /*optional=*/false, [&](const Json& body) { return Tell(service, r, body); });
  }));
  RETURN_IF_ERROR(router.Add("POST", trial + "/report", [service](const HttpRequest& r) {
    return WithBody(r, /*optional=*/false, [&](const Json& body) { return Report(service, r, body); });
  }));
  RETURN_IF_ERROR(router.Add("GET", trial + "/should-prune", [service](const HttpRequest& r) {
    return Respond(r, ShouldPrune(service, r));
  }));
  return router.Add("GET", study + "/best-trial",
                    [service](const HttpRequest& r) { return Respond(r, Best(service, r)); });
}

}  // namespace ferry::api::studies
