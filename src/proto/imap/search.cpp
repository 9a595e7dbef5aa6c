#include "proto/imap/search.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include "base/ascii.hpp"
#include "mime/date.hpp"
#include "proto/imap/reader.hpp"
#include "proto/imap/response.hpp"

namespace posthorn::proto::imap {

namespace {

using K = SearchKeyKind;

SearchError syntax(std::string message) { return SearchError{SearchError::Kind::kSyntax, std::move(message)}; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// 1*DIGIT up to `max`; nullopt for anything else (empty, non-digits, overflow).
std::optional<uint64_t> parse_number(std::string_view s, uint64_t max) {
  if (s.empty()) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    const auto d = static_cast<uint64_t>(c - '0');
    if (n > (max - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

constexpr uint64_t kNumber64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
constexpr uint64_t kNumberMax = std::numeric_limits<uint32_t>::max();

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// date-text = date-day "-" date-month "-" date-year, e.g. "1-Feb-1994" [RFC 9051 §9].
std::optional<int64_t> parse_date_text(std::string_view s) {
  const auto parts = ascii::split(s, '-');
  if (parts.size() != 3 || parts[0].empty() || parts[0].size() > 2 || parts[2].size() != 4) return std::nullopt;
  const auto day = parse_number(parts[0], 99);
  const auto year = parse_number(parts[2], 9999);
  if (!day || !year) return std::nullopt;
  const auto m = parts[1].size() == 3 ? mime::month_number(parts[1]) : std::nullopt;
  if (!m) return std::nullopt;
  const unsigned month = *m;
  static constexpr std::array<unsigned, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (*day < 1 || *day > kDays[month - 1] || (month == 2 && *day == 29 && !is_leap(static_cast<int64_t>(*year)))) {
    return std::nullopt;
  }
  return mime::days_from_civil(static_cast<int64_t>(*year), month, static_cast<unsigned>(*day));
}

class Parser {
 public:
  Parser(std::string_view text, const SearchLimits& limits) : in_(text), limits_(limits) {}

  bool at_end() const { return in_.at_end(); }

  SearchResult<void> sp(std::string_view what) {
    if (!in_.sp()) return syntax("Expected a space " + std::string(what));
    return {};
  }

  // RETURN (...) when the next word is RETURN; leaves the reader after the closing ")" and its SP.
  SearchResult<SearchReturn> return_options() {
    SearchReturn ret;
    if (!next_word_is("RETURN")) return ret;
    (void)in_.atom();
    ret.present = true;
    if (auto r = sp("after RETURN"); !r) return r.error();
    if (in_.peek() != '(') return syntax("RETURN needs a parenthesised list");
    skip();
    bool any = false;
    while (in_.peek() != ')') {
      if (in_.at_end()) return syntax("Unterminated RETURN list");
      if (any) {
        if (auto r = sp("between RETURN options"); !r) return r.error();
      }
      auto word = in_.atom();
      if (!word) return syntax("Invalid RETURN option");
      const std::string opt = ascii::upper(*word);
      if (opt == "MIN") ret.min = true;
      else if (opt == "MAX") ret.max = true;
      else if (opt == "ALL") ret.all = true;
      else if (opt == "COUNT") ret.count = true;
      else if (opt == "SAVE") ret.save = true;
      else if (opt == "UPDATE") ret.update = true;
      else if (opt == "CONTEXT") ret.context = true;
      else if (opt == "PARTIAL") {
        if (auto r = sp("after PARTIAL"); !r) return r.error();
        auto range = in_.atom();
        if (!range) return syntax("PARTIAL needs a range");
        auto p = parse_partial(*range);
        if (!p) return syntax("Invalid PARTIAL range");
        ret.partial = *p;
      } else {
        return syntax("Unknown RETURN option " + opt);
      }
      any = true;
    }
    skip();  // ")"
    if (!any) ret.all = true;  // "RETURN ()" = RETURN (ALL) [RFC 4731 §3.1]
    if (auto r = sp("after RETURN options"); !r) return r.error();
    return ret;
  }

  // charset = atom / quoted; only UTF-8 and US-ASCII are supported [RFC 9051 §6.4.4].
  SearchResult<Charset> charset() {
    auto name = in_.astring();
    if (!name) return syntax("Invalid charset name");
    if (ascii::iequals(*name, "UTF-8") || ascii::iequals(*name, "UTF8")) return Charset::kUtf8;
    if (ascii::iequals(*name, "US-ASCII")) return Charset::kUsAscii;
    return SearchError{SearchError::Kind::kBadCharset, "Unsupported charset"};
  }

  // [CHARSET x SP] when `optional`, else charset SP (SORT/THREAD), then key *(SP key).
  SearchResult<SearchProgram> program(bool charset_optional) {
    SearchProgram p;
    if (!charset_optional || next_word_is("CHARSET")) {
      if (charset_optional) {
        (void)in_.atom();
        if (auto r = sp("after CHARSET"); !r) return r.error();
      }
      auto cs = charset();
      if (!cs) return cs.error();
      p.charset = *cs;
      if (auto r = sp("after the charset"); !r) return r.error();
    }
    p.key.kind = K::kAnd;
    for (;;) {
      auto key = this->key(0);
      if (!key) return key.error();
      p.key.children.push_back(std::move(*key));
      if (in_.at_end()) break;
      if (auto r = sp("between search keys"); !r) return r.error();
    }
    return p;
  }

  SearchResult<std::vector<SortCriterion>> sort_criteria() {
    if (in_.peek() != '(') return syntax("SORT needs a parenthesised list of criteria");
    skip();
    std::vector<SortCriterion> out;
    bool reverse = false;
    for (;;) {
      auto word = in_.atom();
      if (!word) return syntax("Invalid sort criterion");
      const std::string name = ascii::upper(*word);
      if (name == "REVERSE") {
        if (reverse) return syntax("REVERSE twice");
        reverse = true;
      } else {
        static constexpr std::array<std::pair<std::string_view, SortKey>, 9> kKeys = {{
            {"ARRIVAL", SortKey::kArrival}, {"CC", SortKey::kCc}, {"DATE", SortKey::kDate},
            {"FROM", SortKey::kFrom}, {"SIZE", SortKey::kSize}, {"SUBJECT", SortKey::kSubject},
            {"TO", SortKey::kTo}, {"DISPLAYFROM", SortKey::kDisplayFrom}, {"DISPLAYTO", SortKey::kDisplayTo},
        }};
        const auto it = std::find_if(kKeys.begin(), kKeys.end(), [&](const auto& k) { return k.first == name; });
        if (it == kKeys.end()) return syntax("Unknown sort criterion " + name);
        out.push_back(SortCriterion{it->second, reverse});
        reverse = false;
      }
      if (in_.peek() == ')') break;
      if (auto r = sp("between sort criteria"); !r) return r.error();
    }
    if (reverse) return syntax("REVERSE must precede a sort criterion");
    skip();
    if (auto r = sp("after the sort criteria"); !r) return r.error();
    return out;
  }

  SearchResult<ThreadAlgorithm> thread_algorithm() {
    auto word = in_.atom();
    if (!word) return syntax("THREAD needs an algorithm");
    if (ascii::iequals(*word, "REFERENCES")) return ThreadAlgorithm::kReferences;
    if (ascii::iequals(*word, "ORDEREDSUBJECT")) return ThreadAlgorithm::kOrderedSubject;
    return syntax("Unsupported threading algorithm");
  }

 private:
  // Steps over one byte already checked with peek() ("(" or ")"); Reader has no such call.
  void skip() { in_ = Reader(in_.rest().substr(1)); }

  // The characters of a sequence set ("*" is not an ATOM-CHAR); parse_set checks the form.
  std::string_view set_token() {
    const std::string_view rest = in_.rest();
    size_t n = 0;
    while (n < rest.size() && (is_digit(rest[n]) || rest[n] == ':' || rest[n] == ',' || rest[n] == '*' || rest[n] == '$')) ++n;
    in_ = Reader(rest.substr(n));
    return rest.substr(0, n);
  }

  bool next_word_is(std::string_view word) {
    const auto rest = in_.rest();
    return rest.size() > word.size() && ascii::iequals(rest.substr(0, word.size()), word) &&
           rest[word.size()] == ' ';
  }

  SearchResult<void> count_key(size_t depth) {
    if (depth > limits_.max_depth) {
      return SearchError{SearchError::Kind::kLimit, "Search program nested too deeply"};
    }
    if (++keys_ > limits_.max_keys) return SearchError{SearchError::Kind::kLimit, "Search program too long"};
    return {};
  }

  SearchResult<std::string> astring(std::string_view key) {
    if (auto r = sp("after " + std::string(key)); !r) return r.error();
    auto s = in_.astring();
    if (!s) return syntax(std::string(key) + " needs a string");
    return std::move(*s);
  }

  SearchResult<int64_t> date(std::string_view key) {
    if (auto r = sp("after " + std::string(key)); !r) return r.error();
    std::optional<int64_t> day;
    if (in_.peek() == '"') {
      auto q = in_.quoted();
      if (q) day = parse_date_text(*q);
    } else {
      auto a = in_.atom();
      if (a) day = parse_date_text(*a);
    }
    if (!day) return syntax(std::string(key) + " needs a date like 1-Feb-1994");
    return *day;
  }

  SearchResult<uint64_t> number(std::string_view key, uint64_t max, bool nonzero) {
    if (auto r = sp("after " + std::string(key)); !r) return r.error();
    auto a = in_.atom();
    std::optional<uint64_t> n;
    if (a) n = parse_number(*a, max);
    if (!n || (nonzero && *n == 0)) return syntax(std::string(key) + " needs a number");
    return *n;
  }

  static std::optional<SearchReturn::Partial> parse_partial(std::string_view s) {
    const auto colon = s.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto side = [](std::string_view v) -> std::optional<int64_t> {
      const bool neg = !v.empty() && v[0] == '-';
      const auto n = parse_number(neg ? v.substr(1) : v, kNumberMax);
      if (!n || *n == 0) return std::nullopt;
      return neg ? -static_cast<int64_t>(*n) : static_cast<int64_t>(*n);
    };
    const auto a = side(s.substr(0, colon));
    const auto b = side(s.substr(colon + 1));
    if (!a || !b || ((*a < 0) != (*b < 0))) return std::nullopt;  // both ends on the same side
    // "m:n" and "n:m" are the same range [RFC 9394 §3.1, like seq-range in RFC 9051 §9]: kept in
    // normal form, the end nearest the start of its side first ("2:4", "-1:-100"), so the reply
    // names the range the server used, as Dovecot does ("4:2" is answered as "2:4").
    const bool swap = *a < 0 ? *a < *b : *a > *b;
    return swap ? SearchReturn::Partial{*b, *a} : SearchReturn::Partial{*a, *b};
  }

 public:
  static std::optional<SequenceSet> parse_set(std::string_view s) {
    auto set = parse_sequence_set(s);
    if (!set) return std::nullopt;
    return std::move(*set);
  }

 private:
  SearchResult<SearchKey> key(size_t depth) {
    if (auto r = count_key(depth); !r) return r.error();
    SearchKey k;
    if (in_.peek() == '(') {
      skip();
      k.kind = K::kAnd;
      for (;;) {
        auto child = key(depth + 1);
        if (!child) return child.error();
        k.children.push_back(std::move(*child));
        if (in_.peek() == ')') break;
        if (auto r = sp("between search keys"); !r) return r.error();
      }
      skip();
      return k;
    }
    if (is_digit(in_.peek()) || in_.peek() == '*' || in_.peek() == '$') {
      auto set = parse_set(set_token());
      if (!set) return syntax("Invalid sequence set");
      k.kind = K::kSequence;
      k.set = std::move(*set);
      return k;
    }
    auto word = in_.atom();
    if (!word) return syntax("Expected a search key");
    const std::string name = ascii::upper(*word);
    struct Simple {
      std::string_view name;
      K kind;
    };
    static constexpr std::array<Simple, 15> kSimple = {{
        {"ALL", K::kAll}, {"ANSWERED", K::kAnswered}, {"DELETED", K::kDeleted}, {"DRAFT", K::kDraft},
        {"FLAGGED", K::kFlagged}, {"SEEN", K::kSeen}, {"UNANSWERED", K::kUnanswered},
        {"UNDELETED", K::kUndeleted}, {"UNDRAFT", K::kUndraft}, {"UNFLAGGED", K::kUnflagged},
        {"UNSEEN", K::kUnseen}, {"NEW", K::kNew}, {"OLD", K::kOld}, {"RECENT", K::kRecent},
        {"SAVEDATESUPPORTED", K::kSaveDateSupported},
    }};
    for (const auto& s : kSimple) {
      if (s.name == name) {
        k.kind = s.kind;
        return k;
      }
    }
    static constexpr std::array<Simple, 7> kStrings = {{
        {"BCC", K::kBcc}, {"CC", K::kCc}, {"FROM", K::kFrom}, {"TO", K::kTo},
        {"SUBJECT", K::kSubject}, {"BODY", K::kBody}, {"TEXT", K::kText},
    }};
    for (const auto& s : kStrings) {
      if (s.name == name) {
        k.kind = s.kind;
        auto text = astring(name);
        if (!text) return text.error();
        k.text = std::move(*text);
        return k;
      }
    }
    static constexpr std::array<Simple, 9> kDates = {{
        {"BEFORE", K::kBefore}, {"ON", K::kOn}, {"SINCE", K::kSince},
        {"SENTBEFORE", K::kSentBefore}, {"SENTON", K::kSentOn}, {"SENTSINCE", K::kSentSince},
        {"SAVEDBEFORE", K::kSavedBefore}, {"SAVEDON", K::kSavedOn}, {"SAVEDSINCE", K::kSavedSince},
    }};
    for (const auto& s : kDates) {
      if (s.name == name) {
        k.kind = s.kind;
        auto d = date(name);
        if (!d) return d.error();
        k.number = *d;
        return k;
      }
    }
    if (name == "KEYWORD" || name == "UNKEYWORD") {
      k.kind = name == "KEYWORD" ? K::kKeyword : K::kUnkeyword;
      if (auto r = sp("after " + name); !r) return r.error();
      auto kw = in_.atom();  // flag-keyword = atom [RFC 9051 §9]
      if (!kw) return syntax(name + " needs a keyword");
      k.text = std::move(*kw);
      return k;
    }
    if (name == "HEADER") {
      k.kind = K::kHeader;
      auto field = astring(name);
      if (!field) return field.error();
      auto value = astring(name);
      if (!value) return value.error();
      k.text = std::move(*field);
      k.text2 = std::move(*value);
      return k;
    }
    if (name == "LARGER" || name == "SMALLER") {
      k.kind = name == "LARGER" ? K::kLarger : K::kSmaller;
      auto n = number(name, kNumber64Max, false);
      if (!n) return n.error();
      k.number = static_cast<int64_t>(*n);
      return k;
    }
    if (name == "YOUNGER" || name == "OLDER") {
      k.kind = name == "YOUNGER" ? K::kYounger : K::kOlder;
      auto n = number(name, kNumberMax, true);
      if (!n) return n.error();
      k.number = static_cast<int64_t>(*n);
      return k;
    }
    if (name == "UID") {
      k.kind = K::kUid;
      if (auto r = sp("after UID"); !r) return r.error();
      auto set = parse_set(set_token());
      if (!set) return syntax("UID needs a sequence set");
      k.set = std::move(*set);
      return k;
    }
    if (name == "MODSEQ") {
      // "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer [RFC 7162 §3.1.5]
      k.kind = K::kModSeq;
      if (auto r = sp("after MODSEQ"); !r) return r.error();
      if (in_.peek() == '"') {
        auto entry = in_.quoted();
        if (!entry || !ascii::istarts_with(*entry, "/flags/") || entry->size() == 7) {
          return syntax("Invalid MODSEQ entry name");
        }
        if (auto r = sp("after the MODSEQ entry name"); !r) return r.error();
        auto type = in_.atom();
        if (!type || !(ascii::iequals(*type, "priv") || ascii::iequals(*type, "shared") ||
                       ascii::iequals(*type, "all"))) {
          return syntax("Invalid MODSEQ entry type");
        }
        k.text = std::move(*entry);
        k.text2 = ascii::lower(*type);
        if (auto r = sp("after the MODSEQ entry type"); !r) return r.error();
      }
      auto a = in_.atom();
      std::optional<uint64_t> n;
      if (a) n = parse_number(*a, kNumber64Max);
      if (!n) return syntax("MODSEQ needs a mod-sequence value");
      k.number = static_cast<int64_t>(*n);
      return k;
    }
    if (name == "NOT") {
      k.kind = K::kNot;
      if (auto r = sp("after NOT"); !r) return r.error();
      auto child = key(depth + 1);
      if (!child) return child.error();
      k.children.push_back(std::move(*child));
      return k;
    }
    if (name == "OR") {
      k.kind = K::kOr;
      for (int i = 0; i < 2; ++i) {
        if (auto r = sp("after OR"); !r) return r.error();
        auto child = key(depth + 1);
        if (!child) return child.error();
        k.children.push_back(std::move(*child));
      }
      return k;
    }
    return syntax("Unknown search key " + name);
  }

  Reader in_;
  const SearchLimits& limits_;
  size_t keys_ = 0;
};

}  // namespace

SearchResult<SearchProgram> parse_search(std::string_view args, const SearchLimits& limits) {
  Parser p(args, limits);
  auto ret = p.return_options();
  if (!ret) return ret.error();
  auto program = p.program(true);
  if (!program) return program.error();
  program->ret = *ret;
  return program;
}

SearchResult<SortProgram> parse_sort(std::string_view args, const SearchLimits& limits) {
  Parser p(args, limits);
  SortProgram out;
  auto ret = p.return_options();
  if (!ret) return ret.error();
  out.ret = *ret;
  auto criteria = p.sort_criteria();
  if (!criteria) return criteria.error();
  out.criteria = std::move(*criteria);
  auto program = p.program(false);
  if (!program) return program.error();
  out.search = std::move(*program);
  return out;
}

SearchResult<ThreadProgram> parse_thread(std::string_view args, const SearchLimits& limits) {
  Parser p(args, limits);
  ThreadProgram out;
  auto alg = p.thread_algorithm();
  if (!alg) return alg.error();
  out.algorithm = *alg;
  if (auto r = p.sp("after the threading algorithm"); !r) return r.error();
  auto program = p.program(false);
  if (!program) return program.error();
  out.search = std::move(*program);
  return out;
}

std::string search_error_reply(std::string_view tag, const SearchError& error) {
  if (error.kind == SearchError::Kind::kBadCharset) {
    return tagged(tag, Status::kNo, "BADCHARSET (UTF-8 US-ASCII)", error.message);
  }
  return tagged(tag, Status::kBad, error.message);
}

std::string format_sequence_set(const std::vector<uint32_t>& numbers, bool ordered) {
  std::vector<uint32_t> sorted;
  const std::vector<uint32_t>* list = &numbers;
  if (!ordered) {
    sorted = numbers;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    list = &sorted;
  }
  std::string out;
  size_t i = 0;
  while (i < list->size()) {
    size_t j = i;
    while (j + 1 < list->size() && (*list)[j + 1] == (*list)[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string((*list)[i]);
    if (j > i) {
      out += ':';
      out += std::to_string((*list)[j]);
    }
    i = j + 1;
  }
  return out;
}

std::string format_search(const std::vector<uint32_t>& numbers, std::optional<uint64_t> modseq,
                          std::string_view name) {
  std::string out = "* ";
  out += name;
  for (uint32_t n : numbers) {
    out += ' ';
    out += std::to_string(n);
  }
  if (modseq && !numbers.empty()) out += " (MODSEQ " + std::to_string(*modseq) + ")";
  out += "\r\n";
  return out;
}

bool esearch_reply_wanted(const SearchReturn& ret) {
  return !ret.save || ret.min || ret.max || ret.all || ret.count || ret.partial;
}

std::string format_esearch(std::string_view tag, bool uid, const SearchReturn& ret,
                           const std::vector<uint32_t>& numbers, std::optional<uint64_t> modseq, bool sorted) {
  std::string out = "* ESEARCH";
  if (!tag.empty()) out += " (TAG " + quoted(tag) + ")";
  if (uid) out += " UID";
  const bool nothing = !ret.min && !ret.max && !ret.count && !ret.all && !ret.partial;
  const bool all = ret.all || (nothing && !ret.save);
  if (!numbers.empty()) {
    if (ret.min) out += " MIN " + std::to_string(sorted ? numbers.front() : *std::min_element(numbers.begin(), numbers.end()));
    if (ret.max) out += " MAX " + std::to_string(sorted ? numbers.back() : *std::max_element(numbers.begin(), numbers.end()));
  }
  if (ret.count) out += " COUNT " + std::to_string(numbers.size());
  if (all && !numbers.empty()) out += " ALL " + format_sequence_set(numbers, sorted);
  if (ret.partial) {
    // [RFC 9394 §3.1]: the 1-based positions first..last of the (ascending) result, from the end when negative.
    const auto n = static_cast<int64_t>(numbers.size());
    int64_t a = ret.partial->first, b = ret.partial->last;
    if (a < 0) {  // -1 is the last
      a = n + a + 1;
      b = n + b + 1;
    }
    const int64_t lo = std::min(a, b), hi = std::max(a, b);
    std::vector<uint32_t> slice;
    for (int64_t i = std::max<int64_t>(lo, 1); i <= std::min(hi, n); ++i) slice.push_back(numbers[static_cast<size_t>(i - 1)]);
    const auto side = [](int64_t v) { return std::to_string(v); };
    out += " PARTIAL (" + side(ret.partial->first) + ":" + side(ret.partial->last) + " " +
           (slice.empty() ? std::string("NIL") : format_sequence_set(slice, sorted)) + ")";
  }
  if (modseq && !numbers.empty()) out += " MODSEQ " + std::to_string(*modseq);
  out += "\r\n";
  return out;
}

std::string format_esearch_update(std::string_view tag, bool uid, bool add, const std::vector<uint32_t>& numbers) {
  if (numbers.empty()) return {};
  std::string out = "* ESEARCH (TAG " + quoted(tag) + ")";
  if (uid) out += " UID";
  out += add ? " ADDTO (0 " : " REMOVEFROM (0 ";
  out += format_sequence_set(numbers) + ")\r\n";
  return out;
}

namespace {

void format_node(const ThreadNode& node, std::string& out) {
  // Writes node's members (number then the chain of single children) and any nested children.
  const ThreadNode* n = &node;
  bool first = true;
  for (;;) {
    if (n->number != 0) {
      if (!first) out += ' ';
      out += std::to_string(n->number);
      first = false;
    }
    if (n->children.size() == 1) {
      n = &n->children.front();
      continue;
    }
    if (!n->children.empty() && !first) out += ' ';
    for (const auto& child : n->children) {
      out += '(';
      format_node(child, out);
      out += ')';
    }
    return;
  }
}

}  // namespace

std::string format_thread(const std::vector<ThreadNode>& roots) {
  std::string out = "* THREAD";
  if (!roots.empty()) out += ' ';
  for (const auto& root : roots) {
    out += '(';
    format_node(root, out);
    out += ')';
  }
  out += "\r\n";
  return out;
}

}  // namespace posthorn::proto::imap
