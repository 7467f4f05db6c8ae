// Python environments for KFP lightweight components: the recogniser of the
// compiler's command shape and the cache of venvs (python_env.h).
#include "ferry/pipelines/python_env.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <utility>

#include "ferry/common/hash.h"
#include "ferry/common/json.h"
#include "ferry/common/spawn.h"
#include "ferry/pipelines/python_env_internal.h"

extern char** environ;

namespace ferry::pipelines {
namespace fs = std::filesystem;

namespace internal {

namespace {

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& extra_env,
                                 std::size_t max_output) {
  if (argv.empty() || argv[0].empty()) return InvalidArgument("RunProcess: empty argv");
  std::vector<std::string> env_strings;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view kv(*entry);
    const std::string name(kv.substr(0, kv.find('=')));
    if (extra_env.count(name) == 0) env_strings.emplace_back(kv);
  }
  for (const auto& [name, value] : extra_env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args(argv);
  std::vector<char*> argp;
  for (auto& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Internal("pipe2: " + ErrnoText(errno));
  Fd read_end(fds[0]);
  Fd write_end(fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 2);
  const SpawnAttributes attr(/*own_process_group=*/false);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, argp[0], &actions, attr.get(), argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  write_end.Reset();
  if (spawned != 0) {
    return FailedPrecondition("cannot run " + argv[0] + ": " + ErrnoText(spawned));
  }

  ProcessResult result;
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(read_end.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer, static_cast<std::size_t>(n));
    if (result.output.size() > 2 * max_output) {
      result.output.erase(0, result.output.size() - max_output);
    }
  }
  if (result.output.size() > max_output) {
    result.output.erase(0, result.output.size() - max_output);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Internal("waitpid: " + ErrnoText(errno));
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  } else {
    result.exit_code = -1;
  }
  return result;
}

std::string LastLines(std::string_view text, std::size_t n) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (n == 0) return {};
  std::size_t start = text.size();
  std::size_t count = 0;
  while (start > 0) {
    const std::size_t nl = text.rfind('\n', start - 1);
    if (nl == std::string_view::npos) {
      start = 0;
      break;
    }
    if (++count == n) {
      start = nl + 1;
      break;
    }
    start = nl;
  }
  return std::string(text.substr(start));
}

bool IsKfpRequirement(std::string_view spec) {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  std::size_t i = 0;
  while (i < spec.size() && is_space(spec[i])) ++i;
  std::string name;  // PEP 503 normalised
  bool last_sep = false;
  for (; i < spec.size(); ++i) {
    const char c = spec[i];
    if (std::isalnum(static_cast<unsigned char>(c))) {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      last_sep = false;
    } else if (c == '-' || c == '_' || c == '.') {
      if (!last_sep) name += '-';
      last_sep = true;
    } else {
      break;
    }
  }
  if (name != "kfp") return false;
  while (i < spec.size() && is_space(spec[i])) ++i;
  if (i == spec.size()) return true;
  return std::string_view("=<>!~;@(").find(spec[i]) != std::string_view::npos;
}

std::string EnvKeyText(const std::vector<std::string>& packages, const std::vector<std::string>& pip_options,
                       std::string_view base_identity) {
  std::vector<std::string> sorted = packages;
  bool has_option = false;
  for (const auto& p : packages) has_option = has_option || (!p.empty() && p[0] == '-');
  // `-e X`, `-r file`, ...: a pip option applies to the word after it.
  if (!has_option) std::sort(sorted.begin(), sorted.end());
  std::string text = "ferry-python-env-v1\n";
  auto add = [&text](std::string_view tag, std::string_view value) {
    text += tag;
    text += ' ';
    text += std::to_string(value.size());
    text += ':';
    text += value;
    text += '\n';
  };
  add("base", base_identity);
  for (const auto& p : sorted) add("package", p);
  for (const auto& o : pip_options) add("option", o);
  return text;
}

}  // namespace internal

