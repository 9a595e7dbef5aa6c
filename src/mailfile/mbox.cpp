// The streaming mbox reader (see mbox.hpp). One forward pass over the bytes; a message's bytes are
// collected only up to max_message_bytes; a line longer than kMaxPiece is handed on in pieces so
// the read buffer stays bounded too.
#include "mailfile/mbox.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>

#include "base/ascii.hpp"
#include "mime/date.hpp"
#include "mime/header.hpp"

namespace posthorn::mailfile {

namespace {

constexpr std::size_t kMaxPiece = 1024 * 1024;  // longest line fragment kept in the read buffer
constexpr std::size_t kMaxFromLineShown = 120;  // of a bad From line, in the error

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::optional<int> parse_int(std::string_view s, std::size_t min_len, std::size_t max_len) {
  if (s.size() < min_len || s.size() > max_len) return std::nullopt;
  int n = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

struct TimeOfDay {
  int h = 0, m = 0, s = 0;
};
std::optional<TimeOfDay> parse_time(std::string_view t) {
  auto parts = ascii::split(t, ':');
  if (parts.size() < 2 || parts.size() > 3) return std::nullopt;
  auto h = parse_int(parts[0], 1, 2);
  auto m = parse_int(parts[1], 2, 2);
  auto s = parts.size() == 3 ? parse_int(parts[2], 2, 2) : std::optional<int>(0);
  if (!h || !m || !s || *h > 23 || *m > 59 || *s > 60) return std::nullopt;
  return TimeOfDay{*h, *m, *s};
}

std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (is_wsp(s[i]) || s[i] == '\r' || s[i] == '\n')) ++i;
    std::size_t j = i;
    while (j < s.size() && !is_wsp(s[j]) && s[j] != '\r' && s[j] != '\n') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool is_blank_line(std::string_view line) { return line == "\n" || line == "\r\n"; }

}  // namespace

std::optional<int64_t> parse_from_line_date(std::string_view from_line) {
  if (!from_line.starts_with("From ")) return std::nullopt;
  const auto tok = tokens(from_line.substr(5));
  // The time of day is the anchor: search from the end (a sender may look like anything).
  std::size_t t = tok.size();
  std::optional<TimeOfDay> tod;
  while (t-- > 0) {
    if ((tod = parse_time(tok[t]))) break;
  }
  if (!tod || t < 2) return std::nullopt;
  std::optional<int> month, day, year;
  if ((month = mime::month_number(tok[t - 2])) && (day = parse_int(tok[t - 1], 1, 2))) {
    // asctime: [weekday] month day time ... year
  } else if (t >= 3 && (day = parse_int(tok[t - 3], 1, 2)) && (month = mime::month_number(tok[t - 2])) &&
             (year = parse_int(tok[t - 1], 4, 4))) {
    // "Tue, 1 Jul 2003 10:52:37 +0200" (RFC 5322 style, written by some tools)
  } else {
    return std::nullopt;
  }
  int zone = 0;
  for (std::size_t i = t + 1; i < tok.size(); ++i) {
    if (!year) {
      if (auto y = parse_int(tok[i], 4, 4)) {
        year = y;
        continue;
      }
    }
    if (auto z = mime::zone_offset(tok[i])) zone = *z;
  }
  if (!year || *day < 1 || *day > 31 || *year < 1970) return std::nullopt;
  const int64_t days = mime::days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  return days * 86400 + tod->h * 3600 + tod->m * 60 + tod->s - zone;
}

std::string strip_mbox_headers(std::string_view message, store::Flags& flags, std::vector<std::string>& warnings) {
  static constexpr std::array<std::string_view, 6> kBookkeeping = {"Status", "X-Status", "X-Keywords",
                                                                   "X-UID",  "X-IMAP",   "X-IMAPbase"};
  const auto split = mime::split_header(message);
  const std::string_view header = message.substr(0, split.header_end);
  std::string out;
  out.reserve(message.size());
  std::size_t pos = 0;
  while (pos < header.size()) {
    // One field: its first line and any continuation lines.
    std::size_t end = header.find('\n', pos);
    end = end == std::string_view::npos ? header.size() : end + 1;
    while (end < header.size() && is_wsp(header[end])) {
      const std::size_t next = header.find('\n', end);
      end = next == std::string_view::npos ? header.size() : next + 1;
    }
    const std::string_view field = header.substr(pos, end - pos);
    pos = end;
    const auto colon = field.find(':');
    const std::string_view name = colon == std::string_view::npos ? std::string_view() : ascii::trim(field.substr(0, colon));
    const bool bookkeeping = std::any_of(kBookkeeping.begin(), kBookkeeping.end(),
                                         [&](std::string_view b) { return ascii::iequals(b, name); });
    if (!bookkeeping) {
      out.append(field);
      continue;
    }
    const std::string value = mime::unfold(field.substr(colon + 1));
    if (ascii::iequals(name, "Status")) {
      if (value.find('R') != std::string::npos) flags.system |= store::kSeen;
    } else if (ascii::iequals(name, "X-Status")) {
      for (char c : value) {
        if (c == 'A') flags.system |= store::kAnswered;
        if (c == 'F') flags.system |= store::kFlagged;
        if (c == 'D') flags.system |= store::kDeleted;
        if (c == 'T') flags.system |= store::kDraft;
      }
    } else if (ascii::iequals(name, "X-Keywords")) {
      std::string_view rest = value;
      while (!rest.empty()) {
        const auto sep = rest.find_first_of(", \t");
        const std::string_view k = rest.substr(0, sep);
        rest = sep == std::string_view::npos ? std::string_view() : rest.substr(sep + 1);
        if (k.empty()) continue;
        if (store::check_keyword(k)) {
          flags.keywords.emplace_back(k);
        } else {
          warnings.push_back("keyword \"" + std::string(k) + "\" is not a valid IMAP keyword; dropped");
        }
      }
    }
  }
  flags.normalize();
  out.append(message.substr(split.header_end));
  return out;
}

MboxReader::MboxReader(std::unique_ptr<std::istream> in, MboxOptions options)
    : in_(std::move(in)), options_(options) {}

Result<std::unique_ptr<MboxReader>> MboxReader::open(const std::string& path, MboxOptions options) {
  auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*in) {
    const int err = errno;
    if (err == ENOENT) return make_error(Errc::kNotFound, path + " does not exist");
    return make_error(Errc::kUnavailable, "cannot open " + path + ": " + std::strerror(err));
  }
  return std::make_unique<MboxReader>(std::move(in), options);
}

