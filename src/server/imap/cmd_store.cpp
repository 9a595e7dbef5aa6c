// STORE / UID STORE [RFC 9051 §6.4.6] with UNCHANGEDSINCE and MODIFIED [RFC 7162 §3.1.3], and COPY,
// MOVE and their UID forms [RFC 9051 §6.4.7-8, RFC 6851] with COPYUID [RFC 4315].
#include <algorithm>
#include <utility>

#include "proto/imap/response.hpp"
#include "proto/imap/sequence_set.hpp"
#include "server/imap/imap_format.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

namespace {

// `old` with a STORE's change applied, as the store applies it.
store::Flags with_change(store::Flags old, store::FlagOp op, const store::Flags& given) {
  switch (op) {
    case store::FlagOp::kAdd:
      old.system |= given.system;
      old.keywords.insert(old.keywords.end(), given.keywords.begin(), given.keywords.end());
      break;
    case store::FlagOp::kRemove:
      old.system &= uint8_t(~given.system);
      std::erase_if(old.keywords, [&](const std::string& k) { return given.has_keyword(k); });
      break;
    case store::FlagOp::kReplace:
      old = given;
      break;
  }
  old.normalize();
  return old;
}

}  // namespace

// An EXAMINEd mailbox never gets here: the command table marks the writing forms kReadWrite.
asio::awaitable<std::string> Session::cmd_store(const std::string& tag, const pi::Store& args) {
  auto uids = view_.resolve(args.set, args.uid);
  if (!uids) co_return pi::tagged(tag, Status::kBad, uids.error().message);
  auto flags = parse_flags(args.flags);
  if (!flags) co_return pi::tagged(tag, Status::kBad, flags.error().message);
  if (args.unchanged_since) co_await enable_condstore();
  if (uids->empty()) co_return pi::tagged(tag, Status::kOk, "STORE completed");

  store::StoreFlags req;
  req.uids = std::move(*uids);
  req.op = args.op == pi::StoreOp::kAdd      ? store::FlagOp::kAdd
           : args.op == pi::StoreOp::kRemove ? store::FlagOp::kRemove
                                             : store::FlagOp::kReplace;
  req.flags = std::move(*flags);
  req.unchanged_since = args.unchanged_since;
  const std::vector<store::Uid> asked = req.uids;
  const store::FlagOp op = req.op;
  const store::Flags given = req.flags;
  // Defined before any message can carry it or lose it: a later SELECT lists it in FLAGS even once
  // no message has it [RFC 3501 §7.2.6].
  define_keywords(given.keywords);
  auto task = mailbox_->store_flags(std::move(req));
  auto result = co_await std::move(task);
  if (!result) co_return pi::store_failure(tag, result.error());

  // A keyword new to the mailbox is announced in FLAGS before the FETCH that shows it, .SILENT
  // or not [RFC 3501 §7.2.6].
  // Every message of the set still there gets its FETCH, changed or not: another session may have
  // set the same flags a moment before, and the client learns the result either way [RFC 9051
  // §6.4.6]. .SILENT reports only the new modseqs of what changed (with CONDSTORE) [RFC 7162 §3.1.3].
  std::vector<std::pair<const store::MessageInfo*, bool>> reported;  // message, changed here
  for (const auto& m : result->changed) reported.emplace_back(&m, true);
  for (const auto& m : result->unchanged) reported.emplace_back(&m, false);
  // A message another session expunged that this session has not been told of yet is still in
  // its view: it gets its last known flags with the change applied, as if the STORE had reached
  // it before the expunge [RFC 2180 §4.2, RFC 3501 §6.4.6]; its EXPUNGE follows when this
  // session may be told. With CONDSTORE its FETCH carries a MODSEQ [RFC 7162 §3.2]: the
  // mailbox's current one, which its expunge has passed. Not for UNCHANGEDSINCE, whose test it
  // can no longer take.
  std::vector<store::MessageInfo> gone;
  if (!args.unchanged_since) {
    std::vector<store::Uid> present;
    for (const auto& m : result->changed) present.push_back(m.uid);
    for (const auto& m : result->unchanged) present.push_back(m.uid);
    std::sort(present.begin(), present.end());
    for (store::Uid uid : asked) {
      if (std::binary_search(present.begin(), present.end(), uid)) continue;
      const auto seq = view_.seq_of(uid);
      if (!seq) continue;
      store::MessageInfo m;
      m.uid = uid;
      m.modseq = result->highest_modseq;
      m.flags = with_change(view_.flags_at(*seq), op, given);
      view_.remember_flags(uid, m.flags);
      gone.push_back(std::move(m));
    }
  }
  for (const auto& m : gone) reported.emplace_back(&m, false);
  std::sort(reported.begin(), reported.end(), [](const auto& a, const auto& b) { return a.first->uid < b.first->uid; });
  // A keyword the STORE names is one of the mailbox's flags from now on, also when it removes it
  // (as Dovecot does): the client may look it up in FLAGS [RFC 3501 §7.2.6].
  std::string flags_update = view_.learn_keywords(given);
  for (const auto& [m, changed] : reported) {
    if (view_.seq_of(m->uid)) flags_update += view_.learn_keywords(m->flags);
  }
  co_await out(flags_update);
  for (const auto& [m, changed] : reported) {
    if (changed) view_.note_own_change(m->uid, m->modseq);
    const auto seq = view_.seq_of(m->uid);
    if (!seq) continue;
    if (args.silent && !(condstore_ && changed)) continue;
    std::string line = "* " + std::to_string(*seq) + " FETCH (";
    if (!args.silent) line += "FLAGS " + format_flags(m->flags, !rev2_ && view_.is_recent(m->uid));
    if (args.uid) line += std::string(args.silent ? "" : " ") + "UID " + std::to_string(m->uid);
    // With CONDSTORE the new modseq is reported even for .SILENT [RFC 7162 §3.1.3].
    if (condstore_) line += std::string(args.silent && !args.uid ? "" : " ") + "MODSEQ (" + std::to_string(m->modseq) + ")";
    co_await out(line + ")\r\n");
  }
  if (!result->conflicts.empty()) {
    std::vector<uint32_t> modified;
    for (store::Uid uid : result->conflicts) {
      if (args.uid) {
        modified.push_back(uid);
      } else if (auto seq = view_.seq_of(uid)) {
        modified.push_back(*seq);
      }
    }
    std::sort(modified.begin(), modified.end());
    co_return pi::tagged(tag, Status::kOk, "MODIFIED " + pi::compact_set(modified), "Conditional STORE failed");
  }
  co_return pi::tagged(tag, Status::kOk, "STORE completed");
}

