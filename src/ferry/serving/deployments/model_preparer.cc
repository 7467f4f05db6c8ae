// ModelPreparer: storageUri -> a local model `ferry serve` loads.
//
// Layout of <work_dir>/<key>/:
//   model/ or model.onnx   the model as fetched (a copy, so a later change to
//                          the source cannot change a running revision)
//   model.onnx             the served ONNX file (fetched or converted)
//   convert.py, verdict.json   the converter and its answer, when it ran
//   prepared.json          the PreparedModel; written last (atomically), so
//                          its presence means the folder is complete
//
// Fetching copies through the ArtifactStore for artifact URIs (which
// confines every path to its root and follows no symbolic link), and walks
// the tree itself for file:// URIs, refusing symbolic links and special
// files inside the model folder: a link could point anywhere on the server.
#include "ferry/serving/deployments/model_preparer.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "ferry/artifacts/artifact_store.h"
#include "ferry/common/json.h"
#include "ferry/common/spawn.h"
#include "ferry/common/strings.h"
#include "ferry/registry/registry_store.h"
#include "ferry/serving/deployments/convert_script.h"
#include "ferry/serving/deployments/model_preparer_internal.h"
#include "ferry/serving/runtimes/onnx/onnx_model.h"
#include "ferry/tracking/logged_model_store.h"
#include "ferry/tracking/tracking_store.h"

extern char** environ;

namespace ferry::serving::deployments {
namespace internal {

std::string LastLines(std::string_view text, std::size_t n) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (n == 0) return {};
  std::size_t start = text.size();
  for (std::size_t count = 0; count < n; ++count) {
    const std::size_t nl = start == 0 ? std::string_view::npos : text.rfind('\n', start - 1);
    if (nl == std::string_view::npos) return std::string(text);
    start = nl;
  }
  return std::string(text.substr(start + 1));
}

Result<ChildResult> RunWithTimeout(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                   std::size_t max_output) {
  if (argv.empty() || argv[0].empty()) return InvalidArgument("RunWithTimeout: empty argv");
  std::vector<std::string> args(argv);
  std::vector<char*> argp;
  for (auto& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Internal(std::string("pipe2: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  // Its own process group, so a timeout kills whatever it started too.
  const SpawnAttributes attr(/*own_process_group=*/true);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, argp[0], &actions, attr.get(), argp.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawned != 0) {
    close(fds[0]);
    return FailedPrecondition("cannot run " + QuoteForMessage(argv[0]) + ": " + std::strerror(spawned));
  }

  ChildResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[16384];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                             std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // every writer closed: the child (and its children) are done with it
    result.output.append(buffer, static_cast<std::size_t>(n));
    if (result.output.size() > 2 * max_output) result.output.erase(0, result.output.size() - max_output);
  }
  close(fds[0]);
  if (result.output.size() > max_output) result.output.erase(0, result.output.size() - max_output);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Internal(std::string("waitpid: ") + std::strerror(errno));
  }
  if (!result.timed_out) kill(-pid, SIGKILL);  // stragglers that closed their output
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  } else {
    result.exit_code = -1;
  }
  return result;
}

}  // namespace internal

