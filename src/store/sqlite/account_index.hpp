// The per-account index <data_dir>/accounts/<id>/index.db (DESIGN.md §4): the SQL schema and every
// query and change the embedded mail store makes. Pure blocking SQL over one Db; no threads, no
// files besides the database, no protocol text.
//
// Schema (version 2; version 1 indexes are upgraded in place by init()):
//   schema_version(version)
//   account(id=1, last_uid_validity, storage_bytes, messages)  quota totals, kept in the same
//                                                             transactions as the messages
//          (v2: pop3_policy, the account's own POP3 policy text; '' = the server's)
//   mailboxes(id AUTOINCREMENT, name UNIQUE, uid_validity, uid_next, highest_modseq, special_use,
//             first_recent)                                   ids are never reused
//   subscriptions(name)
//   messages(mailbox_id, uid, modseq, flags, keywords, internal_date, save_date, size, blob)
//            PRIMARY KEY(mailbox_id, uid)                     keywords: space-separated
//   message_bytes(mailbox_id, uid, prefix, summary, content_hash)  the large values, apart (v2:
//            content_hash, NULL for messages stored by version 1 until POP3 computes it)
//   pop3_state(mailbox_id, uid, retrieved_at, hidden)         v2: POP3's first RETR and "keep"
//                                                             deletions; cascades with messages
//   expunged(mailbox_id, uid, modseq)                         the QRESYNC expunge log
//
// Writers (the functions documented "in a transaction") expect the caller to hold a write
// transaction (BEGIN IMMEDIATE or a savepoint inside one) and never commit themselves. Readers run
// their statements in whatever transaction the caller holds (a deferred one gives a consistent view).
// Thread-compatible: one Db per thread at a time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_db.hpp"
#include "store/prepare.hpp"
#include "store/types.hpp"

namespace posthorn::store::sqlite::index {

inline constexpr int64_t kSchemaVersion = 2;

// A message ready for the index: its blob is already durable and its summary computed.
struct NewMessage : MessageRow {
  std::string blob_id;
};

// Where the bytes of one message are.
struct MessageLocation {
  std::string blob_id;
  std::string prefix;
};

// Creates or checks the schema; a new index gets the default mailboxes (INBOX, Sent, Drafts, Trash,
// Junk, Archive with special-use), all subscribed. kInvalid when the index is newer than this code.
// Runs its own transaction.
Result<void> init(Db& db, int64_t now);

Result<std::vector<MailboxInfo>> list_mailboxes(Db& db);
Result<MailboxInfo> find_mailbox(Db& db, std::string_view canonical_name);  // kNotFound
Result<MailboxInfo> mailbox_by_id(Db& db, MailboxId id);                    // kNotFound

// In a transaction. Creates missing parents; kExists when `name` exists.
Result<MailboxInfo> create_mailbox(Db& db, std::string_view canonical_name, SpecialUse use, int64_t now);
// In a transaction. Returns the ids of every mailbox that changed (for change events).
Result<std::vector<MailboxId>> rename_mailbox(Db& db, std::string_view from, std::string_view to, int64_t now);
// In a transaction. Returns the id of the deleted mailbox.
Result<MailboxId> delete_mailbox(Db& db, std::string_view canonical_name);
Result<void> set_subscribed(Db& db, std::string_view canonical_name, bool subscribed);  // in a transaction
Result<std::vector<std::string>> list_subscriptions(Db& db);

// In a transaction when `claim_recent` (moves the mailbox's first-recent mark to uid_next).
Result<MailboxView> select(Db& db, MailboxId mailbox, bool claim_recent);
Result<MailboxStatus> status(Db& db, MailboxId mailbox);
Result<std::vector<MessageData>> fetch(Db& db, MailboxId mailbox, const std::vector<Uid>& uids, bool with_summary);
Result<std::vector<MessageData>> summaries(Db& db, MailboxId mailbox, const std::vector<Uid>& uids);
Result<MessageLocation> locate(Db& db, MailboxId mailbox, Uid uid);  // kNotFound

// In a transaction. All or nothing; kOverQuota when the totals would exceed `limits`.
Result<std::vector<AppendResult>> append(Db& db, MailboxId mailbox, const std::vector<NewMessage>& messages,
                                         const Limits& limits, int64_t now);
// In a transaction. `request` has normalised flags.
Result<StoreResult> store_flags(Db& db, MailboxId mailbox, const StoreFlags& request);
// In a transaction. move: the sources are expunged too.
Result<CopyResult> copy(Db& db, MailboxId source, const std::vector<Uid>& uids, MailboxId dest,
                        const Limits& limits, bool move, int64_t now);
// In a transaction.
Result<ExpungeResult> expunge(Db& db, MailboxId mailbox, const std::optional<std::vector<Uid>>& uids);
// `first_recent`, when given, receives the mailbox's first-recent mark (the lowest UID no session
// has claimed as \Recent).
Result<Changes> changes_since(Db& db, MailboxId mailbox, ModSeq since, Uid* first_recent = nullptr);
// In a transaction: claims \Recent for the UIDs from the first-recent mark up to `below` (moving the
// mark there); nothing when the mark is at or above `below` already [RFC 3501 §2.3.2].
Result<std::optional<UidRange>> claim_recent(Db& db, MailboxId mailbox, Uid below);
Result<QuotaUsage> usage(Db& db);  // limits left 0: the caller knows them
// POP3: the messages of `mailbox` not hidden from POP3 (content_hash "" where not yet known).
Result<MaildropView> maildrop(Db& db, MailboxId mailbox);
Result<void> set_pop3_policy(Db& db, std::string_view policy);  // in a transaction
// In a transaction: records a content hash computed later (messages of schema version 1).
Result<void> set_content_hash(Db& db, MailboxId mailbox, Uid uid, std::string_view hash);
struct MaildropCommit {
  MaildropResult result;
  ModSeq highest_modseq = 0;  // after the commit (changed when something was removed)
};
// In a transaction: the POP3 UPDATE state (see store::MaildropUpdate).
Result<MaildropCommit> commit_maildrop(Db& db, MailboxId mailbox, const MaildropUpdate& update);

// Every blob id the index refers to (for garbage collection).
Result<std::vector<std::string>> referenced_blobs(Db& db);

// ---- Moving an installation (posthorn migrate, store.hpp) ----

// A message being restored: its blob is durable, its row computed, and its identity given.
struct RestoredRow : NewMessage {
  Uid uid = 0;
  ModSeq modseq = 0;
  int64_t save_date = 0;
};

// At most `limit` messages of `mailbox` with UIDs above `after`, ascending.
Result<std::vector<MessageInfo>> image_page(Db& db, MailboxId mailbox, Uid after, std::size_t limit);
// In a transaction: Account::restore_mailbox.
Result<MailboxInfo> restore_mailbox(Db& db, const MailboxInfo& info, int64_t now);
// In a transaction: Mailbox::restore_messages (`messages` in the order given, checked here with
// store::check_restore). Returns the mailbox's highest modseq.
Result<ModSeq> restore_messages(Db& db, MailboxId mailbox, const std::vector<RestoredMessage>& given,
                                const std::vector<RestoredRow>& rows);

}  // namespace posthorn::store::sqlite::index
