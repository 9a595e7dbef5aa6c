// SqliteDmarcLog: the shared behavioural suite (tests/harness/dmarc_log_contract.hpp) on this
// backend, and what only it has: the dmarc.db file and its schema version (a newer one refused).
#include "store/sqlite/sqlite_dmarc_log.hpp"

#include <gtest/gtest.h>

#include "tests/harness/dmarc_log_contract.hpp"

namespace posthorn::store::sqlite {
namespace {

namespace fs = std::filesystem;

class SqliteDmarcLogBackend final : public msgauth::contract::DmarcLogBackend {
 public:
  explicit SqliteDmarcLogBackend(posthorn::testing::BackendContext& context) : dir_(context.dir), pool_(context.pool) {}
  Result<std::unique_ptr<msgauth::DmarcReportLog>> open(std::size_t max_rows) override {
    auto l = SqliteDmarcLog::open(dir_, pool_, max_rows);
    if (!l) return l.error();
    return std::unique_ptr<msgauth::DmarcReportLog>(std::move(*l));
  }

 private:
  fs::path dir_;
  BlockingPool& pool_;
};

}  // namespace

using msgauth::contract::DmarcLogContract;
INSTANTIATE_TEST_SUITE_P(Sqlite, DmarcLogContract,
                         (posthorn::testing::backend_values<msgauth::contract::DmarcLogBackend, SqliteDmarcLogBackend>("sqlite")),
                         posthorn::testing::backend_name<msgauth::contract::DmarcLogParam>);

namespace {

TEST(SqliteDmarcLogTest, TheFileIsDmarcDbAndANewerSchemaIsRefused) {
  posthorn::testing::TempDir dir("posthorn_dmarc_test");
  BlockingPool pool(1);
  {
    auto l = SqliteDmarcLog::open(dir.path(), pool);
    ASSERT_TRUE(l) << l.error().message;
  }
  ASSERT_TRUE(fs::exists(dir.path() / "dmarc.db"));
  {
    auto db = Db::open(dir.path() / "dmarc.db", DbOptions{});
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("PRAGMA user_version = 2"));
  }
  auto l = SqliteDmarcLog::open(dir.path(), pool);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, Errc::kInvalid);
}

}  // namespace
}  // namespace posthorn::store::sqlite
