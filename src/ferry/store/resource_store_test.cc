#include "ferry/store/resource_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ferry/store/resource_types.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::store {
namespace {

using ::ferry::store::testing::AllBackends;
using ::ferry::store::testing::Backend;
using ::ferry::store::testing::BackendName;
using ::ferry::store::testing::TestDatabase;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kConfigMaps[] = "configmaps";

Json ConfigMap(const std::string& name, const std::string& ns = "", Json labels = nullptr) {
  Json object = {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", {{"k", "v"}}}};
  if (!ns.empty()) object["metadata"]["namespace"] = ns;
  if (!labels.is_null()) object["metadata"]["labels"] = std::move(labels);
  return object;
}

std::string Rv(const Json& object) { return object["metadata"]["resourceVersion"].get<std::string>(); }

std::int64_t RvNumber(const Json& object) { return std::stoll(Rv(object)); }

std::string Name(const Json& object) { return object["metadata"]["name"].get<std::string>(); }

std::string Key(const Json& object) {
  return object["metadata"]["namespace"].get<std::string>() + "/" + Name(object);
}

// Collects watch events; sinks run on writer threads.
class Recorder {
 public:
  std::function<void(const WatchEvent&)> Sink() {
    return [this](const WatchEvent& event) {
      std::lock_guard lock(mu_);
      events_.push_back(event);
    };
  }
  std::vector<WatchEvent> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  // "ADDED a@3" per event, for readable comparisons.
  std::vector<std::string> Summary() {
    std::vector<std::string> out;
    for (const auto& e : events())
      out.push_back(std::string(WatchEventTypeName(e.type)) + " " + Name(e.object) + "@" +
                    std::to_string(e.revision));
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<WatchEvent> events_;
};

class ResourceStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(GetParam());
    ASSERT_NE(tdb_, nullptr);
    store_ = std::make_unique<ResourceStore>(&tdb_->db(), &env_);
  }

  Json MustCreate(Json object, const std::string& type_key = kConfigMaps) {
    Result<Json> created = store_->Create(type_key, std::move(object));
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : Json();
  }

  // Every page of a list, asserting each page's size and its token.
  std::vector<Json> ListAll(const std::string& type_key, ListOptions options, std::size_t* pages = nullptr) {
    std::vector<Json> all;
    std::size_t count = 0;
    std::int64_t first_rv = -1;
    while (true) {
      Result<ListResult> page = store_->List(type_key, options);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) return all;
      ++count;
      if (first_rv < 0) first_rv = page->resource_version;
      EXPECT_EQ(page->resource_version, first_rv);
      if (options.limit > 0) {
        EXPECT_LE(page->items.size(), static_cast<std::size_t>(options.limit));
        // A token promises more; a short page promises none.
        if (!page->continue_token.empty()) {
          EXPECT_EQ(page->items.size(), static_cast<std::size_t>(options.limit));
        }
      }
      for (auto& item : page->items) all.push_back(std::move(item));
      if (page->continue_token.empty()) break;
      options.continue_token = page->continue_token;
    }
    if (pages != nullptr) *pages = count;
    return all;
  }

  // The paging assertions of ListPagesThroughEverythingInKeyOrder, for
  // objects at `keys` (every fourth labelled tier=gold) sorted as `want`.
  void CheckPaging(const std::vector<std::pair<std::string, std::string>>& keys,
                   const std::vector<std::string>& want);

  FakeEnv env_;
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<ResourceStore> store_;
};

TEST_P(ResourceStoreTest, CreateFillsServerFields) {
  Json sent = ConfigMap("settings");
  sent["metadata"]["uid"] = "client-uid";
  sent["metadata"]["resourceVersion"] = "999";
  sent["metadata"]["creationTimestamp"] = "2001-01-01T00:00:00Z";
  sent["metadata"]["annotations"] = nullptr;
  sent["status"] = {{"phase", "Forged"}};
  EXPECT_EQ(store_->CurrentRevision(), 0);

  Json created = MustCreate(sent);
  const Json& md = created["metadata"];
  EXPECT_EQ(md["namespace"], "default");
  EXPECT_EQ(md["name"], "settings");
  EXPECT_EQ(md["resourceVersion"], "1");
  EXPECT_EQ(md["creationTimestamp"], "2023-11-14T22:13:20Z");  // FakeEnv's epoch
  EXPECT_EQ(md["uid"].get<std::string>().size(), 36u);
  EXPECT_NE(md["uid"], "client-uid");
  EXPECT_FALSE(md.contains("annotations"));
  EXPECT_FALSE(created.contains("status"));
  EXPECT_EQ(created["data"], Json({{"k", "v"}}));
  EXPECT_EQ(store_->CurrentRevision(), 1);

  Result<Json> got = store_->Get(kConfigMaps, "default", "settings");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, created);
  Result<Json> via_empty_ns = store_->Get(kConfigMaps, "", "settings");
  ASSERT_TRUE(via_empty_ns.ok());
  EXPECT_EQ(*via_empty_ns, created);

  env_.AdvanceMicros(5'000'000);
  Json second = MustCreate(ConfigMap("other", "team-a"));
  EXPECT_EQ(second["metadata"]["creationTimestamp"], "2023-11-14T22:13:25Z");
  EXPECT_EQ(Rv(second), "2");
  EXPECT_NE(second["metadata"]["uid"], md["uid"]);
}

