#include "proto/smtp/command.hpp"

#include <array>
#include <stdexcept>

#include "base/ascii.hpp"

namespace posthorn::proto::smtp {
namespace {

struct VerbEntry {
  std::string_view name;
  Verb verb;
};

constexpr std::array kVerbs{
    VerbEntry{"EHLO", Verb::kEhlo},         VerbEntry{"HELO", Verb::kHelo},
    VerbEntry{"LHLO", Verb::kLhlo},         VerbEntry{"STARTTLS", Verb::kStartTls},
    VerbEntry{"AUTH", Verb::kAuth},         VerbEntry{"RSET", Verb::kRset},
    VerbEntry{"NOOP", Verb::kNoop},         VerbEntry{"QUIT", Verb::kQuit},
    VerbEntry{"HELP", Verb::kHelp},         VerbEntry{"VRFY", Verb::kVrfy},
    VerbEntry{"EXPN", Verb::kExpn},         VerbEntry{"MAIL", Verb::kMail},
    VerbEntry{"RCPT", Verb::kRcpt},         VerbEntry{"DATA", Verb::kData},
    VerbEntry{"BDAT", Verb::kBdat},         VerbEntry{"ETRN", Verb::kEtrn},
};

SyntaxError arg_error(std::string text) { return SyntaxError{kC501ArgSyntax, std::move(text)}; }

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// A label character: Let-dig / "-" plus the tolerated "_" and UTF-8 octets.
bool is_label_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}

bool is_ipv4(std::string_view s) {
  auto parts = ascii::split(s, '.');
  if (parts.size() != 4) return false;
  for (auto p : parts) {
    if (p.empty() || p.size() > 3) return false;
    int v = 0;
    for (char c : p) {
      if (!is_digit(c)) return false;
      v = v * 10 + (c - '0');
    }
    if (v > 255) return false;
  }
  return true;
}

// IPv6-addr [RFC 5321 §4.1.3], checked for shape: hex groups of 1-4 digits separated by ":", at most
// one "::", 8 groups without "::" (fewer with it), and an optional IPv4 tail counting as two groups.
bool is_ipv6(std::string_view s) {
  if (s.empty()) return false;
  size_t compress = s.find("::");
  if (compress != std::string_view::npos && s.find("::", compress + 1) != std::string_view::npos) return false;
  auto groups_of = [](std::string_view part, bool allow_v4_tail) -> int {
    if (part.empty()) return 0;
    auto fields = ascii::split(part, ':');
    int count = 0;
    for (size_t i = 0; i < fields.size(); ++i) {
      auto f = fields[i];
      if (allow_v4_tail && i + 1 == fields.size() && f.find('.') != std::string_view::npos) {
        if (!is_ipv4(f)) return -1;
        count += 2;
        continue;
      }
      if (f.empty() || f.size() > 4) return -1;
      for (char c : f) {
        if (!is_hex(c)) return -1;
      }
      ++count;
    }
    return count;
  };
  if (compress == std::string_view::npos) return groups_of(s, true) == 8;
  int head = groups_of(s.substr(0, compress), false);
  int tail = groups_of(s.substr(compress + 2), true);
  return head >= 0 && tail >= 0 && head + tail <= 7;
}

// dcontent [RFC 5321 §4.1.3]: %d33-90 / %d94-126.
bool is_dcontent(char c) { return (c >= 33 && c <= 90) || (c >= 94 && c <= 126); }

std::string_view rstrip(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ParseResult parse_hello(Verb verb, std::string_view args) {
  std::string_view name = verb_name(verb);
  if (args.empty()) return arg_error(std::string(name) + " requires a domain or address literal");
  if (args.find(' ') != std::string_view::npos || args.find('\t') != std::string_view::npos) {
    return arg_error("Syntax: " + std::string(name) + " domain");
  }
  // HELO takes a domain only [RFC 5321 §4.1.1.1], but clients send address literals there too.
  if (!is_domain(args) && !is_address_literal(args)) {
    return arg_error("Invalid domain or address literal");
  }
  return Command{Hello{verb, std::string(args)}};
}

ParseResult parse_auth(std::string_view args) {
  if (args.empty()) return arg_error("Syntax: AUTH mechanism [initial-response]");
  size_t sp = args.find(' ');
  std::string_view mech = args.substr(0, sp);
  // sasl-mech = 1*20(UPPER-ALPHA / DIGIT / "-" / "_") [RFC 4422 §3.1]; accepted in any case.
  if (mech.size() > 20) return arg_error("Invalid mechanism name");
  for (char c : mech) {
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_') return arg_error("Invalid mechanism name");
  }
  Auth auth{ascii::upper(mech), std::nullopt};
  if (sp != std::string_view::npos) {
    std::string_view initial = args.substr(sp + 1);
    if (initial.empty() || initial.find(' ') != std::string_view::npos) {
      return arg_error("Syntax: AUTH mechanism [initial-response]");
    }
    auth.initial_response = std::string(initial);
  }
  return Command{std::move(auth)};
}

// An envelope parse turned into a Command or the SyntaxError with its own reply.
template <class T>
ParseResult envelope_command(Parsed<T> parsed) {
  if (parsed) return Command{std::move(*parsed.value)};
  return SyntaxError{Reply{parsed.error.code, parsed.error.status, ""}, std::move(parsed.error.text)};
}

}  // namespace

std::string_view verb_name(Verb verb) {
  for (const auto& e : kVerbs) {
    if (e.verb == verb) return e.name;
  }
  return "?";
}

Verb verb_of(const Command& command) {
  struct Visitor {
    Verb operator()(const Hello& h) const { return h.verb; }
    Verb operator()(const StartTls&) const { return Verb::kStartTls; }
    Verb operator()(const Auth&) const { return Verb::kAuth; }
    Verb operator()(const Rset&) const { return Verb::kRset; }
    Verb operator()(const Noop&) const { return Verb::kNoop; }
    Verb operator()(const Quit&) const { return Verb::kQuit; }
    Verb operator()(const Help&) const { return Verb::kHelp; }
    Verb operator()(const Vrfy&) const { return Verb::kVrfy; }
    Verb operator()(const Expn&) const { return Verb::kExpn; }
    Verb operator()(const MailFrom&) const { return Verb::kMail; }
    Verb operator()(const RcptTo&) const { return Verb::kRcpt; }
    Verb operator()(const Data&) const { return Verb::kData; }
    Verb operator()(const Bdat&) const { return Verb::kBdat; }
    Verb operator()(const Deferred& d) const { return d.verb; }
  };
  return std::visit(Visitor{}, command);
}

bool is_domain(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (auto label : ascii::split(s, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!is_label_char(c)) return false;
    }
  }
  return true;
}

