// IMAP command parser, extension commands: GETQUOTA, GETQUOTAROOT, SETQUOTA [RFC 9208 §4.1, §7],
// COMPRESS [RFC 4978 §3] and REPLACE / UID REPLACE [RFC 8508 §6]. Part of parse_command (command.hpp);
// depends on the tokenizer (reader.hpp) and the shared grammar pieces (command_parts.hpp). Pure;
// thread-safe.
#include "base/ascii.hpp"
#include "proto/imap/command.hpp"
#include "proto/imap/command_parts.hpp"
#include "proto/imap/reader.hpp"

namespace posthorn::proto::imap::detail {

namespace {

// A SETQUOTA names each resource once; more than a few is not a real request.
constexpr size_t kMaxQuotaResources = 16;

}  // namespace

// GETQUOTA SP quota-root  (quota-root = astring)
ParseResult parse_getquota(Command cmd, Reader& in) {
  if (!in.sp()) return syntax(cmd.tag, "GETQUOTA needs a quota root");
  auto root = in.astring();
  if (!root || !in.at_end()) return syntax(cmd.tag, "Invalid quota root");
  cmd.args = GetQuota{std::move(*root)};
  return cmd;
}

// GETQUOTAROOT SP mailbox
ParseResult parse_getquotaroot(Command cmd, Reader& in) {
  if (!in.sp()) return syntax(cmd.tag, "GETQUOTAROOT needs a mailbox name");
  auto name = read_mailbox(in);
  if (!name || !in.at_end()) return syntax(cmd.tag, "Invalid mailbox name");
  cmd.args = GetQuotaRoot{std::move(*name)};
  return cmd;
}

// SETQUOTA SP quota-root SP "(" [setquota-resource *(SP setquota-resource)] ")"
// setquota-resource = resource-name SP resource-limit  (atom, number64)
ParseResult parse_setquota(Command cmd, Reader& in) {
  SetQuota args;
  if (!in.sp()) return syntax(cmd.tag, "SETQUOTA needs a quota root and a list of limits");
  auto root = in.astring();
  if (!root || !in.sp() || !in.consume('(')) return syntax(cmd.tag, "SETQUOTA needs a quota root and a list of limits");
  args.root = std::move(*root);
  for (bool first = true; !in.consume(')'); first = false) {
    if (!first && !in.sp()) return syntax(cmd.tag, "Invalid SETQUOTA limits");
    auto name = in.atom();
    if (!name || !in.sp()) return syntax(cmd.tag, "Invalid SETQUOTA resource");
    auto limit = in.number();
    if (!limit) return syntax(cmd.tag, "Invalid SETQUOTA limit");
    if (args.limits.size() >= kMaxQuotaResources) return syntax(cmd.tag, "Too many SETQUOTA resources");
    args.limits.emplace_back(ascii::upper(*name), *limit);
  }
  if (!in.at_end()) return syntax(cmd.tag, "Unexpected text after SETQUOTA limits");
  cmd.args = std::move(args);
  return cmd;
}

// COMPRESS SP algorithm  (algorithm = "DEFLATE"; others are the session's to refuse)
ParseResult parse_compress(Command cmd, Reader& in) {
  if (!in.sp()) return syntax(cmd.tag, "COMPRESS needs a mechanism");
  auto mech = in.atom();
  if (!mech || !in.at_end()) return syntax(cmd.tag, "Invalid COMPRESS mechanism");
  cmd.args = Compress{ascii::upper(*mech)};
  return cmd;
}

// [UID] REPLACE SP (seq-number / uid) SP mailbox SP append-message, where a seq-number is a single
// number (no "*" or set) [RFC 8508 §6].
ParseResult parse_replace(Command cmd, Reader& in, bool uid) {
  Replace args;
  args.uid = uid;
  if (!in.sp()) return syntax(cmd.tag, cmd.name + " needs a message, a mailbox and the new message");
  auto number = in.number();
  if (!number || *number == 0 || *number > 0xffffffffu) return syntax(cmd.tag, "Invalid message number");
  args.number = static_cast<uint32_t>(*number);
  if (!in.sp()) return syntax(cmd.tag, cmd.name + " needs a mailbox and the new message");
  auto name = read_mailbox(in);
  if (!name || !in.sp()) return syntax(cmd.tag, "Invalid mailbox name");
  args.mailbox = std::move(*name);
  auto item = read_append_item(in);
  if (!item) return syntax(cmd.tag, item.error().message);
  if (!in.at_end()) return syntax(cmd.tag, "REPLACE takes one message");
  args.message = std::move(*item);
  cmd.args = std::move(args);
  return cmd;
}

}  // namespace posthorn::proto::imap::detail