TEST_P(ResourceStoreTest, CreateRejectsTakenNamesAndMalformedObjects) {
  MustCreate(ConfigMap("settings"));
  Result<Json> again = store_->Create(kConfigMaps, ConfigMap("settings", "default"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.status().message(), "configmaps \"settings\" already exists");
  EXPECT_EQ(store_->CurrentRevision(), 1);  // the failed write left no trace

  const std::vector<std::pair<Json, std::string>> bad = {
      {Json::array(), ""},
      {Json{{"kind", "ConfigMap"}}, "metadata"},
      {Json{{"metadata", "x"}}, "metadata"},
      {Json{{"metadata", {{"name", ""}}}}, "metadata.name"},
      {Json{{"metadata", {{"name", 3}}}}, "metadata.name"},
      {Json{{"metadata", {{"name", "a"}, {"namespace", 1}}}}, "metadata.namespace"},
  };
  for (const auto& [object, field] : bad) {
    Result<Json> created = store_->Create(kConfigMaps, object);
    ASSERT_FALSE(created.ok()) << object.dump();
    EXPECT_EQ(created.status().code(), StatusCode::kInvalidArgument) << object.dump();
    EXPECT_EQ(created.status().field(), field) << object.dump();
  }
  EXPECT_EQ(store_->CurrentRevision(), 1);
}

TEST_P(ResourceStoreTest, NamespacesAndTypesAreIsolated) {
  MustCreate(ConfigMap("same", "team-a"));
  MustCreate(ConfigMap("same", "team-b"));
  MustCreate(ConfigMap("same", "team-a"), "experiments.kubeflow.org");

  Result<Json> a = store_->Get(kConfigMaps, "team-a", "same");
  Result<Json> b = store_->Get(kConfigMaps, "team-b", "same");
  Result<Json> e = store_->Get("experiments.kubeflow.org", "team-a", "same");
  ASSERT_TRUE(a.ok() && b.ok() && e.ok());
  EXPECT_NE(a->at("metadata")["uid"], b->at("metadata")["uid"]);
  EXPECT_NE(a->at("metadata")["uid"], e->at("metadata")["uid"]);

  Result<Json> missing = store_->Get(kConfigMaps, "team-c", "same");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "configmaps \"same\" not found");
  EXPECT_EQ(store_->Get("experiments.kubeflow.org", "team-b", "same").status().message(),
            "experiments.kubeflow.org \"same\" not found");

  ListOptions in_a;
  in_a.ns = "team-a";
  std::vector<Json> listed = ListAll(kConfigMaps, in_a);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(Key(listed[0]), "team-a/same");
  EXPECT_EQ(ListAll(kConfigMaps, {}).size(), 2u);

  ASSERT_TRUE(store_->Delete(kConfigMaps, "team-a", "same").ok());
  EXPECT_TRUE(store_->Get(kConfigMaps, "team-b", "same").ok());
  EXPECT_TRUE(store_->Get("experiments.kubeflow.org", "team-a", "same").ok());
}

TEST_P(ResourceStoreTest, ReplaceKeepsStatusAndIdentity) {
  Json created = MustCreate(ConfigMap("settings"));
  Json with_status = created;
  with_status["status"] = {{"phase", "Ready"}};
  Result<Json> status_set = store_->ReplaceStatus(kConfigMaps, with_status);
  ASSERT_TRUE(status_set.ok()) << status_set.status().ToString();
  EXPECT_EQ(Rv(*status_set), "2");
  EXPECT_EQ((*status_set)["status"]["phase"], "Ready");

  env_.AdvanceMicros(60'000'000);
  Json update = ConfigMap("settings");  // no resourceVersion: unconditional
  update["data"] = {{"k", "v2"}};
  update["metadata"]["labels"] = {{"app", "web"}};
  update["metadata"]["creationTimestamp"] = "2030-01-01T00:00:00Z";
  update["status"] = {{"phase", "Forged"}};
  Result<Json> replaced = store_->Replace(kConfigMaps, update);
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_EQ(Rv(*replaced), "3");
  EXPECT_EQ((*replaced)["data"]["k"], "v2");
  EXPECT_EQ((*replaced)["metadata"]["labels"]["app"], "web");
  EXPECT_EQ((*replaced)["status"]["phase"], "Ready");
  EXPECT_EQ((*replaced)["metadata"]["uid"], created["metadata"]["uid"]);
  EXPECT_EQ((*replaced)["metadata"]["creationTimestamp"], created["metadata"]["creationTimestamp"]);
  EXPECT_EQ(*store_->Get(kConfigMaps, "default", "settings"), *replaced);

  // ReplaceStatus leaves everything but status alone.
  Json status_only = *replaced;
  status_only["data"] = {{"k", "ignored"}};
  status_only.erase("status");
  Result<Json> cleared = store_->ReplaceStatus(kConfigMaps, status_only);
  ASSERT_TRUE(cleared.ok());
  EXPECT_FALSE(cleared->contains("status"));
  EXPECT_EQ((*cleared)["data"]["k"], "v2");
}

