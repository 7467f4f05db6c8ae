#pragma once
// The CEL subset the KFP compiler writes into triggerPolicy.condition and
// parameterExpressionSelector, evaluated the way the KFP v2 driver (cel-go)
// does.
//
// Grammar: literals (strings in '…' or "…", with \-escapes; integers,
// doubles, true/false, null), `inputs.parameter_values['name']`,
// `inputs.parameters['name']` (legacy, same value), `string_value`,
// `parseJson(expr)`, `int(expr)`, `double(expr)`, `string(expr)`,
// index `expr[expr]`, field `expr.name`, unary `!` and `-`, binary
// `* / %`, `+ -`, `< <= > >=`, `== !=`, `in`, `&&`, `||`, and parentheses.
// Comparing values of different types (other than int vs double) is an
// error, as in CEL; `&&`/`||` short-circuit.
#include <map>
#include <string>
#include <string_view>

#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::pipelines {

// Parses `expression` without evaluating it (submit-time check). Errors name
// the position: "condition: unexpected ')' at column 17".
Status CheckCelExpression(std::string_view expression);

// Evaluates a trigger condition against the task's resolved input
// parameters. The result must be a bool.
Result<bool> EvaluateCondition(std::string_view expression,
                               const std::map<std::string, Json>& parameter_values);

// Evaluates a parameterExpressionSelector against `value` (bound as
// `string_value` when it is a string, the JSON text of it otherwise).
Result<Json> EvaluateSelector(std::string_view expression, const Json& value);

}  // namespace ferry::pipelines
