// DataEncoder: message bytes into the form DATA or BDAT sends them [RFC 5321 §4.5.2, RFC 3030], the
// inverse of DataReader: every line end becomes CRLF (bare CR and bare LF too, so a message never
// carries one out: the SMTP smuggling vectors), and for DATA a leading dot is doubled and the
// ".\r\n" terminator added. Chunk by chunk, so a large message is never whole in memory.
// Pure: no sockets, no storage. Not thread-safe (one encoder per message).
#pragma once

#include <string>
#include <string_view>

namespace posthorn::proto::smtp {

// Streams message bytes into DATA or BDAT form: CRLF for every CRLF, bare CR and bare LF; with
// dot-stuffing a leading '.' is doubled. finish() ends the last line and, with dot-stuffing, adds
// the ".\r\n" terminator.
class DataEncoder {
 public:
  explicit DataEncoder(bool dot_stuff) : dot_stuff_(dot_stuff) {}
  void encode(std::string_view in, std::string& out);
  void finish(std::string& out);

 private:
  bool dot_stuff_;
  bool line_start_ = true;
  bool pending_cr_ = false;
};

}  // namespace posthorn::proto::smtp
