// The behavioural suite of a msgauth::DkimKeyStore, run on every backend (issue 20: one
// parameterised suite, not a copy): an empty store lists nothing; added keys come back exactly,
// ordered by domain then selector, after reopening too; a selector taken for a domain is refused
// with kExists and the first key stays; the same selector under another domain is another key; bad
// domains and selectors are refused with kInvalid; the listed keys make a signer that signs for each
// domain. A backend's test file defines a DkimKeysBackend and instantiates the suite:
//   INSTANTIATE_TEST_SUITE_P(File, DkimKeysContract, (backend_values<DkimKeysBackend, FileDkimKeysBackend>("file")),
//                            backend_name<DkimKeysParam>);
// Include this header in exactly one source file of a test binary (it defines the tests).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "msgauth/dkim.hpp"
#include "msgauth/dkim_keys.hpp"
#include "tests/harness/backend_context.hpp"

namespace posthorn::msgauth::contract {

// One backend's data (a folder, a database) for one test.
class DkimKeysBackend {
 public:
  virtual ~DkimKeysBackend() = default;
  // Opens a store on this data; after the previous store was destroyed, the same data again.
  virtual Result<std::unique_ptr<DkimKeyStore>> open() = 0;
};

using DkimKeysParam = posthorn::testing::BackendParamOf<DkimKeysBackend>;

// The store with every call run to completion, so a check reads as one line.
class DkimKeysContract : public posthorn::testing::OpenedSuite<DkimKeysBackend, DkimKeyStore> {
 protected:
  Result<std::vector<DkimKey>> list() { return run(object_->list()); }
  Result<void> add(DkimKey key) { return run(object_->add(std::move(key))); }
  static DkimKey key(std::string domain, std::string selector, DkimAlgorithm a = DkimAlgorithm::kEd25519Sha256) {
    return DkimKey{std::move(domain), std::move(selector), generate_dkim_key(a).value()};
  }
};

TEST_P(DkimKeysContract, AddedKeysComeBackOrderedAndDurable) {
  auto empty = list();
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->empty());
  const auto b_rsa = key("b.test", "s1-rsa", DkimAlgorithm::kRsaSha256);
  const auto a_ed = key("a.test", "s2-ed25519");
  const auto a_ed1 = key("a.test", "s1-ed25519");
  const auto b_ed = key("b.test", "s1-ed25519");
  for (const auto& k : {b_rsa, a_ed, a_ed1, b_ed}) ASSERT_TRUE(add(k)) << k.domain << "/" << k.selector;
  reopen();  // durable
  auto all = list();
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(*all, (std::vector<DkimKey>{a_ed1, a_ed, b_ed, b_rsa}));

  auto signer = signer_from(*all);
  ASSERT_TRUE(signer) << signer.error().message;
  EXPECT_EQ(signer->key_count(), 4u);
  EXPECT_EQ(signer->rsa_selector("B.test"), "s1-rsa");
  EXPECT_EQ(signer->rsa_selector("a.test"), "");
  const std::string msg = "From: x@a.test\r\nSubject: hi\r\n\r\nbody\r\n";
  EXPECT_NE(signer->sign(msg, "a.test", 1795737600).find("s=s1-ed25519"), std::string::npos);
}

TEST_P(DkimKeysContract, ATakenSelectorIsRefusedAndTheFirstKeyStays) {
  const auto first = key("a.test", "s1-rsa", DkimAlgorithm::kRsaSha256);
  ASSERT_TRUE(add(first));
  auto again = add(key("a.test", "s1-rsa", DkimAlgorithm::kRsaSha256));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kExists);
  EXPECT_NE(again.error().message.find("s1-rsa"), std::string::npos) << again.error().message;
  ASSERT_TRUE(add(key("b.test", "s1-rsa")));  // another domain: another key
  auto all = list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0], first);
}

TEST_P(DkimKeysContract, BadNamesAreRefused) {
  for (const char* domain : {"", "A.test", "../x", "a..test", ".a.test", "a/b", "-a.test"}) {
    auto r = add(key(domain, "s1"));
    ASSERT_FALSE(r) << domain;
    EXPECT_EQ(r.error().code, Errc::kInvalid) << domain;
  }
  const std::vector<std::string> selectors = {"", "S1", "a.b", "../x", "-x", "x-", std::string(64, 'x')};
  for (const auto& selector : selectors) {
    auto r = add(key("a.test", selector));
    ASSERT_FALSE(r) << selector;
    EXPECT_EQ(r.error().code, Errc::kInvalid) << selector;
  }
  auto all = list();
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
}

}  // namespace posthorn::msgauth::contract
