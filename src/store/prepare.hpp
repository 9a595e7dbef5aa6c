// What every store backend does to a message before its transaction, written once: the row values
// a new message gets (size, prefix, cached MIME summary, content hash, flags, internal date) and the
// normalised pieces of a spooled APPEND. Backend-neutral; the SQLite backend (store/sqlite) and the
// PostgreSQL one (store/pg) differ only in where the bytes then go (a blob file, blob_chunk rows).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/spool.hpp"
#include "mime/summary.hpp"
#include "store/types.hpp"

namespace posthorn::store {

// The values of a new message's row besides where its bytes are.
struct MessageRow {
  uint64_t size = 0;          // prefix + blob bytes
  std::string prefix;         // header lines added at delivery, stored before the blob
  std::string summary;        // mime::encode_summary of prefix + blob
  std::string content_hash;   // lower-case hex SHA-256 of prefix + blob
  Flags flags;                // normalised, keywords checked
  int64_t internal_date = 0;  // unix seconds
};

// Blocking (parses the message): the row of a message whose stored bytes are `bytes` (CRLF-normalised
// or binary) with SHA-256 `blob_hash`, behind `prefix`. `parsed` is the summary of `bytes` alone when
// the caller has it (a delivery to several targets parses once; mime::with_prefix shifts it by each
// prefix), else nullptr. `bytes` may be mapped: nothing copies it whole when there is no prefix.
MessageRow describe_message(std::string_view blob_hash, std::string_view bytes, std::string prefix, Flags flags,
                            std::optional<int64_t> internal_date, int64_t now,
                            const mime::MessageSummary* parsed = nullptr);

// Bytes of a spooled message read (and normalised) at a time.
inline constexpr std::size_t kSpoolPiece = 256 * 1024;

// A spooled message (a big APPEND) in pieces of stored bytes: CRLF-normalised as they are read,
// unless `binary` (a literal8, stored byte for byte [RFC 3516 §4.3]). Blocking (the spool's file).
class SpoolPieces {
 public:
  SpoolPieces(const Spool& spool, bool binary) : spool_(spool), binary_(binary) {}
  // Replaces `piece` with the next non-empty piece; false at the end. kUnavailable on a read error.
  Result<bool> next(std::string& piece);

 private:
  const Spool& spool_;
  bool binary_;
  uint64_t offset_ = 0;
  std::string raw_;
  CrlfNormalizer crlf_;
};

// ---- Moving an installation (posthorn migrate): what both backends check before a restore ----

// Mailbox::restore_messages' rules, against the mailbox `box` whose highest stored UID is
// `max_uid` (0: empty): UIDs ascending, above max_uid, below box.uid_next; MODSEQs 1..highest_modseq.
// kInvalid naming the first message that breaks one.
Result<void> check_restore(const std::vector<RestoredMessage>& messages, const MailboxInfo& box, Uid max_uid);
// Account::restore_mailbox's rules on the values given: UIDVALIDITY non-zero, uid_next >= 1,
// highest_modseq >= 1. kInvalid otherwise.
Result<void> check_restore_mailbox(const MailboxInfo& info);
// The AppendMessage that stores `m`'s bytes byte for byte (binary) with its flags and internal date.
AppendMessage restored_append(RestoredMessage& m);

}  // namespace posthorn::store
