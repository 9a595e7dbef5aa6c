#include "auth/throttle.hpp"

#include <gtest/gtest.h>

#include "auth/directory.hpp"

namespace posthorn::auth {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

config::Auth settings() {
  config::Auth s;
  s.throttle_free_failures = 3;
  s.throttle_base_delay = milliseconds(500);
  s.throttle_max_delay = milliseconds(8000);
  s.throttle_block_after = 10;
  s.throttle_window = seconds(900);
  s.throttle_block_duration = seconds(900);
  return s;
}

TEST(Throttle, FreeFailuresThenDoublingDelayCapped) {
  ManualClock clock;
  Throttle t(settings(), clock);
  EXPECT_EQ(t.record_failure("192.0.2.1", "alice@example.org"), milliseconds(0));
  EXPECT_EQ(t.record_failure("192.0.2.1", "alice@example.org"), milliseconds(0));
  EXPECT_EQ(t.record_failure("192.0.2.1", "alice@example.org"), milliseconds(0));
  EXPECT_EQ(t.record_failure("192.0.2.1", "alice@example.org"), milliseconds(500));
  EXPECT_EQ(t.record_failure("192.0.2.1", "alice@example.org"), milliseconds(1000));
  EXPECT_EQ(t.record_failure("192.0.2.1", "alice@example.org"), milliseconds(2000));
  EXPECT_EQ(t.record_failure("192.0.2.1", "alice@example.org"), milliseconds(4000));
  EXPECT_EQ(t.record_failure("192.0.2.1", "alice@example.org"), milliseconds(8000));
  EXPECT_EQ(t.record_failure("192.0.2.1", "alice@example.org"), milliseconds(8000));  // capped
  EXPECT_FALSE(t.blocked("192.0.2.1", "alice@example.org"));
}

TEST(Throttle, BlocksThePairAfterNFailuresUntilTheBlockEnds) {
  ManualClock clock;
  Throttle t(settings(), clock);
  for (int i = 0; i < 9; ++i) t.record_failure("192.0.2.1", "alice@example.org");
  EXPECT_FALSE(t.blocked("192.0.2.1", "alice@example.org"));
  t.record_failure("192.0.2.1", "alice@example.org");  // the 10th
  EXPECT_TRUE(t.blocked("192.0.2.1", "ALICE@example.org"));
  // Only that pair: another account from that IP, and that account from another IP, go on
  // (the account is never locked for everyone) [issue 28].
  EXPECT_FALSE(t.blocked("192.0.2.1", "bob@example.org"));
  EXPECT_FALSE(t.blocked("198.51.100.7", "alice@example.org"));

  clock.advance(seconds(899));
  EXPECT_TRUE(t.blocked("192.0.2.1", "alice@example.org"));
  clock.advance(seconds(2));
  EXPECT_FALSE(t.blocked("192.0.2.1", "alice@example.org"));
}

TEST(Throttle, BlocksTheIpAfterItsOwnLimitAcrossAccounts) {
  ManualClock clock;
  config::Auth s = settings();
  s.throttle_ip_block_after = 20;
  Throttle t(s, clock);
  for (int i = 0; i < 19; ++i) t.record_failure("192.0.2.1", "user" + std::to_string(i) + "@example.org");
  EXPECT_FALSE(t.blocked("192.0.2.1", "new@example.org"));
  t.record_failure("192.0.2.1", "user19@example.org");
  EXPECT_TRUE(t.blocked("192.0.2.1", "new@example.org"));
  EXPECT_TRUE(t.blocked("192.0.2.1", ""));
  EXPECT_FALSE(t.blocked("198.51.100.7", "user0@example.org"));
}

TEST(Throttle, AnAccountUnderAttackIsNeverBlockedOnlySlowed) {
  ManualClock clock;
  Throttle t(settings(), clock);
  // 1,000 failures from 1,000 addresses: each pair and each IP stays under its limit ...
  for (int i = 0; i < 1000; ++i) t.record_failure("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250), "alice@example.org");
  EXPECT_FALSE(t.blocked("192.0.2.1", "alice@example.org"));
  // ... but the account's count makes the next failure reply wait the longest delay.
  EXPECT_EQ(t.record_failure("192.0.2.1", "alice@example.org"), milliseconds(8000));
}

TEST(Throttle, FailuresOutsideTheWindowAreForgotten) {
  ManualClock clock;
  Throttle t(settings(), clock);
  for (int i = 0; i < 5; ++i) t.record_failure("192.0.2.1", "");
  EXPECT_EQ(t.size(), 1u);
  clock.advance(seconds(901));
  EXPECT_EQ(t.record_failure("192.0.2.1", ""), milliseconds(0));  // counts from one again
  clock.advance(seconds(901));
  EXPECT_FALSE(t.blocked("192.0.2.1", ""));
  EXPECT_EQ(t.size(), 0u);  // the stale entry was dropped on the lookup
}

TEST(Throttle, SuccessResetsThePairOnly) {
  ManualClock clock;
  Throttle t(settings(), clock);
  for (int i = 0; i < 6; ++i) t.record_failure("192.0.2.1", "alice@example.org");
  EXPECT_EQ(t.size(), 3u);
  t.record_success("192.0.2.1", "Alice@Example.org");
  EXPECT_EQ(t.size(), 2u);  // the IP's and the account's counts age out by themselves
  for (int i = 0; i < 9; ++i) t.record_failure("192.0.2.1", "alice@example.org");
  EXPECT_FALSE(t.blocked("192.0.2.1", "alice@example.org"));  // the pair counts from zero again
}

TEST(Throttle, DelayFollowsTheWorseKey) {
  ManualClock clock;
  Throttle t(settings(), clock);
  for (int i = 0; i < 4; ++i) t.record_failure("192.0.2.1", "");  // the IP is at 4
  EXPECT_EQ(t.record_failure("192.0.2.1", "new@example.org"), milliseconds(1000));  // IP at 5
}

TEST(Throttle, SizeIsBounded) {
  ManualClock clock;
  Throttle t(settings(), clock, 16);
  for (int i = 0; i < 100; ++i) {
    t.record_failure("10.0.0." + std::to_string(i), "");
    clock.advance(milliseconds(10));
    EXPECT_LE(t.size(), 16u);
  }
  // The newest survives; the oldest was evicted first.
  for (int i = 0; i < 3; ++i) t.record_failure("10.0.0.99", "");
  EXPECT_EQ(t.record_failure("10.0.0.99", ""), milliseconds(1000));
  EXPECT_EQ(t.record_failure("10.0.0.0", ""), milliseconds(0));
}

TEST(Throttle, EvictionPrefersExpiredEntries) {
  ManualClock clock;
  Throttle t(settings(), clock, 4);
  t.record_failure("10.0.0.1", "");
  clock.advance(seconds(1000));  // 10.0.0.1 is now outside the window
  for (int i = 0; i < 4; ++i) t.record_failure("10.0.0.2", "");
  t.record_failure("10.0.0.3", "");
  t.record_failure("10.0.0.4", "");
  t.record_failure("10.0.0.5", "");  // full: the expired 10.0.0.1 goes, nothing live
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.record_failure("10.0.0.2", ""), milliseconds(1000));  // kept its count
}

TEST(CredentialCache, HitMissTtlAndHashChange) {
  ManualClock clock;
  CredentialCache cache(seconds(300), clock);
  EXPECT_FALSE(cache.contains("alice@example.org", "{ARGON2ID}h1", "pw"));
  cache.insert("alice@example.org", "{ARGON2ID}h1", "pw");
  EXPECT_TRUE(cache.contains("alice@example.org", "{ARGON2ID}h1", "pw"));
  EXPECT_FALSE(cache.contains("alice@example.org", "{ARGON2ID}h1", "pW"));
  EXPECT_FALSE(cache.contains("alice@example.org", "{ARGON2ID}h2", "pw"));  // password changed
  EXPECT_FALSE(cache.contains("bob@example.org", "{ARGON2ID}h1", "pw"));
  // Field boundaries matter.
  EXPECT_FALSE(cache.contains("alice@example.org", "{ARGON2ID}h1p", "w"));

  clock.advance(seconds(299));
  EXPECT_TRUE(cache.contains("alice@example.org", "{ARGON2ID}h1", "pw"));
  clock.advance(seconds(2));
  EXPECT_FALSE(cache.contains("alice@example.org", "{ARGON2ID}h1", "pw"));
}

TEST(CredentialCache, ForgetAndReplace) {
  ManualClock clock;
  CredentialCache cache(seconds(300), clock);
  cache.insert("alice@example.org", "h", "pw");
  cache.forget("alice@example.org");
  EXPECT_FALSE(cache.contains("alice@example.org", "h", "pw"));
  cache.insert("alice@example.org", "h", "old");
  cache.insert("alice@example.org", "h", "new");
  EXPECT_FALSE(cache.contains("alice@example.org", "h", "old"));
  EXPECT_TRUE(cache.contains("alice@example.org", "h", "new"));
}

TEST(CredentialCache, ZeroTtlDisables) {
  ManualClock clock;
  CredentialCache cache(seconds(0), clock);
  cache.insert("alice@example.org", "h", "pw");
  EXPECT_FALSE(cache.contains("alice@example.org", "h", "pw"));
}

TEST(CredentialCache, BoundedEvictsOldest) {
  ManualClock clock;
  CredentialCache cache(seconds(300), clock, 3);
  for (int i = 0; i < 5; ++i) {
    cache.insert("u" + std::to_string(i), "h", "pw");
    clock.advance(seconds(1));
  }
  EXPECT_FALSE(cache.contains("u0", "h", "pw"));
  EXPECT_FALSE(cache.contains("u1", "h", "pw"));
  EXPECT_TRUE(cache.contains("u2", "h", "pw"));
  EXPECT_TRUE(cache.contains("u3", "h", "pw"));
  EXPECT_TRUE(cache.contains("u4", "h", "pw"));
}

// directory.hpp helpers live in this library too.
TEST(Directory, SplitAddress) {
  auto a = split_address("Alice.Smith@Example.ORG");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->local, "Alice.Smith");
  EXPECT_EQ(a->domain, "example.org");
  EXPECT_TRUE(split_address("x@localhost"));
  EXPECT_TRUE(split_address("j\xc3\xbcrgen@example.org"));  // UTF-8 local part
  for (const char* bad : {"", "@", "alice", "alice@", "@example.org", "al ice@example.org", "alice@exa mple.org",
                          "al\tice@example.org", "alice@@example.org", "alice@example..org", "alice@-example.org",
                          "alice@example.org."}) {
    EXPECT_FALSE(split_address(bad)) << bad;
  }
  EXPECT_TRUE(split_address(std::string(64, 'a') + "@example.org"));
  EXPECT_FALSE(split_address(std::string(65, 'a') + "@example.org"));
}