TEST_P(ResourceStoreTest, StaleResourceVersionIsAConflict) {
  Json created = MustCreate(ConfigMap("settings"));
  Json first = created;
  first["data"]["k"] = "first";
  ASSERT_TRUE(store_->Replace(kConfigMaps, first).ok());

  Json stale = created;  // still carries resourceVersion 1
  stale["data"]["k"] = "second";
  const std::int64_t before = store_->CurrentRevision();
  for (const auto& result :
       {store_->Replace(kConfigMaps, stale), store_->ReplaceStatus(kConfigMaps, stale),
        store_->Patch(kConfigMaps, "default", "settings",
                      {{"metadata", {{"resourceVersion", "1"}}}, {"data", {{"k", "x"}}}})}) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kConflict);
    EXPECT_EQ(
        result.status().message(),
        "Operation cannot be fulfilled on configmaps \"settings\": the object has been modified; please "
        "apply your changes to the latest version and try again");
  }
  Result<Json> deleted = store_->Delete(kConfigMaps, "default", "settings", 1);
  EXPECT_EQ(deleted.status().code(), StatusCode::kConflict);
  EXPECT_EQ(store_->CurrentRevision(), before);
  EXPECT_EQ((*store_->Get(kConfigMaps, "default", "settings"))["data"]["k"], "first");

  Json wrong_uid = *store_->Get(kConfigMaps, "default", "settings");
  wrong_uid["metadata"]["uid"] = "00000000-0000-4000-8000-000000000000";
  EXPECT_EQ(store_->Replace(kConfigMaps, wrong_uid).status().code(), StatusCode::kConflict);

  Json bad_rv = created;
  bad_rv["metadata"]["resourceVersion"] = "abc";
  EXPECT_EQ(store_->Replace(kConfigMaps, bad_rv).status().field(), "metadata.resourceVersion");

  // With the current version the write goes through.
  Json current = *store_->Get(kConfigMaps, "default", "settings");
  current["data"]["k"] = "second";
  Result<Json> ok = store_->Replace(kConfigMaps, current);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(RvNumber(*ok), before + 1);
}

TEST_P(ResourceStoreTest, UpdatesOfMissingObjectsAreNotFound) {
  const std::string message = "configmaps \"ghost\" not found";
  EXPECT_EQ(store_->Replace(kConfigMaps, ConfigMap("ghost")).status().message(), message);
  EXPECT_EQ(store_->ReplaceStatus(kConfigMaps, ConfigMap("ghost")).status().message(), message);
  EXPECT_EQ(store_->Patch(kConfigMaps, "default", "ghost", Json::object()).status().message(), message);
  EXPECT_EQ(store_->PatchStatus(kConfigMaps, "default", "ghost", Json::object()).status().message(), message);
  EXPECT_EQ(store_->Delete(kConfigMaps, "default", "ghost").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->CurrentRevision(), 0);
}

TEST_P(ResourceStoreTest, UnchangedUpdatesKeepTheRevision) {
  Json created = MustCreate(ConfigMap("settings", "", {{"app", "web"}}));
  Recorder recorder;
  WatchOptions options;
  options.type_key = kConfigMaps;
  auto watch = store_->Watch(options, recorder.Sink());
  ASSERT_TRUE(watch.ok());

  Result<Json> same = store_->Replace(kConfigMaps, created);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, created);
  Result<Json> patched = store_->Patch(kConfigMaps, "default", "settings", {{"data", {{"k", "v"}}}});
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ(*patched, created);
  EXPECT_EQ(store_->CurrentRevision(), 1);
  EXPECT_TRUE(recorder.events().empty());
}

TEST_P(ResourceStoreTest, PatchIsAMergePatch) {
  Json object = ConfigMap("settings", "", {{"app", "web"}, {"tier", "front"}});
  object["data"] = {{"a", "1"}, {"b", "2"}};
  object["spec"] = {{"list", {1, 2, 3}}, {"nested", {{"x", 1}, {"y", 2}}}};
  Json created = MustCreate(object);
  Json status = created;
  status["status"] = {{"phase", "Ready"}};
  ASSERT_TRUE(store_->ReplaceStatus(kConfigMaps, status).ok());

  Json patch = {{"data", {{"a", nullptr}, {"c", "3"}}},
                {"spec", {{"list", {9}}, {"nested", {{"y", nullptr}, {"z", 3}}}}},
                {"metadata", {{"labels", {{"tier", nullptr}, {"new", "yes"}}}}},
                {"status", {{"phase", "Forged"}}}};
  Result<Json> patched = store_->Patch(kConfigMaps, "default", "settings", patch);
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ((*patched)["data"], Json({{"b", "2"}, {"c", "3"}}));
  EXPECT_EQ((*patched)["spec"], Json({{"list", {9}}, {"nested", {{"x", 1}, {"z", 3}}}}));
  EXPECT_EQ((*patched)["metadata"]["labels"], Json({{"app", "web"}, {"new", "yes"}}));
  EXPECT_EQ((*patched)["status"]["phase"], "Ready");  // status only through PatchStatus
  EXPECT_EQ((*patched)["metadata"]["uid"], created["metadata"]["uid"]);
  EXPECT_EQ(Rv(*patched), "3");
  EXPECT_EQ(*store_->Get(kConfigMaps, "default", "settings"), *patched);

  // A matching resourceVersion in the patch is a satisfied precondition.
  Result<Json> status_patched = store_->PatchStatus(
      kConfigMaps, "default", "settings",
      {{"metadata", {{"resourceVersion", "3"}}}, {"status", {{"message", "hi"}}}, {"data", nullptr}});
  ASSERT_TRUE(status_patched.ok()) << status_patched.status().ToString();
  EXPECT_EQ((*status_patched)["status"], Json({{"phase", "Ready"}, {"message", "hi"}}));
  EXPECT_EQ((*status_patched)["data"], Json({{"b", "2"}, {"c", "3"}}));

  // Removing the whole of metadata.labels, and a whole top-level field.
  Result<Json> removed = store_->Patch(kConfigMaps, "default", "settings",
                                       {{"metadata", {{"labels", nullptr}}}, {"spec", nullptr}});
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE((*removed)["metadata"].contains("labels"));
  EXPECT_FALSE(removed->contains("spec"));
}

