// Transactions on a pooled connection, shared by the PostgreSQL stores (mail store, queue): a
// read-write transaction run again after a serialization failure or deadlock, and a read-only one
// with one snapshot for all its statements. The body is a plain function returning the Task of a
// named coroutine (g++ 12: no capturing lambda coroutines, pg_client.hpp).
#pragma once

#include <spdlog/spdlog.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "store/pg/pg_client.hpp"

namespace posthorn::store::pg {

// Runs of a transaction that failed with a serialization failure or deadlock.
inline constexpr int kTransactionAttempts = 5;

template <class T>
using TxBody = std::function<Task<T>(Connection&)>;

// Runs `body` between BEGIN and COMMIT on a connection of `pool`; rolls back when the body or the
// commit fails, and runs the whole again (up to kTransactionAttempts) when that failure is retryable
// (is_retryable). `what` names the caller in the debug log.
template <class T>
Task<T> transact(Pool& pool, TxBody<T> body, std::string_view what) {
  for (int attempt = 1;; ++attempt) {
    auto lease = co_await pool.acquire();
    if (!lease) co_return lease.error();
    Connection& c = **lease;
    if (auto begun = co_await c.exec("BEGIN"); !begun) co_return begun.error();
    auto result = co_await body(c);
    std::string state = c.last_sqlstate();
    std::optional<Error> failure;
    if (!result) failure = result.error();
    if (!failure) {
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

// Runs `body` in one REPEATABLE READ READ ONLY transaction (one snapshot for all its statements).
template <class T>
Task<T> read_only(Pool& pool, TxBody<T> body) {
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
