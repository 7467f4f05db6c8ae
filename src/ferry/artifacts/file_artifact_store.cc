#include "ferry/artifacts/file_artifact_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>

#include "ferry/common/strings.h"
#include "ferry/common/logging.h"

namespace ferry::artifacts {
namespace {

using internal::UniqueFd;

constexpr std::string_view kReservedPrefix = ".ferry-tmp-";
// Valid artifact paths nest at most 512 deep; anything deeper was made outside
// Ferry, and recursing into it could exhaust descriptors.
constexpr int kMaxTreeDepth = 600;

Status PermissionDenied(std::string msg) { return {StatusCode::kPermissionDenied, std::move(msg)}; }

// Maps the errno of a failed filesystem call on artifact `path` to a Status.
Status ErrnoStatus(int err, std::string_view action, std::string_view path) {
  const std::string what = action.empty() ? "artifact " + QuoteForMessage(path)
                                          : "cannot " + std::string(action) + " artifact " + QuoteForMessage(path);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return NotFound("artifact " + QuoteForMessage(path) + " does not exist");
    case ELOOP:
    case EXDEV:
      return PermissionDenied(
          "artifact path " + QuoteForMessage(path) +
          " passes through a symbolic link; links inside the artifact root are not followed");
    case EACCES:
    case EPERM:
    case EROFS:
      return PermissionDenied(what + ": " + std::strerror(err));
    case ENOSPC:
    case EDQUOT:
      return ResourceExhausted(what + ": " + std::strerror(err));
    case EISDIR:
      return FailedPrecondition("artifact " + QuoteForMessage(path) + " is a directory");
    default:
      return Internal(what + ": " + std::strerror(err));
  }
}

bool IsReserved(std::string_view segment) { return segment.starts_with(kReservedPrefix); }

// ValidateArtifactPath plus this store's reserved names.
Status ValidateStorePath(std::string_view path) {
  RETURN_IF_ERROR(ValidateArtifactPath(path));
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = std::min(path.find('/', start), path.size());
    if (IsReserved(path.substr(start, end - start)))
      return InvalidArgument("artifact path " + QuoteForMessage(path) + " uses a name beginning with '" +
                             std::string(kReservedPrefix) + "', which is reserved");
    start = end + 1;
  }
  return Status::OK();
}

// A new descriptor for the directory `dir_fd`. Unlike dup(2) it has its own
// read position, so concurrent listings of one directory do not interfere.
int Reopen(int dir_fd) {
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

int FsyncFd(int fd) { return ::fsync(fd) == 0 ? 0 : errno; }

Status WriteAll(int fd, std::string_view data, std::string_view path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::OK();
}

std::int64_t MtimeMicros(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000 + st.st_mtim.tv_nsec / 1'000;
}

ArtifactInfo InfoFromStat(std::string path, const struct stat& st) {
  ArtifactInfo info;
  info.path = std::move(path);
  info.is_dir = S_ISDIR(st.st_mode);
  info.size = info.is_dir ? 0 : static_cast<std::int64_t>(st.st_size);
  info.mtime_micros = MtimeMicros(st);
  return info;
}

// Removes the directory `name` in `parent_fd` and everything in it. Symbolic
// links inside are unlinked, never followed. Entries that writers still
// holding a descriptor add meanwhile are swept on a later pass.
Status RemoveTree(int parent_fd, const std::string& name, int depth, std::string_view path) {
  if (depth > kMaxTreeDepth)
    return FailedPrecondition("artifact directory " + QuoteForMessage(path) + " nests deeper than " +
                              std::to_string(kMaxTreeDepth) + " levels");
  constexpr int kPasses = 3;
  for (int pass = 0; pass < kPasses; ++pass) {
    int fd = ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "delete", path);
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "delete", path);
    }
    std::vector<std::string> children;
    while (dirent* entry = ::readdir(dir)) {
      std::string_view child = entry->d_name;
      if (child != "." && child != "..") children.emplace_back(child);
    }
    Status status;
    for (const std::string& child : children) {
      struct stat st;
      if (::fstatat(fd, child.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        status = ErrnoStatus(errno, "delete", path);
        break;
      }
      if (S_ISDIR(st.st_mode)) {
        status = RemoveTree(fd, child, depth + 1, path);
        if (!status.ok()) break;
      } else if (::unlinkat(fd, child.c_str(), 0) != 0 && errno != ENOENT) {
        status = ErrnoStatus(errno, "delete", path);
        break;
      }
    }
    ::closedir(dir);
    RETURN_IF_ERROR(status);
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return Status::OK();
    if (errno != ENOTEMPTY) return ErrnoStatus(errno, "delete", path);
  }
  return Unavailable("artifact directory " + QuoteForMessage(path) + " kept filling up while being deleted");
}

