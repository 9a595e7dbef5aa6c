#include <gtest/gtest.h>

#include <thread>

#include "store/change_feed.hpp"
#include "store/types.hpp"

namespace posthorn::store {
namespace {

TEST(MailboxName, CanonicalisesInboxAndRejectsBadNames) {
  EXPECT_EQ(canonical_mailbox_name("inbox").value(), "INBOX");
  EXPECT_EQ(canonical_mailbox_name("Inbox/Sub").value(), "INBOX/Sub");
  EXPECT_EQ(canonical_mailbox_name("Inboxes").value(), "Inboxes");
  EXPECT_EQ(canonical_mailbox_name("Archiv/2024/Rechnungen").value(), "Archiv/2024/Rechnungen");
  EXPECT_EQ(canonical_mailbox_name("Entwürfe").value(), "Entwürfe");
  for (std::string_view bad : std::vector<std::string_view>{"", "/", "a/", "/a", "a//b", "..", "a/../b", "a/.", std::string_view("a\0b", 3),
                               "a\x01", "a\x7f"}) {
    auto r = canonical_mailbox_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalid);
  }
  EXPECT_FALSE(canonical_mailbox_name(std::string(kMaxNameBytes + 1, 'a')));
  EXPECT_TRUE(canonical_mailbox_name(std::string(kMaxNameBytes, 'a')));
  std::string deep = "a";
  for (std::size_t i = 1; i < kMaxNameDepth; ++i) deep += "/a";
  EXPECT_TRUE(canonical_mailbox_name(deep));
  EXPECT_FALSE(canonical_mailbox_name(deep + "/a"));
}

TEST(NormalizeCrlf, LoneLfBecomesCrlfOthersKept) {
  EXPECT_EQ(normalize_crlf(""), "");
  EXPECT_EQ(normalize_crlf("a\nb\n"), "a\r\nb\r\n");
  EXPECT_EQ(normalize_crlf("\n"), "\r\n");
  EXPECT_EQ(normalize_crlf("a\r\nb"), "a\r\nb");
  EXPECT_EQ(normalize_crlf("a\rb\r"), "a\rb\r");
  EXPECT_EQ(normalize_crlf("a\r\r\n\n"), "a\r\r\n\r\n");
  EXPECT_EQ(normalize_crlf(std::string_view("x\0\ny", 4)), std::string("x\0\r\ny", 5));
}

// The piecewise form gives the same bytes wherever the pieces are cut, a CRLF split across two
// pieces included (a spooled APPEND is normalised a piece at a time, issue 28 item 2).
TEST(NormalizeCrlf, InPiecesSameAsWhole) {
  const std::string input = std::string("a\nb\r\nc\rd\r\r\n\n\0\ne\r", 17) + "\n\n\rf\r";
  const std::string whole = normalize_crlf(input);
  for (std::size_t step = 1; step <= input.size(); ++step) {
    CrlfNormalizer n;
    std::string out;
    for (std::size_t i = 0; i < input.size(); i += step) n.feed(std::string_view(input).substr(i, step), out);
    EXPECT_EQ(out, whole) << "pieces of " << step;
  }
}

TEST(Flags, KeywordsAreCaseInsensitiveAndNormalised) {
  Flags f;
  f.system = kSeen | 0x80;
  f.keywords = {"$Forwarded", "Work", "$forwarded", "apple"};
  f.normalize();
  EXPECT_EQ(f.system, kSeen);
  EXPECT_EQ(f.keywords, (std::vector<std::string>{"$Forwarded", "apple", "Work"}));
  EXPECT_TRUE(f.has_keyword("WORK"));
  EXPECT_FALSE(f.has_keyword("play"));
  EXPECT_TRUE(check_keyword("$Junk"));
  EXPECT_FALSE(check_keyword(""));
  EXPECT_FALSE(check_keyword("a b"));
  EXPECT_FALSE(check_keyword("\\Seen"));
  EXPECT_FALSE(check_keyword("x]"));
  EXPECT_TRUE(check_keyword(std::string(kMaxKeywordLength, 'k')));
  EXPECT_FALSE(check_keyword(std::string(kMaxKeywordLength + 1, 'k')));
}

TEST(LocalChangeFeed, DeliversPerAccountAndStopsAfterUnsubscribe) {
  LocalChangeFeed feed;
  int a = 0, b = 0;
  auto sa = feed.subscribe(1, [&](const ChangeEvent& e) { a += static_cast<int>(e.modseq); });
  auto sb = feed.subscribe(2, [&](const ChangeEvent&) { ++b; });
  feed.publish({1, 10, ChangeEvent::Kind::kAppended, 5});
  feed.publish({2, 11, ChangeEvent::Kind::kFlags, 6});
  EXPECT_EQ(a, 5);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(feed.subscriber_count(), 2u);
  sa.reset();
  feed.publish({1, 10, ChangeEvent::Kind::kExpunged, 7});
  EXPECT_EQ(a, 5);
  EXPECT_EQ(feed.subscriber_count(), 1u);
}

TEST(LocalChangeFeed, ConcurrentPublishAndUnsubscribe) {
  LocalChangeFeed feed;
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    while (!stop) feed.publish({1, 1, ChangeEvent::Kind::kAppended, 1});
  });
  for (int i = 0; i < 2000; ++i) {
    auto counter = std::make_shared<int>(0);
    auto sub = feed.subscribe(1, [counter](const ChangeEvent&) { ++*counter; });
  }
  stop = true;
  publisher.join();
  EXPECT_EQ(feed.subscriber_count(), 0u);
}

}  // namespace
}  // namespace posthorn::store
