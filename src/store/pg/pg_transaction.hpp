// Transactions on a pooled connection, shared by the PostgreSQL backends (pg_mail_store,
// pg_directory): transaction(), read-write and run again after a serialization failure or a
// deadlock, and snapshot(), REPEATABLE READ READ ONLY (one snapshot for all its statements).
// Call them with T given (transaction<T>(...)): a lambda does not deduce it. Files that use them
// silence g++ 12's false -Wmaybe-uninitialized on Result<void> in coroutine frames (pg_client.cpp).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/log.hpp"
#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

// Runs of a transaction that failed with a serialization failure or deadlock.
inline constexpr int kTransactionAttempts = 5;

template <class T>
using TxBody = std::function<Task<T>(Connection&)>;

// Runs `body` in one read-write transaction (BEGIN ... COMMIT) on a connection of `pool`, rolled
// back when it fails; runs it again, up to kTransactionAttempts times, when it or the COMMIT failed
// with a retryable SQLSTATE (is_retryable). `what` names the caller in the debug log.
template <class T>
Task<T> transaction(Pool& pool, TxBody<T> body, std::string_view what) {
  for (int attempt = 1;; ++attempt) {
    auto lease = co_await pool.acquire();
    if (!lease) co_return lease.error();
    Connection& c = **lease;
    if (auto begun = co_await c.exec("BEGIN"); !begun) co_return begun.error();
    auto result = co_await body(c);
    std::string state = c.last_sqlstate();
    std::optional<Error> failure;
    if (!result) {
      failure = result.error();
    } else {
      auto committed = co_await c.exec("COMMIT");
      if (committed) co_return result;
      failure = committed.error();
      state = c.last_sqlstate();
    }
    if (!c.broken()) (void)co_await c.exec("ROLLBACK");
    if (is_retryable(state) && attempt < kTransactionAttempts) {
      spdlog::debug("{}: transaction retried after SQLSTATE {}", what, state);
      continue;
    }
    co_return *failure;
  }
}

// Runs `body` in one REPEATABLE READ READ ONLY transaction on a connection of `pool`.
template <class T>
Task<T> snapshot(Pool& pool, TxBody<T> body) {
  auto lease = co_await pool.acquire();
  if (!lease) co_return lease.error();
  Connection& c = **lease;
  if (auto begun = co_await c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !begun) co_return begun.error();
  auto result = co_await body(c);
  const char* end = result ? "COMMIT" : "ROLLBACK";
  if (!c.broken()) (void)co_await c.exec(end);
  co_return result;
}

}  // namespace posthorn::store::pg
