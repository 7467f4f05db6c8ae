#include "ferry/serving/model_repository.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>
#include <utility>

#include "ferry/common/logging.h"
#include "ferry/common/strings.h"
#include "ferry/serving/runtimes/onnx/onnx_model.h"

namespace ferry::serving {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxModelNameBytes = 255;  // a file name on every common filesystem

// A version folder's number: digits only, positive, no leading zero (so
// "1" and "01" cannot name one version twice). 0 when `name` is not one.
uint64_t VersionNumber(std::string_view name) {
  if (name.empty() || name.size() > 18 || name.front() == '0') return 0;
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (ec != std::errc() || end != name.data() + name.size()) return 0;
  return number;
}

std::shared_ptr<const LoadedModel> MakeLoaded(std::string_view name, std::string version,
                                              std::shared_ptr<const Model> model) {
  auto loaded = std::make_shared<LoadedModel>();
  loaded->name = std::string(name);
  loaded->version = std::move(version);
  loaded->model = std::move(model);
  return loaded;
}

// The model file of one version folder: the first file a runtime reads, or
// the folder itself when it is an MLflow pyfunc model (has an MLmodel).
Result<std::string> FindModelFile(const fs::path& version_dir) {
  if (python::IsPyfuncModelDir(version_dir.string())) return version_dir.string();
  static constexpr const char* kNames[] = {"model.onnx"};
  for (const char* name : kNames) {
    std::error_code ec;
    fs::path candidate = version_dir / name;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  return NotFound("no model file in " + QuoteForMessage(version_dir.string()) +
                  " (expected model.onnx or an MLflow model's MLmodel)");
}

}  // namespace

struct ModelRepository::Entry {
  std::string name;
  // Set for a model added from one file (--model NAME=PATH); a reload
  // reads that file again instead of the repository folder.
  std::string file;
  std::vector<std::shared_ptr<const LoadedModel>> versions;  // ascending
  std::string reason;  // why the last load failed, or "unloaded"
};

Status ValidateModelName(std::string_view name) {
  if (name.empty()) return InvalidArgument("model name must not be empty", "name");
  if (name.size() > kMaxModelNameBytes)
    return InvalidArgument("model name " + QuoteForMessage(name) + " is longer than " +
                               std::to_string(kMaxModelNameBytes) + " bytes",
                           "name");
  if (name.front() == '.')
    return InvalidArgument("model name " + QuoteForMessage(name) + " must not start with '.'", "name");
  if (FindInvalidUtf8(name) != std::string_view::npos)
    return InvalidArgument("model name " + QuoteForMessage(name) + " is not valid UTF-8", "name");
  for (std::size_t i = 0; i < name.size();) {
    char32_t cp = 0;
    const std::size_t n = DecodeUtf8(name, i, &cp);
    if (cp == '/' || cp == '\\')
      return InvalidArgument("model name " + QuoteForMessage(name) + " must not contain path separators",
                             "name");
    if (IsControlCodePoint(cp) || cp == 0)
      return InvalidArgument("model name " + QuoteForMessage(name) + " must not contain control characters",
                             "name");
    i += n;
  }
  return Status::OK();
}

Result<std::shared_ptr<const Model>> LoadModelFile(const std::string& path, std::string_view name,
                                                   const RuntimeOptions& options) {
  if (path.ends_with(".onnx")) return onnx::LoadOnnxModelFile(path);
  if (python::IsPyfuncModelDir(path))
    return python::LoadPyfuncModel(path, name.empty() ? path : name, options.python);
  return InvalidArgument("no runtime reads model file " + QuoteForMessage(path) +
                         " (supported: ONNX files named *.onnx, MLflow pyfunc model folders with an "
                         "MLmodel file)");
}

ModelRepository::ModelRepository(std::string root, RuntimeOptions runtime_options)
    : root_(std::move(root)), runtime_options_(std::move(runtime_options)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::shared_ptr<const ModelRepository::Entry> ModelRepository::Find(std::string_view name) const {
  std::shared_lock lock(mu_);
  for (const auto& entry : entries_)
    if (entry->name == name) return entry;
  return nullptr;
}

void ModelRepository::Publish(std::shared_ptr<Entry> entry) {
  std::unique_lock lock(mu_);
  for (auto& existing : entries_) {
    if (existing->name == entry->name) {
      existing = std::move(entry);
      return;
    }
  }
  entries_.push_back(std::move(entry));
  std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
}

void ModelRepository::SetModelWrapper(ModelWrapper wrapper) {
  std::lock_guard<std::mutex> load_lock(load_mu_);
  wrapper_ = std::move(wrapper);
}

Result<std::shared_ptr<const Model>> ModelRepository::Wrap(std::string_view name, std::string_view version,
                                                           Result<std::shared_ptr<const Model>> model) const {
  if (!model.ok() || !wrapper_) return model;
  return wrapper_(name, version, std::move(model).value());
}

Status ModelRepository::LoadAll() {
  if (root_.empty()) return Status::OK();
  std::error_code ec;
  if (!fs::is_directory(root_, ec))
    return NotFound("model repository " + QuoteForMessage(root_) + " is not a directory");
  std::vector<std::string> names;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_directory(type_ec)) continue;
    std::string name = it->path().filename().string();
    if (name.starts_with('.')) continue;  // .git, editors' folders
    names.push_back(std::move(name));
  }
  if (ec) return Unavailable("cannot list model repository " + QuoteForMessage(root_) + ": " + ec.message());
  std::sort(names.begin(), names.end());
  Status first = Status::OK();
  for (const std::string& name : names) {
    Status st = Load(name);
    if (!st.ok()) {
      LogEvent(spdlog::level::err, "model failed to load", {{"model", name}, {"error", st.message()}});
      if (first.ok()) first = st;
    }
  }
  return first;
}

