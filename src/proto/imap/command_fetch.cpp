// The message-set half of the IMAP command parser: FETCH, STORE, COPY/MOVE (and their UID forms,
// dispatched from command.cpp) and the grammar pieces they share with it (sequence sets, flags,
// mailbox names). [RFC 9051 §6.4.5-8, §9; RFC 3516 BINARY; RFC 7162 CONDSTORE/QRESYNC; RFC 8514
// SAVEDATE; RFC 8970 PREVIEW.] Pure; thread-safe.
#include <algorithm>

#include "base/ascii.hpp"
#include "proto/imap/command.hpp"
#include "proto/imap/command_parts.hpp"
#include "proto/imap/reader.hpp"

namespace posthorn::proto::imap {

namespace detail {

namespace {

bool is_seq_char(char c) { return (c >= '0' && c <= '9') || c == ':' || c == ',' || c == '*' || c == '$'; }
bool is_att_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

constexpr size_t kMaxSectionDepth = 100;
constexpr size_t kMaxHeaderFields = 100;
constexpr size_t kMaxFetchAtts = 100;

// section-part = nz-number *("." nz-number), then optionally "." section-text.
Result<Section> read_section(Reader& in, bool binary) {
  Section section;
  if (!in.consume('[')) return make_error(Errc::kInvalid, "Expected a section");
  if (in.consume(']')) return section;
  for (;;) {
    if (!is_digit(in.peek())) break;
    auto n = in.number();
    if (!n || *n == 0 || *n > 0xffffffffu) return make_error(Errc::kInvalid, "Invalid section part number");
    section.part.push_back(static_cast<uint32_t>(*n));
    if (section.part.size() > kMaxSectionDepth) return make_error(Errc::kInvalid, "Section nested too deeply");
    if (!in.consume('.')) break;
    if (!is_digit(in.peek())) {
      if (binary) return make_error(Errc::kInvalid, "BINARY takes only part numbers");
      break;
    }
  }
  if (!in.consume(']')) {
    if (binary) return make_error(Errc::kInvalid, "BINARY takes only part numbers");
    const std::string_view word = in.take_while(is_att_char);
    const std::string upper = ascii::upper(word);
    if (upper == "HEADER") {
      section.text = Section::Text::kHeader;
    } else if (upper == "TEXT") {
      section.text = Section::Text::kText;
    } else if (upper == "MIME" && !section.part.empty()) {
      section.text = Section::Text::kMime;
    } else if (upper == "HEADER.FIELDS" || upper == "HEADER.FIELDS.NOT") {
      section.text = upper == "HEADER.FIELDS" ? Section::Text::kHeaderFields : Section::Text::kHeaderFieldsNot;
      if (!in.sp() || !in.consume('(')) return make_error(Errc::kInvalid, "Expected a header field list");
      for (bool first = true; !in.consume(')'); first = false) {
        if (!first && !in.sp()) return make_error(Errc::kInvalid, "Invalid header field list");
        auto field = in.astring();
        if (!field || field->empty()) return make_error(Errc::kInvalid, "Invalid header field name");
        if (section.fields.size() >= kMaxHeaderFields) return make_error(Errc::kInvalid, "Too many header fields");
        section.fields.push_back(ascii::upper(*field));
      }
      if (section.fields.empty()) return make_error(Errc::kInvalid, "Empty header field list");
    } else {
      return make_error(Errc::kInvalid, "Invalid section");
    }
    if (!in.consume(']')) return make_error(Errc::kInvalid, "Invalid section");
  }
  return section;
}

// partial = "<" number "." nz-number ">"
Result<std::optional<Partial>> read_partial(Reader& in) {
  if (!in.consume('<')) return std::optional<Partial>();
  auto offset = in.number();
  if (!offset || !in.consume('.')) return make_error(Errc::kInvalid, "Invalid partial range");
  auto length = in.number();
  if (!length || *length == 0 || !in.consume('>')) return make_error(Errc::kInvalid, "Invalid partial range");
  return std::optional<Partial>(Partial{*offset, *length});
}

Result<void> read_fetch_att(Reader& in, std::vector<FetchAtt>& out) {
  using K = FetchAtt::Kind;
  const std::string name = ascii::upper(in.take_while(is_att_char));
  static constexpr std::pair<std::string_view, K> kSimple[] = {
      {"ENVELOPE", K::kEnvelope},       {"FLAGS", K::kFlags},           {"INTERNALDATE", K::kInternalDate},
      {"RFC822", K::kRfc822},           {"RFC822.HEADER", K::kRfc822Header}, {"RFC822.SIZE", K::kRfc822Size},
      {"RFC822.TEXT", K::kRfc822Text},  {"BODYSTRUCTURE", K::kBodyStructure}, {"UID", K::kUid},
      {"MODSEQ", K::kModSeq},           {"SAVEDATE", K::kSaveDate},
  };
  for (const auto& [n, kind] : kSimple) {
    if (name == n) {
      FetchAtt att;
      att.kind = kind;
      out.push_back(att);
      return {};
    }
  }
  if (name == "ALL" || name == "FAST" || name == "FULL") {
    return make_error(Errc::kInvalid, "Macros cannot be used in a list");
  }
  if (name == "PREVIEW") {
    FetchAtt att;
    att.kind = K::kPreview;
    // PREVIEW (LAZY) [RFC 8970 §3.1]
    if (in.rest().size() >= 2 && in.rest()[0] == ' ' && in.rest()[1] == '(') {
      (void)in.sp();
      (void)in.consume('(');
      for (bool first = true; !in.consume(')'); first = false) {
        if (!first && !in.sp()) return make_error(Errc::kInvalid, "Invalid PREVIEW modifiers");
        if (!in.consume_word("LAZY")) return make_error(Errc::kInvalid, "Unknown PREVIEW modifier");
        att.lazy = true;
      }
    }
    out.push_back(att);
    return {};
  }
  if (name == "BODY" && in.peek() != '[') {
    FetchAtt att;
    att.kind = K::kBody;
    out.push_back(att);
    return {};
  }
  FetchAtt att;
  if (name == "BODY" || name == "BODY.PEEK") {
    att.kind = K::kBodySection;
  } else if (name == "BINARY" || name == "BINARY.PEEK") {
    att.kind = K::kBinary;
  } else if (name == "BINARY.SIZE") {
    att.kind = K::kBinarySize;
  } else {
    return make_error(Errc::kInvalid, "Unknown FETCH attribute " + name);
  }
  att.peek = name.ends_with(".PEEK");
  auto section = read_section(in, att.kind != K::kBodySection);
  if (!section) return section.error();
  att.section = std::move(*section);
  if (att.kind != K::kBinarySize) {
    auto partial = read_partial(in);
    if (!partial) return partial.error();
    att.partial = *partial;
  }
  out.push_back(std::move(att));
  return {};
}

}  // namespace

Result<SequenceSet> read_sequence_set(Reader& in) {
  const std::string_view text = in.take_while(is_seq_char);
  return parse_sequence_set(text);
}

Result<std::string> read_flag(Reader& in) {
  std::string flag;
  if (in.consume('\\')) {
    if (in.consume('*')) return std::string("\\*");  // flag-perm in PERMANENTFLAGS; refused later
    flag = "\\";
  }
  auto atom = in.atom();
  if (!atom) return make_error(Errc::kInvalid, "Invalid flag");
  return flag + *atom;
}

Result<std::vector<std::string>> read_flag_list(Reader& in) {
  if (!in.consume('(')) return make_error(Errc::kInvalid, "Expected a flag list");
  std::vector<std::string> flags;
  for (bool first = true; !in.consume(')'); first = false) {
    if (!first && !in.sp()) return make_error(Errc::kInvalid, "Invalid flag list");
    auto flag = read_flag(in);
    if (!flag) return flag.error();
    flags.push_back(std::move(*flag));
  }
  return flags;
}

Result<std::string> read_mailbox(Reader& in) { return in.astring(); }

// FETCH SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")")
//   [SP "(" fetch-modifier *(SP fetch-modifier) ")"]
ParseResult parse_fetch(Command cmd, Reader& in, bool uid) {
  using K = FetchAtt::Kind;
  Fetch args;
  args.uid = uid;
  if (!in.sp()) return syntax(cmd.tag, "FETCH needs a message set and attributes");
  auto set = read_sequence_set(in);
  if (!set) return syntax(cmd.tag, set.error().message);
  args.set = std::move(*set);
  if (!in.sp()) return syntax(cmd.tag, "FETCH needs attributes");
  auto simple = [](K k) {
    FetchAtt a;
    a.kind = k;
    return a;
  };
  if (in.consume_word("ALL")) {
    args.atts = {simple(K::kFlags), simple(K::kInternalDate), simple(K::kRfc822Size), simple(K::kEnvelope)};
  } else if (in.consume_word("FAST")) {
    args.atts = {simple(K::kFlags), simple(K::kInternalDate), simple(K::kRfc822Size)};
  } else if (in.consume_word("FULL")) {
    args.atts = {simple(K::kFlags), simple(K::kInternalDate), simple(K::kRfc822Size), simple(K::kEnvelope),
                 simple(K::kBody)};
  } else if (in.consume('(')) {
    for (bool first = true; !in.consume(')'); first = false) {
      if (!first && !in.sp()) return syntax(cmd.tag, "Invalid FETCH attribute list");
      auto att = read_fetch_att(in, args.atts);
      if (!att) return syntax(cmd.tag, att.error().message);
      if (args.atts.size() > kMaxFetchAtts) return syntax(cmd.tag, "Too many FETCH attributes");
    }
    if (args.atts.empty()) return syntax(cmd.tag, "Empty FETCH attribute list");
  } else {
    auto att = read_fetch_att(in, args.atts);
    if (!att) return syntax(cmd.tag, att.error().message);
  }
  if (!in.at_end()) {
    if (!in.sp() || !in.consume('(')) return syntax(cmd.tag, "Unexpected text after FETCH attributes");
    for (bool first = true; !in.consume(')'); first = false) {
      if (!first && !in.sp()) return syntax(cmd.tag, "Invalid FETCH modifiers");
      if (in.consume_word("CHANGEDSINCE")) {
        if (!in.sp()) return syntax(cmd.tag, "CHANGEDSINCE needs a modseq");
        auto modseq = in.number();
        if (!modseq) return syntax(cmd.tag, "Invalid CHANGEDSINCE modseq");
        args.changed_since = *modseq;
      } else if (in.consume_word("VANISHED")) {
        args.vanished = true;
      } else {
        return syntax(cmd.tag, "Unknown FETCH modifier");
      }
      if (in.at_end()) return syntax(cmd.tag, "Unterminated FETCH modifiers");
    }
    if (!in.at_end()) return syntax(cmd.tag, "Unexpected text after FETCH modifiers");
    // VANISHED only with UID FETCH and CHANGEDSINCE [RFC 7162 §3.2.6].
    if (args.vanished && (!uid || !args.changed_since)) {
      return syntax(cmd.tag, "VANISHED needs UID FETCH and CHANGEDSINCE");
    }
  }
  cmd.args = std::move(args);
  return cmd;
}

// STORE SP sequence-set [SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"] SP
//   ["+" / "-"] "FLAGS" [".SILENT"] SP (flag-list / (flag *(SP flag)))
ParseResult parse_store(Command cmd, Reader& in, bool uid) {
  Store args;
  args.uid = uid;
  if (!in.sp()) return syntax(cmd.tag, "STORE needs a message set");
  auto set = read_sequence_set(in);
  if (!set) return syntax(cmd.tag, set.error().message);
  args.set = std::move(*set);
  if (!in.sp()) return syntax(cmd.tag, "STORE needs a flag operation");
  if (in.consume('(')) {
    if (!in.consume_word("UNCHANGEDSINCE") || !in.sp()) return syntax(cmd.tag, "Unknown STORE modifier");
    auto modseq = in.number();
    if (!modseq || !in.consume(')') || !in.sp()) return syntax(cmd.tag, "Invalid UNCHANGEDSINCE modseq");
    args.unchanged_since = *modseq;
  }
  if (in.consume('+')) {
    args.op = StoreOp::kAdd;
  } else if (in.consume('-')) {
    args.op = StoreOp::kRemove;
  }
  const std::string item = ascii::upper(in.take_while(is_att_char));
  if (item == "FLAGS.SILENT") {
    args.silent = true;
  } else if (item != "FLAGS") {
    return syntax(cmd.tag, "STORE supports FLAGS and FLAGS.SILENT");
  }
  if (!in.sp()) return syntax(cmd.tag, "STORE needs flags");
  if (in.peek() == '(') {
    auto flags = read_flag_list(in);
    if (!flags) return syntax(cmd.tag, flags.error().message);
    args.flags = std::move(*flags);
  } else {
    for (bool first = true; !in.at_end(); first = false) {
      if (!first && !in.sp()) return syntax(cmd.tag, "Invalid flags");
      auto flag = read_flag(in);
      if (!flag) return syntax(cmd.tag, flag.error().message);
      args.flags.push_back(std::move(*flag));
    }
  }
  if (!in.at_end()) return syntax(cmd.tag, "Unexpected text after the flags");
  cmd.args = std::move(args);
  return cmd;
}

// COPY / MOVE SP sequence-set SP mailbox
ParseResult parse_copy(Command cmd, Reader& in, bool uid, bool move) {
  Copy args;
  args.uid = uid;
  args.move = move;
  if (!in.sp()) return syntax(cmd.tag, cmd.name + " needs a message set and a mailbox");
  auto set = read_sequence_set(in);
  if (!set) return syntax(cmd.tag, set.error().message);
  args.set = std::move(*set);
  if (!in.sp()) return syntax(cmd.tag, cmd.name + " needs a mailbox");
  auto name = read_mailbox(in);
  if (!name || !in.at_end()) return syntax(cmd.tag, "Invalid mailbox name");
  args.mailbox = std::move(*name);
  cmd.args = std::move(args);
  return cmd;
}

}  // namespace detail

std::string Section::to_string() const {
  std::string out;
  for (uint32_t p : part) {
    if (!out.empty()) out += '.';
    out += std::to_string(p);
  }
  auto add = [&](std::string_view word) {
    if (!out.empty()) out += '.';
    out += word;
  };
  switch (text) {
    case Text::kNone: break;
    case Text::kHeader: add("HEADER"); break;
    case Text::kText: add("TEXT"); break;
    case Text::kMime: add("MIME"); break;
    case Text::kHeaderFields:
    case Text::kHeaderFieldsNot: {
      add(text == Text::kHeaderFields ? "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (");
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) out += ' ';
        out += fields[i];
      }
      out += ')';
      break;
    }
  }
  return out;
}

}  // namespace posthorn::proto::imap
