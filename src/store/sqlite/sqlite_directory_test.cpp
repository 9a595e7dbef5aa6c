#include "store/sqlite/sqlite_directory.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <thread>

#include "base/run_sync.hpp"

namespace posthorn::store::sqlite {
namespace {

namespace fs = std::filesystem;
using auth::Resolved;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> n{0};
    path_ = fs::temp_directory_path() /
            ("posthorn_dir_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The directory with every call run to completion (run_sync), so a check reads as one line.
class SyncDirectory {
 public:
  explicit SyncDirectory(std::unique_ptr<SqliteDirectory> d) : d_(std::move(d)) {}
  Result<void> add_domain(std::string n) { return run_sync(d_->add_domain(std::move(n))); }
  Result<void> delete_domain(std::string n) { return run_sync(d_->delete_domain(std::move(n))); }
  Result<std::vector<std::string>> list_domains() { return run_sync(d_->list_domains()); }
  Result<bool> is_local_domain(std::string n) { return run_sync(d_->is_local_domain(std::move(n))); }
  Result<auth::Account> add_account(std::string a, std::string hash, std::string scram, uint64_t quota) {
    return run_sync(d_->add_account(std::move(a), std::move(hash), std::move(scram), quota));
  }
  Result<void> delete_account(std::string a) { return run_sync(d_->delete_account(std::move(a))); }
  Result<void> set_password(std::string a, std::string hash, std::string scram) {
    return run_sync(d_->set_password(std::move(a), std::move(hash), std::move(scram)));
  }
  Result<void> set_scram(auth::AccountId id, std::string scram) { return run_sync(d_->set_scram(id, std::move(scram))); }
  Result<void> set_quota(std::string a, uint64_t quota) { return run_sync(d_->set_quota(std::move(a), quota)); }
  Result<auth::Account> find_account(std::string a) { return run_sync(d_->find_account(std::move(a))); }
  Result<std::vector<auth::Account>> list_accounts() { return run_sync(d_->list_accounts()); }
  Result<auth::Account> find_account_by_id(auth::AccountId id) { return run_sync(d_->find_account_by_id(id)); }
  Result<void> add_alias(std::string a, std::vector<std::string> targets) {
    return run_sync(d_->add_alias(std::move(a), std::move(targets)));
  }
  Result<void> delete_alias(std::string a) { return run_sync(d_->delete_alias(std::move(a))); }
  Result<std::vector<auth::Alias>> list_aliases() { return run_sync(d_->list_aliases()); }
  Result<Resolved> resolve(std::string a) { return run_sync(d_->resolve(std::move(a))); }

 private:
  std::unique_ptr<SqliteDirectory> d_;
};

class SqliteDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = SqliteDirectory::open(tmp_.path() / "directory.db", pool_);
    ASSERT_TRUE(d) << d.error().message;
    dir_ = std::make_unique<SyncDirectory>(std::move(*d));
    ASSERT_TRUE(dir_->add_domain("example.test"));
  }

  auth::AccountId add(const std::string& address) {
    auto a = dir_->add_account(address, "{ARGON2ID}x", "", 0);
    EXPECT_TRUE(a) << address << ": " << a.error().message;
    return a ? a->id : 0;
  }

  Errc error_code(const Result<void>& r) { return r ? Errc{} : r.error().code; }
  template <class T>
  Errc error_code(const Result<T>& r) {
    return r ? Errc{} : r.error().code;
  }

  TempDir tmp_;
  BlockingPool pool_{2};  // before dir_: outlives it
  std::unique_ptr<SyncDirectory> dir_;
};

// ---- Db wrapper ----

TEST(SqliteDb, TransactionRollsBackUnlessCommitted) {
  auto db = Db::open(":memory:", DbOptions{});
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->exec("CREATE TABLE t (v INTEGER)"));
  {
    auto tx = Transaction::begin(*db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db->exec("INSERT INTO t VALUES (1)"));
  }
  {
    auto tx = Transaction::begin(*db);
    ASSERT_TRUE(tx);
    auto st = db->prepare("INSERT INTO t VALUES (?1)");
    ASSERT_TRUE(st);
    st->bind(1, int64_t{2});
    ASSERT_TRUE(st->run());
    ASSERT_TRUE(tx->commit());
  }
  auto st = db->prepare("SELECT v FROM t");
  ASSERT_TRUE(st);
  auto row = st->step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(st->column_int(0), 2);
  EXPECT_FALSE(*st->step());
}

