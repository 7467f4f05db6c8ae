#include "ferry/api/api_server.h"

#include <gtest/gtest.h>

#include "ferry/api/testing/test_client.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::api {
namespace {

using store::testing::Backend;
using store::testing::TestDatabase;
using testing::BodyOf;
using testing::Response;
using testing::TestConnection;

constexpr char kConfigMaps[] = "/api/v1/namespaces/default/configmaps";
constexpr char kWidgets[] = "/api/v1/namespaces/default/widgets";

// The native API end to end: ApiServer over a real SQLite store, driven
// over TCP.
class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(Backend::kSqlite);
    ASSERT_TRUE(tdb_);
    resources_ = std::make_unique<store::ResourceStore>(&tdb_->db(), Env::Default());
    store::RegisterCoreTypes(types_);
    // A kind with spec and status, for the status subresource.
    store::ResourceType widget;
    widget.group = "example.com";
    widget.versions = {"v1"};
    widget.kind = "Widget";
    widget.plural = "widgets";
    widget.singular = "widget";
    widget.validate = [](const Json& object) -> Status {
      if (object.contains("spec") && !object["spec"].is_object())
        return InvalidArgument("spec must be an object", "spec");
      return Status::OK();
    };
    ASSERT_TRUE(types_.Register(std::move(widget)).ok());
    options_.listen = "127.0.0.1:0";
    options_.threads = 2;
    options_.handler_threads = 2;
    options_.version = "9.9.9";
  }

  void StartServer() {
    auto server =
        ApiServer::Start(options_, {&tdb_->db(), resources_.get(), &types_, &metrics_, Env::Default()});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    conn_ = std::make_unique<TestConnection>(server_->url());
  }

  Response Call(std::string_view method, std::string_view target, std::string_view body = {},
                std::map<std::string, std::string> headers = {}) {
    if (!body.empty() && !headers.count("Content-Type")) headers["Content-Type"] = "application/json";
    auto response = conn_->Request(method, target, body, headers);
    EXPECT_TRUE(response) << method << " " << target;
    return response ? *response : Response();
  }

  Json CreateConfigMap(const std::string& name, const Json& labels = Json::object()) {
    Json object = {{"apiVersion", "v1"},
                   {"kind", "ConfigMap"},
                   {"metadata", {{"name", name}, {"labels", labels}}},
                   {"data", {{"k", "v"}}}};
    Response response = Call("POST", kConfigMaps, object.dump());
    EXPECT_EQ(response.result_int(), 201) << response.body();
    return BodyOf(response);
  }

  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<store::ResourceStore> resources_;
  store::ResourceTypes types_;
  MetricsRegistry metrics_;
  ApiOptions options_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<TestConnection> conn_;
};

TEST_F(ApiServerTest, DiscoveryListsTheKinds) {
  StartServer();
  Response response = Call("GET", "/api/v1");
  ASSERT_EQ(response.result_int(), 200);
  Json body = BodyOf(response);
  EXPECT_EQ(body["kind"], "APIResourceList");
  EXPECT_EQ(body["groupVersion"], "v1");
  Json want = Json::parse(R"({"name":"configmaps","singularName":"configmap","kind":"ConfigMap","group":"",
      "version":"v1","apiVersion":"v1","namespaced":true,"shortNames":["cm"],
      "verbs":["create","delete","get","list","patch","update","watch"]})");
  EXPECT_EQ(body["resources"][0], want);
  EXPECT_EQ(body["resources"][1]["apiVersion"], "example.com/v1");
}

