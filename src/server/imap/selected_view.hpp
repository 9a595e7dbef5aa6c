// SelectedView: one session's picture of its selected mailbox [RFC 9051 §7.5.1, RFC 3501 §2.3.1.2,
// RFC 7162]: the UID <-> sequence number map, the \Recent UIDs, the modseq the session has
// reported up to, and expunges that happened elsewhere but may not be announced yet (not during
// FETCH, STORE or SEARCH by sequence number). Other sessions' changes (store::Changes from
// Mailbox::changes_since) are applied only when the session says so, and each application returns
// the untagged responses that tell the client: EXPUNGE or VANISHED, EXISTS, RECENT, FETCH FLAGS.
//
// The view also keeps each message's flags as of the last open/apply, so FETCH FLAGS (the first
// thing a client asks of a big mailbox) is answered without reading the store; the session uses
// them only when no change is waiting to be applied.
//
// Memory: 5 bytes per message (the sorted UID vector and the system flags) plus the keywords of
// the messages that have any, and small bookkeeping. Pure (no I/O); not thread-safe: one per session.
#pragma once

#include <optional>
#include <unordered_map>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "proto/imap/sequence_set.hpp"
#include "store/types.hpp"

namespace posthorn::server::imap {

struct ViewOptions {
  bool condstore = false;  // unsolicited FETCH carries MODSEQ [RFC 7162 §3.1.4]
  bool qresync = false;    // expunges are reported as VANISHED [RFC 7162 §3.2.10]
  bool recent = true;      // IMAP4rev1 client: RECENT counts and \Recent flags
};

class SelectedView {
 public:
  // `defined`: keywords the mailbox has had that FLAGS lists even when no message carries them now
  // (MailboxKeywords) [RFC 3501 §7.2.6].
  void open(const store::MailboxView& view, bool read_only, const std::vector<std::string>& defined = {});
  void close();
  bool is_open() const { return open_; }
  bool read_only() const { return read_only_; }

  uint32_t exists() const { return static_cast<uint32_t>(uids_.size()); }
  uint32_t recent_count() const;
  bool is_recent(store::Uid uid) const;
  // The UIDs that are \Recent in this session, ascending disjoint ranges: those it claimed on SELECT
  // and when it learned of new mail (Changes::claimed_recent) [RFC 3501 §2.3.2].
  const std::vector<store::UidRange>& recent() const { return recent_; }
  // FLAGS and PERMANENTFLAGS for the flags and keywords this session has been told of [RFC 3501
  // §7.2.6, §7.1]: sent on SELECT, and again whenever a keyword new to the session shows up.
  std::string flags_response() const;
  // The keywords flags_response() lists, in the order the session learned them (never shrinks
  // while the mailbox is selected).
  const std::vector<std::string>& known_keywords() const { return known_keywords_; }
  store::ModSeq highest_modseq() const { return modseq_; }
  uint32_t uid_validity() const { return uid_validity_; }
  store::Uid uid_next() const { return uid_next_; }
  const std::vector<store::Uid>& uids() const { return uids_; }

  // 1-based sequence number of a UID in the map.
  std::optional<uint32_t> seq_of(store::Uid uid) const;
  store::Uid uid_at(uint32_t seq) const { return uids_[seq - 1]; }
  // The flags of the message with this sequence number as the view last learned them.
  store::Flags flags_at(uint32_t seq) const;
  // The UIDs a set names, ascending. "$" names the saved search result (save_result), by UID or
  // sequence number alike, without the messages expunged since. By sequence number: kInvalid when a number is beyond the
  // mailbox ("*" on an empty mailbox names nothing). By UID: the UIDs in the map within the ranges.
  Result<std::vector<store::Uid>> resolve(const proto::imap::SequenceSet& set, bool by_uid) const;

  // SEARCHRES [RFC 5182]: the result "$" refers to until the next save or until the mailbox is
  // closed (ascending UIDs).
  void save_result(std::vector<store::Uid> uids) { saved_ = std::move(uids); }
  const std::vector<store::Uid>& saved_result() const { return saved_; }

  // A flag change this session made and reported itself: not repeated as an unsolicited FETCH.
  void note_own_change(store::Uid uid, store::ModSeq modseq);
  // The flags this session reported itself for a message no longer in the store (expunged
  // elsewhere, not yet announced here): later reports of it start from them.
  void remember_flags(store::Uid uid, const store::Flags& flags);
  // Applies changes after highest_modseq(). Expunges are reported when allow_expunge, else kept
  // for later; new messages become EXISTS (and RECENT), changed flags of known messages FETCH;
  // keywords new to the session first become FLAGS (flags_response()). New messages within
  // changes.claimed_recent are \Recent here (never in a read-only view).
  std::string apply(const store::Changes& changes, bool allow_expunge, const ViewOptions& options);
  // Reports kept expunges (at the next point where EXPUNGE may be sent).
  std::string release_expunges(const ViewOptions& options);
  bool has_pending_expunges() const { return !pending_expunges_.empty(); }
  const std::vector<store::Uid>& pending_expunges() const { return pending_expunges_; }
  // Keywords of `flags` the session has not been told of yet are added; returns flags_response()
  // then, else "". For the flags a command of this session reports itself (STORE).
  std::string learn_keywords(const store::Flags& flags);
  // This session's own EXPUNGE / MOVE: removes the UIDs and returns the responses.
  std::string expunge(const std::vector<store::Uid>& uids, const ViewOptions& options);

 private:
  void set_flags(size_t index, const store::Flags& flags);
  void erase_at(const std::vector<size_t>& indices);  // ascending
  bool add_keywords(const store::Flags& flags);        // true when one was new
  void add_recent(store::UidRange range);

  std::vector<store::Uid> uids_;                // ascending; index + 1 = sequence number
  std::vector<uint8_t> system_;                 // parallel to uids_: system flags, kHasKeywords
  std::unordered_map<store::Uid, std::vector<std::string>> keywords_;  // only messages with keywords
  std::vector<store::Uid> pending_expunges_;    // ascending, still in uids_
  std::vector<std::pair<store::Uid, store::ModSeq>> own_;
  std::vector<store::Uid> saved_;               // "$", ascending
  std::vector<store::UidRange> recent_;         // ascending, disjoint
  std::vector<std::string> known_keywords_;     // announced in FLAGS, in the order learned
  store::ModSeq modseq_ = 0;
  uint32_t uid_validity_ = 0;
  store::Uid uid_next_ = 1;
  bool read_only_ = true;
  bool open_ = false;
};

}  // namespace posthorn::server::imap
