// Tests of the extension command parser (command_ext.cpp): GETQUOTA, GETQUOTAROOT, SETQUOTA,
// COMPRESS, REPLACE / UID REPLACE, and the STATUS DELETED-STORAGE item.
#include <gtest/gtest.h>

#include "proto/imap/command.hpp"

namespace posthorn::proto::imap {
namespace {

// The parsed arguments of `wire`, which must parse as T (a failed expectation otherwise).
template <class T>
std::optional<T> args_of(const std::string& wire) {
  auto r = parse_command(wire);
  if (!r) {
    ADD_FAILURE() << wire << ": " << r.error().message;
    return std::nullopt;
  }
  if (const T* v = std::get_if<T>(&r->args)) return *v;
  ADD_FAILURE() << wire << ": parsed as another command";
  return std::nullopt;
}

// `wire` must be a syntax error addressed to tag "t".
void expect_syntax_error(const std::string& wire) {
  auto r = parse_command(wire);
  ASSERT_FALSE(r) << wire;
  EXPECT_EQ(r.error().tag, std::optional<std::string>("t")) << wire;
}

TEST(ParseQuota, GetQuotaAndGetQuotaRoot) {
  auto q = args_of<GetQuota>("t GETQUOTA \"\"");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->root, "");
  q = args_of<GetQuota>("t getquota \"#user/alice\"");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->root, "#user/alice");
  auto r = args_of<GetQuotaRoot>("t GETQUOTAROOT INBOX");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mailbox, "INBOX");
  r = args_of<GetQuotaRoot>("t GETQUOTAROOT {4}\r\nSent");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mailbox, "Sent");
  expect_syntax_error("t GETQUOTA");
  expect_syntax_error("t GETQUOTA a b");
  expect_syntax_error("t GETQUOTAROOT");
  expect_syntax_error("t GETQUOTAROOT INBOX x");
}

TEST(ParseQuota, SetQuota) {
  auto s = args_of<SetQuota>("t SETQUOTA \"\" (storage 512 MESSAGE 1000)");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->root, "");
  ASSERT_EQ(s->limits.size(), 2u);
  EXPECT_EQ(s->limits[0], (std::pair<std::string, uint64_t>{"STORAGE", 512}));
  EXPECT_EQ(s->limits[1], (std::pair<std::string, uint64_t>{"MESSAGE", 1000}));
  s = args_of<SetQuota>("t SETQUOTA root ()");  // removes every limit [RFC 9208 §4.1.3]
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->limits.empty());
  expect_syntax_error("t SETQUOTA");
  expect_syntax_error("t SETQUOTA \"\"");
  expect_syntax_error("t SETQUOTA \"\" (STORAGE)");
  expect_syntax_error("t SETQUOTA \"\" (STORAGE x)");
  expect_syntax_error("t SETQUOTA \"\" (STORAGE 1");
  expect_syntax_error("t SETQUOTA \"\" (STORAGE 1) x");
  // At most 16 resources: 16 parse, 17 do not.
  std::string sixteen = "t SETQUOTA \"\" (";
  for (int i = 0; i < 16; ++i) sixteen += "R" + std::to_string(i) + " 1 ";
  sixteen.back() = ')';
  s = args_of<SetQuota>(sixteen);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->limits.size(), 16u);
  std::string seventeen = sixteen;
  seventeen.back() = ' ';
  seventeen += "R16 1)";
  expect_syntax_error(seventeen);
}

TEST(ParseQuota, StatusDeletedStorage) {
  auto s = args_of<StatusCmd>("t STATUS INBOX (DELETED deleted-storage)");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->items.size(), 2u);
  EXPECT_EQ(s->items[0], StatusItem::kDeleted);
  EXPECT_EQ(s->items[1], StatusItem::kDeletedStorage);
  EXPECT_EQ(status_item_name(StatusItem::kDeletedStorage), "DELETED-STORAGE");
  expect_syntax_error("t STATUS INBOX (DELETED-STORAGES)");
}

TEST(ParseCompress, Mechanism) {
  auto c = args_of<Compress>("t COMPRESS deflate");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->mechanism, "DEFLATE");
  c = args_of<Compress>("t COMPRESS LZMA");  // unknown mechanisms are the session's to refuse
  ASSERT_TRUE(c);
  EXPECT_EQ(c->mechanism, "LZMA");
  expect_syntax_error("t COMPRESS");
  expect_syntax_error("t COMPRESS DEFLATE x");
  expect_syntax_error("t COMPRESS \"DEFLATE\"");
}

TEST(ParseReplace, SequenceAndUidForms) {
  auto r = parse_command("t REPLACE 4 Drafts (\\Seen \\Draft) {5}\r\nhello");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->name, "REPLACE");
  const auto& rep = std::get<Replace>(r->args);
  EXPECT_EQ(rep.number, 4u);
  EXPECT_FALSE(rep.uid);
  EXPECT_EQ(rep.mailbox, "Drafts");
  ASSERT_EQ(rep.message.flags.size(), 2u);
  EXPECT_EQ(rep.message.bytes, "hello");
  r = parse_command("t UID REPLACE 4294967295 INBOX \" 7-Jul-1996 02:44:25 +0000\" {3+}\r\nabc");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->name, "UID REPLACE");
  const auto& uid = std::get<Replace>(r->args);
  EXPECT_TRUE(uid.uid);
  EXPECT_EQ(uid.number, 4294967295u);
  EXPECT_EQ(uid.message.internal_date, 836707465);
  EXPECT_EQ(uid.message.bytes, "abc");
  auto bin = args_of<Replace>(std::string("t REPLACE 1 x ~{3}\r\nb\0c", 23));
  ASSERT_TRUE(bin);
  EXPECT_TRUE(bin->message.binary);
  expect_syntax_error("t REPLACE");
  expect_syntax_error("t REPLACE 1");
  expect_syntax_error("t REPLACE 1 INBOX");
  expect_syntax_error("t REPLACE 0 INBOX {1}\r\na");
  expect_syntax_error("t UID REPLACE 4294967296 INBOX {1}\r\na");
  expect_syntax_error("t REPLACE 1:2 INBOX {1}\r\na");
  expect_syntax_error("t REPLACE * INBOX {1}\r\na");
  expect_syntax_error("t REPLACE 1 INBOX {1}\r\na {1}\r\nb");  // one message only
}

}  // namespace
}  // namespace posthorn::proto::imap