TEST_P(ResourceStoreTest, PatchCannotChangeIdentity) {
  MustCreate(ConfigMap("settings"));
  const std::vector<std::pair<Json, std::string>> cases = {
      {{{"metadata", {{"name", "renamed"}}}}, "metadata.name"},
      {{{"metadata", {{"name", nullptr}}}}, "metadata.name"},
      {{{"metadata", {{"namespace", "elsewhere"}}}}, "metadata.namespace"},
      {{{"metadata", {{"uid", "00000000-0000-4000-8000-000000000000"}}}}, ""},
      {{{"metadata", nullptr}}, "metadata"},
      {{{"metadata", {{"resourceVersion", 7}}}}, "metadata.resourceVersion"},
  };
  for (const auto& [patch, field] : cases) {
    Result<Json> patched = store_->Patch(kConfigMaps, "default", "settings", patch);
    ASSERT_FALSE(patched.ok()) << patch.dump();
    if (field.empty()) {
      // A foreign uid is a failed precondition on the object's identity.
      EXPECT_EQ(patched.status().code(), StatusCode::kConflict) << patch.dump();
    } else {
      EXPECT_EQ(patched.status().code(), StatusCode::kInvalidArgument) << patch.dump();
      EXPECT_EQ(patched.status().field(), field) << patch.dump();
    }
  }
  for (const Json& not_object : {Json::array(), Json(nullptr), Json("x"), Json(1)}) {
    Result<Json> patched = store_->Patch(kConfigMaps, "default", "settings", not_object);
    EXPECT_EQ(patched.status().code(), StatusCode::kInvalidArgument) << not_object.dump();
    EXPECT_THAT(patched.status().message(), HasSubstr("merge patch must be a JSON object"));
  }
  EXPECT_EQ(store_->CurrentRevision(), 1);
}

TEST_P(ResourceStoreTest, UpdateCheckSeesBothVersionsAndCanRefuse) {
  ResourceTypes types;
  RegisterCoreTypes(types);
  const ResourceType& config_map = *types.Find("configmaps");
  auto admit = [&](const Json& old_object, const Json& new_object) -> Status {
    RETURN_IF_ERROR(types.ValidateObject(config_map, new_object, "default", "settings"));
    return types.ValidateUpdate(config_map, old_object, new_object);
  };

  Json immutable = ConfigMap("settings");
  immutable["immutable"] = true;
  MustCreate(immutable);
  Result<Json> changed = store_->Patch(kConfigMaps, "default", "settings", {{"data", {{"k", "v2"}}}}, admit);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().field(), "data");
  Result<Json> invalid = store_->Patch(kConfigMaps, "default", "settings", {{"data", {{"k", 1}}}}, admit);
  EXPECT_EQ(invalid.status().field(), "data.k");
  Result<Json> unknown = store_->Patch(kConfigMaps, "default", "settings", {{"spec", {{"x", 1}}}}, admit);
  EXPECT_EQ(unknown.status().field(), "spec");
  EXPECT_EQ(store_->CurrentRevision(), 1);

  Result<Json> relabelled =
      store_->Patch(kConfigMaps, "default", "settings", {{"metadata", {{"labels", {{"a", "b"}}}}}}, admit);
  ASSERT_TRUE(relabelled.ok()) << relabelled.status().ToString();
  Json replace = *relabelled;
  replace["immutable"] = false;
  EXPECT_EQ(store_->Replace(kConfigMaps, replace, admit).status().field(), "immutable");

  Json seen_old;
  Json seen_new;
  auto spy = [&](const Json& old_object, const Json& new_object) {
    seen_old = old_object;
    seen_new = new_object;
    return Status::OK();
  };
  Result<Json> patched = store_->Patch(kConfigMaps, "default", "settings", {{"spec", {{"x", 1}}}}, spy);
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ(seen_old, *relabelled);
  EXPECT_EQ(seen_new["spec"]["x"], 1);
  EXPECT_EQ(seen_new["metadata"]["uid"], relabelled->at("metadata")["uid"]);
}

TEST_P(ResourceStoreTest, DeleteReturnsTheObject) {
  Json created = MustCreate(ConfigMap("settings", "team-a"));
  Result<Json> deleted = store_->Delete(kConfigMaps, "team-a", "settings", RvNumber(created));
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, created);
  EXPECT_EQ(store_->Get(kConfigMaps, "team-a", "settings").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete(kConfigMaps, "team-a", "settings").status().message(),
            "configmaps \"settings\" not found");
  EXPECT_EQ(store_->CurrentRevision(), 2);
  // The name is free again, with a new uid.
  Json again = MustCreate(ConfigMap("settings", "team-a"));
  EXPECT_NE(again["metadata"]["uid"], created["metadata"]["uid"]);
}