// Streams into a reserved temporary file in the target directory and renames
// it over the target on Commit.
class FileArtifactWriter final : public ArtifactWriter {
 public:
  FileArtifactWriter(UniqueFd dir, UniqueFd file, std::string temp_name, std::string leaf, std::string path)
      : dir_(std::move(dir)),
        file_(std::move(file)),
        temp_name_(std::move(temp_name)),
        leaf_(std::move(leaf)),
        path_(std::move(path)) {}

  ~FileArtifactWriter() override {
    if (state_ != State::kCommitted) {
      file_.Close();
      ::unlinkat(dir_.get(), temp_name_.c_str(), 0);
    }
  }

  Status Append(std::string_view data) override {
    RETURN_IF_ERROR(CheckOpen());
    Status status = WriteAll(file_.get(), data, path_);
    if (!status.ok()) state_ = State::kFailed;
    return status;
  }

  Status Commit() override {
    RETURN_IF_ERROR(CheckOpen());
    state_ = State::kFailed;
    if (int err = FsyncFd(file_.get())) return ErrnoStatus(err, "write", path_);
    if (int err = file_.Close()) return ErrnoStatus(err, "write", path_);
    if (::renameat(dir_.get(), temp_name_.c_str(), dir_.get(), leaf_.c_str()) != 0) {
      // The temporary file vanished with its directory: a Delete of a parent won.
      if (errno == ENOENT)
        return Conflict("artifact " + QuoteForMessage(path_) +
                        " was not committed: its directory was deleted meanwhile");
      return ErrnoStatus(errno, "write", path_);
    }
    state_ = State::kCommitted;
    if (int err = FsyncFd(dir_.get())) return ErrnoStatus(err, "write", path_);
    return Status::OK();
  }

 private:
  enum class State { kOpen, kFailed, kCommitted };

  Status CheckOpen() const {
    if (state_ == State::kCommitted)
      return FailedPrecondition("writer for artifact " + QuoteForMessage(path_) + " was already committed");
    if (state_ == State::kFailed)
      return FailedPrecondition("writer for artifact " + QuoteForMessage(path_) + " failed earlier");
    return Status::OK();
  }

  UniqueFd dir_;
  UniqueFd file_;
  const std::string temp_name_;
  const std::string leaf_;
  const std::string path_;
  State state_ = State::kOpen;
};

// Reads through its own descriptor, so it sees the file it opened even after
// the path is replaced (replacement is a rename) or deleted.
class FileArtifactReader final : public ArtifactReader {
 public:
  FileArtifactReader(UniqueFd file, std::int64_t size, std::string path)
      : file_(std::move(file)), size_(size), path_(std::move(path)) {}

  std::int64_t size() const override { return size_; }

  Result<std::size_t> Read(char* buf, std::size_t n) override {
    if (n == 0) return std::size_t{0};
    while (true) {
      ssize_t got = ::pread(file_.get(), buf, n, static_cast<off_t>(position_));
      if (got >= 0) {
        position_ += got;
        return static_cast<std::size_t>(got);
      }
      if (errno != EINTR) return ErrnoStatus(errno, "read", path_);
    }
  }

  Status Seek(std::int64_t offset) override {
    if (offset < 0 || offset > size_)
      return InvalidArgument("cannot seek to " + std::to_string(offset) + " in artifact " + QuoteForMessage(path_) +
                             " of " + std::to_string(size_) + " bytes");
    position_ = offset;
    return Status::OK();
  }

 private:
  UniqueFd file_;
  const std::int64_t size_;
  const std::string path_;
  std::int64_t position_ = 0;
};

