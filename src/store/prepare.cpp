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

}  // namespace posthorn::store
