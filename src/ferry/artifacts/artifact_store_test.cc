// The ArtifactStore contract, run against FileArtifactStore with both path
// resolution strategies (openat2 and the component walk).

#include "ferry/artifacts/artifact_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ferry/artifacts/file_artifact_store.h"

namespace ferry::artifacts {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

std::vector<std::string> Paths(const std::vector<ArtifactInfo>& infos) {
  std::vector<std::string> out;
  for (const auto& info : infos) out.push_back(info.path);
  return out;
}

// Every name in `dir` on disk, reserved temporary names included.
std::vector<std::string> DiskEntries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

class ArtifactStoreTest : public ::testing::TestWithParam<PathResolution> {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ferry-artifacts-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    root_ = base_ / "root";
    outside_ = base_ / "outside";
    fs::create_directories(outside_);
    WriteFile(outside_ / "secret.txt", "outside secret");
    FileArtifactStoreOptions options;
    options.resolution = GetParam();
    auto store = FileArtifactStore::Open("file://" + root_.string(), options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::permissions(base_, fs::perms::owner_all, ec);
    fs::remove_all(base_, ec);  // does not follow links
  }

  void ExpectOutsideUntouched() {
    EXPECT_EQ(ReadFile(outside_ / "secret.txt"), "outside secret");
    EXPECT_THAT(DiskEntries(outside_), ElementsAre("secret.txt"));
  }

