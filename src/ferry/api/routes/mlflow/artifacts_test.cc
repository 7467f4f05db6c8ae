// The MLflow artifact proxy end to end: ApiServer over a file:// artifact
// store, driven over TCP. Shapes, headers and messages are those the pinned
// `mlflow server --artifacts-destination` gives for the same requests.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "ferry/api/routes/mlflow/artifacts_internal.h"
#include "ferry/api/testing/mlflow_test_server.h"

namespace ferry::api {
namespace {

using testing::BodyOf;
using ::testing::HasSubstr;
using testing::Response;

constexpr char kFiles[] = "/api/2.0/mlflow-artifacts/artifacts";
constexpr char kMpu[] = "/api/2.0/mlflow-artifacts/mpu";

class MlflowArtifactsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A small body limit for the other routes; uploads get their own.
    Status started =
        server_.Start({.artifacts = true, .max_body_bytes = 1 << 16, .max_upload_bytes = 1 << 20});
    ASSERT_TRUE(started.ok()) << started.ToString();
    dir_ = server_.dir();
    root_ = server_.artifact_root();
  }

  // Sends one request as is; a fresh connection follows a failed one.
  Response Raw(std::string_view method, const std::string& target, std::string_view body = {},
               std::map<std::string, std::string> headers = {}) {
    auto response = server_.conn().Request(method, target, body, headers);
    EXPECT_TRUE(response) << method << " " << target;
    if (!response) server_.Reconnect();
    return response ? *response : Response();
  }

  void Put(const std::string& path, std::string_view data) {
    Response r =
        Raw("PUT", std::string(kFiles) + "/" + path, data, {{"Content-Type", "application/octet-stream"}});
    EXPECT_EQ(r.result_int(), 200) << path << " " << r.body();
    EXPECT_EQ(BodyOf(r), Json::object());
  }

  Json PostJson(const std::string& target, const Json& body, int status = 200) {
    Response r = Raw("POST", target, body.dump(), {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.result_int(), status) << target << " " << body.dump() << " -> " << r.body();
    return BodyOf(r);
  }

  // The part of a credential URL after the host, e.g. /api/2.0/...
  static std::string PathOf(const std::string& url) {
    const std::size_t scheme = url.find("://");
    const std::size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    return slash == std::string::npos ? "/" : url.substr(slash);
  }

  std::string FileOnDisk(const std::string& relative) {
    std::ifstream in(root_ + "/" + relative, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  testing::MlflowTestServer server_;
  std::string dir_, root_;
};

TEST_F(MlflowArtifactsTest, UploadDownloadRoundTrip) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  Put("1/run/artifacts/model.pkl", binary);
  Put("1/run/artifacts/notes.txt", "hello");
  // Stored under mlflow/ in the artifact store, as mlflow-artifacts:/ maps.
  EXPECT_EQ(FileOnDisk("mlflow/1/run/artifacts/model.pkl"), binary);

  Response r = Raw("GET", std::string(kFiles) + "/1/run/artifacts/model.pkl");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(r.body(), binary);
  EXPECT_EQ(r[boost::beast::http::field::content_type], "application/octet-stream");
  EXPECT_EQ(r[boost::beast::http::field::content_disposition], "attachment; filename=model.pkl");
  EXPECT_EQ(r["X-Content-Type-Options"], "nosniff");

  r = Raw("GET", std::string(kFiles) + "/1/run/artifacts/notes.txt");
  EXPECT_EQ(r.body(), "hello");
  EXPECT_EQ(r[boost::beast::http::field::content_type], "text/plain");

  // Overwrite replaces.
  Put("1/run/artifacts/notes.txt", "bye");
  EXPECT_EQ(Raw("GET", std::string(kFiles) + "/1/run/artifacts/notes.txt").body(), "bye");
  // An empty file is a file.
  Put("1/run/artifacts/empty.bin", "");
  r = Raw("GET", std::string(kFiles) + "/1/run/artifacts/empty.bin");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "");
}

TEST_F(MlflowArtifactsTest, ContentTypesFollowMlflow) {
  const std::map<std::string, std::string> expected = {{"MLmodel", "text/plain"},
                                                       {"a.json", "text/plain"},
                                                       {"a.yaml", "text/plain"},
                                                       {"a.csv", "text/plain"},
                                                       {"a.py", "text/plain"},
                                                       {"a.png", "image/png"},
                                                       {"a.jpeg", "image/jpeg"},
                                                       {"a.html", "text/html"},
                                                       {"a.bin", "application/octet-stream"},
                                                       {"a.pkl", "application/octet-stream"},
                                                       {"noext", "application/octet-stream"}};
  for (const auto& [name, type] : expected) {
    Put("ct/" + name, "x");
    Response r = Raw("GET", std::string(kFiles) + "/ct/" + name);
    EXPECT_EQ(r[boost::beast::http::field::content_type], type) << name;
  }
}

TEST_F(MlflowArtifactsTest, ContentDispositionQuotesAndEncodes) {
  Put("cd/a%20b.txt", "x");  // a file named "a b.txt"
  Response r = Raw("GET", std::string(kFiles) + "/cd/a%20b.txt");
  EXPECT_EQ(r[boost::beast::http::field::content_disposition], "attachment; filename=\"a b.txt\"");
  Put("cd/%C3%A9t%C3%A9.txt", "x");  // "été.txt"
  r = Raw("GET", std::string(kFiles) + "/cd/%C3%A9t%C3%A9.txt");
  EXPECT_EQ(r[boost::beast::http::field::content_disposition],
            "attachment; filename=ete.txt; filename*=UTF-8''%C3%A9t%C3%A9.txt");
}

TEST_F(MlflowArtifactsTest, ListsLikeMlflow) {
  Put("1/r/artifacts/a.txt", "hello");
  Put("1/r/artifacts/sub/b.txt", "bb");
  Json body = BodyOf(Raw("GET", std::string(kFiles) + "?path=1/r/artifacts"));
  EXPECT_EQ(body, Json::parse(R"({"files": [{"path": "a.txt", "is_dir": false, "file_size": 5},
                                            {"path": "sub", "is_dir": true}]})"));
  body = BodyOf(Raw("GET", std::string(kFiles)));
  EXPECT_EQ(body, Json::parse(R"({"files": [{"path": "1", "is_dir": true}]})"));
  // A file, a missing path: {} as MLflow's local repository answers.
  EXPECT_EQ(BodyOf(Raw("GET", std::string(kFiles) + "?path=1/r/artifacts/a.txt")), Json::object());
  EXPECT_EQ(BodyOf(Raw("GET", std::string(kFiles) + "?path=nope")), Json::object());
  // Staging areas of multipart uploads are never listed.
  PostJson(std::string(kMpu) + "/create/x", {{"path", "/tmp/f.bin"}, {"num_parts", 1}});
  body = BodyOf(Raw("GET", std::string(kFiles)));
  EXPECT_EQ(body["files"].size(), 1u) << body.dump();
}

