// Tests of the maildir reader and writer: flag letters, keywords file, folder names and escaping,
// subscriptions, tree listing (Maildir++ and layout=fs), order, mtime, and a write/read round trip.
#include "mailfile/maildir.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace posthorn::mailfile {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("posthorn_maildir_test_" + std::to_string(::getpid()) + "_" +
                                         std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

void write(const fs::path& p, std::string_view bytes, int64_t mtime = 0) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (mtime != 0) {
    const struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
    ::utimensat(AT_FDCWD, p.c_str(), times, 0);
  }
}

void make_maildir(const fs::path& p) {
  for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(p / sub);
}

TEST(MaildirFlags, SystemLetters) {
  MaildirKeywords none;
  auto f = parse_maildir_flags("123.x.host,S=10:2,DFRST", none);
  EXPECT_EQ(f.system, store::kDraft | store::kFlagged | store::kAnswered | store::kSeen | store::kDeleted);
  EXPECT_TRUE(f.keywords.empty());
  EXPECT_EQ(parse_maildir_flags("123.x.host:2,S", none).system, store::kSeen);
  EXPECT_EQ(parse_maildir_flags("123.x.host:2,", none).system, 0);
  EXPECT_EQ(parse_maildir_flags("123.x.host", none).system, 0);          // new/: no info
  EXPECT_EQ(parse_maildir_flags("123.x.host;2,R", none).system, store::kAnswered);  // ';' separator
  EXPECT_EQ(parse_maildir_flags("123.x.host:1,S", none).system, 0);      // experimental info: not flags
}

TEST(MaildirFlags, KeywordLettersAndUnknown) {
  auto kw = MaildirKeywords::parse("0 $Forwarded\n1 Work\n3 $Junk\n");
  std::string unknown;
  auto f = parse_maildir_flags("1.a.b:2,SPabcd", kw, &unknown);
  EXPECT_EQ(f.system, store::kSeen);
  EXPECT_EQ(f.keywords, (std::vector<std::string>{"$Forwarded", "$Junk", "Work"}));
  EXPECT_EQ(unknown, "Pc");  // P (Passed) and the unassigned 'c'
}

TEST(MaildirKeywords, ParseSerializeAndAssign) {
  auto kw = MaildirKeywords::parse("0 a\r\n25 z\n26 beyond\nx bad\n2\n4 \n");
  ASSERT_NE(kw.keyword('a'), nullptr);
  EXPECT_EQ(*kw.keyword('a'), "a");
  EXPECT_EQ(*kw.keyword('z'), "z");
  EXPECT_EQ(kw.keyword('c'), nullptr);
  EXPECT_EQ(kw.keyword('A'), nullptr);
  EXPECT_EQ(kw.serialize(), "0 a\n25 z\n");
  EXPECT_EQ(kw.letter("A", false), 'a');  // case-insensitive
  EXPECT_EQ(kw.letter("new", false), std::nullopt);
  EXPECT_EQ(kw.letter("new", true), 'b');
  EXPECT_EQ(kw.serialize(), "0 a\n1 new\n25 z\n");
}

TEST(MaildirKeywords, TwentySixFitTheTwentySeventhIsDropped) {
  MaildirKeywords kw;
  store::Flags flags;
  for (int i = 0; i < 26; ++i) flags.keywords.push_back("k" + std::to_string(i));
  std::vector<std::string> dropped;
  const std::string info = format_maildir_info(flags, kw, &dropped);
  EXPECT_TRUE(dropped.empty());
  EXPECT_EQ(info, "2,abcdefghijklmnopqrstuvwxyz");
  flags.keywords.push_back("k26");
  EXPECT_EQ(format_maildir_info(flags, kw, &dropped), "2,abcdefghijklmnopqrstuvwxyz");
  EXPECT_EQ(dropped, (std::vector<std::string>{"k26"}));
}

