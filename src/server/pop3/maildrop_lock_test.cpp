// Tests for the maildrop lock: exclusive per account, released by the guard however it ends.
#include "server/pop3/maildrop_lock.hpp"

#include <gtest/gtest.h>

namespace posthorn::server::pop3 {
namespace {

TEST(MaildropLocks, OneHolderPerAccountReleasedOnDestruction) {
  MaildropLocks locks;
  {
    auto first = locks.try_lock(7);
    ASSERT_TRUE(first);
    EXPECT_FALSE(locks.try_lock(7));
    EXPECT_TRUE(locks.try_lock(8));  // other accounts are independent
    auto moved = std::move(*first);  // a moved guard still holds it, once
    first.reset();
    EXPECT_TRUE(locks.locked(7));
  }
  EXPECT_FALSE(locks.locked(7));
  EXPECT_TRUE(locks.try_lock(7));
}

}  // namespace
}  // namespace posthorn::server::pop3
