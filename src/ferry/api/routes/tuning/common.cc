#include "ferry/api/routes/tuning/common_internal.h"

#include "ferry/common/strings.h"

namespace ferry::api::studies {

HttpResponse Respond(const HttpRequest& request, Result<HttpResponse> result) {
  if (result.ok()) return std::move(result).value();
  return ErrorResponse(request, result.status());
}

Result<std::int64_t> TrialNumber(const HttpRequest& request) {
  const std::string& text = request.Param("number");
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument(
        "the trial number must be a non-negative decimal integer, not " + QuoteForMessage(text), "number");
  }
  return std::stoll(text);
}

}  // namespace ferry::api::studies