TEST_F(MlflowArtifactsTest, DownloadErrors) {
  Put("d/a.txt", "x");
  Response r = Raw("GET", std::string(kFiles) + "/d/zzz");
  EXPECT_EQ(r.result_int(), 404);
  EXPECT_EQ(BodyOf(r), Json::parse(R"({"error_code": "RESOURCE_DOES_NOT_EXIST",
                                       "message": "No such artifact: 'd/zzz'"})"));
  r = Raw("GET", std::string(kFiles) + "/d");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_THAT(BodyOf(r).value("message", ""),
              HasSubstr("Artifact path refers to a directory, not a file: 'd'"));
}

TEST_F(MlflowArtifactsTest, DeleteRemovesFilesAndTrees) {
  Put("del/a.txt", "x");
  Put("del/sub/b.txt", "y");
  Response r = Raw("DELETE", std::string(kFiles) + "/del/a.txt");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(BodyOf(r), Json::object());
  EXPECT_EQ(Raw("GET", std::string(kFiles) + "/del/a.txt").result_int(), 404);
  EXPECT_EQ(Raw("DELETE", std::string(kFiles) + "/del").result_int(), 200);
  EXPECT_EQ(Raw("GET", std::string(kFiles) + "/del/sub/b.txt").result_int(), 404);
  // Deleting what is not there is fine, as in MLflow.
  EXPECT_EQ(Raw("DELETE", std::string(kFiles) + "/del/never").result_int(), 200);
}

TEST_F(MlflowArtifactsTest, HostilePathsAreRefusedAndNeverEscape) {
  // Something outside the root that an escape would reach.
  std::ofstream(dir_ + "/secret.txt") << "secret";
  const std::vector<std::string> bad = {"/..%2F..%2Fsecret.txt",
                                        "/a/..%2F..%2F..%2Fsecret.txt",
                                        "/a/%2E%2E/%2E%2E/secret.txt",
                                        "/a/%252E%252E/%252E%252E/secret.txt",  // double-encoded
                                        "/a/..%252F..%252Fsecret.txt",
                                        "/%2Fetc%2Fpasswd",
                                        "/a/b%00.txt",
                                        "/a/b%5Cc.txt",
                                        "/a/b%0A.txt",
                                        "/" + std::string(1100, 'x'),
                                        "/a/" + std::string(300, 'y'),
                                        "/a/%23frag"};
  for (const std::string& path : bad) {
    for (const char* method : {"GET", "PUT", "DELETE"}) {
      Response r = Raw(method, std::string(kFiles) + path, method == std::string("PUT") ? "pwned" : "");
      EXPECT_EQ(r.result_int(), 400) << method << " " << path << " -> " << r.body();
      Json body = BodyOf(r);
      EXPECT_EQ(body.value("error_code", ""), "INVALID_PARAMETER_VALUE") << path;
      EXPECT_THAT(body.value("message", ""), HasSubstr("Invalid path")) << path;
    }
  }
  for (const char* q : {"..", "../secret.txt", "/etc", "a/../../x", "a%2F..%2F..%2Fx"}) {
    Response r = Raw("GET", std::string(kFiles) + "?path=" + std::string(q));
    EXPECT_EQ(r.result_int(), 400) << q << " -> " << r.body();
  }
  std::ifstream in(dir_ + "/secret.txt");
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "secret");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/pwned"));
}