namespace {

namespace fs = std::filesystem;

constexpr char kUriField[] = "spec.predictor.model.storageUri";
constexpr char kFormatField[] = "spec.predictor.model.modelFormat.name";
constexpr int kMaxIndirections = 4;  // models:/ -> logged model -> location ...

Status BadUri(const std::string& uri, const std::string& why) {
  return InvalidArgument("storageUri " + QuoteForMessage(uri) + ": " + why, kUriField);
}

// Where a model's bytes are: a path in the ArtifactStore or on local disk.
struct Location {
  bool in_store = false;
  std::string path;          // store path, or absolute local path
  std::string resolved_uri;  // what the user's URI named, pinned (models:/iris/3)
};

// A file:// URI's absolute path, refusing "." and ".." segments and hosts.
Result<std::string> LocalPath(const std::string& uri) {
  std::string rest = uri.substr(std::string_view("file://").size());
  if (rest.starts_with("localhost/")) rest = rest.substr(std::string_view("localhost").size());
  if (rest.empty() || rest.front() != '/') {
    return BadUri(uri, "a file URI must be file:///ABSOLUTE/PATH (no host)");
  }
  while (rest.size() > 1 && rest.back() == '/') rest.pop_back();
  std::size_t pos = 1;
  while (pos <= rest.size()) {
    std::size_t next = rest.find('/', pos);
    if (next == std::string::npos) next = rest.size();
    const std::string_view segment(rest.data() + pos, next - pos);
    if (segment == ".." || segment == ".") return BadUri(uri, "\".\" and \"..\" are not allowed in the path");
    if (segment.empty() && next != rest.size()) return BadUri(uri, "empty path segment");
    pos = next + 1;
  }
  if (rest.find('\0') != std::string::npos) return BadUri(uri, "NUL in the path");
  return rest;
}

// mlflow-artifacts:/X or mlflow-artifacts://host:port/X -> store path mlflow/X,
// as the MLflow artifact proxy maps it.
Result<std::string> ProxiedStorePath(const std::string& uri) {
  std::string_view rest(uri);
  rest.remove_prefix(std::string_view("mlflow-artifacts:").size());
  if (rest.substr(0, 2) == "//") {
    const std::size_t slash = rest.find('/', 2);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return BadUri(uri, "names no artifact");
  if (Status valid = artifacts::ValidateArtifactPath(rest); !valid.ok()) return BadUri(uri, valid.message());
  return "mlflow/" + std::string(rest);
}

Status WriteFileAtomically(const fs::path& path, std::string_view data) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) return Internal("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Internal("cannot rename " + tmp.string() + ": " + ec.message());
  return Status::OK();
}

Result<std::string> ReadLocalFile(const fs::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path.string());
  std::string data;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    data.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (data.size() > max_bytes) return InvalidArgument(path.string() + " is larger than expected");
  }
  return data;
}

Status CopyStoreFile(artifacts::ArtifactStore& store, const std::string& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  if (ec) return Internal("cannot create " + to.parent_path().string() + ": " + ec.message());
  ASSIGN_OR_RETURN(std::unique_ptr<artifacts::ArtifactReader> reader, store.OpenReader(from));
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (!out) return Internal("cannot create " + to.string());
  std::vector<char> buffer(1 << 20);
  for (;;) {
    ASSIGN_OR_RETURN(std::size_t n, reader->Read(buffer.data(), buffer.size()));
    if (n == 0) break;
    out.write(buffer.data(), static_cast<std::streamsize>(n));
  }
  out.flush();
  if (!out) return Internal("cannot write " + to.string());
  return Status::OK();
}

// Copies the artifact (file or tree) at `from` to `dest_dir`/<its name> for
// a file, or into `dest_dir` for a tree. Returns whether it was a tree.
Result<bool> FetchFromStore(artifacts::ArtifactStore& store, const std::string& from, const fs::path& dest_dir,
                            const fs::path& dest_file) {
  ASSIGN_OR_RETURN(artifacts::ArtifactInfo info, store.Stat(from));
  if (!info.is_dir) {
    RETURN_IF_ERROR(CopyStoreFile(store, from, dest_file));
    return false;
  }
  ASSIGN_OR_RETURN(std::vector<artifacts::ArtifactInfo> entries, store.List(from, true));
  std::error_code ec;
  fs::create_directories(dest_dir, ec);
  if (ec) return Internal("cannot create " + dest_dir.string() + ": " + ec.message());
  for (const artifacts::ArtifactInfo& entry : entries) {
    if (entry.is_dir || entry.path.size() <= from.size() + 1) continue;
    // Store paths are validated (no "..", no absolute paths), so the
    // relative part cannot leave dest_dir.
    RETURN_IF_ERROR(CopyStoreFile(store, entry.path, dest_dir / entry.path.substr(from.size() + 1)));
  }
  return true;
}

