// The behavioural suite of an auth::Directory, run on every backend (issue 20: one parameterised
// suite, not a copy): domains and their deletion while in use, accounts and their errors, ids never
// reused, passwords, SCRAM and quotas, aliases and catch-alls, resolution (recursion, loops, the
// depth limit, sub-addresses, catch-alls), reopening. A backend's test file defines a
// DirectoryBackend and instantiates the suite:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, DirectoryContract, ::testing::Values(DirectoryParam{"sqlite", make}),
//                            directory_backend_name);
// Include this header in exactly one source file of a test binary (it defines the tests).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "auth/directory.hpp"
#include "base/blocking_pool.hpp"
#include "tests/harness/backend_context.hpp"
#include "tests/harness/drive.hpp"

namespace posthorn::auth::contract {

// One backend's data (a file, a database) for one test.
class DirectoryBackend {
 public:
  virtual ~DirectoryBackend() = default;
  // Opens a directory on this data; after the previous one was destroyed, the same data again.
  virtual Result<std::unique_ptr<Directory>> open() = 0;
};

using DirectoryParam = posthorn::testing::BackendParamOf<DirectoryBackend>;
inline std::string directory_backend_name(const ::testing::TestParamInfo<DirectoryParam>& info) {
  return info.param.name;
}

// A directory with every call run to completion on `io` (posthorn::testing::drive), so a check reads
// as one line.
class SyncDirectory {
 public:
  SyncDirectory(boost::asio::io_context& io, Directory& d) : io_(io), d_(d) {}
  template <class T>
  T run(boost::asio::awaitable<T> op) {
    return posthorn::testing::drive(io_, std::move(op));
  }
  Result<void> add_domain(std::string n) { return run(d_.add_domain(std::move(n))); }
  Result<void> delete_domain(std::string n) { return run(d_.delete_domain(std::move(n))); }
  Result<std::vector<std::string>> list_domains() { return run(d_.list_domains()); }
  Result<bool> is_local_domain(std::string n) { return run(d_.is_local_domain(std::move(n))); }
  Result<Account> add_account(std::string a, std::string hash, std::string scram, uint64_t quota) {
    return run(d_.add_account(std::move(a), std::move(hash), std::move(scram), quota));
  }
  Result<void> delete_account(std::string a) { return run(d_.delete_account(std::move(a))); }
  Result<void> set_password(std::string a, std::string hash, std::string scram) {
    return run(d_.set_password(std::move(a), std::move(hash), std::move(scram)));
  }
  Result<void> set_scram(AccountId id, std::string scram) { return run(d_.set_scram(id, std::move(scram))); }
  Result<void> set_quota(std::string a, uint64_t quota) { return run(d_.set_quota(std::move(a), quota)); }
  Result<Account> find_account(std::string a) { return run(d_.find_account(std::move(a))); }
  Result<std::vector<Account>> list_accounts() { return run(d_.list_accounts()); }
  Result<Account> find_account_by_id(AccountId id) { return run(d_.find_account_by_id(id)); }
  Result<void> add_alias(std::string a, std::vector<std::string> targets) {
    return run(d_.add_alias(std::move(a), std::move(targets)));
  }
  Result<void> delete_alias(std::string a) { return run(d_.delete_alias(std::move(a))); }
  Result<std::vector<Alias>> list_aliases() { return run(d_.list_aliases()); }
  Result<Resolved> resolve(std::string a) { return run(d_.resolve(std::move(a))); }
  Result<Account> import_account(Account a) { return run(d_.import_account(std::move(a))); }

 private:
  boost::asio::io_context& io_;
  Directory& d_;
};

inline Errc error_code(const Result<void>& r) { return r ? Errc{} : r.error().code; }
template <class T>
Errc error_code(const Result<T>& r) {
  return r ? Errc{} : r.error().code;
}

class DirectoryContract : public ::testing::TestWithParam<DirectoryParam> {
 protected:
  void SetUp() override {
    posthorn::testing::BackendContext context{io_, pool_, tmp_.path()};
    backend_ = GetParam().make(context);
    ASSERT_TRUE(backend_);
    reopen();
    ASSERT_TRUE(dir_->add_domain("example.test"));
  }
  void TearDown() override {
    dir_.reset();
    directory_.reset();
    backend_.reset();
  }