TEST_F(MlflowArtifactsTest, ValidateClientPathNamesThePath) {
  Status st = mlflow::ValidateClientPath("a/../b");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("Invalid path 'a/../b'"));
  EXPECT_TRUE(mlflow::ValidateClientPath("a/b c/d.txt").ok());
  EXPECT_TRUE(mlflow::ValidateClientPath("100%").ok());  // a literal '%' is a name
  EXPECT_FALSE(mlflow::ValidateClientPath("%2e%2e").ok());
  EXPECT_EQ(*mlflow::ProxiedStorePath("mlflow-artifacts:/1/abc/artifacts"), "mlflow/1/abc/artifacts");
  EXPECT_EQ(*mlflow::ProxiedStorePath("mlflow-artifacts://host:5000/1/abc", "x/y"), "mlflow/1/abc/x/y");
  EXPECT_FALSE(mlflow::ProxiedStorePath("s3://bucket/x").ok());
  EXPECT_FALSE(mlflow::ProxiedStorePath("mlflow-artifacts:/1/../../etc").ok());
}

TEST_F(MlflowArtifactsTest, UploadsHaveTheirOwnBodyLimit) {
  // Above the API's body limit, within the upload limit: accepted.
  const std::string body((1 << 20), 'x');
  EXPECT_EQ(Raw("PUT", std::string(kFiles) + "/ok.bin", body).result_int(), 200);
  EXPECT_EQ(FileOnDisk("mlflow/ok.bin"), body);
  // Above the upload limit: 413.
  Response r = Raw("PUT", std::string(kFiles) + "/big.bin", std::string((1 << 20) + 1, 'x'));
  EXPECT_EQ(r.result_int(), 413);
}

TEST_F(MlflowArtifactsTest, MultipartUploadConcatenatesPartsInOrder) {
  Json create = PostJson(std::string(kMpu) + "/create/1/r/artifacts/sub",
                         {{"path", "/home/me/data/big.bin"}, {"num_parts", 3}});
  const std::string upload_id = create.value("upload_id", "");
  ASSERT_EQ(upload_id.size(), 32u) << create.dump();
  ASSERT_EQ(create["credentials"].size(), 3u);
  const std::vector<std::string> data = {"first-", "second-", "third"};
  Json parts = Json::array();
  // Upload out of order; complete puts them in part-number order.
  for (int i : {2, 0, 1}) {
    const Json& cred = create["credentials"][i];
    EXPECT_EQ(cred.value("part_number", 0), i + 1);
    // Built from the request's Host (the test client sends "test").
    EXPECT_EQ(cred.value("url", ""),
              "http://test/api/2.0/mlflow-artifacts/mpu/part/" + upload_id + "/" + std::to_string(i + 1));
    Response r = Raw("PUT", PathOf(cred.value("url", "")), data[i]);
    ASSERT_EQ(r.result_int(), 200) << r.body();
    std::string etag(r[boost::beast::http::field::etag]);
    EXPECT_FALSE(etag.empty());
    parts.push_back({{"part_number", i + 1}, {"etag", etag}, {"url", cred.value("url", "")}});
  }
  // Nothing visible before complete.
  EXPECT_EQ(Raw("GET", std::string(kFiles) + "/1/r/artifacts/sub/big.bin").result_int(), 404);
  Json done = PostJson(std::string(kMpu) + "/complete/1/r/artifacts/sub",
                       {{"path", "/home/me/data/big.bin"}, {"upload_id", upload_id}, {"parts", parts}});
  EXPECT_EQ(done, Json::object());
  Response r = Raw("GET", std::string(kFiles) + "/1/r/artifacts/sub/big.bin");
  EXPECT_EQ(r.body(), "first-second-third");
  // The staging area is gone; the upload cannot be completed twice.
  EXPECT_FALSE(std::filesystem::exists(root_ + "/mlflow-mpu/" + upload_id));
  Json again = PostJson(std::string(kMpu) + "/complete/1/r/artifacts/sub",
                        {{"path", "/home/me/data/big.bin"}, {"upload_id", upload_id}, {"parts", parts}}, 404);
  EXPECT_EQ(again.value("error_code", ""), "RESOURCE_DOES_NOT_EXIST");
}

