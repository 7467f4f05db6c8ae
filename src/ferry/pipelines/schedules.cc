#include "ferry/pipelines/schedules.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "ferry/common/logging.h"
#include "ferry/common/strings.h"
#include "ferry/pipelines/catalog_store.h"

namespace ferry::pipelines {
namespace {

using store::Row;
using store::Rows;
using store::Value;

// ---- civil time in UTC (Howard Hinnant's algorithms) ----

std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month, day, hour, minute, second, weekday;  // weekday 0 = Sunday
};

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

Civil ToCivil(std::int64_t epoch) {
  std::int64_t days = FloorDiv(epoch, 86400);
  const std::int64_t secs = epoch - days * 86400;
  Civil c{};
  c.hour = static_cast<unsigned>(secs / 3600);
  c.minute = static_cast<unsigned>(secs % 3600 / 60);
  c.second = static_cast<unsigned>(secs % 60);
  c.weekday = static_cast<unsigned>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  c.day = doy - (153 * mp + 2) / 5 + 1;
  c.month = mp < 10 ? mp + 3 : mp - 9;
  c.year = static_cast<std::int64_t>(yoe) + era * 400 + (c.month <= 2);
  return c;
}

std::int64_t ToEpoch(std::int64_t year, unsigned month, unsigned day, unsigned hour = 0, unsigned minute = 0,
                     unsigned second = 0) {
  // Month overflow carries into the year (Go's time.Date normalises so).
  year += (month - 1) / 12;
  month = (month - 1) % 12 + 1;
  return DaysFromCivil(year, month, 1) * 86400 + (static_cast<std::int64_t>(day) - 1) * 86400 + hour * 3600 +
         minute * 60 + second;
}

// ---- robfig/cron v1 fields ----

constexpr std::uint64_t kStarBit = std::uint64_t{1} << 63;

struct Bounds {
  unsigned min, max;
  const std::map<std::string, unsigned>* names;
};

const std::map<std::string, unsigned> kMonthNames = {{"jan", 1}, {"feb", 2},  {"mar", 3},  {"apr", 4},
                                                     {"may", 5}, {"jun", 6},  {"jul", 7},  {"aug", 8},
                                                     {"sep", 9}, {"oct", 10}, {"nov", 11}, {"dec", 12}};
const std::map<std::string, unsigned> kDowNames = {{"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3},
                                                   {"thu", 4}, {"fri", 5}, {"sat", 6}};
const Bounds kSeconds{0, 59, nullptr}, kMinutes{0, 59, nullptr}, kHours{0, 23, nullptr}, kDom{1, 31, nullptr},
    kMonths{1, 12, &kMonthNames}, kDow{0, 6, &kDowNames};

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

Result<unsigned> ParseNumber(const std::string& text, std::string_view expr) {
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return InvalidArgument("Failed to parse int from " + text + ": " + std::string(expr));
  return static_cast<unsigned>(std::stoul(text));
}

Result<unsigned> ParseIntOrName(const std::string& text, const Bounds& r, std::string_view expr) {
  if (r.names != nullptr) {
    std::string lower = text;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = r.names->find(lower);
    if (it != r.names->end()) return it->second;
  }
  return ParseNumber(text, expr);
}

Result<std::uint64_t> ParseRange(const std::string& expr, const Bounds& r) {
  const std::vector<std::string> range_and_step = Split(expr, '/');
  const std::vector<std::string> low_high = Split(range_and_step[0], '-');
  unsigned start = 0, end = 0, step = 1;
  std::uint64_t extra = 0;
  if (low_high[0] == "*" || low_high[0] == "?") {
    if (low_high.size() > 1) return InvalidArgument("Too many hyphens: " + expr);
    start = r.min;
    end = r.max;
    extra = kStarBit;
  } else {
    ASSIGN_OR_RETURN(start, ParseIntOrName(low_high[0], r, expr));
    if (low_high.size() == 1) {
      end = start;
    } else if (low_high.size() == 2) {
      ASSIGN_OR_RETURN(end, ParseIntOrName(low_high[1], r, expr));
    } else {
      return InvalidArgument("Too many hyphens: " + expr);
    }
  }
  if (range_and_step.size() == 2) {
    ASSIGN_OR_RETURN(step, ParseNumber(range_and_step[1], expr));
    if (low_high.size() == 1) end = r.max;  // "N/step" means "N-max/step"
  } else if (range_and_step.size() > 2) {
    return InvalidArgument("Too many slashes: " + expr);
  }
  if (start < r.min)
    return InvalidArgument("Beginning of range (" + std::to_string(start) + ") below minimum (" +
                           std::to_string(r.min) + "): " + expr);
  if (end > r.max)
    return InvalidArgument("End of range (" + std::to_string(end) + ") above maximum (" +
                           std::to_string(r.max) + "): " + expr);
  if (start > end)
    return InvalidArgument("Beginning of range (" + std::to_string(start) + ") beyond end of range (" +
                           std::to_string(end) + "): " + expr);
  if (step == 0) return InvalidArgument("Step of range should be a positive number: " + expr);
  std::uint64_t bits = 0;
  for (unsigned i = start; i <= end; i += step) bits |= std::uint64_t{1} << i;
  return bits | extra;
}

Result<std::uint64_t> ParseField(const std::string& field, const Bounds& r) {
  std::uint64_t bits = 0;
  for (const std::string& item : Split(field, ',')) {
    if (item.empty()) return InvalidArgument("Empty item in the list " + field);
    ASSIGN_OR_RETURN(std::uint64_t b, ParseRange(item, r));
    bits |= b;
  }
  return bits;
}

std::uint64_t All(const Bounds& r) {
  std::uint64_t bits = 0;
  for (unsigned i = r.min; i <= r.max; ++i) bits |= std::uint64_t{1} << i;
  return bits | kStarBit;
}

// Go's time.ParseDuration, rounded down to whole seconds (robfig's Every).
Result<std::int64_t> ParseGoDurationSeconds(std::string_view text) {
  const std::string orig(text);
  if (text.empty()) return InvalidArgument("time: invalid duration " + QuoteForMessage(orig));
  if (text == "0") return 0;
  if (text[0] == '-') return InvalidArgument("@every needs a positive duration: " + orig);
  if (text[0] == '+') text.remove_prefix(1);
  double total_ns = 0;
  while (!text.empty()) {
    std::size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == 0) return InvalidArgument("time: invalid duration " + QuoteForMessage(orig));
    const std::string number(text.substr(0, i));
    if (std::count(number.begin(), number.end(), '.') > 1 || number == ".")
      return InvalidArgument("time: invalid duration " + QuoteForMessage(orig));
    text.remove_prefix(i);
    std::size_t j = 0;
    while (j < text.size() && !std::isdigit(static_cast<unsigned char>(text[j])) && text[j] != '.') ++j;
    const std::string unit(text.substr(0, j));
    text.remove_prefix(j);
    double scale = 0;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else if (unit.empty())
      return InvalidArgument("time: missing unit in duration " + QuoteForMessage(orig));
    else
      return InvalidArgument("time: unknown unit " + QuoteForMessage(unit) + " in duration " +
                             QuoteForMessage(orig));
    total_ns += std::stod(number) * scale;
    if (total_ns > 9.2e18) return InvalidArgument("time: invalid duration " + QuoteForMessage(orig));
  }
  return static_cast<std::int64_t>(total_ns / 1e9);
}

// ---- rows ----

constexpr char kColumns[] =
    "recurring_run_id, namespace, display_name, description, experiment_id, pipeline_id, "
    "pipeline_version_id, parameters, pipeline_root, service_account, trigger_kind, cron, "
    "interval_second, start_epoch, end_epoch, max_concurrency, no_catchup, enabled, created_micros, "
    "updated_micros, last_triggered_epoch, last_index, error";

std::string_view KindName(Trigger::Kind kind) {
  switch (kind) {
    case Trigger::Kind::kCron:
      return "cron";
    case Trigger::Kind::kPeriodic:
      return "periodic";
    case Trigger::Kind::kOnce:
      return "once";
  }
  return "once";
}

RecurringRun FromRow(const Row& r) {
  RecurringRun run;
  run.recurring_run_id = r.Text(0);
  run.namespace_ = r.Text(1);
  run.display_name = r.Text(2);
  run.description = r.Text(3);
  run.experiment_id = r.Text(4);
  run.pipeline_id = r.Text(5);
  run.pipeline_version_id = r.Text(6);
  auto params = ParseJson(r.Text(7));
  if (params.ok() && params->is_object())
    for (const auto& [k, v] : params->items()) run.parameters[k] = v;
  run.pipeline_root = r.Text(8);
  run.service_account = r.Text(9);
  const std::string& kind = r.Text(10);
  run.trigger.kind = kind == "cron"       ? Trigger::Kind::kCron
                     : kind == "periodic" ? Trigger::Kind::kPeriodic
                                          : Trigger::Kind::kOnce;
  run.trigger.cron = r.Text(11);
  run.trigger.interval_second = r.Int(12);
  run.trigger.start_epoch = r.OptInt(13);
  run.trigger.end_epoch = r.OptInt(14);
  run.max_concurrency = r.Int(15);
  run.no_catchup = r.Int(16) != 0;
  run.enabled = r.Int(17) != 0;
  run.created_micros = r.Int(18);
  run.updated_micros = r.Int(19);
  run.last_triggered_epoch = r.OptInt(20);
  run.last_index = r.Int(21);
  run.error = r.Text(22);
  return run;
}

Value OptValue(const std::optional<std::int64_t>& v) { return v ? Value(*v) : Value(nullptr); }

Status CheckText(std::string_view text, std::string_view field) {
  if (!IsStorableText(text))
    return InvalidArgument(std::string(field) + " must be valid UTF-8 without NUL bytes", std::string(field));
  return Status::OK();
}

Status Validate(const RecurringRun& run) {
  if (run.display_name.find_first_not_of(" \t\r\n") == std::string::npos)
    return InvalidArgument("Recurring run name is empty. Please specify a valid name",
                           "recurring_run.display_name");
  if (run.display_name.size() > kMaxNameLength)
    return InvalidArgument("Recurring run name is longer than " + std::to_string(kMaxNameLength) + " bytes",
                           "recurring_run.display_name");
  RETURN_IF_ERROR(CheckText(run.display_name, "recurring_run.display_name"));
  RETURN_IF_ERROR(CheckText(run.description, "recurring_run.description"));
  RETURN_IF_ERROR(CheckText(run.namespace_, "recurring_run.namespace"));
  RETURN_IF_ERROR(CheckText(run.service_account, "recurring_run.service_account"));
  RETURN_IF_ERROR(CheckText(run.pipeline_root, "recurring_run.runtime_config.pipeline_root"));
  RETURN_IF_ERROR(CheckText(run.pipeline_text, "recurring_run.pipeline_spec"));
  if (run.experiment_id.empty())
    return InvalidArgument("a recurring run needs an experiment", "recurring_run.experiment_id");
  if (run.pipeline_text.find_first_not_of(" \t\r\n") == std::string::npos)
    return InvalidArgument("a recurring run needs a pipeline", "recurring_run.pipeline_spec");
  if (run.max_concurrency > 10 || run.max_concurrency < 1)
    return InvalidArgument(
        "The max concurrency of the recurring run is out of range. Support 1-10. Received " +
            std::to_string(run.max_concurrency) + ".",
        "recurring_run.max_concurrency");
  const Trigger& t = run.trigger;
  if (t.kind == Trigger::Kind::kCron) {
    auto parsed = CronSchedule::Parse(t.cron);
    if (!parsed.ok())
      return InvalidArgument(
          "Schedule cron is not a supported format(https://godoc.org/github.com/robfig/cron). Error: " +
              parsed.status().message(),
          "recurring_run.trigger.cron_schedule.cron");
  }
  if (t.kind == Trigger::Kind::kPeriodic && t.interval_second < 1)
    return InvalidArgument("Found invalid period schedule interval " + std::to_string(t.interval_second) +
                               ". Set at interval to least 1 second.",
                           "recurring_run.trigger.periodic_schedule.interval_second");
  if (t.start_epoch && t.end_epoch && *t.end_epoch < *t.start_epoch)
    return InvalidArgument("the trigger's end_time is before its start_time",
                           "recurring_run.trigger.end_time");
  return Status::OK();
}

std::uint32_t Fnv32a(std::string_view text) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

}  // namespace