  // Closes the directory and opens the backend's data again.
  void reopen() {
    dir_.reset();
    directory_.reset();
    auto d = backend_->open();
    ASSERT_TRUE(d) << d.error().message;
    directory_ = std::move(*d);
    dir_ = std::make_unique<SyncDirectory>(io_, *directory_);
  }

  AccountId add(const std::string& address) {
    auto a = dir_->add_account(address, "{ARGON2ID}x", "", 0);
    EXPECT_TRUE(a) << address << ": " << a.error().message;
    return a ? a->id : 0;
  }

  posthorn::testing::TempDir tmp_{"posthorn_directory_contract"};
  // io_ outlives pool_: pool threads may drop completions bound to it until the pool has joined.
  boost::asio::io_context io_;
  BlockingPool pool_{2};
  std::unique_ptr<DirectoryBackend> backend_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<SyncDirectory> dir_;
};

// ---- Domains ----

TEST_P(DirectoryContract, Domains) {
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

TEST_P(DirectoryContract, DomainInUseCannotBeDeleted) {
  add("alice@example.test");
  EXPECT_EQ(error_code(dir_->delete_domain("example.test")), Errc::kConflict);
  ASSERT_TRUE(dir_->delete_account("alice@example.test"));
  ASSERT_TRUE(dir_->add_alias("@example.test", {"someone@remote.test"}));
  EXPECT_EQ(error_code(dir_->delete_domain("example.test")), Errc::kConflict);
  ASSERT_TRUE(dir_->delete_alias("@example.test"));
  EXPECT_TRUE(dir_->delete_domain("example.test"));
}

// ---- Accounts ----

TEST_P(DirectoryContract, AddAndFindAccount) {
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

  auto by_id = dir_->find_account_by_id(a->id);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->address, "Alice@example.test");
  EXPECT_EQ(by_id->quota_bytes, 1000u);
  EXPECT_EQ(error_code(dir_->find_account_by_id(a->id + 100)), Errc::kNotFound);
}

TEST_P(DirectoryContract, AddAccountErrors) {
  add("alice@example.test");
  EXPECT_EQ(error_code(dir_->add_account("ALICE@example.test", "h", "", 0)), Errc::kExists);
  EXPECT_EQ(error_code(dir_->add_account("bob@unknown.test", "h", "", 0)), Errc::kNotFound);
  for (const char* bad : {"alice", "@example.test", "a b@example.test", "a@", "a@bad domain", "a\t@example.test"}) {
    EXPECT_EQ(error_code(dir_->add_account(bad, "h", "", 0)), Errc::kInvalid) << bad;
  }
  EXPECT_EQ(error_code(dir_->add_account(std::string(65, 'x') + "@example.test", "h", "", 0)), Errc::kInvalid);
  EXPECT_TRUE(dir_->add_account(std::string(64, 'x') + "@example.test", "h", "", 0));
  EXPECT_EQ(error_code(dir_->add_account("q@example.test", "h", "", ~0ULL)), Errc::kInvalid);
  ASSERT_TRUE(dir_->add_alias("info@example.test", {"alice@example.test"}));
  EXPECT_EQ(error_code(dir_->add_account("Info@example.test", "h", "", 0)), Errc::kExists);
}

TEST_P(DirectoryContract, ListDeleteAndIdsAreNotReused) {
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

TEST_P(DirectoryContract, AccountsAreListedByDomainThenAddressIgnoringCase) {
  ASSERT_TRUE(dir_->add_domain("a.test"));
  add("Zed@example.test");
  add("bob@example.test");
  add("Carol@a.test");
  auto list = dir_->list_accounts();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].address, "Carol@a.test");
  EXPECT_EQ((*list)[1].address, "bob@example.test");
  EXPECT_EQ((*list)[2].address, "Zed@example.test");
}

