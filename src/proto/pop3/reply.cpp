#include "proto/pop3/reply.hpp"

namespace posthorn::proto::pop3 {

std::string_view resp_code_name(RespCode code) {
  switch (code) {
    case RespCode::kNone: return "";
    case RespCode::kAuth: return "AUTH";
    case RespCode::kSysTemp: return "SYS/TEMP";
    case RespCode::kSysPerm: return "SYS/PERM";
    case RespCode::kInUse: return "IN-USE";
    case RespCode::kLoginDelay: return "LOGIN-DELAY";
  }
  return "";
}

std::string ok(std::string_view text) {
  std::string out = "+OK";
  if (!text.empty()) {
    out += ' ';
    out += text;
  }
  out += "\r\n";
  return out;
}

std::string err(std::string_view text, RespCode code) {
  std::string out = "-ERR";
  if (code != RespCode::kNone) {
    out += " [";
    out += resp_code_name(code);
    out += ']';
  }
  if (!text.empty()) {
    out += ' ';
    out += text;
  }
  out += "\r\n";
  return out;
}

std::string continuation(std::string_view base64_text) {
  std::string out = "+ ";
  out += base64_text;
  out += "\r\n";
  return out;
}

std::string multiline(std::string_view first, const std::vector<std::string>& lines) {
  std::string out = ok(first);
  for (const std::string& line : lines) {
    if (line.starts_with('.')) out += '.';
    out += line;
    out += "\r\n";
  }
  out += ".\r\n";
  return out;
}

std::string dot_stuff(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 64 + 2);
  bool line_start = true;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (line_start && c == '.') out += '.';
    line_start = false;
    if (c == '\n') {
      if (out.empty() || out.back() != '\r') out += '\r';  // bare LF -> CRLF
      out += '\n';
      line_start = true;
      continue;
    }
    out += c;
  }
  if (!line_start) out += out.back() == '\r' ? "\n" : "\r\n";  // final line without a newline
  return out;
}

std::string to_reply(const Error& error) {
  switch (error.code) {
    case Errc::kDenied:
      if (error.message == "encryption required") return std::string(kEncryptionRequired);
      return std::string(kAuthFailed);
    case Errc::kUnavailable: return err("Temporary failure, try again later", RespCode::kSysTemp);
    case Errc::kInvalid: return err("Malformed authentication exchange");
    case Errc::kNotFound: return err("Unsupported authentication mechanism");
    default: return err("Internal error, try again later", RespCode::kSysTemp);
  }
}

}  // namespace posthorn::proto::pop3
