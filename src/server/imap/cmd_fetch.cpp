// FETCH and UID FETCH [RFC 9051 §6.4.5, §7.5.2] with BINARY [RFC 3516], CONDSTORE CHANGEDSINCE and
// MODSEQ, QRESYNC VANISHED (EARLIER) [RFC 7162], SAVEDATE [RFC 8514] and PREVIEW [RFC 8970].
//
// Everything but message bytes comes from the index (flags, dates, sizes) and the cached parse
// (ENVELOPE, BODYSTRUCTURE, section offsets, PREVIEW). Message bytes are read from the MessageBlob
// in chunks and written as they are read, and responses go out through Session::out(), which writes
// every 64 KiB: FETCH 1:* of any mailbox size holds only one batch of messages in memory.
// BINARY decodes the part in memory (a part is bounded by APPENDLIMIT).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <span>

#include "base/ascii.hpp"
#include "mime/section.hpp"
#include "mime/summary.hpp"
#include "mime/transfer_encoding.hpp"
#include "proto/imap/datetime.hpp"
#include "proto/imap/fetch_format.hpp"
#include "proto/imap/response.hpp"
#include "proto/imap/sequence_set.hpp"
#include "server/imap/imap_format.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::FetchAtt;
using pi::Status;
using K = pi::FetchAtt::Kind;

namespace {

// Messages read from the index at a time: fewer with cached parses (a few KB each), more for
// metadata alone (FETCH 1:* FLAGS on a big mailbox is bounded by the round trips to the pool).
constexpr size_t kBatch = 256;
constexpr size_t kMetadataBatch = 4096;
constexpr size_t kChunk = 64 * 1024;        // message bytes read from a blob at a time

bool needs_summary(const FetchAtt& a) {
  switch (a.kind) {
    case K::kEnvelope: case K::kBody: case K::kBodyStructure: case K::kBodySection: case K::kBinary:
    case K::kBinarySize: case K::kPreview: case K::kRfc822Header: case K::kRfc822Text:
      return true;
    default:
      return false;
  }
}

bool needs_bytes(const FetchAtt& a) {
  switch (a.kind) {
    case K::kRfc822: case K::kRfc822Header: case K::kRfc822Text: case K::kBodySection: case K::kBinary:
    case K::kBinarySize:
      return true;
    default:
      return false;
  }
}

bool sets_seen(const FetchAtt& a) {
  return ((a.kind == K::kBodySection || a.kind == K::kBinary) && !a.peek) || a.kind == K::kRfc822 ||
         a.kind == K::kRfc822Text;
}

// The part a BINARY section names (RFC 3516 numbering, as mime/section.cpp walks it).
const mime::Part* find_part(const mime::Part& root, std::span<const uint32_t> path) {
  const mime::Part* p = &root;
  for (size_t i = 0; i < path.size(); ++i) {
    const uint32_t n = path[i];
    if (i > 0) {
      if (p->is_message()) {
        p = &p->children[0];  // numbers below a message/rfc822 part name the embedded message's parts
      } else if (!p->is_multipart()) {
        return nullptr;  // a leaf has no subparts
      }
    }
    if (p->is_multipart()) {
      if (n == 0 || n > p->children.size()) return nullptr;
      p = &p->children[n - 1];
    } else if (n != 1) {
      return nullptr;
    }
  }
  return p;
}

bool known_encoding(std::string_view e) {
  return e == "7bit" || e == "8bit" || e == "binary" || e == "base64" || e == "quoted-printable";
}

// The header fields of `header` (with its final blank line) named (or not named) in `fields`
// (upper-case), followed by the blank line [RFC 9051 §6.4.5 HEADER.FIELDS].
std::string filter_header(std::string_view header, const std::vector<std::string>& fields, bool exclude) {
  std::string out;
  size_t pos = 0;
  bool keep = false;
  while (pos < header.size()) {
    size_t eol = header.find('\n', pos);
    const size_t next = eol == std::string_view::npos ? header.size() : eol + 1;
    const std::string_view line = header.substr(pos, next - pos);
    if (line == "\r\n" || line == "\n") break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (keep) out += line;
    } else {
      const size_t colon = line.find(':');
      const std::string name = ascii::upper(ascii::trim(line.substr(0, colon == std::string_view::npos ? 0 : colon)));
      const bool listed = std::find(fields.begin(), fields.end(), name) != fields.end();
      keep = colon != std::string_view::npos && listed != exclude;
      if (keep) out += line;
    }
    pos = next;
  }
  out += "\r\n";
  return out;
}

// What one section is: a byte range of the stored message, or bytes computed here.
struct SectionData {
  bool found = true;
  bool computed = false;  // `bytes` holds the data; else [offset, offset + size) of the message
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string bytes;
};

