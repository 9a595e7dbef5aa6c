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
  bool unknown_cte = false;  // BINARY of a part whose transfer encoding is unknown (not found)
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

// What a FETCH needs, from its attribute list: which store data, and which items the response
// carries that the client did not name (UID for UID FETCH, MODSEQ for CHANGEDSINCE).
struct FetchPlan {
  bool want_summary = false;  // the cached parse (ENVELOPE, BODYSTRUCTURE, section offsets)
  bool want_bytes = false;    // the message bytes
  bool want_seen = false;     // an item sets \Seen and the mailbox is read-write
  bool has_flags = false;
  bool has_modseq = false;
  bool add_uid = false;
  bool add_modseq = false;
  bool view_only = false;  // FLAGS and UID alone: the view can answer when it is up to date
};

// What went wrong on the way without failing the command: messages expunged meanwhile (or with an
// unreadable summary), and BINARY of a part whose transfer encoding is unknown.
struct FetchOutcome {
  bool missing = false;
  bool unknown_cte = false;

  void add(const FetchOutcome& other) {
    missing = missing || other.missing;
    unknown_cte = unknown_cte || other.unknown_cte;
  }
};

namespace {

FetchPlan plan_fetch(const pi::Fetch& args, bool read_only) {
  FetchPlan plan;
  bool has_uid = false;
  for (const auto& a : args.atts) {
    plan.want_summary = plan.want_summary || needs_summary(a);
    plan.want_bytes = plan.want_bytes || needs_bytes(a);
    plan.want_seen = plan.want_seen || sets_seen(a);
    plan.has_flags = plan.has_flags || a.kind == K::kFlags;
    has_uid = has_uid || a.kind == K::kUid;
    plan.has_modseq = plan.has_modseq || a.kind == K::kModSeq;
  }
  plan.want_seen = plan.want_seen && !read_only;
  plan.add_uid = args.uid && !has_uid;
  plan.add_modseq = args.changed_since.has_value() && !plan.has_modseq;
  plan.view_only = std::all_of(args.atts.begin(), args.atts.end(),
                               [](const FetchAtt& a) { return a.kind == K::kFlags || a.kind == K::kUid; });
  return plan;
}

// One message while its response is written: the index row, and what the plan asked for.
struct FetchedMessage {
  const store::MessageInfo& info;
  std::optional<mime::MessageSummary> summary;  // set when the plan wants the summary
  std::unique_ptr<store::MessageBlob> blob;     // set when the plan wants the bytes
  bool recent = false;
};

// The item of an attribute that is not a section; nullopt for a section.
std::optional<std::string> plain_item(const FetchAtt& a, const FetchedMessage& msg) {
  const store::MessageInfo& info = msg.info;
  switch (a.kind) {
    case K::kFlags: return "FLAGS " + format_flags(info.flags, msg.recent);
    case K::kUid: return "UID " + std::to_string(info.uid);
    case K::kInternalDate: return "INTERNALDATE \"" + pi::format_date_time(info.internal_date) + "\"";
    case K::kRfc822Size: return "RFC822.SIZE " + std::to_string(info.size);
    case K::kModSeq: return "MODSEQ (" + std::to_string(info.modseq) + ")";
    case K::kSaveDate:
      return info.save_date > 0 ? "SAVEDATE \"" + pi::format_date_time(info.save_date) + "\"" : "SAVEDATE NIL";
    case K::kEnvelope: return "ENVELOPE " + pi::format_envelope(msg.summary->envelope);
    case K::kBody: return "BODY " + pi::format_body_structure(*msg.summary, false);
    case K::kBodyStructure: return "BODYSTRUCTURE " + pi::format_body_structure(*msg.summary, true);
    case K::kPreview: return "PREVIEW " + pi::string_value(msg.summary->preview);
    default: return std::nullopt;
  }
}

// A section item's name in the response and the section it reads (RFC822.HEADER and RFC822.TEXT
// are BODY[HEADER] and BODY[TEXT] under other names).
struct NamedSection {
  pi::Section section;
  std::string label;
};

NamedSection name_section(const FetchAtt& a) {
  NamedSection out{a.section, {}};
  switch (a.kind) {
    case K::kRfc822: out.label = "RFC822"; break;
    case K::kRfc822Header:
      out.label = "RFC822.HEADER";
      out.section.text = pi::Section::Text::kHeader;
      break;
    case K::kRfc822Text:
      out.label = "RFC822.TEXT";
      out.section.text = pi::Section::Text::kText;
      break;
    case K::kBodySection: out.label = "BODY[" + out.section.to_string() + "]" + partial_label(a.partial); break;
    case K::kBinary: out.label = "BINARY[" + out.section.to_string() + "]" + partial_label(a.partial); break;
    default: out.label = "BINARY.SIZE[" + out.section.to_string() + "]"; break;
  }
  return out;
}

// BINARY[part] and BINARY.SIZE[part]: the part's body decoded from its transfer encoding, read
// whole (a part is bounded by APPENDLIMIT); the whole message as stored for an empty part number
// [RFC 3516 §4].
asio::awaitable<SectionData> read_binary(const pi::Section& section, const FetchedMessage& msg) {
  SectionData sd;
  const mime::Part* part = section.part.empty() ? &msg.summary->root : find_part(msg.summary->root, section.part);
  if (part == nullptr) {
    sd.found = false;
    co_return sd;
  }
  if (!known_encoding(part->encoding)) {
    sd.unknown_cte = true;
    sd.found = false;
    co_return sd;
  }
  const uint64_t off = section.part.empty() ? 0 : part->body_offset;
  const uint64_t len = section.part.empty() ? msg.info.size : part->body_size;
  auto read_task = msg.blob->read(off, static_cast<size_t>(len));
  auto raw = co_await std::move(read_task);
  if (!raw) {
    sd.found = false;
    co_return sd;
  }
  sd.computed = true;
  sd.bytes = part->is_multipart() || section.part.empty() ? std::move(*raw)
                                                          : mime::decode_transfer_encoding(*raw, part->encoding);
  co_return sd;
}

// BODY[section] and RFC822*: a byte range of the message to stream, or the chosen header fields.
asio::awaitable<SectionData> read_body_section(const pi::Section& section, const FetchedMessage& msg) {
  SectionData sd;
  auto range = locate(msg.summary ? msg.summary->root : mime::Part{}, section, msg.info.size);
  if (!range) {
    sd.found = false;
  } else if (section.text == pi::Section::Text::kHeaderFields || section.text == pi::Section::Text::kHeaderFieldsNot) {
    auto read_task = msg.blob->read(range->offset, range->size);
    auto raw = co_await std::move(read_task);
    sd.computed = true;
    if (raw) sd.bytes = filter_header(*raw, section.fields, section.text == pi::Section::Text::kHeaderFieldsNot);
  } else {
    sd.offset = range->offset;
    sd.size = range->size;
  }
  co_return sd;
}

// One section item: its text (the name and, for bytes computed here, the literal) and, when the
// bytes stay in the blob, the range to stream after the text.
struct SectionReply {
  std::string text;
  bool stream = false;  // stream [offset, offset + size) of the blob after `text`
  uint64_t offset = 0;
  uint64_t size = 0;
  bool unknown_cte = false;
};

asio::awaitable<SectionReply> section_reply(const FetchAtt& a, const FetchedMessage& msg) {
  const NamedSection named = name_section(a);
  const bool decoded = a.kind == K::kBinary || a.kind == K::kBinarySize;
  auto read_task = decoded ? read_binary(named.section, msg) : read_body_section(named.section, msg);
  const SectionData sd = co_await std::move(read_task);
  SectionReply reply;
  reply.unknown_cte = sd.unknown_cte;
  if (a.kind == K::kBinarySize) {
    reply.text = named.label + " " + std::to_string(sd.bytes.size());
    co_return reply;
  }
  if (!sd.found) {
    reply.text = named.label + " NIL";
    co_return reply;
  }
  // <offset.length> cuts the section [RFC 9051 §6.4.5].
  uint64_t total = sd.computed ? sd.bytes.size() : sd.size;
  uint64_t from = 0;
  if (a.partial) {
    from = std::min<uint64_t>(a.partial->offset, total);
    total = std::min<uint64_t>(a.partial->length, total - from);
  }
  // BINARY data holding NUL goes in a literal8; everything else in a literal, where a NUL of the
  // message becomes 0x80 [RFC 3516 §4.3, RFC 9051 §4.3, §7.5.2].
  const bool binary = a.kind == K::kBinary;
  if (sd.computed) {
    std::string data = sd.bytes.substr(static_cast<size_t>(from), static_cast<size_t>(total));
    const bool literal8 = binary && data.find('\0') != std::string::npos;
    if (!binary) pi::mask_nul_octets(data);
    reply.text = named.label + pi::section_literal_open(total, literal8);
    reply.text += data;
    co_return reply;
  }
  reply.text = named.label + pi::section_literal_open(total, false);
  reply.stream = true;
  reply.offset = sd.offset + from;
  reply.size = total;
  co_return reply;
}

}  // namespace

