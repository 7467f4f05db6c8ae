// Search terms (search_filter.h) -> SQL for search_runs and
// search_experiments (tracking_internal.h), following MLflow's
// sqlalchemy_store: _get_sqlalchemy_filter_clauses, _get_orderby_clauses,
// _get_search_experiments_filter_clauses and ..._order_by_clauses. Every
// value is a bound parameter. Predicates on metrics, params, tags and
// datasets are `run_uuid IN (subquery)` so both planners can drive the
// search from the (key, value) indexes or from the runs, whichever is
// cheaper.
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/common/strings.h"
#include "ferry/tracking/tracking_internal.h"

namespace ferry::tracking::internal {
namespace {

std::string_view OpSql(Comparator c) {
  switch (c) {
    case Comparator::kEq:
      return "=";
    case Comparator::kNe:
      return "!=";
    case Comparator::kLt:
      return "<";
    case Comparator::kLe:
      return "<=";
    case Comparator::kGt:
      return ">";
    case Comparator::kGe:
      return ">=";
    default:
      return "";
  }
}

Status BadComparator(const FilterTerm& term, std::string_view what) {
  return InvalidArgument("Invalid comparator '" + std::string(ComparatorText(term.comparator)) + "' for " +
                         std::string(what) + " " + QuoteForMessage(term.key));
}

const std::string* StringValue(const FilterTerm& term) { return std::get_if<std::string>(&term.value); }

// Double -> the string MLflow compares a non-numeric field against.
Result<std::string> TextValue(const FilterTerm& term) {
  if (const std::string* s = StringValue(term)) return *s;
  return InvalidArgument("Expected a quoted string value for " + std::string(TermKindName(term.kind)) + " " +
                         QuoteForMessage(term.key));
}

}  // namespace

std::string SqlBuilder::Bind(store::Value value) {
  params_.push_back(std::move(value));
  return "$" + std::to_string(params_.size());
}

std::string Fingerprint(std::string_view text) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[i] = kHex[h & 0xF];
  return out;
}

Result<std::string> StringPredicate(store::Dialect dialect, SqlBuilder& b, std::string_view column,
                                    const FilterTerm& term, bool indexed_prefix) {
  const std::string col(column);
  switch (term.comparator) {
    case Comparator::kEq:
    case Comparator::kNe: {
      ASSIGN_OR_RETURN(std::string value, TextValue(term));
      std::string p = b.Bind(value);
      if (term.comparator == Comparator::kNe) return col + " != " + p;
      if (!indexed_prefix) return col + " = " + p;
      return "substr(" + col + ", 1, 200) = substr(CAST(" + p + " AS TEXT), 1, 200) AND " + col + " = " + p;
    }
    case Comparator::kLike:
    case Comparator::kILike: {
      ASSIGN_OR_RETURN(std::string pattern, TextValue(term));
      const bool ci = term.comparator == Comparator::kILike;
      if (dialect == store::Dialect::kPostgres)
        return col + (ci ? " ILIKE " : " LIKE ") + b.Bind(pattern) + " ESCAPE ''";
      // SQLite's LIKE folds ASCII case (ILIKE); its GLOB is case-sensitive (LIKE).
      if (ci) return col + " LIKE " + b.Bind(pattern);
      return col + " GLOB " + b.Bind(LikeToGlob(pattern));
    }
    case Comparator::kIn:
    case Comparator::kNotIn: {
      const auto* list = std::get_if<std::vector<std::string>>(&term.value);
      if (list == nullptr)
        return InvalidArgument("Expected a list of values for " +
                               std::string(ComparatorText(term.comparator)) + " on " +
                               QuoteForMessage(term.key));
      const bool negate = term.comparator == Comparator::kNotIn;
      if (list->empty()) return std::string(negate ? "1 = 1" : "1 = 0");
      std::string sql = col + (negate ? " NOT IN (" : " IN (");
      for (std::size_t i = 0; i < list->size(); ++i) {
        if (i > 0) sql += ", ";
        sql += b.Bind((*list)[i]);
      }
      return sql + ")";
    }
    default:
      return BadComparator(term, TermKindName(term.kind));
  }
}

Result<std::string> NumericPredicate(SqlBuilder& b, std::string_view column, const FilterTerm& term) {
  std::string_view op = OpSql(term.comparator);
  if (op.empty()) return BadComparator(term, TermKindName(term.kind));
  const double* v = std::get_if<double>(&term.value);
  if (v == nullptr)
    return InvalidArgument("Expected numeric value type for " + std::string(TermKindName(term.kind)) + " " +
                           QuoteForMessage(term.key));
  return std::string(column) + " " + std::string(op) + " " + b.Bind(*v);
}

