// PgDirectory against a real PostgreSQL (fixture pg_server): the shared behavioural suite
// (tests/harness/directory_contract.hpp) on this backend, each test in a database of its own, and
// what only this backend has: two directories ("nodes") on one database seeing each other's
// changes, concurrent adds of one address from both of which exactly one wins, the schema version.
#include "store/pg/pg_directory.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <future>

#include "store/pg/pg_directory_schema.hpp"
#include "store/pg/pg_test_support.hpp"
#include "tests/harness/directory_contract.hpp"

namespace posthorn::store::pg {
namespace {

namespace asio = boost::asio;
using auth::contract::error_code;
using auth::contract::SyncDirectory;

// A database of its own for one test, dropped at the end.
class PgDirectoryBackend final : public auth::contract::DirectoryBackend {
 public:
  explicit PgDirectoryBackend(posthorn::testing::BackendContext& context) : io_(context.io) {
    options_.pool.connect = db_.options();
    options_.pool.size = 4;
  }
  Result<std::unique_ptr<auth::Directory>> open() override {
    auto d = open_pg();
    if (!d) return d.error();
    return std::unique_ptr<auth::Directory>(std::move(*d));
  }
  Result<std::unique_ptr<PgDirectory>> open_pg() {
    return posthorn::testing::drive(io_, PgDirectory::open(io_.get_executor(), options_));
  }
  Result<Rows> query(std::string sql) { return db_.query(std::move(sql)); }
  const testing::TestDatabase& db() const { return db_; }

 private:
  asio::io_context& io_;
  testing::TestDatabase db_;
  PgDirectoryOptions options_;
};

}  // namespace

using auth::contract::DirectoryContract;
INSTANTIATE_TEST_SUITE_P(Pg, DirectoryContract,
                         ::testing::Values(auth::contract::DirectoryParam{
                             "postgresql",
                             [](posthorn::testing::BackendContext& c) -> std::unique_ptr<auth::contract::DirectoryBackend> {
                               return std::make_unique<PgDirectoryBackend>(c);
                             }}),
                         auth::contract::directory_backend_name);

namespace {

// Two directories on one database, as two nodes of a cluster.
class PgDirectoryNodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    posthorn::testing::BackendContext context{io_, pool_, {}};
    backend_ = std::make_unique<PgDirectoryBackend>(context);
    auto a = backend_->open_pg();
    ASSERT_TRUE(a) << a.error().message;
    a_ = std::move(*a);
    auto b = backend_->open_pg();
    ASSERT_TRUE(b) << b.error().message;
    b_ = std::move(*b);
    sync_a_ = std::make_unique<SyncDirectory>(io_, *a_);
    sync_b_ = std::make_unique<SyncDirectory>(io_, *b_);
    ASSERT_TRUE(sync_a_->add_domain("example.test"));
  }
  void TearDown() override {
    sync_a_.reset();
    sync_b_.reset();
    a_.reset();
    b_.reset();
    backend_.reset();
  }
  SyncDirectory& a() { return *sync_a_; }
  SyncDirectory& b() { return *sync_b_; }

  // Runs both operations at once on io_ (each on its node's connections) and returns both results.
  template <class T, class U>
  std::pair<T, U> race(asio::awaitable<T> first, asio::awaitable<U> second) {
    auto f = asio::co_spawn(io_, std::move(first), asio::use_future);
    auto g = asio::co_spawn(io_, std::move(second), asio::use_future);
    const auto ready = [](auto& future) { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; };
    while (!ready(f) || !ready(g)) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(2));
    }
    return {f.get(), g.get()};
  }

  asio::io_context io_;
  BlockingPool pool_{1};
  std::unique_ptr<PgDirectoryBackend> backend_;
  std::unique_ptr<PgDirectory> a_;
  std::unique_ptr<PgDirectory> b_;
  std::unique_ptr<SyncDirectory> sync_a_;
  std::unique_ptr<SyncDirectory> sync_b_;
};

