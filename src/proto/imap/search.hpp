// IMAP SEARCH, SORT and THREAD programs: the parsed form of their arguments and the formatting of
// their responses.
//   SEARCH  [RFC 9051 §6.4.4, RFC 3501 §6.4.4], ESEARCH [RFC 4731], SEARCHRES "$" [RFC 5182],
//   CONTEXT=SEARCH return options [RFC 5267 §4], PARTIAL [RFC 9394], CONDSTORE MODSEQ [RFC 7162 §3.1.5],
//   SAVEDATE keys [RFC 8514], WITHIN YOUNGER/OLDER [RFC 5032],
//   SORT / THREAD [RFC 5256], SORT=DISPLAY [RFC 5957], ESORT [RFC 5267 §3].
// Input is the argument text after "SEARCH ", "SORT " or "THREAD " (also after "UID SEARCH " ...)
// as CommandAssembler produced it: literals inline ("{n}\r\n<bytes>"), tokenised with Reader.
// Evaluation lives in server/imap/search_engine.hpp. Pure; thread-safe.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "proto/imap/sequence_set.hpp"

namespace posthorn::proto::imap {

enum class SearchKeyKind {
  kAnd,  // children: every one matches ("(a b)" and the top-level key list)
  kOr,   // children: exactly two
  kNot,  // children: exactly one
  kAll,
  kAnswered, kDeleted, kDraft, kFlagged, kSeen,
  kUnanswered, kUndeleted, kUndraft, kUnflagged, kUnseen,
  kNew, kOld, kRecent,         // RFC 3501 only; NEW = RECENT UNSEEN, OLD = NOT RECENT
  kKeyword, kUnkeyword,        // text: the keyword
  kBcc, kCc, kFrom, kTo, kSubject, kBody, kText,  // text: the substring
  kHeader,                     // text: field name, text2: substring
  kBefore, kOn, kSince,        // number: day (days since 1970-01-01) of the internal date
  kSentBefore, kSentOn, kSentSince,     // number: day; of the Date: header (else internal date)
  kSavedBefore, kSavedOn, kSavedSince,  // number: day; of the save date [RFC 8514]
  kSaveDateSupported,
  kLarger, kSmaller,           // number: RFC822.SIZE bound
  kYounger, kOlder,            // number: seconds [RFC 5032]
  kModSeq,                     // number: mod-sequence; text/text2: optional entry name and type
  kSequence,                   // set: sequence numbers (or "$")
  kUid,                        // set: UIDs (or "$")
};

struct SearchKey {
  SearchKeyKind kind = SearchKeyKind::kAll;
  std::string text;
  std::string text2;
  int64_t number = 0;
  SequenceSet set;  // kSequence / kUid (proto/imap/sequence_set.hpp; "$" is set.saved)
  std::vector<SearchKey> children;

  bool operator==(const SearchKey&) const = default;
};

// RETURN (...) options of ESEARCH [RFC 4731 §3.1], SEARCHRES [RFC 5182], CONTEXT=SEARCH
// [RFC 5267 §4.1] and PARTIAL [RFC 9394]. `present` is false when no RETURN was written (a plain
// "* SEARCH" reply for IMAP4rev1 clients). "RETURN ()" means ALL [RFC 4731 §3.1].
struct SearchReturn {
  bool present = false;
  bool min = false, max = false, all = false, count = false, save = false;
  bool update = false, context = false;  // CONTEXT=SEARCH; the session tracks updates
  struct Partial {
    int64_t first = 0;  // as written, 1-based; negative counts from the end ("-1:-100": the last 100)
    int64_t last = 0;   // same sign as first
    bool operator==(const Partial&) const = default;
  };
  std::optional<Partial> partial;

  bool operator==(const SearchReturn&) const = default;
};

enum class Charset { kUtf8, kUsAscii };

struct SearchProgram {
  SearchReturn ret;
  Charset charset = Charset::kUtf8;
  SearchKey key;  // a kAnd of the listed keys

  bool operator==(const SearchProgram&) const = default;
};

enum class SortKey { kArrival, kCc, kDate, kFrom, kSize, kSubject, kTo, kDisplayFrom, kDisplayTo };
struct SortCriterion {
  SortKey key = SortKey::kArrival;
  bool reverse = false;
  bool operator==(const SortCriterion&) const = default;
};

struct SortProgram {
  SearchReturn ret;  // ESORT [RFC 5267 §3]
  std::vector<SortCriterion> criteria;
  SearchProgram search;

  bool operator==(const SortProgram&) const = default;
};

enum class ThreadAlgorithm { kOrderedSubject, kReferences };

struct ThreadProgram {
  ThreadAlgorithm algorithm = ThreadAlgorithm::kReferences;
  SearchProgram search;

