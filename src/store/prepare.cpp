#include "store/prepare.hpp"

#include <utility>

#include "base/crypto.hpp"

namespace posthorn::store {

MessageRow describe_message(std::string_view blob_hash, std::string_view bytes, std::string prefix, Flags flags,
                            std::optional<int64_t> internal_date, int64_t now, const mime::MessageSummary* parsed) {
  MessageRow m;
  m.size = prefix.size() + bytes.size();
  if (prefix.empty()) {
    m.summary = mime::encode_summary(parsed != nullptr ? *parsed : mime::summarize(bytes));
    m.content_hash = std::string(blob_hash);
  } else {
    if (parsed != nullptr) {
      m.summary = mime::encode_summary(mime::with_prefix(*parsed, prefix.size()));
    } else {
      std::string whole = prefix;
      whole.append(bytes);
      m.summary = mime::encode_summary(mime::summarize(whole));
    }
    Sha256 hash;  // of the content as an export writes it: prefix, then the blob
    hash.update(prefix);
    hash.update(bytes);
    m.content_hash = hash.hex();
  }
  m.prefix = std::move(prefix);
  m.flags = std::move(flags);
  m.internal_date = internal_date.value_or(now);
  return m;
}

Result<bool> SpoolPieces::next(std::string& piece) {
  piece.clear();
  while (piece.empty()) {
    if (offset_ >= spool_.size()) return false;
    raw_.resize(kSpoolPiece);
    auto n = spool_.read(offset_, raw_.data(), raw_.size());
    if (!n) return n.error();
    if (*n == 0) return make_error(Errc::kUnavailable, "cannot read the spooled message");
    offset_ += *n;
    raw_.resize(*n);
    if (binary_) {
      piece.swap(raw_);
    } else {
      crlf_.feed(raw_, piece);
    }
  }
  return true;
}

Result<void> check_restore(const std::vector<RestoredMessage>& messages, const MailboxInfo& box, Uid max_uid) {
  Uid last = max_uid;
  for (const auto& m : messages) {
    const std::string which = "restored message UID " + std::to_string(m.info.uid);
    if (m.info.uid <= last) return make_error(Errc::kInvalid, which + " is not above the mailbox's UIDs");
    if (m.info.uid >= box.uid_next) return make_error(Errc::kInvalid, which + " is not below the mailbox's UIDNEXT");
    if (m.info.modseq == 0 || m.info.modseq > box.highest_modseq) {
      return make_error(Errc::kInvalid, which + " has a MODSEQ above the mailbox's HIGHESTMODSEQ");
    }
    last = m.info.uid;
  }
  return {};
}

Result<void> check_restore_mailbox(const MailboxInfo& info) {
  if (info.uid_validity == 0 || info.uid_next == 0 || info.highest_modseq == 0) {
    return make_error(Errc::kInvalid, "restored mailbox " + info.name + " needs UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ");
  }
  return {};
}

AppendMessage restored_append(RestoredMessage& m) {
  AppendMessage out;
  out.bytes = std::move(m.bytes);
  out.flags = m.info.flags;
  out.internal_date = m.info.internal_date;
  out.binary = true;
  out.spool = m.spool;
  return out;
}

}  // namespace posthorn::store