TEST(MaildirFlags, FormatIsAsciiOrdered) {
  MaildirKeywords kw = MaildirKeywords::parse("0 x\n1 y\n");
  store::Flags f;
  f.system = store::kSeen | store::kDraft | store::kDeleted | store::kAnswered | store::kFlagged;
  f.keywords = {"y", "x"};
  EXPECT_EQ(format_maildir_info(f, kw, nullptr), "2,DFRSTab");
  EXPECT_EQ(format_maildir_info(store::Flags{}, kw, nullptr), "2,");
}

TEST(MaildirNames, NaturalOrderAndUniquePart) {
  EXPECT_TRUE(natural_less("100.1_9.h", "100.1_10.h"));
  EXPECT_FALSE(natural_less("100.1_10.h", "100.1_9.h"));
  EXPECT_TRUE(natural_less("99.x", "100.x"));
  EXPECT_TRUE(natural_less("a", "b"));
  EXPECT_FALSE(natural_less("a", "a"));
  EXPECT_EQ(maildir_unique_part("1.2.h,S=5:2,S"), "1.2.h,S=5");
  EXPECT_EQ(maildir_unique_part("1.2.h"), "1.2.h");
}

TEST(MaildirFolders, DecodeMaildirPlusPlus) {
  EXPECT_EQ(decode_maildirpp_folder(".Sent"), "Sent");
  EXPECT_EQ(decode_maildirpp_folder(".Sub.Folder"), "Sub/Folder");
  EXPECT_EQ(decode_maildirpp_folder(".a~2eb.c"), "a.b/c");
  EXPECT_EQ(decode_maildirpp_folder(".tilde~7e"), "tilde~");
  EXPECT_EQ(decode_maildirpp_folder(".x~zz"), "x~zz");  // not an escape: kept
  EXPECT_EQ(decode_maildirpp_folder(".Entw&APw-rfe"), "Entw&APw-rfe");  // mUTF-7 kept as written
  EXPECT_EQ(decode_maildirpp_folder("."), std::nullopt);
  EXPECT_EQ(decode_maildirpp_folder(".."), std::nullopt);
  EXPECT_EQ(decode_maildirpp_folder("Sent"), std::nullopt);
  EXPECT_EQ(decode_maildirpp_folder(".a..b"), std::nullopt);
  EXPECT_EQ(decode_maildirpp_folder(".~2e"), std::nullopt);    // decodes to "."
  EXPECT_EQ(decode_maildirpp_folder(".a~2fb"), std::nullopt);  // decodes to a '/' inside a level
}

TEST(MaildirFolders, EncodeAndRoundTrip) {
  EXPECT_EQ(encode_maildirpp_folder("INBOX"), "");
  EXPECT_EQ(encode_maildirpp_folder("Sent"), ".Sent");
  EXPECT_EQ(encode_maildirpp_folder("A/B"), ".A.B");
  EXPECT_EQ(encode_maildirpp_folder("v1.2/x~y"), ".v1~2e2.x~7ey");
  for (std::string name : {"Sent", "A/B/C", "dots.in.name", "~2e", "Ünïcode/日本"}) {
    EXPECT_EQ(decode_maildirpp_folder(encode_maildirpp_folder(name)), name) << name;
  }
}

TEST(MaildirSubscriptions, ParseBothFormsAndWrite) {
  EXPECT_EQ(parse_subscriptions("V\t2\n\nSent\nA\tB\n"), (std::vector<std::string>{"Sent", "A/B"}));
  EXPECT_EQ(parse_subscriptions("Sent\nA.B\r\n\ninbox\n"), (std::vector<std::string>{"Sent", "A/B", "INBOX"}));
  EXPECT_EQ(format_subscriptions({"Sent", "A/B"}), "V\t2\n\nSent\nA\tB\n");
  EXPECT_EQ(parse_subscriptions(format_subscriptions({"Sent", "A/B"})), (std::vector<std::string>{"Sent", "A/B"}));
}