TEST_P(DirectoryContract, PasswordScramAndQuota) {
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
  EXPECT_EQ(error_code(dir_->set_quota("not an address", 1)), Errc::kNotFound);
}

// ---- Aliases ----

TEST_P(DirectoryContract, Aliases) {
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
  EXPECT_EQ(error_code(dir_->delete_alias("not an address")), Errc::kNotFound);
  EXPECT_TRUE(dir_->list_aliases()->empty());
}

// ---- Resolution ----

TEST_P(DirectoryContract, ResolveAccountAndRemote) {
  const auto alice = add("alice@example.test");
  auto r = dir_->resolve("ALICE@example.TEST");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accounts, std::vector<AccountId>{alice});
  EXPECT_TRUE(r->remote.empty());

  auto remote = dir_->resolve("Bob@Elsewhere.Test");
  ASSERT_TRUE(remote);
  EXPECT_TRUE(remote->accounts.empty());
  EXPECT_EQ(remote->remote, std::vector<std::string>{"Bob@elsewhere.test"});

  EXPECT_EQ(error_code(dir_->resolve("nobody@example.test")), Errc::kNotFound);
  EXPECT_EQ(error_code(dir_->resolve("not an address")), Errc::kInvalid);
}

TEST_P(DirectoryContract, ResolveAliasesRecursivelyAndDeduplicates) {
  const auto alice = add("alice@example.test");
  const auto bob = add("bob@example.test");
  ASSERT_TRUE(dir_->add_alias("team@example.test", {"alice@example.test", "bob@example.test"}));
  ASSERT_TRUE(dir_->add_alias("all@example.test", {"team@example.test", "alice@example.test", "ext@remote.test"}));
  auto r = dir_->resolve("all@example.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accounts, (std::vector<AccountId>{alice, bob}));
  EXPECT_EQ(r->remote, std::vector<std::string>{"ext@remote.test"});
}

TEST_P(DirectoryContract, ResolveAliasLoops) {
  const auto alice = add("alice@example.test");
  ASSERT_TRUE(dir_->add_alias("a@example.test", {"b@example.test"}));
  ASSERT_TRUE(dir_->add_alias("b@example.test", {"a@example.test", "alice@example.test"}));
  auto r = dir_->resolve("a@example.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accounts, std::vector<AccountId>{alice});
  // A loop that reaches nobody.
  ASSERT_TRUE(dir_->add_alias("x@example.test", {"y@example.test"}));
  ASSERT_TRUE(dir_->add_alias("y@example.test", {"x@example.test"}));
  EXPECT_EQ(error_code(dir_->resolve("x@example.test")), Errc::kNotFound);
  ASSERT_TRUE(dir_->add_alias("self@example.test", {"self@example.test"}));
  EXPECT_EQ(error_code(dir_->resolve("self@example.test")), Errc::kNotFound);
}

TEST_P(DirectoryContract, ResolveDepthLimit) {
  const auto alice = add("alice@example.test");
  // a0 -> a1 -> ... -> a9 -> alice: alice is 10 levels deep and still reached.
  for (int i = 0; i < 10; ++i) {
    const std::string target = i == 9 ? "alice@example.test" : "a" + std::to_string(i + 1) + "@example.test";
    ASSERT_TRUE(dir_->add_alias("a" + std::to_string(i) + "@example.test", {target}));
  }
  auto r = dir_->resolve("a0@example.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accounts, std::vector<AccountId>{alice});
  // One more level in front: alice is 11 levels deep, expansion stops before her.
  ASSERT_TRUE(dir_->add_alias("top@example.test", {"a0@example.test"}));
  EXPECT_EQ(error_code(dir_->resolve("top@example.test")), Errc::kNotFound);
}

TEST_P(DirectoryContract, ResolveSubAddress) {
  const auto alice = add("alice@example.test");
  const auto bob = add("bob@example.test");
  const auto exact = add("carol+news@example.test");
  ASSERT_TRUE(dir_->add_alias("sales@example.test", {"bob@example.test"}));
  EXPECT_EQ(dir_->resolve("alice+lists@example.test")->accounts, std::vector<AccountId>{alice});
  EXPECT_EQ(dir_->resolve("Alice+a+b@example.test")->accounts, std::vector<AccountId>{alice});
  EXPECT_EQ(dir_->resolve("sales+q3@example.test")->accounts, std::vector<AccountId>{bob});
  EXPECT_EQ(dir_->resolve("carol+news@example.test")->accounts, std::vector<AccountId>{exact});
  EXPECT_EQ(error_code(dir_->resolve("carol+other@example.test")), Errc::kNotFound);
  EXPECT_EQ(error_code(dir_->resolve("+tag@example.test")), Errc::kNotFound);
}

TEST_P(DirectoryContract, ResolveCatchAll) {
  const auto alice = add("alice@example.test");
  const auto postmaster = add("postmaster@example.test");
  ASSERT_TRUE(dir_->add_alias("@example.test", {"postmaster@example.test"}));
  EXPECT_EQ(dir_->resolve("anything@example.test")->accounts, std::vector<AccountId>{postmaster});
  EXPECT_EQ(dir_->resolve("alice@example.test")->accounts, std::vector<AccountId>{alice});
  EXPECT_EQ(dir_->resolve("alice+x@example.test")->accounts, std::vector<AccountId>{alice});
  // A catch-all pointing at a missing address does not loop.
  ASSERT_TRUE(dir_->add_domain("other.test"));
  ASSERT_TRUE(dir_->add_alias("@other.test", {"ghost@other.test"}));
  EXPECT_EQ(error_code(dir_->resolve("who@other.test")), Errc::kNotFound);
}

// ---- Persistence ----

TEST_P(DirectoryContract, PersistsAcrossReopen) {
  const auto alice = add("alice@example.test");
  ASSERT_TRUE(dir_->add_alias("info@example.test", {"alice@example.test"}));
  reopen();
  EXPECT_EQ(*dir_->list_domains(), std::vector<std::string>{"example.test"});
  EXPECT_EQ(dir_->find_account("alice@example.test")->id, alice);
  EXPECT_EQ(dir_->resolve("info@example.test")->accounts, std::vector<AccountId>{alice});
}

// ---- Moving an installation (posthorn migrate) ----

TEST_P(DirectoryContract, ImportAccountKeepsCredentialsQuotaAndCreationTime) {
  const AccountId existing = add("first@example.test");
  Account given;
  given.id = 999;  // ignored: the target gives its own
  given.address = "Moved@Example.TEST";
  given.password_hash = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA";
  given.scram = "SCRAM-SHA-256$4096:c2FsdA==$a2V5$c2VydmVy";
  given.quota_bytes = 5000000;
  given.created_at = 1234567890;
  auto made = dir_->import_account(given);
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_GT(made->id, existing);
  EXPECT_EQ(made->address, "Moved@example.test");
  reopen();
  auto found = dir_->find_account("moved@example.test");
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->id, made->id);
  EXPECT_EQ(found->password_hash, given.password_hash);
  EXPECT_EQ(found->scram, given.scram);
  EXPECT_EQ(found->quota_bytes, given.quota_bytes);
  EXPECT_EQ(found->created_at, 1234567890);
  // The same rules as add_account.
  EXPECT_EQ(error_code(dir_->import_account(given)), Errc::kExists);
  given.address = "x@elsewhere.test";
  EXPECT_EQ(error_code(dir_->import_account(given)), Errc::kNotFound);
  given.address = "no-at-sign";
  EXPECT_EQ(error_code(dir_->import_account(given)), Errc::kInvalid);
}

}  // namespace posthorn::auth::contract