TEST_F(MlflowArtifactsTest, MultipartUploadLetsLargeFilesPastTheBodyLimit) {
  const std::size_t part = (1 << 20) - 1024;  // under the 1 MiB test limit
  Json create = PostJson(std::string(kMpu) + "/create/big", {{"path", "f.bin"}, {"num_parts", 3}});
  Json parts = Json::array();
  std::string whole;
  for (int i = 0; i < 3; ++i) {
    std::string chunk(part, static_cast<char>('a' + i));
    whole += chunk;
    const std::string url = create["credentials"][i].value("url", "");
    Response r = Raw("PUT", PathOf(url), chunk);
    ASSERT_EQ(r.result_int(), 200) << r.body();
    parts.push_back({{"part_number", i + 1}, {"etag", std::string(r[boost::beast::http::field::etag])}});
  }
  PostJson(std::string(kMpu) + "/complete/big",
           {{"path", "f.bin"}, {"upload_id", create["upload_id"]}, {"parts", parts}});
  EXPECT_EQ(FileOnDisk("mlflow/big/f.bin"), whole);
}

TEST_F(MlflowArtifactsTest, MultipartUploadErrorsAndAbort) {
  Json create = PostJson(std::string(kMpu) + "/create/m", {{"path", "f.bin"}, {"num_parts", 2}});
  const std::string id = create.value("upload_id", "");
  const std::string part1 = PathOf(create["credentials"][0].value("url", ""));
  ASSERT_EQ(Raw("PUT", part1, "one").result_int(), 200);
  // A missing part, a wrong etag, a part out of range, another path, a bad id.
  Json body = PostJson(
      std::string(kMpu) + "/complete/m",
      {{"path", "f.bin"}, {"upload_id", id}, {"parts", {{{"part_number", 1}}, {{"part_number", 2}}}}}, 400);
  EXPECT_THAT(body.value("message", ""), HasSubstr("never uploaded"));
  PostJson(std::string(kMpu) + "/complete/m",
           {{"path", "f.bin"}, {"upload_id", id}, {"parts", {{{"part_number", 1}, {"etag", "\"beef\""}}}}},
           400);
  PostJson(std::string(kMpu) + "/complete/m",
           {{"path", "f.bin"}, {"upload_id", id}, {"parts", {{{"part_number", 3}}}}}, 400);
  PostJson(std::string(kMpu) + "/complete/m",
           {{"path", "f.bin"}, {"upload_id", id}, {"parts", {{{"part_number", 1}}, {{"part_number", 1}}}}},
           400);
  PostJson(std::string(kMpu) + "/complete/other",
           {{"path", "f.bin"}, {"upload_id", id}, {"parts", {{{"part_number", 1}}}}}, 400);
  PostJson(std::string(kMpu) + "/complete/m",
           {{"path", "f.bin"}, {"upload_id", "../../x"}, {"parts", {{{"part_number", 1}}}}}, 400);
  PostJson(std::string(kMpu) + "/complete/m", {{"path", "f.bin"}, {"upload_id", id}}, 400);  // no parts
  PostJson(std::string(kMpu) + "/create/m", {{"num_parts", 2}}, 400);                        // no path
  PostJson(std::string(kMpu) + "/create/m", {{"path", "f.bin"}, {"num_parts", 0}}, 400);
  PostJson(std::string(kMpu) + "/create/m", {{"path", "f.bin"}, {"num_parts", 10001}}, 400);
  PostJson(std::string(kMpu) + "/create/..%2F..", {{"path", "f.bin"}}, 400);
  PostJson(std::string(kMpu) + "/create/m", {{"path", "/x/.."}}, 400);
  EXPECT_EQ(Raw("PUT", std::string(kMpu) + "/part/" + id + "/3", "x").result_int(), 400);
  EXPECT_EQ(Raw("PUT", std::string(kMpu) + "/part/" + id + "/x", "x").result_int(), 400);
  EXPECT_EQ(Raw("PUT", std::string(kMpu) + "/part/0123456789abcdef0123456789abcdef/1", "x").result_int(),
            404);
  // Nothing was written by the failures.
  EXPECT_EQ(Raw("GET", std::string(kFiles) + "/m/f.bin").result_int(), 404);

  EXPECT_EQ(PostJson(std::string(kMpu) + "/abort/m", {{"path", "f.bin"}, {"upload_id", id}}), Json::object());
  EXPECT_FALSE(std::filesystem::exists(root_ + "/mlflow-mpu/" + id));
  EXPECT_EQ(Raw("PUT", part1, "one").result_int(), 404);
}

}  // namespace
}  // namespace ferry::api
