#include "auth/sasl.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <map>
#include <mutex>
#include <set>

#include "auth/password.hpp"
#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "base/run_sync.hpp"
#include "tests/harness/drive.hpp"

namespace posthorn::auth {
namespace {

using Kind = SaslStep::Kind;

// A directory holding accounts in memory; enough of the interface for authentication. Its calls
// complete without a pool (as a backend on an asynchronous client would).
class TestDirectory final : public Directory {
 public:
  Task<void> add_domain(std::string name) override {
    std::lock_guard lock(mutex_);
    if (!is_valid_domain(name)) co_return make_error(Errc::kInvalid, "not a domain name");
    if (!domains_.insert(ascii::lower(name)).second) co_return make_error(Errc::kExists, "domain exists");
    co_return Result<void>();
  }
  Task<void> delete_domain(std::string name) override {
    std::lock_guard lock(mutex_);
    if (domains_.erase(ascii::lower(name)) == 0) co_return make_error(Errc::kNotFound, "no such domain");
    co_return Result<void>();
  }
  Task<std::vector<std::string>> list_domains() override {
    std::lock_guard lock(mutex_);
    co_return std::vector<std::string>(domains_.begin(), domains_.end());
  }
  Task<bool> is_local_domain(std::string name) override {
    std::lock_guard lock(mutex_);
    co_return domains_.contains(ascii::lower(name));
  }
  Task<Account> add_account(std::string address, std::string password_hash, std::string scram,
                            uint64_t quota_bytes) override {
    auto parts = split_address(address);
    if (!parts) co_return make_error(Errc::kInvalid, "malformed address");
    std::lock_guard lock(mutex_);
    if (!domains_.contains(parts->domain)) co_return make_error(Errc::kNotFound, "unknown domain");
    const std::string key = ascii::lower(address);
    if (accounts_.contains(key)) co_return make_error(Errc::kExists, "account exists");
    Account a;
    a.id = ++last_id_;
    a.address = parts->local + "@" + parts->domain;
    a.password_hash = std::string(password_hash);
    a.scram = std::string(scram);
    a.quota_bytes = quota_bytes;
    accounts_[key] = a;
    co_return a;
  }
  Task<void> delete_account(std::string address) override {
    std::lock_guard lock(mutex_);
    if (accounts_.erase(ascii::lower(address)) == 0) co_return make_error(Errc::kNotFound, "no such account");
    co_return Result<void>();
  }
  Task<void> set_password(std::string address, std::string password_hash, std::string scram) override {
    std::lock_guard lock(mutex_);
    auto it = accounts_.find(ascii::lower(address));
    if (it == accounts_.end()) co_return make_error(Errc::kNotFound, "no such account");
    it->second.password_hash = std::string(password_hash);
    it->second.scram = std::string(scram);
    co_return Result<void>();
  }
  Task<void> set_scram(AccountId id, std::string scram) override {
    std::lock_guard lock(mutex_);
    for (auto& [key, a] : accounts_) {
      if (a.id == id) {
        a.scram = std::string(scram);
        co_return Result<void>();
      }
    }
    co_return make_error(Errc::kNotFound, "no such account");
  }
  Task<void> set_quota(std::string address, uint64_t quota_bytes) override {
    std::lock_guard lock(mutex_);
    auto it = accounts_.find(ascii::lower(address));
    if (it == accounts_.end()) co_return make_error(Errc::kNotFound, "no such account");
    it->second.quota_bytes = quota_bytes;
    co_return Result<void>();
  }
  Task<Account> find_account(std::string address) override {
    std::lock_guard lock(mutex_);
    if (fail_lookups_) co_return make_error(Errc::kInternal, "directory offline");
    auto it = accounts_.find(ascii::lower(address));
    if (it == accounts_.end()) co_return make_error(Errc::kNotFound, "no such account");
    co_return it->second;
  }
  Task<std::vector<Account>> list_accounts() override {
    std::lock_guard lock(mutex_);
    std::vector<Account> out;
    for (const auto& [key, a] : accounts_) out.push_back(a);
    co_return out;
  }
  // Aliases do not take part in authentication.
  Task<void> add_alias(std::string, std::vector<std::string>) override {
    co_return make_error(Errc::kDenied, "aliases are not supported by the test directory");
  }
  Task<void> delete_alias(std::string) override { co_return make_error(Errc::kNotFound, "no such alias"); }
  Task<std::vector<Alias>> list_aliases() override { co_return std::vector<Alias>{}; }
  Task<Resolved> resolve(std::string address) override {
    auto task = find_account(std::move(address));
    auto found = co_await std::move(task);
    if (!found) co_return found.error();
    co_return Resolved{{found->id}, {}};
  }
  Task<Account> import_account(Account account) override {
    return add_account(account.address, account.password_hash, account.scram, account.quota_bytes);
  }