asio::awaitable<std::string> Session::cmd_fetch(const std::string& tag, const pi::Fetch& args) {
  auto uids = view_.resolve(args.set, args.uid);
  if (!uids) co_return pi::tagged(tag, Status::kBad, uids.error().message);
  if (args.vanished && !qresync_) co_return pi::tagged(tag, Status::kBad, "QRESYNC is not enabled");

  const FetchPlan plan = plan_fetch(args, view_.read_only());
  if (plan.has_modseq || args.changed_since) co_await enable_condstore();
  // FLAGS and UID alone (what a client asks of a whole mailbox to sync it) come from the view when
  // it is up to date: no other session's change waiting (those are read from the store as usual) and
  // no expunge held back.
  if (plan.view_only && !args.changed_since && !args.vanished && !feed_->pending.load() && !view_.has_pending_expunges()) {
    co_await fetch_from_view(args, plan, std::move(*uids));
    co_return pi::tagged(tag, Status::kOk, "FETCH completed");
  }
  // UID FETCH ... (CHANGEDSINCE m VANISHED): the expunged UIDs of the set first [RFC 7162 §3.2.6].
  if (args.vanished) {
    auto changes = co_await mailbox_->changes_since(*args.changed_since, false);
    if (!changes) co_return pi::store_failure(tag, changes.error());
    const std::vector<uint32_t> vanished = vanished_in_set(changes->vanished, args.set);
    if (!vanished.empty()) co_await out("* VANISHED (EARLIER) " + pi::compact_set(vanished) + "\r\n");
  }

  FetchOutcome outcome;
  const size_t batch_size = plan.want_summary || plan.want_bytes ? kBatch : kMetadataBatch;
  for (size_t start = 0; start < uids->size() && !broken_; start += batch_size) {
    std::vector<store::Uid> batch(uids->begin() + static_cast<std::ptrdiff_t>(start),
                                  uids->begin() + static_cast<std::ptrdiff_t>(std::min(uids->size(), start + batch_size)));
    auto done = co_await fetch_batch(args, plan, std::move(batch));
    if (!done) co_return pi::store_failure(tag, done.error());
    outcome.add(*done);
  }
  if (outcome.unknown_cte) {
    co_return pi::tagged(tag, Status::kNo, pi::code::kUnknownCte, "Unknown Content-Transfer-Encoding");
  }
  if (outcome.missing) co_return pi::tagged(tag, Status::kOk, "EXPUNGEISSUED", "Some messages were expunged meanwhile");
  co_return pi::tagged(tag, Status::kOk, "FETCH completed");
}