// The same for a local path; symbolic links and special files inside a
// model folder are refused.
Result<bool> FetchLocal(const std::string& uri, const std::string& from, const fs::path& dest_dir,
                        const fs::path& dest_file) {
  std::error_code ec;
  const fs::file_status top = fs::status(from, ec);  // the path itself may be a link: the operator's choice
  if (ec || !fs::exists(top)) return NotFound("storageUri " + QuoteForMessage(uri) + ": nothing at " + from);
  if (fs::is_regular_file(top)) {
    fs::create_directories(dest_file.parent_path(), ec);
    fs::copy_file(from, dest_file, fs::copy_options::overwrite_existing, ec);
    if (ec) return Internal("cannot copy " + from + ": " + ec.message());
    return false;
  }
  if (!fs::is_directory(top)) return BadUri(uri, from + " is neither a file nor a folder");
  fs::create_directories(dest_dir, ec);
  if (ec) return Internal("cannot create " + dest_dir.string() + ": " + ec.message());
  fs::recursive_directory_iterator it(from, fs::directory_options::none, ec), end;
  if (ec) return Internal("cannot list " + from + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Internal("cannot list " + from + ": " + ec.message());
    const fs::file_status st = it->symlink_status(ec);
    const fs::path rel = fs::relative(it->path(), from, ec);
    if (fs::is_symlink(st)) {
      return BadUri(uri, "the model folder holds a symbolic link, " + rel.string() +
                             ", which could lead outside it; copy the file in instead");
    }
    if (fs::is_directory(st)) {
      fs::create_directories(dest_dir / rel, ec);
    } else if (fs::is_regular_file(st)) {
      fs::copy_file(it->path(), dest_dir / rel, fs::copy_options::overwrite_existing, ec);
    } else {
      return BadUri(uri, "the model folder holds " + rel.string() + ", which is not a regular file");
    }
    if (ec) return Internal("cannot copy " + it->path().string() + ": " + ec.message());
  }
  return true;
}

// What the fetched model is.
struct Found {
  bool onnx_file = false;                 // a bare .onnx file
  bool mlflow = false;                    // an MLflow model folder
  std::vector<std::string> flavors;       // of the MLmodel, in its order
  std::string onnx_data;                  // flavors.onnx.data (relative)
  bool Has(std::string_view flavor) const {
    return std::find(flavors.begin(), flavors.end(), flavor) != flavors.end();
  }
  std::string Describe() const {
    if (onnx_file) return "an ONNX file";
    if (!mlflow) return "a folder that is not an MLflow model";
    std::string out = "an MLflow model with flavors";
    for (std::size_t i = 0; i < flavors.size(); ++i) out += (i ? ", " : " ") + flavors[i];
    return out;
  }
};

Result<Found> Inspect(const std::string& uri, bool is_dir, const fs::path& model_dir, const fs::path& model_file) {
  Found found;
  if (!is_dir) {
    if (model_file.extension() != ".onnx") {
      return BadUri(uri, "names a file that is not a model: expected an .onnx file or an MLflow model folder");
    }
    found.onnx_file = true;
    return found;
  }
  const fs::path mlmodel = model_dir / "MLmodel";
  std::error_code ec;
  if (!fs::is_regular_file(mlmodel, ec)) {
    return BadUri(uri, "names a folder without an MLmodel file: expected an MLflow model folder or an .onnx file");
  }
  ASSIGN_OR_RETURN(std::string text, ReadLocalFile(mlmodel, 1 << 20));
  auto parsed = ParseYaml(text);
  if (!parsed.ok()) return BadUri(uri, "its MLmodel file is not valid YAML: " + parsed.status().message());
  auto flavors = parsed->is_object() ? parsed->find("flavors") : parsed->end();
  if (!parsed->is_object() || flavors == parsed->end() || !flavors->is_object() || flavors->empty()) {
    return BadUri(uri, "its MLmodel file lists no flavors");
  }
  found.mlflow = true;
  for (auto it = flavors->begin(); it != flavors->end(); ++it) found.flavors.push_back(it.key());
  if (found.Has("onnx")) {
    const Json& onnx = (*flavors)["onnx"];
    auto data = onnx.is_object() ? onnx.find("data") : onnx.end();
    if (!onnx.is_object() || data == onnx.end() || !data->is_string()) {
      return BadUri(uri, "its MLmodel's onnx flavor has no data file");
    }
    found.onnx_data = data->get<std::string>();
    if (Status valid = artifacts::ValidateArtifactPath(found.onnx_data); !valid.ok()) {
      return BadUri(uri, "its MLmodel's onnx flavor names a bad data file: " + valid.message());
    }
  }
  return found;
}

