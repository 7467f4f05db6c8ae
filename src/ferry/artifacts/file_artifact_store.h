#pragma once
// FileArtifactStore: the `file://` ArtifactStore, a directory tree on a local
// (or mounted) filesystem. It is the embedded default under --data-dir.
//
// Confinement: the root directory is opened once and every path is resolved
// beneath that descriptor, never as a string. Resolution refuses every
// symbolic link below the root (openat2 with RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS, or, where the kernel lacks openat2, a walk of O_NOFOLLOW
// opens one component at a time), so a link planted inside the root can lead
// neither reads, writes, listings nor deletes outside it. Links inside a tree
// being deleted are removed, not followed. Symbolic links along the root's own
// path are the operator's choice and are followed.
//
// Durability: a write goes to a temporary file in the target directory, which
// is fsynced, renamed over the target and followed by an fsync of the
// directory; new directories are fsynced into their parents. Deleting a
// directory first renames it away, so it disappears atomically.
//
// A writer creates the parent directories of its path when it opens; they
// stay, empty, if it is aborted (removing them could race other writers).
//
// Names beginning with ".ferry-tmp-" are reserved for those temporary files:
// they are refused as artifact paths and never listed. A crash can leave such
// files behind; they are invisible and safe to remove.
//
// Thread-safety: thread-safe; besides the root descriptor the store keeps
// only an atomic flag saying whether openat2 works, and concurrent writers to one path each write their own
// temporary file, so the last Commit wins and no reader sees a torn file.

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/artifacts/artifact_store.h"
#include "ferry/artifacts/fd_internal.h"
#include "ferry/common/env.h"

namespace ferry::artifacts {

// How paths are resolved beneath the root.
enum class PathResolution {
  kAuto,           // openat2, falling back to the component walk if the kernel lacks it
  kComponentWalk,  // always the component walk (tests use it to cover the fallback)
};

struct FileArtifactStoreOptions {
  PathResolution resolution = PathResolution::kAuto;
  Env* env = Env::Default();  // names temporary files
};

class FileArtifactStore final : public ArtifactStore {
 public:
  // Opens the store rooted at `root_uri` ("file:///absolute/path"), creating
  // the root directory (mode 0700) if it is missing.
  static Result<std::unique_ptr<FileArtifactStore>> Open(std::string_view root_uri,
                                                         const FileArtifactStoreOptions& options = {});
  ~FileArtifactStore() override;

  FileArtifactStore(const FileArtifactStore&) = delete;
  FileArtifactStore& operator=(const FileArtifactStore&) = delete;

  std::string root_uri() const override;
  Result<std::string> Uri(std::string_view path) const override;
  Status Put(std::string_view path, std::string_view data) override;
  Result<std::unique_ptr<ArtifactWriter>> OpenWriter(std::string_view path) override;
  Result<std::string> Get(std::string_view path) override;
  Result<std::unique_ptr<ArtifactReader>> OpenReader(std::string_view path) override;
  Result<ArtifactInfo> Stat(std::string_view path) override;
  Result<std::vector<ArtifactInfo>> List(std::string_view dir, bool recursive) override;
  Status Delete(std::string_view path) override;

  // Absolute filesystem path of the root directory.
  const std::string& root_path() const { return root_path_; }

 private:
  using Fd = internal::UniqueFd;
  FileArtifactStore(std::string root_path, Fd root_fd, const FileArtifactStoreOptions& options);

  // Opens the directory `dir` ("" = root) beneath the root, refusing symbolic
  // links; with `create`, makes missing components durably. Returns the
  // descriptor or -errno.
  int ResolveDir(std::string_view dir, bool create);
  int ResolveWithOpenat2(std::string_view dir);
  int ResolveByWalk(std::string_view dir, bool create);
  // Validates `path` and opens its parent directory; `leaf` receives the last segment.
  Result<Fd> OpenParent(std::string_view path, bool create, std::string* leaf);
  // Opens the regular file at `path` for reading and reports its size.
  Result<Fd> OpenRegularFile(std::string_view path, std::int64_t* size);
  // A fresh reserved name for a temporary file or a directory being deleted.
  std::string TempName();

  const std::string root_path_;
  const Fd root_fd_;
  Env* const env_;
  // Cleared for good when openat2 turns out to be missing or filtered.
  std::atomic<bool> use_openat2_;
};

}  // namespace ferry::artifacts
