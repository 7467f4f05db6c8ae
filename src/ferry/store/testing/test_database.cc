#include "ferry/store/testing/test_database.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "ferry/common/env.h"

namespace ferry::store::testing {

namespace {

Result<std::string> MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/ferry_t_XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) return Internal("mkdtemp " + pattern + " failed");
  return std::string(buffer.data());
}

std::string RandomDatabaseName() {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(Env::Default()->Random64()));
  return std::string("ferry_t_") + hex;
}

}  // namespace

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

Result<std::string> TestPostgresUrl() {
  const char* url = std::getenv("FERRY_TEST_POSTGRES_URL");
  if (url == nullptr || *url == '\0') {
    return FailedPrecondition(
        "FERRY_TEST_POSTGRES_URL is not set. Run the store tests through ctest, whose postgres fixture "
        "starts a "
        "server, or start one with `scripts/pg-tmp start DIR` and export FERRY_TEST_POSTGRES_URL=$(cat "
        "DIR/url)");
  }
  return std::string(url);
}

std::string WithDatabaseName(const std::string& url, const std::string& dbname) {
  const std::size_t scheme_end = url.find("://");
  const std::size_t authority = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const std::size_t path = url.find_first_of("/?", authority);
  if (path == std::string::npos) return url + "/" + dbname;
  const std::size_t query = url.find('?', path);
  return url.substr(0, path) + "/" + dbname + (query == std::string::npos ? "" : url.substr(query));
}

std::unique_ptr<TestDatabase> TestDatabase::Create(Backend backend) {
  return CreateWithMigrations(backend, AllMigrations());
}

std::unique_ptr<TestDatabase> TestDatabase::CreateWithMigrations(Backend backend,
                                                                 const std::vector<Migration>& migrations) {
  std::unique_ptr<TestDatabase> tdb(new TestDatabase());
  const Status status = tdb->Init(backend, migrations);
  if (!status.ok()) {
    ADD_FAILURE() << "cannot create a test database on "
                  << (backend == Backend::kSqlite ? "SQLite" : "PostgreSQL") << ": " << status.ToString();
    return nullptr;
  }
  return tdb;
}

Status TestDatabase::Init(Backend backend, const std::vector<Migration>& migrations) {
  backend_ = backend;
  if (backend == Backend::kSqlite) {
    ASSIGN_OR_RETURN(sqlite_dir_, MakeTempDir());
    url_ = "sqlite://" + sqlite_dir_ + "/test.db";
  } else {
    ASSIGN_OR_RETURN(postgres_server_, TestPostgresUrl());
    auto admin = OpenDatabase(postgres_server_, {.max_connections = 1});
    if (!admin.ok()) {
      return admin.status().WithContext("PostgreSQL test server from FERRY_TEST_POSTGRES_URL");
    }
    const std::string name = RandomDatabaseName();
    RETURN_IF_ERROR((*admin)->Exec("CREATE DATABASE " + name));
    postgres_name_ = name;
    url_ = WithDatabaseName(postgres_server_, name);
  }
  ASSIGN_OR_RETURN(db_, OpenDatabase(url_));
  if (!migrations.empty()) RETURN_IF_ERROR(Migrate(*db_, migrations).status());
  return Status::OK();
}

Status TestDatabase::Reopen(const DatabaseOptions& options) {
  db_.reset();
  ASSIGN_OR_RETURN(db_, OpenDatabase(url_, options));
  return Status::OK();
}

TestDatabase::~TestDatabase() {
  db_.reset();
  if (!sqlite_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(sqlite_dir_, ec);
    if (ec) ADD_FAILURE() << "cannot remove test database directory " << sqlite_dir_ << ": " << ec.message();
  }
  if (!postgres_name_.empty()) {
    auto admin = OpenDatabase(postgres_server_, {.max_connections = 1});
    Status status = admin.status();
    // FORCE: the server may not yet have noticed that db_'s connections closed.
    if (status.ok()) {
      status = (*admin)->Exec("DROP DATABASE IF EXISTS " + postgres_name_ + " WITH (FORCE)").status();
    }
    if (!status.ok()) {
      ADD_FAILURE() << "cannot drop test database " << postgres_name_ << ": " << status.ToString();
    }
  }
}

}  // namespace ferry::store::testing
