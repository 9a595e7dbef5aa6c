#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mime/address.hpp"

namespace posthorn::mime {
namespace {

Address mbox(std::string name, std::string mailbox, std::string host) {
  Address a;
  a.name = name;
  a.raw_name = name;
  a.mailbox = std::move(mailbox);
  a.host = std::move(host);
  return a;
}

TEST(AddressList, SimpleForms) {
  auto l = parse_address_list("a@example.com, B User <b@Example.org>, \"Smith, John\" <js@x.y>");
  ASSERT_EQ(l.addresses.size(), 3u);
  EXPECT_EQ(l.addresses[0], mbox("", "a", "example.com"));
  EXPECT_EQ(l.addresses[1], mbox("B User", "b", "Example.org"));
  EXPECT_EQ(l.addresses[2], mbox("Smith, John", "js", "x.y"));
  EXPECT_FALSE(l.truncated);
  EXPECT_TRUE(parse_address_list("").addresses.empty());
  EXPECT_TRUE(parse_address_list(" , ,").addresses.empty());
}

TEST(AddressList, CommentsQuotedLocalPartsAndLiterals) {
  auto l = parse_address_list(
      "john.doe@x.org (John Doe), \"odd local\"@x.org, Jane (middle) Roe <jr(c)@[192.0.2.1]> (trailing)");
  ASSERT_EQ(l.addresses.size(), 3u);
  EXPECT_EQ(l.addresses[0], mbox("John Doe", "john.doe", "x.org"));
  EXPECT_EQ(l.addresses[1], mbox("", "odd local", "x.org"));
  EXPECT_EQ(l.addresses[2], mbox("Jane Roe", "jr", "[192.0.2.1]"));
}

TEST(AddressList, EncodedDisplayName) {
  auto l = parse_address_list("=?utf-8?q?J=C3=B6rg?= =?utf-8?q?_M=C3=BCller?= <jm@x.de>");
  ASSERT_EQ(l.addresses.size(), 1u);
  EXPECT_EQ(l.addresses[0].name, "J\xc3\xb6rg M\xc3\xbcller");
  EXPECT_EQ(l.addresses[0].raw_name, "=?utf-8?q?J=C3=B6rg?= =?utf-8?q?_M=C3=BCller?=");
  EXPECT_EQ(l.addresses[0].mailbox, "jm");
  // 8-bit display names pass through as UTF-8; invalid bytes become U+FFFD.
  l = parse_address_list("J\xc3\xb6rg \xff <j@x>");
  EXPECT_EQ(l.addresses[0].name, "J\xc3\xb6rg \xEF\xBF\xBD");
}

TEST(AddressList, Groups) {
  auto l = parse_address_list("undisclosed-recipients:;");
  ASSERT_EQ(l.addresses.size(), 2u);
  EXPECT_TRUE(l.addresses[0].is_group_start);
  EXPECT_EQ(l.addresses[0].mailbox, "undisclosed-recipients");
  EXPECT_TRUE(l.addresses[1].is_group_end);

  l = parse_address_list("Team: a@x, B <b@y>; c@z, Open: d@w");
  ASSERT_EQ(l.addresses.size(), 8u);
  EXPECT_TRUE(l.addresses[0].is_group_start);
  EXPECT_EQ(l.addresses[1], mbox("", "a", "x"));
  EXPECT_EQ(l.addresses[2], mbox("B", "b", "y"));
  EXPECT_TRUE(l.addresses[3].is_group_end);
  EXPECT_EQ(l.addresses[4], mbox("", "c", "z"));
  EXPECT_TRUE(l.addresses[5].is_group_start);
  EXPECT_EQ(l.addresses[5].mailbox, "Open");
  EXPECT_EQ(l.addresses[6], mbox("", "d", "w"));
  EXPECT_TRUE(l.addresses[7].is_group_end);  // missing ';' still closes the group
}

// RFC 5322 §3.4: group-list = mailbox-list / CFWS / obs-group-list; a group holding only a comment
// is empty, and a comment on its own is not a mailbox (imaptest fetch-envelope: "group2: (foo) ;"
// is ((NIL NIL "group2" NIL)(NIL NIL NIL NIL)), never ("foo" NIL "" "")).
TEST(AddressList, CommentOnlyGroupIsEmptyRfc5322Sec3_4) {
  auto l = parse_address_list("group:;, group2: (foo) ;");
  ASSERT_EQ(l.addresses.size(), 4u);
  EXPECT_TRUE(l.addresses[0].is_group_start);
  EXPECT_EQ(l.addresses[0].mailbox, "group");
  EXPECT_TRUE(l.addresses[1].is_group_end);
  EXPECT_TRUE(l.addresses[2].is_group_start);
  EXPECT_EQ(l.addresses[2].mailbox, "group2");
  EXPECT_TRUE(l.addresses[3].is_group_end);
  l = parse_address_list("(just a comment), a@b (Name) , (another)");
  ASSERT_EQ(l.addresses.size(), 1u);
  EXPECT_EQ(l.addresses[0], mbox("Name", "a", "b"));
}

TEST(AddressList, RoutesMissingDomainsAndJunk) {
  auto l = parse_address_list("<@r1.example,@r2.example:user@host>, localonly, Name <nodomain>, <a@b");
  ASSERT_EQ(l.addresses.size(), 4u);
  EXPECT_EQ(l.addresses[0].adl, "@r1.example,@r2.example");
  EXPECT_EQ(l.addresses[0].mailbox, "user");
  EXPECT_EQ(l.addresses[0].host, "host");
  EXPECT_EQ(l.addresses[1], mbox("", "localonly", ""));
  EXPECT_EQ(l.addresses[2], mbox("Name", "nodomain", ""));
  EXPECT_EQ(l.addresses[3], mbox("", "a", "b"));

  l = parse_address_list("Undisclosed recipients");
  ASSERT_EQ(l.addresses.size(), 1u);
  EXPECT_EQ(l.addresses[0].mailbox, "Undisclosed recipients");

  // Unterminated quote and comment, stray specials: no crash, something sensible.
  l = parse_address_list("\"unterminated <x@y>, (open comment a@b");
  EXPECT_EQ(l.addresses.size(), 1u);
  l = parse_address_list("> ) ] \\ <<< ;;; ::: @@@");
  EXPECT_LE(l.addresses.size(), 10u);
}

TEST(AddressList, HundredThousandAddressesLinearAndBounded) {
  std::string to;
  for (int i = 0; i < 100'000; ++i) {
    if (i) to += ", ";
    to += "User " + std::to_string(i) + " <user" + std::to_string(i) + "@example.com>";
  }
  auto start = std::chrono::steady_clock::now();
  auto capped = parse_address_list(to);  // default cap 10,000
  auto all = parse_address_list(to, AddressOptions{.max_addresses = 1'000'000});
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(capped.addresses.size(), 10'000u);
  EXPECT_TRUE(capped.truncated);
  ASSERT_EQ(all.addresses.size(), 100'000u);
  EXPECT_FALSE(all.truncated);
  EXPECT_EQ(all.addresses.back(), mbox("User 99999", "user99999", "example.com"));
  EXPECT_LT(elapsed, std::chrono::seconds(5));  // ASan build; quadratic would take minutes

  // Cap inside an open group: the group is still closed.
  auto g = parse_address_list("G: a@x, b@x, c@x;", AddressOptions{.max_addresses = 2});
  ASSERT_EQ(g.addresses.size(), 3u);
  EXPECT_TRUE(g.truncated);
  EXPECT_TRUE(g.addresses.back().is_group_end);
}

}  // namespace
}  // namespace posthorn::mime

namespace posthorn::mime {
namespace {

TEST(AddressList, RandomInputsKeepGroupsBalanced) {
  std::uint32_t state = 777;
  auto rnd = [&state] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  const std::string alphabet = "ab@.<>:;,()\"\\[] \t=?q\xc3\xff";
  for (int iter = 0; iter < 5'000; ++iter) {
    std::string s;
    std::size_t len = rnd() % 40;
    for (std::size_t i = 0; i < len; ++i) s.push_back(alphabet[rnd() % alphabet.size()]);
    AddressOptions options;
    options.max_addresses = 1 + rnd() % 6;
    AddressList l = parse_address_list(s, options);
    int open = 0;
    for (const Address& a : l.addresses) {
      if (a.is_group_start) ++open;
      if (a.is_group_end) --open;
      ASSERT_GE(open, 0) << s;
      ASSERT_LE(open, 1) << s;
    }
    ASSERT_EQ(open, 0) << s;
    ASSERT_LE(l.addresses.size(), options.max_addresses + 1) << s;
  }
}

}  // namespace
}  // namespace posthorn::mime