// ---- CronSchedule ----

Result<CronSchedule> CronSchedule::Parse(std::string_view expression) {
  std::string spec(expression);
  const auto first = spec.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return InvalidArgument("Empty spec string");
  spec = spec.substr(first, spec.find_last_not_of(" \t\r\n") - first + 1);
  CronSchedule s;
  if (spec[0] == '@') {
    auto set = [&s](std::uint64_t sec, std::uint64_t min, std::uint64_t hour, std::uint64_t dom,
                    std::uint64_t month, std::uint64_t dow) {
      s.second_ = sec, s.minute_ = min, s.hour_ = hour, s.dom_ = dom, s.month_ = month, s.dow_ = dow;
    };
    const std::uint64_t z_sec = 1, z_min = 1, z_hour = 1, one_dom = 2, one_month = 2, sun = 1;
    if (spec == "@yearly" || spec == "@annually") {
      set(z_sec, z_min, z_hour, one_dom, one_month, All(kDow));
    } else if (spec == "@monthly") {
      set(z_sec, z_min, z_hour, one_dom, All(kMonths), All(kDow));
    } else if (spec == "@weekly") {
      set(z_sec, z_min, z_hour, All(kDom), All(kMonths), sun);
    } else if (spec == "@daily" || spec == "@midnight") {
      set(z_sec, z_min, z_hour, All(kDom), All(kMonths), All(kDow));
    } else if (spec == "@hourly") {
      set(z_sec, z_min, All(kHours), All(kDom), All(kMonths), All(kDow));
    } else if (spec.rfind("@every ", 0) == 0) {
      ASSIGN_OR_RETURN(std::int64_t secs, ParseGoDurationSeconds(spec.substr(7)));
      s.every_seconds_ = std::max<std::int64_t>(secs, 1);  // robfig: at least a second
    } else {
      return InvalidArgument("Unrecognized descriptor: " + spec);
    }
    return s;
  }
  std::vector<std::string> fields;
  for (std::size_t i = 0; i < spec.size();) {
    while (i < spec.size() && std::isspace(static_cast<unsigned char>(spec[i]))) ++i;
    std::size_t j = i;
    while (j < spec.size() && !std::isspace(static_cast<unsigned char>(spec[j]))) ++j;
    if (j > i) fields.push_back(spec.substr(i, j - i));
    i = j;
  }
  if (fields.size() != 5 && fields.size() != 6)
    return InvalidArgument("Expected 5 to 6 fields, found " + std::to_string(fields.size()) + ": " + spec);
  if (fields.size() == 5) fields.push_back("*");  // the day of week is optional
  ASSIGN_OR_RETURN(s.second_, ParseField(fields[0], kSeconds));
  ASSIGN_OR_RETURN(s.minute_, ParseField(fields[1], kMinutes));
  ASSIGN_OR_RETURN(s.hour_, ParseField(fields[2], kHours));
  ASSIGN_OR_RETURN(s.dom_, ParseField(fields[3], kDom));
  ASSIGN_OR_RETURN(s.month_, ParseField(fields[4], kMonths));
  ASSIGN_OR_RETURN(s.dow_, ParseField(fields[5], kDow));
  return s;
}