  std::string scram_of(std::string_view address) {
    std::lock_guard lock(mutex_);
    return accounts_.at(ascii::lower(address)).scram;
  }
  void set_failing(bool fail) {
    std::lock_guard lock(mutex_);
    fail_lookups_ = fail;
  }

 private:
  std::mutex mutex_;
  std::set<std::string> domains_;
  std::map<std::string, Account> accounts_;
  AccountId last_id_ = 0;
  bool fail_lookups_ = false;
};

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// A SCRAM-SHA-256 client written from RFC 5802 §3, independent of the server code.
struct ScramClient {
  ScramClient(std::string u, std::string p) : user(std::move(u)), password(std::move(p)) {}
  std::string user;
  std::string password;
  std::string gs2 = "n,,";
  std::string cbind_data;  // appended to gs2 in c= for -PLUS
  std::string cnonce = "fyko+d2lbbFgONRv9qkxdawL";
  std::string first_bare;
  std::string expected_server_final;

  std::string first() {
    first_bare = "n=" + user + ",r=" + cnonce;
    return gs2 + first_bare;
  }
  std::string final_message(const std::string& server_first) {
    std::string nonce;
    std::string salt;
    uint32_t iterations = 0;
    for (std::string_view f : ascii::split(server_first, ',')) {
      if (f.starts_with("r=")) nonce = std::string(f.substr(2));
      if (f.starts_with("s=")) salt = base64::decode(f.substr(2)).value_or("");
      if (f.starts_with("i=")) iterations = uint32_t(std::stoul(std::string(f.substr(2))));
    }
    unsigned char salted[32];
    PKCS5_PBKDF2_HMAC(password.data(), int(password.size()), reinterpret_cast<const unsigned char*>(salt.data()),
                      int(salt.size()), int(iterations), EVP_sha256(), sizeof(salted), salted);
    const std::string_view sp(reinterpret_cast<char*>(salted), sizeof(salted));
    const std::string client_key = hmac(sp, "Client Key");
    unsigned char stored[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(client_key.data()), client_key.size(), stored);
    const std::string without_proof = "c=" + base64::encode(gs2 + cbind_data) + ",r=" + nonce;
    const std::string auth_message = first_bare + "," + server_first + "," + without_proof;
    const std::string signature = hmac(std::string_view(reinterpret_cast<char*>(stored), 32), auth_message);
    std::string proof(32, '\0');
    for (size_t i = 0; i < 32; ++i) proof[i] = char(client_key[i] ^ signature[i]);
    expected_server_final = "v=" + base64::encode(hmac(hmac(sp, "Server Key"), auth_message));
    return without_proof + ",p=" + base64::encode(proof);
  }
};

constexpr const char* kUser = "alice@example.org";
constexpr const char* kPassword = "correct horse battery";

class SaslTest : public ::testing::Test {
 protected:
  SaslTest() : pool_(2), guard_(boost::asio::make_work_guard(io_)) {
    settings_.argon2.memory_kib = 64;
    settings_.argon2.iterations = 1;
    settings_.argon2.parallelism = 1;
    settings_.scram_iterations = 256;
    settings_.throttle_free_failures = 3;
    settings_.throttle_base_delay = std::chrono::milliseconds(1);
    settings_.throttle_max_delay = std::chrono::milliseconds(4);
    settings_.throttle_block_after = 6;
    EXPECT_TRUE(run_sync(directory_.add_domain("example.org")));
    auto hashed = hash_password(kPassword, settings_.argon2);
    EXPECT_TRUE(hashed);
    auto added = run_sync(directory_.add_account(kUser, *hashed, "", 0));
    EXPECT_TRUE(added);
    account_id_ = added->id;
    auth_ = std::make_unique<Authenticator>(directory_, pool_, settings_, clock_);
  }

