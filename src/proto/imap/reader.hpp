// IMAP tokenizer: reads the lexical pieces of one assembled command (tag, atoms, quoted strings,
// literals, NIL) from the wire text that CommandAssembler produced, where a literal appears inline as
// "{n}\r\n<n bytes>" or "{n+}\r\n<n bytes>" [RFC 9051 §4.3, RFC 7888]. Pure: no I/O, no Asio.
// A Reader is a cursor over a string_view the caller keeps alive; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace posthorn::proto::imap {

// Character classes of the formal syntax [RFC 9051 §9].
// ATOM-CHAR: any CHAR except atom-specials: "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]".
bool is_atom_char(char c);
// ASTRING-CHAR: ATOM-CHAR or "]".
bool is_astring_char(char c);
// tag: 1*<any ASTRING-CHAR except "+">.
bool is_tag_char(char c);
bool is_valid_tag(std::string_view tag);

// The tag at the start of a command line, when the line starts with a valid tag followed by SP or
// the end of the line. Used to address error replies before the command is fully parsed.
std::optional<std::string> leading_tag(std::string_view line);

// The longest ID command line [RFC 2971 §3.3]: at most 30 field-value pairs, fields of at most 30
// octets and values of at most 1,024; as quoted strings with every octet escaped that is
// 30 * (62 + 1 + 2,050 + 1) = 63,420 bytes, and 64 KiB leaves room for the tag and "ID (...)". A
// session reads an ID line up to this length even when its line limit is lower (8,192 by default).
inline constexpr size_t kMaxIdLine = 64 * 1024;
// True when `line` (or the start of one) is "<tag> ID ..." (any case).
bool is_id_command(std::string_view line);
// True when `line` is "<tag> APPEND ...", "<tag> REPLACE ..." or "<tag> UID REPLACE ..." (any case):
// the commands whose big literals are messages, spooled rather than held in memory.
bool is_append_command(std::string_view line);

// A literal announcement at the end of a line: "{123}" or "{123+}" (also the tail of "~{123}").
struct LiteralAnnouncement {
  uint64_t size = 0;          // saturates at UINT64_MAX for absurdly long digit strings
  bool synchronizing = true;  // false for "{n+}" (LITERAL+)
};
std::optional<LiteralAnnouncement> trailing_literal(std::string_view line);

// A literal whose bytes the session kept outside the command text (a big APPEND message spooled to
// disk, issue 28 item 2): the text holds its announcement and CRLF but not its bytes.
struct ExternalLiteral {
  std::size_t offset = 0;  // in the command text: where its bytes would have started
  uint64_t size = 0;       // bytes it had
  bool has_nul = false;    // a NUL among them (allowed in a literal8 only)
  bool operator==(const ExternalLiteral&) const = default;
};

// A literal where a message may stand (APPEND): its bytes, or the index of a literal kept elsewhere.
struct LiteralRef {
  std::string bytes;
  std::optional<std::size_t> external;  // index into the command's external literals
  uint64_t size = 0;                    // bytes of the literal either way
};

class Reader {
 public:
  explicit Reader(std::string_view input) : input_(input) {}
  // `external`: the literals whose bytes are not in `input` (kept alive by the caller). Only
  // message_literal() accepts them; other reads of one fail.
  Reader(std::string_view input, std::span<const ExternalLiteral> external) : input_(input), external_(external) {}

  bool at_end() const { return pos_ >= input_.size(); }
  size_t position() const { return pos_; }
  std::string_view rest() const { return input_.substr(pos_); }
  // The next byte without consuming it; '\0' at the end.
  char peek() const { return at_end() ? '\0' : input_[pos_]; }

  // Exactly one SP. Errc::kInvalid otherwise.
  Result<void> sp();
  // A tag (see is_tag_char).
  Result<std::string> tag();
  // 1*ATOM-CHAR.
  Result<std::string> atom();
  // astring = 1*ASTRING-CHAR / string.
  Result<std::string> astring();
  // string = quoted / literal.
  Result<std::string> string();
  // nstring = string / NIL; nullopt for NIL.
  Result<std::optional<std::string>> nstring();
  // quoted = DQUOTE *QUOTED-CHAR DQUOTE, with \" and \\ escapes; no CR, LF or NUL.
  Result<std::string> quoted();
  // literal = "{" number ["+"] "}" CRLF *CHAR8 (no NUL) [RFC 9051 §4.3, RFC 7888 §3].
  Result<std::string> literal();
  // 1*(ALPHA / DIGIT / "+" / "/" / "="): raw base64 text (SASL responses) [RFC 9051 §9 base64];
  // decoding and padding checks are the caller's.
  Result<std::string> base64_text();
  // number = 1*DIGIT, at most 2^63-1 (mod-sequence-value range [RFC 7162]).
  Result<uint64_t> number();
  // literal8 = "~{" number ["+"] "}" CRLF *OCTET [RFC 3516]; NUL allowed.
  Result<std::string> literal8();
  // A literal (or with `eight`, a literal8) that may be kept elsewhere: a message of APPEND.
  Result<LiteralRef> message_literal(bool eight);
  // How many external literals were read so far.
  std::size_t external_read() const { return external_read_; }
  // Consumes `c` when it is next.
  bool consume(char c);
  // Consumes `word` (ASCII, case-insensitive) when it is next and not followed by an atom character.
  bool consume_word(std::string_view word);
  // The longest run of bytes for which pred is true (possibly empty).
  std::string_view take_while(bool (*pred)(char));

 private:
  Result<std::string> fail(std::string message) const;
  // The bytes of the literal at the cursor; `external` (when given) receives the index of a literal
  // kept elsewhere (bytes then empty), which is refused when it is null.
  Result<std::string_view> literal_bytes(bool allow_nul, std::optional<std::size_t>* external = nullptr);

  std::string_view input_;
  std::span<const ExternalLiteral> external_;
  size_t pos_ = 0;
  std::size_t external_read_ = 0;
};

}  // namespace posthorn::proto::imap