TEST_F(PgDirectoryNodesTest, EachNodeSeesTheOthersChanges) {
  EXPECT_TRUE(*b().is_local_domain("example.test"));
  auto added = a().add_account("alice@example.test", "{ARGON2ID}x", "scram", 0);
  ASSERT_TRUE(added) << added.error().message;
  auto found = b().find_account("ALICE@example.test");
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->id, added->id);
  EXPECT_EQ(found->scram, "scram");
  EXPECT_EQ(b().resolve("alice+x@example.test")->accounts, std::vector<auth::AccountId>{added->id});

  ASSERT_TRUE(b().add_alias("info@example.test", {"alice@example.test"}));
  EXPECT_EQ(a().resolve("info@example.test")->accounts, std::vector<auth::AccountId>{added->id});
  EXPECT_EQ(error_code(a().add_account("info@example.test", "h", "", 0)), Errc::kExists);
  ASSERT_TRUE(b().set_quota("alice@example.test", 42));
  EXPECT_EQ(a().find_account("alice@example.test")->quota_bytes, 42u);
  EXPECT_EQ(error_code(b().delete_domain("example.test")), Errc::kConflict);

  ASSERT_TRUE(a().delete_alias("info@example.test"));
  ASSERT_TRUE(a().delete_account("alice@example.test"));
  EXPECT_EQ(error_code(b().find_account("alice@example.test")), Errc::kNotFound);
  EXPECT_EQ(error_code(b().find_account_by_id(added->id)), Errc::kNotFound);
  EXPECT_EQ(error_code(b().resolve("info@example.test")), Errc::kNotFound);
  ASSERT_TRUE(b().delete_domain("example.test"));
  EXPECT_FALSE(*a().is_local_domain("example.test"));
  EXPECT_EQ(error_code(a().add_account("bob@example.test", "h", "", 0)), Errc::kNotFound);
}

TEST_F(PgDirectoryNodesTest, ConcurrentAddsOfOneAddressLetExactlyOneNodeWin) {
  for (int i = 0; i < 10; ++i) {
    const std::string address = "u" + std::to_string(i) + "@example.test";
    auto [on_a, on_b] = race(a_->add_account(address, "h", "", 0), b_->add_account(address, "h", "", 0));
    EXPECT_NE(bool(on_a), bool(on_b)) << address;
    const auto& lost = on_a ? on_b : on_a;
    EXPECT_EQ(error_code(lost), Errc::kExists) << address;
  }
  // An account on one node and an alias on the other: one address, one owner.
  for (int i = 0; i < 10; ++i) {
    const std::string address = "v" + std::to_string(i) + "@example.test";
    std::vector<std::string> targets{"someone@remote.test"};
    auto [account, alias] = race(a_->add_account(address, "h", "", 0), b_->add_alias(address, targets));
    EXPECT_NE(bool(account), bool(alias)) << address;
    const Errc lost = account ? error_code(alias) : error_code(account);
    EXPECT_EQ(lost, Errc::kExists) << address;
  }
  EXPECT_EQ(a().list_accounts()->size() + b().list_aliases()->size(), 20u);
}

TEST_F(PgDirectoryNodesTest, TheSchemaHasItsVersionAndANewerOneIsRefused) {
  testing::expect_newer_schema_refused(backend_->db(), "directory", kDirectorySchemaVersion,
                                       [&] { return backend_->open_pg(); });
}

TEST(PgDirectoryOpen, AnUnreachableDatabaseIsUnavailable) {
  asio::io_context io;
  PgDirectoryOptions options;
  options.pool.connect.url = "postgresql://127.0.0.1:1/posthorn";
  auto opened = posthorn::testing::drive(io, PgDirectory::open(io.get_executor(), options));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::kUnavailable);
}

}  // namespace
}  // namespace posthorn::store::pg