TEST_F(ApiServerTest, CreateGetReplacePatchDelete) {
  StartServer();
  Json created = CreateConfigMap("settings");
  EXPECT_EQ(created["metadata"]["namespace"], "default");
  EXPECT_FALSE(created["metadata"]["uid"].get<std::string>().empty());
  std::string rv = created["metadata"]["resourceVersion"];

  Response got = Call("GET", std::string(kConfigMaps) + "/settings");
  ASSERT_EQ(got.result_int(), 200);
  EXPECT_EQ(BodyOf(got), created);

  Response yaml = Call("GET", std::string(kConfigMaps) + "/settings", "", {{"Accept", "application/yaml"}});
  ASSERT_EQ(yaml.result_int(), 200);
  EXPECT_EQ(yaml[boost::beast::http::field::content_type], "application/yaml");
  EXPECT_EQ(*ParseYaml(yaml.body()), created);

  Json replacement = created;
  replacement["data"] = {{"k", "v2"}};
  Response replaced = Call("PUT", std::string(kConfigMaps) + "/settings", replacement.dump());
  ASSERT_EQ(replaced.result_int(), 200) << replaced.body();
  EXPECT_EQ(BodyOf(replaced)["data"]["k"], "v2");
  EXPECT_NE(BodyOf(replaced)["metadata"]["resourceVersion"], rv);

  // The stale version of the first PUT now conflicts.
  Response stale = Call("PUT", std::string(kConfigMaps) + "/settings", replacement.dump());
  EXPECT_EQ(stale.result_int(), 409);
  EXPECT_EQ(BodyOf(stale)["error"]["code"], "Conflict");

  Response patched = Call("PATCH", std::string(kConfigMaps) + "/settings",
                          R"({"data": {"k": null, "n": "1"}, "metadata": {"labels": {"app": "x"}}})",
                          {{"Content-Type", "application/merge-patch+json"}});
  ASSERT_EQ(patched.result_int(), 200) << patched.body();
  EXPECT_EQ(BodyOf(patched)["data"], Json({{"n", "1"}}));
  EXPECT_EQ(BodyOf(patched)["metadata"]["labels"]["app"], "x");

  Response rename =
      Call("PATCH", std::string(kConfigMaps) + "/settings", R"({"metadata": {"name": "other"}})",
           {{"Content-Type", "application/merge-patch+json"}});
  EXPECT_EQ(rename.result_int(), 400);
  EXPECT_EQ(BodyOf(rename)["error"]["field"], "metadata.name");

  Response invalid = Call("PATCH", std::string(kConfigMaps) + "/settings", R"({"data": {"k": 5}})",
                          {{"Content-Type", "application/merge-patch+json"}});
  EXPECT_EQ(invalid.result_int(), 400);
  EXPECT_EQ(BodyOf(invalid)["error"]["field"], "data.k");

  std::string current = BodyOf(patched)["metadata"]["resourceVersion"];
  Response wrong_version = Call("DELETE", std::string(kConfigMaps) + "/settings?resourceVersion=" + rv);
  EXPECT_EQ(wrong_version.result_int(), 409);
  Response deleted = Call("DELETE", std::string(kConfigMaps) + "/settings?resourceVersion=" + current);
  ASSERT_EQ(deleted.result_int(), 200) << deleted.body();
  EXPECT_EQ(BodyOf(deleted)["metadata"]["name"], "settings");
  EXPECT_EQ(Call("GET", std::string(kConfigMaps) + "/settings").result_int(), 404);
}

TEST_F(ApiServerTest, CreateFromYamlAndRejectsBadInput) {
  StartServer();
  Response created =
      Call("POST", kConfigMaps, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y1\ndata:\n  a: b\n",
           {{"Content-Type", "application/yaml"}});
  ASSERT_EQ(created.result_int(), 201) << created.body();

  struct Case {
    std::string body;
    std::string content_type;
    int status;
    std::string code;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{
           {"{", "application/json", 400, "InvalidArgument", ""},
           {"a: [", "application/yaml", 400, "InvalidArgument", ""},
           {R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad"}})", "application/json", 400,
            "InvalidArgument", "metadata.name"},
           {R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"other"}})",
            "application/json", 400, "InvalidArgument", "metadata.namespace"},
           {R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"spec":{}})", "application/json",
            400, "InvalidArgument", "spec"},
           {R"({"kind":"ConfigMap","metadata":{"name":"x"}})", "application/json", 400, "InvalidArgument",
            "apiVersion"},
           {R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"y1"}})", "application/json", 409,
            "AlreadyExists", ""},
           {"{}", "text/plain", 415, "UnsupportedMediaType", "Content-Type"},
       }) {
    Response response = Call("POST", kConfigMaps, c.body, {{"Content-Type", c.content_type}});
    EXPECT_EQ(response.result_int(), c.status) << c.body << " -> " << response.body();
    Json error = BodyOf(response)["error"];
    EXPECT_EQ(error["code"], c.code) << c.body;
    if (!c.field.empty()) {
      EXPECT_EQ(error["field"], c.field) << c.body;
    }
  }
}

TEST_F(ApiServerTest, OversizeBodyIs413) {
  options_.max_body_bytes = 4096;
  StartServer();
  Response response = Call("POST", kConfigMaps, std::string(5000, ' '));
  EXPECT_EQ(response.result_int(), 413);
  EXPECT_EQ(BodyOf(response)["error"]["code"], "PayloadTooLarge");
}

