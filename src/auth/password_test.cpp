#include "auth/password.hpp"

#include <crypt.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace posthorn::auth {
namespace {

config::Argon2 cheap() {
  config::Argon2 p;
  p.memory_kib = 64;
  p.iterations = 1;
  p.parallelism = 1;
  return p;
}

// Made at authoring time with `openssl passwd -6 -salt Dovecot1 'Tr0ub4dor&3'`, `openssl passwd -5 ...`
// and python3's crypt module (libxcrypt) for the rounds= and bcrypt forms.
constexpr const char* kPassword = "Tr0ub4dor&3";
constexpr const char* kSha512 =
    "{SHA512-CRYPT}$6$Dovecot1$qppz5wimOkIO1AL.OmuMb2PSLfZti2k95nfXQv6dCNZyIUKe1qOKd6jDdwcQSnfYo5G12z9shbTW.AD8K/"
    "LMD.";
constexpr const char* kSha512Rounds =
    "{SHA512-CRYPT}$6$rounds=10000$saltysalt$pgZ9gGtlkJf2SziZrxa5NmcLcY72XojMAFgXo1.4qkh/Qx1keEk61/"
    "R9IJJMURUlrD67/Js/fNR.wOrIKkZRU1";
constexpr const char* kSha256 = "{SHA256-CRYPT}$5$Dovecot1$F2m1MwrdT9rzGgIluRMKlqWCFpZ.ivxqC7oNPaS03d/";
constexpr const char* kBlf2y = "{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuujyowYzwa5GTkdJQ1hID4j4yIozDs7U.";
constexpr const char* kBlf2b = "{BLF-CRYPT}$2b$04$ABCDEFGHIJKLMNOPQRSTUuhltEf./Oo.2MSkgiC7EHd49gF3w.5c2";
constexpr const char* kBlf2a = "{BLF-CRYPT}$2a$04$zyxwvutsrqponmlkjihgfeg.lInU6gInSQ/Pb6CB0gKkxthPvNlDe";
// Reference vectors (password "password", salt "somesalt") from the Argon2 reference test suite.
constexpr const char* kArgon2id = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
constexpr const char* kArgon2i = "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8";

std::string crypt_hash(const char* prefix, unsigned long count, const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, count, nullptr, 0, setting, sizeof(setting)), nullptr);
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_r(password.c_str(), setting, data.get());
  EXPECT_NE(out, nullptr);
  return out;
}

TEST(Password, Argon2idRoundTrip) {
  auto hashed = hash_password("correct horse", cheap());
  ASSERT_TRUE(hashed) << hashed.error().message;
  EXPECT_TRUE(hashed->starts_with("{ARGON2ID}$argon2id$v=19$m=64,t=1,p=1$")) << *hashed;
  EXPECT_TRUE(is_supported_hash(*hashed));
  EXPECT_TRUE(verify_password(*hashed, "correct horse"));
  EXPECT_FALSE(verify_password(*hashed, "correct horsE"));
  EXPECT_FALSE(verify_password(*hashed, ""));
  // Fresh salt each time.
  auto again = hash_password("correct horse", cheap());
  ASSERT_TRUE(again);
  EXPECT_NE(*hashed, *again);
}

TEST(Password, Argon2BinaryPasswordAndEmpty) {
  const std::string binary("a\0b", 3);
  auto hashed = hash_password(binary, cheap());
  ASSERT_TRUE(hashed);
  EXPECT_TRUE(verify_password(*hashed, binary));
  EXPECT_FALSE(verify_password(*hashed, "a"));
}

TEST(Password, Argon2BadParamsIsError) {
  config::Argon2 p = cheap();
  p.memory_kib = 1;  // below libargon2's minimum (8 KiB per lane)
  auto hashed = hash_password("x", p);
  ASSERT_FALSE(hashed);
  EXPECT_EQ(hashed.error().code, Errc::kInvalid);
}

