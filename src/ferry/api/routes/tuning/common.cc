#include "ferry/api/routes/tuning/common_internal.h"

#include "ferry/common/strings.h"

namespace ferry::api::studies {

HttpResponse Respond(const HttpRequest& request, Result<HttpResponse> result) {
  if (result.ok()) return std::move(result).value();
  return ErrorResponse(request, result.status());
}

Result<std::map<std::string, std::string>> QueryParams(const HttpRequest& request,
                                                       std::initializer_list<std::string_view> accepted) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : request.query) {
    bool known = false;
    for (std::string_view name : accepted) known = known || name == key;
    if (!known) {
      std::string list;
      for (std::string_view name : accepted) list += (list.empty() ? "" : ", ") + std::string(name);
      return InvalidArgument(
          "unknown query parameter " + QuoteForMessage(key) +
              (list.empty() ? std::string("; this route takes none") : "; this route accepts " + list),
          SanitizeForMessage(key, 100));
    }
    if (!out.emplace(key, value).second)
      return InvalidArgument("query parameter " + QuoteForMessage(key) + " is given more than once", key);
  }
  return out;
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
