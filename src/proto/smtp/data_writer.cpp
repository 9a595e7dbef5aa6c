#include "proto/smtp/data_writer.hpp"

namespace posthorn::proto::smtp {

void DataEncoder::encode(std::string_view in, std::string& out) {
  out.reserve(out.size() + in.size() + in.size() / 32 + 8);
  for (char c : in) {
    if (pending_cr_) {
      pending_cr_ = false;
      out += "\r\n";
      line_start_ = true;
      if (c == '\n') continue;  // CRLF
    }
    if (c == '\r') {
      pending_cr_ = true;
      continue;
    }
    if (c == '\n') {  // bare LF
      out += "\r\n";
      line_start_ = true;
      continue;
    }
    if (line_start_ && c == '.' && dot_stuff_) out += '.';
    out += c;
    line_start_ = false;
  }
}

void DataEncoder::finish(std::string& out) {
  if (pending_cr_) {
    pending_cr_ = false;
    out += "\r\n";
    line_start_ = true;
  }
  if (!line_start_) {
    out += "\r\n";
    line_start_ = true;
  }
  if (dot_stuff_) out += ".\r\n";
}

}  // namespace posthorn::proto::smtp