std::optional<std::int64_t> CronSchedule::Next(std::int64_t after_epoch) const {
  if (every_seconds_ > 0) return after_epoch + every_seconds_;
  // robfig/cron's SpecSchedule.Next, in UTC and whole seconds.
  std::int64_t t = after_epoch + 1;
  Civil c = ToCivil(t);
  const std::int64_t year_limit = c.year + 5;
  bool added = false;
  auto bit = [](std::uint64_t bits, unsigned i) { return (bits >> i) & 1u; };
  auto day_matches = [&](const Civil& x) {
    const bool dom_match = bit(dom_, x.day), dow_match = bit(dow_, x.weekday);
    if ((dom_ & kStarBit) || (dow_ & kStarBit)) return dom_match && dow_match;
    return dom_match || dow_match;
  };
wrap:
  c = ToCivil(t);
  if (c.year > year_limit) return std::nullopt;
  while (!bit(month_, c.month)) {
    if (!added) {
      added = true;
      t = ToEpoch(c.year, c.month, 1);
    }
    c = ToCivil(t);
    t = ToEpoch(c.year, c.month + 1, c.day, c.hour, c.minute, c.second);
    c = ToCivil(t);
    if (c.month == 1) goto wrap;
  }
  while (!day_matches(c)) {
    if (!added) {
      added = true;
      t = ToEpoch(c.year, c.month, c.day);
    }
    t += 86400;
    c = ToCivil(t);
    if (c.day == 1) goto wrap;
  }
  while (!bit(hour_, c.hour)) {
    if (!added) {
      added = true;
      t = ToEpoch(c.year, c.month, c.day, c.hour);
    }
    t += 3600;
    c = ToCivil(t);
    if (c.hour == 0) goto wrap;
  }
  while (!bit(minute_, c.minute)) {
    if (!added) {
      added = true;
      t = ToEpoch(c.year, c.month, c.day, c.hour, c.minute);
    }
    t += 60;
    c = ToCivil(t);
    if (c.minute == 0) goto wrap;
  }
  while (!bit(second_, c.second)) {
    if (!added) added = true;
    t += 1;
    c = ToCivil(t);
    if (c.second == 0) goto wrap;
  }
  return t;
}

