#include "ferry/executors/local/local_executor_internal.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>

#include "ferry/common/hash.h"
#include "ferry/common/json.h"

namespace ferry::executors::local_internal {
namespace {

constexpr std::string_view kExitMagic = "ferry-exit 1 ";
constexpr std::string_view kStartMagic = "ferry-start 1 ";

// Appends the decimal digits of v to buf at *pos (no allocation).
void AppendInt(long long v, char* buf, std::size_t size, std::size_t* pos) {
  char digits[24];
  int n = 0;
  bool negative = v < 0;
  unsigned long long u =
      negative ? 0ULL - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
  do {
    digits[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (negative && *pos < size) buf[(*pos)++] = '-';
  while (n > 0 && *pos < size) buf[(*pos)++] = digits[--n];
}

bool IntField(const Json& obj, const char* key, std::int64_t lo, std::int64_t hi, std::int64_t* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return false;
  if (it->is_number_unsigned()) {
    std::uint64_t u = it->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(hi)) return false;
    *out = static_cast<std::int64_t>(u);
  } else if (it->is_number_integer()) {
    *out = it->get<std::int64_t>();
  } else {
    return false;
  }
  return *out >= lo && *out <= hi;
}

}  // namespace

std::string EncodeAttachToken(const AttachToken& token) {
  Json j = Json::object();
  j["v"] = 1;
  j["sup"] = token.supervisor_pid;
  j["sups"] = token.supervisor_start;
  j["pid"] = token.task_pid;
  j["pids"] = token.task_start;
  j["exit"] = token.exit_path;
  j["t0"] = token.started_ms;
  return j.dump();
}

Result<AttachToken> DecodeAttachToken(std::string_view text) {
  const std::string field = "attach_token";
  if (text.size() > 4096) return InvalidArgument("attach token is longer than 4096 bytes", field);
  ParseLimits limits;
  limits.max_depth = 2;
  limits.max_nodes = 64;
  auto parsed = ParseJson(text, limits);
  if (!parsed.ok()) return InvalidArgument("attach token is not JSON: " + parsed.status().message(), field);
  const Json& j = *parsed;
  if (!j.is_object()) return InvalidArgument("attach token is not a JSON object", field);
  std::int64_t v = 0;
  if (!IntField(j, "v", 1, 1, &v)) return InvalidArgument("attach token has no version 1 (\"v\")", field);
  constexpr std::int64_t kMaxPid = std::numeric_limits<pid_t>::max();
  constexpr std::int64_t kMaxI64 = std::numeric_limits<std::int64_t>::max();
  AttachToken t;
  std::int64_t n = 0;
  if (!IntField(j, "sup", 1, kMaxPid, &n))
    return InvalidArgument("attach token: bad supervisor pid", field + ".sup");
  t.supervisor_pid = static_cast<pid_t>(n);
  if (!IntField(j, "sups", 0, kMaxI64, &n)) {
    return InvalidArgument("attach token: bad supervisor start time", field + ".sups");
  }
  t.supervisor_start = static_cast<std::uint64_t>(n);
  if (!IntField(j, "pid", 0, kMaxPid, &n))
    return InvalidArgument("attach token: bad task pid", field + ".pid");
  t.task_pid = static_cast<pid_t>(n);
  if (!IntField(j, "pids", 0, kMaxI64, &n)) {
    return InvalidArgument("attach token: bad task start time", field + ".pids");
  }
  t.task_start = static_cast<std::uint64_t>(n);
  if (!IntField(j, "t0", 0, kMaxI64, &n))
    return InvalidArgument("attach token: bad start time", field + ".t0");
  t.started_ms = n;
  auto exit = j.find("exit");
  if (exit == j.end() || !exit->is_string()) {
    return InvalidArgument("attach token: exit path missing or not a string", field + ".exit");
  }
  t.exit_path = exit->get<std::string>();
  const std::string& p = t.exit_path;
  if (p.empty() || p.front() != '/' || p.size() < 6 || p.compare(p.size() - 5, 5, ".exit") != 0 ||
      p.find('\0') != std::string::npos || p.find("/../") != std::string::npos) {
    return InvalidArgument("attach token: exit path must be an absolute path ending in .exit",
                           field + ".exit");
  }
  return t;
}

std::optional<std::uint64_t> ParseProcStatStartTime(std::string_view line) {
  std::size_t close = line.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(close + 1);
  // After ')' come field 3 (state) onwards; starttime is field 22.
  int field = 2;
  std::size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    if (i >= rest.size()) break;
    std::size_t start = i;
    while (i < rest.size() && rest[i] != ' ' && rest[i] != '\n') ++i;
    ++field;
    if (field == 22) {
      std::uint64_t v = 0;
      auto [ptr, ec] = std::from_chars(rest.data() + start, rest.data() + i, v);
      if (ec != std::errc() || ptr != rest.data() + i) return std::nullopt;
      return v;
    }
    if (i < rest.size() && rest[i] == '\n') break;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> ProcessStartTime(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::size_t pos = 0;
  const char prefix[] = "/proc/";
  for (const char* c = prefix; *c; ++c) path[pos++] = *c;
  AppendInt(pid, path, sizeof(path) - 8, &pos);
  for (const char* c = "/stat"; *c; ++c) path[pos++] = *c;
  path[pos] = '\0';
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  return ParseProcStatStartTime(std::string_view(buf, static_cast<std::size_t>(n)));
}

std::size_t FormatExitRecord(const ExitRecord& record, char* buf, std::size_t size) {
  std::size_t pos = 0;
  for (char c : kExitMagic) {
    if (pos < size) buf[pos++] = c;
  }
  AppendInt(record.wait_status, buf, size, &pos);
  if (pos < size) buf[pos++] = ' ';
  AppendInt(record.stage, buf, size, &pos);
  if (pos < size) buf[pos++] = ' ';
  AppendInt(record.error, buf, size, &pos);
  if (pos < size) buf[pos++] = '\n';
  return pos;
}

std::optional<ExitRecord> ParseExitRecord(std::string_view text) {
  if (text.substr(0, kExitMagic.size()) != kExitMagic) return std::nullopt;
  text.remove_prefix(kExitMagic.size());
  if (text.empty() || text.back() != '\n') return std::nullopt;  // torn write
  text.remove_suffix(1);
  int values[3];
  for (int k = 0; k < 3; ++k) {
    std::size_t end = text.find(' ');
    std::string_view part = text.substr(0, end);
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), values[k]);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size()) return std::nullopt;
    if (k < 2) {
      if (end == std::string_view::npos) return std::nullopt;
      text.remove_prefix(end + 1);
    } else if (end != std::string_view::npos) {
      return std::nullopt;
    }
  }
  if (values[1] < kStageNone || values[1] > kStageFork) return std::nullopt;
  return ExitRecord{values[0], values[1], values[2]};
}