  template <class T>
  T run(boost::asio::awaitable<T> op) {
    return posthorn::testing::drive(io_, std::move(op));
  }

  static AuthContext tls_ctx() {
    AuthContext ctx;
    ctx.protocol = Proto::kImap;
    ctx.connection_id = "c1";
    ctx.remote_ip = "192.0.2.10";
    ctx.tls = true;
    return ctx;
  }
  static AuthContext plain_ctx() {
    AuthContext ctx = tls_ctx();
    ctx.tls = false;
    return ctx;
  }
  static std::string plain_message(std::string_view user, std::string_view password, std::string_view authzid = "") {
    std::string m(authzid);
    m += '\0';
    m += user;
    m += '\0';
    m += password;
    return m;
  }

  SaslStep plain_login(const AuthContext& ctx, std::string_view user, std::string_view password) {
    SaslExchange ex(*auth_, ctx);
    return run(ex.start("PLAIN", plain_message(user, password)));
  }

  // Runs a whole SCRAM exchange with the given client and returns the last step.
  SaslStep scram_login(const AuthContext& ctx, ScramClient client, std::string mechanism = "SCRAM-SHA-256") {
    SaslExchange ex(*auth_, ctx);
    SaslStep s = run(ex.start(mechanism, std::nullopt));
    if (s.kind != Kind::kChallenge) return s;
    EXPECT_EQ(s.challenge, "");
    s = run(ex.respond(client.first()));
    if (s.kind != Kind::kChallenge) return s;
    s = run(ex.respond(client.final_message(s.challenge)));
    if (s.kind != Kind::kChallenge) return s;
    EXPECT_EQ(s.challenge, client.expected_server_final);
    return run(ex.respond(""));
  }

