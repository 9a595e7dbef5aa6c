// Internal to the IMAP command parser (command.cpp, command_fetch.cpp): grammar pieces both files use.
// Not part of the proto/imap interface. Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "proto/imap/command.hpp"
#include "proto/imap/reader.hpp"

namespace posthorn::proto::imap::detail {

inline SyntaxError syntax(const std::optional<std::string>& tag, std::string message) {
  return SyntaxError{tag, std::move(message)};
}

// sequence-set (or "$") as the next token.
Result<SequenceSet> read_sequence_set(Reader& in);
// flag = "\\" atom / atom (keyword).
Result<std::string> read_flag(Reader& in);
// flag-list = "(" [flag *(SP flag)] ")"
Result<std::vector<std::string>> read_flag_list(Reader& in);
// mailbox = astring (any case of INBOX is left to the session).
Result<std::string> read_mailbox(Reader& in);

ParseResult parse_fetch(Command cmd, Reader& in, bool uid);
ParseResult parse_store(Command cmd, Reader& in, bool uid);
ParseResult parse_copy(Command cmd, Reader& in, bool uid, bool move);

// command.cpp: the message part of APPEND: [flag-list SP] [date-time SP] append-data.
Result<AppendItem> read_append_item(Reader& in);

// command_ext.cpp
ParseResult parse_getquota(Command cmd, Reader& in);
ParseResult parse_getquotaroot(Command cmd, Reader& in);
ParseResult parse_setquota(Command cmd, Reader& in);
ParseResult parse_compress(Command cmd, Reader& in);
ParseResult parse_replace(Command cmd, Reader& in, bool uid);

}  // namespace posthorn::proto::imap::detail
