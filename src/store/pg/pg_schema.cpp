#include "store/pg/pg_schema.hpp"

// g++ 12's false maybe-uninitialized on Result<void> in coroutine frames (as in pg_client.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <spdlog/spdlog.h>

#include <string>

namespace posthorn::store::pg {

namespace {

// Every node that migrates takes this transaction-level advisory lock first (any 64-bit key agreed by
// all Posthorn versions; this one spells "posthorn" in ASCII).
constexpr std::string_view kLockKey = "8101821198468346478";

constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS posthorn_schema (component text PRIMARY KEY, version integer NOT NULL)";

}  // namespace

Task<int> schema_version(Connection& conn, std::string_view component) {
  auto exists = co_await conn.query("SELECT to_regclass('posthorn_schema') IS NOT NULL");
  if (!exists) co_return exists.error();
  if (exists->text(0, 0) != "t") co_return 0;
  auto rows = co_await conn.query("SELECT version FROM posthorn_schema WHERE component = $1", Param::text(component));
  if (!rows) co_return rows.error();
  co_return rows->empty() ? 0 : static_cast<int>(rows->integer(0, 0));
}

Task<int> migrate(Connection& conn, std::string_view component, std::span<const Migration> steps) {
  const int target = static_cast<int>(steps.size());
  if (auto begun = co_await conn.exec("BEGIN"); !begun) co_return begun.error();
  auto run = [&]() -> Task<int> {
    if (auto locked = co_await conn.query("SELECT pg_advisory_xact_lock(" + std::string(kLockKey) + ")"); !locked) {
      co_return locked.error();
    }
    if (auto made = co_await conn.exec(kCreateTable); !made) co_return made.error();
    auto current = co_await schema_version(conn, component);
    if (!current) co_return current.error();
    if (*current > target) {
      co_return make_error(Errc::kInvalid, "database schema of " + std::string(component) + " is version " +
                                               std::to_string(*current) + "; this Posthorn knows up to version " +
                                               std::to_string(target) + " (upgrade Posthorn)");
    }
    for (int v = *current; v < target; ++v) {
      if (auto applied = co_await conn.exec(steps[static_cast<size_t>(v)].sql); !applied) co_return applied.error();
      spdlog::info("postgresql: {} schema now at version {}", component, v + 1);
    }
    if (*current < target) {
      auto saved = co_await conn.query(
          "INSERT INTO posthorn_schema (component, version) VALUES ($1, $2) "
          "ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version", Param::text(component), Param::integer(target));
      if (!saved) co_return saved.error();
    }
    co_return target;
  };
  auto result = co_await run();
  if (!result) {
    if (!conn.broken()) (void)co_await conn.exec("ROLLBACK");
    co_return result.error();
  }
  if (auto committed = co_await conn.exec("COMMIT"); !committed) co_return committed.error();
  co_return result;
}

Task<void> migrate_on_own_connection(boost::asio::any_io_executor executor, const ConnectOptions& connect,
                                     Task<int> (*migrate_component)(Connection&)) {
  const ConnectOptions copy = connect;  // before the first suspension (pg_client.hpp)
  auto conn = co_await Connection::connect(std::move(executor), copy);
  if (!conn) co_return conn.error();
  auto migrated = co_await migrate_component(**conn);
  if (!migrated) co_return migrated.error();
  co_return Result<void>{};
}

}  // namespace posthorn::store::pg
