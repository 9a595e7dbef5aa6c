// SELECT / EXAMINE [RFC 9051 §6.3.2-3, RFC 3501 §6.3.1-2] with CONDSTORE and QRESYNC [RFC 7162 §3.1.8,
// §3.2.5], CLOSE, UNSELECT [RFC 3691], EXPUNGE and UID EXPUNGE [RFC 4315], and sync(): announcing
// other sessions' changes to the selected mailbox at the points where that is allowed.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "proto/imap/response.hpp"
#include "proto/imap/sequence_set.hpp"
#include "server/imap/imap_format.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

void Session::unselect() {
  mailbox_.reset();
  view_.close();
  std::vector<UpdateSearch>().swap(updates_);
  if (feed_) {
    feed_->mailbox.store(0);
    feed_->pending.store(false);
  }
}

asio::awaitable<std::string> Session::cmd_select(const std::string& tag, const pi::Select& args) {
  const char* verb = args.read_only ? "EXAMINE" : "SELECT";
  if (selected()) {
    unselect();
    // The previous mailbox is closed first, whatever happens next [RFC 7162 §3.2.11, RFC 9051 §6.3.2].
    co_await out(pi::untagged(Status::kOk, pi::code::kClosed, "Previous mailbox closed"));
  }
  if (args.qresync && !qresync_) co_return pi::tagged(tag, Status::kBad, "QRESYNC is not enabled");
  if (args.condstore) condstore_ = true;
  auto name = mailbox_name(args.mailbox);
  if (!name) co_return pi::store_failure(tag, name.error());
  auto open_task = account_->open(*name);
  auto box = co_await std::move(open_task);
  if (!box) co_return pi::store_failure(tag, box.error());
  // Watch before reading the view, so no change between the two is missed.
  feed_->mailbox.store((*box)->id());
  feed_->pending.store(false);
  auto view = co_await (*box)->select(!args.read_only);
  if (!view) {
    feed_->mailbox.store(0);
    co_return pi::store_failure(tag, view.error());
  }
  const auto defined = ctx_.keywords != nullptr ? ctx_.keywords->get(principal_->account, (*box)->id())
                                                 : std::vector<std::string>{};
  view_.open(*view, args.read_only, defined);
  mailbox_ = std::move(*box);
  keywords_defined_ = 0;
  define_keywords();

  // Keywords in use go into FLAGS so clients offer them.
  uint32_t first_unseen = 0;
  for (size_t i = 0; i < view->messages.size() && first_unseen == 0; ++i) {
    if (!view->messages[i].flags.has(store::kSeen)) first_unseen = static_cast<uint32_t>(i + 1);
  }
  std::string text = view_.flags_response();
  text += pi::untagged_data(std::to_string(view_.exists()) + " EXISTS");
  if (!rev2_) {
    text += pi::untagged_data(std::to_string(view_.recent_count()) + " RECENT");
    if (first_unseen != 0) {
      text += pi::untagged(Status::kOk, "UNSEEN " + std::to_string(first_unseen), "First unseen");
    }
  }
  text += pi::untagged(Status::kOk, "UIDVALIDITY " + std::to_string(view_.uid_validity()), "UIDs valid");
  text += pi::untagged(Status::kOk, "UIDNEXT " + std::to_string(view_.uid_next()), "Predicted next UID");
  text += pi::untagged(Status::kOk, "HIGHESTMODSEQ " + std::to_string(view_.highest_modseq()), "Highest");
  co_await out(text);

  // QRESYNC: what changed since the client's modseq, when its UIDVALIDITY is still ours [RFC 7162 §3.2.5].
  if (args.qresync && args.qresync->uid_validity == view_.uid_validity()) {
    auto changes = co_await mailbox_->changes_since(args.qresync->modseq, false);
    if (changes) {
      std::vector<uint32_t> vanished;
      const auto known = args.qresync->known_uids ? args.qresync->known_uids->resolve(view_.uid_next())
                                                  : std::vector<pi::SeqRange>{};
      for (store::Uid uid : changes->vanished) {
        if (view_.seq_of(uid)) continue;  // still here (expunged and ... cannot be; be safe)
        const bool in_known = !args.qresync->known_uids ||
                              std::any_of(known.begin(), known.end(),
                                          [uid](const pi::SeqRange& r) { return uid >= r.first && uid <= r.last; });
        if (in_known) vanished.push_back(uid);
      }
      if (!vanished.empty()) co_await out("* VANISHED (EARLIER) " + pi::compact_set(vanished) + "\r\n");
      for (const auto& m : changes->changed) {
        auto seq = view_.seq_of(m.uid);
        if (!seq) continue;
        if (auto flags_update = view_.learn_keywords(m.flags); !flags_update.empty()) co_await out(flags_update);
        co_await out("* " + std::to_string(*seq) + " FETCH (UID " + std::to_string(m.uid) + " FLAGS " +
                     format_flags(m.flags, !rev2_ && view_.is_recent(m.uid)) + " MODSEQ (" +
                     std::to_string(m.modseq) + "))\r\n");
      }
    }
  }
  co_return pi::tagged(tag, Status::kOk, args.read_only ? pi::code::kReadOnly : pi::code::kReadWrite,
                       std::string(verb) + " completed");
}