// ---- next fire ----

Result<std::int64_t> NextScheduledEpoch(const Trigger& trigger, std::optional<std::int64_t> last_triggered,
                                        std::int64_t created_epoch, bool catchup, std::int64_t now_epoch) {
  // Before the first fire: the start time if set, else the creation.
  std::int64_t last = created_epoch;
  if (last_triggered)
    last = *last_triggered;
  else if (trigger.start_epoch)
    last = *trigger.start_epoch;
  const std::int64_t end = trigger.end_epoch.value_or(kNeverEpoch);

  switch (trigger.kind) {
    case Trigger::Kind::kOnce:
      return last_triggered ? kNeverEpoch : created_epoch;
    case Trigger::Kind::kPeriodic: {
      const std::int64_t interval = std::max<std::int64_t>(trigger.interval_second, 1);
      std::int64_t start = last;
      if (trigger.start_epoch && *trigger.start_epoch > start) start = *trigger.start_epoch;
      const std::int64_t next = start + interval;
      if (end < next) return kNeverEpoch;
      // No catch-up: when more than one interval was missed, fire now.
      if (!catchup && now_epoch >= next + interval) return now_epoch;
      return next;
    }
    case Trigger::Kind::kCron: {
      ASSIGN_OR_RETURN(CronSchedule schedule, CronSchedule::Parse(trigger.cron));
      std::int64_t start = last;
      if (trigger.start_epoch && *trigger.start_epoch > start) start = *trigger.start_epoch;
      std::optional<std::int64_t> next = schedule.Next(start);
      if (!next || end < *next) return kNeverEpoch;
      if (catchup) return *next;
      // No catch-up: the latest time due now, skipping the ones between.
      std::int64_t result = *next;
      for (int guard = 0; guard < 10'000'000; ++guard) {
        std::optional<std::int64_t> after = schedule.Next(result);
        if (!after || *after > now_epoch || *after > end) break;
        result = *after;
      }
      return result;
    }
  }
  return kNeverEpoch;
}

