// The mail store interfaces (DESIGN.md §1, §4): MailStore (accounts, delivery), Account (the mailbox
// tree of one account, quota), Mailbox (one mailbox's messages), MessageBlob (the bytes of one
// message) and ChangeFeed (change notifications between sessions of this node).
//
// Backend-neutral: the embedded backend (store/sqlite) and the multi-node backend (store/postgres)
// implement these; protocol code sees only this header. Every call that may block is an awaitable
// run by the backend on the blocking pool; callers co_await it from their connection's coroutine.
//
// Durability contract: when append, copy, move, deliver, store_flags or expunge completes with a
// value, the change is durable (blob bytes and directory entry fsync'd, index transaction committed)
// and has been published on the ChangeFeed. Errors are Errc values (DESIGN.md §5): kNotFound (no such
// mailbox or account, or the mailbox was deleted), kExists, kInvalid (bad name, keyword, message),
// kOverQuota, kTooBig, kConflict, kUnavailable (busy, disk full), kInternal.
//
// Thread-safety: every object here may be used from many coroutines and threads at once.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "store/types.hpp"

namespace posthorn::store {

template <class T>
using Task = boost::asio::awaitable<Result<T>>;

// The bytes of one stored message (any prefix record followed by the immutable blob), read in
// chunks so a large message is never held in memory whole.
class MessageBlob {
 public:
  virtual ~MessageBlob() = default;
  virtual uint64_t size() const = 0;
  // Reads up to `length` bytes at `offset` (fewer only at the end). Blocking: call on the pool, or
  // use read() which does so.
  virtual Result<std::string> read_blocking(uint64_t offset, std::size_t length) = 0;
  virtual Task<std::string> read(uint64_t offset, std::size_t length) = 0;
};

// One change in one mailbox, published after it is durable. It is a hint: a session that receives
// it calls Mailbox::changes_since(its highest modseq) to learn exactly what changed.
struct ChangeEvent {
  enum class Kind { kAppended, kFlags, kExpunged, kMailboxes };  // kMailboxes: create/rename/delete
  AccountId account = 0;
  MailboxId mailbox = 0;  // 0 for kMailboxes
  Kind kind = Kind::kAppended;
  ModSeq modseq = 0;      // the mailbox's highest modseq after the change
};

// Publish/subscribe of ChangeEvents within this node. A subscription lives until its handle is
// destroyed; callbacks run on the publisher's thread and must only post work (they must not block
// or call back into the store).
class ChangeFeed {
 public:
  class Subscription {
   public:
    virtual ~Subscription() = default;
  };
  using Callback = std::function<void(const ChangeEvent&)>;

  virtual ~ChangeFeed() = default;
  // Events of one account (every mailbox of it); the caller filters by mailbox.
  virtual std::unique_ptr<Subscription> subscribe(AccountId account, Callback callback) = 0;
  virtual void publish(const ChangeEvent& event) = 0;
};

// One selected or examined mailbox. Obtained from Account::open; stays valid across renames of the
// mailbox; after the mailbox is deleted every call returns Errc::kNotFound.
class Mailbox {
 public:
  virtual ~Mailbox() = default;
  virtual MailboxId id() const = 0;

  // The whole view for SELECT (read_write: this session claims \Recent for messages no session has
  // seen yet [RFC 3501 §2.3.2]) or EXAMINE (read_write false: nothing is claimed).
  virtual Task<MailboxView> select(bool read_write) = 0;
  virtual Task<MailboxStatus> status() = 0;

  // Metadata and cached parse of the given UIDs (ascending; missing UIDs are skipped).
  virtual Task<std::vector<MessageData>> fetch(std::vector<Uid> uids, bool with_summary) = 0;
  // The cached parse alone of the given UIDs (ascending; missing UIDs are skipped): info.uid and
  // summary are set, the rest of info is left empty. Cheaper than fetch(uids, true) when the
  // metadata is known already (SEARCH and SORT on envelope keys).
  virtual Task<std::vector<MessageData>> summaries(std::vector<Uid> uids) = 0;
  // The message bytes; kNotFound when the UID is not (any more) in the mailbox.
  virtual Task<std::unique_ptr<MessageBlob>> open_message(Uid uid) = 0;

  // One message; the default appends it through append_many().
  virtual Task<AppendResult> append(AppendMessage message);
  // Appends several messages in one transaction: all or nothing (MULTIAPPEND [RFC 3502]).
  virtual Task<std::vector<AppendResult>> append_many(std::vector<AppendMessage> messages) = 0;
  virtual Task<StoreResult> store_flags(StoreFlags request) = 0;
  // Copies the given UIDs into `dest` of the same account (the flags and internal date are kept,
  // the blob is shared).
  virtual Task<CopyResult> copy(std::vector<Uid> uids, MailboxId dest) = 0;
  // Copies then expunges the sources, atomically [RFC 6851].
  virtual Task<CopyResult> move(std::vector<Uid> uids, MailboxId dest) = 0;
  // Removes the messages with \Deleted: all of them, or only those among `uids` when given.
  virtual Task<ExpungeResult> expunge(std::optional<std::vector<Uid>> uids) = 0;
  // What changed after `since` (QRESYNC, catching up after a ChangeFeed event). `since` older
  // than the kept expunge log still works: vanished then lists every expunged UID that is known.
  // claim_recent (a SELECTed session learning of new mail): the messages up to the returned
  // uid_next that no session has claimed as \Recent yet become this caller's, atomically, so one
  // message is \Recent in exactly one session (Changes::claimed_recent) [RFC 3501 §2.3.2].
  virtual Task<Changes> changes_since(ModSeq since, bool claim_recent) = 0;

