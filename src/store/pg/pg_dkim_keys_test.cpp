// PgDkimKeys against a real PostgreSQL (fixture pg_server): the shared behavioural suite
// (tests/harness/dkim_keys_contract.hpp) on this backend, each test in a database of its own, and
// what only this backend has: a key added through one node is listed by another, and two nodes
// adding the same selector at once leave exactly one key.
#include "store/pg/pg_dkim_keys.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>

#include "store/pg/pg_test_support.hpp"
#include "tests/harness/dkim_keys_contract.hpp"
#include "tests/harness/drive.hpp"

namespace posthorn::store::pg {
namespace {

namespace asio = boost::asio;

Result<std::unique_ptr<PgDkimKeys>> open_keys(asio::io_context& io, const testing::TestDatabase& db) {
  PoolOptions options;
  options.connect = db.options();
  options.size = 2;
  return posthorn::testing::drive(io, PgDkimKeys::open(io.get_executor(), options));
}

// A database of its own for one test, dropped at the end.
class PgDkimKeysBackend final : public msgauth::contract::DkimKeysBackend {
 public:
  explicit PgDkimKeysBackend(posthorn::testing::BackendContext& context) : io_(context.io) {}
  Result<std::unique_ptr<msgauth::DkimKeyStore>> open() override {
    auto k = open_keys(io_, db_);
    if (!k) return k.error();
    return std::unique_ptr<msgauth::DkimKeyStore>(std::move(*k));
  }

 private:
  asio::io_context& io_;
  testing::TestDatabase db_;
};

}  // namespace

using msgauth::contract::DkimKeysContract;
INSTANTIATE_TEST_SUITE_P(Pg, DkimKeysContract,
                         (posthorn::testing::backend_values<msgauth::contract::DkimKeysBackend, PgDkimKeysBackend>("postgresql")),
                         posthorn::testing::backend_name<msgauth::contract::DkimKeysParam>);

namespace {

TEST(PgDkimKeysNodesTest, AKeyAddedOnOneNodeIsListedByTheOtherAndASelectorIsTakenOnce) {
  testing::TestDatabase db;
  asio::io_context io;
  auto a = open_keys(io, db);
  auto b = open_keys(io, db);
  ASSERT_TRUE(a && b) << (a ? b.error().message : a.error().message);
  const std::string pem = msgauth::generate_dkim_key(msgauth::DkimAlgorithm::kEd25519Sha256).value();
  ASSERT_TRUE(posthorn::testing::drive(io, (*a)->add({"example.org", "s1", pem})));
  auto listed = posthorn::testing::drive(io, (*b)->list());
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0], (msgauth::DkimKey{"example.org", "s1", pem}));

  // Both nodes add s2 at once: one wins, the other gets kExists.
  auto first = asio::co_spawn(io, (*a)->add({"example.org", "s2", pem}), asio::use_future);
  auto second = asio::co_spawn(io, (*b)->add({"example.org", "s2", pem + "\n"}), asio::use_future);
  while (first.wait_for(std::chrono::seconds(0)) != std::future_status::ready ||
         second.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    io.restart();
    io.run_for(std::chrono::milliseconds(2));
  }
  auto r1 = first.get();
  auto r2 = second.get();
  EXPECT_NE(bool(r1), bool(r2));
  EXPECT_EQ((r1 ? r2 : r1).error().code, Errc::kExists);
  listed = posthorn::testing::drive(io, (*a)->list());
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 2u);
  // The schema's version names DKIM keys' step.
  auto version = db.query("SELECT version FROM posthorn_schema WHERE component = 'directory'");
  ASSERT_TRUE(version);
  EXPECT_EQ(version->text(0, 0), "2");
}

}  // namespace
}  // namespace posthorn::store::pg
