#include "ferry/api/routes/dashboard.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace ferry::api {
namespace {

namespace fs = std::filesystem;

HttpResponse Get(const Router& router, std::string_view path) {
  RouteMatch m = router.Match("GET", path);
  if (m.kind != RouteMatch::Kind::kFound) return TextResponse(404, "text/plain", "unmatched");
  HttpRequest request;
  request.params = m.params;
  return m.route->handler(request);
}

TEST(DashboardTest, EmbeddedBuildHasIndexAndAssets) {
  bool index = false, script = false;
  for (const auto& f : dashboard::EmbeddedFiles()) {
    index |= f.path == "index.html" && !f.data.empty();
    script |= f.path.starts_with("assets/") && f.path.ends_with(".js");
  }
  EXPECT_TRUE(index);
  EXPECT_TRUE(script);
}

TEST(DashboardTest, ContentTypesByExtension) {
  EXPECT_EQ(dashboard::ContentTypeFor("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(dashboard::ContentTypeFor("assets/a-1.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(dashboard::ContentTypeFor("assets/a-1.css"), "text/css; charset=utf-8");
  EXPECT_EQ(dashboard::ContentTypeFor("assets/blob"), "application/octet-stream");
}

class DashboardDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("ferry-dashboard-test-" + std::to_string(::getpid()));
    root_ = base_ / "web";
    fs::create_directories(root_ / "assets");
    std::ofstream(root_ / "index.html") << "<html>index</html>";
    std::ofstream(root_ / "assets" / "app-1.js") << "console.log(1)";
    std::ofstream(base_ / "secret.txt") << "secret";
    ASSERT_TRUE(AddDashboardRoutes(router_, {.web_root = root_.string()}).ok());
  }
  void TearDown() override { fs::remove_all(base_); }
  fs::path base_, root_;
  Router router_;
};

TEST_F(DashboardDiskTest, PagesAnswerIndexWithoutCaching) {
  for (std::string_view path : {"/", "/runs", "/runs/abc", "/experiments/1/runs/2", "/endpoints/wine"}) {
    HttpResponse r = Get(router_, path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, "<html>index</html>") << path;
    EXPECT_EQ(r.headers.Get("Cache-Control"), "no-cache") << path;
    EXPECT_TRUE(r.headers.Has("Content-Security-Policy")) << path;
  }
}

TEST_F(DashboardDiskTest, AssetsAreImmutable) {
  HttpResponse r = Get(router_, "/assets/app-1.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "console.log(1)");
  EXPECT_EQ(r.headers.Get("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(r.headers.Get("Content-Type"), "text/javascript; charset=utf-8");
}

TEST_F(DashboardDiskTest, NoPathLeavesTheRoot) {
  // The router hands the handler decoded segments: "..%2f" arrives as "../".
  HttpRequest request;
  RouteMatch m = router_.Match("GET", "/assets/x");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  for (std::string hostile : {"../secret.txt", "../../etc/passwd", "./app-1.js", "a//b", "a\\..\\b", "x\x01"}) {
    request.params["file"] = hostile;
    EXPECT_EQ(m.route->handler(request).status, 404) << hostile;
  }
  EXPECT_EQ(Get(router_, "/assets/missing.js").status, 404);
}

TEST_F(DashboardDiskTest, OtherPathsKeepTheir404) {
  EXPECT_EQ(Get(router_, "/api/v1/anything").body, "unmatched");
  EXPECT_EQ(Get(router_, "/runsx").body, "unmatched");
}

}  // namespace
}  // namespace ferry::api