TEST_P(ResourceStoreTest, ListPagesThroughEverythingInKeyOrder) {
  // "a-1" sorts before "a1" by bytes but not in most locales' collation.
  std::vector<std::pair<std::string, std::string>> keys;
  const std::vector<std::string> namespaces = {"ns-b", "ns-a", "ns-c"};
  for (int i = 0; i < 157; ++i) {
    const std::string ns = namespaces[i % 3];
    const std::string name = (i % 2 ? "a-" : "a") + std::to_string(i * 7919 % 1000);
    keys.emplace_back(ns, name);
  }
  std::shuffle(keys.begin(), keys.end(), std::mt19937(1));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    Json labels = {{"index", std::to_string(i)}};
    if (i % 4 == 0) labels["tier"] = "gold";
    MustCreate(ConfigMap(keys[i].second, keys[i].first, labels));
  }
  std::vector<std::string> want;
  for (const auto& [ns, name] : keys) want.push_back(ns + "/" + name);
  std::sort(want.begin(), want.end());

  // Small batches make the scan cross batch boundaries inside one page and
  // skip whole batches of non-matching rows.
  for (std::int64_t batch_rows : {500, 3}) {
    SCOPED_TRACE("batch_rows " + std::to_string(batch_rows));
    ResourceStoreOptions store_options;
    store_options.batch_rows = batch_rows;
    store_ = std::make_unique<ResourceStore>(&tdb_->db(), &env_, store_options);
    CheckPaging(keys, want);
  }
}

void ResourceStoreTest::CheckPaging(const std::vector<std::pair<std::string, std::string>>& keys,
                                    const std::vector<std::string>& want) {
  for (int limit : {0, 1, 7, 50, 156, 157, 158, 1000}) {
    ListOptions options;
    options.limit = limit;
    std::size_t pages = 0;
    std::vector<std::string> got;
    for (const auto& item : ListAll(kConfigMaps, options, &pages)) got.push_back(Key(item));
    EXPECT_EQ(got, want) << "limit " << limit;
    const std::size_t expected_pages = limit == 0 ? 1 : (want.size() + limit - 1) / limit;
    EXPECT_EQ(pages, expected_pages) << "limit " << limit;
  }

  // With a selector, the limit counts matches: 40 matches in pages of 10 are
  // exactly 4 pages, the last without a token.
  ListOptions gold;
  gold.selector = *LabelSelector::Parse("tier=gold");
  gold.limit = 10;
  std::size_t pages = 0;
  std::vector<Json> matched = ListAll(kConfigMaps, gold, &pages);
  ASSERT_EQ(matched.size(), 40u);
  EXPECT_EQ(pages, 4u);
  std::set<std::string> unique;
  for (const auto& item : matched) {
    EXPECT_EQ(item["metadata"]["labels"]["tier"], "gold");
    unique.insert(Key(item));
  }
  EXPECT_EQ(unique.size(), 40u);
  EXPECT_TRUE(std::is_sorted(matched.begin(), matched.end(),
                             [](const Json& a, const Json& b) { return Key(a) < Key(b); }));

  // Namespace and selector together, tiny pages.
  ListOptions ns_gold = gold;
  ns_gold.ns = "ns-a";
  ns_gold.limit = 3;
  std::vector<std::string> in_ns;
  for (const auto& item : ListAll(kConfigMaps, ns_gold)) in_ns.push_back(Key(item));
  std::vector<std::string> want_in_ns;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i % 4 == 0 && keys[i].first == "ns-a") want_in_ns.push_back("ns-a/" + keys[i].second);
  }
  std::sort(want_in_ns.begin(), want_in_ns.end());
  EXPECT_EQ(in_ns, want_in_ns);
  ASSERT_FALSE(want_in_ns.empty());

  // No limit: every match in one page, however many batches that takes.
  gold.limit = 0;
  EXPECT_EQ(ListAll(kConfigMaps, gold, &pages).size(), 40u);
  EXPECT_EQ(pages, 1u);

  ListOptions none;
  none.selector = *LabelSelector::Parse("tier=platinum");
  none.limit = 5;
  Result<ListResult> empty = store_->List(kConfigMaps, none);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->items.empty());
  EXPECT_TRUE(empty->continue_token.empty());
}

TEST_P(ResourceStoreTest, ListSeesWritesBehindAndAheadOfTheCursor) {
  for (const char* name : {"b", "d", "f", "h"}) MustCreate(ConfigMap(name));
  ListOptions options;
  options.limit = 2;
  Result<ListResult> first = store_->List(kConfigMaps, options);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_EQ(first->resource_version, 4);
  MustCreate(ConfigMap("a"));  // behind the cursor: not on later pages
  MustCreate(ConfigMap("e"));  // ahead of it: on later pages
  ASSERT_TRUE(store_->Delete(kConfigMaps, "default", "f").ok());

  options.continue_token = first->continue_token;
  std::vector<std::string> rest;
  for (const auto& item : ListAll(kConfigMaps, options)) rest.push_back(Name(item));
  EXPECT_EQ(rest, (std::vector<std::string>{"e", "h"}));
  Result<ListResult> second = store_->List(kConfigMaps, options);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->resource_version, 4);  // the first page's revision
}

