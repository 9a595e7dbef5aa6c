// Tests of the SEARCH / SORT / THREAD argument parser and the response formatting helpers: every
// key, RETURN options, CHARSET, errors, depth and length limits at N and N+1.
#include "proto/imap/search.hpp"

#include <gtest/gtest.h>

namespace posthorn::proto::imap {
namespace {

using K = SearchKeyKind;

SearchKey only_key(std::string_view args) {
  auto p = parse_search(args);
  EXPECT_TRUE(p) << args << ": " << (p ? "" : p.error().message);
  if (!p) return {};
  EXPECT_EQ(p->key.kind, K::kAnd);
  EXPECT_EQ(p->key.children.size(), 1u) << args;
  return p->key.children.empty() ? SearchKey{} : p->key.children[0];
}

TEST(SearchParse, FlagKeys) {
  const std::pair<const char*, K> cases[] = {
      {"ALL", K::kAll}, {"answered", K::kAnswered}, {"DELETED", K::kDeleted}, {"DRAFT", K::kDraft},
      {"FLAGGED", K::kFlagged}, {"SEEN", K::kSeen}, {"UNANSWERED", K::kUnanswered},
      {"UNDELETED", K::kUndeleted}, {"UNDRAFT", K::kUndraft}, {"UNFLAGGED", K::kUnflagged},
      {"UNSEEN", K::kUnseen}, {"NEW", K::kNew}, {"OLD", K::kOld}, {"RECENT", K::kRecent},
      {"SAVEDATESUPPORTED", K::kSaveDateSupported},
  };
  for (const auto& [wire, kind] : cases) EXPECT_EQ(only_key(wire).kind, kind) << wire;
}

TEST(SearchParse, StringKeys) {
  const std::pair<const char*, K> cases[] = {
      {"BCC", K::kBcc}, {"CC", K::kCc}, {"FROM", K::kFrom}, {"TO", K::kTo},
      {"SUBJECT", K::kSubject}, {"BODY", K::kBody}, {"TEXT", K::kText},
  };
  for (const auto& [name, kind] : cases) {
    auto k = only_key(std::string(name) + " hello");
    EXPECT_EQ(k.kind, kind);
    EXPECT_EQ(k.text, "hello");
    EXPECT_EQ(only_key(std::string(name) + " \"two words\"").text, "two words");
    EXPECT_EQ(only_key(std::string(name) + " {5}\r\nab cd").text, "ab cd");
    EXPECT_FALSE(parse_search(name)) << name;
  }
  // 8-bit text in a literal and in a quoted string (UTF8=ACCEPT clients)
  EXPECT_EQ(only_key("SUBJECT {6}\r\nGr\xc3\xbc\xc3\x9f").text, "Gr\xc3\xbc\xc3\x9f");
  EXPECT_EQ(only_key("SUBJECT \"\xc3\xa9t\xc3\xa9\"").text, "\xc3\xa9t\xc3\xa9");
}

TEST(SearchParse, HeaderKeywordNumbers) {
  auto h = only_key("HEADER X-Mailer \"mutt 2\"");
  EXPECT_EQ(h.kind, K::kHeader);
  EXPECT_EQ(h.text, "X-Mailer");
  EXPECT_EQ(h.text2, "mutt 2");
  EXPECT_EQ(only_key("HEADER Message-ID \"\"").text2, "");
  EXPECT_FALSE(parse_search("HEADER X-Mailer"));

  auto kw = only_key("KEYWORD $Forwarded");
  EXPECT_EQ(kw.kind, K::kKeyword);
  EXPECT_EQ(kw.text, "$Forwarded");
  EXPECT_EQ(only_key("UNKEYWORD Junk").kind, K::kUnkeyword);
  EXPECT_FALSE(parse_search("KEYWORD \\Seen"));

  EXPECT_EQ(only_key("LARGER 1000").number, 1000);
  EXPECT_EQ(only_key("SMALLER 0").kind, K::kSmaller);
  EXPECT_EQ(only_key("LARGER 9223372036854775807").number, INT64_MAX);
  EXPECT_FALSE(parse_search("LARGER 9223372036854775808"));
  EXPECT_FALSE(parse_search("LARGER -1"));
  EXPECT_FALSE(parse_search("LARGER x"));
  EXPECT_EQ(only_key("YOUNGER 3600").kind, K::kYounger);
  EXPECT_EQ(only_key("OLDER 60").number, 60);
  EXPECT_FALSE(parse_search("OLDER 0"));  // nz-number
}

TEST(SearchParse, Dates) {
  const std::pair<const char*, K> cases[] = {
      {"BEFORE", K::kBefore}, {"ON", K::kOn}, {"SINCE", K::kSince},
      {"SENTBEFORE", K::kSentBefore}, {"SENTON", K::kSentOn}, {"SENTSINCE", K::kSentSince},
      {"SAVEDBEFORE", K::kSavedBefore}, {"SAVEDON", K::kSavedOn}, {"SAVEDSINCE", K::kSavedSince},
  };
  for (const auto& [name, kind] : cases) {
    auto k = only_key(std::string(name) + " 1-Feb-1994");
    EXPECT_EQ(k.kind, kind);
    EXPECT_EQ(k.number, 8797);  // days from 1970-01-01 to 1994-02-01
  }
  EXPECT_EQ(only_key("ON \"01-feb-1994\"").number, 8797);
  EXPECT_EQ(only_key("ON 1-Jan-1970").number, 0);
  EXPECT_EQ(only_key("ON 29-Feb-2024").number, 19782);
  for (const char* bad : {"ON 29-Feb-2023", "ON 32-Jan-2020", "ON 0-Jan-2020", "ON 1-Foo-2020", "ON 1-Jan-20",
                          "ON 2020-01-01", "ON", "ON 1-Jan-2020-1"}) {
    EXPECT_FALSE(parse_search(bad)) << bad;
  }
}

TEST(SearchParse, SequenceSets) {
  auto k = only_key("1:3,5,7:*");
  EXPECT_EQ(k.kind, K::kSequence);
  ASSERT_EQ(k.set.ranges.size(), 3u);
  EXPECT_EQ(k.set.ranges[0], (SeqRange{1, 3}));
  EXPECT_EQ(k.set.ranges[1], (SeqRange{5, 5}));
  EXPECT_EQ(k.set.ranges[2], (SeqRange{7, kStar}));
  EXPECT_EQ(only_key("*").set.ranges[0], (SeqRange{kStar, kStar}));
  EXPECT_TRUE(only_key("$").set.saved);
  auto uid = only_key("UID 4294967295:1");
  EXPECT_EQ(uid.kind, K::kUid);
  EXPECT_EQ(uid.set.ranges[0], (SeqRange{4294967295u, 1}));
  EXPECT_TRUE(only_key("UID $").set.saved);
  for (const char* bad : {"0", "1:0", "4294967296", "1,", ",1", "1::2", "$,1", "UID", "UID x", "1:2:3"}) {
    EXPECT_FALSE(parse_search(bad)) << bad;
  }
}

TEST(SearchParse, NotOrLists) {
  auto p = parse_search("OR (SEEN FLAGGED) NOT FROM x UID 5");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->key.children.size(), 2u);
  const auto& orr = p->key.children[0];
  EXPECT_EQ(orr.kind, K::kOr);
  ASSERT_EQ(orr.children.size(), 2u);
  EXPECT_EQ(orr.children[0].kind, K::kAnd);
  EXPECT_EQ(orr.children[0].children.size(), 2u);
  EXPECT_EQ(orr.children[1].kind, K::kNot);
  EXPECT_EQ(orr.children[1].children[0].kind, K::kFrom);
  EXPECT_EQ(p->key.children[1].kind, K::kUid);
  for (const char* bad : {"OR SEEN", "NOT", "(SEEN", "SEEN)", "()", "( SEEN)", "(SEEN )", "SEEN  FLAGGED",
                          "SEEN ", " SEEN", "", "FOO", "OR SEEN FLAGGED DELETED)"}) {
    EXPECT_FALSE(parse_search(bad)) << bad;
  }
}

TEST(SearchParse, ModSeq) {
  auto k = only_key("MODSEQ 620162338");
  EXPECT_EQ(k.kind, K::kModSeq);
  EXPECT_EQ(k.number, 620162338);
  EXPECT_EQ(only_key("MODSEQ 0").number, 0);
  auto e = only_key("MODSEQ \"/flags/\\\\draft\" all 620162338");
  EXPECT_EQ(e.text, "/flags/\\draft");
  EXPECT_EQ(e.text2, "all");
  EXPECT_EQ(e.number, 620162338);
  for (const char* bad : {"MODSEQ", "MODSEQ x", "MODSEQ \"/flags/\\\\draft\" 5", "MODSEQ \"/x/y\" all 5",
                          "MODSEQ \"/flags/a\" mine 5", "MODSEQ 9223372036854775808"}) {
    EXPECT_FALSE(parse_search(bad)) << bad;
  }
}

TEST(SearchParse, ReturnOptions) {
  auto p = parse_search("RETURN (MIN MAX COUNT ALL SAVE) UNSEEN");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->ret.present && p->ret.min && p->ret.max && p->ret.count && p->ret.all && p->ret.save);
  auto empty = parse_search("RETURN () ALL");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->ret.present && empty->ret.all);
  auto none = parse_search("ALL");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->ret.present);
  auto ctx = parse_search("return (update context count) SEEN");
  ASSERT_TRUE(ctx);
  EXPECT_TRUE(ctx->ret.update && ctx->ret.context && ctx->ret.count);
  auto partial = parse_search("RETURN (PARTIAL -1:-100) ALL");
  ASSERT_TRUE(partial);
  EXPECT_EQ(partial->ret.partial, (SearchReturn::Partial{-1, -100}));
  // RFC 9394 §3.1: "m:n" with m > n is the range n:m, in normal form in the reply and the slice.
  for (const auto& [text, want] : std::vector<std::pair<std::string, SearchReturn::Partial>>{
           {"RETURN (PARTIAL 4:2) ALL", {2, 4}}, {"RETURN (PARTIAL 2:4) ALL", {2, 4}},
           {"RETURN (PARTIAL -100:-1) ALL", {-1, -100}}, {"RETURN (PARTIAL 7:7) ALL", {7, 7}}}) {
    auto p = parse_search(text);
    ASSERT_TRUE(p) << text;
    EXPECT_EQ(p->ret.partial, want) << text;
  }
  auto swapped = parse_search("RETURN (PARTIAL 4:2) ALL");
  EXPECT_EQ(format_esearch("t", false, swapped->ret, {1, 2, 3, 4, 5}), "* ESEARCH (TAG \"t\") PARTIAL (2:4 2:4)\r\n");
  for (const char* bad : {"RETURN (FOO) ALL", "RETURN MIN ALL", "RETURN (MIN ALL", "RETURN (MIN)",
                          "RETURN (PARTIAL 1:-5) ALL", "RETURN (PARTIAL 0:5) ALL", "RETURN (PARTIAL) ALL"}) {
    EXPECT_FALSE(parse_search(bad)) << bad;
  }
}