bool is_address_literal(std::string_view s) {
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  std::string_view inner = s.substr(1, s.size() - 2);
  if (is_ipv4(inner)) return true;
  if (ascii::istarts_with(inner, "IPv6:")) return is_ipv6(inner.substr(5));
  // General-address-literal = Standardized-tag ":" 1*dcontent; the tag is Ldh-str.
  size_t colon = inner.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == inner.size()) return false;
  std::string_view tag = inner.substr(0, colon);
  if (tag.back() == '-') return false;
  for (char c : tag) {
    if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
  }
  for (char c : inner.substr(colon + 1)) {
    if (!is_dcontent(c)) return false;
  }
  return true;
}

ParseResult parse_command(std::string_view line) {
  line = rstrip(line);
  for (unsigned char c : line) {
    // Controls other than HTAB have no place in a command line [RFC 5321 §4.1.1].
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return SyntaxError{kC500SyntaxError, "Invalid character in command"};
    }
  }
  size_t sp = line.find(' ');
  std::string_view word = line.substr(0, sp);
  std::string_view args;
  if (sp != std::string_view::npos) args = line.substr(sp + 1);
  const VerbEntry* entry = nullptr;
  for (const auto& e : kVerbs) {
    if (ascii::iequals(word, e.name)) entry = &e;
  }
  if (entry == nullptr) return SyntaxError{kC500SyntaxError, std::string(kC500SyntaxError.text)};

  auto no_args = [&](Command cmd) -> ParseResult {
    if (!args.empty() || sp != std::string_view::npos) {
      return arg_error(std::string(entry->name) + " takes no arguments");
    }
    return cmd;
  };
  switch (entry->verb) {
    case Verb::kEhlo:
    case Verb::kHelo:
    case Verb::kLhlo:
      return parse_hello(entry->verb, args);
    case Verb::kStartTls:
      return no_args(StartTls{});
    case Verb::kAuth:
      return parse_auth(args);
    case Verb::kRset:
      return no_args(Rset{});
    case Verb::kQuit:
      return no_args(Quit{});
    case Verb::kNoop:
      return Command{Noop{}};  // NOOP [SP String]: the string is ignored [RFC 5321 §4.1.1.9]
    case Verb::kHelp:
      return Command{Help{std::string(args)}};
    case Verb::kVrfy:
      if (args.empty()) return arg_error("Syntax: VRFY string");
      return Command{Vrfy{std::string(args)}};
    case Verb::kExpn:
      if (args.empty()) return arg_error("Syntax: EXPN string");
      return Command{Expn{std::string(args)}};
    case Verb::kData:
      return no_args(Data{});
    case Verb::kMail:
      return envelope_command(parse_mail_from(args));
    case Verb::kRcpt:
      return envelope_command(parse_rcpt_to(args));
    case Verb::kBdat:
      return envelope_command(parse_bdat(args));
    case Verb::kEtrn:
      return Command{Deferred{entry->verb, std::string(args)}};
  }
  return SyntaxError{kC500SyntaxError, std::string(kC500SyntaxError.text)};
}

void throw_exception_from_error(const SyntaxError& error, const boost::source_location&) {
  throw std::logic_error("SMTP parse result used without a check: " + error.text);
}

}  // namespace posthorn::proto::smtp