asio::awaitable<std::string> Session::cmd_close(const std::string& tag, bool expunge) {
  if (expunge && !view_.read_only()) {
    // CLOSE removes \Deleted messages without EXPUNGE responses [RFC 9051 §6.4.1].
    auto done = co_await mailbox_->expunge(std::nullopt);
    if (!done) spdlog::debug("conn={} imap: expunge on CLOSE failed: {}", id(), done.error().message);
  }
  unselect();
  co_return pi::tagged(tag, Status::kOk, expunge ? "CLOSE completed" : "UNSELECT completed");
}

// An EXAMINEd mailbox never gets here: the command table marks the writing forms kReadWrite.
asio::awaitable<std::string> Session::cmd_expunge(const std::string& tag, const pi::Expunge& args) {
  std::optional<std::vector<store::Uid>> uids;
  if (args.uids) {
    auto resolved = view_.resolve(*args.uids, true);
    if (!resolved) co_return pi::tagged(tag, Status::kBad, resolved.error().message);
    if (resolved->empty()) co_return pi::tagged(tag, Status::kOk, "UID EXPUNGE completed");
    uids = std::move(*resolved);
  }
  auto task = mailbox_->expunge(std::move(uids));
  auto done = co_await std::move(task);
  if (!done) co_return pi::store_failure(tag, done.error());
  co_await announce_expunges(done->expunged);
  if (condstore_) {
    co_return pi::tagged(tag, Status::kOk, "HIGHESTMODSEQ " + std::to_string(done->highest_modseq),
                         "EXPUNGE completed");
  }
  co_return pi::tagged(tag, Status::kOk, "EXPUNGE completed");
}

asio::awaitable<void> Session::announce_expunges(std::vector<store::Uid> own) {
  std::vector<store::Uid> gone = view_.pending_expunges();
  gone.insert(gone.end(), own.begin(), own.end());
  co_await remove_from_updates(std::move(gone));
  // Other sessions' expunges first (they are older), then ours.
  co_await out(view_.release_expunges(view_options()));
  co_await out(view_.expunge(own, view_options()));
}

asio::awaitable<void> Session::enable_condstore() {
  if (condstore_) co_return;
  condstore_ = true;
  if (selected()) {
    co_await out(pi::untagged(Status::kOk, "HIGHESTMODSEQ " + std::to_string(view_.highest_modseq()), "Highest"));
  }
}

asio::awaitable<void> Session::sync(bool allow_expunge) {
  if (!selected() || broken_) co_return;
  const bool pending = feed_->pending.exchange(false);
  if (!pending) {
    if (allow_expunge && view_.has_pending_expunges()) co_await announce_expunges({});
    co_return;
  }
  // A SELECTed session claims \Recent for the new mail it is the first to learn of [RFC 3501 §2.3.2].
  auto changes = co_await mailbox_->changes_since(view_.highest_modseq(), !view_.read_only());
  if (!changes) {
    if (changes.error().code == Errc::kNotFound) {
      // The mailbox was deleted under us: nothing more can be read from it.
      spdlog::debug("conn={} imap: selected mailbox vanished", id());
      unselect();
      co_await out(pi::untagged(Status::kBye, "Selected mailbox was deleted"));
      co_await flush();
      broken_ = true;
    }
    co_return;
  }
  if (allow_expunge && !updates_.empty()) {
    std::vector<store::Uid> gone = view_.pending_expunges();
    for (store::Uid uid : changes->vanished) {
      if (view_.seq_of(uid)) gone.push_back(uid);
    }
    co_await remove_from_updates(std::move(gone));
  }
  co_await out(view_.apply(*changes, allow_expunge, view_options()));
  define_keywords();  // also during IDLE
  if (!updates_.empty()) co_await refresh_updates();
}

}  // namespace posthorn::server::imap
