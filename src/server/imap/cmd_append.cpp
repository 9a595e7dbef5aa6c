// APPEND [RFC 9051 §6.3.12] with MULTIAPPEND [RFC 3502] (all or nothing), literal8 [RFC 3516],
// UTF8 data [RFC 6855], APPENDLIMIT [RFC 7889] (bigger literals are already refused by the
// assembler with NO [TOOBIG] before they are sent) and APPENDUID [RFC 4315]; and REPLACE /
// UID REPLACE [RFC 8508], which appends like APPEND and then expunges the replaced message.
#include <algorithm>

#include "net/memory_reserve.hpp"
#include "proto/imap/response.hpp"
#include "proto/imap/sequence_set.hpp"
#include "server/imap/imap_format.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

namespace {

// One parsed message as the store takes it, or the tagged reply refusing it. A message kept in a
// spool (item.external) goes to the store as that spool; a literal8 is stored byte for byte
// [RFC 3516 §4.3].
std::optional<std::string> to_store_message(const std::string& tag, pi::AppendItem& item, uint64_t append_limit,
                                            std::vector<std::shared_ptr<Spool>>& spools, store::AppendMessage& out) {
  if (item.size > append_limit) {
    return pi::tagged(tag, Status::kNo, pi::code::kTooBig, "Message exceeds APPENDLIMIT");
  }
  if (item.size == 0) return pi::tagged(tag, Status::kNo, pi::code::kCannot, "Empty message");
  auto flags = parse_flags(item.flags);
  if (!flags) return pi::tagged(tag, Status::kBad, flags.error().message);
  out = store::AppendMessage{std::move(item.bytes), std::move(*flags), item.internal_date};
  out.binary = item.binary;
  if (item.external) {
    if (*item.external >= spools.size() || !spools[*item.external]) {
      return pi::store_failure(tag, make_error(Errc::kInternal, "spooled message missing"));
    }
    out.spool = std::move(spools[*item.external]);
  }
  return std::nullopt;
}

}  // namespace

// The store parses a spooled message from its mapped blob: its pages are in RAM meanwhile, so the
// largest such message of the command takes its size from the message memory budget first (as a
// finished SMTP message does), which bounds how many are parsed at once.
asio::awaitable<MemoryLease> Session::reserve_for_spooled(const std::vector<store::AppendMessage>& messages) {
  uint64_t largest = 0;
  for (const auto& m : messages) {
    if (m.spool) largest = std::max(largest, m.size());
  }
  if (largest == 0) co_return MemoryLease{};
  MemoryLease lease = co_await net::reserve_memory(ctx_.message_memory, largest);
  co_return lease;
}

asio::awaitable<std::string> Session::cmd_append(const std::string& tag, pi::Append& args) {
  auto name = mailbox_name(args.mailbox);
  if (!name) co_return pi::store_failure(tag, name.error(), pi::StoreCall::kDestination);
  if (args.messages.size() > ctx_.config->imap.max_append_messages) {
    co_return pi::tagged(tag, Status::kNo, pi::code::kLimit, "Too many messages in one APPEND");
  }
  std::vector<store::AppendMessage> messages(args.messages.size());
  for (size_t i = 0; i < args.messages.size(); ++i) {
    if (auto refused = to_store_message(tag, args.messages[i], append_limit(), command_spools_, messages[i])) {
      co_return *refused;
    }
  }
  MemoryLease memory = co_await reserve_for_spooled(messages);
  auto open_task = account_->open(*name);
  auto box = co_await std::move(open_task);
  if (!box) co_return pi::store_failure(tag, box.error(), pi::StoreCall::kDestination);
  std::vector<store::AppendResult> results;
  if (messages.size() == 1) {
    auto task = (*box)->append(std::move(messages[0]));
    auto one = co_await std::move(task);
    if (!one) co_return pi::store_failure(tag, one.error(), pi::StoreCall::kDestination);
    results.push_back(*one);
  } else {
    auto task = (*box)->append_many(std::move(messages));
    auto many = co_await std::move(task);
    if (!many) co_return pi::store_failure(tag, many.error(), pi::StoreCall::kDestination);
    results = std::move(*many);
  }
  if (results.empty()) co_return pi::tagged(tag, Status::kOk, "APPEND completed");
  std::vector<uint32_t> uids;
  for (const auto& r : results) uids.push_back(r.uid);
  co_return pi::tagged(tag, Status::kOk,
                       "APPENDUID " + std::to_string(results[0].uid_validity) + " " + pi::compact_set(uids),
                       "APPEND completed");
}

// REPLACE / UID REPLACE [RFC 8508]: the new message is appended first; only when that succeeded is
// the old one flagged \Deleted and expunged (by UID, so no other \Deleted message goes with it).
// A failed append therefore changes nothing. The client sees the APPENDUID, the EXPUNGE (or
// VANISHED) and the tagged OK together. The store has no single replace transaction, so another
// session may briefly see the old message with \Deleted; and the quota check of the append still
// counts the old message.
// An EXAMINEd mailbox never gets here: the command table marks the writing forms kReadWrite.
asio::awaitable<std::string> Session::cmd_replace(const std::string& tag, pi::Replace& args) {
  store::Uid old_uid = 0;
  if (args.uid) {
    if (!view_.seq_of(args.number)) co_return pi::tagged(tag, Status::kNo, pi::code::kNonExistent, "No such message");
    old_uid = args.number;
  } else {
    if (args.number > view_.exists()) co_return pi::tagged(tag, Status::kBad, "Invalid message sequence number");
    old_uid = view_.uid_at(args.number);
  }
  auto name = mailbox_name(args.mailbox);
  if (!name) co_return pi::store_failure(tag, name.error(), pi::StoreCall::kDestination);
  store::AppendMessage message;
  if (auto refused = to_store_message(tag, args.message, append_limit(), command_spools_, message)) co_return *refused;
  std::vector<store::AppendMessage> one;
  one.push_back(std::move(message));
  MemoryLease memory = co_await reserve_for_spooled(one);
  message = std::move(one.front());
  auto open_task = account_->open(*name);
  auto box = co_await std::move(open_task);
  if (!box) co_return pi::store_failure(tag, box.error(), pi::StoreCall::kDestination);
  auto append_task = (*box)->append(std::move(message));
  auto appended = co_await std::move(append_task);
  if (!appended) co_return pi::store_failure(tag, appended.error(), pi::StoreCall::kDestination);
  co_await out(pi::untagged(Status::kOk,
                            "APPENDUID " + std::to_string(appended->uid_validity) + " " + std::to_string(appended->uid),
                            "Replacement Message ID"));

  store::StoreFlags deleted;
  deleted.uids = {old_uid};
  deleted.op = store::FlagOp::kAdd;
  deleted.flags.system = store::kDeleted;
  auto flag_task = mailbox_->store_flags(std::move(deleted));
  auto flagged = co_await std::move(flag_task);
  if (!flagged) co_return pi::store_failure(tag, flagged.error());
  for (const auto& m : flagged->changed) view_.note_own_change(m.uid, m.modseq);
  auto expunge_task = mailbox_->expunge(std::vector<store::Uid>{old_uid});
  auto expunged = co_await std::move(expunge_task);
  if (!expunged) co_return pi::store_failure(tag, expunged.error());
  co_await announce_expunges(expunged->expunged);
  co_return pi::tagged(tag, Status::kOk, std::string(args.uid ? "UID REPLACE" : "REPLACE") + " completed");
}

}  // namespace posthorn::server::imap