TEST(Password, Argon2ReferenceVectors) {
  EXPECT_TRUE(verify_password(kArgon2id, "password"));  // prefix-less form
  EXPECT_TRUE(verify_password(std::string("{ARGON2ID}") + kArgon2id, "password"));
  EXPECT_TRUE(verify_password(std::string("{argon2id}") + kArgon2id, "password"));
  EXPECT_FALSE(verify_password(std::string("{ARGON2ID}") + kArgon2id, "passwore"));
  EXPECT_TRUE(verify_password(std::string("{ARGON2I}") + kArgon2i, "password"));
  EXPECT_TRUE(verify_password(kArgon2i, "password"));
  EXPECT_FALSE(verify_password(kArgon2i, "Password"));
  // Scheme and body must agree.
  EXPECT_FALSE(verify_password(std::string("{ARGON2I}") + kArgon2id, "password"));
  EXPECT_FALSE(verify_password(std::string("{ARGON2ID}") + kArgon2i, "password"));
}

// Made with libargon2 (the production-size one also verified with libsodium): two lanes, version
// 0x10 with and without its "v=" field, and the default 19 MiB cost, whose working memory comes
// from the huge-page mapping.
TEST(Password, Argon2LanesVersionsAndProductionCost) {
  EXPECT_TRUE(verify_password(
      "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHRzb21lc2FsdA$wRLS7mudUUQT+AYkMYeVIYbo8Zysq4DyCoI9VJ8RHSw", "password"));
  EXPECT_FALSE(verify_password(
      "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHRzb21lc2FsdA$wRLS7mudUUQT+AYkMYeVIYbo8Zysq4DyCoI9VJ8RHSw", "passwort"));
  EXPECT_TRUE(verify_password("$argon2id$v=16$m=256,t=2,p=1$c29tZXNhbHQ$2gcOV25Q8vOKPIl8vdxsf7QCjocJcf+erntOGHkpXm4",
                              "password"));
  EXPECT_TRUE(
      verify_password("$argon2id$m=256,t=2,p=1$c29tZXNhbHQ$2gcOV25Q8vOKPIl8vdxsf7QCjocJcf+erntOGHkpXm4", "password"));
  // The same hash claimed as version 0x13 is a different computation.
  EXPECT_FALSE(verify_password("$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$2gcOV25Q8vOKPIl8vdxsf7QCjocJcf+erntOGHkpXm4",
                               "password"));
  const std::string production =
      "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$cG9zdGhvcm5zYWx0c2FsdA$y7qweJkk3MSb16YnDVzrCma4hX1nR7zqMJ2UQzNiEzg";
  EXPECT_TRUE(verify_password(production, "correct horse"));
  EXPECT_FALSE(verify_password(production, "correct horsf"));
}

TEST(Password, KnownCryptVectors) {
  for (const char* stored : {kSha512, kSha512Rounds, kSha256, kBlf2y, kBlf2b, kBlf2a}) {
    SCOPED_TRACE(stored);
    EXPECT_TRUE(is_supported_hash(stored));
    EXPECT_TRUE(verify_password(stored, kPassword));
    EXPECT_FALSE(verify_password(stored, "Tr0ub4dor&4"));
    EXPECT_FALSE(verify_password(stored, ""));
  }
}

TEST(Password, SchemePrefixIsCaseInsensitive) {
  EXPECT_TRUE(verify_password(std::string("{sha512-crypt}") + (kSha512 + 14), kPassword));
  EXPECT_TRUE(verify_password(std::string("{Blf-Crypt}") + (kBlf2y + 11), kPassword));
}

TEST(Password, GeneratedCryptHashes) {
  const std::string pw = "s3cret pass";
  const std::string sha512 = "{SHA512-CRYPT}" + crypt_hash("$6$", 5000, pw);
  const std::string sha256 = "{SHA256-CRYPT}" + crypt_hash("$5$", 5000, pw);
  const std::string bcrypt = "{BLF-CRYPT}" + crypt_hash("$2b$", 4, pw);
  for (const std::string& stored : {sha512, sha256, bcrypt}) {
    SCOPED_TRACE(stored);
    EXPECT_TRUE(is_supported_hash(stored));
    EXPECT_TRUE(verify_password(stored, pw));
    EXPECT_FALSE(verify_password(stored, "s3cret pasS"));
  }
}