// What to do with a found model given the InferenceService's modelFormat.
enum class Plan { kNative, kConvert, kPython };

Result<Plan> Choose(const std::string& format, const Found& found, const std::string& uri) {
  auto mismatch = [&]() {
    return InvalidArgument("modelFormat " + format + " does not match storageUri " + QuoteForMessage(uri) +
                               ", which holds " + found.Describe(),
                           kFormatField);
  };
  if (format == "onnx") {
    if (found.onnx_file || found.Has("onnx")) return Plan::kNative;
    return mismatch();
  }
  if (format == "sklearn" || format == "xgboost" || format == "lightgbm") {
    if (found.Has(format)) return Plan::kConvert;
    return mismatch();
  }
  if (format == "mlflow") {
    if (!found.mlflow) return mismatch();
    if (found.Has("onnx")) return Plan::kNative;
    for (const char* flavor : {"sklearn", "xgboost", "lightgbm"})
      if (found.Has(flavor)) return Plan::kConvert;
    if (found.Has("python_function")) return Plan::kPython;
    return FailedPrecondition("no runtime can serve storageUri " + QuoteForMessage(uri) + ": it holds " +
                              found.Describe() + ", with neither an onnx nor a python_function flavor");
  }
  return InvalidArgument("modelFormat " + QuoteForMessage(format) +
                             " is not supported: Ferry serves onnx, sklearn, xgboost, lightgbm and mlflow",
                         kFormatField);
}

Json ToJson(const PreparedModel& m, const std::string& format, const std::string& uri) {
  return {{"storage_uri", uri}, {"model_format", format},       {"path", m.path},
          {"runtime", m.runtime}, {"resolved_uri", m.resolved_uri}, {"reason", m.reason}};
}

std::string StringAt(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The prepared model recorded in `dir` for this format and URI, if complete.
std::optional<PreparedModel> Reusable(const fs::path& dir, const std::string& format, const std::string& uri) {
  auto text = ReadLocalFile(dir / "prepared.json", 1 << 20);
  if (!text.ok()) return std::nullopt;
  auto json = ParseJson(*text);
  if (!json.ok() || !json->is_object()) return std::nullopt;
  if (StringAt(*json, "storage_uri") != uri || StringAt(*json, "model_format") != format) return std::nullopt;
  PreparedModel m{StringAt(*json, "path"), StringAt(*json, "runtime"), StringAt(*json, "resolved_uri"),
                  StringAt(*json, "reason")};
  std::error_code ec;
  if (m.path.empty() || !fs::exists(m.path, ec) || (m.runtime != "onnx" && m.runtime != "python")) {
    return std::nullopt;
  }
  return m;
}

}  // namespace

ModelPreparer::ModelPreparer(registry::RegistryStore* registry, tracking::TrackingStore* tracking,
                             tracking::LoggedModelStore* logged_models, artifacts::ArtifactStore* artifacts,
                             ModelPreparerOptions options)
    : registry_(registry),
      tracking_(tracking),
      logged_models_(logged_models),
      artifacts_(artifacts),
      options_(std::move(options)) {}

namespace {

// The resolution of one URI, given the stores (any may be null).
class Resolver {
 public:
  Resolver(registry::RegistryStore* registry, tracking::TrackingStore* tracking,
           tracking::LoggedModelStore* logged_models, artifacts::ArtifactStore* artifacts)
      : registry_(registry), tracking_(tracking), logged_models_(logged_models), artifacts_(artifacts) {}

