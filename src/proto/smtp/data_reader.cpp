#include "proto/smtp/data_reader.hpp"

namespace posthorn::smtp {

void DataReader::emit(char c) {
  ++size_;
  if (size_ <= max_size_) message_ += c;
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
          break;
        }
        [[fallthrough]];
      case State::kMid:
        if (c == '\r') {
          state_ = State::kCr;
        } else {
          if (c == '\n') bare_lf_ = true;
          emit(c);
          state_ = State::kMid;
        }
        break;
      case State::kDot:
        // A leading dot is dropped (it was stuffed, or is transparent data [§4.5.2]).
        if (c == '\r') {
          state_ = State::kDotCr;
        } else {
          if (c == '\n') bare_lf_ = true;
          emit(c);
          state_ = State::kMid;
        }
        break;
      case State::kDotCr:
        if (c == '\n') {
          state_ = State::kDone;
          break;
        }
        // "." CR <not LF>: a bare CR, and data.
        bare_cr_ = true;
        emit('\r');
        if (c == '\r') {
          state_ = State::kCr;
        } else {
          emit(c);
          state_ = State::kMid;
        }
        break;
      case State::kCr:
        if (c == '\n') {
          emit('\r');
          emit('\n');
          state_ = State::kLineStart;
        } else {
          bare_cr_ = true;
          emit('\r');
          if (c != '\r') {
            emit(c);
            state_ = State::kMid;
          }
        }
        break;
      case State::kDone:
        break;
    }
  }
  return i;
}

}  // namespace posthorn::smtp