// Root directory from a "file:///absolute/path" URI, lexically normalised.
Result<std::string> RootPathFromUri(std::string_view uri) {
  auto bad = [&](std::string problem) {
    return InvalidArgument("artifact root " + QuoteForMessage(uri) + " " + problem);
  };
  constexpr std::string_view kExpected = "; expected file:///absolute/path";
  std::string scheme(uri.substr(0, 5));
  for (char& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (scheme != "file:") return bad("is not a file URI" + std::string(kExpected));
  std::string_view rest = uri.substr(5);
  if (!rest.starts_with("//")) {
    if (rest.starts_with("/")) return bad("lacks the empty authority '//'" + std::string(kExpected));
    return bad("names a relative path" + std::string(kExpected));
  }
  rest.remove_prefix(2);
  std::size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (!host.empty())
    return bad("names host " + QuoteForMessage(host) + "; only local paths are supported" + std::string(kExpected));
  if (slash == std::string_view::npos) return bad("has no path" + std::string(kExpected));
  std::string_view path = rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos)
    return bad("has a query or fragment; a file URI must name only a path");
  for (char c : path) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return bad("contains a control character");
  }
  std::string normal = std::filesystem::path(path).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  if (normal == "/") return bad("is the filesystem root; choose a directory for artifacts");
  return normal;
}

// Creates `dir` and its missing ancestors with mode 0700; returns 0 or an errno.
int MakeDirs(const std::string& dir) {
  for (std::size_t pos = dir.find('/', 1);; pos = dir.find('/', pos + 1)) {
    std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return errno;
    if (pos == std::string::npos) return 0;
  }
}

}  // namespace

Result<std::unique_ptr<FileArtifactStore>> FileArtifactStore::Open(std::string_view root_uri,
                                                                   const FileArtifactStoreOptions& options) {
  ASSIGN_OR_RETURN(std::string root, RootPathFromUri(root_uri));
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (int err = MakeDirs(root))
      return Status(err == EACCES || err == EPERM || err == EROFS ? StatusCode::kPermissionDenied
                                                                  : StatusCode::kInternal,
                    "cannot create artifact root " + QuoteForMessage(root) + ": " + std::strerror(err));
    fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  if (fd < 0) {
    int err = errno;
    if (err == ENOTDIR) return FailedPrecondition("artifact root " + QuoteForMessage(root) + " is not a directory");
    return Status(err == EACCES || err == EPERM ? StatusCode::kPermissionDenied : StatusCode::kInternal,
                  "cannot open artifact root " + QuoteForMessage(root) + ": " + std::strerror(err));
  }
  return std::unique_ptr<FileArtifactStore>(new FileArtifactStore(std::move(root), Fd(fd), options));
}

FileArtifactStore::FileArtifactStore(std::string root_path, Fd root_fd,
                                     const FileArtifactStoreOptions& options)
    : root_path_(std::move(root_path)),
      root_fd_(std::move(root_fd)),
      env_(options.env),
      use_openat2_(options.resolution == PathResolution::kAuto) {}

FileArtifactStore::~FileArtifactStore() = default;

std::string FileArtifactStore::root_uri() const { return "file://" + root_path_; }

Result<std::string> FileArtifactStore::Uri(std::string_view path) const {
  RETURN_IF_ERROR(ValidateStorePath(path));
  return root_uri() + "/" + std::string(path);
}

std::string FileArtifactStore::TempName() {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(env_->Random64()));
  return std::string(kReservedPrefix) + buf;
}

int FileArtifactStore::ResolveWithOpenat2(std::string_view dir) {
  const std::string rel(dir);
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  // EAGAIN means a concurrent rename raced the lookup; a retry settles it.
  constexpr int kAttempts = 16;
  int err = EAGAIN;
  for (int attempt = 0; attempt < kAttempts && (err == EAGAIN || err == EINTR); ++attempt) {
    long fd = ::syscall(SYS_openat2, root_fd_.get(), rel.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    err = errno;
  }
  return -err;
}

int FileArtifactStore::ResolveByWalk(std::string_view dir, bool create) {
  int first = Reopen(root_fd_.get());
  if (first < 0) return first;
  Fd current(first);
  std::size_t start = 0;
  while (start < dir.size()) {
    std::size_t end = std::min(dir.find('/', start), dir.size());
    const std::string segment(dir.substr(start, end - start));
    start = end + 1;
    // One segment at a time with O_NOFOLLOW: validated segments are never
    // "." or "..", so no step can leave the directory it starts from.
    constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = ::openat(current.get(), segment.c_str(), kFlags);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(current.get(), segment.c_str(), 0755) == 0) {
        if (int err = FsyncFd(current.get())) return -err;
      } else if (errno != EEXIST) {
        return -errno;
      }
      fd = ::openat(current.get(), segment.c_str(), kFlags);
    }
    if (fd < 0) {
      int err = errno;
      struct stat st;
      // Some kernels report a refused link as ENOTDIR; say what it really is.
      if (err == ENOTDIR && ::fstatat(current.get(), segment.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode))
        err = ELOOP;
      return -err;
    }
    current = Fd(fd);
  }
  return current.Release();
}