TEST_P(ResourceStoreTest, BadContinueTokensAreRejected) {
  for (int i = 0; i < 3; ++i) MustCreate(ConfigMap("cm-" + std::to_string(i), "team-a"));
  ListOptions options;
  options.limit = 1;
  Result<ListResult> page = store_->List(kConfigMaps, options);
  ASSERT_TRUE(page.ok());
  ASSERT_FALSE(page->continue_token.empty());

  std::vector<std::string> tokens = {"!",
                                     "a",
                                     "abc=",
                                     "////",
                                     "eyJ0IjoxfQ",
                                     "bnVsbA",
                                     std::string(5000, 'A'),
                                     std::string("ab\0cd", 5),
                                     page->continue_token + "x",
                                     page->continue_token.substr(0, page->continue_token.size() - 3)};
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    std::string token = page->continue_token;
    token[rng() % token.size()] = static_cast<char>(rng());
    tokens.push_back(token);
  }
  for (const auto& token : tokens) {
    options.continue_token = token;
    Result<ListResult> listed = store_->List(kConfigMaps, options);
    if (listed.ok()) continue;  // a flipped byte may still decode to a valid position
    EXPECT_EQ(listed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(listed.status().message(), "invalid continue token");
    EXPECT_EQ(listed.status().field(), "continue");
  }
  for (const auto& token : std::vector<std::string>(tokens.begin(), tokens.begin() + 10)) {
    options.continue_token = token;
    EXPECT_FALSE(store_->List(kConfigMaps, options).ok()) << token;
  }

  // A token belongs to the list it came from.
  options.continue_token = page->continue_token;
  EXPECT_EQ(store_->List("experiments.kubeflow.org", options).status().message(), "invalid continue token");
  options.ns = "team-b";
  EXPECT_EQ(store_->List(kConfigMaps, options).status().message(), "invalid continue token");
  options.ns = "team-a";
  EXPECT_TRUE(store_->List(kConfigMaps, options).ok());

  options.limit = -1;
  EXPECT_EQ(store_->List(kConfigMaps, options).status().field(), "limit");
}

TEST_P(ResourceStoreTest, WatchReplaysThenDeliversLive) {
  MustCreate(ConfigMap("a"));                                                       // 1
  MustCreate(ConfigMap("b", "team-x"));                                             // 2
  ASSERT_TRUE(store_->Patch(kConfigMaps, "", "a", {{"data", {{"k", "2"}}}}).ok());  // 3
  ASSERT_TRUE(store_->Delete(kConfigMaps, "team-x", "b").ok());                     // 4
  MustCreate(ConfigMap("other"), "experiments.kubeflow.org");                       // 5

  Recorder all;
  Recorder from_one;
  Recorder in_default;
  WatchOptions options;
  options.type_key = kConfigMaps;
  auto live_only = store_->Watch(options, all.Sink());
  options.from_revision = 1;
  auto replaying = store_->Watch(options, from_one.Sink());
  // Replaying in batches of one row gives the same events.
  ResourceStoreOptions one_row;
  one_row.batch_rows = 1;
  ResourceStore one_row_store(&tdb_->db(), &env_, one_row);
  Recorder one_row_replay;
  ASSERT_TRUE(one_row_store.Watch(options, one_row_replay.Sink()).ok());
  EXPECT_EQ(one_row_replay.Summary(), (std::vector<std::string>{"ADDED b@2", "MODIFIED a@3", "DELETED b@4"}));

  options.ns = "default";
  options.from_revision = 2;
  auto namespaced = store_->Watch(options, in_default.Sink());
  ASSERT_TRUE(live_only.ok() && replaying.ok() && namespaced.ok());

  EXPECT_TRUE(all.events().empty());
  EXPECT_EQ(from_one.Summary(), (std::vector<std::string>{"ADDED b@2", "MODIFIED a@3", "DELETED b@4"}));
  EXPECT_EQ(in_default.Summary(), (std::vector<std::string>{"MODIFIED a@3"}));
  std::vector<WatchEvent> replayed = from_one.events();
  EXPECT_EQ(replayed[1].object["data"]["k"], "2");
  EXPECT_EQ(Rv(replayed[1].object), "3");
  EXPECT_EQ(Rv(replayed[2].object), "4");  // a deletion carries its own revision

  MustCreate(ConfigMap("c", "team-x"));                           // 6
  ASSERT_TRUE(store_->Delete(kConfigMaps, "default", "a").ok());  // 7
  EXPECT_EQ(all.Summary(), (std::vector<std::string>{"ADDED c@6", "DELETED a@7"}));
  EXPECT_EQ(from_one.Summary(), (std::vector<std::string>{"ADDED b@2", "MODIFIED a@3", "DELETED b@4",
                                                          "ADDED c@6", "DELETED a@7"}));
  EXPECT_EQ(in_default.Summary(), (std::vector<std::string>{"MODIFIED a@3", "DELETED a@7"}));
  EXPECT_EQ(Rv(all.events()[1].object), "7");

  // Dropping a subscription stops its events at once.
  live_only->reset();
  MustCreate(ConfigMap("d"));
  EXPECT_EQ(all.events().size(), 2u);
  EXPECT_EQ(from_one.events().size(), 6u);
}