Status ModelRepository::Load(std::string_view name) {
  RETURN_IF_ERROR(ValidateModelName(name));
  std::lock_guard<std::mutex> load_lock(load_mu_);
  std::shared_ptr<const Entry> previous = Find(name);
  if (previous && !previous->file.empty()) {
    // A single-file model reloads from its file.
    auto model = Wrap(name, "1", LoadModelFile(previous->file, name, runtime_options_));
    auto entry = std::make_shared<Entry>(*previous);
    if (!model.ok()) {
      entry->reason = model.status().message();
      Publish(std::move(entry));
      return model.status().WithContext("loading model " + QuoteForMessage(name));
    }
    entry->versions = {MakeLoaded(name, "1", std::move(model).value())};
    entry->reason.clear();
    Publish(std::move(entry));
    return Status::OK();
  }
  if (root_.empty())
    return NotFound("model " + QuoteForMessage(name) +
                    " is not in the model repository (the server has no --model-repository)");
  const fs::path dir = fs::path(root_) / std::string(name);
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return NotFound("model " + QuoteForMessage(name) + " is not in the model repository " +
                    QuoteForMessage(root_));

  std::vector<std::pair<uint64_t, std::string>> version_dirs;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    std::string version = it->path().filename().string();
    if (it->is_directory(type_ec) && VersionNumber(version) > 0)
      version_dirs.emplace_back(VersionNumber(version), std::move(version));
  }
  std::sort(version_dirs.begin(), version_dirs.end());

  Status failure = Status::OK();
  std::vector<std::shared_ptr<const LoadedModel>> versions;
  if (ec) {
    failure = Unavailable("cannot list " + QuoteForMessage(dir.string()) + ": " + ec.message());
  } else if (version_dirs.empty()) {
    failure = InvalidArgument("model " + QuoteForMessage(name) + " has no version folders (expected " +
                              QuoteForMessage((dir / "1" / "model.onnx").string()) + ")");
  }
  for (const auto& [number, version] : version_dirs) {
    if (!failure.ok()) break;
    auto file = FindModelFile(dir / version);
    if (!file.ok()) {
      failure = file.status();
      break;
    }
    auto model = Wrap(name, version, LoadModelFile(*file, name, runtime_options_));
    if (!model.ok()) {
      failure = model.status().WithContext("version " + version);
      break;
    }
    versions.push_back(MakeLoaded(name, version, std::move(model).value()));
  }

  auto entry = previous ? std::make_shared<Entry>(*previous) : std::make_shared<Entry>();
  entry->name = std::string(name);
  if (!failure.ok()) {
    // The versions that were serving keep serving.
    entry->reason = failure.message();
    Publish(std::move(entry));
    return failure.WithContext("loading model " + QuoteForMessage(name));
  }
  entry->versions = std::move(versions);
  entry->reason.clear();
  Publish(std::move(entry));
  return Status::OK();
}