int FileArtifactStore::ResolveDir(std::string_view dir, bool create) {
  if (dir.empty()) return Reopen(root_fd_.get());
  if (use_openat2_.load(std::memory_order_relaxed)) {
    int fd = ResolveWithOpenat2(dir);
    // ENOSYS: kernel before 5.6; EPERM: a seccomp filter (older container
    // runtimes) that does not know the syscall.
    if (fd == -ENOSYS || fd == -EPERM) {
      use_openat2_.store(false, std::memory_order_relaxed);
      LogEvent(spdlog::level::info, "openat2 unavailable; artifact paths resolved component by component",
               {{"root", root_path_}});
    } else if (fd != -ENOENT || !create) {
      return fd;
    }
  }
  return ResolveByWalk(dir, create);
}

Result<FileArtifactStore::Fd> FileArtifactStore::OpenParent(std::string_view path, bool create,
                                                            std::string* leaf) {
  RETURN_IF_ERROR(ValidateStorePath(path));
  std::size_t slash = path.rfind('/');
  std::string_view dir = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
  *leaf = std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
  int fd = ResolveDir(dir, create);
  if (fd >= 0) return Fd(fd);
  if (create && -fd == ENOTDIR)
    return FailedPrecondition("cannot write artifact " + QuoteForMessage(path) + ": a parent is a file");
  return ErrnoStatus(-fd, create ? "write" : "", path);
}

Result<FileArtifactStore::Fd> FileArtifactStore::OpenRegularFile(std::string_view path, std::int64_t* size) {
  std::string leaf;
  ASSIGN_OR_RETURN(Fd dir, OpenParent(path, false, &leaf));
  // O_NONBLOCK: opening a FIFO someone planted must not hang the caller.
  int fd = ::openat(dir.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "read", path);
  Fd file(fd);
  struct stat st;
  if (::fstat(file.get(), &st) != 0) return ErrnoStatus(errno, "read", path);
  if (S_ISDIR(st.st_mode)) return FailedPrecondition("artifact " + QuoteForMessage(path) + " is a directory");
  if (!S_ISREG(st.st_mode)) return FailedPrecondition("artifact " + QuoteForMessage(path) + " is not a regular file");
  *size = static_cast<std::int64_t>(st.st_size);
  return file;
}

Status FileArtifactStore::Put(std::string_view path, std::string_view data) {
  ASSIGN_OR_RETURN(auto writer, OpenWriter(path));
  RETURN_IF_ERROR(writer->Append(data));
  return writer->Commit();
}

Result<std::unique_ptr<ArtifactWriter>> FileArtifactStore::OpenWriter(std::string_view path) {
  // A concurrent Delete of a parent can remove a directory between resolving
  // and creating the temporary file in it; resolving again recreates it.
  constexpr int kAttempts = 8;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::string leaf;
    auto dir = OpenParent(path, true, &leaf);
    if (!dir.ok()) {
      if (dir.status().code() == StatusCode::kNotFound) continue;
      return dir.status();
    }
    struct stat st;
    if (::fstatat(dir->get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISLNK(st.st_mode)) return ErrnoStatus(ELOOP, "write", path);
      if (S_ISDIR(st.st_mode)) return ErrnoStatus(EISDIR, "write", path);
    } else if (errno != ENOENT) {
      return ErrnoStatus(errno, "write", path);
    }
    std::string temp = TempName();
    int fd = ::openat(dir->get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0)
      return std::unique_ptr<ArtifactWriter>(std::make_unique<FileArtifactWriter>(
          std::move(*dir), Fd(fd), std::move(temp), std::move(leaf), std::string(path)));
    if (errno != EEXIST && errno != ENOENT) return ErrnoStatus(errno, "write", path);
  }
  return Conflict("cannot write artifact " + QuoteForMessage(path) + ": its directory keeps being deleted");
}

Result<std::string> FileArtifactStore::Get(std::string_view path) {
  std::int64_t size = 0;
  ASSIGN_OR_RETURN(Fd file, OpenRegularFile(path, &size));
  std::string data;
  data.resize(static_cast<std::size_t>(size));
  std::size_t filled = 0;
  while (true) {
    if (filled == data.size()) data.resize(data.size() + 64 * 1024);  // the file grew
    ssize_t got = ::read(file.get(), data.data() + filled, data.size() - filled);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read", path);
    }
    filled += static_cast<std::size_t>(got);
  }
  data.resize(filled);
  return data;
}

