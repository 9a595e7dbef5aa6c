#include "proto/imap/assembler.hpp"

#include <stdexcept>

#include "proto/imap/reader.hpp"

namespace posthorn::proto::imap {

Progress CommandAssembler::error(AssemblyError::Code code, bool must_close, std::string message) {
  Progress p;
  p.kind = Progress::Kind::kError;
  p.error.code = code;
  p.error.tag = tag_;
  p.error.must_close = must_close;
  p.error.message = std::move(message);
  reset();
  return p;
}

Progress CommandAssembler::feed_line(std::string_view line) {
  if (in_literal_ || complete_) throw std::logic_error("CommandAssembler: line fed out of order");
  if (!started_) {
    started_ = true;
    tag_ = leading_tag(line);
  }
  const auto literal = trailing_literal(line);
  // A line that announces a non-synchronizing literal is followed by its bytes at once.
  const bool bytes_coming = literal && !literal->synchronizing;
  // A line continues right after the previous literal's bytes (or starts the command).
  const uint64_t used = buffer_.size() + line.size();
  if (used > options_.max_command_size) {
    return error(AssemblyError::Code::kCommandTooBig, bytes_coming, "Command too long");
  }
  buffer_.append(line);
  if (!literal) {
    complete_ = true;
    return Progress::complete();
  }
  if (literal->size > options_.max_literal_size) {
    return error(AssemblyError::Code::kLiteralTooBig, bytes_coming, "Literal too big");
  }
  // Count the CRLF before the literal and the literal itself before reading a byte of it.
  if (options_.max_command_size - used < 2 || literal->size > options_.max_command_size - used - 2) {
    return error(AssemblyError::Code::kCommandTooBig, bytes_coming, "Command too long");
  }
  buffer_.append("\r\n");
  literal_remaining_ = literal->size;
  literal_size_ = literal->size;
  in_literal_ = true;
  return Progress::need_literal(literal->size, literal->synchronizing);
}

Progress CommandAssembler::feed_literal(std::string_view bytes) {
  if (!in_literal_ || bytes.size() > literal_remaining_) {
    throw std::logic_error("CommandAssembler: literal bytes fed out of order");
  }
  buffer_.append(bytes);
  literal_remaining_ -= bytes.size();
  if (literal_remaining_ > 0) {
    return Progress::need_literal(literal_remaining_, false);
  }
  in_literal_ = false;
  return Progress::need_line();
}

Progress CommandAssembler::literal_kept_elsewhere(bool has_nul) {
  if (!in_literal_ || literal_remaining_ != literal_size_) {
    throw std::logic_error("CommandAssembler: literal kept elsewhere out of order");
  }
  external_.push_back(ExternalLiteral{buffer_.size(), literal_size_, has_nul});
  literal_remaining_ = 0;
  in_literal_ = false;
  return Progress::need_line();
}

AssembledCommand CommandAssembler::take_command() {
  if (!complete_) throw std::logic_error("CommandAssembler: take() before the command is complete");
  AssembledCommand out{std::move(buffer_), std::move(external_)};
  reset();
  return out;
}

void CommandAssembler::reset() {
  buffer_.clear();
  tag_.reset();
  started_ = false;
  complete_ = false;
  literal_remaining_ = 0;
  literal_size_ = 0;
  in_literal_ = false;
  external_.clear();
}

}  // namespace posthorn::proto::imap