  Result<Location> Resolve(const std::string& uri, int depth = 0) {
    if (depth > kMaxIndirections) return BadUri(uri, "too many indirections");
    if (uri.starts_with("models:/")) return Registry(uri, depth);
    if (uri.starts_with("runs:/")) return Run(uri, depth);
    if (uri.starts_with("mlflow-artifacts:")) {
      if (!artifacts_) return FailedPrecondition("storageUri " + QuoteForMessage(uri) + ": this server has no artifact store");
      ASSIGN_OR_RETURN(std::string path, ProxiedStorePath(uri));
      return Location{true, path, uri};
    }
    if (uri.starts_with("file://")) {
      ASSIGN_OR_RETURN(std::string path, LocalPath(uri));
      return Location{false, path, uri};
    }
    return BadUri(uri, "unsupported scheme: use models:/, runs:/, mlflow-artifacts:/ or file://");
  }

 private:
  Result<Location> Registry(const std::string& uri, int depth) {
    std::string rest = uri.substr(std::string_view("models:/").size());
    while (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (rest.empty()) return BadUri(uri, "names no model: use models:/NAME/VERSION or models:/NAME@ALIAS");
    const std::size_t slash = rest.find('/');
    std::string location;
    std::string pinned;
    if (slash == std::string::npos && rest.find('@') == std::string::npos) {
      // models:/m-<id>: an MLflow 3 logged model.
      if (!rest.starts_with("m-")) {
        return BadUri(uri, "use models:/NAME/VERSION, models:/NAME@ALIAS or models:/m-<logged model id>");
      }
      if (!logged_models_) return FailedPrecondition("storageUri " + QuoteForMessage(uri) + ": this server has no logged models");
      auto model = logged_models_->Get(rest);
      if (!model.ok()) return model.status().WithContext("storageUri " + uri);
      location = model->artifact_location;
      pinned = uri;
    } else {
      if (!registry_) return FailedPrecondition("storageUri " + QuoteForMessage(uri) + ": this server has no model registry");
      Result<registry::ModelVersion> version = FindVersion(uri, rest, slash);
      if (!version.ok()) return version.status().WithContext("storageUri " + uri);
      location = !version->storage_location.empty() ? version->storage_location : version->source.value_or("");
      pinned = "models:/" + version->name + "/" + std::to_string(version->version);
    }
    if (location.empty()) return FailedPrecondition("storageUri " + uri + ": the model has no storage location");
    ASSIGN_OR_RETURN(Location found, Resolve(location, depth + 1));
    found.resolved_uri = pinned;
    return found;
  }

  // The registry version models:/<rest> names (NAME@ALIAS, NAME/N, NAME/latest, NAME/STAGE).
  Result<registry::ModelVersion> FindVersion(const std::string& uri, const std::string& rest, std::size_t slash) {
    if (slash == std::string::npos) {
      const std::size_t at = rest.rfind('@');
      const std::string name = rest.substr(0, at), alias = rest.substr(at + 1);
      if (name.empty() || alias.empty()) return BadUri(uri, "use models:/NAME@ALIAS");
      return registry_->GetModelVersionByAlias(name, alias);
    }
    const std::string name = rest.substr(0, slash), which = rest.substr(slash + 1);
    if (name.empty() || which.empty() || which.find('/') != std::string::npos) {
      return BadUri(uri, "use models:/NAME/VERSION, models:/NAME/STAGE or models:/NAME/latest");
    }
    if (std::all_of(which.begin(), which.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return registry_->GetModelVersion(name, which);
    }
    if (Lower(which) == "latest") return registry_->GetModelVersionByAlias(name, "latest");
    auto stage = registry::CanonicalStage(which);
    if (!stage.ok()) return BadUri(uri, stage.status().message());
    ASSIGN_OR_RETURN(std::vector<registry::ModelVersion> latest, registry_->GetLatestVersions(name, {*stage}));
    if (latest.empty()) {
      return NotFound("model " + QuoteForMessage(name) + " has no version in stage " + *stage);
    }
    return latest.front();
  }

  Result<Location> Run(const std::string& uri, int depth) {
    std::string rest = uri.substr(std::string_view("runs:/").size());
    while (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
    const std::size_t slash = rest.find('/');
    const std::string run_id = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "" : rest.substr(slash + 1);
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (run_id.empty()) return BadUri(uri, "use runs:/RUN_ID/PATH");
    if (!path.empty()) {
      if (Status valid = artifacts::ValidateArtifactPath(path); !valid.ok()) return BadUri(uri, valid.message());
    }
    if (!tracking_) return FailedPrecondition("storageUri " + QuoteForMessage(uri) + ": this server has no tracking store");
    auto run = tracking_->GetRun(run_id);
    if (!run.ok()) return run.status().WithContext("storageUri " + uri);
    std::string location = run->info.artifact_uri;
    while (!location.empty() && location.back() == '/') location.pop_back();
    if (!path.empty()) location += "/" + path;
    ASSIGN_OR_RETURN(Location found, Resolve(location, depth + 1));
    found.resolved_uri = uri;
    return found;
  }

  static std::string Lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  }

  registry::RegistryStore* registry_;
  tracking::TrackingStore* tracking_;
  tracking::LoggedModelStore* logged_models_;
  artifacts::ArtifactStore* artifacts_;
};

// Loads `path` with the native runtime: the proof that it can serve it.
Status CheckNative(const std::string& path) { return onnx::LoadOnnxModelFile(path).status(); }

}  // namespace

Result<PreparedModel> ModelPreparer::Prepare(const std::string& model_format, const std::string& storage_uri,
                                             const std::string& key) {
  if (options_.work_dir.empty()) return FailedPrecondition("the model preparer has no work_dir");
  if (Status valid = artifacts::ValidateArtifactPath(key); !valid.ok()) {
    return InvalidArgument("bad preparation key " + QuoteForMessage(key) + ": " + valid.message());
  }
  {
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return busy_.count(key) == 0; });
    busy_.insert(key);
  }
  struct Release {
    ModelPreparer* self;
    const std::string& key;
    ~Release() {
      {
        std::lock_guard lock(self->mu_);
        self->busy_.erase(key);
      }
      self->done_.notify_all();
    }
  } release{this, key};