TEST(Directory, ValidDomain) {
  EXPECT_TRUE(is_valid_domain("example.org"));
  EXPECT_TRUE(is_valid_domain("MAIL.Example.ORG"));
  EXPECT_TRUE(is_valid_domain("xn--bcher-kva.example"));
  EXPECT_TRUE(is_valid_domain("a-b.c0"));
  EXPECT_TRUE(is_valid_domain("localhost"));
  for (const char* bad : {"", ".", "example.org.", ".example.org", "a..b", "-a.org", "a-.org", "a_b.org",
                          "exa mple.org", "[127.0.0.1]", "b\xc3\xbc" "cher.example"}) {
    EXPECT_FALSE(is_valid_domain(bad)) << bad;
  }
  EXPECT_TRUE(is_valid_domain(std::string(63, 'a') + ".org"));
  EXPECT_FALSE(is_valid_domain(std::string(64, 'a') + ".org"));
  std::string long_name;
  while (long_name.size() < 253) long_name += "abcdefghi.";
  long_name.resize(253);
  if (long_name.back() == '.') long_name.back() = 'x';
  EXPECT_TRUE(is_valid_domain(long_name));
  EXPECT_FALSE(is_valid_domain(long_name + "x"));
}

}  // namespace
}  // namespace posthorn::auth