TEST_P(ResourceStoreTest, WatchWithInitialStateStartsWithCurrentObjects) {
  MustCreate(ConfigMap("a", "", {{"tier", "gold"}}));  // 1
  MustCreate(ConfigMap("b"));                          // 2
  MustCreate(ConfigMap("c", "", {{"tier", "gold"}}));  // 3
  ASSERT_TRUE(store_->Delete(kConfigMaps, "", "c").ok());  // 4

  Recorder all;
  Recorder gold;
  WatchOptions options;
  options.type_key = kConfigMaps;
  options.initial_state = true;
  auto all_watch = store_->Watch(options, all.Sink());
  options.selector = *LabelSelector::Parse("tier=gold");
  auto gold_watch = store_->Watch(options, gold.Sink());
  ASSERT_TRUE(all_watch.ok() && gold_watch.ok());
  EXPECT_EQ(all.Summary(), (std::vector<std::string>{"ADDED a@1", "ADDED b@2"}));
  EXPECT_EQ(gold.Summary(), (std::vector<std::string>{"ADDED a@1"}));

  MustCreate(ConfigMap("d", "", {{"tier", "gold"}}));  // 5
  EXPECT_EQ(all.Summary(), (std::vector<std::string>{"ADDED a@1", "ADDED b@2", "ADDED d@5"}));
  EXPECT_EQ(gold.Summary(), (std::vector<std::string>{"ADDED a@1", "ADDED d@5"}));

  // With a revision, replay takes the place of the initial state.
  Recorder replay;
  options.selector = {};
  options.from_revision = 3;
  auto replay_watch = store_->Watch(options, replay.Sink());
  ASSERT_TRUE(replay_watch.ok());
  EXPECT_EQ(replay.Summary(), (std::vector<std::string>{"DELETED c@4", "ADDED d@5"}));
}

TEST_P(ResourceStoreTest, WatchWithSelectorReportsEnteringAndLeaving) {
  MustCreate(ConfigMap("a", "", {{"tier", "gold"}}));  // 1
  MustCreate(ConfigMap("b"));                          // 2
  ASSERT_TRUE(
      store_->Patch(kConfigMaps, "", "b", {{"metadata", {{"labels", {{"tier", "gold"}}}}}}).ok());  // 3
  ASSERT_TRUE(store_->Patch(kConfigMaps, "", "a", {{"metadata", {{"labels", nullptr}}}}).ok());     // 4
  ASSERT_TRUE(store_->Patch(kConfigMaps, "", "b", {{"data", {{"k", "2"}}}}).ok());                  // 5
  ASSERT_TRUE(store_->Patch(kConfigMaps, "", "a", {{"data", {{"k", "2"}}}}).ok());                  // 6
  ASSERT_TRUE(store_->Delete(kConfigMaps, "", "a").ok());                                           // 7

  Recorder replayed;
  WatchOptions options;
  options.type_key = kConfigMaps;
  options.selector = *LabelSelector::Parse("tier=gold");
  options.from_revision = 0;
  Recorder live;
  auto live_watch = store_->Watch(options, live.Sink());
  options.from_revision = 1;  // replay 2..7 from the event log
  auto replay_watch = store_->Watch(options, replayed.Sink());
  ASSERT_TRUE(live_watch.ok() && replay_watch.ok());
  const std::vector<std::string> want = {"ADDED b@3", "DELETED a@4", "MODIFIED b@5"};
  EXPECT_EQ(replayed.Summary(), want);
  EXPECT_FALSE(replayed.events()[1].object["metadata"].contains("labels"));

  // The same transitions, delivered live.
  ASSERT_TRUE(
      store_->Patch(kConfigMaps, "", "b", {{"metadata", {{"labels", {{"tier", "silver"}}}}}}).ok());  // 8
  ASSERT_TRUE(
      store_->Patch(kConfigMaps, "", "b", {{"metadata", {{"labels", {{"tier", "gold"}}}}}}).ok());  // 9
  ASSERT_TRUE(store_->Patch(kConfigMaps, "", "b", {{"data", {{"k", "3"}}}}).ok());                  // 10
  MustCreate(ConfigMap("c", "", {{"tier", "silver"}}));                                             // 11
  ASSERT_TRUE(store_->Delete(kConfigMaps, "", "b").ok());                                           // 12
  EXPECT_EQ(live.Summary(),
            (std::vector<std::string>{"DELETED b@8", "ADDED b@9", "MODIFIED b@10", "DELETED b@12"}));
}

// Writers race each other while a watcher joins mid-stream: it must see every
// revision after its start exactly once, in order, each with the object as
// that revision left it, whether replayed or delivered live.
TEST_P(ResourceStoreTest, WatchUnderConcurrentWritersHasNoGapsNorDuplicates) {
  constexpr int kWriters = 4;
  constexpr int kWritesPerWriter = 50;
  Recorder early;
  WatchOptions options;
  options.type_key = kConfigMaps;
  auto early_watch = store_->Watch(options, early.Sink());
  ASSERT_TRUE(early_watch.ok());

  std::atomic<int> writes{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const std::string name = "w" + std::to_string(w);
      for (int i = 0; i < kWritesPerWriter; ++i) {
        Status st =
            i == 0 ? store_->Create(kConfigMaps, ConfigMap(name)).status()
                   : store_->Patch(kConfigMaps, "", name, {{"data", {{"i", std::to_string(i)}}}}).status();
        if (!st.ok()) ++failures;
        ++writes;
      }
    });
  }
  // Join once the writers are under way; more commit between reading the
  // revision and registering, and the replay must cover exactly those.
  while (writes.load() < kWriters * kWritesPerWriter / 10) std::this_thread::yield();
  const std::int64_t from = store_->CurrentRevision();
  Recorder late;
  options.from_revision = from;
  auto late_watch = store_->Watch(options, late.Sink());
  for (auto& t : writers) t.join();
  ASSERT_TRUE(late_watch.ok()) << late_watch.status().ToString();
  EXPECT_EQ(failures.load(), 0);

  const std::int64_t last = store_->CurrentRevision();
  EXPECT_EQ(last, kWriters * kWritesPerWriter);
  auto check = [&](const std::vector<WatchEvent>& events, std::int64_t after) {
    ASSERT_EQ(static_cast<std::int64_t>(events.size()), last - after);
    for (std::size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].revision, after + 1 + static_cast<std::int64_t>(i));
      EXPECT_EQ(RvNumber(events[i].object), events[i].revision);
    }
  };
  check(early.events(), 0);
  check(late.events(), from);
  // The last event per object is its final state.
  std::map<std::string, Json> last_seen;
  for (const auto& e : late.events()) last_seen[Name(e.object)] = e.object;
  for (int w = 0; w < kWriters; ++w) {
    const std::string name = "w" + std::to_string(w);
    Result<Json> got = store_->Get(kConfigMaps, "default", name);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ((*got)["data"]["i"], std::to_string(kWritesPerWriter - 1));
    if (last_seen.count(name)) {  // unless that writer finished before the watch began
      EXPECT_EQ(last_seen[name], *got);
    }
  }
}