Result<std::optional<MboxReader::Piece>> MboxReader::next_piece() {
  while (true) {
    if (pos_ < buf_.size()) {
      const std::string_view rest = std::string_view(buf_).substr(pos_);
      const auto nl = rest.find('\n');
      Piece p;
      p.line_start = at_line_start_;
      if (nl != std::string_view::npos) {
        p.bytes = rest.substr(0, nl + 1);
        p.line_end = true;
      } else if (eof_) {
        p.bytes = rest;  // a last line without a line end
        p.line_end = true;
      } else if (rest.size() >= kMaxPiece) {
        p.bytes = rest;
        p.line_end = false;
      } else {
        p.bytes = {};
      }
      if (!p.bytes.empty()) {
        pos_ += p.bytes.size();
        at_line_start_ = p.line_end;
        return std::optional<Piece>(p);
      }
    } else if (eof_) {
      return std::optional<Piece>();
    }
    buf_.erase(0, pos_);
    pos_ = 0;
    const std::size_t old = buf_.size();
    buf_.resize(old + options_.chunk_bytes);
    in_->read(buf_.data() + old, static_cast<std::streamsize>(options_.chunk_bytes));
    const auto n = static_cast<std::size_t>(in_->gcount());
    buf_.resize(old + n);
    bytes_read_ += n;
    if (in_->bad()) return make_error(Errc::kUnavailable, "cannot read the mbox file: " + std::string(std::strerror(errno)));
    eof_ = n == 0 || in_->eof();
  }
}

void MboxReader::append(std::string_view bytes) {
  if (!current_is_from_ || current_too_big_) return;
  if (current_.bytes.size() + bytes.size() > options_.max_message_bytes) {
    current_too_big_ = true;
    std::string().swap(current_.bytes);
    return;
  }
  current_.bytes.append(bytes);
}

MboxEntry MboxReader::finish_entry() {
  MboxEntry e = std::move(current_);
  current_ = MboxEntry{};
  in_entry_ = false;
  pending_blank_.clear();
  if (!current_is_from_) {
    e.error = "text before the first \"From \" line is not a message";
    e.bytes.clear();
    return e;
  }
  if (current_too_big_) {
    e.error = "message larger than " + std::to_string(options_.max_message_bytes) + " bytes";
    current_too_big_ = false;
    return e;
  }
  const auto date = parse_from_line_date(from_line_);
  if (!date) {
    std::string shown = from_line_.substr(0, kMaxFromLineShown);
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r')) shown.pop_back();
    e.error = "cannot read the date of the From line \"" + shown + "\"";
    e.bytes.clear();
    return e;
  }
  if (e.bytes.empty()) {
    e.error = "empty message";
    return e;
  }
  e.internal_date = *date;
  e.bytes = strip_mbox_headers(e.bytes, e.flags, e.warnings);
  return e;
}

Result<std::optional<MboxEntry>> MboxReader::next() {
  while (true) {
    auto piece = next_piece();
    if (!piece) return piece.error();
    if (!*piece) {
      if (!in_entry_) return std::optional<MboxEntry>();
      return std::optional<MboxEntry>(finish_entry());  // drops a held-back final empty line
    }
    std::string_view b = (*piece)->bytes;
    if (!(*piece)->line_start) {
      if (in_from_line_) {
        if (from_line_.size() < kMaxPiece) from_line_.append(b.substr(0, kMaxPiece - from_line_.size()));
      } else {
        append(b);
      }
      if ((*piece)->line_end) in_from_line_ = false;
      continue;
    }
    ++line_;
    const bool blank = is_blank_line(b);
    if (prev_blank_ && b.starts_with("From ")) {
      std::optional<MboxEntry> done;
      if (in_entry_) done = finish_entry();
      in_entry_ = true;
      current_is_from_ = true;
      current_.line = line_;
      from_line_.assign(b);
      in_from_line_ = !(*piece)->line_end;
      prev_blank_ = false;
      if (done) return done;
      continue;
    }
    prev_blank_ = blank;
    if (!in_entry_) {
      if (blank) continue;  // empty lines before the first message are not text
      in_entry_ = true;
      current_is_from_ = false;
      current_.line = line_;
    }
    if (blank) {
      append(pending_blank_);
      pending_blank_.assign(b);
      continue;
    }
    append(pending_blank_);
    pending_blank_.clear();
    if (b.starts_with('>')) {
      const auto k = b.find_first_not_of('>');
      if (k != std::string_view::npos && b.substr(k).starts_with("From ") &&
          (options_.format == MboxFormat::kMboxrd || k == 1)) {
        b.remove_prefix(1);
      }
    }
    append(b);
  }
}

}  // namespace posthorn::mailfile