TEST_F(ApiServerTest, ListPagesWithSelectorsAcrossNamespaces) {
  StartServer();
  for (int i = 0; i < 5; ++i) CreateConfigMap("cm" + std::to_string(i), {{"tier", i % 2 ? "odd" : "even"}});
  Response other = Call("POST", "/api/v1/namespaces/other/configmaps",
                        R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm9"}})");
  ASSERT_EQ(other.result_int(), 201);

  std::vector<std::string> names;
  std::string next = std::string(kConfigMaps) + "?limit=2";
  for (int page = 0; page < 10 && !next.empty(); ++page) {
    Response response = Call("GET", next);
    ASSERT_EQ(response.result_int(), 200) << response.body();
    Json body = BodyOf(response);
    EXPECT_EQ(body["kind"], "ConfigMapList");
    EXPECT_EQ(body["apiVersion"], "v1");
    for (const auto& item : body["items"]) names.push_back(item["metadata"]["name"]);
    next = body["metadata"].contains("continue")
               ? std::string(kConfigMaps) +
                     "?limit=2&continue=" + body["metadata"]["continue"].get<std::string>()
               : "";
  }
  EXPECT_EQ(names, (std::vector<std::string>{"cm0", "cm1", "cm2", "cm3", "cm4"}));

  Json odd = BodyOf(Call("GET", std::string(kConfigMaps) + "?labelSelector=tier%3Dodd"));
  ASSERT_EQ(odd["items"].size(), 2u);
  EXPECT_EQ(odd["items"][0]["metadata"]["name"], "cm1");

  Json all = BodyOf(Call("GET", "/api/v1/configmaps"));
  EXPECT_EQ(all["items"].size(), 6u);

  for (const char* bad :
       {"?limit=abc", "?limit=0", "?limit=-1", "?limit=1001", "?limit=99999999999999999999", "?limit="}) {
    Response response = Call("GET", std::string(kConfigMaps) + bad);
    EXPECT_EQ(response.result_int(), 400) << bad;
    EXPECT_EQ(BodyOf(response)["error"]["field"], "limit") << bad;
  }
  Response bad_continue = Call("GET", std::string(kConfigMaps) + "?continue=garbage");
  EXPECT_EQ(bad_continue.result_int(), 400);
  EXPECT_EQ(BodyOf(bad_continue)["error"]["field"], "continue");
  Response bad_selector = Call("GET", std::string(kConfigMaps) + "?labelSelector=a%20in%20(");
  EXPECT_EQ(bad_selector.result_int(), 400);
  EXPECT_EQ(BodyOf(bad_selector)["error"]["field"], "labelSelector");
  Response unknown = Call("GET", std::string(kConfigMaps) + "?pretty=true");
  EXPECT_EQ(unknown.result_int(), 400);
  EXPECT_EQ(BodyOf(unknown)["error"]["field"], "pretty");
}

TEST_F(ApiServerTest, StatusSubresource) {
  StartServer();
  Json widget = {{"apiVersion", "example.com/v1"},
                 {"kind", "Widget"},
                 {"metadata", {{"name", "w1"}}},
                 {"spec", {{"size", 1}}},
                 {"status", {{"phase", "Ignored"}}}};
  Response created = Call("POST", kWidgets, widget.dump());
  ASSERT_EQ(created.result_int(), 201) << created.body();
  EXPECT_FALSE(BodyOf(created).contains("status")) << "create must not write status";

  Json with_status = BodyOf(created);
  with_status["status"] = {{"phase", "Ready"}};
  Response set = Call("PUT", std::string(kWidgets) + "/w1/status", with_status.dump());
  ASSERT_EQ(set.result_int(), 200) << set.body();
  EXPECT_EQ(BodyOf(set)["status"]["phase"], "Ready");

  Json spec_change = BodyOf(set);
  spec_change["spec"]["size"] = 2;
  spec_change["status"] = {{"phase", "Overwritten?"}};
  Response replaced = Call("PUT", std::string(kWidgets) + "/w1", spec_change.dump());
  ASSERT_EQ(replaced.result_int(), 200) << replaced.body();
  EXPECT_EQ(BodyOf(replaced)["spec"]["size"], 2);
  EXPECT_EQ(BodyOf(replaced)["status"]["phase"], "Ready") << "PUT keeps status";

  Response got = Call("GET", std::string(kWidgets) + "/w1/status");
  ASSERT_EQ(got.result_int(), 200);
  EXPECT_EQ(BodyOf(got)["status"]["phase"], "Ready");

  Response no_status = Call("GET", std::string(kConfigMaps) + "/whatever/status");
  EXPECT_EQ(no_status.result_int(), 404);
}

