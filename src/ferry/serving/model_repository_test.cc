// ModelRepository over real folders: the Triton layout, hostile names,
// failed loads that leave the previous versions serving, unload, and the
// index. Models come from ONNX files written with the official schema
// (an Identity graph), loaded by the native runtime.

#include "ferry/serving/model_repository.h"

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "onnx/onnx_pb.h"

namespace ferry::serving {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// y = Identity(x) over FP32 [-1, 4].
std::string IdentityModelBytes() {
  ::onnx::ModelProto model;
  model.set_ir_version(8);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  auto* graph = model.mutable_graph();
  graph->set_name("identity");
  auto* node = graph->add_node();
  node->set_op_type("Identity");
  node->add_input("x");
  node->add_output("y");
  for (auto [info, name] : {std::pair{graph->add_input(), "x"}, std::pair{graph->add_output(), "y"}}) {
    info->set_name(name);
    auto* tensor = info->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(::onnx::TensorProto::FLOAT);
    tensor->mutable_shape()->add_dim()->set_dim_param("batch");
    tensor->mutable_shape()->add_dim()->set_dim_value(4);
  }
  return model.SerializeAsString();
}

class ModelRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("ferry_repo_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const fs::path& relative, const std::string& bytes) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative, std::ios::binary) << bytes;
  }

  fs::path root_;
};

TEST_F(ModelRepositoryTest, LoadsEveryVersionAndServesTheNewest) {
  Write("m/1/model.onnx", IdentityModelBytes());
  Write("m/2/model.onnx", IdentityModelBytes());
  Write("m/10/model.onnx", IdentityModelBytes());
  Write("m/config.pbtxt", "name: \"m\"\n");
  ModelRepository repo(root_.string());
  ASSERT_TRUE(repo.LoadAll().ok());
  auto newest = repo.Get("m", "");
  ASSERT_TRUE(newest.ok()) << newest.status().ToString();
  EXPECT_EQ((*newest)->version, "10");  // numeric, not lexical order
  auto v2 = repo.Get("m", "2");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ((*v2)->version, "2");
  EXPECT_EQ((*v2)->model->signature().inputs.at(0).name, "x");
  auto missing = repo.Get("m", "3");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("has no version '3'"));
  EXPECT_EQ(repo.Loaded("m").size(), 3u);
  EXPECT_EQ(repo.ReadyModelCount(), 1u);
}

TEST_F(ModelRepositoryTest, RefusesHostileNames) {
  ModelRepository repo(root_.string());
  for (const std::string& name : std::vector<std::string>{"", ".", "..", "../etc", "a/b", "a\\b", ".hidden", std::string("a\0b", 3),
                           std::string("a\nb"), std::string(256, 'x'), std::string("\xff\xfe")}) {
    Status st = repo.Load(name);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(st.message(), HasSubstr("model name")) << name;
  }
}

TEST_F(ModelRepositoryTest, UnknownModelIsNotFound) {
  ModelRepository repo(root_.string());
  Status st = repo.Load("nope");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_THAT(st.message(), HasSubstr("'nope'"));
  EXPECT_EQ(repo.Get("nope", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(repo.Unload("nope").code(), StatusCode::kNotFound);
  ModelRepository no_root("");
  EXPECT_THAT(no_root.Load("nope").message(), HasSubstr("--model-repository"));
}

TEST_F(ModelRepositoryTest, ModelWithoutVersionsOrFilesFailsWithReason) {
  fs::create_directories(root_ / "empty");
  fs::create_directories(root_ / "nofile" / "1");
  Write("wrongfile/1/model.bin", "x");
  Write("garbage/1/model.onnx", "this is not protobuf");
  ModelRepository repo(root_.string());
  EXPECT_FALSE(repo.LoadAll().ok());
  EXPECT_THAT(repo.Load("empty").message(), HasSubstr("no version folders"));
  EXPECT_THAT(repo.Load("nofile").message(), HasSubstr("expected model.onnx"));
  EXPECT_THAT(repo.Load("wrongfile").message(), HasSubstr("expected model.onnx"));
  EXPECT_FALSE(repo.Load("garbage").ok());
  auto index = repo.Index(false);
  ASSERT_EQ(index.size(), 4u);
  for (const auto& e : index) {
    EXPECT_EQ(e.state, "UNAVAILABLE") << e.name;
    EXPECT_FALSE(e.reason.empty()) << e.name;
  }
  EXPECT_TRUE(repo.Index(true).empty());
}

TEST_F(ModelRepositoryTest, FailedReloadKeepsServingThePreviousVersions) {
  Write("m/1/model.onnx", IdentityModelBytes());
  ModelRepository repo(root_.string());
  ASSERT_TRUE(repo.Load("m").ok());
  auto before = repo.Get("m", "");
  ASSERT_TRUE(before.ok());
  Write("m/2/model.onnx", "garbage");
  EXPECT_FALSE(repo.Load("m").ok());
  auto after = repo.Get("m", "");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->version, "1");
  EXPECT_EQ(before->get(), after->get());
  auto index = repo.Index(true);
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index[0].state, "READY");
  EXPECT_THAT(index[0].reason, HasSubstr("version 2"));
}