namespace {

// ---------------------------------------------------------------------------
// Recogniser. The fixed parts of the compiler's scripts, with whitespace
// runs standing for any run of the same kind (blank or with a newline), so
// older kfp 2.x releases that indent differently still match.

constexpr std::string_view kEnsurePip =
    "if ! [ -x \"$(command -v pip)\" ]; then\n"
    "    python3 -m ensurepip || python3 -m ensurepip --user || apt-get install python3-pip\n"
    "fi";
constexpr std::string_view kPipVersionCheck = "PIP_DISABLE_PIP_VERSION_CHECK=1";
constexpr std::string_view kUseVenv =
    "export PIP_DISABLE_PIP_VERSION_CHECK=1\n"
    "tmp=$(mktemp -d)\n"
    "python3 -m venv \"$tmp/venv\" --system-site-packages\n"
    ". \"$tmp/venv/bin/activate\"";
constexpr std::string_view kPipInstall = "python3 -m pip install --quiet --no-warn-script-location";
constexpr std::string_view kRunNext = "\"$0\" \"$@\"";
constexpr std::string_view kProgram =
    "program_path=$(mktemp -d)\n"
    "\n"
    "printf \"%s\" \"$0\" > \"$program_path/ephemeral_component.py\"\n"
    "_KFP_RUNTIME=true python3 -m kfp.dsl.executor_main --component_module_path "
    "\"$program_path/ephemeral_component.py\" \"$@\"";
constexpr std::string_view kTypingExtensions = "typing-extensions>=3.7.4,<5; python_version<\"3.9\"";

enum class Ws { kNone, kBlank, kNewline };

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ == text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }

  Ws SkipWs() {
    Ws kind = Ws::kNone;
    while (!AtEnd() && IsWs(text_[pos_])) {
      if (text_[pos_] == '\n' || text_[pos_] == '\r') {
        kind = Ws::kNewline;
      } else if (kind == Ws::kNone) {
        kind = Ws::kBlank;
      }
      ++pos_;
    }
    return kind;
  }

  // Consumes `pattern` (no leading or trailing whitespace) if the text
  // continues with it, a whitespace run matching a run of the same kind.
  bool Expect(std::string_view pattern) {
    const std::size_t start = pos_;
    std::size_t i = 0;
    while (i < pattern.size()) {
      if (IsWs(pattern[i])) {
        Ws want = Ws::kBlank;
        while (i < pattern.size() && IsWs(pattern[i])) {
          if (pattern[i] == '\n' || pattern[i] == '\r') want = Ws::kNewline;
          ++i;
        }
        if (SkipWs() != want) {
          pos_ = start;
          return false;
        }
        continue;
      }
      if (AtEnd() || text_[pos_] != pattern[i]) {
        pos_ = start;
        return false;
      }
      ++pos_;
      ++i;
    }
    return true;
  }

  // A word the compiler quoted with Python's repr, read as sh reads it.
  // nullopt for an unterminated quote or a double-quoted `$`/backquote,
  // which sh would expand.
  std::optional<std::string> QuotedWord() {
    if (Peek() == '\'') {
      const std::size_t end = text_.find('\'', pos_ + 1);
      if (end == std::string_view::npos) return std::nullopt;
      std::string word(text_.substr(pos_ + 1, end - pos_ - 1));
      pos_ = end + 1;
      return word;
    }
    if (Peek() != '"') return std::nullopt;
    std::string word;
    for (std::size_t i = pos_ + 1; i < text_.size(); ++i) {
      const char c = text_[i];
      if (c == '"') {
        pos_ = i + 1;
        return word;
      }
      if (c == '$' || c == '`') return std::nullopt;
      if (c == '\\' && i + 1 < text_.size()) {
        const char next = text_[i + 1];
        if (next == '\n') {
          ++i;
          continue;
        }
        if (next == '$' || next == '`' || next == '"' || next == '\\') {
          word += next;
          ++i;
          continue;
        }
      }
      word += c;
    }
    return std::nullopt;
  }

  // An unquoted option value the compiler pasted in raw (an index URL or a
  // host): only characters sh takes literally.
  std::optional<std::string> PlainWord() {
    const std::size_t start = pos_;
    while (!AtEnd() && !IsWs(text_[pos_])) {
      const char c = text_[pos_];
      const bool literal = std::isalnum(static_cast<unsigned char>(c)) ||
                           std::string_view("-._:/@%+=,").find(c) != std::string_view::npos ||
                           ((c == '~' || c == '#') && pos_ != start);
      if (!literal) {
        pos_ = start;
        return std::nullopt;
      }
      ++pos_;
    }
    if (pos_ == start) return std::nullopt;
    return std::string(text_.substr(start, pos_ - start));
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

struct PipLine {
  std::vector<std::string> options;
  std::vector<std::string> words;
  bool after_venv = false;  // the use_venv script came right before it
};

// `python3 -m pip install --quiet --no-warn-script-location [options] 'w'...`
// up to (not including) the `&&` after it.
std::optional<PipLine> ParsePipLine(Scanner& s) {
  PipLine line;
  if (!s.Expect(kPipInstall) || s.SkipWs() != Ws::kBlank) return std::nullopt;
  // make_index_url_options: --index-url, then --extra-index-url..., then
  // --trusted-host..., each followed by one raw word.
  int phase = 0;
  for (;;) {
    std::string_view flag;
    if (phase == 0 && s.Expect("--index-url")) {
      flag = "--index-url";
      phase = 1;
    } else if (phase >= 1 && phase <= 2 && s.Expect("--extra-index-url")) {
      flag = "--extra-index-url";
      phase = 2;
    } else if (phase >= 1 && s.Expect("--trusted-host")) {
      flag = "--trusted-host";
      phase = 3;
    } else {
      break;
    }
    if (s.SkipWs() != Ws::kBlank) return std::nullopt;
    std::optional<std::string> value = s.PlainWord();
    if (!value || s.SkipWs() != Ws::kBlank) return std::nullopt;
    line.options.emplace_back(flag);
    line.options.push_back(std::move(*value));
  }
  while (s.Peek() == '\'' || s.Peek() == '"') {
    std::optional<std::string> word = s.QuotedWord();
    if (!word || s.SkipWs() != Ws::kBlank) return std::nullopt;
    line.words.push_back(std::move(*word));
  }
  if (line.words.empty()) return std::nullopt;
  return line;
}

// The `sh -c` install script; nullopt unless it is exactly the compiler's.
std::optional<std::vector<PipLine>> ParseInstallScript(std::string_view script) {
  Scanner s(script);
  s.SkipWs();
  if (!s.Expect(kEnsurePip) || s.SkipWs() != Ws::kNewline) return std::nullopt;
  if (!s.Expect(kPipVersionCheck) || s.SkipWs() == Ws::kNone) return std::nullopt;
  std::vector<PipLine> lines;
  for (;;) {
    bool venv = false;
    if (s.Expect(kUseVenv)) {
      if (s.SkipWs() == Ws::kNone) return std::nullopt;
      venv = true;
    }
    std::optional<PipLine> line = ParsePipLine(s);
    if (!line) return std::nullopt;
    line->after_venv = venv;
    lines.push_back(std::move(*line));
    if (!s.Expect("&&") || s.SkipWs() == Ws::kNone) return std::nullopt;
    if (s.Expect(kRunNext)) break;
    if (lines.size() == 2) return std::nullopt;
  }
  s.SkipWs();
  if (!s.AtEnd()) return std::nullopt;
  // The venv script only ever precedes the kfp line, which is the last.
  if (lines.size() == 2 && lines[0].after_venv) return std::nullopt;
  return lines;
}

bool IsProgramScript(std::string_view script) {
  Scanner s(script);
  s.SkipWs();
  if (!s.Expect(kProgram)) return false;
  s.SkipWs();
  return s.AtEnd();
}

// The compiler's own kfp line: `'kfp==X' ['--no-deps' 'typing-extensions...']`.
bool IsKfpInstallLine(const PipLine& line) {
  if (line.words.empty() || !internal::IsKfpRequirement(line.words[0])) return false;
  for (std::size_t i = 1; i < line.words.size(); ++i) {
    if (line.words[i] != "--no-deps" && line.words[i] != kTypingExtensions) return false;
  }
  return true;
}

std::string Quoted(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += '\'';
    out += w;
    out += '\'';
  }
  return out;
}