  const fs::path dir = fs::path(options_.work_dir) / key;
  if (std::optional<PreparedModel> reused = Reusable(dir, model_format, storage_uri)) return *reused;

  Resolver resolver(registry_, tracking_, logged_models_, artifacts_);
  ASSIGN_OR_RETURN(Location location, resolver.Resolve(storage_uri));

  std::error_code ec;
  fs::remove_all(dir, ec);  // a half-made one from a crash, or another URI under this key
  if (ec) return Internal("cannot clear " + dir.string() + ": " + ec.message());
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir.string() + ": " + ec.message());
  const fs::path model_dir = dir / "model";
  const fs::path onnx_path = dir / "model.onnx";
  const std::string base = fs::path(location.path).filename().string();
  // A single file keeps its name (its extension says what it is), in a
  // folder of its own so it cannot collide with the preparer's files.
  const fs::path model_file = dir / "file" / (base.empty() ? std::string("model") : base);
  Result<bool> fetched = location.in_store ? FetchFromStore(*artifacts_, location.path, model_dir, model_file)
                                           : FetchLocal(storage_uri, location.path, model_dir, model_file);
  if (!fetched.ok()) {
    Status st = fetched.status();
    if (st.code() == StatusCode::kNotFound) {
      return NotFound("storageUri " + storage_uri + ": the model's files are missing (" + st.message() + ")");
    }
    if ((st.code() == StatusCode::kInvalidArgument && st.field().empty()) ||
        st.code() == StatusCode::kPermissionDenied) {
      return BadUri(storage_uri, st.message());  // the store refused a path (a link, a bad name)
    }
    return st;
  }
  ASSIGN_OR_RETURN(Found found, Inspect(storage_uri, *fetched, model_dir, model_file));
  ASSIGN_OR_RETURN(Plan plan, Choose(model_format, found, storage_uri));

  PreparedModel prepared;
  prepared.resolved_uri = location.resolved_uri;
  if (plan == Plan::kNative) {
    std::string path = found.onnx_file ? model_file.string() : (model_dir / found.onnx_data).string();
    if (!fs::is_regular_file(path, ec)) {
      return BadUri(storage_uri, "its onnx flavor names " + found.onnx_data + ", which is missing");
    }
    if (!path.ends_with(".onnx")) {  // `ferry serve` picks the runtime by extension
      fs::copy_file(path, onnx_path, fs::copy_options::overwrite_existing, ec);
      if (ec) return Internal("cannot copy " + path + ": " + ec.message());
      path = onnx_path.string();
    }
    if (Status st = CheckNative(path); !st.ok()) {
      return FailedPrecondition("the native ONNX runtime cannot serve storageUri " + storage_uri + ": " +
                                st.message());
    }
    prepared.path = path;
    prepared.runtime = "onnx";
  } else if (plan == Plan::kConvert) {
    std::string flavor;
    for (const char* f : {"sklearn", "xgboost", "lightgbm"})
      if (flavor.empty() && (model_format == f || (model_format == "mlflow" && found.Has(f)))) flavor = f;
    const fs::path script = dir / "convert.py";
    const fs::path verdict_path = dir / "verdict.json";
    RETURN_IF_ERROR(WriteFileAtomically(script, embedded::kConvertScript));
    std::string reason;
    auto run = internal::RunWithTimeout({options_.python, script.string(), "--model-dir", model_dir.string(),
                                         "--flavor", flavor, "--output", onnx_path.string(), "--verdict",
                                         verdict_path.string()},
                                        options_.conversion_timeout);
    if (!run.ok()) {
      reason = "the ONNX converter could not start: " + run.status().message();
    } else if (run->timed_out) {
      reason = "the ONNX conversion took longer than " + std::to_string(options_.conversion_timeout.count()) +
               " s and was stopped";
    } else if (run->exit_code != 0) {
      reason = "the ONNX converter failed (exit " + std::to_string(run->exit_code) +
               "): " + internal::LastLines(run->output, 10);
    } else {
      auto text = ReadLocalFile(verdict_path, 1 << 20);
      auto verdict = text.ok() ? ParseJson(*text) : Result<Json>(text.status());
      if (!verdict.ok() || !verdict->is_object()) {
        reason = "the ONNX converter gave no verdict: " + internal::LastLines(run->output, 10);
      } else if (StringAt(*verdict, "runtime") == "onnx") {
        if (Status st = CheckNative(onnx_path.string()); st.ok()) {
          prepared.path = onnx_path.string();
          prepared.runtime = "onnx";
        } else {
          reason = "the native ONNX runtime cannot run the converted model: " + st.message();
        }
      } else {
        reason = StringAt(*verdict, "reason");
        if (reason.empty()) reason = "the ONNX converter found the model unfit for the native runtime";
      }
    }
    if (prepared.runtime.empty()) {
      if (!found.Has("python_function")) {
        return FailedPrecondition("no runtime can serve storageUri " + storage_uri + ": " + reason +
                                  ", and the model has no python_function flavor for the Python runtime");
      }
      prepared.path = model_dir.string();
      prepared.runtime = "python";
      prepared.reason = reason;
    }
  } else {
    prepared.path = model_dir.string();
    prepared.runtime = "python";
    prepared.reason = "the model is " + found.Describe() + "; none converts to ONNX for the native runtime";
  }
  RETURN_IF_ERROR(WriteFileAtomically(dir / "prepared.json", ToJson(prepared, model_format, storage_uri).dump()));
  return prepared;
}

}  // namespace ferry::serving::deployments
