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
  DotStuffer stuffer;
  stuffer.feed(text, out);
  stuffer.finish(out);
  return out;
}

void DotStuffer::end_line(std::string& out) {
  out += "\r\n";
  const bool was_empty = line_empty_;
  line_start_ = true;
  line_empty_ = true;
  if (!body_lines_) return;
  if (in_body_) {
    if (++body_seen_ >= *body_lines_) done_ = true;
  } else if (was_empty) {  // the empty line that ends the header [RFC 5322 §2.1]
    in_body_ = true;
    if (*body_lines_ == 0) done_ = true;
  }
}

bool DotStuffer::feed(std::string_view piece, std::string& out) {
  size_t i = 0;
  while (i < piece.size() && !done_) {
    if (pending_cr_) {  // CR then LF is one line end; a bare CR ends the line too
      pending_cr_ = false;
      if (piece[i] == '\n') ++i;
      end_line(out);
      continue;
    }
    const char c = piece[i];
    if (c == '\r') {
      pending_cr_ = true;
      ++i;
      continue;
    }
    if (c == '\n') {  // bare LF
      ++i;
      end_line(out);
      continue;
    }
    if (line_start_ && c == '.') out += '.';
    line_start_ = false;
    line_empty_ = false;
    // The rest of the line up to the next CR or LF in one copy.
    size_t stop = piece.find_first_of("\r\n", i);
    if (stop == std::string_view::npos) stop = piece.size();
    out.append(piece.substr(i, stop - i));
    i = stop;
  }
  return !done_;
}

void DotStuffer::finish(std::string& out) {
  if (done_) return;
  if (pending_cr_ || !line_start_) {
    pending_cr_ = false;
    end_line(out);
  }
  done_ = true;
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

std::string maildrop_reply(const Error& error) {
  switch (error.code) {
    case Errc::kNotFound: return err("Message was removed by another session");
    case Errc::kUnavailable: return err("Mail storage temporarily unavailable", RespCode::kSysTemp);
    default: return err("Internal error, try again later", RespCode::kSysTemp);
  }
}

}  // namespace posthorn::proto::pop3