Result<std::unique_ptr<ArtifactReader>> FileArtifactStore::OpenReader(std::string_view path) {
  std::int64_t size = 0;
  ASSIGN_OR_RETURN(Fd file, OpenRegularFile(path, &size));
  return std::unique_ptr<ArtifactReader>(
      std::make_unique<FileArtifactReader>(std::move(file), size, std::string(path)));
}

Result<ArtifactInfo> FileArtifactStore::Stat(std::string_view path) {
  std::string leaf;
  ASSIGN_OR_RETURN(Fd dir, OpenParent(path, false, &leaf));
  struct stat st;
  if (::fstatat(dir.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return ErrnoStatus(errno, "", path);
  if (S_ISLNK(st.st_mode)) return ErrnoStatus(ELOOP, "", path);
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
    return FailedPrecondition("artifact " + QuoteForMessage(path) + " is not a regular file or directory");
  return InfoFromStat(std::string(path), st);
}

Result<std::vector<ArtifactInfo>> FileArtifactStore::List(std::string_view dir, bool recursive) {
  if (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  if (!dir.empty()) RETURN_IF_ERROR(ValidateStorePath(dir));
  std::vector<ArtifactInfo> out;
  std::deque<std::string> pending{std::string(dir)};
  bool first = true;
  while (!pending.empty()) {
    const std::string current = std::move(pending.front());
    pending.pop_front();
    int fd = ResolveDir(current, false);
    if (fd < 0) {
      // Below the requested directory, a subdirectory deleted or replaced by
      // a link since it was listed is simply gone.
      if (!first && (fd == -ENOENT || fd == -ELOOP || fd == -ENOTDIR)) continue;
      if (fd == -ENOTDIR) {
        auto info = Stat(current);
        if (info.ok() && !info->is_dir)
          return FailedPrecondition("artifact " + QuoteForMessage(current) + " is a file, not a directory");
      }
      return ErrnoStatus(-fd, "list", current);
    }
    first = false;
    DIR* handle = ::fdopendir(fd);
    if (handle == nullptr) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "list", current);
    }
    while (dirent* entry = ::readdir(handle)) {
      std::string_view name = entry->d_name;
      if (name == "." || name == ".." || IsReserved(name)) continue;
      std::string child = current.empty() ? std::string(name) : current + "/" + std::string(name);
      // Names Ferry could not have written (control characters, invalid
      // UTF-8, too long) are not artifacts; callers could not address them.
      if (!ValidateArtifactPath(child).ok()) continue;
      struct stat st;
      if (::fstatat(::dirfd(handle), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;  // links, FIFOs, sockets
      if (recursive && S_ISDIR(st.st_mode)) pending.push_back(child);
      out.push_back(InfoFromStat(std::move(child), st));
    }
    ::closedir(handle);
  }
  std::sort(out.begin(), out.end(),
            [](const ArtifactInfo& a, const ArtifactInfo& b) { return a.path < b.path; });
  return out;
}

Status FileArtifactStore::Delete(std::string_view path) {
  std::string leaf;
  ASSIGN_OR_RETURN(Fd dir, OpenParent(path, false, &leaf));
  struct stat st;
  if (::fstatat(dir.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoStatus(errno, "delete", path);
  if (S_ISLNK(st.st_mode)) return ErrnoStatus(ELOOP, "delete", path);
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir.get(), leaf.c_str(), 0) != 0) return ErrnoStatus(errno, "delete", path);
    if (int err = FsyncFd(dir.get())) return ErrnoStatus(err, "delete", path);
    return Status::OK();
  }
  // Renaming the tree away first makes it vanish at once for readers, and a
  // crash halfway through the removal leaves only a reserved, unlisted name.
  std::string trash = TempName();
  if (::renameat(dir.get(), leaf.c_str(), dir.get(), trash.c_str()) != 0)
    return ErrnoStatus(errno, "delete", path);
  if (int err = FsyncFd(dir.get())) return ErrnoStatus(err, "delete", path);
  Status removed = RemoveTree(dir.get(), trash, 0, path);
  if (!removed.ok())
    LogEvent(spdlog::level::warn, "artifact directory deleted but not fully removed from disk",
             {{"root", root_path_}, {"leftover", trash}, {"error", removed.message()}});
  return Status::OK();
}

}  // namespace ferry::artifacts