TEST(SqliteDb, ErrorsAreMapped) {
  auto db = Db::open(":memory:", DbOptions{});
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->exec("CREATE TABLE t (v INTEGER UNIQUE)"));
  ASSERT_TRUE(db->exec("INSERT INTO t VALUES (1)"));
  auto dup = db->exec("INSERT INTO t VALUES (1)");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Errc::kConflict);
  EXPECT_EQ(dup.error().message.find("UNIQUE"), std::string::npos);  // SQLite text is logged, not returned
  auto bad = db->prepare("SELEC 1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kInternal);
  auto st = db->prepare("SELECT ?1");
  ASSERT_TRUE(st);
  st->bind(2, int64_t{1});  // no such parameter: reported by step
  EXPECT_FALSE(st->step());
}

TEST(SqliteDb, OpenUsesWalAndForeignKeys) {
  TempDir tmp;
  auto db = Db::open(tmp.path() / "x.db", DbOptions{});
  ASSERT_TRUE(db);
  auto st = db->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(st && *st->step());
  EXPECT_EQ(st->column_text(0), "wal");
  auto fk = db->prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(fk && *fk->step());
  EXPECT_EQ(fk->column_int(0), 1);
  auto sync = db->prepare("PRAGMA synchronous");
  ASSERT_TRUE(sync && *sync->step());
  EXPECT_EQ(sync->column_int(0), 2);  // FULL
}

TEST(SqliteDb, NotADatabaseIsUnavailable) {
  TempDir tmp;
  const fs::path file = tmp.path() / "junk.db";
  { std::FILE* f = std::fopen(file.c_str(), "w"); std::fputs(std::string(4096, 'x').c_str(), f); std::fclose(f); }
  auto db = Db::open(file, DbOptions{});
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, Errc::kUnavailable);
}

// ---- Domains ----

TEST_F(SqliteDirectoryTest, Domains) {
  EXPECT_TRUE(dir_->add_domain("Other.TEST"));
  EXPECT_EQ(error_code(dir_->add_domain("other.test")), Errc::kExists);
  EXPECT_EQ(error_code(dir_->add_domain("EXAMPLE.test")), Errc::kExists);
  for (const char* bad : {"", "bad domain", "-x.test", "x-.test", "a..b", "a_b.test", "x.test."}) {
    EXPECT_EQ(error_code(dir_->add_domain(bad)), Errc::kInvalid) << bad;
  }
  auto list = dir_->list_domains();
  ASSERT_TRUE(list);
  EXPECT_EQ(*list, (std::vector<std::string>{"example.test", "other.test"}));
  EXPECT_TRUE(*dir_->is_local_domain("OTHER.test"));
  EXPECT_FALSE(*dir_->is_local_domain("nowhere.test"));

  EXPECT_TRUE(dir_->delete_domain("OTHER.TEST"));
  EXPECT_FALSE(*dir_->is_local_domain("other.test"));
  EXPECT_EQ(error_code(dir_->delete_domain("other.test")), Errc::kNotFound);
}

TEST_F(SqliteDirectoryTest, DomainInUseCannotBeDeleted) {
  add("alice@example.test");
  EXPECT_EQ(error_code(dir_->delete_domain("example.test")), Errc::kConflict);
  ASSERT_TRUE(dir_->delete_account("alice@example.test"));
  ASSERT_TRUE(dir_->add_alias("@example.test", {"someone@remote.test"}));
  EXPECT_EQ(error_code(dir_->delete_domain("example.test")), Errc::kConflict);
  ASSERT_TRUE(dir_->delete_alias("@example.test"));
  EXPECT_TRUE(dir_->delete_domain("example.test"));
}

// ---- Accounts ----

TEST_F(SqliteDirectoryTest, AddAndFindAccount) {
  const auto before = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  auto a = dir_->add_account("Alice@EXAMPLE.test", "{ARGON2ID}hash", "scram-secret", 1000);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_GT(a->id, 0);
  EXPECT_EQ(a->address, "Alice@example.test");
  EXPECT_EQ(a->password_hash, "{ARGON2ID}hash");
  EXPECT_EQ(a->scram, "scram-secret");
  EXPECT_EQ(a->quota_bytes, 1000u);
  EXPECT_GE(a->created_at, before);

  auto f = dir_->find_account("alice@example.TEST");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->id, a->id);
  EXPECT_EQ(f->address, "Alice@example.test");
  EXPECT_EQ(f->scram, "scram-secret");
  EXPECT_EQ(f->created_at, a->created_at);
  EXPECT_EQ(error_code(dir_->find_account("bob@example.test")), Errc::kNotFound);
  EXPECT_EQ(error_code(dir_->find_account("no-at-sign")), Errc::kNotFound);
}