namespace {

// Runs' string and numeric attributes and their columns.
struct RunAttribute {
  std::string_view key;
  std::string_view column;
  bool numeric;
};
constexpr RunAttribute kRunAttributes[] = {
    {"run_id", "r.run_uuid", false},
    {"run_name", "r.name", false},
    {"status", "r.status", false},
    {"user_id", "r.user_id", false},
    {"artifact_uri", "r.artifact_uri", false},
    {"start_time", "r.start_time", true},
    {"end_time", "r.end_time", true},
};

const RunAttribute* FindRunAttribute(std::string_view key) {
  for (const RunAttribute& a : kRunAttributes)
    if (a.key == key) return &a;
  return nullptr;
}

Status InvalidRunAttribute(std::string_view key) {
  return InvalidArgument("Invalid attribute key " + QuoteForMessage(key) +
                         " specified. Valid keys are '['artifact_uri', 'end_time', 'run_id', 'run_name', "
                         "'start_time', 'status', 'user_id']'");
}

std::string ExistsIn(std::string_view table, SqlBuilder& b, const std::string& key) {
  return "EXISTS (SELECT 1 FROM " + std::string(table) +
         " x WHERE x.run_uuid = r.run_uuid AND x.key = " + b.Bind(key) + ")";
}

Result<std::string> RunFilterClause(store::Dialect dialect, SqlBuilder& b, const FilterTerm& term) {
  const bool null_check = term.comparator == Comparator::kIsNull || term.comparator == Comparator::kIsNotNull;
  switch (term.kind) {
    case TermKind::kAttribute: {
      const RunAttribute* attr = FindRunAttribute(term.key);
      if (attr == nullptr) return InvalidRunAttribute(term.key);
      if (attr->numeric) return NumericPredicate(b, attr->column, term);
      if (term.key == "run_name") {
        // As MLflow: the name is searched through the mlflow.runName tag.
        const std::string tag = b.Bind(std::string(kRunNameTag));
        ASSIGN_OR_RETURN(std::string pred, StringPredicate(dialect, b, "t.value", term));
        return "r.run_uuid IN (SELECT t.run_uuid FROM tags t WHERE t.key = " + tag + " AND " + pred + ")";
      }
      return StringPredicate(dialect, b, attr->column, term);
    }
    case TermKind::kMetric: {
      if (null_check) {
        std::string exists = ExistsIn("latest_metrics", b, term.key);
        return term.comparator == Comparator::kIsNull ? "NOT " + exists : exists;
      }
      const std::string key = b.Bind(term.key);
      ASSIGN_OR_RETURN(std::string pred, NumericPredicate(b, "m.value", term));
      // NaN is stored as 0 with is_nan = 1: it satisfies only "!=".
      pred =
          term.comparator == Comparator::kNe ? "(" + pred + " OR m.is_nan = 1)" : pred + " AND m.is_nan = 0";
      return "r.run_uuid IN (SELECT m.run_uuid FROM latest_metrics m WHERE m.key = " + key + " AND " + pred +
             ")";
    }
    case TermKind::kParam:
    case TermKind::kTag: {
      const std::string_view table = term.kind == TermKind::kParam ? "params" : "tags";
      if (null_check) {
        std::string exists = ExistsIn(table, b, term.key);
        return term.comparator == Comparator::kIsNull ? "NOT " + exists : exists;
      }
      const std::string key = b.Bind(term.key);
      ASSIGN_OR_RETURN(std::string pred,
                       StringPredicate(dialect, b, "x.value", term, /*indexed_prefix=*/true));
      return "r.run_uuid IN (SELECT x.run_uuid FROM " + std::string(table) + " x WHERE x.key = " + key +
             " AND " + pred + ")";
    }
    case TermKind::kDataset: {
      if (term.key == "context") {
        const std::string tag = b.Bind(std::string(kDatasetContextTag));
        ASSIGN_OR_RETURN(std::string pred, StringPredicate(dialect, b, "it.value", term));
        return "r.run_uuid IN (SELECT i.run_uuid FROM run_dataset_inputs i JOIN input_tags it ON "
               "it.input_uuid = "
               "i.input_uuid AND it.name = " +
               tag + " WHERE " + pred + ")";
      }
      if (term.key != "name" && term.key != "digest")
        return InvalidArgument("Invalid dataset key " + QuoteForMessage(term.key) +
                               ". Valid keys are 'name', 'digest' and 'context'");
      ASSIGN_OR_RETURN(std::string pred, StringPredicate(dialect, b, "d." + term.key, term));
      return "r.run_uuid IN (SELECT i.run_uuid FROM run_dataset_inputs i JOIN datasets d ON d.dataset_uuid = "
             "i.dataset_uuid WHERE " +
             pred + ")";
    }
  }
  return InvalidArgument("Invalid search expression type for " + QuoteForMessage(term.key));
}

std::string StageList(ViewType view) {
  switch (view) {
    case ViewType::kActiveOnly:
      return "('active')";
    case ViewType::kDeletedOnly:
      return "('deleted')";
    case ViewType::kAll:
      return "('active', 'deleted')";
  }
  return "('active')";
}

std::string JoinList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", '" : "'") + items[i] + "'";
  return out + "]";
}

}  // namespace

