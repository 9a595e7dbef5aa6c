// Tests for the in-process maildrop lock: exclusive per account, given back by release() or by
// destruction, and a lock that outlives the lock table it came from.
#include "store/maildrop_lock.hpp"

#include <gtest/gtest.h>

#include "base/run_sync.hpp"

namespace posthorn::store {
namespace {

TEST(LocalMaildropLocks, OneHolderPerAccountGivenBackByDestruction) {
  LocalMaildropLocks locks;
  {
    auto first = run_sync(locks.try_lock(7));
    ASSERT_TRUE(first);
    auto second = run_sync(locks.try_lock(7));
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, Errc::kConflict);
    EXPECT_TRUE(run_sync(locks.try_lock(8)));  // other accounts are independent (and 8 is free again)
    EXPECT_TRUE(locks.held_here(7));
    EXPECT_FALSE(locks.held_here(8));
  }
  EXPECT_FALSE(locks.held_here(7));
  EXPECT_TRUE(run_sync(locks.try_lock(7)));
}

TEST(LocalMaildropLocks, ReleaseGivesBackOnceAndTheLockMayOutliveTheTable) {
  std::unique_ptr<MaildropLock> kept;
  {
    LocalMaildropLocks locks;
    auto lock = run_sync(locks.try_lock(3));
    ASSERT_TRUE(lock);
    ASSERT_TRUE(run_sync((*lock)->release()));
    EXPECT_FALSE(locks.held_here(3));
    auto again = locks.try_lock_now(3);
    ASSERT_TRUE(again);
    ASSERT_TRUE(run_sync((*lock)->release()));  // a second release changes nothing
    EXPECT_TRUE(locks.held_here(3));
    kept = std::move(again);
  }
  kept.reset();  // the table is gone; giving back must not touch freed memory (ASan)
}

}  // namespace
}  // namespace posthorn::store
