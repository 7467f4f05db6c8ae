#include "ferry/cli/commands.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <sstream>

#include "ferry/api/client/testing/fake_http_server.h"
#include "ferry/common/names.h"
#include "ferry/common/time.h"

namespace ferry::cli {
namespace {

using api::client::testing::FakeHttpServer;
using api::client::testing::FakeRequest;
using api::client::testing::FakeResponse;

constexpr std::int64_t kNow = 1'700'000'000'000'000;

std::string Decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

FakeResponse Error(int status, const std::string& code, const std::string& message,
                   const std::string& field = "") {
  Json error = {{"code", code}, {"message", message}};
  if (!field.empty()) error["field"] = field;
  return FakeResponse::Json(status, Json{{"error", error}}.dump());
}

// An in-memory stand-in for the native API's ConfigMap routes: enough of
// the contract to drive every verb, with one object per list page so that
// `continue` is always exercised.
class FakeApi {
 public:
  FakeApi() : server_([this](const FakeRequest& r) { return Handle(r); }) {}

  std::string url() const { return server_.url(); }
  std::vector<FakeRequest> requests() const { return server_.requests(); }

  void Put(const std::string& ns, const std::string& name, Json data, Json labels = Json::object()) {
    std::lock_guard<std::mutex> lock(mu_);
    Json obj = {{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata",
                 {{"name", name},
                  {"namespace", ns},
                  {"uid", "uid-" + name},
                  {"labels", labels},
                  {"resourceVersion", std::to_string(++revision_)},
                  {"creationTimestamp", FormatRfc3339(kNow - 90'000'000)}}},
                {"data", data}};
    objects_[{ns, name}] = obj;
  }

  std::optional<Json> Object(const std::string& ns, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find({ns, name});
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }

  void InjectConflicts(int n) { conflicts_ = n; }
  void SetWatchStream(std::vector<std::string> chunks) { watch_chunks_ = std::move(chunks); }