TEST_F(ApiServerTest, ImmutableConfigMapCannotChange) {
  StartServer();
  Json object = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", "frozen"}}},
                 {"data", {{"k", "v"}}},
                 {"immutable", true}};
  ASSERT_EQ(Call("POST", kConfigMaps, object.dump()).result_int(), 201);
  object["data"]["k"] = "changed";
  Response put = Call("PUT", std::string(kConfigMaps) + "/frozen", object.dump());
  EXPECT_EQ(put.result_int(), 400) << put.body();
  EXPECT_EQ(BodyOf(put)["error"]["field"], "data");
  Response patch = Call("PATCH", std::string(kConfigMaps) + "/frozen", R"({"data":{"k":"changed"}})",
                        {{"Content-Type", "application/merge-patch+json"}});
  EXPECT_EQ(patch.result_int(), 400) << patch.body();
}

TEST_F(ApiServerTest, WatchStreamsEventsInOrderAndReplays) {
  StartServer();
  // Revision 0 means "new events only" to the store, so the list must not be
  // empty for its version to be a replay point.
  CreateConfigMap("seed");
  Json before = BodyOf(Call("GET", kConfigMaps));
  std::string list_version = before["metadata"]["resourceVersion"];

  TestConnection watcher(server_->url());
  watcher.Send("GET", std::string(kConfigMaps) + "?watch=true&resourceVersion=" + list_version);
  ASSERT_TRUE(watcher.ReadHeader());
  ASSERT_EQ(watcher.StreamHeader().result_int(), 200);
  EXPECT_EQ(watcher.StreamHeader()[boost::beast::http::field::content_type], "text/event-stream");

  CreateConfigMap("a");
  CreateConfigMap("b");
  ASSERT_EQ(Call("PATCH", std::string(kConfigMaps) + "/a", R"({"data":{"k":"2"}})").result_int(), 200);
  ASSERT_EQ(Call("DELETE", std::string(kConfigMaps) + "/b").result_int(), 200);

  ASSERT_TRUE(
      watcher.ReadBodyUntil([](const std::string& body) { return testing::ParseSse(body).size() >= 4; }));
  auto events = testing::ParseSse(watcher.StreamBody());
  std::vector<std::pair<std::string, std::string>> seen;
  long previous = 0;
  for (auto& event : events) {
    Json data = Json::parse(event["data"]);
    EXPECT_EQ(data["type"], event["event"]);
    seen.emplace_back(event["event"], data["object"]["metadata"]["name"]);
    long id = std::stol(event["id"]);
    EXPECT_GT(id, previous);
    previous = id;
  }
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{
                      {"ADDED", "a"}, {"ADDED", "b"}, {"MODIFIED", "a"}, {"DELETED", "b"}}));

  // A second watch from the list's version replays the same history.
  TestConnection replay(server_->url());
  replay.Send("GET", std::string(kConfigMaps) + "?watch=true&resourceVersion=" + list_version);
  ASSERT_TRUE(replay.ReadHeader());
  ASSERT_TRUE(
      replay.ReadBodyUntil([](const std::string& body) { return testing::ParseSse(body).size() >= 4; }));
  EXPECT_EQ(testing::ParseSse(replay.StreamBody()), events);

  server_->Shutdown(std::chrono::seconds(20));
  watcher.ReadBodyUntil([](const std::string&) { return false; });
  EXPECT_TRUE(watcher.StreamComplete());
}

TEST_F(ApiServerTest, WatchFiltersBySelectorAndRejectsBadParameters) {
  StartServer();
  TestConnection watcher(server_->url());
  watcher.Send("GET", std::string(kConfigMaps) + "?watch=1&labelSelector=team%3Dml");
  ASSERT_TRUE(watcher.ReadHeader());
  CreateConfigMap("other", {{"team", "web"}});
  CreateConfigMap("mine", {{"team", "ml"}});
  ASSERT_TRUE(
      watcher.ReadBodyUntil([](const std::string& body) { return !testing::ParseSse(body).empty(); }));
  auto events = testing::ParseSse(watcher.StreamBody());
  EXPECT_EQ(Json::parse(events[0]["data"])["object"]["metadata"]["name"], "mine");

  for (const char* bad : {"?watch=maybe", "?watch=true&resourceVersion=abc", "?watch=true&limit=5",
                          "?watch=true&resourceVersion=-1", "?resourceVersion=5"}) {
    Response response = Call("GET", std::string(kConfigMaps) + bad);
    EXPECT_EQ(response.result_int(), 400) << bad << " " << response.body();
  }
}