  ManualClock clock_;
  config::Auth settings_;
  TestDirectory directory_;
  // io_ outlives pool_: pool threads may drop completions bound to it until the pool has joined.
  boost::asio::io_context io_;
  BlockingPool pool_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::unique_ptr<Authenticator> auth_;
  AccountId account_id_ = 0;
};

TEST_F(SaslTest, MechanismsDependOnTheConnection) {
  AuthContext ctx = tls_ctx();
  ctx.tls_exporter = std::string(32, 'e');
  EXPECT_EQ(sasl_mechanisms(*auth_, ctx),
            (std::vector<std::string>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN", "LOGIN"}));
  EXPECT_EQ(sasl_mechanisms(*auth_, tls_ctx()), (std::vector<std::string>{"SCRAM-SHA-256", "PLAIN", "LOGIN"}));
  EXPECT_EQ(sasl_mechanisms(*auth_, plain_ctx()), (std::vector<std::string>{"SCRAM-SHA-256"}));

  AuthContext loopback = plain_ctx();
  loopback.loopback = true;
  EXPECT_EQ(sasl_mechanisms(*auth_, loopback), (std::vector<std::string>{"SCRAM-SHA-256"}));
  settings_.allow_plaintext_on_loopback = true;
  Authenticator lenient(directory_, pool_, settings_, clock_);
  EXPECT_EQ(sasl_mechanisms(lenient, loopback), (std::vector<std::string>{"SCRAM-SHA-256", "PLAIN", "LOGIN"}));
}

TEST_F(SaslTest, PlainSucceeds) {
  const uint64_t before = Metrics::global().auth_successes(Proto::kImap);
  SaslStep s = plain_login(tls_ctx(), kUser, kPassword);
  ASSERT_EQ(s.kind, Kind::kSuccess) << s.error.message;
  EXPECT_EQ(s.principal.address, kUser);
  EXPECT_EQ(s.principal.account, account_id_);
  EXPECT_EQ(Metrics::global().auth_successes(Proto::kImap), before + 1);
  // Case-insensitive lookup; the principal carries the stored address.
  s = plain_login(tls_ctx(), "Alice@Example.ORG", kPassword);
  ASSERT_EQ(s.kind, Kind::kSuccess) << s.error.message;
  EXPECT_EQ(s.principal.address, kUser);
}

TEST_F(SaslTest, PlainWrongPasswordAndUnknownUserLookTheSame) {
  const uint64_t before = Metrics::global().auth_failures(Proto::kImap);
  SaslStep wrong = plain_login(tls_ctx(), kUser, "incorrect horse");
  SaslStep unknown = plain_login(tls_ctx(), "mallory@example.org", kPassword);
  ASSERT_EQ(wrong.kind, Kind::kFailure);
  ASSERT_EQ(unknown.kind, Kind::kFailure);
  EXPECT_EQ(wrong.error.code, Errc::kDenied);
  EXPECT_EQ(wrong.error, unknown.error);
  EXPECT_EQ(Metrics::global().auth_failures(Proto::kImap), before + 2);
}

TEST_F(SaslTest, PlainWithEmptyInitialResponseAsksForCredentials) {
  SaslExchange ex(*auth_, tls_ctx());
  SaslStep s = run(ex.start("plain", std::string()));
  ASSERT_EQ(s.kind, Kind::kChallenge);
  EXPECT_EQ(s.challenge, "");
  s = run(ex.respond(plain_message(kUser, kPassword, kUser)));  // authzid == authcid is fine
  ASSERT_EQ(s.kind, Kind::kSuccess) << s.error.message;
  // The exchange is over.
  s = run(ex.respond("more"));
  EXPECT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kInvalid);
}

TEST_F(SaslTest, PlainRejectsProxyAuthAndMalformedMessages) {
  SaslExchange proxy(*auth_, tls_ctx());
  SaslStep s = run(proxy.start("PLAIN", plain_message(kUser, kPassword, "bob@example.org")));
  ASSERT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kDenied);

  for (const std::string& bad : {std::string("alice"), std::string("\0alice", 6), plain_message("", "pw"),
                                 plain_message(kUser, ""), plain_message(kUser, "pw") + std::string("\0x", 2)}) {
    SaslExchange ex(*auth_, tls_ctx());
    s = run(ex.start("PLAIN", bad));
    ASSERT_EQ(s.kind, Kind::kFailure);
    EXPECT_EQ(s.error.code, Errc::kInvalid);
  }
}

TEST_F(SaslTest, LoginMechanism) {
  SaslExchange ex(*auth_, tls_ctx());
  SaslStep s = run(ex.start("LOGIN", std::nullopt));
  ASSERT_EQ(s.kind, Kind::kChallenge);
  EXPECT_EQ(s.challenge, "Username:");
  s = run(ex.respond(kUser));
  ASSERT_EQ(s.kind, Kind::kChallenge);
  EXPECT_EQ(s.challenge, "Password:");
  s = run(ex.respond(kPassword));
  ASSERT_EQ(s.kind, Kind::kSuccess) << s.error.message;
  EXPECT_EQ(s.principal.address, kUser);

  SaslExchange ir(*auth_, tls_ctx());  // username as the initial response
  s = run(ir.start("login", std::string(kUser)));
  ASSERT_EQ(s.kind, Kind::kChallenge);
  EXPECT_EQ(s.challenge, "Password:");
  s = run(ir.respond("wrong"));
  ASSERT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kDenied);
}

TEST_F(SaslTest, PlaintextNeedsEncryption) {
  for (const char* mech : {"PLAIN", "LOGIN"}) {
    SaslExchange ex(*auth_, plain_ctx());
    SaslStep s = run(ex.start(mech, plain_message(kUser, kPassword)));
    ASSERT_EQ(s.kind, Kind::kFailure);
    EXPECT_EQ(s.error.code, Errc::kDenied);
    EXPECT_EQ(s.error.message, "encryption required");
  }
  // Loopback is enough when the configuration allows it.
  settings_.allow_plaintext_on_loopback = true;
  Authenticator lenient(directory_, pool_, settings_, clock_);
  AuthContext loopback = plain_ctx();
  loopback.loopback = true;
  SaslExchange ex(lenient, loopback);
  SaslStep s = run(ex.start("PLAIN", plain_message(kUser, kPassword)));
  EXPECT_EQ(s.kind, Kind::kSuccess) << s.error.message;
}

TEST_F(SaslTest, UnknownMechanism) {
  for (const char* mech : {"CRAM-MD5", "SCRAM-SHA-1", "", "SCRAM-SHA-256-PLUS"}) {  // -PLUS needs TLS
    SaslExchange ex(*auth_, plain_ctx());
    SaslStep s = run(ex.start(mech, std::nullopt));
    ASSERT_EQ(s.kind, Kind::kFailure) << mech;
    EXPECT_EQ(s.error.code, Errc::kNotFound) << mech;
  }
}

TEST_F(SaslTest, ScramWorksAfterFirstPlainLogin) {
  ScramClient client{kUser, kPassword};
  // An imported account has only its password hash: SCRAM cannot succeed yet.
  SaslStep s = scram_login(plain_ctx(), client);
  ASSERT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kDenied);
  EXPECT_EQ(directory_.scram_of(kUser), "");