asio::awaitable<void> Session::fetch_from_view(const pi::Fetch& args, const FetchPlan& plan,
                                               std::vector<store::Uid> uids) {
  // The responses are the ones fetch_message would write from the store.
  if (!std::is_sorted(uids.begin(), uids.end())) std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::string text;
  for (store::Uid uid : uids) {
    const auto seq = view_.seq_of(uid);
    if (!seq) continue;
    const std::string number = std::to_string(uid);
    text += "* " + std::to_string(*seq) + " FETCH (";
    if (plan.add_uid) text += "UID " + number + (args.atts.empty() ? "" : " ");
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
}

std::vector<uint32_t> Session::vanished_in_set(const std::vector<store::Uid>& expunged,
                                              const pi::SequenceSet& set) const {
  const auto ranges = set.resolve(view_.uid_next() > 0 ? view_.uid_next() - 1 : 0);
  std::vector<uint32_t> vanished;
  for (store::Uid uid : expunged) {
    if (view_.seq_of(uid)) continue;
    for (const auto& r : ranges) {
      if (uid >= r.first && uid <= r.last) {
        vanished.push_back(uid);
        break;
      }
    }
  }
  return vanished;
}

asio::awaitable<Result<FetchOutcome>> Session::fetch_batch(const pi::Fetch& args, const FetchPlan& plan,
                                                           std::vector<store::Uid> batch) {
  FetchOutcome outcome;
  const size_t wanted = batch.size();
  auto fetch_task = mailbox_->fetch(std::move(batch), plan.want_summary);
  auto data = co_await std::move(fetch_task);
  if (!data) co_return data.error();
  if (data->size() < wanted) outcome.missing = true;
  if (args.changed_since) {
    std::erase_if(*data, [&](const store::MessageData& m) { return m.info.modseq <= *args.changed_since; });
  }
  std::vector<store::Uid> seen_now;
  if (plan.want_seen) {
    auto seen = co_await mark_seen(*data);
    seen_now = std::move(seen);
  }
  for (const auto& m : *data) {
    if (broken_) break;
    const bool seen_changed = std::find(seen_now.begin(), seen_now.end(), m.info.uid) != seen_now.end();
    auto one = co_await fetch_message(args, plan, m, seen_changed);
    outcome.add(one);
  }
  co_return outcome;
}

asio::awaitable<std::vector<store::Uid>> Session::mark_seen(std::vector<store::MessageData>& batch) {
  // Reading a body sets \Seen [RFC 9051 §6.4.5]; the new flags are part of the response.
  std::vector<store::Uid> seen_now;
  std::vector<store::Uid> unseen;
  for (const auto& m : batch) {
    if (!m.info.flags.has(store::kSeen)) unseen.push_back(m.info.uid);
  }
  if (unseen.empty()) co_return seen_now;
  store::StoreFlags req;
  req.uids = std::move(unseen);
  req.op = store::FlagOp::kAdd;
  req.flags.system = store::kSeen;
  auto store_task = mailbox_->store_flags(std::move(req));
  auto stored = co_await std::move(store_task);
  if (!stored) co_return seen_now;
  for (const auto& changed : stored->changed) {
    view_.note_own_change(changed.uid, changed.modseq);
    seen_now.push_back(changed.uid);
    for (auto& m : batch) {
      if (m.info.uid == changed.uid) {
        m.info.flags = changed.flags;
        m.info.modseq = changed.modseq;
      }
    }
  }
  co_return seen_now;
}

asio::awaitable<FetchOutcome> Session::fetch_message(const pi::Fetch& args, const FetchPlan& plan,
                                                     const store::MessageData& m, bool seen_changed) {
  FetchOutcome outcome;
  const auto seq = view_.seq_of(m.info.uid);
  if (!seq) co_return outcome;
  FetchedMessage msg{m.info, std::nullopt, nullptr, false};
  if (plan.want_summary) {
    auto decoded = mime::decode_summary(m.summary);
    if (!decoded) {
      spdlog::warn("conn={} imap: undecodable summary for uid {}", id(), m.info.uid);
      outcome.missing = true;
      co_return outcome;
    }
    msg.summary = std::move(*decoded);
  }
  if (plan.want_bytes) {
    auto open_task = mailbox_->open_message(m.info.uid);
    auto opened = co_await std::move(open_task);
    if (!opened) {
      outcome.missing = true;  // expunged meanwhile
      co_return outcome;
    }
    msg.blob = std::move(*opened);
  }
  msg.recent = !rev2_ && view_.is_recent(m.info.uid);
  // Flags read from the store may hold a keyword another session just added: FLAGS first [RFC 3501 §7.2.6].
  if (plan.has_flags || seen_changed) {
    if (auto flags_update = view_.learn_keywords(m.info.flags); !flags_update.empty()) co_await out(flags_update);
  }
  std::string item = "* " + std::to_string(*seq) + " FETCH (";
  bool first = true;
  auto sep = [&item, &first] {
    if (!first) item += ' ';
    first = false;
  };
  if (plan.add_uid) {
    sep();
    item += "UID " + std::to_string(m.info.uid);
  }
  if (seen_changed && !plan.has_flags) {
    sep();
    item += "FLAGS " + format_flags(m.info.flags, msg.recent);
  }
  if (plan.add_modseq) {
    sep();
    item += "MODSEQ (" + std::to_string(m.info.modseq) + ")";
  }
  for (const auto& a : args.atts) {
    if (broken_) break;
    sep();
    if (auto plain = plain_item(a, msg)) {
      item += *plain;
      continue;
    }
    // Sections: the name, then the bytes (computed here, or streamed from the blob).
    const SectionReply section = co_await section_reply(a, msg);
    outcome.unknown_cte = outcome.unknown_cte || section.unknown_cte;
    item += section.text;
    if (section.stream) {
      co_await out(item);
      item.clear();
      co_await stream_section(*msg.blob, m.info.uid, section.offset, section.size);
    }
  }
  item += ")\r\n";
  co_await out(item);
  co_return outcome;
}

asio::awaitable<void> Session::stream_section(store::MessageBlob& blob, store::Uid uid, uint64_t offset,
                                              uint64_t size) {
  uint64_t pos = offset;
  uint64_t left = size;
  while (left > 0 && !broken_) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, kChunk));
    auto read_task = blob.read(pos, n);
    auto chunk = co_await std::move(read_task);
    if (!chunk || chunk->empty()) {
      // The blob is shorter than its index entry: pad so the literal stays well-formed.
      spdlog::error("conn={} imap: short read of uid {} at {}", id(), uid, pos);
      co_await out(std::string(static_cast<size_t>(left), ' '));
      break;
    }
    pi::mask_nul_octets(*chunk);
    co_await out(*chunk);
    pos += chunk->size();
    left -= std::min<uint64_t>(left, chunk->size());
  }
}

}  // namespace posthorn::server::imap