TEST_F(SqliteDirectoryTest, AddAccountErrors) {
  add("alice@example.test");
  EXPECT_EQ(error_code(dir_->add_account("ALICE@example.test", "h", "", 0)), Errc::kExists);
  EXPECT_EQ(error_code(dir_->add_account("bob@unknown.test", "h", "", 0)), Errc::kNotFound);
  for (const char* bad : {"alice", "@example.test", "a b@example.test", "a@", "a@bad domain", "a\t@example.test"}) {
    EXPECT_EQ(error_code(dir_->add_account(bad, "h", "", 0)), Errc::kInvalid) << bad;
  }
  EXPECT_EQ(error_code(dir_->add_account(std::string(65, 'x') + "@example.test", "h", "", 0)), Errc::kInvalid);
  EXPECT_TRUE(dir_->add_account(std::string(64, 'x') + "@example.test", "h", "", 0));
  ASSERT_TRUE(dir_->add_alias("info@example.test", {"alice@example.test"}));
  EXPECT_EQ(error_code(dir_->add_account("Info@example.test", "h", "", 0)), Errc::kExists);
}

TEST_F(SqliteDirectoryTest, ListDeleteAndIdsAreNotReused) {
  const auto a = add("alice@example.test");
  const auto b = add("bob@example.test");
  EXPECT_NE(a, b);
  auto list = dir_->list_accounts();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].address, "alice@example.test");
  EXPECT_EQ((*list)[1].address, "bob@example.test");

  EXPECT_TRUE(dir_->delete_account("BOB@example.test"));
  EXPECT_EQ(error_code(dir_->delete_account("bob@example.test")), Errc::kNotFound);
  EXPECT_EQ(error_code(dir_->find_account("bob@example.test")), Errc::kNotFound);
  const auto c = add("carol@example.test");
  EXPECT_GT(c, b);  // data/accounts/<id>/ of a deleted account is never handed to a new one
  EXPECT_EQ(dir_->list_accounts()->size(), 2u);
}

TEST_F(SqliteDirectoryTest, PasswordScramAndQuota) {
  const auto id = add("alice@example.test");
  ASSERT_TRUE(dir_->set_password("Alice@Example.Test", "{ARGON2ID}new", "scram1"));
  auto f = dir_->find_account("alice@example.test");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->password_hash, "{ARGON2ID}new");
  EXPECT_EQ(f->scram, "scram1");
  EXPECT_EQ(error_code(dir_->set_password("bob@example.test", "h", "")), Errc::kNotFound);

  ASSERT_TRUE(dir_->set_scram(id, "scram2"));
  EXPECT_EQ(dir_->find_account("alice@example.test")->scram, "scram2");
  EXPECT_EQ(error_code(dir_->set_scram(id + 100, "x")), Errc::kNotFound);

  ASSERT_TRUE(dir_->set_quota("alice@example.test", 5'000'000'000ULL));
  EXPECT_EQ(dir_->find_account("alice@example.test")->quota_bytes, 5'000'000'000ULL);
  EXPECT_EQ(error_code(dir_->set_quota("bob@example.test", 1)), Errc::kNotFound);
  EXPECT_EQ(error_code(dir_->set_quota("alice@example.test", ~0ULL)), Errc::kInvalid);
}

// ---- Aliases ----

TEST_F(SqliteDirectoryTest, Aliases) {
  add("alice@example.test");
  ASSERT_TRUE(dir_->add_alias("Info@Example.test", {"alice@example.test", "ALICE@EXAMPLE.TEST", "x@Remote.Test"}));
  ASSERT_TRUE(dir_->add_alias("@example.test", {"alice@example.test"}));
  EXPECT_EQ(error_code(dir_->add_alias("info@example.test", {"alice@example.test"})), Errc::kExists);
  EXPECT_EQ(error_code(dir_->add_alias("@EXAMPLE.test", {"alice@example.test"})), Errc::kExists);
  EXPECT_EQ(error_code(dir_->add_alias("Alice@example.test", {"x@remote.test"})), Errc::kExists);
  EXPECT_EQ(error_code(dir_->add_alias("a@remote.test", {"alice@example.test"})), Errc::kNotFound);
  EXPECT_EQ(error_code(dir_->add_alias("b@example.test", {"not an address"})), Errc::kInvalid);
  EXPECT_EQ(error_code(dir_->add_alias("b@example.test", {"@example.test"})), Errc::kInvalid);
  EXPECT_EQ(error_code(dir_->add_alias("b@example.test", {})), Errc::kInvalid);
  EXPECT_EQ(error_code(dir_->add_alias("b c@example.test", {"alice@example.test"})), Errc::kInvalid);

  auto list = dir_->list_aliases();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].address, "@example.test");
  EXPECT_EQ((*list)[1].address, "Info@example.test");
  EXPECT_EQ((*list)[1].targets, (std::vector<std::string>{"alice@example.test", "x@remote.test"}));

  EXPECT_TRUE(dir_->delete_alias("INFO@example.test"));
  EXPECT_TRUE(dir_->delete_alias("@example.test"));
  EXPECT_EQ(error_code(dir_->delete_alias("info@example.test")), Errc::kNotFound);
  EXPECT_TRUE(dir_->list_aliases()->empty());
}