// A Python string literal holding `text`.
std::string PythonLiteral(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\' || c == '\'') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Writes `content` to `path` through a temp file and a rename; with
// `durable`, fsyncs the file and its directory too.
Status WriteFileAtomically(const fs::path& path, std::string_view content, bool durable) {
  const fs::path tmp = path.string() + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("cannot write " + tmp.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      close(fd);
      return Internal("cannot write " + tmp.string() + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if ((durable && fsync(fd) != 0) || close(fd) != 0) {
    return Internal("cannot write " + tmp.string() + ": " + std::strerror(errno));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return Internal("cannot rename " + tmp.string() + ": " + std::strerror(errno));
  }
  const int dir = durable ? open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return Status::OK();
}

// Holds an exclusive flock on a file for its lifetime.
class FileLock {
 public:
  static Result<std::unique_ptr<FileLock>> Acquire(const fs::path& path) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Internal("cannot open " + path.string() + ": " + std::strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        close(fd);
        return Internal("cannot lock " + path.string() + ": " + std::strerror(err));
      }
    }
    return std::unique_ptr<FileLock>(new FileLock(fd));
  }
  ~FileLock() { close(fd_); }  // closing releases the lock
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

constexpr std::string_view kMarker = ".ferry-env-ready";
constexpr std::string_view kBasePth = "_ferry_base_site.pth";

// Run by the base interpreter once: it must import kfp.dsl (importing
// kfp.dsl.executor_main would be harmless too, its main() is guarded, but
// kfp.dsl is what the component's source imports).
constexpr char kProbeScript[] =
    "import importlib.util, json, os, site, sys\n"
    "import kfp, kfp.dsl\n"
    "print(json.dumps({'executable': sys.executable,\n"
    "  'realpath': os.path.realpath(sys.executable), 'prefix': sys.prefix,\n"
    "  'version': sys.version, 'site': site.getsitepackages(),\n"
    "  'pip': importlib.util.find_spec('pip') is not None,\n"
    "  'kfp': kfp.__version__}))\n";

std::string LastNonEmptyLine(std::string_view text) { return internal::LastLines(text, 1); }

}  // namespace

