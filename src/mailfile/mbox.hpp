// A streaming mbox reader for `posthorn import mbox` (DESIGN.md §7): reads the file in chunks and
// returns one message at a time, so an mbox of any size is never held in memory.
//
// Splitting: a message starts at a "From " line at the start of the file or after an empty line;
// that empty line is the separator and not part of the previous message (one empty line at the
// end of the file is dropped the same way).
//
// Unescaping: mboxrd by default -- a line ">From ", ">>From ", ... loses one '>'. For an mboxrd
// file that is exactly the inverse of the writer, so it is lossless; for an mboxo file (which
// escapes only "From " to ">From ") it differs only on lines that were ">From " before escaping,
// which mboxo cannot represent anyway. Mode kMboxo unescapes ">From " only.
//
// Flags: Status (R -> \Seen; O "old" is ignored), X-Status (A \Answered, F \Flagged, D \Deleted,
// T \Draft) and X-Keywords (keywords separated by commas and/or spaces). These headers, and X-UID,
// X-IMAP and X-IMAPbase, are mbox bookkeeping written by mail readers (Dovecot hides the same set):
// they are removed from the imported message; their content lives on as flags.
//
// Internal date: the date of the "From sender date" line, asctime form ("Mon Jan  2 15:04:05 2006"),
// optionally with a numeric zone before or after the year; without a zone it is taken as UTC (as
// Dovecot does). A From line without a readable date makes the entry malformed.
//
// Malformed entries (unreadable From line, empty message, larger than max_message_bytes, text
// before the first From line) come back as entries with `error` set and their line number, so the
// caller reports every one; they are never silently dropped.
//
// Depends on store/types.hpp and base. An MboxReader is single-threaded.
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "store/types.hpp"

namespace posthorn::mailfile {

enum class MboxFormat { kMboxrd, kMboxo };

struct MboxOptions {
  MboxFormat format = MboxFormat::kMboxrd;
  uint64_t max_message_bytes = 256ull * 1024 * 1024;  // larger messages are reported and skipped
  std::size_t chunk_bytes = 64 * 1024;                 // read size
};

struct MboxEntry {
  uint64_t line = 0;          // 1-based line of its From line (or of the stray text)
  std::string bytes;          // the message, unescaped, bookkeeping headers removed
  store::Flags flags;
  int64_t internal_date = 0;  // Unix seconds
  std::string error;          // non-empty: malformed; skip it and report "line N: error"
  std::vector<std::string> warnings;  // imported anyway (e.g. a keyword that is not valid IMAP)
};

// The date of a From line ("From sender date..."), Unix seconds; nullopt when it has none.
std::optional<int64_t> parse_from_line_date(std::string_view from_line);

// Applies Status / X-Status / X-Keywords to `flags` and removes the bookkeeping headers from the
// message's header; invalid keywords are added to `warnings`.
std::string strip_mbox_headers(std::string_view message, store::Flags& flags, std::vector<std::string>& warnings);

class MboxReader {
 public:
  explicit MboxReader(std::unique_ptr<std::istream> in, MboxOptions options = {});
  // Opens a file; kNotFound / kUnavailable with the reason.
  static Result<std::unique_ptr<MboxReader>> open(const std::string& path, MboxOptions options = {});

  // The next entry, nullopt at the end; an error only when reading fails.
  Result<std::optional<MboxEntry>> next();
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  struct Piece {
    std::string_view bytes;
    bool line_start = false;
    bool line_end = false;
  };
  // The next line, or a part of a very long line; nullopt at the end of input.
  Result<std::optional<Piece>> next_piece();
  void append(std::string_view bytes);
  MboxEntry finish_entry();

  std::unique_ptr<std::istream> in_;
  MboxOptions options_;
  std::string buf_;
  std::size_t pos_ = 0;
  bool eof_ = false;
  bool at_line_start_ = true;
  uint64_t bytes_read_ = 0;
  uint64_t line_ = 0;            // lines started so far
  bool in_entry_ = false;        // an entry (or stray text) is being collected
  bool prev_blank_ = true;       // the previous line was empty (the start of file counts as one)
  std::string pending_blank_;    // an empty line held back: separator or content, decided by the next line
  MboxEntry current_;
  std::string from_line_;
  bool in_from_line_ = false;    // the From line is longer than one piece: more of it follows
  bool current_too_big_ = false;
  bool current_is_from_ = false;  // false: stray text before the first From line
};

}  // namespace posthorn::mailfile