TEST_P(ResourceStoreTest, WatchFromAPrunedRevisionIsTooOld) {
  ResourceStoreOptions small;
  small.event_retention = 5;
  small.prune_interval = 1;
  store_ = std::make_unique<ResourceStore>(&tdb_->db(), &env_, small);
  MustCreate(ConfigMap("a"));
  for (int i = 2; i <= 20; ++i)
    ASSERT_TRUE(store_->Patch(kConfigMaps, "", "a", {{"data", {{"i", std::to_string(i)}}}}).ok());

  WatchOptions options;
  options.type_key = kConfigMaps;
  Recorder recorder;
  for (std::int64_t too_old : {1, 3, 14}) {
    options.from_revision = too_old;
    auto watch = store_->Watch(options, recorder.Sink());
    ASSERT_FALSE(watch.ok()) << too_old;
    EXPECT_EQ(watch.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_THAT(watch.status().message(), StartsWith("too old resource version: " + std::to_string(too_old)));
  }
  EXPECT_TRUE(recorder.events().empty());
  options.from_revision = 15;
  auto watch = store_->Watch(options, recorder.Sink());
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  std::vector<std::int64_t> revisions;
  for (const auto& e : recorder.events()) revisions.push_back(e.revision);
  EXPECT_EQ(revisions, (std::vector<std::int64_t>{16, 17, 18, 19, 20}));

  options.from_revision = -1;
  EXPECT_EQ(store_->Watch(options, recorder.Sink()).status().code(), StatusCode::kInvalidArgument);
  options.from_revision = 0;
  options.type_key = "";
  EXPECT_EQ(store_->Watch(options, recorder.Sink()).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ResourceStoreTest, SubscriptionsMayEndInsideTheSinkAndOutliveTheStore) {
  WatchOptions options;
  options.type_key = kConfigMaps;
  std::unique_ptr<WatchSubscription> self_ending;
  int calls = 0;
  auto watch = store_->Watch(options, [&](const WatchEvent&) {
    ++calls;
    self_ending.reset();
  });
  ASSERT_TRUE(watch.ok());
  self_ending = std::move(*watch);
  MustCreate(ConfigMap("a"));
  MustCreate(ConfigMap("b"));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(self_ending, nullptr);

  Recorder recorder;
  auto survivor = store_->Watch(options, recorder.Sink());
  ASSERT_TRUE(survivor.ok());
  store_.reset();
  survivor->reset();  // after the store: must not touch it
}

TEST_P(ResourceStoreTest, StateSurvivesARestart) {
  MustCreate(ConfigMap("a"));
  MustCreate(ConfigMap("b"));
  store_.reset();
  ASSERT_TRUE(tdb_->Reopen().ok());
  store_ = std::make_unique<ResourceStore>(&tdb_->db(), &env_);
  EXPECT_EQ(store_->CurrentRevision(), 2);
  Json c = MustCreate(ConfigMap("c"));
  EXPECT_EQ(Rv(c), "3");
  Recorder recorder;
  WatchOptions options;
  options.type_key = kConfigMaps;
  options.from_revision = 1;
  auto watch = store_->Watch(options, recorder.Sink());
  ASSERT_TRUE(watch.ok());
  EXPECT_EQ(recorder.Summary(), (std::vector<std::string>{"ADDED b@2", "ADDED c@3"}));
}

TEST_P(ResourceStoreTest, HostileNamesAreQuotedNotTrusted) {
  for (const std::string name : {"x\"; DROP TABLE resources; --", "a'b", "%", "_"}) {
    Result<Json> got = store_->Get(kConfigMaps, "default", name);
    EXPECT_EQ(got.status().code(), StatusCode::kNotFound) << name;
    EXPECT_THAT(got.status().message(), HasSubstr(Json(name).dump())) << name;
  }
  MustCreate(ConfigMap("survivor"));
  EXPECT_TRUE(store_->Get(kConfigMaps, "default", "survivor").ok());
  // Bytes no database can bind are refused, never truncated into another name.
  for (const std::string& name : {std::string("survivor\0x", 10), std::string("surv\xffivor")}) {
    Result<Json> got = store_->Get(kConfigMaps, "default", name);
    EXPECT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << got.status().ToString();
    EXPECT_FALSE(store_->Delete(kConfigMaps, "default", name).ok());
  }
  EXPECT_TRUE(store_->Get(kConfigMaps, "default", "survivor").ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, ResourceStoreTest, AllBackends(), BackendName);

}  // namespace
}  // namespace ferry::store