TEST_F(ApiServerTest, LaggingWatchIsEnded) {
  options_.max_watch_backlog = 2;
  StartServer();
  for (int i = 0; i < 5; ++i) CreateConfigMap("cm" + std::to_string(i));
  TestConnection watcher(server_->url());
  // Replaying five events overflows a backlog of two: the stream ends.
  watcher.Send("GET", std::string(kConfigMaps) + "?watch=true&resourceVersion=1");
  ASSERT_TRUE(watcher.ReadHeader());
  watcher.ReadBodyUntil([](const std::string&) { return false; });
  EXPECT_TRUE(watcher.StreamComplete());
  EXPECT_EQ(testing::ParseSse(watcher.StreamBody()).size(), 2u);
}

TEST_F(ApiServerTest, WatchFromACompactedRevisionIsExpired) {
  // A store that keeps only the last two events.
  store::ResourceStoreOptions keep_two;
  keep_two.event_retention = 2;
  keep_two.prune_interval = 1;
  resources_ = std::make_unique<store::ResourceStore>(&tdb_->db(), Env::Default(), keep_two);
  StartServer();
  for (int i = 0; i < 5; ++i) CreateConfigMap("cm" + std::to_string(i));
  Response response = Call("GET", std::string(kConfigMaps) + "?watch=true&resourceVersion=1");
  EXPECT_EQ(response.result_int(), 410) << response.body();
  EXPECT_EQ(BodyOf(response)["error"]["code"], "Expired");
  EXPECT_EQ(BodyOf(response)["error"]["field"], "resourceVersion");
}

TEST_F(ApiServerTest, HealthReadinessVersionMetrics) {
  StartServer();
  Response health = Call("GET", "/healthz");
  EXPECT_EQ(health.result_int(), 200);
  EXPECT_EQ(health.body(), "ok");
  Response ready = Call("GET", "/readyz");
  EXPECT_EQ(ready.result_int(), 200);
  Response version = Call("GET", "/version");
  EXPECT_EQ(BodyOf(version), Json({{"version", "9.9.9"}}));
  ASSERT_EQ(Call("GET", std::string(kConfigMaps) + "/missing").result_int(), 404);

  Response metrics = Call("GET", "/metrics");
  EXPECT_EQ(metrics.result_int(), 200);
  EXPECT_EQ(metrics[boost::beast::http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics.body();
  EXPECT_TRUE(testing::HasMetricSample(
      text, "ferry_http_requests_total",
      {{"method", "GET"}, {"route", "/api/v1/namespaces/{ns}/{plural}/{name}"}, {"code", "404"}}, "1"))
      << text;
  EXPECT_TRUE(testing::HasMetricSample(text, "ferry_http_request_duration_seconds_bucket",
                                       {{"method", "GET"}, {"route", "/healthz"}, {"le", "+Inf"}}, "1"))
      << text;
  EXPECT_TRUE(testing::HasMetricSample(text, "ferry_http_requests_in_flight", {}, "1")) << text;
  EXPECT_TRUE(testing::HasMetricSample(text, "ferry_http_connections_open", {}, "1")) << text;
  for (const char* name : {"process_resident_memory_bytes", "process_start_time_seconds",
                           "process_cpu_seconds_total", "process_open_fds"}) {
    EXPECT_NE(text.find(std::string("\n") + name + " "), std::string::npos) << name << "\n" << text;
  }
  EXPECT_EQ(text.find("/missing"), std::string::npos);
  EXPECT_EQ(Call("POST", "/healthz", "x").result_int(), 405);
}

TEST_F(ApiServerTest, UnknownKindIs404) {
  StartServer();
  Response response = Call("GET", "/api/v1/namespaces/default/gadgets");
  EXPECT_EQ(response.result_int(), 404);
  EXPECT_EQ(BodyOf(response)["error"]["code"], "NotFound");
  // The store key selects a kind too.
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/default/widgets.example.com").result_int(), 200);
}

TEST_F(ApiServerTest, StartValidatesServicesAndOptions) {
  EXPECT_EQ(ApiServer::Start(options_, {nullptr, resources_.get(), &types_, &metrics_, Env::Default()})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  ApiOptions bad = options_;
  bad.listen = "nowhere";
  EXPECT_EQ(ApiServer::Start(bad, {&tdb_->db(), resources_.get(), &types_, &metrics_, Env::Default()})
                .status()
                .field(),
            "listen");
}

}  // namespace
}  // namespace ferry::api