  bool operator==(const ThreadProgram&) const = default;
};

// Limits on a program; each refused with BAD. Depth counts nested parentheses, NOT and OR; keys
// counts every key (and each parenthesised list) in the program.
struct SearchLimits {
  std::size_t max_depth = 64;
  std::size_t max_keys = 1'000;
};

struct SearchError {
  enum class Kind {
    kSyntax,      // "<tag> BAD <message>"
    kBadCharset,  // "<tag> NO [BADCHARSET (UTF-8 US-ASCII)] <message>"
    kLimit,       // too deep or too many keys: "<tag> BAD <message>"
  };
  Kind kind = Kind::kSyntax;
  std::string message;  // client-safe
  bool operator==(const SearchError&) const = default;
};

class SearchErrorException : public std::runtime_error {
 public:
  explicit SearchErrorException(const SearchError& e) : std::runtime_error(e.message) {}
};
[[noreturn]] inline void throw_exception_from_error(const SearchError& e, const boost::source_location&) {
  throw SearchErrorException(e);
}

template <class T>
using SearchResult = boost::system::result<T, SearchError>;

// "[RETURN (...)] [CHARSET x] key *(SP key)" [RFC 9051 §9 search, RFC 4731 §3.1].
SearchResult<SearchProgram> parse_search(std::string_view args, const SearchLimits& limits = {});
// "[RETURN (...)] (criteria) charset key *(SP key)" [RFC 5256 §3, RFC 5267 §3].
SearchResult<SortProgram> parse_sort(std::string_view args, const SearchLimits& limits = {});
// "algorithm charset key *(SP key)" [RFC 5256 §3].
SearchResult<ThreadProgram> parse_thread(std::string_view args, const SearchLimits& limits = {});

// The tagged reply for a SearchError: BAD, or NO [BADCHARSET (UTF-8 US-ASCII)].
std::string search_error_reply(std::string_view tag, const SearchError& error);

// "5:7,9" from ascending numbers (duplicates ignored); "" for none [RFC 9051 §9 sequence-set].
// With `ordered` the numbers keep their order (ESORT ALL) and only ascending runs become ranges.
std::string format_sequence_set(const std::vector<uint32_t>& numbers, bool ordered = false);

// "* SEARCH 2 5 9\r\n"; with a modseq " (MODSEQ 917162500)" is appended [RFC 7162 §3.1.5].
// "* SORT ...\r\n" is the same with the name "SORT" [RFC 5256 §4].
std::string format_search(const std::vector<uint32_t>& numbers, std::optional<uint64_t> modseq = {},
                          std::string_view name = "SEARCH");

// One ESEARCH reply [RFC 4731 §3.1, RFC 9051 §7.3.4]:
// "* ESEARCH (TAG "a1") UID MIN 2 MAX 9 COUNT 3 ALL 2,5,9 MODSEQ 7\r\n". `numbers` are the results
// ascending (or in sort order for ESORT, with `sorted` set: MIN/MAX are then the first and last
// [RFC 5267 §3.2]). Only the requested items appear; with none (RETURN () or SEARCH in IMAP4rev2
// without RETURN) ALL is given. Nothing but the correlator is written for an empty result's MIN,
// MAX and ALL [RFC 4731 §3.1]; COUNT 0 is written. PARTIAL gives "PARTIAL (1:100 5,7)" [RFC 9394].
// An empty `tag` leaves the correlator out. When esearch_reply_wanted() is false (RETURN (SAVE)
// alone) no ESEARCH reply may be sent at all [RFC 5182 §2.1].
std::string format_esearch(std::string_view tag, bool uid, const SearchReturn& ret,
                           const std::vector<uint32_t>& numbers, std::optional<uint64_t> modseq = {},
                           bool sorted = false);

bool esearch_reply_wanted(const SearchReturn& ret);

// A CONTEXT=SEARCH update for a RETURN (UPDATE) search [RFC 5267 §4.3]:
// "* ESEARCH (TAG "B01") UID ADDTO (0 32768:32769)\r\n" or "... REMOVEFROM (0 5)\r\n". Position 0:
// unsorted SEARCH results. Empty `numbers`: "" (nothing to send).
std::string format_esearch_update(std::string_view tag, bool uid, bool add, const std::vector<uint32_t>& numbers);

// A THREAD tree: each node is a message number, or 0 for a dummy (a missing parent).
struct ThreadNode {
  uint32_t number = 0;
  std::vector<ThreadNode> children;
  bool operator==(const ThreadNode&) const = default;
};
// "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n" [RFC 5256 §4]: a node with one child continues the
// list, several children each get their own parentheses; dummies are left out of the text.
std::string format_thread(const std::vector<ThreadNode>& roots);

}  // namespace posthorn::proto::imap