Status ModelRepository::AddModelFile(std::string_view name, const std::string& path) {
  RETURN_IF_ERROR(ValidateModelName(name));
  std::lock_guard<std::mutex> load_lock(load_mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<const Model> model,
                   Wrap(name, "1", LoadModelFile(path, name, runtime_options_)));
  auto entry = std::make_shared<Entry>();
  entry->name = std::string(name);
  entry->file = path;
  entry->versions = {MakeLoaded(name, "1", std::move(model))};
  Publish(std::move(entry));
  return Status::OK();
}

Status ModelRepository::AddModel(std::string_view name, std::string version,
                                 std::shared_ptr<const Model> model) {
  RETURN_IF_ERROR(ValidateModelName(name));
  if (VersionNumber(version) == 0)
    return InvalidArgument("model version " + QuoteForMessage(version) + " must be a positive integer", "version");
  if (!model) return InvalidArgument("model " + QuoteForMessage(name) + " is null");
  std::lock_guard<std::mutex> load_lock(load_mu_);
  ASSIGN_OR_RETURN(model, Wrap(name, version, std::move(model)));
  auto entry = std::make_shared<Entry>();
  entry->name = std::string(name);
  entry->versions = {MakeLoaded(name, std::move(version), std::move(model))};
  Publish(std::move(entry));
  return Status::OK();
}

Status ModelRepository::Unload(std::string_view name) {
  RETURN_IF_ERROR(ValidateModelName(name));
  std::lock_guard<std::mutex> load_lock(load_mu_);
  std::shared_ptr<const Entry> previous = Find(name);
  if (!previous || previous->versions.empty())
    return NotFound("model " + QuoteForMessage(name) + " is not loaded");
  auto entry = std::make_shared<Entry>(*previous);
  entry->versions.clear();
  entry->reason = "unloaded";
  Publish(std::move(entry));
  return Status::OK();
}

std::vector<ModelIndexEntry> ModelRepository::Index(bool ready_only) const {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::shared_lock lock(mu_);
    entries = entries_;
  }
  std::vector<ModelIndexEntry> index;
  std::vector<std::string> known;
  for (const auto& entry : entries) {
    known.push_back(entry->name);
    for (const auto& version : entry->versions)
      index.push_back({entry->name, version->version, "READY", entry->reason});
    if (entry->versions.empty() && !ready_only)
      index.push_back({entry->name, "", "UNAVAILABLE", entry->reason});
  }
  if (!ready_only && !root_.empty()) {
    // Folders never loaded are listed too, as Triton's index lists the
    // whole repository.
    std::error_code ec;
    for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code type_ec;
      std::string name = it->path().filename().string();
      if (!it->is_directory(type_ec) || name.starts_with('.')) continue;
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      index.push_back({std::move(name), "", "UNAVAILABLE", "not loaded"});
    }
  }
  std::stable_sort(index.begin(), index.end(),
                   [](const ModelIndexEntry& a, const ModelIndexEntry& b) { return a.name < b.name; });
  return index;
}

Result<std::shared_ptr<const LoadedModel>> ModelRepository::Get(std::string_view name,
                                                                 std::string_view version) const {
  std::shared_ptr<const Entry> entry = Find(name);
  if (!entry || entry->versions.empty()) return NotFound("model " + QuoteForMessage(name) + " is not loaded");
  if (version.empty()) return entry->versions.back();
  for (const auto& loaded : entry->versions)
    if (loaded->version == version) return loaded;
  return NotFound("model " + QuoteForMessage(name) + " has no version " + QuoteForMessage(version));
}

std::vector<std::shared_ptr<const LoadedModel>> ModelRepository::Loaded(std::string_view name) const {
  std::vector<std::shared_ptr<const LoadedModel>> loaded;
  std::shared_lock lock(mu_);
  for (const auto& entry : entries_) {
    if (!name.empty() && entry->name != name) continue;
    loaded.insert(loaded.end(), entry->versions.begin(), entry->versions.end());
  }
  return loaded;
}

std::size_t ModelRepository::ReadyModelCount() const {
  std::shared_lock lock(mu_);
  return std::count_if(entries_.begin(), entries_.end(), [](const auto& e) { return !e->versions.empty(); });
}

}  // namespace ferry::serving