TEST(Password, WrongSchemeForBody) {
  // A $5$ body under the SHA512-CRYPT label is malformed, never verified.
  EXPECT_FALSE(verify_password(std::string("{SHA512-CRYPT}") + (kSha256 + 14), kPassword));
  EXPECT_FALSE(verify_password(std::string("{SHA256-CRYPT}") + (kBlf2y + 11), kPassword));
}

TEST(Password, MalformedNeverMatches) {
  const std::vector<std::string> bad = {
      "",
      "{",
      "{}",
      "{PLAIN}Tr0ub4dor&3",
      "{CRYPT}abc",
      "{MD5-CRYPT}$1$abc$def",
      "Tr0ub4dor&3",
      "{SHA512-CRYPT}",
      "{SHA512-CRYPT}$6$",
      "{SHA512-CRYPT}$6$Dovecot1$short",
      "{SHA512-CRYPT}$6$Dovecot1$qppz5wimOkIO1AL.OmuMb2PSLfZti2k95nfXQv6dCNZyIUKe1qOKd6jDdwcQSnfYo5G12z9shbTW.AD8K/LMD",
      "{SHA512-CRYPT}$6$rounds=5$Dovecot1$qppz5wimOkIO1AL.OmuMb2PSLfZti2k95nfXQv6dCNZyIUKe1qOKd6jDdwcQSnfYo5G12z9shbTW.AD8K/LMD.",
      "{SHA256-CRYPT}$5$Dove cot$F2m1MwrdT9rzGgIluRMKlqWCFpZ.ivxqC7oNPaS03d/",
      "{BLF-CRYPT}$2y$5$abcdefghijklmnopqrstuujyowYzwa5GTkdJQ1hID4j4yIozDs7U.",
      "{BLF-CRYPT}$2y$03$abcdefghijklmnopqrstuujyowYzwa5GTkdJQ1hID4j4yIozDs7U.",
      "{BLF-CRYPT}$2x$05$abcdefghijklmnopqrstuujyowYzwa5GTkdJQ1hID4j4yIozDs7U.",
      "{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuujyowYzwa5GTkdJQ1hID4j4yIozDs7U",
      "{ARGON2ID}$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ",
      "{ARGON2ID}$argon2id$v=18$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "{ARGON2ID}$argon2id$v=19$t=2,m=256,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "{ARGON2ID}$argon2id$v=19$m=256,t=2,p=1$c29t$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "{ARGON2ID}$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4=",
      "{ARGON2ID}$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2d$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
  };
  for (const std::string& stored : bad) {
    SCOPED_TRACE(stored);
    EXPECT_FALSE(is_supported_hash(stored));
    EXPECT_FALSE(verify_password(stored, kPassword));
    EXPECT_FALSE(verify_password(stored, "password"));
  }
}

TEST(Password, CryptRejectsEmbeddedNul) {
  EXPECT_FALSE(verify_password(kSha512, std::string(kPassword) + std::string("\0x", 2)));
}

TEST(Password, DummyHashIsStableValidAndThreadSafe) {
  const config::Argon2 p = cheap();
  std::vector<const std::string*> seen(4, nullptr);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&seen, i, p] { seen[i] = &dummy_hash(p); });
  }
  for (auto& t : threads) t.join();
  for (const auto* s : seen) EXPECT_EQ(s, seen[0]);
  EXPECT_TRUE(seen[0]->starts_with("{ARGON2ID}$argon2id$v=19$m=64,t=1,p=1$"));
  EXPECT_TRUE(is_supported_hash(*seen[0]));
  EXPECT_FALSE(verify_password(*seen[0], ""));
}

}  // namespace
}  // namespace posthorn::auth