  ASSERT_EQ(plain_login(tls_ctx(), kUser, kPassword).kind, Kind::kSuccess);
  auto stored = ScramCredentials::parse(directory_.scram_of(kUser));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->iterations, 256u);

  s = scram_login(plain_ctx(), client);  // SCRAM needs no TLS
  ASSERT_EQ(s.kind, Kind::kSuccess) << s.error.message;
  EXPECT_EQ(s.principal.address, kUser);
  EXPECT_EQ(s.principal.account, account_id_);
}

TEST_F(SaslTest, ScramWrongPasswordAndUnknownUser) {
  ASSERT_TRUE(run_sync(directory_.set_scram(account_id_, make_scram_credentials(kPassword, "0123456789abcdef", 256).serialize())));
  SaslStep wrong = scram_login(plain_ctx(), ScramClient{kUser, "nope"});
  ASSERT_EQ(wrong.kind, Kind::kFailure);
  EXPECT_EQ(wrong.error.code, Errc::kDenied);

  SaslStep unknown = scram_login(plain_ctx(), ScramClient{"nobody@example.org", kPassword});
  ASSERT_EQ(unknown.kind, Kind::kFailure);
  EXPECT_EQ(unknown.error, wrong.error);

  // The made-up salt for an unknown name is stable, so probing twice reveals nothing.
  auto first_salt = [&](const std::string& user) {
    SaslExchange ex(*auth_, plain_ctx());
    SaslStep s = run(ex.start("SCRAM-SHA-256", "n,,n=" + user + ",r=abc"));
    EXPECT_EQ(s.kind, Kind::kChallenge);
    return s.challenge.substr(s.challenge.find(",s="));
  };
  EXPECT_EQ(first_salt("ghost@example.org"), first_salt("ghost@example.org"));
  EXPECT_NE(first_salt("ghost@example.org"), first_salt("phantom@example.org"));
}