std::string FiredRunName(std::string_view display_name, std::string_view recurring_run_id,
                         std::int64_t index) {
  const std::string id = std::string(display_name) + "-" + std::to_string(index);
  return id + "-" + std::to_string(Fnv32a(std::string(recurring_run_id) + "-" + std::to_string(index)));
}

// ---- Scheduler ----

Result<std::unique_ptr<Scheduler>> Scheduler::Open(store::Database* db, Env* env, PipelineEngine* engine,
                                                   CatalogStore* catalog, SchedulerOptions options) {
  if (db == nullptr || env == nullptr || engine == nullptr)
    return InvalidArgument("Scheduler::Open: db, env and engine are required");
  std::unique_ptr<Scheduler> s(new Scheduler(db, env, engine, catalog, options));
  RETURN_IF_ERROR(db->Query("SELECT COUNT(*) FROM kfp_recurring_runs").status());
  return s;
}

Scheduler::~Scheduler() { Stop(); }

Result<RecurringRun> Scheduler::Create(const RecurringRun& given) {
  RETURN_IF_ERROR(Validate(given));
  RecurringRun run = given;
  run.recurring_run_id = env_->NewUuid();
  run.created_micros = run.updated_micros = env_->NowMicros();
  run.last_triggered_epoch.reset();
  run.last_index = 0;
  run.error.clear();
  Json params = Json::object();
  for (const auto& [k, v] : run.parameters) params[k] = v;
  {
    std::lock_guard lock(fire_mu_);
    RETURN_IF_ERROR(
        db_->Exec(
               "INSERT INTO kfp_recurring_runs (recurring_run_id, namespace, display_name, description, "
               "experiment_id, pipeline_id, pipeline_version_id, pipeline_text, parameters, pipeline_root, "
               "service_account, trigger_kind, cron, interval_second, start_epoch, end_epoch, "
               "max_concurrency, no_catchup, enabled, created_micros, updated_micros, "
               "last_triggered_epoch, last_index, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
               "$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, NULL, 0, '')",
               {run.recurring_run_id,
                run.namespace_,
                run.display_name,
                run.description,
                run.experiment_id,
                run.pipeline_id,
                run.pipeline_version_id,
                run.pipeline_text,
                params.dump(),
                run.pipeline_root,
                run.service_account,
                std::string(KindName(run.trigger.kind)),
                run.trigger.cron,
                run.trigger.interval_second,
                OptValue(run.trigger.start_epoch),
                OptValue(run.trigger.end_epoch),
                run.max_concurrency,
                std::int64_t{run.no_catchup ? 1 : 0},
                std::int64_t{run.enabled ? 1 : 0},
                run.created_micros,
                run.updated_micros})
            .status());
  }
  {
    std::lock_guard lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_all();
  return run;
}

Result<RecurringRun> Scheduler::Get(std::string_view recurring_run_id) {
  ASSIGN_OR_RETURN(Rows rows,
                   db_->Query(std::string("SELECT ") + kColumns +
                                  ", pipeline_text FROM kfp_recurring_runs WHERE recurring_run_id = $1",
                              {std::string(recurring_run_id)}));
  if (rows.empty()) return NotFound("RecurringRun " + QuoteForMessage(recurring_run_id) + " not found");
  RecurringRun run = FromRow(rows[0]);
  run.pipeline_text = rows[0].Text(23);
  return run;
}

Result<std::vector<RecurringRun>> Scheduler::List() {
  ASSIGN_OR_RETURN(Rows rows,
                   db_->Query(std::string("SELECT ") + kColumns +
                              " FROM kfp_recurring_runs ORDER BY created_micros, recurring_run_id"));
  std::vector<RecurringRun> out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(FromRow(r));
  return out;
}

Status Scheduler::SetEnabled(std::string_view recurring_run_id, bool enabled) {
  {
    std::lock_guard lock(fire_mu_);
    ASSIGN_OR_RETURN(
        std::int64_t n,
        db_->Exec("UPDATE kfp_recurring_runs SET enabled = $1, updated_micros = $2 "
                  "WHERE recurring_run_id = $3",
                  {std::int64_t{enabled ? 1 : 0}, env_->NowMicros(), std::string(recurring_run_id)}));
    if (n == 0) return NotFound("RecurringRun " + QuoteForMessage(recurring_run_id) + " not found");
  }
  {
    std::lock_guard lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_all();
  return Status::OK();
}

Status Scheduler::Delete(std::string_view recurring_run_id) {
  std::lock_guard lock(fire_mu_);
  ASSIGN_OR_RETURN(std::int64_t n, db_->Exec("DELETE FROM kfp_recurring_runs WHERE recurring_run_id = $1",
                                             {std::string(recurring_run_id)}));
  if (n == 0) return NotFound("RecurringRun " + QuoteForMessage(recurring_run_id) + " not found");
  return Status::OK();
}

Result<std::int64_t> Scheduler::CountActive(const std::string& recurring_run_id) {
  std::int64_t active = 0;
  for (RunState state : {RunState::kPending, RunState::kRunning, RunState::kCanceling}) {
    ListRunsRequest list;
    list.recurring_run_id = recurring_run_id;
    list.state = state;
    list.page_size = 1;
    ASSIGN_OR_RETURN(ListRunsResponse page, engine_->ListRuns(list));
    active += page.total_size;
  }
  return active;
}

Result<bool> Scheduler::AlreadyFired(const RecurringRun& run, std::int64_t index) {
  const std::string name = FiredRunName(run.display_name, run.recurring_run_id, index);
  ListRunsRequest list;
  list.recurring_run_id = run.recurring_run_id;
  list.name_contains = name;
  ASSIGN_OR_RETURN(ListRunsResponse found, engine_->ListRuns(list));
  for (const RunStatus& r : found.runs)
    if (r.display_name == name) return true;
  return false;
}

Status Scheduler::SubmitFire(RecurringRun& run, std::int64_t index) {
  RunRequest req;
  req.display_name = FiredRunName(run.display_name, run.recurring_run_id, index);
  req.description = run.description;
  if (run.pipeline_text.empty()) {  // Tick reads it only for the schedules that fire
    ASSIGN_OR_RETURN(Rows rows,
                     db_->Query("SELECT pipeline_text FROM kfp_recurring_runs WHERE recurring_run_id = $1",
                                {run.recurring_run_id}));
    if (rows.empty()) return NotFound("RecurringRun " + QuoteForMessage(run.recurring_run_id) + " not found");
    run.pipeline_text = rows[0].Text(0);
  }
  req.pipeline_text = run.pipeline_text;
  req.parameters = run.parameters;
  req.experiment_id = run.experiment_id;
  req.pipeline_id = run.pipeline_id;
  req.pipeline_version_id = run.pipeline_version_id;
  req.recurring_run_id = run.recurring_run_id;
  req.pipeline_root = run.pipeline_root;
  ASSIGN_OR_RETURN(RunStatus submitted, engine_->SubmitRun(req));
  if (catalog_ != nullptr) {
    Status touched = catalog_->TouchExperiment(submitted.experiment_id, submitted.created_micros);
    if (!touched.ok() && touched.code() != StatusCode::kNotFound) return touched;
  }
  return Status::OK();
}

std::int64_t Scheduler::FireDue(RecurringRun& run, std::int64_t now_micros) {
  const std::int64_t now_epoch = FloorDiv(now_micros, 1'000'000);
  const std::int64_t created_epoch = FloorDiv(run.created_micros, 1'000'000);
  const std::int64_t recheck_micros =
      now_micros + std::chrono::duration_cast<std::chrono::microseconds>(options_.recheck).count();
  for (int fired = 0;; ++fired) {
    auto next =
        NextScheduledEpoch(run.trigger, run.last_triggered_epoch, created_epoch, !run.no_catchup, now_epoch);
    if (!next.ok()) {
      LogEvent(spdlog::level::err, "recurring run has a bad trigger",
               {{"recurring_run_id", run.recurring_run_id}, {"error", next.status().ToString()}});
      return kNeverEpoch;
    }
    if (*next == kNeverEpoch) return kNeverEpoch;
    if (*next > now_epoch) return *next * 1'000'000;
    if (fired >= options_.max_fires_per_tick) return now_micros;

    const std::int64_t index = run.last_index + 1;
    auto fired_before = AlreadyFired(run, index);
    if (!fired_before.ok()) {
      LogEvent(spdlog::level::warn, "recurring run: could not look for an earlier fire",
               {{"recurring_run_id", run.recurring_run_id}, {"error", fired_before.status().ToString()}});
      return recheck_micros;
    }
    Status submitted = Status::OK();
    if (!*fired_before) {
      auto active = CountActive(run.recurring_run_id);
      if (!active.ok()) {
        LogEvent(spdlog::level::warn, "recurring run: could not count active runs",
                 {{"recurring_run_id", run.recurring_run_id}, {"error", active.status().ToString()}});
        return recheck_micros;
      }
      if (*active >= run.max_concurrency) return recheck_micros;
      submitted = SubmitFire(run, index);
    }
    if (!submitted.ok()) {
      // Kept in the row (the API shows it) and tried again later; a run
      // that can never start (bad parameters) keeps failing visibly.
      LogEvent(spdlog::level::warn, "recurring run could not start a run",
               {{"recurring_run_id", run.recurring_run_id}, {"error", submitted.ToString()}});
      const std::string error = SanitizeForMessage(submitted.message());
      if (error != run.error) {
        auto n = db_->Exec("UPDATE kfp_recurring_runs SET error = $1 WHERE recurring_run_id = $2",
                           {error, run.recurring_run_id});
        if (n.ok()) run.error = error;
      }
      return recheck_micros;
    }
    auto n = db_->Exec(
        "UPDATE kfp_recurring_runs SET last_triggered_epoch = $1, last_index = $2, error = '' "
        "WHERE recurring_run_id = $3 AND last_index = $4",
        {*next, index, run.recurring_run_id, run.last_index});
    if (!n.ok()) {
      LogEvent(spdlog::level::warn, "recurring run: could not record a fire",
               {{"recurring_run_id", run.recurring_run_id}, {"error", n.status().ToString()}});
      return recheck_micros;
    }
    if (*n == 0) return kNeverEpoch;  // deleted meanwhile
    run.last_triggered_epoch = *next;
    run.last_index = index;
    run.error.clear();
  }
}

Result<std::int64_t> Scheduler::Tick() {
  std::lock_guard lock(fire_mu_);
  ASSIGN_OR_RETURN(Rows rows, db_->Query(std::string("SELECT ") + kColumns +
                                         " FROM kfp_recurring_runs WHERE enabled = 1 "
                                         "ORDER BY created_micros, recurring_run_id"));
  const std::int64_t now = env_->NowMicros();
  std::int64_t wake = kNeverEpoch;
  for (const Row& row : rows) {
    RecurringRun run = FromRow(row);
    wake = std::min(wake, FireDue(run, now));
  }
  return wake;
}

void Scheduler::Start() {
  std::lock_guard lock(wake_mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard lock(wake_mu_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Loop() {
  while (true) {
    {
      std::lock_guard lock(wake_mu_);
      if (stop_) return;
      wake_ = false;
    }
    auto wake = Tick();
    std::chrono::microseconds sleep = options_.max_sleep;
    if (!wake.ok()) {
      LogEvent(spdlog::level::warn, "recurring runs: tick failed", {{"error", wake.status().ToString()}});
      sleep = options_.recheck;
    } else if (*wake != kNeverEpoch) {
      const std::int64_t delta = *wake - env_->NowMicros();
      sleep = std::clamp(std::chrono::microseconds(std::max<std::int64_t>(delta, 0)),
                         std::chrono::microseconds(0), std::chrono::microseconds(options_.max_sleep));
    }
    std::unique_lock lock(wake_mu_);
    wake_cv_.wait_for(lock, sleep, [this] { return stop_ || wake_; });
    if (stop_) return;
  }
}

}  // namespace ferry::pipelines
