#include "ferry/common/memory.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ferry {
namespace {

// ASan's allocator ignores malloc_trim, so this runs in plain builds only;
// tests/mlflow/test_memory.py checks the server's RSS after large requests.
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
long RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Many small blocks (below the mmap threshold), of which the ones
// allocated last stay live: they sit at the top of the heap, so free()
// cannot shrink it and the freed pages below stay resident until
// ReleaseFreeMemory hands them back.
TEST(ReleaseFreeMemoryTest, ReturnsFreedHeapPagesToTheOs) {
  const long before = RssKiB();
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < 200'000; ++i) {
    blocks.emplace_back(new char[512]);
    blocks.back()[0] = static_cast<char>(i);  // touch the page
  }
  EXPECT_GT(RssKiB(), before + 50'000);
  for (int i = 0; i < 180'000; ++i) blocks[i].reset();
  const long freed = RssKiB();
  ReleaseFreeMemory();
  const long trimmed = RssKiB();
  EXPECT_LT(trimmed, freed - 50'000) << "before " << before << " KiB, freed " << freed << " KiB";
}
#endif

}  // namespace
}  // namespace ferry
