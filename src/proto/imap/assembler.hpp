// CommandAssembler: puts one IMAP command together from the lines and literal bytes the session reads,
// with no I/O of its own. After a line ending in "{n}" or "{n+}" it asks for n literal bytes
// [RFC 9051 §4.3, §7.5; RFC 7888 LITERAL+]; the session sends "+ Ready for literal data" first when the
// literal is synchronizing, reads the bytes, feeds them, then feeds the next line. Enforces a limit on
// one literal and on the whole command before any literal byte is read, so a literal announced as
// 4 GB is refused up front. Not thread-safe; one per session.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/imap/reader.hpp"

namespace posthorn::proto::imap {

struct AssemblerOptions {
  uint64_t max_literal_size = 64 * 1024;  // bytes in one literal
  uint64_t max_command_size = 64 * 1024;  // lines + CRLFs + literals of one command
};

struct AssemblyError {
  enum class Code {
    kLiteralTooBig,  // one announced literal exceeds max_literal_size
    kCommandTooBig,  // the command (so far, plus an announced literal) exceeds max_command_size
  };
  Code code = Code::kCommandTooBig;
  std::optional<std::string> tag;  // the command's tag when its first line started with a valid one
  // True when the client is already sending the refused bytes (a non-synchronizing literal): the
  // stream cannot be resynchronised and the connection must be closed. False when the client waits
  // for a continuation (synchronizing literal) or nothing more belongs to the command: reply
  // "<tag> NO [TOOBIG]" (or BAD) and carry on with the next command.
  bool must_close = false;
  std::string message;  // client-safe text
};

struct Progress {
  enum class Kind {
    kNeedLine,     // feed the next line (without its CRLF)
    kNeedLiteral,  // read literal_size bytes and feed them (in any number of chunks)
    kComplete,     // take() the command
    kError,        // see error; the assembler has reset itself for the next command
  };
  Kind kind = Kind::kNeedLine;
  uint64_t literal_size = 0;   // kNeedLiteral: bytes still expected
  bool synchronizing = false;  // kNeedLiteral: send a continuation request before reading
  AssemblyError error;         // kError

  static Progress need_line() { return make(Kind::kNeedLine, 0, false); }
  static Progress need_literal(uint64_t size, bool synchronizing) {
    return make(Kind::kNeedLiteral, size, synchronizing);
  }
  static Progress complete() { return make(Kind::kComplete, 0, false); }

 private:
  static Progress make(Kind kind, uint64_t size, bool synchronizing) {
    Progress p;
    p.kind = kind;
    p.literal_size = size;
    p.synchronizing = synchronizing;
    return p;
  }
};

// An assembled command: its wire form and the literals kept outside it, by ascending offset.
struct AssembledCommand {
  std::string text;
  std::vector<ExternalLiteral> external;
};

class CommandAssembler {
 public:
  explicit CommandAssembler(AssemblerOptions options = {}) : options_(options) {}

  // Feeds one line without its CRLF. Only valid when the last Progress was kNeedLine (a fresh
  // assembler needs a line).
  Progress feed_line(std::string_view line);
  // Feeds literal bytes; at most the remaining literal size. Returns kNeedLiteral with the remaining
  // size until the literal is complete, then kNeedLine (a literal is always followed by a line).
  Progress feed_literal(std::string_view bytes);
  // Instead of feed_literal: the whole literal (none of it fed yet) was read and kept elsewhere by
  // the caller; the command gets an ExternalLiteral in its place. Returns kNeedLine.
  Progress literal_kept_elsewhere(bool has_nul);

  // The assembled command in wire form without the final CRLF: lines joined by CRLF, each literal's
  // bytes right after the CRLF of its announcing line (none for one kept elsewhere), and the literals
  // kept elsewhere. Resets the assembler.
  AssembledCommand take_command();
  // take_command().text, for a command with no literal kept elsewhere.
  std::string take() { return take_command().text; }
  // Forgets any partial command.
  void reset();

  // True when nothing of a command has been fed yet.
  bool idle() const { return buffer_.empty() && !started_; }
  const AssemblerOptions& options() const { return options_; }
  void set_options(AssemblerOptions options) { options_ = options; }

 private:
  Progress error(AssemblyError::Code code, bool must_close, std::string message);

  AssemblerOptions options_;
  std::string buffer_;
  std::optional<std::string> tag_;
  bool started_ = false;
  bool complete_ = false;
  uint64_t literal_remaining_ = 0;
  uint64_t literal_size_ = 0;
  bool in_literal_ = false;
  std::vector<ExternalLiteral> external_;
};

}  // namespace posthorn::proto::imap
