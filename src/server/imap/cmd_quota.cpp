// GETQUOTA, GETQUOTAROOT and SETQUOTA [RFC 9208]. Every account has one quota root, "", holding all
// its mailboxes; its resources are STORAGE (KiB, rounded up) and MESSAGE, read from the store's
// totals (Account::quota) and the account's limits. A resource without a limit is left out of the
// QUOTA response (the grammar cannot say "unlimited"), so an account without any limit gets no
// QUOTA response at all, as RFC 9208 §4.1.1 allows ("the server is not required to support any
// specific resource type ... for any particular quota root"). Limits are set by the administrator
// (posthorn user passwd --quota), so SETQUOTA is refused with NO [NOPERM]. Over-quota APPEND, COPY
// and MOVE fail in the store (Errc::kOverQuota) and reach the client as NO [OVERQUOTA] through
// store_failure().
#include "proto/imap/response.hpp"
#include "server/imap/imap_format.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

namespace {

constexpr std::string_view kQuotaRoot = "";

}  // namespace

// The untagged QUOTA response of the account's root, or "" when nothing is limited.
asio::awaitable<Result<std::string>> Session::quota_response() {
  auto task = account_->quota();
  auto usage = co_await std::move(task);
  if (!usage) co_return usage.error();
  const std::string resources = format_quota_resources(*usage);
  if (resources.empty()) co_return std::string();
  co_return pi::untagged_data("QUOTA " + pi::astring(kQuotaRoot) + " " + resources);
}

// GETQUOTA [RFC 9208 §4.1.1]
asio::awaitable<std::string> Session::cmd_getquota(const std::string& tag, const pi::GetQuota& args) {
  if (args.root != kQuotaRoot) co_return pi::tagged(tag, Status::kNo, pi::code::kNonExistent, "No such quota root");
  auto quota = co_await quota_response();
  if (!quota) co_return pi::store_failure(tag, quota.error());
  co_await out(*quota);
  co_return pi::tagged(tag, Status::kOk, "GETQUOTA completed");
}

// GETQUOTAROOT [RFC 9208 §4.1.2]: the mailbox need not exist, its name must be valid.
asio::awaitable<std::string> Session::cmd_getquotaroot(const std::string& tag, const pi::GetQuotaRoot& args) {
  auto name = mailbox_name(args.mailbox);
  if (!name) co_return pi::store_failure(tag, name.error());
  auto quota = co_await quota_response();
  if (!quota) co_return pi::store_failure(tag, quota.error());
  co_await out(pi::untagged_data("QUOTAROOT " + wire_name(*name) + " " + pi::astring(kQuotaRoot)));
  co_await out(*quota);
  co_return pi::tagged(tag, Status::kOk, "GETQUOTAROOT completed");
}

// SETQUOTA [RFC 9208 §4.1.3]
std::string Session::cmd_setquota(const std::string& tag) {
  return pi::tagged(tag, Status::kNo, pi::code::kNoPerm, "Quotas are set by the administrator");
}

}  // namespace posthorn::server::imap