 private:
  FakeResponse Handle(const FakeRequest& req) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string path = req.Path();
    if (path == "/api/v1") {
      return FakeResponse::Json(200, R"({"kind":"APIResourceList","groupVersion":"v1","resources":[
        {"name":"configmaps","singularName":"configmap","kind":"ConfigMap","group":"","version":"v1",
         "apiVersion":"v1","namespaced":true,"shortNames":["cm"]}]})");
    }
    if (path == "/version") return FakeResponse::Json(200, R"({"version":"9.9.9"})");
    std::string ns;
    std::string name;
    if (path == "/api/v1/configmaps") {
      // all namespaces
    } else if (path.rfind("/api/v1/namespaces/", 0) == 0) {
      std::string rest = path.substr(19);
      auto slash = rest.find('/');
      ns = rest.substr(0, slash);
      rest = rest.substr(slash + 1);
      if (rest.rfind("configmaps", 0) != 0) return Error(404, "NotFound", "no route");
      if (rest.size() > 10) name = Decode(rest.substr(11));
    } else {
      return Error(404, "NotFound", "no route " + path);
    }
    if (req.method == "GET" && name.empty()) return List(req, ns);
    if (req.method == "GET") {
      auto it = objects_.find({ns, name});
      if (it == objects_.end()) return Error(404, "NotFound", "configmaps \"" + name + "\" not found");
      return FakeResponse::Json(200, it->second.dump());
    }
    if (req.method == "POST") {
      Json body = Json::parse(req.body);
      std::string new_name = body["metadata"]["name"];
      if (Status s = ValidateDns1123Label(new_name, "metadata.name"); !s.ok()) {
        return Error(400, "InvalidArgument", "\"" + new_name + "\" is not a DNS-1123 label", "metadata.name");
      }
      if (objects_.count({ns, new_name})) {
        return Error(409, "AlreadyExists", "configmaps \"" + new_name + "\" already exists");
      }
      body["metadata"]["namespace"] = ns;
      body["metadata"]["uid"] = "uid-" + new_name;
      body["metadata"]["resourceVersion"] = std::to_string(++revision_);
      body["metadata"]["creationTimestamp"] = FormatRfc3339(kNow);
      objects_[{ns, new_name}] = body;
      return FakeResponse::Json(201, body.dump());
    }
    auto it = objects_.find({ns, name});
    if (it == objects_.end()) return Error(404, "NotFound", "configmaps \"" + name + "\" not found");
    if (req.method == "PUT") {
      Json body = Json::parse(req.body);
      if (conflicts_ > 0) {
        --conflicts_;
        ++revision_;  // someone else wrote it
        it->second["metadata"]["resourceVersion"] = std::to_string(revision_);
      }
      if (body["metadata"].value("resourceVersion", "") != it->second["metadata"]["resourceVersion"]) {
        return Error(409, "Conflict", "configmaps \"" + name + "\": resourceVersion mismatch");
      }
      Json meta = it->second["metadata"];
      meta["labels"] = body["metadata"].value("labels", Json::object());
      meta["resourceVersion"] = std::to_string(++revision_);
      body["metadata"] = meta;
      it->second = body;
      return FakeResponse::Json(200, body.dump());
    }
    if (req.method == "DELETE") {
      Json gone = it->second;
      objects_.erase(it);
      return FakeResponse::Json(200, gone.dump());
    }
    return Error(405, "MethodNotAllowed", "method not allowed");
  }

  FakeResponse List(const FakeRequest& req, const std::string& ns) {
    if (req.Query("watch") == "true") {
      FakeResponse r;
      r.headers = {{"Content-Type", "text/event-stream"}};
      r.chunks = watch_chunks_;
      return r;
    }
    const std::string selector = Decode(req.Query("labelSelector"));
    if (selector == "bad(")
      return Error(400, "InvalidArgument", "labelSelector: unexpected '('", "labelSelector");
    std::vector<Json> matching;
    for (const auto& [key, obj] : objects_) {
      if (!ns.empty() && key.first != ns) continue;
      if (!selector.empty()) {
        auto eq = selector.find('=');
        const Json& labels = obj["metadata"]["labels"];
        std::string k = selector.substr(0, eq);
        if (!labels.contains(k) || labels[k] != selector.substr(eq + 1)) continue;
      }
      matching.push_back(obj);
    }
    std::size_t start = req.Query("continue").empty() ? 0 : std::stoul(req.Query("continue"));
    Json page = {{"apiVersion", "v1"},
                 {"kind", "ConfigMapList"},
                 {"metadata", {{"resourceVersion", std::to_string(revision_)}}},
                 {"items", Json::array()}};
    if (start < matching.size()) page["items"].push_back(matching[start]);
    if (start + 1 < matching.size()) page["metadata"]["continue"] = std::to_string(start + 1);
    return FakeResponse::Json(200, page.dump());
  }

  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Json> objects_;
  std::int64_t revision_ = 0;
  int conflicts_ = 0;
  std::vector<std::string> watch_chunks_;
  FakeHttpServer server_;  // last: its thread calls Handle as soon as it exists
};

// One CLI invocation against a FakeApi (or any URL), capturing its output.
struct Invocation {
  explicit Invocation(const std::string& url, std::string stdin_text = "")
      : http(url), client(&http), in(std::move(stdin_text)), env(kNow) {
    ctx.client = &client;
    ctx.in = &in;
    ctx.out = &out;
    ctx.err = &err;
    ctx.env = &env;
  }

  api::client::HttpClient http;
  ResourceClient client;
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  FakeEnv env;
  Context ctx;
};

const char* kDemo = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
  labels:
    app: web
data:
  greeting: hello
)";

TEST(ApplyTest, CreatesThenLeavesUnchangedThenConfigures) {
  FakeApi api;
  {
    Invocation run(api.url(), kDemo);
    EXPECT_EQ(RunApply(run.ctx, {{"-"}}), kExitOk) << run.err.str();
    EXPECT_EQ(run.out.str(), "configmap/demo created\n");
  }
  {
    Invocation run(api.url(), kDemo);
    EXPECT_EQ(RunApply(run.ctx, {{"-"}}), kExitOk) << run.err.str();
    EXPECT_EQ(run.out.str(), "configmap/demo unchanged\n");
  }
  const std::string rv = api.Object("default", "demo")->at("metadata").at("resourceVersion");
  std::string changed = kDemo;
  changed.replace(changed.find("hello"), 5, "bonjour");
  {
    Invocation run(api.url(), changed);
    EXPECT_EQ(RunApply(run.ctx, {{"-"}}), kExitOk) << run.err.str();
    EXPECT_EQ(run.out.str(), "configmap/demo configured\n");
  }
  EXPECT_EQ(api.Object("default", "demo")->at("data").at("greeting"), "bonjour");
  auto requests = api.requests();
  ASSERT_EQ(requests.back().method, "PUT");
  EXPECT_EQ(Json::parse(requests.back().body)["metadata"]["resourceVersion"], rv);
}