TEST(SearchParse, Charset) {
  auto p = parse_search("CHARSET UTF-8 SUBJECT x");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->charset, Charset::kUtf8);
  auto a = parse_search("RETURN (COUNT) CHARSET \"us-ascii\" ALL");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->charset, Charset::kUsAscii);
  auto bad = parse_search("CHARSET KOI8-R SUBJECT x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, SearchError::Kind::kBadCharset);
  EXPECT_EQ(search_error_reply("a1", bad.error()), "a1 NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n");
  auto syntax = parse_search("FOO");
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().kind, SearchError::Kind::kSyntax);
  EXPECT_EQ(search_error_reply("a1", syntax.error()).substr(0, 7), "a1 BAD ");
  // "CHARSET" is also a fine thing to search for after a real key
  EXPECT_TRUE(parse_search("SUBJECT CHARSET"));
}

std::string nested(size_t depth) {
  return std::string(depth, '(') + "SEEN" + std::string(depth, ')');
}

TEST(SearchParse, DepthLimitAtNAndNPlusOne) {
  SearchLimits limits;
  limits.max_depth = 10;
  EXPECT_TRUE(parse_search(nested(10), limits));
  auto over = parse_search(nested(11), limits);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().kind, SearchError::Kind::kLimit);
  // NOT and OR nest too
  std::string nots;
  for (int i = 0; i < 10; ++i) nots += "NOT ";
  EXPECT_TRUE(parse_search(nots + "SEEN", limits));
  EXPECT_FALSE(parse_search("NOT " + nots + "SEEN", limits));
  // the default limit holds against a hostile program far deeper than the stack would like
  EXPECT_FALSE(parse_search(nested(100'000)));
}

TEST(SearchParse, KeyCountLimitAtNAndNPlusOne) {
  SearchLimits limits;
  limits.max_keys = 5;
  EXPECT_TRUE(parse_search("SEEN SEEN SEEN SEEN SEEN", limits));
  auto over = parse_search("SEEN SEEN SEEN SEEN SEEN SEEN", limits);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().kind, SearchError::Kind::kLimit);
  EXPECT_TRUE(parse_search("(SEEN SEEN) NOT SEEN", limits));   // 5 keys: list, 2, NOT, 1
  EXPECT_FALSE(parse_search("(SEEN SEEN) NOT (SEEN)", limits));  // 6
}

// Mutated programs (deterministic): the parser must refuse or accept, never crash or hang
// (ASan/UBSan builds check the memory side).
TEST(SearchParse, MutatedInputsNeverCrash) {
  const std::string seeds[] = {
      "RETURN (MIN MAX COUNT ALL SAVE PARTIAL 1:10) CHARSET UTF-8 OR (SEEN 1:*,5) NOT HEADER X {3}\r\nabc",
      "(REVERSE DATE SUBJECT) UTF-8 UID $ SINCE 1-Feb-1994 MODSEQ \"/flags/\\\\seen\" all 5",
      "REFERENCES US-ASCII BODY \"x y\" LARGER 5 OLDER 7 KEYWORD $Junk",
  };
  const std::string alphabet = "() \"{}\\*$:,0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-+\r\n\x80\xff";
  uint32_t rng = 12345;
  auto next = [&] { return rng = rng * 1103515245u + 12345u, (rng >> 16) & 0x7fff; };
  size_t accepted = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string s = seeds[static_cast<size_t>(i) % 3];
    const int edits = 1 + static_cast<int>(next() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t pos = next() % s.size();
      switch (next() % 3) {
        case 0: s.erase(pos, 1 + next() % 3); break;
        case 1: s.insert(pos, 1, alphabet[next() % alphabet.size()]); break;
        default: s.insert(pos, s.substr(pos, next() % 8)); break;
      }
    }
    const bool a = static_cast<bool>(parse_search(s));
    const bool b = static_cast<bool>(parse_sort(s));
    const bool c = static_cast<bool>(parse_thread(s));
    accepted += (a ? 1 : 0) + (b ? 1 : 0) + (c ? 1 : 0);
  }
  EXPECT_GT(accepted, 0u);  // some mutants stay valid: the loop exercised the accepting paths too
}