  fs::path base_, root_, outside_;
  std::unique_ptr<ArtifactStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Resolution, ArtifactStoreTest,
                         ::testing::Values(PathResolution::kAuto, PathResolution::kComponentWalk),
                         [](const auto& info) {
                           return info.param == PathResolution::kAuto ? "Openat2" : "ComponentWalk";
                         });

TEST_P(ArtifactStoreTest, RootIsCreatedPrivateAndNamedByUri) {
  struct stat st;
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(store_->root_uri(), "file://" + root_.string());
  auto uri = store_->Uri("a/b.txt");
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(*uri, "file://" + root_.string() + "/a/b.txt");
  EXPECT_EQ(store_->Uri("../x").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ArtifactStoreTest, RoundTripsEmptyTextAndBinary) {
  const std::string binary("\0\x01\xff\0model\0", 10);
  ASSERT_TRUE(store_->Put("empty", "").ok());
  ASSERT_TRUE(store_->Put("text.txt", "hello").ok());
  ASSERT_TRUE(store_->Put("deep/er/bin.dat", binary).ok());
  EXPECT_EQ(store_->Get("empty").ValueOr("x"), "");
  EXPECT_EQ(store_->Get("text.txt").ValueOr(""), "hello");
  EXPECT_EQ(store_->Get("deep/er/bin.dat").ValueOr(""), binary);
  EXPECT_EQ(ReadFile(root_ / "deep" / "er" / "bin.dat"), binary);
}

TEST_P(ArtifactStoreTest, OverwriteReplacesContent) {
  ASSERT_TRUE(store_->Put("m", "first version, longer").ok());
  ASSERT_TRUE(store_->Put("m", "v2").ok());
  EXPECT_EQ(store_->Get("m").ValueOr(""), "v2");
  EXPECT_THAT(DiskEntries(root_), ElementsAre("m"));  // no temporary files left
}

TEST_P(ArtifactStoreTest, StreamsTenMebibytesThroughWriterAndReader) {
  constexpr std::size_t kSize = 10 * 1024 * 1024;
  std::string expected(kSize, '\0');
  for (std::size_t i = 0; i < kSize; ++i) expected[i] = static_cast<char>((i * 131 + i / 7) & 0xFF);
  auto writer = store_->OpenWriter("big/blob");
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  for (std::size_t off = 0; off < kSize; off += 65'537) {
    ASSERT_TRUE((*writer)->Append(std::string_view(expected).substr(off, 65'537)).ok());
  }
  ASSERT_TRUE((*writer)->Commit().ok());

  auto reader = store_->OpenReader("big/blob");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->size(), static_cast<std::int64_t>(kSize));
  std::string got;
  std::vector<char> buf(100'003);
  while (true) {
    auto n = (*reader)->Read(buf.data(), buf.size());
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    got.append(buf.data(), *n);
  }
  EXPECT_TRUE(got == expected) << "streamed content differs";
  EXPECT_TRUE(store_->Get("big/blob").ValueOr("") == expected);
}

TEST_P(ArtifactStoreTest, ReaderSeeksWithinBounds) {
  ASSERT_TRUE(store_->Put("f", "0123456789").ok());
  auto reader = store_->OpenReader("f");
  ASSERT_TRUE(reader.ok());
  char buf[4];
  ASSERT_TRUE((*reader)->Seek(6).ok());
  auto n = (*reader)->Read(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "6789");
  EXPECT_EQ((*reader)->Read(buf, sizeof buf).ValueOr(99), 0u);
  ASSERT_TRUE((*reader)->Seek(10).ok());
  EXPECT_EQ((*reader)->Read(buf, sizeof buf).ValueOr(99), 0u);
  ASSERT_TRUE((*reader)->Seek(0).ok());
  EXPECT_EQ((*reader)->Read(buf, 2).ValueOr(0), 2u);
  EXPECT_EQ(std::string(buf, 2), "01");
  EXPECT_EQ((*reader)->Seek(11).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*reader)->Seek(-1).code(), StatusCode::kInvalidArgument);
}

TEST_P(ArtifactStoreTest, ReaderKeepsItsSnapshotWhenPathIsReplacedOrDeleted) {
  ASSERT_TRUE(store_->Put("f", "old").ok());
  auto reader = store_->OpenReader("f");
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(store_->Put("f", "new content").ok());
  ASSERT_TRUE(store_->Delete("f").ok());
  char buf[16];
  auto n = (*reader)->Read(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "old");
}

TEST_P(ArtifactStoreTest, AbortedWriterLeavesNothing) {
  {
    auto writer = store_->OpenWriter("partial.bin");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append("half of it").ok());
  }
  EXPECT_EQ(store_->Stat("partial.bin").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->List("", true).ValueOr({ArtifactInfo{}}).empty());
  EXPECT_TRUE(DiskEntries(root_).empty());
}

TEST_P(ArtifactStoreTest, AbortedOverwriteKeepsOldContent) {
  ASSERT_TRUE(store_->Put("m", "committed").ok());
  {
    auto writer = store_->OpenWriter("m");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append("uncommitted").ok());
    EXPECT_EQ(store_->Get("m").ValueOr(""), "committed");
  }
  EXPECT_EQ(store_->Get("m").ValueOr(""), "committed");
  EXPECT_THAT(DiskEntries(root_), ElementsAre("m"));
}

TEST_P(ArtifactStoreTest, WriterRefusesUseAfterCommit) {
  auto writer = store_->OpenWriter("w");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("a").ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_EQ((*writer)->Append("b").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*writer)->Commit().code(), StatusCode::kFailedPrecondition);
  writer->reset();  // destroying a committed writer must not remove the artifact
  EXPECT_EQ(store_->Get("w").ValueOr(""), "a");
}

TEST_P(ArtifactStoreTest, WriterOutlivesStore) {
  auto writer = store_->OpenWriter("late");
  ASSERT_TRUE(writer.ok());
  store_.reset();
  ASSERT_TRUE((*writer)->Append("still fine").ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_EQ(ReadFile(root_ / "late"), "still fine");
}

TEST_P(ArtifactStoreTest, StatDescribesFilesAndDirectories) {
  ASSERT_TRUE(store_->Put("d/f.txt", "12345").ok());
  auto file = store_->Stat("d/f.txt");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->path, "d/f.txt");
  EXPECT_FALSE(file->is_dir);
  EXPECT_EQ(file->size, 5);
  struct stat st;
  ASSERT_EQ(::stat((root_ / "d" / "f.txt").c_str(), &st), 0);
  EXPECT_EQ(file->mtime_micros, st.st_mtim.tv_sec * 1'000'000LL + st.st_mtim.tv_nsec / 1000);
  auto dir = store_->Stat("d");
  ASSERT_TRUE(dir.ok());
  EXPECT_TRUE(dir->is_dir);
  EXPECT_EQ(dir->size, 0);
}

TEST_P(ArtifactStoreTest, ListsChildrenOrWholeTreeSorted) {
  for (const char* path : {"b.txt", "a/2.txt", "a/1.txt", "a/sub/deep.txt", "a-c", "z/y/x"})
    ASSERT_TRUE(store_->Put(path, path).ok()) << path;
  auto top = store_->List("", false);
  ASSERT_TRUE(top.ok());
  EXPECT_THAT(Paths(*top), ElementsAre("a", "a-c", "b.txt", "z"));
  EXPECT_TRUE((*top)[0].is_dir);
  EXPECT_FALSE((*top)[2].is_dir);
  EXPECT_EQ((*top)[2].size, 5);

  auto all = store_->List("", true);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(Paths(*all), ElementsAre("a", "a-c", "a/1.txt", "a/2.txt", "a/sub", "a/sub/deep.txt", "b.txt",
                                       "z", "z/y", "z/y/x"));

  auto sub = store_->List("a", false);
  ASSERT_TRUE(sub.ok());
  EXPECT_THAT(Paths(*sub), ElementsAre("a/1.txt", "a/2.txt", "a/sub"));
  auto sub_slash = store_->List("a/", true);
  ASSERT_TRUE(sub_slash.ok());
  EXPECT_THAT(Paths(*sub_slash), ElementsAre("a/1.txt", "a/2.txt", "a/sub", "a/sub/deep.txt"));
}

TEST_P(ArtifactStoreTest, ListOfEmptyRootIsEmpty) {
  auto all = store_->List("", true);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_P(ArtifactStoreTest, ListSkipsNamesThatAreNotArtifacts) {
  ASSERT_TRUE(store_->Put("ok", "1").ok());
  WriteFile(root_ / "bad\nname", "x");
  WriteFile(root_ / "bad\\name", "x");
  WriteFile(root_ / "bad\xff", "x");
  WriteFile(root_ / ".ferry-tmp-0123456789abcdef", "half-written");
  ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
  auto all = store_->List("", true);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(Paths(*all), ElementsAre("ok"));
}

TEST_P(ArtifactStoreTest, DeletesFilesAndTrees) {
  ASSERT_TRUE(store_->Put("keep", "k").ok());
  ASSERT_TRUE(store_->Put("f", "x").ok());
  ASSERT_TRUE(store_->Delete("f").ok());
  EXPECT_EQ(store_->Get("f").status().code(), StatusCode::kNotFound);

  for (const char* path : {"t/a", "t/b/c", "t/b/d/e", "t/empty/x"}) ASSERT_TRUE(store_->Put(path, "v").ok());
  ASSERT_TRUE(store_->Delete("t/empty/x").ok());
  ASSERT_TRUE(store_->Delete("t").ok());
  EXPECT_EQ(store_->Stat("t").status().code(), StatusCode::kNotFound);
  EXPECT_THAT(DiskEntries(root_), ElementsAre("keep"));
}

TEST_P(ArtifactStoreTest, ReportsMissingThingsAsNotFound) {
  ASSERT_TRUE(store_->Put("file", "x").ok());
  EXPECT_EQ(store_->Get("missing").status().code(), StatusCode::kNotFound);
  EXPECT_THAT(store_->Get("missing").status().message(), HasSubstr("'missing' does not exist"));
  EXPECT_EQ(store_->Get("no/such/dir/f").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("file/child").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->OpenReader("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Stat("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->List("missing", false).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("missing").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("no/such").code(), StatusCode::kNotFound);
}

TEST_P(ArtifactStoreTest, ReportsFileDirectoryMismatches) {
  ASSERT_TRUE(store_->Put("file", "x").ok());
  ASSERT_TRUE(store_->Put("dir/f", "x").ok());
  EXPECT_EQ(store_->Get("dir").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(store_->Get("dir").status().message(), HasSubstr("is a directory"));
  EXPECT_EQ(store_->Put("dir", "x").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Put("file/child", "x").code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(store_->Put("file/child", "x").message(), HasSubstr("a parent is a file"));
  EXPECT_EQ(store_->List("file", false).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(store_->List("file", false).status().message(), HasSubstr("is a file, not a directory"));
  EXPECT_EQ(store_->Get("file").ValueOr(""), "x");
}

TEST_P(ArtifactStoreTest, RefusesFifoWithoutBlocking) {
  ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(store_->Get("fifo").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Stat("fifo").status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(ArtifactStoreTest, RejectsHostilePathsInEveryOperation) {
  const std::string hostile[] = {"../x",
                                 "a/../../x",
                                 "/etc/passwd",
                                 std::string("a\0b", 3),
                                 "a//b",
                                 ".",
                                 "a/./b",
                                 "a\\b",
                                 "a\x01z",
                                 std::string(1100, 'a'),
                                 "a\xff",
                                 "f/",
                                 ".ferry-tmp-0000000000000000"};
  for (const std::string& path : hostile) {
    SCOPED_TRACE(::testing::PrintToString(path));
    EXPECT_EQ(store_->Put(path, "x").code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->OpenWriter(path).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Get(path).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->OpenReader(path).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Stat(path).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Delete(path).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Uri(path).status().code(), StatusCode::kInvalidArgument);
    if (path != "f/") {
      EXPECT_EQ(store_->List(path, true).status().code(), StatusCode::kInvalidArgument);
    }
  }
  EXPECT_EQ(store_->List("/", false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(DiskEntries(root_).empty());
  ExpectOutsideUntouched();
}

class PlantedSymlinkTest : public ArtifactStoreTest {
 protected:
  void SetUp() override {
    ArtifactStoreTest::SetUp();
    ASSERT_TRUE(store_->Put("inside/real.txt", "inside").ok());
    fs::create_symlink(outside_, root_ / "linkdir");                   // absolute, to a directory
    fs::create_symlink(outside_ / "secret.txt", root_ / "linkfile");   // absolute, to a file
    fs::create_symlink("../../outside", root_ / "inside" / "reldir");  // relative escape
    fs::create_symlink("real.txt", root_ / "inside" / "innerlink");    // stays inside, still refused
  }
};

INSTANTIATE_TEST_SUITE_P(Resolution, PlantedSymlinkTest,
                         ::testing::Values(PathResolution::kAuto, PathResolution::kComponentWalk),
                         [](const auto& info) {
                           return info.param == PathResolution::kAuto ? "Openat2" : "ComponentWalk";
                         });

TEST_P(PlantedSymlinkTest, ReadsAreRefused) {
  for (const char* path :
       {"linkfile", "linkdir/secret.txt", "inside/reldir/secret.txt", "inside/innerlink"}) {
    SCOPED_TRACE(path);
    auto got = store_->Get(path);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), StatusCode::kPermissionDenied);
    EXPECT_THAT(got.status().message(), HasSubstr("symbolic link"));
    EXPECT_EQ(store_->OpenReader(path).status().code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(store_->Stat(path).status().code(), StatusCode::kPermissionDenied);
  }
  ExpectOutsideUntouched();
}

TEST_P(PlantedSymlinkTest, WritesThroughLinksAreRefused) {
  for (const char* path : {"linkfile", "linkdir/secret.txt", "linkdir/new.txt", "linkdir/sub/new.txt",
                           "inside/reldir/new.txt", "inside/innerlink"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(store_->Put(path, "pwned").code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(store_->OpenWriter(path).status().code(), StatusCode::kPermissionDenied);
  }
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(root_ / "linkfile")));
  EXPECT_EQ(store_->Get("inside/real.txt").ValueOr(""), "inside");
  ExpectOutsideUntouched();
}

TEST_P(PlantedSymlinkTest, ListingsNeitherFollowNorShowLinks) {
  EXPECT_EQ(store_->List("linkdir", false).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->List("linkdir/", true).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->List("inside/reldir", true).status().code(), StatusCode::kPermissionDenied);
  auto all = store_->List("", true);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_THAT(Paths(*all), ElementsAre("inside", "inside/real.txt"));
}

TEST_P(PlantedSymlinkTest, DeletesThroughLinksAreRefused) {
  for (const char* path : {"linkfile", "linkdir", "linkdir/secret.txt", "inside/reldir",
                           "inside/reldir/secret.txt", "inside/innerlink"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(store_->Delete(path).code(), StatusCode::kPermissionDenied);
  }
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(root_ / "linkfile")));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(root_ / "linkdir")));
  ExpectOutsideUntouched();
}

TEST_P(PlantedSymlinkTest, DeletingATreeRemovesLinksWithoutFollowingThem) {
  ASSERT_TRUE(store_->Delete("inside").ok());
  EXPECT_EQ(store_->Stat("inside").status().code(), StatusCode::kNotFound);
  EXPECT_THAT(DiskEntries(root_), ElementsAre("linkdir", "linkfile"));
  ExpectOutsideUntouched();
}

TEST_P(ArtifactStoreTest, ConcurrentWritersToOnePathNeverTear) {
  constexpr int kWriters = 8;
  constexpr int kRounds = 6;
  constexpr std::size_t kSize = 256 * 1024;
  std::mutex commit_mu;
  std::string last_committed;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<int> reads{0};

  std::thread reader([&] {
    while (!done.load()) {
      auto got = store_->Get("shared.bin");
      if (!got.ok()) continue;  // not written yet
      ++reads;
      const std::string& data = *got;
      if (data.size() != kSize || std::count(data.begin(), data.end(), data[0]) != static_cast<long>(kSize))
        ++torn;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int round = 0; round < kRounds; ++round) {
        const char fill = static_cast<char>('A' + w * kRounds + round);
        const std::string chunk(kSize / 8, fill);
        auto writer = store_->OpenWriter("shared.bin");
        ASSERT_TRUE(writer.ok()) << writer.status().ToString();
        for (int i = 0; i < 8; ++i) ASSERT_TRUE((*writer)->Append(chunk).ok());
        std::lock_guard lock(commit_mu);  // orders commits so the last one is known
        ASSERT_TRUE((*writer)->Commit().ok());
        last_committed = std::string(kSize, fill);
      }
    });
  }
  for (auto& t : writers) t.join();
  while (reads.load() == 0) std::this_thread::yield();  // the reader has seen at least one version
  done = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_TRUE(store_->Get("shared.bin").ValueOr("") == last_committed);
  EXPECT_THAT(DiskEntries(root_), ElementsAre("shared.bin"));
}

TEST_P(ArtifactStoreTest, ConcurrentPutsAndDeletesKeepStoreConsistent) {
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string path = "run/" + std::to_string(i % 5) + "/f" + std::to_string(t);
        Status put = store_->Put(path, std::string(100, static_cast<char>('a' + t)));
        // A concurrent Delete of the parent tree may win; anything else is a bug.
        EXPECT_TRUE(put.ok() || put.code() == StatusCode::kConflict) << put.ToString();
        if (i % 10 == 9) {
          Status del = store_->Delete("run");
          EXPECT_TRUE(del.ok() || del.code() == StatusCode::kNotFound) << del.ToString();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  auto all = store_->List("", true);
  ASSERT_TRUE(all.ok());
  for (const auto& info : *all) {
    if (info.is_dir) continue;
    auto data = store_->Get(info.path);
    ASSERT_TRUE(data.ok()) << info.path;
    EXPECT_EQ(data->size(), 100u);
  }
  for (const auto& name : DiskEntries(root_)) EXPECT_EQ(name, "run");  // no leftover temporary trees
}

TEST(FileArtifactStoreOpenTest, NormalisesRootAndRefusesAFile) {
  std::string tmpl = (fs::temp_directory_path() / "ferry-artifacts-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const fs::path base = tmpl;
  auto store = OpenArtifactStore("file://" + base.string() + "/x/./y/../z/");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->root_uri(), "file://" + base.string() + "/x/z");
  EXPECT_TRUE(fs::is_directory(base / "x" / "z"));

  WriteFile(base / "plain", "not a dir");
  auto on_file = OpenArtifactStore("file://" + base.string() + "/plain");
  ASSERT_FALSE(on_file.ok());
  EXPECT_EQ(on_file.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(on_file.status().message(), HasSubstr("is not a directory"));
  fs::remove_all(base);
}

}  // namespace
}  // namespace ferry::artifacts