// ---------------------------------------------------------------------------

std::optional<LightweightComponent> ParseLightweightCommand(const std::vector<std::string>& argv) {
  std::size_t i = 0;
  std::vector<PipLine> lines;
  if (argv.size() >= 2 && argv[0] == "sh" && argv[1] == "-c") {
    if (argv.size() < 4 || argv[3] != "sh") return std::nullopt;  // "$0"
    std::optional<std::vector<PipLine>> parsed = ParseInstallScript(argv[2]);
    if (!parsed) return std::nullopt;
    lines = std::move(*parsed);
    i = 3;
  }
  // sh -ec <program> <source> --executor_input <json> --function_to_execute <fn>
  if (argv.size() != i + 8) return std::nullopt;
  if (argv[i] != "sh" || argv[i + 1] != "-ec" || !IsProgramScript(argv[i + 2])) return std::nullopt;
  if (argv[i + 4] != "--executor_input" || argv[i + 6] != "--function_to_execute") {
    return std::nullopt;
  }

  LightweightComponent component;
  component.source = argv[i + 3];
  component.executor_args.assign(argv.begin() + static_cast<std::ptrdiff_t>(i + 4), argv.end());
  // Which line holds packages_to_install: with two lines, the first (the
  // second is the compiler's kfp line); with one, it unless it is the kfp
  // line (after the use_venv script, or `'kfp==X' ...`).
  const PipLine* user = nullptr;
  if (lines.size() == 2) {
    user = &lines[0];
  } else if (lines.size() == 1 && !lines[0].after_venv && !IsKfpInstallLine(lines[0])) {
    user = &lines[0];
  }
  if (user != nullptr) {
    for (const auto& word : user->words) {
      if (internal::IsKfpRequirement(word) || word == kTypingExtensions) continue;
      component.packages.push_back(word);
    }
    component.pip_options = user->options;
  } else if (!lines.empty()) {
    component.pip_options = lines.back().options;
  }
  return component;
}

std::map<std::string, std::string> LocalCommandEnv() { return {{"_KFP_RUNTIME", "true"}}; }

namespace {

struct BaseInterpreter {
  std::string identity;                // real path, prefix and version of the interpreter
  std::vector<std::string> site_dirs;  // its site.getsitepackages()
  bool has_pip = false;
};

}  // namespace

struct PythonEnvs::State {
  std::mutex probe_mu;  // one probe at a time; held while probing
  std::mutex mu;        // guards the members below
  std::optional<BaseInterpreter> base;
  std::map<std::string, std::shared_ptr<std::mutex>> build_mutexes;
};

PythonEnvs::PythonEnvs(PythonEnvsOptions options)
    : options_(std::move(options)), state_(std::make_shared<State>()) {
  if (!options_.envs_dir.empty()) {
    std::error_code ec;
    const fs::path absolute = fs::absolute(options_.envs_dir, ec);
    if (!ec) options_.envs_dir = absolute.lexically_normal().string();
  }
}

