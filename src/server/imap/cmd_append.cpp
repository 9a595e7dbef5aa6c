// APPEND [RFC 9051 §6.3.12] with MULTIAPPEND [RFC 3502] (all or nothing), literal8 [RFC 3516],
// UTF8 data [RFC 6855], APPENDLIMIT [RFC 7889] (bigger literals are already refused by the
// assembler with NO [TOOBIG] before they are sent) and APPENDUID [RFC 4315].
#include "proto/imap/response.hpp"
#include "proto/imap/sequence_set.hpp"
#include "server/imap/imap_format.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

asio::awaitable<std::string> Session::cmd_append(const std::string& tag, pi::Append& args) {
  auto name = mailbox_name(args.mailbox);
  if (!name) co_return pi::store_failure(tag, name.error(), pi::StoreCall::kDestination);
  if (args.messages.size() > ctx_.config->imap.max_append_messages) {
    co_return pi::tagged(tag, Status::kNo, pi::code::kLimit, "Too many messages in one APPEND");
  }
  std::vector<store::AppendMessage> messages;
  messages.reserve(args.messages.size());
  for (auto& item : args.messages) {
    if (item.bytes.size() > append_limit()) {
      co_return pi::tagged(tag, Status::kNo, pi::code::kTooBig, "Message exceeds APPENDLIMIT");
    }
    if (item.bytes.empty()) co_return pi::tagged(tag, Status::kNo, pi::code::kCannot, "Empty message");
    auto flags = parse_flags(item.flags);
    if (!flags) co_return pi::tagged(tag, Status::kBad, flags.error().message);
    messages.push_back(store::AppendMessage{std::move(item.bytes), std::move(*flags), item.internal_date});
  }
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

}  // namespace posthorn::server::imap