  // POP3 [RFC 1939]: the messages not hidden from POP3, and the UPDATE state's commit, atomic
  // (a session that never commits changes nothing). Expunges reach other sessions as expunges.
  virtual Task<MaildropView> maildrop() = 0;
  virtual Task<MaildropResult> commit_maildrop(MaildropUpdate update) = 0;

  // ---- Moving an installation between backends (posthorn migrate, issue 20 item 3) ----
  // The metadata of at most `limit` messages with UIDs above `after`, ascending: a mailbox is read
  // page by page, never whole.
  virtual Task<std::vector<MessageInfo>> image_page(Uid after, std::size_t limit) = 0;
  // Stores `messages` exactly as given (RestoredMessage), in one transaction, all or nothing, and
  // publishes one kAppended event. Their UIDs must ascend, lie above every UID in the mailbox and
  // below its uid_next, and their MODSEQs be at most its highest_modseq (set by
  // Account::restore_mailbox first); kInvalid otherwise. The quota is not checked (the account's
  // own mail, moved), the totals are kept. No message is \Recent afterwards.
  virtual Task<void> restore_messages(std::vector<RestoredMessage> messages) = 0;
};

// One account's mailbox tree and quota.
class Account {
 public:
  virtual ~Account() = default;
  virtual AccountId id() const = 0;

  virtual Task<std::vector<MailboxInfo>> list_mailboxes() = 0;  // sorted by name
  virtual Task<MailboxInfo> find_mailbox(std::string name) = 0;
  // Creates the mailbox (and missing parents, [RFC 9051 §6.3.4]); kExists when it exists.
  virtual Task<MailboxInfo> create_mailbox(std::string name, SpecialUse use) = 0;
  // Renames with its children. Renaming INBOX moves its messages into the new mailbox and leaves
  // INBOX empty [RFC 9051 §6.3.6]. kExists when `to` exists.
  virtual Task<void> rename_mailbox(std::string from, std::string to) = 0;
  // Deletes the mailbox and its messages; INBOX cannot be deleted (kDenied). A mailbox with
  // children becomes \Noselect is not modelled: deleting a parent with children is kConflict.
  virtual Task<void> delete_mailbox(std::string name) = 0;
  // Subscriptions may name mailboxes that do not exist [RFC 9051 §6.3.7].
  virtual Task<void> set_subscribed(std::string name, bool subscribed) = 0;
  virtual Task<std::vector<std::string>> list_subscriptions() = 0;

  virtual Task<std::unique_ptr<Mailbox>> open(std::string name) = 0;
  virtual Task<std::unique_ptr<Mailbox>> open_id(MailboxId id) = 0;
  virtual Task<QuotaUsage> quota() = 0;
  // The account's own POP3 policy (text the application validates, e.g. "keep:30"); "" = the
  // server's. Read back with Mailbox::maildrop().
  virtual Task<void> set_pop3_policy(std::string policy) = 0;

  // ---- Moving an installation between backends (posthorn migrate, issue 20 item 3) ----
  // Gives mailbox `info.name` exactly info's uid_validity, uid_next, highest_modseq and special_use
  // (info.id and info.subscribed are ignored: subscriptions move with set_subscribed), creating it
  // (and missing parents) when absent; an existing mailbox (a new account's defaults) is taken
  // over when it holds no message. kConflict when it holds messages: restoring never merges.
  // Later UIDVALIDITYs of the account stay above every restored one. Returns the mailbox as stored.
  virtual Task<MailboxInfo> restore_mailbox(MailboxInfo info) = 0;
};

// One local recipient of a delivery.
struct DeliveryTarget {
  AccountId account = 0;
  Limits limits;                  // the account's quota
  std::string mailbox = "INBOX";  // falls back to INBOX when it does not exist
  Flags flags;
  std::string prefix;             // header lines added at delivery (Received, Return-Path), CRLF
};

struct Delivery {
  // The message as received; normalised to CRLF on store (a copy is made only when it has a lone
  // LF). Shared so that the caller keeps it for notices without a copy; not changed by the store.
  std::shared_ptr<const std::string> message;
  std::vector<DeliveryTarget> targets;  // one blob serves them all
};

class MailStore {
 public:
  virtual ~MailStore() = default;

  // The account's mailboxes, created on first use with INBOX, Sent, Drafts, Trash, Junk and Archive
  // (and their special-use attributes). `limits` is the account's quota, enforced on append.
  virtual Task<std::shared_ptr<Account>> account(AccountId id, Limits limits) = 0;
  // Stores one message for every target; the results are per target, in order. A failed target
  // (over quota, unknown account) does not fail the others.
  virtual Task<std::vector<Result<AppendResult>>> deliver(Delivery delivery) = 0;
  // Removes every trace of an account (its index and its references to blobs).
  virtual Task<void> delete_account(AccountId id) = 0;
  virtual ChangeFeed& feed() = 0;
};

}  // namespace posthorn::store
