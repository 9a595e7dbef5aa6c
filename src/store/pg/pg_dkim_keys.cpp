// PgDkimKeys (see pg_dkim_keys.hpp). g++ 12 (pg_client.hpp): co_await only as a statement or a
// plain initializer.
#include "store/pg/pg_dkim_keys.hpp"

// g++ 12's false maybe-uninitialized on Result<void> in coroutine frames (as in pg_client.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <ctime>

#include "store/pg/pg_directory_schema.hpp"
#include "store/pg/pg_schema.hpp"

namespace posthorn::store::pg {

namespace asio = boost::asio;
using msgauth::DkimKey;

Task<std::unique_ptr<PgDkimKeys>> PgDkimKeys::open(asio::any_io_executor executor, const PoolOptions& options) {
  const PoolOptions copy = options;  // before the first suspension (pg_client.hpp)
  {
    auto migrating = migrate_on_own_connection(executor, copy.connect, &migrate_directory_schema);
    auto migrated = co_await std::move(migrating);
    if (!migrated) co_return migrated.error();
  }
  co_return std::unique_ptr<PgDkimKeys>(new PgDkimKeys(std::move(executor), copy));
}

Task<std::vector<DkimKey>> PgDkimKeys::list() {
  auto lease = co_await pool_.acquire();
  if (!lease) co_return lease.error();
  auto rows = co_await (*lease)->query("SELECT domain, selector, pem FROM dkim_key ORDER BY domain, selector");
  if (!rows) co_return rows.error();
  std::vector<DkimKey> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(DkimKey{std::string(rows->text(i, 0)), std::string(rows->text(i, 1)), std::string(rows->text(i, 2))});
  }
  co_return out;
}

Task<void> PgDkimKeys::add(DkimKey key) {
  if (!msgauth::valid_dkim_domain(key.domain)) co_return make_error(Errc::kInvalid, "\"" + key.domain + "\" is not a domain name");
  if (!msgauth::valid_dkim_selector(key.selector)) co_return make_error(Errc::kInvalid, "\"" + key.selector + "\" is not a selector");
  auto lease = co_await pool_.acquire();
  if (!lease) co_return lease.error();
  auto added = co_await (*lease)->query(
      "INSERT INTO dkim_key (domain, selector, pem, created_at) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (domain, selector) DO NOTHING RETURNING 1",
      Param::text(key.domain), Param::text(key.selector), Param::text(key.pem), Param::integer(std::time(nullptr)));
  if (!added) co_return added.error();
  if (added->size() == 0) co_return make_error(Errc::kExists, "selector " + key.selector + " already exists for " + key.domain);
  co_return Result<void>{};
}

}  // namespace posthorn::store::pg
