#include "server/imap/search_engine.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/ascii.hpp"
#include "mime/date.hpp"
#include "mime/encoded_word.hpp"
#include "mime/envelope.hpp"
#include "mime/header.hpp"
#include "mime/summary.hpp"
#include "mime/transfer_encoding.hpp"
#include "server/imap/search_casemap.hpp"

namespace posthorn::server::imap {

namespace {

using proto::imap::SearchKey;
using proto::imap::SequenceSet;
using K = proto::imap::SearchKeyKind;

constexpr size_t kChunk = 64 * 1024;                // bytes read from a blob at a time
constexpr size_t kMaxHeaderBytes = 1024 * 1024;     // header bytes read for HEADER/TEXT/References

enum class Tri : uint8_t { kFalse, kTrue, kUnknown };
Tri tri(bool b) { return b ? Tri::kTrue : Tri::kFalse; }

// What a key needs, cheapest first (see the header).
enum Stage : uint8_t { kMeta = 0, kSummary = 1, kHeaderBytes = 2, kBodyBytes = 3 };

// Sorted, merged closed intervals for membership tests.
struct Intervals {
  std::vector<std::pair<uint32_t, uint32_t>> items;
  bool contains(uint32_t v) const {
    auto it = std::upper_bound(items.begin(), items.end(), std::make_pair(v, UINT32_MAX));
    return it != items.begin() && std::prev(it)->second >= v;
  }
};

Intervals resolve(const SequenceSet& set, uint32_t star) {
  Intervals out;
  for (const auto& r : set.resolve(star)) out.items.emplace_back(r.first, r.last);
  return out;
}

// The evaluation plan: the program's tree with AND/OR children ordered cheapest first, strings
// folded once, sets resolved.
struct Node {
  K kind = K::kAll;
  const SearchKey* key = nullptr;
  Stage stage = kMeta;
  std::vector<Node> children;
  std::string folded;  // folded search string
  Intervals set;
  bool saved = false;  // "$"
  int needle = -1;     // BODY/TEXT: index of the string in the body matcher
  int64_t threshold = 0;  // YOUNGER/OLDER: now - interval
};

struct Plan {
  Node root;
  std::vector<std::string> needles;  // BODY and TEXT strings, unfolded
  bool has_modseq = false;
  Stage max_stage = kMeta;
};

Stage leaf_stage(K kind) {
  switch (kind) {
    case K::kBcc: case K::kCc: case K::kFrom: case K::kTo: case K::kSubject:
    case K::kSentBefore: case K::kSentOn: case K::kSentSince:
      return kSummary;
    case K::kHeader:
      return kHeaderBytes;
    case K::kBody: case K::kText:
      return kBodyBytes;
    default:
      return kMeta;
  }
}

Node build(const SearchKey& key, const SearchContext& ctx, Plan& plan) {
  Node n;
  n.kind = key.kind;
  n.key = &key;
  if (!key.children.empty()) {
    for (const auto& c : key.children) {
      n.children.push_back(build(c, ctx, plan));
      n.stage = std::max(n.stage, n.children.back().stage);
    }
    if (n.kind == K::kAnd || n.kind == K::kOr) {
      std::stable_sort(n.children.begin(), n.children.end(),
                       [](const Node& a, const Node& b) { return a.stage < b.stage; });
    }
    return n;
  }
  n.stage = leaf_stage(key.kind);
  plan.max_stage = std::max(plan.max_stage, n.stage);
  switch (key.kind) {
    case K::kBcc: case K::kCc: case K::kFrom: case K::kTo: case K::kSubject:
      n.folded = casemap_fold(key.text);
      break;
    case K::kHeader:
      n.folded = casemap_fold(key.text2);
      break;
    case K::kBody: case K::kText:
      n.folded = casemap_fold(key.text);
      n.needle = static_cast<int>(plan.needles.size());
      plan.needles.push_back(key.text);
      break;
    case K::kSequence:
      n.saved = key.set.saved;
      n.set = resolve(key.set, static_cast<uint32_t>(ctx.messages.size()));
      break;
    case K::kUid:
      n.saved = key.set.saved;
      n.set = resolve(key.set, ctx.messages.empty() ? 0 : ctx.messages.back().info.uid);
      break;
    case K::kModSeq:
      plan.has_modseq = true;
      break;
    case K::kYounger: case K::kOlder: {
      const int64_t now = ctx.now != 0 ? ctx.now : static_cast<int64_t>(::time(nullptr));
      n.threshold = now - key.number;
      break;
    }
    default:
      break;
  }
  return n;
}

// Everything known about one message during evaluation; dearer parts filled on demand.
struct MessageState {
  const store::MessageData* data = nullptr;
  uint32_t seq = 0;
  bool recent = false;

  // The encoded summary: the view's, or one fetched because the view had none. While
  // summary_pending, keys that need it are undecided (the summary is fetched in a batch).
  const std::string* summary_bytes = nullptr;
  bool summary_pending = false;
  bool summary_tried = false;
  std::optional<mime::MessageSummary> summary;

  std::unique_ptr<store::MessageBlob> blob;
  bool gone = false;  // expunged meanwhile: matches nothing that needs bytes

  bool header_loaded = false;
  std::string header_bytes;
  mime::Header header;
  std::optional<std::string> header_folded;  // for TEXT

  bool body_scanned = false;
  std::vector<bool> body_found;

  const std::string& encoded() const { return summary_bytes != nullptr ? *summary_bytes : data->summary; }

  // The envelope alone (FROM/TO/CC/BCC/SUBJECT/SENT*): from the decoded summary when there is one,
  // else decoded by itself, which skips building the MIME tree.
  bool envelope_tried = false;
  std::optional<mime::Envelope> envelope;

  const mime::Envelope* get_envelope() {
    if (summary) return &summary->envelope;
    if (!envelope_tried) {
      envelope_tried = true;
      if (const std::string& bytes = encoded(); !bytes.empty()) {
        auto e = mime::decode_envelope(bytes);
        if (e) envelope = std::move(*e);
      }
    }
    return envelope ? &*envelope : nullptr;
  }