TEST(ApplyTest, LabelChangeIsAChange) {
  FakeApi api;
  api.Put("default", "demo", {{"greeting", "hello"}}, {{"app", "web"}, {"extra", "x"}});
  Invocation run(api.url(), kDemo);
  EXPECT_EQ(RunApply(run.ctx, {{"-"}}), kExitOk);
  EXPECT_EQ(run.out.str(), "configmap/demo configured\n");
  EXPECT_FALSE(api.Object("default", "demo")->at("metadata").at("labels").contains("extra"));
}

TEST(ApplyTest, RetriesOnceOnConflict) {
  FakeApi api;
  api.Put("default", "demo", {{"greeting", "old"}});
  api.InjectConflicts(1);
  Invocation once(api.url(), kDemo);
  EXPECT_EQ(RunApply(once.ctx, {{"-"}}), kExitOk) << once.err.str();
  EXPECT_EQ(once.out.str(), "configmap/demo configured\n");

  api.Put("default", "demo", {{"greeting", "old"}});
  api.InjectConflicts(2);
  Invocation twice(api.url(), kDemo);
  EXPECT_EQ(RunApply(twice.ctx, {{"-"}}), kExitFailed);
  EXPECT_NE(twice.err.str().find("Error from server (Conflict): error when replacing configmap/demo from "
                                 "<stdin> document 1"),
            std::string::npos)
      << twice.err.str();
}