TEST(SortParse, CriteriaAndEsort) {
  auto p = parse_sort("(REVERSE DATE SUBJECT displayfrom) UTF-8 SINCE 1-Feb-1994");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->criteria.size(), 3u);
  EXPECT_EQ(p->criteria[0], (SortCriterion{SortKey::kDate, true}));
  EXPECT_EQ(p->criteria[1], (SortCriterion{SortKey::kSubject, false}));
  EXPECT_EQ(p->criteria[2], (SortCriterion{SortKey::kDisplayFrom, false}));
  EXPECT_EQ(p->search.key.children[0].kind, K::kSince);
  auto e = parse_sort("RETURN (MIN COUNT) (ARRIVAL CC FROM SIZE TO DISPLAYTO) US-ASCII ALL");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->ret.min && e->ret.count);
  EXPECT_EQ(e->criteria.size(), 6u);
  for (const char* bad : {"() UTF-8 ALL", "(DATE) ALL", "(REVERSE) UTF-8 ALL", "(REVERSE REVERSE DATE) UTF-8 ALL",
                          "(FOO) UTF-8 ALL", "DATE UTF-8 ALL", "(DATE) UTF-8", "(DATE)UTF-8 ALL"}) {
    EXPECT_FALSE(parse_sort(bad)) << bad;
  }
  auto cs = parse_sort("(DATE) ISO-8859-1 ALL");
  ASSERT_FALSE(cs);
  EXPECT_EQ(cs.error().kind, SearchError::Kind::kBadCharset);
}

