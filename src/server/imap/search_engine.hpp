// Evaluation of IMAP SEARCH, SORT and THREAD programs (proto/imap/search.hpp) over the messages of
// a selected mailbox as one session sees them [RFC 9051 §6.4.4, RFC 5256, RFC 5957, RFC 4731,
// RFC 5182, RFC 7162 §3.1.5, RFC 8514, RFC 5032].
//
// Cost order: every key is answered from the cheapest data that can answer it, and dearer data is
// fetched only while the program is still undecided for a message:
//   1. metadata in the view (flags, UID, sequence number, size, internal/save date, modseq);
//   2. the cached parse (MessageData::summary, decoded on first need): FROM/TO/CC/BCC/SUBJECT from
//      the envelope (RFC 2047 decoded), SENT* from its Date;
//   3. the header bytes [0, body start) read from the blob: HEADER, and the header half of TEXT;
//   4. the body: BODY and TEXT scan the text/* leaf parts (and embedded messages' headers), each
//      decoded from base64/quoted-printable and its charset to UTF-8, in 64 KiB chunks, stopping
//      as soon as every text key of the program is decided. Non-text parts (attachments) are not
//      searched.
// Strings match as substrings under i;unicode-casemap (search_casemap.hpp). A message expunged
// under the search (open_message says kNotFound) simply does not match.
//
// How the session calls it (cmd_search; SORT and THREAD alike with parse_sort/run_sort/format_search
// (name "SORT") or format_esearch(sorted) for ESORT, and parse_thread/run_thread/format_thread):
//
//   auto program = proto::imap::parse_search(args);          // args: text after "SEARCH "
//   if (!program) { write(search_error_reply(tag, program.error())); $ = {} if it had SAVE; return; }
//   SearchContext ctx{view_messages, recent_ranges, saved_uids, mailbox.get(), is_uid, now};
//   auto task = run_search(*program, ctx);
//   auto r = co_await std::move(task);                        // error: NO [SERVERBUG] (or the Errc mapping)
//   if (r->saved) saved_uids = *r->saved;                     // SEARCHRES [RFC 5182]
//   if (program->ret.present || imap4rev2)                    // ESEARCH [RFC 4731, RFC 9051 §7.3.4]
//     { if (esearch_reply_wanted(program->ret)) write(format_esearch(tag, is_uid, program->ret, r->numbers, r->modseq)); }
//   else write(format_search(r->numbers, r->modseq));
//
// No EXPUNGE may be sent while the search runs (the view must not change under it) [RFC 9051 §7.4.1].
//
// Threading: run on the session's strand; blob reads and summary fetches go to the blocking pool
// through the store. Decoding, folding and evaluation run on the calling thread, but never long
// without a yield: one 64 KiB chunk of body text between two blob reads, and at most 1,024
// messages between two explicit yields in the loops over the view.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "proto/imap/search.hpp"
#include "store/store.hpp"
#include "store/types.hpp"

namespace posthorn::server::imap {

template <class T>
using SearchTask = boost::asio::awaitable<Result<T>>;

// What a search runs over. The session owns everything referenced and keeps it alive and
// unchanged for the duration of the call.
struct SearchContext {
  // The session's view in sequence order: messages[i] has sequence number i + 1. `summary` may be
  // left empty (a view built from MailboxView::messages): the summaries that keys of stage 2+ need
  // are then fetched from `mailbox` in batches of 2,000, only for the messages the metadata keys
  // left undecided (and, for SORT by envelope fields and THREAD, for the matches). An undecodable
  // summary, or an empty one without a mailbox, makes those keys see an empty message.
  std::span<const store::MessageData> messages;
  // The UIDs that are \Recent in this session, ascending disjoint ranges [RFC 3501 §2.3.2].
  std::span<const store::UidRange> recent;
  // The saved result "$" [RFC 5182] as ascending UIDs; empty when nothing was saved.
  std::span<const store::Uid> saved;
  // Opens message bytes for HEADER/BODY/TEXT and THREAD=REFERENCES; may be null when the program
  // needs no bytes (a key that needs them then fails with Errc::kInternal).
  store::Mailbox* mailbox = nullptr;
  // UID SEARCH / UID SORT / UID THREAD: results are UIDs, else sequence numbers.
  bool uid = false;
  // Now in Unix seconds, for YOUNGER/OLDER [RFC 5032]; 0 means the system clock.
  int64_t now = 0;
  // Decoded body text scanned per message for BODY/TEXT; the rest of a huge message is not read.
  uint64_t max_text_bytes = 16 * 1024 * 1024;
};

struct SearchOutcome {
  std::vector<uint32_t> numbers;  // the matches, ascending: UIDs when ctx.uid, else sequence numbers
  std::vector<store::Uid> uids;   // the matches' UIDs, ascending
  // When the program has a MODSEQ key and something matched: "(MODSEQ n)" / "MODSEQ n" in the
  // reply [RFC 7162 §3.1.5]: the highest modseq among the matches, or with RETURN (MIN) / (MAX)
  // alone that of the message returned (the higher of the two with both).
  std::optional<store::ModSeq> modseq;
  bool modseq_key = false;  // the program has a MODSEQ key: CONDSTORE is enabled [RFC 7162 §3.1]
  // With RETURN (SAVE): what "$" becomes, as ascending UIDs [RFC 5182 §2.1, §2.4]: the whole
  // result, or only its MIN and/or MAX when those are asked without ALL or COUNT.
  std::optional<std::vector<store::Uid>> saved;
  uint64_t blobs_opened = 0;  // messages whose bytes were read (for tests and metrics)
};

// SEARCH / UID SEARCH. Errors: kInternal (a key needs bytes and ctx.mailbox is null), store
// errors other than kNotFound from reading a message.
SearchTask<SearchOutcome> run_search(const proto::imap::SearchProgram& program, const SearchContext& ctx);

// SORT / UID SORT [RFC 5256 §3, RFC 5957]. `numbers` are in sort order; ties keep sequence order.
// ESORT: format with format_esearch(..., sorted = true).
struct SortOutcome {
  std::vector<uint32_t> numbers;
  std::optional<store::ModSeq> modseq;  // as SearchOutcome::modseq, MIN/MAX in sort order
  bool modseq_key = false;
  std::optional<std::vector<store::Uid>> saved;  // RETURN (SAVE) with ESORT: ascending UIDs
};
SearchTask<SortOutcome> run_sort(const proto::imap::SortProgram& program, const SearchContext& ctx);

// THREAD / UID THREAD [RFC 5256 §2.3 ORDEREDSUBJECT, §2.4 REFERENCES]: format with format_thread.
// A REFERENCES thread deeper than kMaxThreadDepth levels is cut there: the messages below hang
// side by side under the message at the last level (bounded recursion against hostile mailboxes).
inline constexpr size_t kMaxThreadDepth = 256;
SearchTask<std::vector<proto::imap::ThreadNode>> run_thread(const proto::imap::ThreadProgram& program,
                                                             const SearchContext& ctx);

// The pieces SORT and THREAD build on, exposed for tests.
struct BaseSubject {
  std::string text;              // [RFC 5256 §2.1] base subject, UTF-8, whitespace collapsed
  bool reply_or_forward = false;  // Re:/Fwd:/(fwd)/[fwd: ...] was removed
};
// `subject` is the raw field value (encoded words are decoded here).
BaseSubject base_subject(std::string_view subject);

}  // namespace posthorn::server::imap