// An EXAMINEd mailbox never gets here: the command table marks the writing forms kReadWrite.
asio::awaitable<std::string> Session::cmd_copy(const std::string& tag, const pi::Copy& args) {
  const char* verb = args.move ? "MOVE" : "COPY";
  auto uids = view_.resolve(args.set, args.uid);
  if (!uids) co_return pi::tagged(tag, Status::kBad, uids.error().message);
  auto name = mailbox_name(args.mailbox);
  if (!name) co_return pi::store_failure(tag, name.error(), pi::StoreCall::kDestination);
  auto find_task = account_->find_mailbox(*name);
  auto dest = co_await std::move(find_task);
  if (!dest) co_return pi::store_failure(tag, dest.error(), pi::StoreCall::kDestination);
  if (uids->empty()) co_return pi::tagged(tag, Status::kOk, std::string(verb) + " completed");
  std::vector<store::Uid> source = std::move(*uids);
  auto task = args.move ? mailbox_->move(std::move(source), dest->id) : mailbox_->copy(std::move(source), dest->id);
  auto result = co_await std::move(task);
  if (!result) co_return pi::store_failure(tag, result.error(), pi::StoreCall::kDestination);
  std::string copyuid;
  if (!result->source.empty()) {
    copyuid = "COPYUID " + std::to_string(result->uid_validity) + " " + pi::compact_set(result->source) + " " +
              pi::compact_set(result->dest);
  }
  if (!args.move) co_return pi::tagged(tag, Status::kOk, copyuid, "COPY completed");
  // MOVE: COPYUID in an untagged OK before the expunges [RFC 6851 §4.3].
  if (!copyuid.empty()) co_await out(pi::untagged(Status::kOk, copyuid, "Moved"));
  co_await announce_expunges(result->source);
  co_return pi::tagged(tag, Status::kOk, "MOVE completed");
}

}  // namespace posthorn::server::imap