TEST(ThreadParse, Algorithms) {
  auto r = parse_thread("REFERENCES UTF-8 ALL");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->algorithm, ThreadAlgorithm::kReferences);
  auto o = parse_thread("orderedsubject US-ASCII SINCE 5-MAR-2000 UNDELETED");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->algorithm, ThreadAlgorithm::kOrderedSubject);
  EXPECT_EQ(o->search.key.children.size(), 2u);
  for (const char* bad : {"REFS UTF-8 ALL", "REFERENCES ALL", "REFERENCES UTF-8", "REFERENCES"}) {
    EXPECT_FALSE(parse_thread(bad)) << bad;
  }
}

TEST(SearchFormat, SequenceSetsAndReplies) {
  EXPECT_EQ(format_sequence_set({}), "");
  EXPECT_EQ(format_sequence_set({1, 2, 3, 5, 7, 8, 10}), "1:3,5,7:8,10");
  EXPECT_EQ(format_sequence_set({9, 1, 2, 2}), "1:2,9");
  EXPECT_EQ(format_sequence_set({5, 6, 3, 4, 9}, true), "5:6,3:4,9");
  EXPECT_EQ(format_search({}), "* SEARCH\r\n");
  EXPECT_EQ(format_search({2, 5}), "* SEARCH 2 5\r\n");
  EXPECT_EQ(format_search({2, 5}, 917162500), "* SEARCH 2 5 (MODSEQ 917162500)\r\n");
  EXPECT_EQ(format_search({3, 1}, {}, "SORT"), "* SORT 3 1\r\n");

  SearchReturn ret;
  EXPECT_EQ(format_esearch("a1", true, ret, {4, 5, 6, 9}), "* ESEARCH (TAG \"a1\") UID ALL 4:6,9\r\n");
  EXPECT_EQ(format_esearch("a1", false, ret, {}), "* ESEARCH (TAG \"a1\")\r\n");
  ret.min = ret.max = ret.count = true;
  EXPECT_EQ(format_esearch("t", false, ret, {2, 10, 11}), "* ESEARCH (TAG \"t\") MIN 2 MAX 11 COUNT 3\r\n");
  EXPECT_EQ(format_esearch("t", false, ret, {}), "* ESEARCH (TAG \"t\") COUNT 0\r\n");
  EXPECT_EQ(format_esearch("t", false, ret, {7, 3, 5}, 12, true), "* ESEARCH (TAG \"t\") MIN 7 MAX 5 COUNT 3 MODSEQ 12\r\n");
  EXPECT_EQ(format_esearch("", false, ret, {1}), "* ESEARCH MIN 1 MAX 1 COUNT 1\r\n");

  SearchReturn save;
  save.save = true;
  EXPECT_FALSE(esearch_reply_wanted(save));
  save.count = true;
  EXPECT_TRUE(esearch_reply_wanted(save));
  EXPECT_TRUE(esearch_reply_wanted(SearchReturn{}));

  EXPECT_EQ(format_esearch_update("B01", true, true, {32768, 32769}), "* ESEARCH (TAG \"B01\") UID ADDTO (0 32768:32769)\r\n");
  EXPECT_EQ(format_esearch_update("B01", false, false, {5}), "* ESEARCH (TAG \"B01\") REMOVEFROM (0 5)\r\n");
  EXPECT_EQ(format_esearch_update("B01", false, false, {}), "");

  SearchReturn part;
  part.partial = SearchReturn::Partial{1, 3};
  EXPECT_EQ(format_esearch("p", true, part, {10, 11, 12, 20, 30}), "* ESEARCH (TAG \"p\") UID PARTIAL (1:3 10:12)\r\n");
  part.partial = SearchReturn::Partial{-1, -2};
  EXPECT_EQ(format_esearch("p", true, part, {10, 11, 12, 20, 30}), "* ESEARCH (TAG \"p\") UID PARTIAL (-1:-2 20,30)\r\n");
  part.partial = SearchReturn::Partial{6, 9};
  EXPECT_EQ(format_esearch("p", true, part, {10, 11}), "* ESEARCH (TAG \"p\") UID PARTIAL (6:9 NIL)\r\n");
}

TEST(SearchFormat, Thread) {
  // RFC 5256 §4 example: (2)(3 6 (4 23)(44 7 96))
  std::vector<ThreadNode> roots = {
      {2, {}},
      {3, {{6, {{4, {{23, {}}}}, {44, {{7, {{96, {}}}}}}}}}},
  };
  EXPECT_EQ(format_thread(roots), "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n");
  EXPECT_EQ(format_thread({}), "* THREAD\r\n");
  // a dummy root with two children: ((1)(2)); ORDEREDSUBJECT style siblings: (1 (2)(3))
  EXPECT_EQ(format_thread({{0, {{1, {}}, {2, {}}}}}), "* THREAD ((1)(2))\r\n");
  EXPECT_EQ(format_thread({{1, {{2, {}}, {3, {}}}}}), "* THREAD (1 (2)(3))\r\n");
}

}  // namespace
}  // namespace posthorn::proto::imap