namespace {

Result<BaseInterpreter> ProbeBase(const std::string& python) {
  ASSIGN_OR_RETURN(internal::ProcessResult run, internal::RunProcess({python, "-c", kProbeScript}));
  if (run.exit_code != 0) {
    return FailedPrecondition("the Python interpreter " + python +
                              " for lightweight components cannot import kfp.dsl (exit " +
                              std::to_string(run.exit_code) + "):\n" + internal::LastLines(run.output, 20));
  }
  // The answer is the last line that is a JSON object (warnings may
  // surround it: stderr shares the pipe).
  std::string answer;
  for (std::size_t end = run.output.size(); end > 0;) {
    const std::size_t nl = run.output.rfind('\n', end - 1);
    const std::size_t begin = nl == std::string::npos ? 0 : nl + 1;
    if (begin < end && run.output[begin] == '{') {
      answer = run.output.substr(begin, end - begin);
      break;
    }
    if (begin == 0) break;
    end = begin - 1;
  }
  Result<Json> parsed = ParseJson(answer);
  auto string_at = [](const Json& j, const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (!parsed.ok() || !parsed->is_object() || string_at(*parsed, "realpath").empty()) {
    return Internal("unexpected answer of " + python +
                    " to the interpreter probe: " + internal::LastLines(run.output, 5));
  }
  BaseInterpreter base;
  base.identity = string_at(*parsed, "realpath") + "\n" + string_at(*parsed, "prefix") + "\n" +
                  string_at(*parsed, "version");
  auto site = parsed->find("site");
  if (site != parsed->end() && site->is_array()) {
    for (const Json& dir : *site) {
      if (dir.is_string()) base.site_dirs.push_back(dir.get<std::string>());
    }
  }
  auto pip = parsed->find("pip");
  base.has_pip = pip != parsed->end() && pip->is_boolean() && pip->get<bool>();
  return base;
}

// Builds the environment in `dir` (which must not hold a finished one).
// Called with the key's lock held.
Status BuildEnv(const std::string& base_python, const BaseInterpreter& base, const fs::path& dir,
                const std::vector<std::string>& packages, const std::vector<std::string>& pip_options) {
  const std::string what = "the Python environment for " + Quoted(packages);
  std::error_code ec;
  fs::remove_all(dir, ec);  // a half-made one from a crash
  if (ec) return Internal("cannot remove " + dir.string() + ": " + ec.message());

  // Built in place under its final name, not in a temp dir renamed after:
  // pip writes console scripts (bin/<tool>) whose shebang is the absolute
  // path of bin/python, and bin/activate holds the venv's path; both would
  // point at the temp dir after a rename. The lock and the marker written
  // last give the atomicity a rename would.
  std::vector<std::string> venv = {base_python, "-m", "venv", "--system-site-packages"};
  // The base's pip (visible through the .pth below) serves the venv: no
  // ensurepip copy per environment (seconds each).
  if (base.has_pip) venv.push_back("--without-pip");
  venv.push_back(dir.string());
  ASSIGN_OR_RETURN(internal::ProcessResult made, internal::RunProcess(venv));
  if (made.exit_code != 0) {
    return FailedPrecondition("cannot create " + what + ": python -m venv failed (exit " +
                              std::to_string(made.exit_code) + "):\n" + internal::LastLines(made.output, 20));
  }
  const std::string python = (dir / "bin" / "python").string();

  // --system-site-packages reaches the system interpreter's site-packages
  // only; when the base is itself a venv (where kfp lives), its
  // site-packages come in through a .pth after the venv's own, so what the
  // environment installs shadows the base and the rest stays visible.
  // `import` lines of a .pth run, and site.addsitedir also reads the .pth
  // files of those dirs (editable installs).
  ASSIGN_OR_RETURN(
      internal::ProcessResult purelib,
      internal::RunProcess({python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"}));
  const std::string site_dir = LastNonEmptyLine(purelib.output);
  if (purelib.exit_code != 0 || site_dir.empty()) {
    return Internal("cannot find the site-packages of " + python + ":\n" +
                    internal::LastLines(purelib.output, 20));
  }
  // One line: site runs it with exec() in a function's scope, where a
  // comprehension would not see the imported name.
  std::string pth = "import site";
  for (const auto& site_dir_of_base : base.site_dirs) {
    pth += "; site.addsitedir(" + PythonLiteral(site_dir_of_base) + ")";
  }
  pth += "\n";
  RETURN_IF_ERROR(WriteFileAtomically(fs::path(site_dir) / kBasePth, pth, /*durable=*/false));

  std::vector<std::string> pip = {python,      "-m", "pip", "install", "--disable-pip-version-check",
                                  "--no-input"};
  pip.insert(pip.end(), pip_options.begin(), pip_options.end());
  pip.insert(pip.end(), packages.begin(), packages.end());
  ASSIGN_OR_RETURN(internal::ProcessResult installed, internal::RunProcess(pip));
  if (installed.exit_code != 0) {
    return FailedPrecondition("pip install " + Quoted(packages) + " failed (exit " +
                              std::to_string(installed.exit_code) + "):\n" +
                              internal::LastLines(installed.output, 20));
  }
  ASSIGN_OR_RETURN(internal::ProcessResult check, internal::RunProcess({python, "-c", "import kfp.dsl"}));
  if (check.exit_code != 0) {
    return FailedPrecondition(what + " cannot import kfp.dsl after pip install:\n" +
                              internal::LastLines(check.output, 20));
  }

  // Everything pip wrote reaches the disk before the marker says "made".
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    syncfs(dir_fd);
    close(dir_fd);
  }
  Json marker = {{"packages", packages}, {"pip_options", pip_options}, {"base", base.identity}};
  return WriteFileAtomically(dir / kMarker, marker.dump(1, ' ', false, Json::error_handler_t::replace) + "\n",
                             /*durable=*/true);
}

}  // namespace

Result<std::string> PythonEnvs::EnsureEnv(const std::vector<std::string>& packages,
                                          const std::vector<std::string>& pip_options) {
  for (std::size_t i = 0; i < packages.size(); ++i) {
    if (packages[i].empty() || packages[i].find('\0') != std::string::npos) {
      return InvalidArgument("packages_to_install[" + std::to_string(i) + "] is empty or holds a NUL byte",
                             "packages_to_install[" + std::to_string(i) + "]");
    }
  }
  for (const auto& option : pip_options) {
    if (option.find('\0') != std::string::npos) {
      return InvalidArgument("a pip option holds a NUL byte");
    }
  }

  BaseInterpreter base;
  {
    std::lock_guard<std::mutex> probe(state_->probe_mu);
    std::optional<BaseInterpreter> known;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      known = state_->base;
    }
    if (!known) {
      // Only success is remembered: after a fix (kfp installed) the next
      // task succeeds without a restart.
      ASSIGN_OR_RETURN(known, ProbeBase(options_.base_python));
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->base = known;
    }
    base = *known;
  }
  if (packages.empty()) return options_.base_python;
  if (options_.envs_dir.empty()) {
    return FailedPrecondition("no directory for Python environments is configured; cannot install " +
                              Quoted(packages));
  }

  const std::string key = Sha256Hex(internal::EnvKeyText(packages, pip_options, base.identity));
  const fs::path envs_dir(options_.envs_dir);
  const fs::path dir = envs_dir / key;
  const std::string python = (dir / "bin" / "python").string();
  std::error_code ec;
  if (fs::exists(dir / kMarker, ec)) return python;

  std::shared_ptr<std::mutex> build_mu;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto& slot = state_->build_mutexes[key];
    if (!slot) slot = std::make_shared<std::mutex>();
    build_mu = slot;
  }
  std::lock_guard<std::mutex> building(*build_mu);
  if (fs::exists(dir / kMarker, ec)) return python;  // another thread made it
  fs::create_directories(envs_dir, ec);
  if (ec) return Internal("cannot create " + envs_dir.string() + ": " + ec.message());
  ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, FileLock::Acquire(envs_dir / (key + ".lock")));
  if (fs::exists(dir / kMarker, ec)) return python;  // another process made it
  Status built = BuildEnv(options_.base_python, base, dir, packages, pip_options);
  if (!built.ok()) {
    fs::remove_all(dir, ec);  // failures are not cached
    return built;
  }
  return python;
}

Result<std::vector<std::string>> PythonEnvs::LocalCommand(const LightweightComponent& component,
                                                          const std::string& work_dir) {
  ASSIGN_OR_RETURN(std::string python, EnsureEnv(component.packages, component.pip_options));
  const fs::path file = fs::path(work_dir) / "ephemeral_component.py";
  RETURN_IF_ERROR(WriteFileAtomically(file, component.source, /*durable=*/false));
  std::vector<std::string> argv = {python, "-m", "kfp.dsl.executor_main", "--component_module_path",
                                   file.string()};
  argv.insert(argv.end(), component.executor_args.begin(), component.executor_args.end());
  return argv;
}

Result<LocalInvocation> PythonEnvs::Prepare(const std::vector<std::string>& argv,
                                            const std::string& work_dir) {
  std::optional<LightweightComponent> component = ParseLightweightCommand(argv);
  if (!component) return LocalInvocation{argv, {}};
  ASSIGN_OR_RETURN(std::vector<std::string> local, LocalCommand(*component, work_dir));
  return LocalInvocation{std::move(local), LocalCommandEnv()};
}

}  // namespace ferry::pipelines