TEST_F(SaslTest, ScramPlusBindsToTheConnection) {
  ASSERT_TRUE(run_sync(directory_.set_scram(account_id_, make_scram_credentials(kPassword, "0123456789abcdef", 256).serialize())));
  AuthContext ctx = tls_ctx();
  ctx.tls_exporter = std::string(32, '\x5a');
  ScramClient client{kUser, kPassword};
  client.gs2 = "p=tls-exporter,,";
  client.cbind_data = ctx.tls_exporter;
  SaslStep s = scram_login(ctx, client, "SCRAM-SHA-256-PLUS");
  ASSERT_EQ(s.kind, Kind::kSuccess) << s.error.message;

  // A relayed exchange carries the other connection's exporter.
  client.cbind_data = std::string(32, '\x5b');
  s = scram_login(ctx, client, "SCRAM-SHA-256-PLUS");
  ASSERT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kDenied);

  // Plain SCRAM with "y" on a connection that offered -PLUS: a downgrade.
  ScramClient downgraded{kUser, kPassword};
  downgraded.gs2 = "y,,";
  s = scram_login(ctx, downgraded);
  ASSERT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kInvalid);
}

TEST_F(SaslTest, ScramFinalAcknowledgementMustBeEmpty) {
  ASSERT_TRUE(run_sync(directory_.set_scram(account_id_, make_scram_credentials(kPassword, "0123456789abcdef", 256).serialize())));
  ScramClient client{kUser, kPassword};
  SaslExchange ex(*auth_, tls_ctx());
  SaslStep s = run(ex.start("SCRAM-SHA-256", client.first()));  // SASL-IR
  ASSERT_EQ(s.kind, Kind::kChallenge);
  s = run(ex.respond(client.final_message(s.challenge)));
  ASSERT_EQ(s.kind, Kind::kChallenge);
  EXPECT_EQ(s.challenge, client.expected_server_final);
  s = run(ex.respond("unexpected"));
  ASSERT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kInvalid);
}

TEST_F(SaslTest, ScramMalformedIsInvalid) {
  SaslExchange ex(*auth_, tls_ctx());
  SaslStep s = run(ex.start("SCRAM-SHA-256", std::string("n,,n=al=ice,r=abc")));
  ASSERT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kInvalid);
}

TEST_F(SaslTest, ThrottleBlocksEvenTheRightPassword) {
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(plain_login(tls_ctx(), kUser, "guess" + std::to_string(i)).error.code, Errc::kDenied);
  }
  SaslStep s = plain_login(tls_ctx(), kUser, kPassword);
  ASSERT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kUnavailable);
  // SCRAM is throttled too.
  s = scram_login(tls_ctx(), ScramClient{kUser, kPassword});
  ASSERT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kUnavailable);

  clock_.advance(settings_.throttle_block_duration + std::chrono::seconds(1));
  s = plain_login(tls_ctx(), kUser, kPassword);
  EXPECT_EQ(s.kind, Kind::kSuccess) << s.error.message;
}

TEST_F(SaslTest, DirectoryFailureIsInternal) {
  directory_.set_failing(true);
  SaslStep s = plain_login(tls_ctx(), kUser, kPassword);
  ASSERT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kInternal);
  s = scram_login(tls_ctx(), ScramClient{kUser, kPassword});
  ASSERT_EQ(s.kind, Kind::kFailure);
  EXPECT_EQ(s.error.code, Errc::kInternal);
}

TEST_F(SaslTest, CachedLoginStillChecksThePassword) {
  ASSERT_EQ(plain_login(tls_ctx(), kUser, kPassword).kind, Kind::kSuccess);
  ASSERT_EQ(plain_login(tls_ctx(), kUser, kPassword).kind, Kind::kSuccess);  // from the cache
  EXPECT_EQ(plain_login(tls_ctx(), kUser, "wrong").error.code, Errc::kDenied);
  // A new password hash invalidates the cached entry.
  auto rehashed = hash_password("new password", settings_.argon2);
  ASSERT_TRUE(rehashed);
  ASSERT_TRUE(run_sync(directory_.set_password(kUser, *rehashed, "")));
  EXPECT_EQ(plain_login(tls_ctx(), kUser, kPassword).error.code, Errc::kDenied);
  EXPECT_EQ(plain_login(tls_ctx(), kUser, "new password").kind, Kind::kSuccess);
}

}  // namespace
}  // namespace posthorn::auth