TEST(MaildirTree, MaildirPlusPlusLayout) {
  TempDir t;
  make_maildir(t.path());
  make_maildir(t.path() / ".Sent");
  make_maildir(t.path() / ".Work.Project");
  make_maildir(t.path() / ".a~2eb");
  fs::create_directories(t.path() / ".notes");  // no cur/: not a folder
  make_maildir(t.path() / ".bad..name");
  write(t.path() / "subscriptions", "V\t2\n\nSent\nWork\tProject\n");
  auto tree = read_maildir_tree(t.path());
  ASSERT_TRUE(tree) << tree.error().message;
  std::vector<std::string> names;
  for (const auto& f : tree->folders) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"INBOX", "Sent", "Work/Project", "a.b"}));
  EXPECT_EQ(tree->folders[0].path, t.path());
  EXPECT_EQ(tree->subscriptions, (std::vector<std::string>{"Sent", "Work/Project"}));
  ASSERT_EQ(tree->problems.size(), 1u);
  EXPECT_EQ(tree->problems[0].path.filename(), ".bad..name");
}

TEST(MaildirTree, FsLayout) {
  TempDir t;
  make_maildir(t.path() / "INBOX");
  make_maildir(t.path() / "Sent");
  make_maildir(t.path() / "Work" / "Project");
  auto tree = read_maildir_tree(t.path());
  ASSERT_TRUE(tree);
  std::vector<std::string> names;
  for (const auto& f : tree->folders) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"INBOX", "Sent", "Work/Project"}));
  EXPECT_EQ(tree->folders[0].path, t.path() / "INBOX");
}

TEST(MaildirTree, NotADirectory) {
  auto tree = read_maildir_tree("/nonexistent/posthorn/maildir");
  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().code, Errc::kNotFound);
}

TEST(MaildirMessages, ListsNewAndCurInOrderWithFlagsAndMtime) {
  TempDir t;
  make_maildir(t.path());
  write(t.path() / "dovecot-keywords", "0 Work\n");
  write(t.path() / "cur" / "100.P1_10.h,S=3:2,Sa", "ten", 1600000000);
  write(t.path() / "cur" / "100.P1_9.h,S=4:2,", "nine", 1500000000);
  write(t.path() / "new" / "101.P1_1.h", "new", 1700000000);
  write(t.path() / "tmp" / "102.P1_1.h", "tmp");
  write(t.path() / "cur" / ".hidden", "x");
  std::vector<MaildirProblem> problems;
  auto msgs = list_maildir_messages({"INBOX", t.path()}, problems);
  ASSERT_TRUE(msgs);
  ASSERT_EQ(msgs->size(), 3u);
  EXPECT_EQ((*msgs)[0].path.filename(), "100.P1_9.h,S=4:2,");
  EXPECT_EQ((*msgs)[0].internal_date, 1500000000);
  EXPECT_EQ((*msgs)[1].path.filename(), "100.P1_10.h,S=3:2,Sa");
  EXPECT_EQ((*msgs)[1].flags.system, store::kSeen);
  EXPECT_EQ((*msgs)[1].flags.keywords, (std::vector<std::string>{"Work"}));
  EXPECT_EQ((*msgs)[2].path.filename(), "101.P1_1.h");
  EXPECT_EQ((*msgs)[2].flags.system, 0);
  EXPECT_TRUE(problems.empty());
  // The size in ",S=" is not trusted: the content is the file.
  auto bytes = read_file((*msgs)[1].path, 100);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, "ten");
}

TEST(MaildirFiles, ReadFileLimitAtNAndNPlusOne) {
  TempDir t;
  write(t.path() / "f", "12345");
  EXPECT_TRUE(read_file(t.path() / "f", 5));
  auto r = read_file(t.path() / "f", 4);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kTooBig);
  EXPECT_EQ(read_file(t.path() / "missing", 4).error().code, Errc::kNotFound);
}

TEST(MaildirWriter, CrlfToLf) {
  EXPECT_EQ(crlf_to_lf("a\r\nb\r\n"), "a\nb\n");
  EXPECT_EQ(crlf_to_lf("a\rb\r"), "a\rb\r");  // a lone CR is kept
  EXPECT_EQ(crlf_to_lf("no end"), "no end");
}