// ---- Resolution ----

TEST_F(SqliteDirectoryTest, ResolveAccountAndRemote) {
  const auto alice = add("alice@example.test");
  auto r = dir_->resolve("ALICE@example.TEST");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accounts, std::vector<auth::AccountId>{alice});
  EXPECT_TRUE(r->remote.empty());

  auto remote = dir_->resolve("Bob@Elsewhere.Test");
  ASSERT_TRUE(remote);
  EXPECT_TRUE(remote->accounts.empty());
  EXPECT_EQ(remote->remote, std::vector<std::string>{"Bob@elsewhere.test"});

  EXPECT_EQ(error_code(dir_->resolve("nobody@example.test")), Errc::kNotFound);
  EXPECT_EQ(error_code(dir_->resolve("not an address")), Errc::kInvalid);
}

TEST_F(SqliteDirectoryTest, ResolveAliasesRecursivelyAndDeduplicates) {
  const auto alice = add("alice@example.test");
  const auto bob = add("bob@example.test");
  ASSERT_TRUE(dir_->add_alias("team@example.test", {"alice@example.test", "bob@example.test"}));
  ASSERT_TRUE(dir_->add_alias("all@example.test", {"team@example.test", "alice@example.test", "ext@remote.test"}));
  auto r = dir_->resolve("all@example.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accounts, (std::vector<auth::AccountId>{alice, bob}));
  EXPECT_EQ(r->remote, std::vector<std::string>{"ext@remote.test"});
}

TEST_F(SqliteDirectoryTest, ResolveAliasLoops) {
  const auto alice = add("alice@example.test");
  ASSERT_TRUE(dir_->add_alias("a@example.test", {"b@example.test"}));
  ASSERT_TRUE(dir_->add_alias("b@example.test", {"a@example.test", "alice@example.test"}));
  auto r = dir_->resolve("a@example.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accounts, std::vector<auth::AccountId>{alice});
  // A loop that reaches nobody.
  ASSERT_TRUE(dir_->add_alias("x@example.test", {"y@example.test"}));
  ASSERT_TRUE(dir_->add_alias("y@example.test", {"x@example.test"}));
  EXPECT_EQ(error_code(dir_->resolve("x@example.test")), Errc::kNotFound);
  ASSERT_TRUE(dir_->add_alias("self@example.test", {"self@example.test"}));
  EXPECT_EQ(error_code(dir_->resolve("self@example.test")), Errc::kNotFound);
}

TEST_F(SqliteDirectoryTest, ResolveDepthLimit) {
  const auto alice = add("alice@example.test");
  // a0 -> a1 -> ... -> a9 -> alice: alice is 10 levels deep and still reached.
  for (int i = 0; i < 10; ++i) {
    const std::string target = i == 9 ? "alice@example.test" : "a" + std::to_string(i + 1) + "@example.test";
    ASSERT_TRUE(dir_->add_alias("a" + std::to_string(i) + "@example.test", {target}));
  }
  auto r = dir_->resolve("a0@example.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accounts, std::vector<auth::AccountId>{alice});
  // One more level in front: alice is 11 levels deep, expansion stops before her.
  ASSERT_TRUE(dir_->add_alias("top@example.test", {"a0@example.test"}));
  EXPECT_EQ(error_code(dir_->resolve("top@example.test")), Errc::kNotFound);
}

TEST_F(SqliteDirectoryTest, ResolveSubAddress) {
  const auto alice = add("alice@example.test");
  const auto bob = add("bob@example.test");
  const auto exact = add("carol+news@example.test");
  ASSERT_TRUE(dir_->add_alias("sales@example.test", {"bob@example.test"}));
  EXPECT_EQ(dir_->resolve("alice+lists@example.test")->accounts, std::vector<auth::AccountId>{alice});
  EXPECT_EQ(dir_->resolve("Alice+a+b@example.test")->accounts, std::vector<auth::AccountId>{alice});
  EXPECT_EQ(dir_->resolve("sales+q3@example.test")->accounts, std::vector<auth::AccountId>{bob});
  EXPECT_EQ(dir_->resolve("carol+news@example.test")->accounts, std::vector<auth::AccountId>{exact});
  EXPECT_EQ(error_code(dir_->resolve("carol+other@example.test")), Errc::kNotFound);
  EXPECT_EQ(error_code(dir_->resolve("+tag@example.test")), Errc::kNotFound);
}

TEST_F(SqliteDirectoryTest, ResolveCatchAll) {
  const auto alice = add("alice@example.test");
  const auto postmaster = add("postmaster@example.test");
  ASSERT_TRUE(dir_->add_alias("@example.test", {"postmaster@example.test"}));
  EXPECT_EQ(dir_->resolve("anything@example.test")->accounts, std::vector<auth::AccountId>{postmaster});
  EXPECT_EQ(dir_->resolve("alice@example.test")->accounts, std::vector<auth::AccountId>{alice});
  EXPECT_EQ(dir_->resolve("alice+x@example.test")->accounts, std::vector<auth::AccountId>{alice});
  // A catch-all pointing at a missing address does not loop.
  ASSERT_TRUE(dir_->add_domain("other.test"));
  ASSERT_TRUE(dir_->add_alias("@other.test", {"ghost@other.test"}));
  EXPECT_EQ(error_code(dir_->resolve("who@other.test")), Errc::kNotFound);
}

// ---- Persistence, schema, threads ----

TEST_F(SqliteDirectoryTest, PersistsAcrossReopen) {
  const auto alice = add("alice@example.test");
  ASSERT_TRUE(dir_->add_alias("info@example.test", {"alice@example.test"}));
  dir_.reset();
  auto opened = SqliteDirectory::open(tmp_.path() / "directory.db", pool_);
  ASSERT_TRUE(opened) << opened.error().message;
  SyncDirectory again(std::move(*opened));
  EXPECT_EQ(*again.list_domains(), std::vector<std::string>{"example.test"});
  EXPECT_EQ(again.find_account("alice@example.test")->id, alice);
  EXPECT_EQ(again.resolve("info@example.test")->accounts, std::vector<auth::AccountId>{alice});
}

TEST_F(SqliteDirectoryTest, RefusesNewerSchema) {
  dir_.reset();
  {
    auto db = Db::open(tmp_.path() / "directory.db", DbOptions{});
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("UPDATE schema_version SET version = 99"));
  }
  auto again = SqliteDirectory::open(tmp_.path() / "directory.db", pool_);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kInvalid);
}

TEST(SqliteDirectoryMemory, InMemoryDatabaseWorks) {
  BlockingPool pool(1);
  auto opened = SqliteDirectory::open(":memory:", pool);
  ASSERT_TRUE(opened);
  SyncDirectory d(std::move(*opened));
  ASSERT_TRUE(d.add_domain("example.test"));
  ASSERT_TRUE(d.add_account("u@example.test", "h", "", 0));
  EXPECT_TRUE(d.find_account("u@example.test"));
}

// Four threads call one directory at once; the blocking bodies run side by side on the pool's threads.
TEST_F(SqliteDirectoryTest, ConcurrentCallsAreSafe) {
  // The context the calls resume on is declared before the pool, so the pool (joined when it is
  // destroyed) is done with it first.
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  std::atomic<int> failures{0};
  std::size_t accounts = 0;
  {
    BlockingPool pool(4);
    auto opened = SqliteDirectory::open(tmp_.path() / "directory.db", pool);
    EXPECT_TRUE(opened);
    if (opened) {
      SqliteDirectory* dir = opened->get();
      auto call = [&io](auto task) { return boost::asio::co_spawn(io, std::move(task), boost::asio::use_future).get(); };
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < 25; ++i) {
            const std::string address = "u" + std::to_string(t) + "_" + std::to_string(i) + "@example.test";
            if (!call(dir->add_account(address, "h", "", 0))) failures++;
            if (!call(dir->resolve(address))) failures++;
          }
        });
      }
      for (auto& th : threads) th.join();
      auto all = call(dir->list_accounts());
      if (all) accounts = all->size();
      opened->reset();
    }
  }
  work.reset();
  runner.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(accounts, 100u);
}

}  // namespace
}  // namespace posthorn::store::sqlite
