// Value types of the mail store (DESIGN.md §2, §4): identifiers, flags, mailbox and message
// metadata, and the results of store operations. Backend-neutral: no SQLite or PostgreSQL type
// appears here, and nothing here formats protocol text. Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/spool.hpp"

namespace posthorn::store {

using AccountId = int64_t;  // the same numbers as auth::AccountId
using MailboxId = int64_t;  // stable for a mailbox's life, survives renames; never reused
using Uid = uint32_t;       // [RFC 9051 §2.3.1.1], 1-based, strictly ascending per mailbox
using ModSeq = uint64_t;    // [RFC 7162], per mailbox, strictly ascending; 0 = never modified

// System flags other than \Recent (which is a per-session notion, see Mailbox::select).
enum SystemFlag : uint8_t {
  kAnswered = 1 << 0,
  kFlagged = 1 << 1,
  kDeleted = 1 << 2,
  kSeen = 1 << 3,
  kDraft = 1 << 4,
};
inline constexpr uint8_t kAllSystemFlags = 0x1f;

// A message's flags: the system flags as bits and any number of keywords. Keywords are compared
// case-insensitively (IMAP flag names are); `normalize()` sorts them and removes duplicates,
// keeping the first spelling seen.
struct Flags {
  uint8_t system = 0;
  std::vector<std::string> keywords;

  bool has(SystemFlag f) const { return (system & f) != 0; }
  bool has_keyword(std::string_view keyword) const;
  void normalize();
  bool operator==(const Flags&) const = default;
};

// Validates a keyword [RFC 9051 atom, no '\\' prefix]: 1..kMaxKeywordLength printable ASCII bytes
// without atom-specials. Errc::kInvalid otherwise.
inline constexpr std::size_t kMaxKeywordLength = 100;
Result<void> check_keyword(std::string_view keyword);
// `flags` with every keyword checked (kInvalid otherwise) and normalised: what a backend stores.
Result<Flags> checked_flags(Flags flags);

enum class FlagOp { kAdd, kRemove, kReplace };
// The flags after a STORE of `given` with `op` on a message that had `old`, normalised.
Flags apply_flag_op(const Flags& old, FlagOp op, const Flags& given);

// Message bytes as stored: every lone LF becomes CRLF; existing CRLF pairs and lone CR bytes are
// kept as they are. Used before hashing and storing (store backends, import, SMTP) so one message
// always has one stored form.
std::string normalize_crlf(std::string_view bytes);
// Whether normalize_crlf would change `bytes` (a lone LF is in them).
bool has_bare_lf(std::string_view bytes);
// The same over bytes given in pieces (a message too big to hold at once): feed() appends the
// normalised form of each piece to `out`; a CR at the end of one piece and an LF at the start of
// the next are one CRLF. Concatenating the outputs gives normalize_crlf() of the whole.
class CrlfNormalizer {
 public:
  void feed(std::string_view piece, std::string& out);

 private:
  bool after_cr_ = false;
};

// [RFC 6154] special-use attributes.
enum class SpecialUse : uint8_t { kNone, kAll, kArchive, kDrafts, kFlagged, kJunk, kSent, kTrash, kImportant };
std::string_view to_string(SpecialUse use);  // "\\Sent", ... ("" for kNone)

// Mailbox names are UTF-8 with '/' as the hierarchy separator. "INBOX" is case-insensitive and
// always spelled "INBOX". A name has 1..kMaxNameDepth non-empty components, none "." or "..",
// no control characters (U+0000..U+001F, U+007F), at most kMaxNameBytes bytes in all.
inline constexpr char kSeparator = '/';
inline constexpr std::size_t kMaxNameBytes = 1000;
inline constexpr std::size_t kMaxNameDepth = 32;
// Returns the canonical name ("inbox/x" -> "INBOX/x") or Errc::kInvalid with a reason.
Result<std::string> canonical_mailbox_name(std::string_view name);
// Whether canonical `name` lies below `parent` in the hierarchy ("a/b/c" is under "a/b", "a/bc" is not).
bool is_under(std::string_view name, std::string_view parent);

struct MailboxInfo {
  MailboxId id = 0;
  std::string name;           // canonical
  uint32_t uid_validity = 0;  // never reused for a name within an account
  Uid uid_next = 1;
  ModSeq highest_modseq = 0;
  SpecialUse special_use = SpecialUse::kNone;
  bool subscribed = false;
};

struct MailboxStatus {
  uint32_t messages = 0;
  uint32_t unseen = 0;   // without \Seen
  uint32_t recent = 0;   // UIDs at or above the mailbox's first-recent mark
  uint32_t deleted = 0;  // with \Deleted
  uint64_t size = 0;     // sum of message sizes (STATUS=SIZE)
  uint64_t deleted_size = 0;
  Uid uid_next = 1;
  uint32_t uid_validity = 0;
  ModSeq highest_modseq = 0;
};

struct MessageInfo {
  Uid uid = 0;
  ModSeq modseq = 0;
  Flags flags;
  int64_t internal_date = 0;  // Unix seconds (UTC)
  int64_t save_date = 0;      // Unix seconds: when it was saved in this mailbox [RFC 8514]
  uint64_t size = 0;          // bytes of the stored message (CRLF line ends), prefix included
};

// Everything IMAP FETCH needs without reading the message: the metadata and the cached parse
// (mime::encode_summary bytes; decode with mime::decode_summary).
struct MessageData {
  MessageInfo info;
  std::string summary;
};

// An inclusive range of UIDs, first <= last.
struct UidRange {
  Uid first = 0;
  Uid last = 0;
  bool operator==(const UidRange&) const = default;
};

// A mailbox as a session sees it on SELECT/EXAMINE.
struct MailboxView {
  MailboxInfo mailbox;
  std::vector<MessageInfo> messages;  // ascending UID
  Uid first_recent = 0;  // messages with uid >= first_recent are \Recent for this session (0: none)
};

struct StoreFlags {
  std::vector<Uid> uids;  // ascending; UIDs that do not exist (any more) are ignored
  FlagOp op = FlagOp::kAdd;
  Flags flags;
  std::optional<ModSeq> unchanged_since;  // [RFC 7162 §3.1.3]
};

struct StoreResult {
  std::vector<MessageInfo> changed;  // messages whose flags changed, with their new modseq
  std::vector<MessageInfo> unchanged;  // messages that had those flags already: their flags and modseq
  std::vector<Uid> conflicts;        // UNCHANGEDSINCE failed: the MODIFIED set
  ModSeq highest_modseq = 0;
};

struct AppendMessage {
  std::string bytes;                    // the message (empty when `spool` holds it)
  Flags flags;
  std::optional<int64_t> internal_date;  // Unix seconds; now when absent
  // Sent as binary data (an IMAP literal8 [RFC 3516 §4.3]): stored byte for byte. Otherwise line
  // ends are normalised to CRLF on store (normalize_crlf).
  bool binary = false;
  // When set, the message is these bytes instead of `bytes`: a big IMAP APPEND literal spooled to a
  // temp file as it arrived (issue 28 item 2). The store copies it into its blob a piece at a time.
  std::shared_ptr<const Spool> spool{};