TEST(MaildirWriter, RefusesNonEmptyDirectory) {
  TempDir t;
  write(t.path() / "x", "x");
  auto w = MaildirWriter::create(t.path());
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errc::kExists);
  EXPECT_TRUE(MaildirWriter::create(t.path() / "new-dir"));
}

TEST(MaildirWriter, WritesThenReadsBack) {
  TempDir t;
  const fs::path root = t.path() / "out";
  auto w = MaildirWriter::create(root);
  ASSERT_TRUE(w) << w.error().message;
  store::Flags f1;
  f1.system = store::kSeen | store::kFlagged;
  f1.keywords = {"$Forwarded", "Work"};
  auto o1 = w->write("INBOX", "Subject: a\r\n\r\nbody\r\n", f1, 1234567890);
  ASSERT_TRUE(o1) << o1.error().message;
  auto o2 = w->write("Work/v1.0", "Subject: b\r\n\r\nno final newline", store::Flags{}, 1000000000);
  ASSERT_TRUE(o2);
  ASSERT_TRUE(w->folder("Empty"));
  ASSERT_TRUE(w->finish({"Work/v1.0"}));

  // Name form: <time>.<pid>_<n>.<host>,S=<size>:2,<flags>
  const std::string n1 = o1->path.filename().string();
  EXPECT_NE(n1.find("." + std::to_string(::getpid()) + "_1."), std::string::npos) << n1;
  EXPECT_TRUE(n1.ends_with(",S=17:2,FSab")) << n1;
  EXPECT_EQ(o1->path.parent_path(), root / "cur");
  EXPECT_TRUE(fs::exists(root / ".Work.v1~2e0" / "cur"));
  EXPECT_TRUE(fs::exists(root / ".Work.v1~2e0" / "maildirfolder"));
  EXPECT_TRUE(fs::exists(root / ".Empty" / "new"));
  EXPECT_TRUE(fs::is_empty(root / "tmp"));
  EXPECT_FALSE(fs::exists(root / "maildirfolder"));  // only subfolders carry it

  auto tree = read_maildir_tree(root);
  ASSERT_TRUE(tree);
  std::vector<std::string> names;
  for (const auto& f : tree->folders) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"INBOX", "Empty", "Work/v1.0"}));
  EXPECT_EQ(tree->subscriptions, (std::vector<std::string>{"Work/v1.0"}));
  std::vector<MaildirProblem> problems;
  auto inbox = list_maildir_messages(tree->folders[0], problems);
  ASSERT_TRUE(inbox);
  ASSERT_EQ(inbox->size(), 1u);
  store::Flags expect = f1;
  expect.normalize();
  EXPECT_EQ((*inbox)[0].flags, expect);
  EXPECT_EQ((*inbox)[0].internal_date, 1234567890);
  EXPECT_EQ(*read_file((*inbox)[0].path, 1000), "Subject: a\n\nbody\n");
  auto work = list_maildir_messages(tree->folders[2], problems);
  ASSERT_TRUE(work);
  ASSERT_EQ(work->size(), 1u);
  EXPECT_EQ(*read_file((*work)[0].path, 1000), "Subject: b\n\nno final newline");
  EXPECT_EQ((*work)[0].internal_date, 1000000000);
}

TEST(MaildirWriter, KeepsWriteOrderPastTen) {
  TempDir t;
  auto w = MaildirWriter::create(t.path() / "out");
  ASSERT_TRUE(w);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(w->write("INBOX", "n: " + std::to_string(i) + "\r\n", {}, 1000));
  ASSERT_TRUE(w->finish({}));
  std::vector<MaildirProblem> problems;
  auto msgs = list_maildir_messages({"INBOX", t.path() / "out"}, problems);
  ASSERT_TRUE(msgs);
  ASSERT_EQ(msgs->size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(*read_file((*msgs)[i].path, 100), "n: " + std::to_string(i) + "\n");
}

}  // namespace
}  // namespace posthorn::mailfile
