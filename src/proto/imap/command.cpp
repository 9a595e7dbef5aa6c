#include "proto/imap/command.hpp"

#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "proto/imap/reader.hpp"

namespace posthorn::proto::imap {

namespace {

SyntaxError syntax(const std::optional<std::string>& tag, std::string message) {
  return SyntaxError{tag, std::move(message)};
}

// Commands without arguments: nothing may follow the name.
ParseResult no_arguments(Command cmd, const Reader& in) {
  if (!in.at_end()) return syntax(cmd.tag, cmd.name + " takes no arguments");
  return cmd;
}

// AUTHENTICATE SP auth-type [SP (base64 / "=")]  [RFC 9051 §9, RFC 4959 §3]
ParseResult parse_authenticate(Command cmd, Reader& in) {
  if (!in.sp()) return syntax(cmd.tag, "AUTHENTICATE needs a mechanism");
  auto mech = in.atom();
  if (!mech) return syntax(cmd.tag, "Invalid mechanism name");
  Authenticate args{ascii::upper(*mech), std::nullopt};
  if (!in.at_end()) {
    if (!in.sp()) return syntax(cmd.tag, "Invalid mechanism name");
    auto text = in.base64_text();
    if (!text || !in.at_end()) return syntax(cmd.tag, "Invalid initial response");
    if (*text == "=") {
      args.initial_response = std::string();
    } else {
      auto decoded = base64::decode(*text);
      if (!decoded) return syntax(cmd.tag, "Invalid base64 in initial response");
      args.initial_response = std::move(*decoded);
    }
  }
  cmd.args = std::move(args);
  return cmd;
}

// LOGIN SP userid SP password  [RFC 9051 §6.2.3]
ParseResult parse_login(Command cmd, Reader& in) {
  if (!in.sp()) return syntax(cmd.tag, "LOGIN needs a user name and a password");
  auto user = in.astring();
  if (!user) return syntax(cmd.tag, "Invalid user name: " + user.error().message);
  if (!in.sp()) return syntax(cmd.tag, "LOGIN needs a user name and a password");
  auto password = in.astring();
  if (!password) return syntax(cmd.tag, "Invalid password: " + password.error().message);
  if (!in.at_end()) return syntax(cmd.tag, "Unexpected text after the password");
  cmd.args = Login{std::move(*user), std::move(*password)};
  return cmd;
}

}  // namespace

ParseResult parse_command(std::string_view text) {
  Reader in(text);
  auto tag = in.tag();
  if (!tag) return syntax(std::nullopt, tag.error().message);
  Command cmd{*tag, {}, Unknown{}};
  if (!in.sp()) return syntax(cmd.tag, "Missing command");
  auto name = in.atom();
  if (!name) return syntax(cmd.tag, "Missing or invalid command name");
  cmd.name = ascii::upper(*name);
  if (!in.at_end() && in.peek() != ' ') return syntax(cmd.tag, "Invalid command name");

  if (cmd.name == "CAPABILITY") {
    cmd.args = Capability{};
    return no_arguments(std::move(cmd), in);
  }
  if (cmd.name == "NOOP") {
    cmd.args = Noop{};
    return no_arguments(std::move(cmd), in);
  }
  if (cmd.name == "LOGOUT") {
    cmd.args = Logout{};
    return no_arguments(std::move(cmd), in);
  }
  if (cmd.name == "STARTTLS") {
    cmd.args = StartTls{};
    return no_arguments(std::move(cmd), in);
  }
  if (cmd.name == "AUTHENTICATE") return parse_authenticate(std::move(cmd), in);
  if (cmd.name == "LOGIN") return parse_login(std::move(cmd), in);
  cmd.args = Unknown{cmd.name};
  return cmd;
}

}  // namespace posthorn::proto::imap
