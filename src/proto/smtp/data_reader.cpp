#include "proto/smtp/data_reader.hpp"

namespace posthorn::proto::smtp {

void DataReader::emit(char c) {
  ++size_;
  if (size_ <= max_size_) message_ += c;
}

// A byte inside a line (not a line start, not after a CR).
void DataReader::in_line(char c) {
  if (c == '\r') {
    state_ = State::kCr;
    return;
  }
  // An LF here had no CR before it: data, never a line end (line_ends_ flags it).
  emit(c);
  state_ = State::kMid;
}

std::size_t DataReader::feed(std::string_view bytes) {
  std::size_t i = 0;
  for (; i < bytes.size() && state_ != State::kDone; ++i) {
    const char c = bytes[i];
    switch (state_) {
      case State::kLineStart:
        // Only a CRLF (or the start of the data) makes a line start: after a bare LF the next dot
        // is ordinary data, so "\n.\r\n" never ends the message.
        if (c == '.') {
          state_ = State::kDot;
        } else {
          in_line(c);
        }
        break;
      case State::kDot:
        // A leading dot is dropped (it was stuffed, or is transparent data [§4.5.2]).
        if (c == '\r') {
          state_ = State::kDotCr;
        } else {
          in_line(c);
        }
        break;
      case State::kDotCr:
      case State::kCr:
        if (c == '\n') {
          if (state_ == State::kDotCr) {
            state_ = State::kDone;  // CRLF "." CRLF
            break;
          }
          emit('\r');
          emit('\n');
          state_ = State::kLineStart;
          break;
        }
        // A CR not followed by LF: a bare CR (line_ends_ flags it), kept as data.
        emit('\r');
        in_line(c);
        break;
      case State::kMid:
        in_line(c);
        break;
      case State::kDone:
        break;
    }
  }
  line_ends_.feed(bytes.substr(0, i));
  return i;
}

}  // namespace posthorn::proto::smtp
