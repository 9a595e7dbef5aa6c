// LineEndCheck: finds bare CR and bare LF in message data fed in any chunking [RFC 5321 §2.3.8:
// CR and LF appear in SMTP data only together, as CRLF]. A CR at the end of one piece and an LF at
// the start of the next are one CRLF; a CR still waiting when the data ends is bare (finish()).
// DATA's DataReader and the BDAT chunks of a 7BIT/8BITMIME message both use it, so the two agree:
// the session refuses the message with 550 5.5.2 once all of it has been read. NUL octets are not
// line ends and are not flagged (they are data for DATA and BDAT alike). A BODY=BINARYMIME message
// [RFC 3030 §3] is binary and is not checked.
// Pure: no sockets, no storage. Not thread-safe (one per transaction).
#pragma once

#include <string_view>

namespace posthorn::proto::smtp {

class LineEndCheck {
 public:
  void feed(std::string_view bytes) {
    for (const char c : bytes) {
      if (c == '\n') {
        if (!cr_) bare_lf_ = true;
        cr_ = false;
        continue;
      }
      if (cr_) bare_cr_ = true;  // the CR before this byte had no LF
      cr_ = c == '\r';
    }
  }
  // The data ended: a CR without its LF is bare.
  void finish() {
    if (cr_) bare_cr_ = true;
    cr_ = false;
  }
  bool bare_cr() const { return bare_cr_; }
  bool bare_lf() const { return bare_lf_; }
  bool clean() const { return !bare_cr_ && !bare_lf_; }

 private:
  bool cr_ = false;  // the last byte fed was a CR
  bool bare_cr_ = false;
  bool bare_lf_ = false;
};

}  // namespace posthorn::proto::smtp
