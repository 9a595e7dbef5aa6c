// `posthorn db migrate`: brings the storage that [store] names to this Posthorn's schema and exits,
// what `posthorn serve` does on start, for an operator who upgrades the database before the nodes
// (docs/cluster.md). On PostgreSQL opening each part applies the missing migrations of its component
// (directory, mail, queue, reports) under the advisory lock; on SQLite the files of data_dir are
// migrated as they open, and every account's index is opened so that none waits for its first
// login. A schema newer than this Posthorn is refused with both versions (Backends' error).
// Depends on app/backends, app/admin_context. Main thread of a command-line run only.
// g++ 12's false maybe-uninitialized on Result<void> in coroutine frames (as in pg_client.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <boost/asio/awaitable.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "app/admin_context.hpp"
#include "app/commands.hpp"
#include "base/run_sync.hpp"

namespace posthorn::app {

namespace {

// Opens every account's mail (each opening migrates its index on SQLite; on PostgreSQL the mail
// component is already current and this checks that every account can be read).
boost::asio::awaitable<Result<void>> open_every_account(const std::vector<auth::Account>& accounts,
                                                        store::MailStore* store) {
  for (const auto& acc : accounts) {
    auto open = store->account(acc.id, store::Limits{acc.quota_bytes, 0});
    auto account = co_await std::move(open);
    if (!account) co_return make_error(account.error().code, acc.address + ": " + account.error().message);
  }
  co_return Result<void>{};
}

}  // namespace

int cmd_db_migrate(const std::filesystem::path& config_file) {
  auto a = open_admin("posthorn db migrate", config_file);  // the directory: migrated as it opens
  if (!a) return 1;
  {
    auto rest = Backends::open(*a->cfg, *a->pool, kQueuePart | kReportsPart);
    if (!rest) return a->fail(rest.error().message);
  }
  auto accounts = run_sync(a->dir->list_accounts());
  if (!accounts) return a->fail(accounts.error());
  const auto& list = *accounts;
  auto done = run_on_store(*a, [&list](store::MailStore* store) { return open_every_account(list, store); });
  if (!done) return a->fail(done.error().message);
  std::printf("schema current for directory, mail, queue and reports in %s; %zu account(s) opened\n",
              Backends::where(*a->cfg).c_str(), list.size());
  return 0;
}

}  // namespace posthorn::app