  uint64_t size() const { return spool ? spool->size() : bytes.size(); }
};

struct AppendResult {
  uint32_t uid_validity = 0;
  Uid uid = 0;
  ModSeq modseq = 0;
};

struct CopyResult {  // [RFC 4315] COPYUID
  uint32_t uid_validity = 0;  // of the destination
  std::vector<Uid> source;    // ascending, only UIDs that existed
  std::vector<Uid> dest;      // dest[i] is the new UID of source[i]
};

struct ExpungeResult {
  std::vector<Uid> expunged;  // ascending
  ModSeq highest_modseq = 0;
};

// What changed in a mailbox after a modseq: for CONDSTORE/QRESYNC and for sessions catching up
// after a ChangeFeed notification.
struct Changes {
  std::vector<MessageInfo> changed;  // messages (new or with new flags) with modseq > since, by UID
  std::vector<Uid> vanished;         // expunged with modseq > since, ascending
  ModSeq highest_modseq = 0;
  Uid uid_next = 1;
  // Mailbox::changes_since(since, claim_recent = true): the UIDs below uid_next that no session had
  // claimed as \Recent and that this caller now has [RFC 3501 §2.3.2]; absent when there were none.
  std::optional<UidRange> claimed_recent;
};

// POP3's view of one mailbox [RFC 1939]: the messages not hidden from POP3, ascending UID.
struct MaildropEntry {
  Uid uid = 0;
  uint64_t size = 0;          // octets as stored (CRLF line ends), what RETR sends before dot-stuffing
  std::string content_hash;   // lower-case hex SHA-256 of the message bytes (delivery prefix included):
                              // the same bytes give the same hash, after an export and import too
  int64_t retrieved_at = 0;   // Unix seconds of the first POP3 RETR; 0 when never retrieved
  bool seen = false;          // has \Seen
};

struct MaildropView {
  uint32_t uid_validity = 0;
  std::string pop3_policy;  // the account's own POP3 policy (Account::set_pop3_policy); "" = the server's
  std::vector<MaildropEntry> messages;
};

// What a POP3 session commits at QUIT (the UPDATE state [RFC 1939 §6]), in one transaction.
struct MaildropUpdate {
  std::vector<Uid> retrieved;  // RETR'd this session: first-retrieval time set where not yet set
  bool mark_seen = true;       // and \Seen added to them, as IMAP clients expect after a download
  std::vector<Uid> deleted;    // DELE'd this session
  bool remove_deleted = true;  // true: expunge them; false: hide them from later POP3 sessions only
  // When set: also expunge every message first retrieved before this time (the "keep N days"
  // policy, RFC 2449 EXPIRE), hidden or not.
  std::optional<int64_t> expire_retrieved_before;
  int64_t now = 0;
};

struct MaildropResult {
  std::vector<Uid> removed;  // expunged, ascending
  std::vector<Uid> hidden;   // hidden from POP3 only, ascending
  std::vector<Uid> seen;     // \Seen newly added, ascending
};

// Per-account limits; 0 means unlimited.
struct Limits {
  uint64_t storage_bytes = 0;
  uint64_t messages = 0;
};

struct QuotaUsage {  // [RFC 9208] STORAGE (bytes here; IMAP reports KiB) and MESSAGE
  uint64_t storage_bytes = 0;
  uint64_t messages = 0;
  Limits limits;
};

// ---- Moving an installation between backends (posthorn migrate, issue 20 item 3) ----

// One message as another store holds it, restored exactly (Mailbox::restore_messages): its bytes
// byte for byte (no CRLF normalisation, no delivery prefix split off) and info's uid, modseq, flags,
// internal_date and save_date; info.size is ignored (the size of the bytes).
struct RestoredMessage {
  MessageInfo info;
  std::string bytes;                     // the message (empty when `spool` holds it)
  std::shared_ptr<const Spool> spool{};  // a large message, read a piece at a time
};

}  // namespace posthorn::store