std::optional<mime::SectionRange> locate(const mime::Part& root, const pi::Section& s, uint64_t message_size) {
  using T = pi::Section::Text;
  if (s.part.empty() && s.text == T::kNone) return mime::SectionRange{0, static_cast<size_t>(message_size)};
  mime::SectionPart which = mime::SectionPart::kAll;
  switch (s.text) {
    case T::kNone: which = mime::SectionPart::kAll; break;
    case T::kHeader: case T::kHeaderFields: case T::kHeaderFieldsNot: which = mime::SectionPart::kHeader; break;
    case T::kText: which = mime::SectionPart::kText; break;
    case T::kMime: which = mime::SectionPart::kMime; break;
  }
  return mime::find_section(root, s.part, which);
}

std::string partial_label(const std::optional<pi::Partial>& partial) {
  return partial ? "<" + std::to_string(partial->offset) + ">" : std::string();
}

}  // namespace

asio::awaitable<std::string> Session::cmd_fetch(const std::string& tag, const pi::Fetch& args) {
  auto uids = view_.resolve(args.set, args.uid);
  if (!uids) co_return pi::tagged(tag, Status::kBad, uids.error().message);
  if (args.vanished && !qresync_) co_return pi::tagged(tag, Status::kBad, "QRESYNC is not enabled");

  bool want_summary = false, want_bytes = false, want_seen = false, has_flags = false;
  bool has_uid = false, has_modseq = false;
  for (const auto& a : args.atts) {
    want_summary = want_summary || needs_summary(a);
    want_bytes = want_bytes || needs_bytes(a);
    want_seen = want_seen || sets_seen(a);
    has_flags = has_flags || a.kind == K::kFlags;
    has_uid = has_uid || a.kind == K::kUid;
    has_modseq = has_modseq || a.kind == K::kModSeq;
  }
  if (has_modseq || args.changed_since) co_await enable_condstore();
  want_seen = want_seen && !view_.read_only();
  const bool add_uid = args.uid && !has_uid;
  const bool add_modseq = args.changed_since.has_value() && !has_modseq;

  // FLAGS and UID alone (what a client asks of a whole mailbox to sync it) come from the view when
  // it is up to date: no other session's change waiting (those are read from the store as usual) and
  // no expunge held back. The responses are the ones the store path below would write.
  const bool view_only = std::all_of(args.atts.begin(), args.atts.end(),
                                     [](const FetchAtt& a) { return a.kind == K::kFlags || a.kind == K::kUid; });
  if (view_only && !args.changed_since && !args.vanished && !feed_->pending.load() && !view_.has_pending_expunges()) {
    std::vector<store::Uid> ordered = std::move(*uids);
    if (!std::is_sorted(ordered.begin(), ordered.end())) std::sort(ordered.begin(), ordered.end());
    ordered.erase(std::unique(ordered.begin(), ordered.end()), ordered.end());
    std::string text;
    for (store::Uid uid : ordered) {
      const auto seq = view_.seq_of(uid);
      if (!seq) continue;
      const std::string number = std::to_string(uid);
      text += "* " + std::to_string(*seq) + " FETCH (";
      if (add_uid) text += "UID " + number + (args.atts.empty() ? "" : " ");
      for (size_t i = 0; i < args.atts.size(); ++i) {
        if (i > 0) text += ' ';
        if (args.atts[i].kind == K::kUid) {
          text += "UID " + number;
        } else {
          text += "FLAGS " + format_flags(view_.flags_at(*seq), !rev2_ && view_.is_recent(uid));
        }
      }
      text += ")\r\n";
      if (text.size() >= kChunk) {
        co_await out(text);
        text.clear();
        if (broken_) break;
      }
    }
    co_await out(text);
    co_return pi::tagged(tag, Status::kOk, "FETCH completed");
  }

  // UID FETCH ... (CHANGEDSINCE m VANISHED): the expunged UIDs of the set first [RFC 7162 §3.2.6].
  if (args.vanished) {
    auto changes = co_await mailbox_->changes_since(*args.changed_since, false);
    if (!changes) co_return pi::store_failure(tag, changes.error());
    const auto ranges = args.set.resolve(view_.uid_next() > 0 ? view_.uid_next() - 1 : 0);
    std::vector<uint32_t> vanished;
    for (store::Uid uid : changes->vanished) {
      if (view_.seq_of(uid)) continue;
      for (const auto& r : ranges) {
        if (uid >= r.first && uid <= r.last) {
          vanished.push_back(uid);
          break;
        }
      }
    }
    if (!vanished.empty()) co_await out("* VANISHED (EARLIER) " + pi::compact_set(vanished) + "\r\n");
  }

  bool missing = false;
  bool unknown_cte = false;
  const size_t batch_size = want_summary || want_bytes ? kBatch : kMetadataBatch;
  for (size_t start = 0; start < uids->size() && !broken_; start += batch_size) {
    std::vector<store::Uid> batch(uids->begin() + static_cast<std::ptrdiff_t>(start),
                                  uids->begin() + static_cast<std::ptrdiff_t>(std::min(uids->size(), start + batch_size)));
    const size_t wanted = batch.size();
    auto fetch_task = mailbox_->fetch(batch, want_summary);
    auto data = co_await std::move(fetch_task);
    if (!data) co_return pi::store_failure(tag, data.error());
    if (data->size() < wanted) missing = true;
    if (args.changed_since) {
      std::erase_if(*data, [&](const store::MessageData& m) { return m.info.modseq <= *args.changed_since; });
    }
    // Reading a body sets \Seen [RFC 9051 §6.4.5]; the new flags are part of the response.
    std::vector<store::Uid> seen_now;
    if (want_seen) {
      std::vector<store::Uid> unseen;
      for (const auto& m : *data) {
        if (!m.info.flags.has(store::kSeen)) unseen.push_back(m.info.uid);
      }
      if (!unseen.empty()) {
        store::StoreFlags req;
        req.uids = std::move(unseen);
        req.op = store::FlagOp::kAdd;
        req.flags.system = store::kSeen;
        auto store_task = mailbox_->store_flags(std::move(req));
        auto stored = co_await std::move(store_task);
        if (stored) {
          for (const auto& changed : stored->changed) {
            view_.note_own_change(changed.uid, changed.modseq);
            seen_now.push_back(changed.uid);
            for (auto& m : *data) {
              if (m.info.uid == changed.uid) {
                m.info.flags = changed.flags;
                m.info.modseq = changed.modseq;
              }
            }
          }
        }
      }
    }

    for (const auto& m : *data) {
      if (broken_) break;
      const auto seq = view_.seq_of(m.info.uid);
      if (!seq) continue;
      std::optional<mime::MessageSummary> summary;
      if (want_summary) {
        auto decoded = mime::decode_summary(m.summary);
        if (!decoded) {
          spdlog::warn("conn={} imap: undecodable summary for uid {}", id(), m.info.uid);
          missing = true;
          continue;
        }
        summary = std::move(*decoded);
      }
      std::unique_ptr<store::MessageBlob> blob;
      if (want_bytes) {
        auto open_task = mailbox_->open_message(m.info.uid);
        auto opened = co_await std::move(open_task);
        if (!opened) {
          missing = true;  // expunged meanwhile
          continue;
        }
        blob = std::move(*opened);
      }
      const bool recent = !rev2_ && view_.is_recent(m.info.uid);
      const bool seen_changed = std::find(seen_now.begin(), seen_now.end(), m.info.uid) != seen_now.end();
      // Flags read from the store may hold a keyword another session just added: FLAGS first [RFC 3501 §7.2.6].
      if (has_flags || seen_changed) {
        if (auto flags_update = view_.learn_keywords(m.info.flags); !flags_update.empty()) co_await out(flags_update);
      }
      std::string item = "* " + std::to_string(*seq) + " FETCH (";
      bool first = true;
      auto sep = [&item, &first] {
        if (!first) item += ' ';
        first = false;
      };
      if (add_uid) {
        sep();
        item += "UID " + std::to_string(m.info.uid);
      }
      if (seen_changed && !has_flags) {
        sep();
        item += "FLAGS " + format_flags(m.info.flags, recent);
      }
      if (add_modseq) {
        sep();
        item += "MODSEQ (" + std::to_string(m.info.modseq) + ")";
      }
      for (const auto& a : args.atts) {
        if (broken_) break;
        sep();
        switch (a.kind) {
          case K::kFlags: item += "FLAGS " + format_flags(m.info.flags, recent); continue;
          case K::kUid: item += "UID " + std::to_string(m.info.uid); continue;
          case K::kInternalDate: item += "INTERNALDATE \"" + pi::format_date_time(m.info.internal_date) + "\""; continue;
          case K::kRfc822Size: item += "RFC822.SIZE " + std::to_string(m.info.size); continue;
          case K::kModSeq: item += "MODSEQ (" + std::to_string(m.info.modseq) + ")"; continue;
          case K::kSaveDate:
            item += m.info.save_date > 0 ? "SAVEDATE \"" + pi::format_date_time(m.info.save_date) + "\"" : "SAVEDATE NIL";
            continue;
          case K::kEnvelope: item += "ENVELOPE " + pi::format_envelope(summary->envelope); continue;
          case K::kBody: item += "BODY " + pi::format_body_structure(*summary, false); continue;
          case K::kBodyStructure: item += "BODYSTRUCTURE " + pi::format_body_structure(*summary, true); continue;
          case K::kPreview: item += "PREVIEW " + pi::string_value(summary->preview); continue;
          default: break;
        }
        // Sections: name, then the bytes (computed here, or streamed from the blob).
        pi::Section section = a.section;
        std::string label;
        std::optional<pi::Partial> partial = a.partial;
        if (a.kind == K::kRfc822) {
          label = "RFC822";
        } else if (a.kind == K::kRfc822Header) {
          label = "RFC822.HEADER";
          section.text = pi::Section::Text::kHeader;
        } else if (a.kind == K::kRfc822Text) {
          label = "RFC822.TEXT";
          section.text = pi::Section::Text::kText;
        } else if (a.kind == K::kBodySection) {
          label = "BODY[" + section.to_string() + "]" + partial_label(partial);
        } else if (a.kind == K::kBinary) {
          label = "BINARY[" + section.to_string() + "]" + partial_label(partial);
        } else {
          label = "BINARY.SIZE[" + section.to_string() + "]";
        }
        SectionData sd;
        if (a.kind == K::kBinary || a.kind == K::kBinarySize) {
          const mime::Part* part = section.part.empty() ? &summary->root : find_part(summary->root, section.part);
          if (part == nullptr) {
            sd.found = false;
          } else if (!known_encoding(part->encoding)) {
            unknown_cte = true;
            sd.found = false;
          } else {
            const uint64_t off = section.part.empty() ? 0 : part->body_offset;
            const uint64_t len = section.part.empty() ? m.info.size : part->body_size;
            auto read_task = blob->read(off, static_cast<size_t>(len));
            auto raw = co_await std::move(read_task);
            if (!raw) {
              sd.found = false;
            } else {
              sd.computed = true;
              sd.bytes = part->is_multipart() || section.part.empty()
                             ? std::move(*raw)
                             : mime::decode_transfer_encoding(*raw, part->encoding);
            }
          }
        } else {
          auto range = locate(summary ? summary->root : mime::Part{}, section, m.info.size);
          if (!range) {
            sd.found = false;
          } else if (section.text == pi::Section::Text::kHeaderFields ||
                     section.text == pi::Section::Text::kHeaderFieldsNot) {
            auto read_task = blob->read(range->offset, range->size);
            auto raw = co_await std::move(read_task);
            sd.computed = true;
            if (raw) {
              sd.bytes = filter_header(*raw, section.fields, section.text == pi::Section::Text::kHeaderFieldsNot);
            }
          } else {
            sd.offset = range->offset;
            sd.size = range->size;
          }
        }
        if (a.kind == K::kBinarySize) {
          item += label + " " + std::to_string(sd.bytes.size());
          continue;
        }
        if (!sd.found) {
          item += label + " NIL";
          continue;
        }
        // <offset.length> cuts the section [RFC 9051 §6.4.5].
        uint64_t total = sd.computed ? sd.bytes.size() : sd.size;
        uint64_t from = 0;
        if (partial) {
          from = std::min<uint64_t>(partial->offset, total);
          total = std::min<uint64_t>(partial->length, total - from);
        }
        // BINARY data holding NUL goes in a literal8; everything else in a literal, where a NUL of
        // the message becomes 0x80 [RFC 3516 §4.3, RFC 9051 §4.3, §7.5.2].
        const bool binary = a.kind == K::kBinary;
        if (sd.computed) {
          std::string data = sd.bytes.substr(static_cast<size_t>(from), static_cast<size_t>(total));
          const bool literal8 = binary && data.find('\0') != std::string::npos;
          if (!binary) pi::mask_nul_octets(data);
          item += label + pi::section_literal_open(total, literal8);
          item += data;
          continue;
        }
        item += label + pi::section_literal_open(total, false);
        co_await out(item);
        item.clear();
        uint64_t pos = sd.offset + from;
        uint64_t left = total;
        while (left > 0 && !broken_) {
          const size_t n = static_cast<size_t>(std::min<uint64_t>(left, kChunk));
          auto read_task = blob->read(pos, n);
          auto chunk = co_await std::move(read_task);
          if (!chunk || chunk->empty()) {
            // The blob is shorter than its index entry: pad so the literal stays well-formed.
            spdlog::error("conn={} imap: short read of uid {} at {}", id(), m.info.uid, pos);
            co_await out(std::string(static_cast<size_t>(left), ' '));
            break;
          }
          pi::mask_nul_octets(*chunk);
          co_await out(*chunk);
          pos += chunk->size();
          left -= std::min<uint64_t>(left, chunk->size());
        }
      }
      item += ")\r\n";
      co_await out(item);
    }
  }
  if (unknown_cte) {
    co_return pi::tagged(tag, Status::kNo, pi::code::kUnknownCte, "Unknown Content-Transfer-Encoding");
  }
  if (missing) co_return pi::tagged(tag, Status::kOk, "EXPUNGEISSUED", "Some messages were expunged meanwhile");
  co_return pi::tagged(tag, Status::kOk, "FETCH completed");
}

}  // namespace posthorn::server::imap