  const mime::MessageSummary* get_summary() {
    if (!summary_tried) {
      summary_tried = true;
      if (const std::string& bytes = encoded(); !bytes.empty()) {
        auto s = mime::decode_summary(bytes);
        if (s) summary = std::move(*s);
      }
    }
    return summary ? &*summary : nullptr;
  }
};

int64_t day_of(int64_t unix_seconds) {
  return unix_seconds >= 0 ? unix_seconds / 86400 : -((-unix_seconds + 86399) / 86400);
}

// The sent date as RFC 5256 §2.2 defines it: the Date: header in UTC, else the internal date.
int64_t sent_date(MessageState& st) {
  const auto* e = st.get_envelope();
  if (e && e->date) {
    if (auto t = mime::parse_date_time(*e->date)) return *t;
  }
  return st.data->info.internal_date;
}

// The day of the Date: header as written, "disregarding time and timezone" [RFC 9051 §6.4.4];
// the internal date's day when the header is missing or unreadable.
int64_t sent_day(MessageState& st) {
  const auto* e = st.get_envelope();
  if (e && e->date) {
    if (auto t = mime::parse_date_time_zoned(*e->date)) return day_of(t->utc + t->zone_offset);
  }
  return day_of(st.data->info.internal_date);
}

// An address list as text for FROM/TO/CC/BCC matching: `Name <mailbox@host>, ...` with names
// decoded, so a search finds the name, the address or a piece of either.
std::string address_text(const std::vector<mime::Address>& list) {
  std::string out;
  for (const auto& a : list) {
    if (a.is_group_end) continue;
    if (!out.empty()) out += ", ";
    if (a.is_group_start) {
      out += a.mailbox + ":";
      continue;
    }
    if (!a.name.empty()) out += a.name + " ";
    out += "<" + a.mailbox;
    if (!a.host.empty()) out += "@" + a.host;
    out += ">";
  }
  return out;
}

bool contains_folded(std::string_view text, const std::string& folded_needle) {
  if (folded_needle.empty()) return true;
  return casemap_fold(text).find(folded_needle) != std::string::npos;
}

bool in_saved(std::span<const store::Uid> saved, store::Uid uid) {
  return std::binary_search(saved.begin(), saved.end(), uid);
}

Tri eval(const Node& n, MessageState& st, const SearchContext& ctx);

// AND, OR and NOT over the children (cheapest first): decided as soon as one child decides.
Tri eval_boolean(const Node& n, MessageState& st, const SearchContext& ctx) {
  switch (n.kind) {
    case K::kAnd: {
      Tri r = Tri::kTrue;
      for (const auto& c : n.children) {
        const Tri t = eval(c, st, ctx);
        if (t == Tri::kFalse) return Tri::kFalse;
        if (t == Tri::kUnknown) r = Tri::kUnknown;
      }
      return r;
    }
    case K::kOr: {
      Tri r = Tri::kFalse;
      for (const auto& c : n.children) {
        const Tri t = eval(c, st, ctx);
        if (t == Tri::kTrue) return Tri::kTrue;
        if (t == Tri::kUnknown) r = Tri::kUnknown;
      }
      return r;
    }
    default: {  // K::kNot
      const Tri t = eval(n.children[0], st, ctx);
      return t == Tri::kUnknown ? t : tri(t == Tri::kFalse);
    }
  }
}

// The keys the index row answers (stage kMeta): flags, dates, sizes, modseq, sequence and UID sets.
Tri eval_meta(const Node& n, const MessageState& st, const SearchContext& ctx) {
  const store::MessageInfo& info = st.data->info;
  const store::Flags& flags = info.flags;
  switch (n.kind) {
    case K::kAll: return Tri::kTrue;
    case K::kAnswered: return tri(flags.has(store::kAnswered));
    case K::kDeleted: return tri(flags.has(store::kDeleted));
    case K::kDraft: return tri(flags.has(store::kDraft));
    case K::kFlagged: return tri(flags.has(store::kFlagged));
    case K::kSeen: return tri(flags.has(store::kSeen));
    case K::kUnanswered: return tri(!flags.has(store::kAnswered));
    case K::kUndeleted: return tri(!flags.has(store::kDeleted));
    case K::kUndraft: return tri(!flags.has(store::kDraft));
    case K::kUnflagged: return tri(!flags.has(store::kFlagged));
    case K::kUnseen: return tri(!flags.has(store::kSeen));
    case K::kNew: return tri(st.recent && !flags.has(store::kSeen));
    case K::kOld: return tri(!st.recent);
    case K::kRecent: return tri(st.recent);
    case K::kKeyword: return tri(flags.has_keyword(n.key->text));
    case K::kUnkeyword: return tri(!flags.has_keyword(n.key->text));
    case K::kBefore: return tri(day_of(info.internal_date) < n.key->number);
    case K::kOn: return tri(day_of(info.internal_date) == n.key->number);
    case K::kSince: return tri(day_of(info.internal_date) >= n.key->number);
    case K::kSavedBefore: return tri(day_of(info.save_date) < n.key->number);
    case K::kSavedOn: return tri(day_of(info.save_date) == n.key->number);
    case K::kSavedSince: return tri(day_of(info.save_date) >= n.key->number);
    case K::kSaveDateSupported: return Tri::kTrue;  // every message has a save date here
    case K::kLarger: return tri(info.size > static_cast<uint64_t>(n.key->number));
    case K::kSmaller: return tri(info.size < static_cast<uint64_t>(n.key->number));
    case K::kYounger: return tri(info.internal_date >= n.threshold);
    case K::kOlder: return tri(info.internal_date < n.threshold);
    // Per-flag modseqs are not kept: the message's modseq answers every entry [RFC 7162 §3.1.5].
    case K::kModSeq: return tri(info.modseq >= static_cast<uint64_t>(n.key->number));
    case K::kSequence: return tri(n.saved ? in_saved(ctx.saved, info.uid) : n.set.contains(st.seq));
    case K::kUid: return tri(n.saved ? in_saved(ctx.saved, info.uid) : n.set.contains(info.uid));
    default: return Tri::kFalse;
  }
}

// The keys the envelope answers (stage kSummary): undecided while the summary is still to be fetched.
Tri eval_envelope(const Node& n, MessageState& st) {
  if (st.summary_pending) return Tri::kUnknown;
  switch (n.kind) {
    case K::kSentBefore: return tri(sent_day(st) < n.key->number);
    case K::kSentOn: return tri(sent_day(st) == n.key->number);
    case K::kSentSince: return tri(sent_day(st) >= n.key->number);
    case K::kSubject: {
      const auto* e = st.get_envelope();
      if (!e || !e->subject) return Tri::kFalse;
      return tri(contains_folded(mime::decoded_subject(*e), n.folded));
    }
    default: {  // FROM, TO, CC, BCC
      const auto* e = st.get_envelope();
      if (!e) return Tri::kFalse;
      const auto& env = *e;
      // sender/reply-to defaults do not matter here; the lists are the fields themselves
      const auto& list = n.kind == K::kFrom ? env.from : n.kind == K::kTo ? env.to : n.kind == K::kCc ? env.cc : env.bcc;
      if (list.empty()) return Tri::kFalse;
      return tri(contains_folded(address_text(list), n.folded));
    }
  }
}

// HEADER, TEXT and BODY (stages kHeaderBytes, kBodyBytes): undecided until the header is loaded
// or the body scanned; false for a message expunged meanwhile.
Tri eval_text(const Node& n, MessageState& st) {
  if (st.gone) return Tri::kFalse;
  switch (n.kind) {
    case K::kHeader: {
      if (!st.header_loaded) return Tri::kUnknown;
      for (const auto* f : st.header.find_all(n.key->text)) {
        if (contains_folded(mime::decode_words(f->value), n.folded)) return Tri::kTrue;
      }
      return Tri::kFalse;
    }
    case K::kText: {
      if (!st.header_loaded) return Tri::kUnknown;
      if (n.folded.empty()) return Tri::kTrue;
      if (!st.header_folded) {
        std::string text;
        for (const auto& f : st.header.fields) text += f.name + ": " + mime::decode_words(f.value) + "\n";
        st.header_folded = casemap_fold(text);
      }
      if (st.header_folded->find(n.folded) != std::string::npos) return Tri::kTrue;
      if (!st.body_scanned) return Tri::kUnknown;
      return tri(st.body_found[static_cast<size_t>(n.needle)]);
    }
    default: {  // BODY
      if (n.folded.empty()) return Tri::kTrue;
      if (!st.body_scanned) return Tri::kUnknown;
      return tri(st.body_found[static_cast<size_t>(n.needle)]);
    }
  }
}

// The node's value for one message: kUnknown when it needs data `st` does not hold yet.
Tri eval(const Node& n, MessageState& st, const SearchContext& ctx) {
  if (n.kind == K::kAnd || n.kind == K::kOr || n.kind == K::kNot) return eval_boolean(n, st, ctx);
  switch (leaf_stage(n.kind)) {
    case kMeta: return eval_meta(n, st, ctx);
    case kSummary: return eval_envelope(n, st);
    case kHeaderBytes: case kBodyBytes: return eval_text(n, st);
  }
  return Tri::kFalse;
}

// Opens the blob once; false when the message is gone (expunged meanwhile).
boost::asio::awaitable<Result<bool>> ensure_blob(MessageState& st, const SearchContext& ctx, uint64_t& opened) {
  if (st.blob) co_return true;
  if (st.gone) co_return false;
  if (ctx.mailbox == nullptr) co_return make_error(Errc::kInternal, "Search needs message text but has no mailbox");
  auto task = ctx.mailbox->open_message(st.data->info.uid);
  auto blob = co_await std::move(task);
  if (!blob) {
    if (blob.error().code == Errc::kNotFound) {
      st.gone = true;
      co_return false;
    }
    co_return blob.error();
  }
  st.blob = std::move(*blob);
  ++opened;
  co_return true;
}

boost::asio::awaitable<Result<void>> load_header(MessageState& st, const SearchContext& ctx, uint64_t& opened) {
  if (st.header_loaded || st.gone) co_return Result<void>{};
  auto ok = co_await ensure_blob(st, ctx, opened);
  if (!ok) co_return ok.error();
  if (!*ok) co_return Result<void>{};
  const auto* s = st.get_summary();
  uint64_t end = s ? s->root.body_offset : kChunk;
  end = std::min<uint64_t>({end, st.blob->size(), kMaxHeaderBytes});
  auto task = st.blob->read(0, static_cast<size_t>(end));
  auto bytes = co_await std::move(task);
  if (!bytes) co_return bytes.error();
  st.header_bytes = std::move(*bytes);
  if (!s) st.header_bytes.resize(mime::split_header(st.header_bytes).header_end);
  st.header = mime::parse_header(st.header_bytes);
  st.header_loaded = true;
  co_return Result<void>{};
}

// One piece of the message the body search reads.
struct Segment {
  uint64_t offset = 0;
  uint64_t size = 0;
  bool is_header = false;  // an embedded message's header: encoded words decoded
  std::string encoding;    // lower-case transfer encoding
  std::string charset;
};

void collect_segments(const mime::Part& p, std::vector<Segment>& out) {
  if (p.is_message()) {
    const auto& inner = p.children.front();
    out.push_back(Segment{inner.header_offset, inner.body_offset - inner.header_offset, true, "", ""});
    collect_segments(inner, out);
    return;
  }
  if (p.is_multipart()) {
    for (const auto& c : p.children) collect_segments(c, out);
    return;
  }
  if (p.content_type.type != "text") return;
  const std::string* cs = p.content_type.param("charset");
  out.push_back(Segment{p.body_offset, p.body_size, false, p.encoding, cs ? *cs : std::string("us-ascii")});
}

bool is_b64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// How many bytes of `encoded` can be decoded now without splitting an encoded unit; the rest waits
// for the next chunk. base64: a multiple of four alphabet characters; others: up to the last LF.
size_t decodable_prefix(std::string_view encoded, std::string_view encoding, bool last) {
  if (last) return encoded.size();
  if (encoding == "base64") {
    size_t count = 0;
    for (char c : encoded) count += is_b64(c) ? 1 : 0;
    size_t extra = count % 4;
    size_t cut = encoded.size();
    while (extra > 0 && cut > 0) {
      if (is_b64(encoded[--cut])) --extra;
    }
    return cut;
  }
  const size_t lf = encoded.rfind('\n');
  if (lf != std::string_view::npos) return lf + 1;
  if (encoding == "quoted-printable") {
    const size_t eq = encoded.find('=', encoded.size() >= 2 ? encoded.size() - 2 : 0);
    return eq == std::string_view::npos ? encoded.size() : eq;
  }
  return encoded.size();
}

// The length of `bytes` without a trailing incomplete UTF-8 sequence (or a trailing 8-bit byte
// that could start one: harmless for single-byte charsets, it waits for the next chunk).
size_t utf8_cut(std::string_view bytes) {
  size_t cut = bytes.size();
  while (cut > 0 && (static_cast<uint8_t>(bytes[cut - 1]) & 0xC0) == 0x80 && bytes.size() - cut < 3) --cut;
  if (cut > 0 && static_cast<uint8_t>(bytes[cut - 1]) >= 0xC0) return cut - 1;
  return bytes.size();
}

// Reads the text parts and feeds them, decoded, to the matcher until every needle is found, the
// parts end, or max_text_bytes were fed.
boost::asio::awaitable<Result<void>> scan_body(MessageState& st, const std::vector<std::string>& needles,
                                               const SearchContext& ctx, uint64_t& opened) {
  st.body_scanned = true;
  st.body_found.assign(needles.size(), false);
  auto ok = co_await ensure_blob(st, ctx, opened);
  if (!ok) co_return ok.error();
  if (!*ok) co_return Result<void>{};
  std::vector<Segment> segments;
  if (const auto* s = st.get_summary()) {
    collect_segments(s->root, segments);
  } else {
    segments.push_back(Segment{0, st.blob->size(), false, "7bit", "us-ascii"});
  }
  SubstringMatcher matcher(needles);
  uint64_t budget = ctx.max_text_bytes;
  for (const auto& seg : segments) {
    if (matcher.all_found() || budget == 0) break;
    matcher.break_text();
    if (seg.is_header) {
      auto task = st.blob->read(seg.offset, static_cast<size_t>(std::min<uint64_t>(seg.size, kMaxHeaderBytes)));
      auto bytes = co_await std::move(task);
      if (!bytes) co_return bytes.error();
      std::string text;
      for (const auto& f : mime::parse_header(*bytes).fields) text += f.name + ": " + mime::decode_words(f.value) + "\n";
      budget -= std::min<uint64_t>(budget, text.size());
      matcher.feed(text);
      continue;
    }
    std::string encoded;  // carried encoded bytes
    std::string decoded;  // carried decoded bytes (up to a line end)
    uint64_t pos = seg.offset;
    const uint64_t end = seg.offset + seg.size;
    while (!matcher.all_found() && budget > 0 && (pos < end || !encoded.empty() || !decoded.empty())) {
      const bool last = pos >= end || pos + kChunk >= end;
      if (pos < end) {
        const auto want = static_cast<size_t>(std::min<uint64_t>(kChunk, end - pos));
        auto task = st.blob->read(pos, want);
        auto bytes = co_await std::move(task);
        if (!bytes) co_return bytes.error();
        if (bytes->empty()) {
          pos = end;
        } else {
          pos += bytes->size();
          encoded += *bytes;
        }
      }
      const bool at_end = last && pos >= end;
      const size_t cut = decodable_prefix(encoded, seg.encoding, at_end);
      decoded += mime::decode_transfer_encoding(std::string_view(encoded).substr(0, cut), seg.encoding, at_end);
      encoded.erase(0, cut);
      // Convert whole lines, so a multibyte character is never split across chunks; a line longer
      // than a chunk is cut before its last UTF-8 lead byte instead.
      size_t line_end = at_end ? decoded.size() : decoded.rfind('\n');
      if (line_end == std::string::npos) line_end = decoded.size() > kChunk ? utf8_cut(decoded) : 0;
      else if (!at_end) ++line_end;
      if (line_end > 0) {
        std::string_view piece(decoded.data(), std::min<uint64_t>(line_end, budget));
        budget -= piece.size();
        matcher.feed(mime::to_utf8(piece, seg.charset));
        decoded.erase(0, line_end);
      }
      if (at_end) {
        encoded.clear();
        decoded.clear();
      }
    }
  }
  for (size_t i = 0; i < needles.size(); ++i) st.body_found[i] = matcher.found(i);
  co_return Result<void>{};
}

bool contains_kind(const SearchKey& key, K kind) {
  if (key.kind == kind) return true;
  return std::any_of(key.children.begin(), key.children.end(), [&](const SearchKey& c) { return contains_kind(c, kind); });
}

// Lets the other connections of this thread run during a long evaluation: the loops over the
// view yield every kYieldEvery messages (blob reads and summary fetches yield anyway).
constexpr size_t kYieldEvery = 1024;
boost::asio::awaitable<void> yield_now() {
  auto ex = co_await boost::asio::this_coro::executor;
  co_await boost::asio::post(ex, boost::asio::use_awaitable);
}

// The shared core: indices (into ctx.messages) of the matching messages, ascending, and the
// summaries fetched for matches whose view had none.
struct Matches {
  std::vector<size_t> indices;
  bool has_modseq = false;
  uint64_t blobs_opened = 0;
  std::unordered_map<size_t, std::string> summaries;  // index -> encoded summary
};

constexpr size_t kSummaryBatch = 2'000;  // UIDs per Mailbox::fetch of missing summaries

// Fetches the summaries the view lacks for ctx.messages[indices] into `out` (keyed by index).
// Messages expunged meanwhile get none (their keys then see an empty message).
boost::asio::awaitable<Result<void>> fetch_summaries(const SearchContext& ctx, const std::vector<size_t>& indices,
                                                     std::unordered_map<size_t, std::string>& out) {
  std::vector<store::Uid> uids;
  std::unordered_map<store::Uid, size_t> index_of;
  for (size_t i : indices) {
    if (!ctx.messages[i].summary.empty() || out.count(i) != 0) continue;
    uids.push_back(ctx.messages[i].info.uid);
    index_of.emplace(ctx.messages[i].info.uid, i);
  }
  if (uids.empty() || ctx.mailbox == nullptr) co_return Result<void>{};
  std::sort(uids.begin(), uids.end());
  auto task = ctx.mailbox->summaries(std::move(uids));
  auto fetched = co_await std::move(task);
  if (!fetched) co_return fetched.error();
  for (auto& m : *fetched) {
    if (auto it = index_of.find(m.info.uid); it != index_of.end()) out[it->second] = std::move(m.summary);
  }
  co_return Result<void>{};
}

MessageState make_state(const SearchContext& ctx, size_t i, const std::unordered_map<size_t, std::string>* fetched) {
  MessageState st;
  st.data = &ctx.messages[i];
  st.seq = static_cast<uint32_t>(i + 1);
  const store::Uid uid = st.data->info.uid;
  auto r = std::lower_bound(ctx.recent.begin(), ctx.recent.end(), uid,
                            [](const store::UidRange& range, store::Uid u) { return range.last < u; });
  st.recent = r != ctx.recent.end() && r->first <= uid;
  if (fetched != nullptr) {
    if (auto it = fetched->find(i); it != fetched->end()) st.summary_bytes = &it->second;
  }
  return st;
}

boost::asio::awaitable<Result<Matches>> evaluate(const proto::imap::SearchProgram& program, const SearchContext& ctx) {
  Plan plan;
  plan.root = build(program.key, ctx, plan);
  Matches out;
  out.has_modseq = plan.has_modseq;
  // Pass 1: metadata (and summaries the view has). Without a summary in the view, keys needing
  // one stay undecided so that only the undecided messages' summaries are fetched.
  std::vector<size_t> pending;
  for (size_t i = 0; i < ctx.messages.size(); ++i) {
    if (i % kYieldEvery == kYieldEvery - 1) co_await yield_now();
    MessageState st = make_state(ctx, i, nullptr);
    st.summary_pending = ctx.mailbox != nullptr && st.data->summary.empty();
    const Tri r = eval(plan.root, st, ctx);
    if (r == Tri::kTrue) out.indices.push_back(i);
    if (r == Tri::kUnknown) pending.push_back(i);
  }
  // Pass 2: the undecided, in batches: summaries, then header bytes, then the body.
  for (size_t b = 0; b < pending.size(); b += kSummaryBatch) {
    const std::vector<size_t> batch(pending.begin() + static_cast<std::ptrdiff_t>(b),
                                    pending.begin() + static_cast<std::ptrdiff_t>(std::min(pending.size(), b + kSummaryBatch)));
    std::unordered_map<size_t, std::string> fetched;
    auto filled = co_await fetch_summaries(ctx, batch, fetched);
    if (!filled) co_return filled.error();
    for (size_t i : batch) {
      MessageState st = make_state(ctx, i, &fetched);
      Tri r = eval(plan.root, st, ctx);
      if (r == Tri::kUnknown) {
        auto loaded = co_await load_header(st, ctx, out.blobs_opened);
        if (!loaded) co_return loaded.error();
        r = eval(plan.root, st, ctx);
      }
      if (r == Tri::kUnknown) {
        auto scanned = co_await scan_body(st, plan.needles, ctx, out.blobs_opened);
        if (!scanned) co_return scanned.error();
        r = eval(plan.root, st, ctx);
      }
      if (r == Tri::kTrue) {
        out.indices.push_back(i);
        if (auto it = fetched.find(i); it != fetched.end()) out.summaries.emplace(i, std::move(it->second));
      }
    }
  }
  std::sort(out.indices.begin(), out.indices.end());
  co_return out;
}

uint32_t number_of(const SearchContext& ctx, size_t index) {
  return ctx.uid ? ctx.messages[index].info.uid : static_cast<uint32_t>(index + 1);
}

// The MODSEQ of the reply [RFC 7162 §3.1.5, RFC 4731]: with MIN or MAX alone that of the message
// returned, with MIN and MAX the higher of the two, otherwise the highest of all the matches.
// `ordered` are the matches' indices in result order (ascending for SEARCH, sort order for ESORT).
std::optional<store::ModSeq> reply_modseq(const Matches& m, const std::vector<size_t>& ordered,
                                          const proto::imap::SearchReturn& ret, const SearchContext& ctx) {
  if (!m.has_modseq || ordered.empty()) return std::nullopt;
  store::ModSeq best = 0;
  if ((ret.min || ret.max) && !ret.all && !ret.count && !ret.partial) {
    if (ret.min) best = std::max(best, ctx.messages[ordered.front()].info.modseq);
    if (ret.max) best = std::max(best, ctx.messages[ordered.back()].info.modseq);
    return best;
  }
  for (size_t i : ordered) best = std::max(best, ctx.messages[i].info.modseq);
  return best;
}

// What "$" becomes [RFC 5182 §2.4]: MIN and/or MAX alone when asked without ALL or COUNT.
// `ordered` is in result order (ascending for SEARCH, sort order for SORT).
std::vector<store::Uid> saved_result(const proto::imap::SearchReturn& ret, const std::vector<store::Uid>& ordered) {
  std::vector<store::Uid> out;
  if ((ret.min || ret.max) && !ret.all && !ret.count && !ordered.empty()) {
    if (ret.min) out.push_back(ordered.front());
    if (ret.max) out.push_back(ordered.back());
  } else {
    out = ordered;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// ---- SORT ------------------------------------------------------------------------------------

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

bool istarts(std::string_view s, size_t pos, std::string_view prefix) {
  return s.size() - pos >= prefix.size() && ascii::iequals(s.substr(pos, prefix.size()), prefix);
}

// subj-blob = "[" *BLOBCHAR "]" *WSP at pos; the position after it, or npos.
size_t blob_end(std::string_view s, size_t pos) {
  if (pos >= s.size() || s[pos] != '[') return std::string_view::npos;
  size_t i = pos + 1;
  while (i < s.size() && s[i] != ']' && s[i] != '[') ++i;
  if (i >= s.size() || s[i] != ']') return std::string_view::npos;
  ++i;
  while (i < s.size() && is_wsp(s[i])) ++i;
  return i;
}

// subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at pos; the position after it, or npos.
size_t refwd_end(std::string_view s, size_t pos) {
  size_t i;
  if (istarts(s, pos, "re")) i = pos + 2;
  else if (istarts(s, pos, "fwd")) i = pos + 3;
  else if (istarts(s, pos, "fw")) i = pos + 2;
  else return std::string_view::npos;
  while (i < s.size() && is_wsp(s[i])) ++i;
  if (const size_t b = blob_end(s, i); b != std::string_view::npos) i = b;
  if (i < s.size() && s[i] == ':') return i + 1;
  return std::string_view::npos;
}

std::string ascii_key(std::string_view s) { return ascii::upper(s); }

struct SortRow {
  size_t index = 0;
  int64_t arrival = 0;
  int64_t date = 0;
  uint64_t size = 0;
  std::string cc, from, to, subject, display_from, display_to;
};

// The first address of the ENVELOPE list [RFC 5256 §3: "the first [address] in the ... address
// list"]: for a group that is its start marker, whose mailbox is the group name (as Dovecot sorts).
const mime::Address* first_sort_address(const std::vector<mime::Address>& list) {
  return list.empty() || list.front().is_group_end ? nullptr : &list.front();
}

std::string addr_mailbox(const std::vector<mime::Address>& list) {
  const auto* a = first_sort_address(list);
  return a ? ascii_key(a->mailbox) : std::string();
}

// [RFC 5957 §3]: the display name of the first address, else its addr-spec (a group: its name).
std::string display_of(const std::vector<mime::Address>& list) {
  const auto* a = first_sort_address(list);
  if (!a) return {};
  if (!a->name.empty()) return ascii_key(a->name);
  return ascii_key(a->host.empty() ? a->mailbox : a->mailbox + "@" + a->host);
}

int compare_rows(const SortRow& a, const SortRow& b, proto::imap::SortKey key) {
  using SK = proto::imap::SortKey;
  auto cmp = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (key) {
    case SK::kArrival: return cmp(a.arrival, b.arrival);
    case SK::kDate: return cmp(a.date, b.date);
    case SK::kSize: return cmp(a.size, b.size);
    case SK::kCc: return cmp(a.cc, b.cc);
    case SK::kFrom: return cmp(a.from, b.from);
    case SK::kTo: return cmp(a.to, b.to);
    case SK::kSubject: return cmp(a.subject, b.subject);
    case SK::kDisplayFrom: return cmp(a.display_from, b.display_from);
    case SK::kDisplayTo: return cmp(a.display_to, b.display_to);
  }
  return 0;
}

// ---- THREAD ----------------------------------------------------------------------------------

// Message-IDs "<...>" in a field value, whitespace inside removed.
std::vector<std::string> msg_ids(std::string_view value) {
  std::vector<std::string> out;
  size_t i = 0;
  while ((i = value.find('<', i)) != std::string_view::npos) {
    const size_t end = value.find('>', i + 1);
    if (end == std::string_view::npos) break;
    std::string id;
    for (size_t k = i + 1; k < end; ++k) {
      if (value[k] != ' ' && value[k] != '\t' && value[k] != '\r' && value[k] != '\n') id.push_back(value[k]);
    }
    if (!id.empty() && id.find('<') == std::string::npos) out.push_back(std::move(id));
    i = end + 1;
  }
  return out;
}

struct ThreadMsg {
  size_t index = 0;  // into ctx.messages
  int64_t date = 0;
  BaseSubject subject;
};

struct Container {
  int msg = -1;  // into the ThreadMsg vector; -1 for a dummy
  int parent = -1;
  std::vector<int> children;
};

class ThreadBuilder {
 public:
  explicit ThreadBuilder(const std::vector<ThreadMsg>& msgs) : msgs_(msgs) {}

  std::vector<Container> c;

  int add(int msg) {
    c.push_back(Container{msg, -1, {}});
    return static_cast<int>(c.size()) - 1;
  }
  bool is_ancestor(int maybe_ancestor, int node) const {
    for (int p = node; p != -1; p = c[static_cast<size_t>(p)].parent) {
      if (p == maybe_ancestor) return true;
    }
    return false;
  }
  void unlink(int child) {
    const int p = c[static_cast<size_t>(child)].parent;
    if (p == -1) return;
    auto& sib = c[static_cast<size_t>(p)].children;
    sib.erase(std::remove(sib.begin(), sib.end(), child), sib.end());
    c[static_cast<size_t>(child)].parent = -1;
  }
  void link(int parent, int child) {
    c[static_cast<size_t>(child)].parent = parent;
    c[static_cast<size_t>(parent)].children.push_back(child);
  }

  // Date and sequence order of a container: its message's, or its first child's for a dummy.
  std::pair<int64_t, size_t> order_key(int node) const {
    const auto& n = c[static_cast<size_t>(node)];
    if (n.msg >= 0) return {msgs_[static_cast<size_t>(n.msg)].date, msgs_[static_cast<size_t>(n.msg)].index};
    if (n.children.empty()) return {INT64_MAX, SIZE_MAX};
    return order_key(n.children.front());
  }
  void sort_siblings(std::vector<int>& list) {
    for (int n : list) sort_siblings(c[static_cast<size_t>(n)].children);  // the youngest first [§2.4 (7)]
    std::stable_sort(list.begin(), list.end(), [&](int a, int b) { return order_key(a) < order_key(b); });
  }

  // [RFC 5256 §2.4 (4)]: dummies without children go; others give their children to their parent
  // level, except a root-level dummy with more than one child.
  std::vector<int> prune(const std::vector<int>& list, bool root_level) {
    std::vector<int> out;
    for (int n : list) {
      auto& node = c[static_cast<size_t>(n)];
      node.children = prune(node.children, false);
      for (int ch : node.children) c[static_cast<size_t>(ch)].parent = n;
      if (node.msg >= 0) {
        out.push_back(n);
      } else if (node.children.empty()) {
        continue;
      } else if (root_level && node.children.size() > 1) {
        out.push_back(n);
      } else {
        for (int ch : node.children) {
          c[static_cast<size_t>(ch)].parent = root_level ? -1 : node.parent;
          out.push_back(ch);
        }
        node.children.clear();
      }
    }
    return out;
  }

  // Every node deeper than `max_depth` levels becomes a child of its ancestor at level
  // max_depth - 1, so the recursive steps below stay within a bounded stack however long a
  // reply chain a mailbox holds. Iterative.
  void cap_depth(const std::vector<int>& roots, size_t max_depth) {
    std::vector<std::pair<int, size_t>> stack;
    std::vector<int> path;
    std::vector<int> deep;
    std::vector<int> cap_of;  // for each entry of deep: the ancestor to hang it on
    for (int r : roots) stack.emplace_back(r, 0);
    while (!stack.empty()) {
      const auto [node, depth] = stack.back();
      stack.pop_back();
      path.resize(depth + 1);
      path[depth] = node;
      if (depth >= max_depth) {
        deep.push_back(node);
        cap_of.push_back(path[max_depth - 1]);
      }
      for (int ch : c[static_cast<size_t>(node)].children) stack.emplace_back(ch, depth + 1);
    }
    for (size_t k = 0; k < deep.size(); ++k) {
      unlink(deep[k]);
      link(cap_of[k], deep[k]);
    }
  }

  const BaseSubject* thread_subject(int node) const {
    const auto& n = c[static_cast<size_t>(node)];
    if (n.msg >= 0) return &msgs_[static_cast<size_t>(n.msg)].subject;
    if (n.children.empty()) return nullptr;
    return thread_subject(n.children.front());
  }

 private:
  const std::vector<ThreadMsg>& msgs_;
};

proto::imap::ThreadNode to_node(const ThreadBuilder& b, const std::vector<ThreadMsg>& msgs, int n, const SearchContext& ctx) {
  proto::imap::ThreadNode out;
  const auto& cont = b.c[static_cast<size_t>(n)];
  if (cont.msg >= 0) out.number = number_of(ctx, msgs[static_cast<size_t>(cont.msg)].index);
  for (int ch : cont.children) out.children.push_back(to_node(b, msgs, ch, ctx));
  return out;
}

// The messages to thread, ctx.messages[m.indices] in order: their sent dates and base subjects, and
// their evaluation states (REFERENCES loads their header bytes into these). The states point into
// ctx and m.summaries.
struct ThreadInput {
  std::vector<ThreadMsg> msgs;
  std::vector<MessageState> states;
};

boost::asio::awaitable<ThreadInput> thread_input(const SearchContext& ctx, const Matches& m) {
  ThreadInput in;
  in.msgs.reserve(m.indices.size());
  in.states.reserve(m.indices.size());
  for (size_t k = 0; k < m.indices.size(); ++k) {
    if (k % kYieldEvery == kYieldEvery - 1) co_await yield_now();
    in.states.push_back(make_state(ctx, m.indices[k], &m.summaries));
    auto& st = in.states[k];
    const auto* e = st.get_envelope();
    ThreadMsg msg;
    msg.index = m.indices[k];
    msg.date = sent_date(st);
    if (e && e->subject) msg.subject = base_subject(*e->subject);
    in.msgs.push_back(std::move(msg));
  }
  co_return in;
}

// [RFC 5256 §2.3] ORDEREDSUBJECT: sort by base subject then sent date; each run of one subject is a
// thread whose first message is the parent of all the others; threads ordered by their first's date.
std::vector<proto::imap::ThreadNode> ordered_subject_threads(ThreadBuilder& b, const std::vector<ThreadMsg>& msgs,
                                                             const SearchContext& ctx) {
  std::vector<size_t> order(msgs.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::vector<std::string> keys(msgs.size());
  for (size_t k = 0; k < msgs.size(); ++k) keys[k] = ascii_key(msgs[k].subject.text);
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    if (keys[x] != keys[y]) return keys[x] < keys[y];
    return std::make_pair(msgs[x].date, msgs[x].index) < std::make_pair(msgs[y].date, msgs[y].index);
  });
  std::vector<int> thread_roots;
  for (size_t k = 0; k < order.size(); ++k) {
    const int node = b.add(static_cast<int>(order[k]));
    if (k > 0 && keys[order[k]] == keys[order[k - 1]]) {
      b.link(thread_roots.back(), node);
    } else {
      thread_roots.push_back(node);
    }
  }
  std::stable_sort(thread_roots.begin(), thread_roots.end(),
                   [&](int x, int y) { return b.order_key(x) < b.order_key(y); });
  std::vector<proto::imap::ThreadNode> roots;
  for (int r : thread_roots) roots.push_back(to_node(b, msgs, r, ctx));
  return roots;
}

// [RFC 5256 §2.4 (1)] REFERENCES: links the messages of `states` (container k for message k) by
// Message-ID, References and In-Reply-To, loading each one's header. Fails when a read does.
boost::asio::awaitable<Result<void>> link_references(ThreadBuilder& b, std::vector<MessageState>& states,
                                                     const SearchContext& ctx) {
  std::unordered_map<std::string, int> ids;
  auto container_for = [&](const std::string& id) {
    auto [it, inserted] = ids.emplace(id, -1);
    if (inserted) it->second = b.add(-1);
    return it->second;
  };
  uint64_t opened = 0;
  for (size_t k = 0; k < states.size(); ++k) {
    auto& st = states[k];
    const auto* e = st.get_envelope();
    // (A) the message's own container; a missing or duplicate Message-ID gets a unique one
    int self = -1;
    std::vector<std::string> own = e && e->message_id ? msg_ids(*e->message_id) : std::vector<std::string>{};
    if (!own.empty()) {
      auto it = ids.find(own.front());
      if (it == ids.end()) {
        self = b.add(static_cast<int>(k));
        ids.emplace(own.front(), self);
      } else if (b.c[static_cast<size_t>(it->second)].msg == -1) {
        self = it->second;
        b.c[static_cast<size_t>(self)].msg = static_cast<int>(k);
      }
    }
    if (self == -1) self = b.add(static_cast<int>(k));
    // (B) the References chain (else the first In-Reply-To id)
    auto loaded = co_await load_header(st, ctx, opened);
    if (!loaded) co_return loaded.error();
    std::vector<std::string> refs;
    if (st.header_loaded) {
      if (const auto* f = st.header.find("References")) refs = msg_ids(f->value);
    }
    if (refs.empty() && e && e->in_reply_to) {
      auto irt = msg_ids(*e->in_reply_to);
      if (!irt.empty()) refs.push_back(irt.front());
    }
    int prev = -1;
    for (const auto& id : refs) {
      const int cur = container_for(id);
      if (prev != -1 && cur != prev && b.c[static_cast<size_t>(cur)].parent == -1 && !b.is_ancestor(cur, prev)) {
        b.link(prev, cur);
      }
      prev = cur;
    }
    // (C) the last reference is the parent: replaces any parent guessed before
    b.unlink(self);
    if (prev != -1 && prev != self && !b.is_ancestor(self, prev)) b.link(prev, self);
  }
  co_return Result<void>{};
}

// [RFC 5256 §2.4 (6)] the thread each base subject gathers into: the first root with it, replaced by
// a later dummy root, or by a later root that is not a reply or forward when the first one is.
std::unordered_map<std::string, int> subject_table(const ThreadBuilder& b, const std::vector<int>& root) {
  std::unordered_map<std::string, int> table;
  for (int n : root) {
    const BaseSubject* subj = b.thread_subject(n);
    if (!subj || subj->text.empty()) continue;
    const std::string key = ascii_key(subj->text);
    auto it = table.find(key);
    if (it == table.end()) {
      table.emplace(key, n);
      continue;
    }
    const auto& old = b.c[static_cast<size_t>(it->second)];
    const bool cur_dummy = b.c[static_cast<size_t>(n)].msg == -1;
    if (old.msg != -1 && (cur_dummy || (b.thread_subject(it->second)->reply_or_forward && !subj->reply_or_forward))) {
      it->second = n;
    }
  }
  return table;
}

// [RFC 5256 §2.4 (6)] gathers the threads of `root` with the same base subject; the new root set.
std::vector<int> merge_by_subject(ThreadBuilder& b, std::vector<int> root) {
  std::unordered_map<std::string, int> table = subject_table(b, root);
  std::vector<bool> dropped(b.c.size() + root.size(), false);
  for (int n : root) {
    const BaseSubject* subj = b.thread_subject(n);
    if (!subj || subj->text.empty()) continue;
    auto it = table.find(ascii_key(subj->text));
    if (it == table.end() || it->second == n) continue;
    const int other = it->second;
    const bool cur_dummy = b.c[static_cast<size_t>(n)].msg == -1;
    const bool other_dummy = b.c[static_cast<size_t>(other)].msg == -1;
    if (cur_dummy && other_dummy) {
      for (int ch : std::vector<int>(b.c[static_cast<size_t>(n)].children)) {
        b.unlink(ch);
        b.link(other, ch);
      }
    } else if (other_dummy || (subj->reply_or_forward && !b.thread_subject(other)->reply_or_forward)) {
      b.link(other, n);
    } else {
      const int dummy = b.add(-1);
      dropped.resize(b.c.size(), false);
      // the dummy takes the table message's place in the root set
      std::replace(root.begin(), root.end(), other, dummy);
      b.link(dummy, other);
      b.link(dummy, n);
      it->second = dummy;
    }
    dropped[static_cast<size_t>(n)] = true;
  }
  std::vector<int> merged_root;
  for (int n : root) {
    if (!dropped[static_cast<size_t>(n)]) merged_root.push_back(n);
  }
  return merged_root;
}

}  // namespace

BaseSubject base_subject(std::string_view subject) {
  // (1) decode, whitespace runs (tabs, folding) to one space
  const std::string decoded = mime::decode_words(mime::unfold(subject));
  std::string s;
  for (char ch : decoded) {
    const bool space = ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
    if (space) {
      if (!s.empty() && s.back() != ' ') s.push_back(' ');
    } else {
      s.push_back(ch);
    }
  }
  BaseSubject out;
  for (;;) {
    // (2) trailing "(fwd)" and WSP
    for (;;) {
      while (!s.empty() && s.back() == ' ') s.pop_back();
      if (s.size() >= 5 && ascii::iequals(std::string_view(s).substr(s.size() - 5), "(fwd)")) {
        s.resize(s.size() - 5);
        out.reply_or_forward = true;
        continue;
      }
      break;
    }
    // (3)-(5): leaders, then a leading blob when something is left after it
    for (;;) {
      bool changed = false;
      for (;;) {
        if (!s.empty() && s.front() == ' ') {
          s.erase(0, 1);
          changed = true;
          continue;
        }
        size_t p = 0;
        for (size_t b; (b = blob_end(s, p)) != std::string::npos;) p = b;
        if (const size_t r = refwd_end(s, p); r != std::string::npos) {
          s.erase(0, r);
          out.reply_or_forward = true;
          changed = true;
          continue;
        }
        break;
      }
      if (const size_t b = blob_end(s, 0); b != std::string::npos && b < s.size()) {
        s.erase(0, b);
        changed = true;
      }
      if (!changed) break;
    }
    // (6) "[fwd: ... ]"
    if (s.size() >= 6 && istarts(s, 0, "[fwd:") && s.back() == ']') {
      s = s.substr(5, s.size() - 6);
      out.reply_or_forward = true;
      continue;
    }
    break;
  }
  out.text = std::move(s);
  return out;
}

SearchTask<SearchOutcome> run_search(const proto::imap::SearchProgram& program, const SearchContext& ctx) {
  auto task = evaluate(program, ctx);
  auto m = co_await std::move(task);
  if (!m) co_return m.error();
  SearchOutcome out;
  out.blobs_opened = m->blobs_opened;
  for (size_t i : m->indices) {
    out.numbers.push_back(number_of(ctx, i));
    out.uids.push_back(ctx.messages[i].info.uid);
  }
  out.modseq = reply_modseq(*m, m->indices, program.ret, ctx);
  out.modseq_key = m->has_modseq;
  if (program.ret.save) out.saved = saved_result(program.ret, out.uids);
  co_return out;
}

SearchTask<SortOutcome> run_sort(const proto::imap::SortProgram& program, const SearchContext& ctx) {
  using SK = proto::imap::SortKey;
  auto task = evaluate(program.search, ctx);
  auto m = co_await std::move(task);
  if (!m) co_return m.error();
  const bool needs_summary = std::any_of(program.criteria.begin(), program.criteria.end(), [](const auto& c) {
    return c.key != SK::kArrival && c.key != SK::kSize;
  });
  if (needs_summary) {
    auto filled = co_await fetch_summaries(ctx, m->indices, m->summaries);
    if (!filled) co_return filled.error();
  }
  std::vector<SortRow> rows;
  rows.reserve(m->indices.size());
  for (size_t i : m->indices) {
    if (rows.size() % kYieldEvery == kYieldEvery - 1) co_await yield_now();
    MessageState st = make_state(ctx, i, &m->summaries);
    SortRow row;
    row.index = i;
    row.arrival = st.data->info.internal_date;
    row.size = st.data->info.size;
    const auto* e = st.get_envelope();
    for (const auto& c : program.criteria) {
      switch (c.key) {
        case SK::kDate: row.date = sent_date(st); break;
        case SK::kCc: if (e) row.cc = addr_mailbox(e->cc); break;
        case SK::kFrom: if (e) row.from = addr_mailbox(e->from); break;
        case SK::kTo: if (e) row.to = addr_mailbox(e->to); break;
        case SK::kSubject:
          if (e && e->subject) row.subject = ascii_key(base_subject(*e->subject).text);
          break;
        case SK::kDisplayFrom: if (e) row.display_from = display_of(e->from); break;
        case SK::kDisplayTo: if (e) row.display_to = display_of(e->to); break;
        default: break;
      }
    }
    rows.push_back(std::move(row));
  }
  // Ties are broken by sequence number [RFC 5256 §3]: rows are in sequence order already.
  std::stable_sort(rows.begin(), rows.end(), [&](const SortRow& a, const SortRow& b) {
    for (const auto& c : program.criteria) {
      int r = compare_rows(a, b, c.key);
      if (c.reverse) r = -r;
      if (r != 0) return r < 0;
    }
    return false;
  });
  SortOutcome out;
  std::vector<store::Uid> uids;
  std::vector<size_t> ordered;
  for (const auto& row : rows) {
    out.numbers.push_back(number_of(ctx, row.index));
    uids.push_back(ctx.messages[row.index].info.uid);
    ordered.push_back(row.index);
  }
  out.modseq = reply_modseq(*m, ordered, program.ret, ctx);
  out.modseq_key = m->has_modseq;
  if (program.ret.save) out.saved = saved_result(program.ret, uids);
  co_return out;
}

SearchTask<std::vector<proto::imap::ThreadNode>> run_thread(const proto::imap::ThreadProgram& program,
                                                             const SearchContext& ctx) {
  auto task = evaluate(program.search, ctx);
  auto m = co_await std::move(task);
  if (!m) co_return m.error();
  auto filled = co_await fetch_summaries(ctx, m->indices, m->summaries);
  if (!filled) co_return filled.error();
  auto input = co_await thread_input(ctx, *m);
  ThreadBuilder b(input.msgs);
  if (program.algorithm == proto::imap::ThreadAlgorithm::kOrderedSubject) {
    co_return ordered_subject_threads(b, input.msgs, ctx);
  }
  // [RFC 5256 §2.4] REFERENCES. (1) link messages by Message-ID, References / In-Reply-To.
  auto linked = co_await link_references(b, input.states, ctx);
  if (!linked) co_return linked.error();
  // (2) the root set; (4) prune dummies; (5) sort
  std::vector<int> root;
  for (size_t n = 0; n < b.c.size(); ++n) {
    if (b.c[n].parent == -1) root.push_back(static_cast<int>(n));
  }
  b.cap_depth(root, kMaxThreadDepth);
  root = b.prune(root, true);
  b.sort_siblings(root);
  // (6) gather threads with the same base subject; (7) sort every sibling set again
  std::vector<int> merged_root = merge_by_subject(b, std::move(root));
  b.sort_siblings(merged_root);
  std::vector<proto::imap::ThreadNode> roots;
  for (int n : merged_root) roots.push_back(to_node(b, input.msgs, n, ctx));
  co_return roots;
}

}  // namespace posthorn::server::imap