TEST_F(ModelRepositoryTest, ReloadSwapsWhileOldHandlesStayValid) {
  Write("m/1/model.onnx", IdentityModelBytes());
  ModelRepository repo(root_.string());
  ASSERT_TRUE(repo.Load("m").ok());
  auto held = repo.Get("m", "1");
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(repo.Load("m").ok());
  auto fresh = repo.Get("m", "1");
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(held->get(), fresh->get());
  EXPECT_EQ((*held)->model->signature().inputs.size(), 1u);  // still usable
}

TEST_F(ModelRepositoryTest, ConcurrentGetsDuringReloadsNeverFail) {
  Write("m/1/model.onnx", IdentityModelBytes());
  ModelRepository repo(root_.string());
  ASSERT_TRUE(repo.Load("m").ok());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i)
    readers.emplace_back([&] {
      while (!stop.load())
        if (!repo.Get("m", "").ok()) failures.fetch_add(1);
    });
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(repo.Load("m").ok());
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(ModelRepositoryTest, UnloadAndIndex) {
  Write("a/1/model.onnx", IdentityModelBytes());
  Write("b/1/model.onnx", IdentityModelBytes());
  ModelRepository repo(root_.string());
  ASSERT_TRUE(repo.Load("a").ok());
  auto index = repo.Index(false);
  ASSERT_EQ(index.size(), 2u);
  EXPECT_EQ(index[0].name, "a");
  EXPECT_EQ(index[0].state, "READY");
  EXPECT_EQ(index[1].name, "b");
  EXPECT_EQ(index[1].state, "UNAVAILABLE");
  ASSERT_TRUE(repo.Unload("a").ok());
  EXPECT_EQ(repo.Get("a", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(repo.Unload("a").code(), StatusCode::kNotFound);
  index = repo.Index(false);
  ASSERT_EQ(index.size(), 2u);
  EXPECT_EQ(index[0].reason, "unloaded");
  ASSERT_TRUE(repo.Load("a").ok());
  EXPECT_TRUE(repo.Get("a", "1").ok());
}

TEST_F(ModelRepositoryTest, SingleFileModels) {
  Write("one.onnx", IdentityModelBytes());
  ModelRepository repo("");
  ASSERT_TRUE(repo.AddModelFile("one", (root_ / "one.onnx").string()).ok());
  auto loaded = repo.Get("one", "");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ((*loaded)->version, "1");
  ASSERT_TRUE(repo.Load("one").ok());  // reloads from the file
  EXPECT_THAT(repo.AddModelFile("two", (root_ / "two.pkl").string()).message(), HasSubstr("no runtime"));
  EXPECT_EQ(repo.AddModelFile("three", (root_ / "missing.onnx").string()).code(), StatusCode::kNotFound);
  EXPECT_EQ(repo.AddModelFile("../x", (root_ / "one.onnx").string()).code(), StatusCode::kInvalidArgument);
}

TEST_F(ModelRepositoryTest, RootThatIsNotADirectory) {
  ModelRepository repo((root_ / "absent").string());
  EXPECT_EQ(repo.LoadAll().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace ferry::serving
