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

constexpr std::array<std::string_view, 7> kLaterStage = {"STAT", "LIST", "RETR", "DELE",
                                                         "TOP",  "UIDL", "APOP"};
constexpr std::array<std::string_view, 5> kNoArguments = {"CAPA", "STLS", "QUIT", "NOOP", "RSET"};

template <size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view kw) {
  for (std::string_view k : list) {
    if (k == kw) return true;
  }
  return false;
}

}  // namespace

Result<Command> parse_command(std::string_view line) {
  size_t space = line.find(' ');
  std::string_view word = line.substr(0, space);
  std::optional<std::string_view> rest;
  if (space != std::string_view::npos) rest = line.substr(space + 1);

  if (word.empty() || word.size() > kMaxKeywordLength) return unknown();
  for (char c : word) {
    if (!is_alpha(c)) return unknown();
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

  const bool later = contains(kLaterStage, kw);
  if (kw != "USER" && !later && !contains(kNoArguments, kw)) return unknown();

  if (line.size() > kMaxCommandLine) return syntax("Line too long");
  auto args = split_args(rest);
  if (!args) return args.error();
  if (kw == "USER") {
    if (args->empty()) return syntax("Missing argument");
    if (args->size() > 1) return syntax("Too many arguments");
    return Command{User{std::string((*args)[0])}};
  }
  for (std::string_view a : *args) {
    if (a.size() > kMaxArgumentLength) return syntax("Argument too long");
  }
  if (later) return Command{NotInThisStage{kw, std::string(rest.value_or(""))}};
  if (!args->empty()) return syntax("Too many arguments");
  if (kw == "CAPA") return Command{Capa{}};
  if (kw == "STLS") return Command{Stls{}};
  if (kw == "QUIT") return Command{Quit{}};
  if (kw == "NOOP") return Command{Noop{}};
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
    std::string_view operator()(const NotInThisStage& c) const { return c.keyword; }
  };
  return std::visit(Visitor{}, command);
}

}  // namespace posthorn::proto::pop3
