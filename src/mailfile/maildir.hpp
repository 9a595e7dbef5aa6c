// Maildir and Maildir++ on disk (as Dovecot writes them): folder names, the ":2," flag suffix,
// the dovecot-keywords table, the subscriptions file, reading a tree and writing one for export.
// Used by `posthorn import maildir` and `posthorn export maildir` (DESIGN.md §7).
//
// Layout read: DIR itself is INBOX (when it has cur/ or new/); Maildir++ folders are DIR/.A.B
// ("A/B", Dovecot's '.' separator); the layout=fs variant DIR/A/B (each with cur/) is read too.
// Folder names are kept as UTF-8 bytes: a Dovecot that stored mUTF-7 names on disk ("&APw-")
// imports them as written.
//
// Folder-name escaping (both directions): a '.' inside a name level cannot be written as '.' in
// Maildir++ (it is the separator), so it is written "~2e", and '~' itself "~7e" -- Dovecot's
// `mailbox_list_escape_char = ~` convention. Reading decodes "~XX" (two hex digits) in every level.
//
// Line ends: files are written with LF line ends (the maildir convention; CRLF from the store
// becomes LF), so an LF maildir imported and exported is byte-identical.
//
// Depends on store/types.hpp (Flags) and base. Pure functions are thread-safe; MaildirWriter is
// single-threaded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "store/types.hpp"

namespace posthorn::mailfile {

// ---- Keywords: the per-folder dovecot-keywords file, lines "N name", N = 0..25 -> 'a'..'z' ----

inline constexpr std::size_t kMaxMaildirKeywords = 26;

class MaildirKeywords {
 public:
  // Lines that are not "N name" with 0 <= N < 26 are ignored (Dovecot does the same).
  static MaildirKeywords parse(std::string_view text);
  std::string serialize() const;  // "0 name\n1 other\n" for every used index

  // The keyword of letter 'a'..'z', or nullptr when the letter is unassigned.
  const std::string* keyword(char letter) const;
  // The letter of `keyword` (case-insensitive), assigning the first free one when `assign` is set;
  // nullopt when unknown (and not assigned) or when all 26 letters are taken.
  std::optional<char> letter(std::string_view keyword, bool assign);
  bool empty() const;

 private:
  std::vector<std::string> names_ = std::vector<std::string>(kMaxMaildirKeywords);
};

// ---- Flags: the info part of a file name, "<unique>:2,<letters>" ----

// The flags in a file name's info part: S Seen, R Answered, F Flagged, T Deleted, D Draft, 'a'..'z'
// keywords by the table; other letters (P Passed, unassigned keyword letters) are returned in
// `unknown` when given. ';' is accepted in place of ':' (maildir_info_separator on some systems).
// A name without ":2," has no flags.
store::Flags parse_maildir_flags(std::string_view file_name, const MaildirKeywords& keywords,
                                 std::string* unknown = nullptr);
// "2,<letters>" in ASCII order (uppercase system flags, then keyword letters), assigning keyword
// letters as needed; keywords that find no free letter are added to `dropped`.
std::string format_maildir_info(const store::Flags& flags, MaildirKeywords& keywords,
                                std::vector<std::string>* dropped);
// The part of a file name before its info part (the message's unique name).
std::string_view maildir_unique_part(std::string_view file_name);
// Orders names as humans do: runs of digits compare by value ("9.x" < "10.x"), so files named
// "<time>.<pid>_<n>.<host>" sort in the order they were written.
bool natural_less(std::string_view a, std::string_view b);

// ---- Folder names ----

// ".A.B" -> "A/B" (with "~XX" decoded); nullopt for names that are not Maildir++ folders
// ("", ".", "..", no leading dot, an empty level, a level that decodes to "." or "..").
std::optional<std::string> decode_maildirpp_folder(std::string_view dir_name);
// "A/B" -> ".A.B" with '.' -> "~2e" and '~' -> "~7e" in each level. INBOX -> "" (the root).
std::string encode_maildirpp_folder(std::string_view mailbox);

// ---- The subscriptions file ----

// Dovecot 2.3's "V\t2\n\n" + one name per line with levels separated by '\t', or the older form:
// one name per line with '.' separating levels. Returns names with '/' separators.
std::vector<std::string> parse_subscriptions(std::string_view text);
std::string format_subscriptions(const std::vector<std::string>& names);  // the V2 form

// ---- Reading a tree ----

struct MaildirFolder {
  std::string name;            // "INBOX", "Sent", "A/B"
  std::filesystem::path path;  // the folder's maildir (holds cur/ new/ tmp/)
};

struct MaildirMessage {
  std::filesystem::path path;
  store::Flags flags;
  int64_t internal_date = 0;  // the file's mtime, Unix seconds
  std::string unknown_flags;  // letters that map to nothing (see parse_maildir_flags)
};

struct MaildirProblem {
  std::filesystem::path path;
  std::string reason;
};

struct MaildirTree {
  std::vector<MaildirFolder> folders;      // INBOX first, then by name
  std::vector<std::string> subscriptions;  // from DIR/subscriptions, if any
  std::vector<MaildirProblem> problems;    // folders that could not be read or named
};

// Lists the folders under `root`; kNotFound when `root` is not a directory.
Result<MaildirTree> read_maildir_tree(const std::filesystem::path& root);
// The messages of one folder (new/ and cur/; tmp/ and dot files are skipped), in natural order of
// their unique names. Files that cannot be stat'ed are added to `problems`.
Result<std::vector<MaildirMessage>> list_maildir_messages(const MaildirFolder& folder,
                                                          std::vector<MaildirProblem>& problems);
// Reads a whole file; kTooBig when it is larger than `max_bytes`.
Result<std::string> read_file(const std::filesystem::path& path, uint64_t max_bytes);

// ---- Writing a tree ----

// CRLF -> LF (a lone CR is kept).
std::string crlf_to_lf(std::string_view bytes);

struct WriteOutcome {
  std::filesystem::path path;              // where the message was written
  std::vector<std::string> dropped_keywords;  // no free letter left in that folder
};

// Writes a Maildir++ tree: each message to tmp/, then renamed into cur/ as
// "<time>.<pid>_<n>.<host>,S=<size>:2,<flags>" with the file's mtime set to the internal date.
// finish() writes each folder's dovecot-keywords and the subscriptions file, then syncs the file
// system once (syncfs) rather than fsyncing every message: an interrupted export is simply re-run.
class MaildirWriter {
 public:
  // `root` must not exist or be an empty directory (so an export never mixes with other mail).
  static Result<MaildirWriter> create(const std::filesystem::path& root);

  // Creates the folder (cur/ new/ tmp/) if needed; an empty mailbox is still written.
  Result<std::filesystem::path> folder(std::string_view mailbox);
  // `message` as the store holds it (CRLF); written with LF line ends.
  Result<WriteOutcome> write(std::string_view mailbox, std::string_view message, const store::Flags& flags,
                             int64_t internal_date);
  Result<void> finish(const std::vector<std::string>& subscriptions);

 private:
  explicit MaildirWriter(std::filesystem::path root);
  std::filesystem::path root_;
  std::string host_;
  long pid_ = 0;
  uint64_t counter_ = 0;
  std::map<std::string, MaildirKeywords> keywords_;  // by folder path
};

}  // namespace posthorn::mailfile
