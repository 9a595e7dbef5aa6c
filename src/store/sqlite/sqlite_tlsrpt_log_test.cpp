// SqliteTlsRptLog: the shared behavioural suite (tests/harness/tlsrpt_log_contract.hpp) on this
// backend, and what only it has: the tlsrpt.db file and its schema version (a newer one refused).
#include "store/sqlite/sqlite_tlsrpt_log.hpp"

#include <gtest/gtest.h>

#include "tests/harness/tlsrpt_log_contract.hpp"

namespace posthorn::store::sqlite {
namespace {

namespace fs = std::filesystem;

class SqliteTlsRptLogBackend final : public queue::contract::TlsRptLogBackend {
 public:
  explicit SqliteTlsRptLogBackend(posthorn::testing::BackendContext& context) : dir_(context.dir), pool_(context.pool) {}
  Result<std::unique_ptr<queue::TlsReportLog>> open() override {
    auto l = SqliteTlsRptLog::open(dir_, pool_);
    if (!l) return l.error();
    return std::unique_ptr<queue::TlsReportLog>(std::move(*l));
  }

 private:
  fs::path dir_;
  BlockingPool& pool_;
};

}  // namespace

using queue::contract::TlsRptLogContract;
INSTANTIATE_TEST_SUITE_P(Sqlite, TlsRptLogContract,
                         (posthorn::testing::backend_values<queue::contract::TlsRptLogBackend, SqliteTlsRptLogBackend>("sqlite")),
                         posthorn::testing::backend_name<queue::contract::TlsRptLogParam>);

namespace {

TEST(SqliteTlsRptLogTest, TheFileIsTlsrptDbAndANewerSchemaIsRefused) {
  posthorn::testing::TempDir dir("posthorn_tlsrpt_test");
  BlockingPool pool(1);
  {
    auto l = SqliteTlsRptLog::open(dir.path(), pool);
    ASSERT_TRUE(l) << l.error().message;
  }
  ASSERT_TRUE(fs::exists(dir.path() / "tlsrpt.db"));
  {
    auto db = Db::open(dir.path() / "tlsrpt.db", DbOptions{});
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("PRAGMA user_version = 2"));
  }
  auto l = SqliteTlsRptLog::open(dir.path(), pool);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, Errc::kInvalid);
}

}  // namespace
}  // namespace posthorn::store::sqlite