Result<RunQuery> BuildRunSearchQuery(store::Dialect dialect, const std::vector<std::int64_t>& experiment_ids,
                                     ViewType view, const std::vector<FilterTerm>& filter,
                                     const std::vector<OrderTerm>& order_by,
                                     const std::vector<std::string>& raw_order_by) {
  SqlBuilder b;
  std::string joins;
  std::string order;
  std::set<std::pair<TermKind, std::string>> seen;
  bool ordered_by_start_time = false;
  int n = 0;
  for (const OrderTerm& o : order_by) {
    if (!seen.emplace(o.kind, o.key).second)
      return InvalidArgument("`order_by` contains duplicate fields: " + JoinList(raw_order_by));
    const std::string dir = o.ascending ? "" : " DESC";
    const std::string alias = "o" + std::to_string(++n);
    switch (o.kind) {
      case TermKind::kAttribute: {
        const RunAttribute* attr = FindRunAttribute(o.key);
        if (attr == nullptr) return InvalidRunAttribute(o.key);
        if (o.key == "start_time") ordered_by_start_time = true;
        const std::string col(attr->column);
        order += "CASE WHEN " + col + " IS NULL THEN 1 ELSE 0 END, " + col + dir + ", ";
        break;
      }
      case TermKind::kMetric:
        joins += " LEFT JOIN latest_metrics " + alias + " ON " + alias + ".run_uuid = r.run_uuid AND " +
                 alias + ".key = " + b.Bind(o.key);
        // MLflow: numbers first (in the asked direction), then NaN, then runs without the metric.
        order += "CASE WHEN " + alias + ".is_nan = 1 THEN 1 WHEN " + alias +
                 ".value IS NULL THEN 2 ELSE 0 END, " + alias + ".value" + dir + ", ";
        break;
      case TermKind::kParam:
      case TermKind::kTag:
        joins += std::string(" LEFT JOIN ") + (o.kind == TermKind::kParam ? "params " : "tags ") + alias +
                 " ON " + alias + ".run_uuid = r.run_uuid AND " + alias + ".key = " + b.Bind(o.key);
        order += "CASE WHEN " + alias + ".value IS NULL THEN 1 ELSE 0 END, " + alias + ".value" + dir + ", ";
        break;
      case TermKind::kDataset:
        return InvalidArgument("Invalid identifier type 'dataset' in order_by");
    }
  }
  if (!ordered_by_start_time) order += "r.start_time DESC, ";
  order += "r.run_uuid";

  std::string where = "r.experiment_id IN (";
  if (experiment_ids.empty()) {
    where = "1 = 0";
  } else {
    for (std::size_t i = 0; i < experiment_ids.size(); ++i)
      where += (i ? ", " : "") + b.Bind(experiment_ids[i]);
    where += ")";
  }
  where += " AND r.lifecycle_stage IN " + StageList(view);
  for (const FilterTerm& term : filter) {
    ASSIGN_OR_RETURN(std::string clause, RunFilterClause(dialect, b, term));
    where += " AND " + clause;
  }
  RunQuery q;
  q.sql = "SELECT " + std::string(kRunColumns) + " FROM runs r" + joins + " WHERE " + where + " ORDER BY " +
          order;
  q.params = std::move(b.params());
  return q;
}