std::size_t FormatStartRecord(const StartRecord& record, char* buf, std::size_t size) {
  std::size_t pos = 0;
  for (char c : kStartMagic) {
    if (pos < size) buf[pos++] = c;
  }
  const long long values[5] = {record.supervisor_pid, static_cast<long long>(record.supervisor_start),
                               record.task_pid, static_cast<long long>(record.task_start), record.started_ms};
  for (int k = 0; k < 5; ++k) {
    if (k > 0 && pos < size) buf[pos++] = ' ';
    AppendInt(values[k], buf, size, &pos);
  }
  if (pos < size) buf[pos++] = '\n';
  return pos;
}

std::optional<StartRecord> ParseStartRecord(std::string_view text) {
  if (text.substr(0, kStartMagic.size()) != kStartMagic) return std::nullopt;
  text.remove_prefix(kStartMagic.size());
  if (text.empty() || text.back() != '\n') return std::nullopt;  // torn write
  text.remove_suffix(1);
  std::int64_t values[5];
  for (int k = 0; k < 5; ++k) {
    std::size_t end = text.find(' ');
    std::string_view part = text.substr(0, end);
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), values[k]);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || values[k] < 0) {
      return std::nullopt;
    }
    if (k < 4) {
      if (end == std::string_view::npos) return std::nullopt;
      text.remove_prefix(end + 1);
    } else if (end != std::string_view::npos) {
      return std::nullopt;
    }
  }
  constexpr std::int64_t kMaxPid = std::numeric_limits<pid_t>::max();
  if (values[0] < 1 || values[0] > kMaxPid || values[2] < 1 || values[2] > kMaxPid) return std::nullopt;
  StartRecord r;
  r.supervisor_pid = static_cast<pid_t>(values[0]);
  r.supervisor_start = static_cast<std::uint64_t>(values[1]);
  r.task_pid = static_cast<pid_t>(values[2]);
  r.task_start = static_cast<std::uint64_t>(values[3]);
  r.started_ms = values[4];
  return r;
}

std::string StartFileName(std::string_view id) {
  std::string name = ExitFileName(id);
  name.resize(name.size() - 5);
  return name + ".start";
}

std::string ExitFileName(std::string_view id) {
  bool safe = !id.empty() && id.size() <= 100 && id.front() != '.';
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.')) {
      safe = false;
      break;
    }
  }
  if (safe) return std::string(id) + ".exit";
  return "x-" + Sha256Hex(id).substr(0, 32) + ".exit";
}

std::string SignalName(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  if (abbrev != nullptr) return std::string("SIG") + abbrev;
  return "signal " + std::to_string(signal);
}

}  // namespace ferry::executors::local_internal
