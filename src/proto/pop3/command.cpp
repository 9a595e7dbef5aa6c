#include "proto/pop3/command.hpp"

#include <array>
#include <vector>

#include "base/ascii.hpp"
#include "base/base64.hpp"

namespace posthorn::proto::pop3 {
namespace {

Error unknown() { return make_error(Errc::kNotFound, "Unknown command"); }
Error syntax(std::string message) { return make_error(Errc::kInvalid, std::move(message)); }

bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// SASL mechanism name: 1-20 of [A-Z0-9-_] [RFC 4422 §3.1]; accepted in any case.
bool is_mechanism(std::string_view s) {
  if (s.empty() || s.size() > kMaxMechanismLength) return false;
  for (char c : s) {
    char u = ascii::to_upper(c);
    if (!((u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' || u == '_')) return false;
  }
  return true;
}

// Arguments are separated by exactly one space [RFC 1939 §3]; an empty field means a doubled,
// leading or trailing space.
Result<std::vector<std::string_view>> split_args(std::optional<std::string_view> rest) {
  std::vector<std::string_view> args;
  if (!rest) return args;
  args = ascii::split(*rest, ' ');
  for (std::string_view a : args) {
    if (a.empty()) return syntax("Invalid argument separator");
    if (!ascii::is_printable(a)) return syntax("Invalid characters in argument");
  }
  return args;
}

Result<Command> parse_auth(std::optional<std::string_view> rest) {
  auto args = split_args(rest);
  if (!args) return args.error();
  if (args->empty()) return Command{Auth{}};
  if (args->size() > 2) return syntax("Too many arguments");
  if (!is_mechanism((*args)[0])) return syntax("Invalid mechanism name");
  Auth auth;
  auth.mechanism = ascii::upper((*args)[0]);
  if (args->size() == 2) {
    std::string_view ir = (*args)[1];
    if (ir == "=") {
      auth.initial_response = std::string();  // empty initial response [RFC 5034 §4]
    } else {
      auto decoded = base64::decode(ir);
      if (!decoded) return syntax("Invalid base64 data");
      auth.initial_response = std::move(*decoded);
    }
  }
  return Command{std::move(auth)};
}

// Keywords that take no argument.
constexpr std::array<std::string_view, 8> kNoArguments = {"CAPA", "STLS", "QUIT", "NOOP",
                                                          "RSET", "STAT", "UTF8", "APOP"};

template <size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view kw) {
  for (std::string_view k : list) {
    if (k == kw) return true;
  }
  return false;
}

// A decimal number of at most `max_digits` digits, no sign [RFC 1939 §3].
template <class T>
std::optional<T> number(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  T value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = T(value * 10 + T(c - '0'));
  }
  return value;
}

Result<uint32_t> message_number(std::string_view s) {
  auto n = number<uint32_t>(s, 9);
  if (!n) return syntax("Invalid message number");
  return *n;
}

// LIST, UIDL, RETR, DELE, TOP: their arguments are already split and length-checked.
Result<Command> parse_maildrop(std::string_view kw, const std::vector<std::string_view>& args) {
  const bool optional_one = kw == "LIST" || kw == "UIDL";
  const size_t wanted = kw == "TOP" ? 2 : 1;
  if (args.size() > wanted) return syntax("Too many arguments");
  if (args.size() < wanted && !(optional_one && args.empty())) return syntax("Missing argument");
  if (optional_one && args.empty()) {
    if (kw == "LIST") return Command{List{}};
    return Command{Uidl{}};
  }
  auto n = message_number(args[0]);
  if (!n) return n.error();
  if (kw == "LIST") return Command{List{*n}};
  if (kw == "UIDL") return Command{Uidl{*n}};
  if (kw == "RETR") return Command{Retr{*n}};
  if (kw == "DELE") return Command{Dele{*n}};
  auto lines = number<uint64_t>(args[1], 18);
  if (!lines) return syntax("Invalid number of lines");
  return Command{Top{*n, *lines}};
}

constexpr std::array<std::string_view, 5> kMaildrop = {"LIST", "UIDL", "RETR", "DELE", "TOP"};

}  // namespace

Result<Command> parse_command(std::string_view line) {
  size_t space = line.find(' ');
  std::string_view word = line.substr(0, space);
  std::optional<std::string_view> rest;
  if (space != std::string_view::npos) rest = line.substr(space + 1);

  if (word.empty() || word.size() > kMaxKeywordLength) return unknown();
  // Keywords are letters, plus digits after the first (UTF8 [RFC 6856]).
  if (!is_alpha(word[0])) return unknown();
  for (char c : word) {
    if (!is_alpha(c) && !(c >= '0' && c <= '9')) return unknown();
  }
  const std::string kw = ascii::upper(word);

  // PASS takes the rest of the line verbatim: passwords may contain spaces [RFC 1939 §7], and the
  // 255-octet line limit does not apply (long passphrases are legitimate).
  if (kw == "PASS") {
    if (!rest || rest->empty()) return syntax("Missing argument");
    for (char c : *rest) {
      if (c == '\0' || c == '\r' || c == '\n') return syntax("Invalid characters in password");
    }
    return Command{Pass{std::string(*rest)}};
  }
  // AUTH may carry a long initial response; its length is bounded by the connection's line limit.
  if (kw == "AUTH") return parse_auth(rest);

  const bool maildrop = contains(kMaildrop, kw);
  if (kw != "USER" && !maildrop && !contains(kNoArguments, kw)) return unknown();

  if (line.size() > kMaxCommandLine) return syntax("Line too long");
  if (kw == "USER") {
    // UTF-8 is allowed in the name [RFC 6856 §3]; only controls and spaces are not.
    if (!rest) return syntax("Missing argument");
    const std::vector<std::string_view> fields = ascii::split(*rest, ' ');
    for (std::string_view f : fields) {
      if (f.empty()) return syntax("Invalid argument separator");
    }
    if (fields.size() > 1) return syntax("Too many arguments");
    for (unsigned char c : *rest) {
      if (c < 0x20 || c == 0x7f) return syntax("Invalid characters in argument");
    }
    return Command{User{std::string(*rest)}};
  }
  if (kw == "APOP") return Command{Apop{}};  // refused by the session whatever its arguments
  auto args = split_args(rest);
  if (!args) return args.error();
  for (std::string_view a : *args) {
    if (a.size() > kMaxArgumentLength) return syntax("Argument too long");
  }
  if (maildrop) return parse_maildrop(kw, *args);
  if (!args->empty()) return syntax("Too many arguments");
  if (kw == "CAPA") return Command{Capa{}};
  if (kw == "STLS") return Command{Stls{}};
  if (kw == "QUIT") return Command{Quit{}};
  if (kw == "NOOP") return Command{Noop{}};
  if (kw == "STAT") return Command{Stat{}};
  if (kw == "UTF8") return Command{Utf8{}};
  return Command{Rset{}};
}

std::string_view keyword(const Command& command) {
  struct Visitor {
    std::string_view operator()(const User&) const { return "USER"; }
    std::string_view operator()(const Pass&) const { return "PASS"; }
    std::string_view operator()(const Auth&) const { return "AUTH"; }
    std::string_view operator()(const Capa&) const { return "CAPA"; }
    std::string_view operator()(const Stls&) const { return "STLS"; }
    std::string_view operator()(const Quit&) const { return "QUIT"; }
    std::string_view operator()(const Noop&) const { return "NOOP"; }
    std::string_view operator()(const Rset&) const { return "RSET"; }
    std::string_view operator()(const Stat&) const { return "STAT"; }
    std::string_view operator()(const List&) const { return "LIST"; }
    std::string_view operator()(const Retr&) const { return "RETR"; }
    std::string_view operator()(const Dele&) const { return "DELE"; }
    std::string_view operator()(const Top&) const { return "TOP"; }
    std::string_view operator()(const Uidl&) const { return "UIDL"; }
    std::string_view operator()(const Apop&) const { return "APOP"; }
    std::string_view operator()(const Utf8&) const { return "UTF8"; }
  };
  return std::visit(Visitor{}, command);
}

}  // namespace posthorn::proto::pop3
