#include "proto/imap/response.hpp"

#include <optional>

#include "base/ascii.hpp"
#include "proto/imap/reader.hpp"

namespace posthorn::proto::imap {

namespace {

// Free text of a response: any CR, LF or other control byte becomes a space [RFC 9051 §9 text].
std::string sanitise(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

std::string line(std::string_view prefix, Status status, std::string_view code, std::string_view text) {
  std::string out(prefix);
  out += ' ';
  out += status_name(status);
  if (!code.empty()) {
    out += " [";
    out += sanitise(code);
    out += ']';
  }
  out += ' ';
  out += text.empty() ? std::string(status_name(status)) : sanitise(text);
  out += "\r\n";
  return out;
}

}  // namespace

std::string_view status_name(Status s) {
  switch (s) {
    case Status::kOk: return "OK";
    case Status::kNo: return "NO";
    case Status::kBad: return "BAD";
    case Status::kBye: return "BYE";
    case Status::kPreauth: return "PREAUTH";
  }
  return "BAD";
}

std::string tagged(std::string_view tag, Status status, std::string_view text) {
  return line(tag, status, {}, text);
}

std::string tagged(std::string_view tag, Status status, std::string_view code, std::string_view text) {
  return line(tag, status, code, text);
}

std::string untagged(Status status, std::string_view text) { return line("*", status, {}, text); }

std::string untagged(Status status, std::string_view code, std::string_view text) {
  return line("*", status, code, text);
}

std::string untagged_data(std::string_view data) { return "* " + sanitise(data) + "\r\n"; }

std::string continuation(std::string_view text) { return "+ " + sanitise(text) + "\r\n"; }

std::string bad(const std::optional<std::string>& tag, std::string_view text) {
  if (tag) return tagged(*tag, Status::kBad, text);
  return untagged(Status::kBad, text);
}

std::string quoted(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string string_value(std::string_view value) {
  bool quotable = true;
  bool nul = false;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n' || u >= 0x80) quotable = false;
    if (c == '\0') nul = true;
  }
  if (nul) {
    std::string clean;
    for (char c : value) {
      if (c != '\0') clean += c;
    }
    return string_value(clean);
  }
  if (quotable) return quoted(value);
  // Appended piecewise: g++ 12 at -O3 warns falsely (-Wrestrict, GCC PR 105329) on "literal" + string&&.
  std::string out = "{";
  out += std::to_string(value.size());
  out += "}\r\n";
  out += value;
  return out;
}

std::string astring(std::string_view value) {
  bool atom = !value.empty() && !ascii::iequals(value, "NIL");
  for (char c : value) {
    if (!is_astring_char(c)) atom = false;
  }
  if (atom) return std::string(value);
  return string_value(value);
}

std::string auth_failure(std::string_view tag, const Error& error) {
  switch (error.code) {
    case Errc::kDenied:
      if (error.message == "encryption required") {
        return tagged(tag, Status::kNo, code::kPrivacyRequired,
                      "Plaintext authentication is not allowed without TLS");
      }
      return tagged(tag, Status::kNo, code::kAuthenticationFailed, "Authentication failed");
    case Errc::kUnavailable:
    case Errc::kInternal:
      return tagged(tag, Status::kNo, code::kUnavailable,
                    "Temporary authentication failure, try again later");
    case Errc::kInvalid:
      return tagged(tag, Status::kBad,
                    error.message.empty() ? std::string("Invalid authentication exchange")
                                          : "Invalid authentication exchange: " + error.message);
    case Errc::kNotFound:
      return tagged(tag, Status::kNo, code::kCannot, "Unsupported authentication mechanism");
    default:
      return tagged(tag, Status::kNo, code::kAuthenticationFailed, "Authentication failed");
  }
}

std::string store_failure(std::string_view tag, const Error& error, StoreCall call) {
  std::string_view c = code::kServerBug;
  switch (error.code) {
    case Errc::kNotFound: c = call == StoreCall::kDestination ? code::kTryCreate : code::kNonExistent; break;
    case Errc::kExists: c = code::kAlreadyExists; break;
    case Errc::kDenied: c = code::kNoPerm; break;
    case Errc::kOverQuota: c = code::kOverQuota; break;
    case Errc::kTooBig: c = code::kTooBig; break;
    case Errc::kInvalid: c = code::kCannot; break;
    case Errc::kConflict: c = call == StoreCall::kDelete ? code::kHasChildren : code::kInUse; break;
    case Errc::kUnavailable: c = code::kUnavailable; break;
    case Errc::kInternal: c = code::kServerBug; break;
  }
  const std::string_view text = error.message.empty() ? std::string_view("Failed") : std::string_view(error.message);
  return tagged(tag, Status::kNo, c, text);
}

}  // namespace posthorn::proto::imap
