#pragma once
// ArtifactStore: where Ferry keeps the bytes of artifacts — datasets, models,
// metrics files, pipeline outputs, MLflow run artifacts — addressed by a
// relative '/'-separated path under one root. Implementations are chosen by
// the root's URI scheme (after Arrow's FileSystemFromUri); `file://` is the
// embedded default.
//
// Every path crossing this interface is checked by ValidateArtifactPath, and
// implementations confine it to the root: no traversal, and (for file://) no
// symbolic link inside the root is ever followed.
//
// Writes are atomic and durable: readers see the old content or the new,
// never a mix, and a successful Put/Commit survives a crash.
//
// Thread-safety: an ArtifactStore is thread-safe. An ArtifactWriter or
// ArtifactReader belongs to one thread at a time; each stays usable after the
// store that made it is destroyed.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::artifacts {

// Limits of an artifact path, in bytes.
inline constexpr std::size_t kMaxArtifactPathBytes = 1024;
inline constexpr std::size_t kMaxArtifactSegmentBytes = 255;

struct ArtifactInfo {
  std::string path;  // relative to the store's root, no trailing '/'
  bool is_dir = false;
  std::int64_t size = 0;          // bytes; 0 for directories
  std::int64_t mtime_micros = 0;  // last modification, microseconds since the Unix epoch
};

// Streams one artifact in. Nothing is visible at the path until Commit()
// succeeds; destroying the writer without a successful Commit() discards
// everything appended.
class ArtifactWriter {
 public:
  virtual ~ArtifactWriter();

  // Appends bytes to the pending artifact.
  virtual Status Append(std::string_view data) = 0;
  // Makes the artifact visible at its path, atomically replacing any old one,
  // and durable before returning; the writer accepts nothing afterwards.
  virtual Status Commit() = 0;
};

// Reads one artifact as it was when the reader was opened, even if the path is
// overwritten or deleted meanwhile.
class ArtifactReader {
 public:
  virtual ~ArtifactReader();

  // Size in bytes of the artifact.
  virtual std::int64_t size() const = 0;
  // Reads up to `n` bytes at the current position into `buf` and advances;
  // returns 0 only at the end.
  virtual Result<std::size_t> Read(char* buf, std::size_t n) = 0;
  // Moves the position to `offset`, which must lie in [0, size()].
  virtual Status Seek(std::int64_t offset) = 0;
};

class ArtifactStore {
 public:
  virtual ~ArtifactStore();

  // The root this store was opened on, e.g. "file:///var/lib/ferry/artifacts".
  virtual std::string root_uri() const = 0;
  // The URI of `path` under the root.
  virtual Result<std::string> Uri(std::string_view path) const = 0;

  // Writes `data` to `path`, creating parent directories; atomic and durable
  // before returning.
  virtual Status Put(std::string_view path, std::string_view data) = 0;
  // Starts streaming an artifact to `path`; see ArtifactWriter.
  virtual Result<std::unique_ptr<ArtifactWriter>> OpenWriter(std::string_view path) = 0;

  // Reads the whole artifact at `path` into memory; use OpenReader for large ones.
  virtual Result<std::string> Get(std::string_view path) = 0;
  // Opens the artifact at `path` for streaming reads.
  virtual Result<std::unique_ptr<ArtifactReader>> OpenReader(std::string_view path) = 0;

  // Describes the file or directory at `path`.
  virtual Result<ArtifactInfo> Stat(std::string_view path) = 0;
  // Lists the directory `dir` ("" is the root; one trailing '/' is accepted),
  // only its children or, if `recursive`, everything beneath it, sorted by path.
  virtual Result<std::vector<ArtifactInfo>> List(std::string_view dir, bool recursive) = 0;

  // Removes the file or the whole directory tree at `path`; NotFound if absent.
  virtual Status Delete(std::string_view path) = 0;
};

// OK if `path` is a well-formed artifact path: relative, '/'-separated, valid
// UTF-8 without control characters or backslashes, no empty, "." or ".."
// segments, no trailing '/', within kMaxArtifactPathBytes and
// kMaxArtifactSegmentBytes. Otherwise InvalidArgument naming the problem.
Status ValidateArtifactPath(std::string_view path);

// Opens the store for `uri`. Supported: "file:///absolute/path" (the directory
// is created if missing).
Result<std::unique_ptr<ArtifactStore>> OpenArtifactStore(std::string_view uri);

}  // namespace ferry::artifacts