Result<RunQuery> BuildExperimentSearchQuery(store::Dialect dialect, ViewType view,
                                            const std::vector<FilterTerm>& filter,
                                            const std::vector<OrderTerm>& order_by) {
  SqlBuilder b;
  std::string where = "e.lifecycle_stage IN " + StageList(view);
  for (const FilterTerm& term : filter) {
    std::string clause;
    if (term.kind == TermKind::kAttribute) {
      if (term.key == "experiment_id") {
        // An integer column: ids are parsed the way MLflow's _parse_experiment_id does.
        if (term.comparator != Comparator::kEq && term.comparator != Comparator::kNe &&
            term.comparator != Comparator::kIn && term.comparator != Comparator::kNotIn)
          return InvalidArgument("Invalid comparator for experiment_id: " +
                                 std::string(ComparatorText(term.comparator)));
        std::vector<std::string> ids;
        if (const auto* list = std::get_if<std::vector<std::string>>(&term.value)) {
          ids = *list;
        } else if (const std::string* s = StringValue(term)) {
          ids.push_back(*s);
        } else if (const double* d = std::get_if<double>(&term.value)) {
          if (*d != std::floor(*d) || std::abs(*d) > 9e15)
            return InvalidArgument("Invalid experiment ID. Experiment ID must be a valid integer.");
          ids.push_back(std::to_string(static_cast<std::int64_t>(*d)));
        }
        std::string list;
        for (const std::string& id : ids) {
          ASSIGN_OR_RETURN(std::int64_t parsed, ParseExperimentId(id));
          list += (list.empty() ? "" : ", ") + b.Bind(parsed);
        }
        const bool negate = term.comparator == Comparator::kNe || term.comparator == Comparator::kNotIn;
        if (list.empty()) {
          clause = negate ? "1 = 1" : "1 = 0";
        } else {
          clause = "e.experiment_id " + std::string(negate ? "NOT IN (" : "IN (") + list + ")";
        }
      } else if (term.key == "name") {
        if (term.comparator != Comparator::kEq && term.comparator != Comparator::kNe &&
            term.comparator != Comparator::kLike && term.comparator != Comparator::kILike)
          return InvalidArgument("Invalid comparator for string attribute: " +
                                 std::string(ComparatorText(term.comparator)));
        ASSIGN_OR_RETURN(clause, StringPredicate(dialect, b, "e.name", term));
      } else if (term.key == "creation_time" || term.key == "last_update_time") {
        if (OpSql(term.comparator).empty())
          return InvalidArgument("Invalid comparator for numeric attribute: " +
                                 std::string(ComparatorText(term.comparator)));
        FilterTerm t = term;
        if (const std::string* s = StringValue(term)) {
          // MLflow's int(value).
          char* end = nullptr;
          const long long v = std::strtoll(s->c_str(), &end, 10);
          if (s->empty() || end != s->c_str() + s->size())
            return InvalidArgument("Invalid value for numeric attribute '" + term.key +
                                   "': " + QuoteForMessage(*s));
          t.value = static_cast<double>(v);
        } else if (const double* d = std::get_if<double>(&term.value); d == nullptr || *d != std::floor(*d)) {
          return InvalidArgument("Invalid value for numeric attribute '" + term.key + "'");
        }
        ASSIGN_OR_RETURN(clause, NumericPredicate(b, "e." + term.key, t));
      } else {
        return InvalidArgument("Invalid attribute key " + QuoteForMessage(term.key) +
                               " specified. Valid keys are '['creation_time', 'experiment_id', "
                               "'last_update_time', 'name']'");
      }
    } else if (term.kind == TermKind::kTag) {
      const std::string key = b.Bind(term.key);
      if (term.comparator == Comparator::kIsNull || term.comparator == Comparator::kIsNotNull) {
        clause =
            std::string(term.comparator == Comparator::kIsNull ? "NOT " : "") +
            "EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = " +
            key + ")";
      } else {
        if (term.comparator != Comparator::kEq && term.comparator != Comparator::kNe &&
            term.comparator != Comparator::kLike && term.comparator != Comparator::kILike)
          return InvalidArgument("Invalid comparator for tag: " +
                                 std::string(ComparatorText(term.comparator)));
        ASSIGN_OR_RETURN(std::string pred,
                         StringPredicate(dialect, b, "t.value", term, /*indexed_prefix=*/true));
        clause = "e.experiment_id IN (SELECT t.experiment_id FROM experiment_tags t WHERE t.key = " + key +
                 " AND " + pred + ")";
      }
    } else {
      return InvalidArgument("Invalid token type: " + std::string(TermKindName(term.kind)));
    }
    where += " AND " + clause;
  }

  std::vector<OrderTerm> terms = order_by;
  if (terms.empty()) {
    terms.push_back(OrderTerm{TermKind::kAttribute, "creation_time", false});
    terms.push_back(OrderTerm{TermKind::kAttribute, "experiment_id", true});
  }
  std::string order;
  bool has_id = false;
  for (const OrderTerm& o : terms) {
    if (o.kind != TermKind::kAttribute)
      return InvalidArgument("Invalid order_by entity: " + std::string(TermKindName(o.kind)));
    if (o.key != "name" && o.key != "experiment_id" && o.key != "creation_time" &&
        o.key != "last_update_time")
      return InvalidArgument("Invalid order_by key " + QuoteForMessage(o.key));
    if (o.key == "experiment_id") has_id = true;
    order += "e." + o.key + (o.ascending ? ", " : " DESC, ");
  }
  order += has_id ? "" : "e.experiment_id DESC, ";
  order.resize(order.size() - 2);
  RunQuery q;
  q.sql =
      "SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, "
      "e.last_update_time "
      "FROM experiments e WHERE " +
      where + " ORDER BY " + order;
  q.params = std::move(b.params());
  return q;
}

}  // namespace ferry::tracking::internal