TEST(ApplyTest, BadDocumentsAreReportedAndTheRestApplied) {
  FakeApi api;
  Invocation run(api.url(), std::string(kDemo) +
                                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n"
                                "---\napiVersion: v9\nkind: Gadget\nmetadata:\n  name: g\n"
                                "---\nkind: ConfigMap\n"
                                "---\nfoo: [\n"
                                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: last\n");
  EXPECT_EQ(RunApply(run.ctx, {{"-"}}), kExitFailed);
  EXPECT_EQ(run.out.str(), "configmap/demo created\nconfigmap/last created\n");
  const std::string err = run.err.str();
  EXPECT_NE(
      err.find("Error from server (InvalidArgument): error when creating configmap/Bad_Name from <stdin> "
               "document 2: "),
      std::string::npos)
      << err;
  EXPECT_NE(err.find("(field metadata.name)"), std::string::npos) << err;
  EXPECT_NE(
      err.find("error: <stdin> document 3: the server has no resource type for apiVersion \"v9\" and kind "
               "\"Gadget\"; known types: configmaps (cm)"),
      std::string::npos)
      << err;
  EXPECT_NE(err.find("error: <stdin> document 4: apiVersion is required"), std::string::npos) << err;
  EXPECT_NE(err.find("error: <stdin> document 5: malformed YAML"), std::string::npos) << err;
}

TEST(ApplyTest, NamespaceComesFromTheObjectOrTheFlag) {
  FakeApi api;
  std::string in_team = std::string(kDemo);
  in_team.replace(in_team.find("name: demo"), 10, "name: demo\n  namespace: team");
  {
    Invocation run(api.url(), in_team);
    EXPECT_EQ(RunApply(run.ctx, {{"-"}}), kExitOk) << run.err.str();
    EXPECT_TRUE(api.Object("team", "demo").has_value());
  }
  {
    Invocation run(api.url(), kDemo);
    run.ctx.ns = "other";
    run.ctx.ns_explicit = true;
    EXPECT_EQ(RunApply(run.ctx, {{"-"}}), kExitOk) << run.err.str();
    EXPECT_TRUE(api.Object("other", "demo").has_value());
  }
  {
    Invocation run(api.url(), in_team);
    run.ctx.ns = "other";
    run.ctx.ns_explicit = true;
    EXPECT_EQ(RunApply(run.ctx, {{"-"}}), kExitFailed);
    EXPECT_NE(run.err.str().find("does not match --namespace \"other\""), std::string::npos) << run.err.str();
  }
}

TEST(ApplyTest, NothingToApplyIsAUsageError) {
  FakeApi api;
  Invocation run(api.url(), "# nothing\n");
  EXPECT_EQ(RunApply(run.ctx, {{"-"}}), kExitUsage);
  EXPECT_NE(run.err.str().find("no objects passed to apply"), std::string::npos);
  Invocation missing(api.url());
  EXPECT_EQ(RunApply(missing.ctx, {{"/nonexistent/x.yaml"}}), kExitUsage);
}

TEST(GetTest, TableFollowsContinueToTheEnd) {
  FakeApi api;
  api.Put("default", "alpha", {{"a", "1"}});
  api.Put("default", "beta", {{"a", "1"}, {"b", "2"}});
  api.Put("default", "a-much-longer-name", Json::object());
  api.Put("elsewhere", "gamma", Json::object());
  Invocation run(api.url());
  EXPECT_EQ(RunGet(run.ctx, {.kind = "cm"}), kExitOk) << run.err.str();
  EXPECT_EQ(run.out.str(),
            "NAME                 DATA   AGE\n"
            "a-much-longer-name   0      90s\n"
            "alpha                1      90s\n"
            "beta                 2      90s\n");
  int lists = 0;
  for (const auto& r : api.requests()) lists += r.Path() == "/api/v1/namespaces/default/configmaps";
  EXPECT_EQ(lists, 3);
}

TEST(GetTest, AllNamespacesAddsTheColumn) {
  FakeApi api;
  api.Put("default", "alpha", Json::object());
  api.Put("team", "beta", Json::object());
  Invocation run(api.url());
  EXPECT_EQ(RunGet(run.ctx, {.kind = "configmaps", .all_namespaces = true}), kExitOk) << run.err.str();
  EXPECT_EQ(run.out.str(),
            "NAMESPACE   NAME    DATA   AGE\n"
            "default     alpha   0      90s\n"
            "team        beta    0      90s\n");
  EXPECT_EQ(api.requests().back().Path(), "/api/v1/configmaps");
}

TEST(GetTest, OutputFormats) {
  FakeApi api;
  api.Put("default", "alpha", {{"k", "v"}});
  api.Put("default", "beta", Json::object());
  {
    Invocation run(api.url());
    EXPECT_EQ(RunGet(run.ctx, {.kind = "ConfigMap", .output = "name"}), kExitOk);
    EXPECT_EQ(run.out.str(), "configmap/alpha\nconfigmap/beta\n");
  }
  {
    Invocation run(api.url());
    EXPECT_EQ(RunGet(run.ctx, {.kind = "cm", .output = "json"}), kExitOk);
    Json list = Json::parse(run.out.str());
    EXPECT_EQ(list["kind"], "List");
    EXPECT_EQ(list["items"].size(), 2u);
  }
  {
    Invocation run(api.url());
    EXPECT_EQ(RunGet(run.ctx, {.kind = "cm", .names = {"alpha"}, .output = "json"}), kExitOk);
    Json obj = Json::parse(run.out.str());
    EXPECT_EQ(obj["kind"], "ConfigMap");
    EXPECT_EQ(obj["data"]["k"], "v");
  }
  {
    Invocation run(api.url());
    EXPECT_EQ(RunGet(run.ctx, {.kind = "cm/alpha", .output = "yaml"}), kExitOk);
    auto obj = ParseYaml(run.out.str());
    ASSERT_TRUE(obj.ok());
    EXPECT_EQ((*obj)["metadata"]["name"], "alpha");
  }
}

TEST(GetTest, SelectorIsSentEncoded) {
  FakeApi api;
  api.Put("default", "alpha", Json::object(), {{"app", "web"}});
  api.Put("default", "beta", Json::object(), {{"app", "db"}});
  Invocation run(api.url());
  EXPECT_EQ(RunGet(run.ctx, {.kind = "cm", .output = "name", .selector = "app=web"}), kExitOk);
  EXPECT_EQ(run.out.str(), "configmap/alpha\n");
  EXPECT_EQ(api.requests().back().Query("labelSelector"), "app%3Dweb");

  Invocation bad(api.url());
  EXPECT_EQ(RunGet(bad.ctx, {.kind = "cm", .selector = "bad("}), kExitFailed);
  EXPECT_NE(bad.err.str().find("Error from server (InvalidArgument): labelSelector"), std::string::npos);
}

TEST(GetTest, EmptyListSaysSoOnStderr) {
  FakeApi api;
  Invocation run(api.url());
  EXPECT_EQ(RunGet(run.ctx, {.kind = "cm"}), kExitOk);
  EXPECT_EQ(run.out.str(), "");
  EXPECT_EQ(run.err.str(), "No resources found in default namespace.\n");
  Invocation all(api.url());
  EXPECT_EQ(RunGet(all.ctx, {.kind = "cm", .all_namespaces = true}), kExitOk);
  EXPECT_EQ(all.err.str(), "No resources found.\n");
}

TEST(GetTest, ErrorsAndUsage) {
  FakeApi api;
  api.Put("default", "alpha", Json::object());
  Invocation missing(api.url());
  EXPECT_EQ(RunGet(missing.ctx, {.kind = "cm", .names = {"nope", "alpha"}}), kExitFailed);
  EXPECT_EQ(missing.err.str(), "Error from server (NotFound): configmaps \"nope\" not found\n");
  EXPECT_NE(missing.out.str().find("alpha"), std::string::npos);

  Invocation unknown(api.url());
  EXPECT_EQ(RunGet(unknown.ctx, {.kind = "pods"}), kExitUsage);
  EXPECT_EQ(unknown.err.str(),
            "error: the server doesn't have a resource type \"pods\"; known types: configmaps (cm)\n");

  Invocation by_name_everywhere(api.url());
  EXPECT_EQ(RunGet(by_name_everywhere.ctx, {.kind = "cm", .names = {"a"}, .all_namespaces = true}),
            kExitUsage);
  Invocation both(api.url());
  EXPECT_EQ(RunGet(both.ctx, {.kind = "cm/a", .names = {"b"}}), kExitUsage);
}

TEST(GetTest, WatchPrintsEachEvent) {
  FakeApi api;
  api.Put("default", "alpha", Json::object());
  auto event = [](const std::string& type, const std::string& name, int keys) {
    Json data = Json::object();
    for (int i = 0; i < keys; ++i) data["k" + std::to_string(i)] = "v";
    Json obj = {{"metadata", {{"name", name}, {"creationTimestamp", FormatRfc3339(kNow)}}}, {"data", data}};
    return "event: " + type + "\nid: 9\ndata: " + Json{{"type", type}, {"object", obj}}.dump() + "\n\n";
  };
  api.SetWatchStream({": keep-alive\n\n", event("ADDED", "beta", 1), event("MODIFIED", "beta", 2),
                      event("DELETED", "alpha", 0)});
  Invocation run(api.url());
  EXPECT_EQ(RunGet(run.ctx, {.kind = "cm", .watch = true}), kExitOk) << run.err.str();
  EXPECT_EQ(run.out.str(),
            "NAME    DATA   AGE\n"
            "alpha   0      90s\n"
            "beta    1      0s\n"
            "beta    2      0s\n"
            "alpha   0      0s\n");
  const auto watch = api.requests().back();
  EXPECT_EQ(watch.Query("watch"), "true");
  EXPECT_EQ(watch.Query("resourceVersion"), "1");
}

TEST(GetTest, WatchOfOneNameFiltersEvents) {
  FakeApi api;
  api.Put("default", "alpha", Json::object());
  api.SetWatchStream({"data: {\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"other\"}}}\n\n",
                      "data: {\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"alpha\"}}}\n\n"});
  Invocation run(api.url());
  EXPECT_EQ(RunGet(run.ctx, {.kind = "cm", .names = {"alpha"}, .output = "name", .watch = true}), kExitOk);
  EXPECT_EQ(run.out.str(), "configmap/alpha\nconfigmap/alpha\n");
}

TEST(GetTest, MalformedWatchEventFails) {
  FakeApi api;
  api.SetWatchStream({"data: not json\n\n"});
  Invocation run(api.url());
  EXPECT_EQ(RunGet(run.ctx, {.kind = "cm", .watch = true}), kExitFailed);
  EXPECT_NE(run.err.str().find("malformed watch event"), std::string::npos);
}

TEST(DescribeTest, PrintsSections) {
  FakeApi api;
  api.Put("default", "alpha", {{"k", "v"}}, {{"app", "web"}});
  Invocation run(api.url());
  EXPECT_EQ(RunDescribe(run.ctx, {.kind = "cm", .names = {"alpha"}}), kExitOk) << run.err.str();
  const std::string out = run.out.str();
  EXPECT_EQ(out.rfind("Name:              alpha\n", 0), 0u) << out;
  EXPECT_NE(out.find("Labels:            app=web\n"), std::string::npos);
  EXPECT_NE(out.find("UID:               uid-alpha\n"), std::string::npos);
  EXPECT_NE(out.find("\nData:\n  k: v\n"), std::string::npos);

  Invocation missing(api.url());
  EXPECT_EQ(RunDescribe(missing.ctx, {.kind = "cm", .names = {"x"}}), kExitFailed);
  Invocation no_name(api.url());
  EXPECT_EQ(RunDescribe(no_name.ctx, {.kind = "cm"}), kExitUsage);
}

TEST(DeleteTest, DeletesByNameAndReportsMissing) {
  FakeApi api;
  api.Put("default", "alpha", Json::object());
  api.Put("default", "beta", Json::object());
  Invocation run(api.url());
  EXPECT_EQ(RunDelete(run.ctx, {.kind = "cm", .names = {"alpha", "ghost", "beta"}}), kExitFailed);
  EXPECT_EQ(run.out.str(), "configmap \"alpha\" deleted\nconfigmap \"beta\" deleted\n");
  EXPECT_EQ(run.err.str(), "Error from server (NotFound): configmaps \"ghost\" not found\n");
  EXPECT_FALSE(api.Object("default", "alpha").has_value());

  Invocation ignoring(api.url());
  EXPECT_EQ(RunDelete(ignoring.ctx, {.kind = "cm", .names = {"ghost"}, .ignore_not_found = true}), kExitOk);
  EXPECT_EQ(ignoring.err.str(), "");
}

TEST(DeleteTest, DeletesTheObjectsOfManifests) {
  FakeApi api;
  api.Put("default", "demo", Json::object());
  Invocation run(api.url(), kDemo);
  EXPECT_EQ(RunDelete(run.ctx, {.files = {"-"}}), kExitOk) << run.err.str();
  EXPECT_EQ(run.out.str(), "configmap \"demo\" deleted\n");
  Invocation both(api.url(), kDemo);
  EXPECT_EQ(RunDelete(both.ctx, {.kind = "cm", .files = {"-"}}), kExitUsage);
  Invocation neither(api.url());
  EXPECT_EQ(RunDelete(neither.ctx, {}), kExitUsage);
}

TEST(UnreachableTest, EveryVerbExitsThree) {
  std::string url;
  {
    FakeApi gone;
    url = gone.url();
  }  // the port is closed now
  Invocation get(url);
  EXPECT_EQ(RunGet(get.ctx, {.kind = "cm"}), kExitUnreachable);
  EXPECT_NE(get.err.str().find("cannot reach ferry server at " + url), std::string::npos) << get.err.str();
  Invocation apply(url, kDemo);
  EXPECT_EQ(RunApply(apply.ctx, {{"-"}}), kExitUnreachable);
  Invocation del(url);
  EXPECT_EQ(RunDelete(del.ctx, {.kind = "cm", .names = {"x"}}), kExitUnreachable);
  Invocation version(url);
  EXPECT_EQ(RunVersion(version.ctx, "1.2.3"), kExitOk);
  EXPECT_EQ(version.out.str(), "Client Version: 1.2.3\n");
  EXPECT_NE(version.err.str().find("Server Version: unknown (cannot reach"), std::string::npos);
}

TEST(VersionTest, ShowsBothVersions) {
  FakeApi api;
  Invocation run(api.url());
  EXPECT_EQ(RunVersion(run.ctx, "1.2.3"), kExitOk);
  EXPECT_EQ(run.out.str(), "Client Version: 1.2.3\nServer Version: 9.9.9\n");
}

TEST(SameUserFieldsTest, IgnoresServerManagedFields) {
  Json applied = {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "a"}}}, {"data", {{"k", "v"}}}};
  Json live = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata", {{"name", "a"}, {"uid", "u"}, {"resourceVersion", "3"}, {"labels", Json::object()}}},
      {"data", {{"k", "v"}}},
      {"status", {{"x", 1}}}};
  EXPECT_TRUE(SameUserFields(applied, live));
  Json more = live;
  more["data"]["extra"] = "1";
  EXPECT_FALSE(SameUserFields(applied, more));
  Json labelled = applied;
  labelled["metadata"]["labels"] = {{"a", "b"}};
  EXPECT_FALSE(SameUserFields(labelled, live));
  Json annotated = live;
  annotated["metadata"]["annotations"] = {{"a", "b"}};
  EXPECT_FALSE(SameUserFields(applied, annotated));
  Json with_spec = applied;
  with_spec["spec"] = {{"replicas", 1}};
  EXPECT_FALSE(SameUserFields(with_spec, live));
  Json empty_spec = applied;
  empty_spec["spec"] = Json::object();
  EXPECT_TRUE(SameUserFields(empty_spec, live));
  Json numbers = {{"spec", {{"lr", 1}}}};
  EXPECT_TRUE(SameUserFields(numbers, Json{{"spec", {{"lr", 1.0}}}}));
}

}  // namespace
}  // namespace ferry::cli
