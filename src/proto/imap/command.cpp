#include "proto/imap/command.hpp"

#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "proto/imap/command_parts.hpp"
#include "proto/imap/datetime.hpp"
#include "proto/imap/reader.hpp"

namespace posthorn::proto::imap {

using detail::read_flag_list;
using detail::read_mailbox;
using detail::read_sequence_set;
using detail::syntax;

namespace {

constexpr size_t kMaxIdParams = 30;  // [RFC 2971 §3.3]
constexpr size_t kMaxListPatterns = 100;

// Commands without arguments: nothing may follow the name.
ParseResult no_arguments(Command cmd, const Reader& in) {
  if (!in.at_end()) return syntax(cmd.tag, cmd.name + " takes no arguments");
  return cmd;
}

// AUTHENTICATE SP auth-type [SP (base64 / "=")]  [RFC 9051 §9, RFC 4959 §3]
ParseResult parse_authenticate(Command cmd, Reader& in) {
  if (!in.sp()) return syntax(cmd.tag, "AUTHENTICATE needs a mechanism");
  auto mech = in.atom();
  if (!mech) return syntax(cmd.tag, "Invalid mechanism name");
  Authenticate args{ascii::upper(*mech), std::nullopt};
  if (!in.at_end()) {
    if (!in.sp()) return syntax(cmd.tag, "Invalid mechanism name");
    auto text = in.base64_text();
    if (!text || !in.at_end()) return syntax(cmd.tag, "Invalid initial response");
    if (*text == "=") {
      args.initial_response = std::string();
    } else {
      auto decoded = base64::decode(*text);
      if (!decoded) return syntax(cmd.tag, "Invalid base64 in initial response");
      args.initial_response = std::move(*decoded);
    }
  }
  cmd.args = std::move(args);
  return cmd;
}

// LOGIN SP userid SP password  [RFC 9051 §6.2.3]
ParseResult parse_login(Command cmd, Reader& in) {
  if (!in.sp()) return syntax(cmd.tag, "LOGIN needs a user name and a password");
  auto user = in.astring();
  if (!user) return syntax(cmd.tag, "Invalid user name: " + user.error().message);
  if (!in.sp()) return syntax(cmd.tag, "LOGIN needs a user name and a password");
  auto password = in.astring();
  if (!password) return syntax(cmd.tag, "Invalid password: " + password.error().message);
  if (!in.at_end()) return syntax(cmd.tag, "Unexpected text after the password");
  cmd.args = Login{std::move(*user), std::move(*password)};
  return cmd;
}


// Commands taking exactly one mailbox: DELETE, SUBSCRIBE, UNSUBSCRIBE.
Result<std::string> only_mailbox(const Command& cmd, Reader& in) {
  if (!in.sp()) return make_error(Errc::kInvalid, cmd.name + " needs a mailbox name");
  auto name = read_mailbox(in);
  if (!name) return name.error();
  if (!in.at_end()) return make_error(Errc::kInvalid, "Unexpected text after the mailbox name");
  return name;
}

// ENABLE SP capability *(SP capability) [RFC 5161]
ParseResult parse_enable(Command cmd, Reader& in) {
  Enable args;
  while (!in.at_end()) {
    if (!in.sp()) return syntax(cmd.tag, "Invalid ENABLE arguments");
    auto cap = in.atom();
    if (!cap) return syntax(cmd.tag, "Invalid capability name");
    args.capabilities.push_back(ascii::upper(*cap));
  }
  if (args.capabilities.empty()) return syntax(cmd.tag, "ENABLE needs a capability");
  cmd.args = std::move(args);
  return cmd;
}



// SELECT/EXAMINE mailbox [SP "(" select-param *(SP select-param) ")"] [RFC 7162 §3.1.8, §3.2.5]
ParseResult parse_select(Command cmd, Reader& in, bool read_only) {
  Select args;
  args.read_only = read_only;
  if (!in.sp()) return syntax(cmd.tag, cmd.name + " needs a mailbox name");
  auto name = read_mailbox(in);
  if (!name) return syntax(cmd.tag, "Invalid mailbox name");
  args.mailbox = std::move(*name);
  if (!in.at_end()) {
    if (!in.sp() || !in.consume('(')) return syntax(cmd.tag, "Invalid SELECT parameters");
    for (bool first = true; !in.consume(')'); first = false) {
      if (!first && !in.sp()) return syntax(cmd.tag, "Invalid SELECT parameters");
      if (in.consume_word("CONDSTORE")) {
        args.condstore = true;
      } else if (in.consume_word("QRESYNC")) {
        QresyncParams q;
        if (!in.sp() || !in.consume('(')) return syntax(cmd.tag, "Invalid QRESYNC parameters");
        auto validity = in.number();
        if (!validity || *validity == 0 || *validity > 0xffffffffu || !in.sp()) {
          return syntax(cmd.tag, "Invalid QRESYNC UIDVALIDITY");
        }
        q.uid_validity = static_cast<uint32_t>(*validity);
        auto modseq = in.number();
        if (!modseq || *modseq == 0) return syntax(cmd.tag, "Invalid QRESYNC modseq");
        q.modseq = *modseq;
        if (in.sp()) {
          if (in.peek() != '(') {
            auto known = read_sequence_set(in);
            if (!known || known->saved) return syntax(cmd.tag, "Invalid QRESYNC known UIDs");
            q.known_uids = std::move(*known);
            if (!in.at_end() && in.peek() == ' ') {
              if (!in.sp()) return syntax(cmd.tag, "Invalid QRESYNC parameters");
            }
          }
          if (in.consume('(')) {
            auto seqs = read_sequence_set(in);
            if (!seqs || seqs->saved || !in.sp()) return syntax(cmd.tag, "Invalid QRESYNC sequence match data");
            auto uids = read_sequence_set(in);
            if (!uids || uids->saved || !in.consume(')')) {
              return syntax(cmd.tag, "Invalid QRESYNC sequence match data");
            }
            q.seq_match_seqs = std::move(*seqs);
            q.seq_match_uids = std::move(*uids);
          }
        }
        if (!in.consume(')')) return syntax(cmd.tag, "Invalid QRESYNC parameters");
        args.qresync = std::move(q);
      } else {
        return syntax(cmd.tag, "Unknown SELECT parameter");
      }
      if (in.at_end()) return syntax(cmd.tag, "Unterminated SELECT parameters");
    }
    if (!in.at_end()) return syntax(cmd.tag, "Unexpected text after SELECT parameters");
  }
  cmd.args = std::move(args);
  return cmd;
}

// CREATE mailbox [SP "(" "USE" SP "(" use-attr *(SP use-attr) ")" ")"] [RFC 6154 §6]
ParseResult parse_create(Command cmd, Reader& in) {
  Create args;
  if (!in.sp()) return syntax(cmd.tag, "CREATE needs a mailbox name");
  auto name = read_mailbox(in);
  if (!name) return syntax(cmd.tag, "Invalid mailbox name");
  args.mailbox = std::move(*name);
  if (!in.at_end()) {
    if (!in.sp() || !in.consume('(') || !in.consume_word("USE") || !in.sp()) {
      return syntax(cmd.tag, "Invalid CREATE parameters");
    }
    auto uses = read_flag_list(in);
    if (!uses || !in.consume(')') || !in.at_end()) return syntax(cmd.tag, "Invalid USE attributes");
    args.use = std::move(*uses);
  }
  cmd.args = std::move(args);
  return cmd;
}

ParseResult parse_rename(Command cmd, Reader& in) {
  if (!in.sp()) return syntax(cmd.tag, "RENAME needs two mailbox names");
  auto from = read_mailbox(in);
  if (!from || !in.sp()) return syntax(cmd.tag, "RENAME needs two mailbox names");
  auto to = read_mailbox(in);
  if (!to || !in.at_end()) return syntax(cmd.tag, "Invalid RENAME arguments");
  cmd.args = Rename{std::move(*from), std::move(*to)};
  return cmd;
}

bool is_list_char(char c) { return is_atom_char(c) || c == '%' || c == '*' || c == ']'; }

// list-mailbox = 1*list-char / string
Result<std::string> read_list_mailbox(Reader& in) {
  if (in.peek() == '"' || in.peek() == '{') return in.string();
  const std::string_view text = in.take_while(is_list_char);
  if (text.empty()) return make_error(Errc::kInvalid, "Expected a mailbox pattern");
  return std::string(text);
}

Result<StatusItem> read_status_item(Reader& in) {
  static constexpr std::pair<std::string_view, StatusItem> kItems[] = {
      {"MESSAGES", StatusItem::kMessages},       {"RECENT", StatusItem::kRecent},
      {"UIDNEXT", StatusItem::kUidNext},         {"UIDVALIDITY", StatusItem::kUidValidity},
      {"UNSEEN", StatusItem::kUnseen},           {"DELETED", StatusItem::kDeleted},
      {"SIZE", StatusItem::kSize},               {"HIGHESTMODSEQ", StatusItem::kHighestModSeq},
      {"APPENDLIMIT", StatusItem::kAppendLimit}, {"DELETED-STORAGE", StatusItem::kDeletedStorage},
  };
  auto word = in.atom();
  if (!word) return word.error();
  for (const auto& [name, item] : kItems) {
    if (ascii::iequals(*word, name)) return item;
  }
  return make_error(Errc::kInvalid, "Unknown status item " + *word);
}

// "(" status-att *(SP status-att) ")"
Result<std::vector<StatusItem>> read_status_items(Reader& in) {
  if (!in.consume('(')) return make_error(Errc::kInvalid, "Expected a list of status items");
  std::vector<StatusItem> items;
  for (bool first = true; !in.consume(')'); first = false) {
    if (!first && !in.sp()) return make_error(Errc::kInvalid, "Invalid list of status items");
    auto item = read_status_item(in);
    if (!item) return item.error();
    items.push_back(*item);
  }
  if (items.empty()) return make_error(Errc::kInvalid, "Empty list of status items");
  return items;
}

// LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]  [RFC 5258 §6]
ParseResult parse_list(Command cmd, Reader& in, bool lsub) {
  List args;
  args.lsub = lsub;
  if (!in.sp()) return syntax(cmd.tag, cmd.name + " needs a reference and a pattern");
  if (!lsub && in.consume('(')) {
    args.extended = true;
    for (bool first = true; !in.consume(')'); first = false) {
      if (!first && !in.sp()) return syntax(cmd.tag, "Invalid LIST selection options");
      if (in.consume_word("SUBSCRIBED")) {
        args.select_subscribed = true;
      } else if (in.consume_word("REMOTE")) {
        args.select_remote = true;
      } else if (in.consume_word("RECURSIVEMATCH")) {
        args.select_recursive = true;
      } else if (in.consume_word("SPECIAL-USE")) {
        args.select_special_use = true;
      } else {
        return syntax(cmd.tag, "Unknown LIST selection option");
      }
    }
    // RECURSIVEMATCH alone is an error [RFC 5258 §3].
    if (args.select_recursive && !args.select_subscribed && !args.select_special_use) {
      return syntax(cmd.tag, "RECURSIVEMATCH needs another selection option");
    }
    if (!in.sp()) return syntax(cmd.tag, "LIST needs a reference and a pattern");
  }
  auto reference = read_mailbox(in);
  if (!reference || !in.sp()) return syntax(cmd.tag, "Invalid LIST reference");
  args.reference = std::move(*reference);
  if (!lsub && in.consume('(')) {
    args.extended = true;
    for (bool first = true; !in.consume(')'); first = false) {
      if (!first && !in.sp()) return syntax(cmd.tag, "Invalid LIST patterns");
      auto pattern = read_list_mailbox(in);
      if (!pattern) return syntax(cmd.tag, "Invalid LIST pattern");
      args.patterns.push_back(std::move(*pattern));
      if (args.patterns.size() > kMaxListPatterns) return syntax(cmd.tag, "Too many LIST patterns");
    }
    if (args.patterns.empty()) return syntax(cmd.tag, "Empty LIST pattern list");
  } else {
    auto pattern = read_list_mailbox(in);
    if (!pattern) return syntax(cmd.tag, "Invalid LIST pattern");
    args.patterns.push_back(std::move(*pattern));
  }
  if (!in.at_end()) {
    if (lsub || !in.sp() || !in.consume_word("RETURN") || !in.sp() || !in.consume('(')) {
      return syntax(cmd.tag, "Unexpected text after the LIST pattern");
    }
    args.extended = true;
    for (bool first = true; !in.consume(')'); first = false) {
      if (!first && !in.sp()) return syntax(cmd.tag, "Invalid LIST return options");
      if (in.consume_word("SUBSCRIBED")) {
        args.return_subscribed = true;
      } else if (in.consume_word("CHILDREN")) {
        args.return_children = true;
      } else if (in.consume_word("SPECIAL-USE")) {
        args.return_special_use = true;
      } else if (in.consume_word("STATUS")) {
        if (!in.sp()) return syntax(cmd.tag, "STATUS needs a list of items");
        auto items = read_status_items(in);
        if (!items) return syntax(cmd.tag, items.error().message);
        args.return_status = std::move(*items);
      } else {
        return syntax(cmd.tag, "Unknown LIST return option");
      }
      if (in.at_end()) return syntax(cmd.tag, "Unterminated LIST return options");
    }
    if (!in.at_end()) return syntax(cmd.tag, "Unexpected text after LIST return options");
  }
  cmd.args = std::move(args);
  return cmd;
}

// STATUS SP mailbox SP "(" status-att *(SP status-att) ")"
ParseResult parse_status(Command cmd, Reader& in) {
  if (!in.sp()) return syntax(cmd.tag, "STATUS needs a mailbox and items");
  auto name = read_mailbox(in);
  if (!name || !in.sp()) return syntax(cmd.tag, "STATUS needs a mailbox and items");
  auto items = read_status_items(in);
  if (!items) return syntax(cmd.tag, items.error().message);
  if (!in.at_end()) return syntax(cmd.tag, "Unexpected text after STATUS items");
  cmd.args = StatusCmd{std::move(*name), std::move(*items)};
  return cmd;
}

// APPEND SP mailbox 1*(SP [flag-list SP] [date-time SP] append-data)  [RFC 3502, RFC 3516, RFC 6855]
ParseResult parse_append(Command cmd, Reader& in) {
  Append args;
  if (!in.sp()) return syntax(cmd.tag, "APPEND needs a mailbox and a message");
  auto name = read_mailbox(in);
  if (!name) return syntax(cmd.tag, "Invalid mailbox name");
  args.mailbox = std::move(*name);
  while (!in.at_end()) {
    if (!in.sp()) return syntax(cmd.tag, "Invalid APPEND arguments");
    auto item = detail::read_append_item(in);
    if (!item) return syntax(cmd.tag, item.error().message);
    args.messages.push_back(std::move(*item));
  }
  if (args.messages.empty()) return syntax(cmd.tag, "APPEND needs a message");
  cmd.args = std::move(args);
  return cmd;
}

// ID SP ("(" string SP nstring *(SP string SP nstring) ")" / NIL)  [RFC 2971]
ParseResult parse_id(Command cmd, Reader& in) {
  Id args;
  if (!in.sp()) return syntax(cmd.tag, "ID needs a parameter list or NIL");
  if (in.consume_word("NIL")) {
    if (!in.at_end()) return syntax(cmd.tag, "Unexpected text after NIL");
    cmd.args = std::move(args);
    return cmd;
  }
  if (!in.consume('(')) return syntax(cmd.tag, "ID needs a parameter list or NIL");
  for (bool first = true; !in.consume(')'); first = false) {
    if (!first && !in.sp()) return syntax(cmd.tag, "Invalid ID parameter list");
    auto key = in.string();
    if (!key || !in.sp()) return syntax(cmd.tag, "Invalid ID field name");
    auto value = in.nstring();
    if (!value) return syntax(cmd.tag, "Invalid ID field value");
    if (args.params.size() >= kMaxIdParams) return syntax(cmd.tag, "Too many ID fields");
    args.params.emplace_back(std::move(*key), std::move(*value));
  }
  if (!in.at_end()) return syntax(cmd.tag, "Unexpected text after the ID list");
  cmd.args = std::move(args);
  return cmd;
}

// SEARCH / SORT / THREAD: keep the raw arguments.
ParseResult parse_search(Command cmd, Reader& in, bool uid) {
  if (!in.sp()) return syntax(cmd.tag, cmd.name + " needs arguments");
  cmd.args = Search{std::string(in.rest()), uid};
  return cmd;
}

// CANCELUPDATE SP tag-string *(SP tag-string) [RFC 5267 §5]; tag-string is a string.
ParseResult parse_cancel_update(Command cmd, Reader& in) {
  CancelUpdate args;
  while (!in.at_end()) {
    if (!in.sp()) return syntax(cmd.tag, "CANCELUPDATE needs search tags");
    auto t = in.string();
    if (!t) return syntax(cmd.tag, "Invalid search tag");
    args.tags.push_back(std::move(*t));
  }
  if (args.tags.empty()) return syntax(cmd.tag, "CANCELUPDATE needs search tags");
  cmd.args = std::move(args);
  return cmd;
}

// UID SP (COPY / MOVE / FETCH / SEARCH / STORE / EXPUNGE / SORT / THREAD) ...
ParseResult parse_uid(Command cmd, Reader& in) {
  if (!in.sp()) return syntax(cmd.tag, "UID needs a command");
  auto sub = in.atom();
  if (!sub) return syntax(cmd.tag, "UID needs a command");
  const std::string name = ascii::upper(*sub);
  cmd.name = "UID " + name;
  if (name == "FETCH") return detail::parse_fetch(std::move(cmd), in, true);
  if (name == "STORE") return detail::parse_store(std::move(cmd), in, true);
  if (name == "COPY") return detail::parse_copy(std::move(cmd), in, true, false);
  if (name == "MOVE") return detail::parse_copy(std::move(cmd), in, true, true);
  if (name == "SEARCH" || name == "SORT" || name == "THREAD") return parse_search(std::move(cmd), in, true);
  if (name == "REPLACE") return detail::parse_replace(std::move(cmd), in, true);
  if (name == "EXPUNGE") {
    if (!in.sp()) return syntax(cmd.tag, "UID EXPUNGE needs a UID set");
    auto set = read_sequence_set(in);
    if (!set || !in.at_end()) return syntax(cmd.tag, "Invalid UID set");
    cmd.args = Expunge{std::move(*set)};
    return cmd;
  }
  return syntax(cmd.tag, "Unknown UID command");
}

}  // namespace

namespace detail {

Result<AppendItem> read_append_item(Reader& in) {
  auto invalid = [](const char* text) { return make_error(Errc::kInvalid, text); };
  AppendItem item;
  if (in.peek() == '(') {
    auto flags = read_flag_list(in);
    if (!flags || !in.sp()) return invalid("Invalid APPEND flags");
    item.flags = std::move(*flags);
  }
  if (in.peek() == '"') {
    auto text = in.quoted();
    if (!text) return invalid("Invalid APPEND date");
    auto date = parse_date_time(*text);
    if (!date || !in.sp()) return invalid("Invalid APPEND date");
    item.internal_date = *date;
  }
  auto take = [&item](LiteralRef& literal) {
    item.bytes = std::move(literal.bytes);
    item.external = literal.external;
    item.size = literal.size;
  };
  if (in.peek() == '{') {
    auto bytes = in.message_literal(false);
    if (!bytes) return invalid("APPEND needs the message as a literal");
    take(*bytes);
  } else if (in.peek() == '~') {
    auto bytes = in.message_literal(true);
    if (!bytes) return invalid("Invalid literal8");
    take(*bytes);
    item.binary = true;
  } else if (in.consume_word("UTF8")) {  // UTF8 (literal8) [RFC 6855 §4]
    if (!in.sp() || !in.consume('(')) return invalid("Invalid UTF8 APPEND data");
    auto bytes = in.message_literal(true);
    if (!bytes || !in.consume(')')) return invalid("Invalid UTF8 APPEND data");
    take(*bytes);
  } else {
    return invalid("APPEND needs the message as a literal");
  }
  return item;
}

}  // namespace detail

namespace {

ParseResult parse_from(Reader& in) {
  auto tag = in.tag();
  if (!tag) return syntax(std::nullopt, tag.error().message);
  Command cmd{*tag, {}, Unknown{}};
  if (!in.sp()) return syntax(cmd.tag, "Missing command");
  auto name = in.atom();
  if (!name) return syntax(cmd.tag, "Missing or invalid command name");
  cmd.name = ascii::upper(*name);
  if (!in.at_end() && in.peek() != ' ') return syntax(cmd.tag, "Invalid command name");

  if (cmd.name == "CAPABILITY") {
    cmd.args = Capability{};
    return no_arguments(std::move(cmd), in);
  }
  if (cmd.name == "NOOP") {
    cmd.args = Noop{};
    return no_arguments(std::move(cmd), in);
  }
  if (cmd.name == "LOGOUT") {
    cmd.args = Logout{};
    return no_arguments(std::move(cmd), in);
  }
  if (cmd.name == "STARTTLS") {
    cmd.args = StartTls{};
    return no_arguments(std::move(cmd), in);
  }
  if (cmd.name == "AUTHENTICATE") return parse_authenticate(std::move(cmd), in);
  if (cmd.name == "LOGIN") return parse_login(std::move(cmd), in);
  if (cmd.name == "ENABLE") return parse_enable(std::move(cmd), in);
  if (cmd.name == "SELECT") return parse_select(std::move(cmd), in, false);
  if (cmd.name == "EXAMINE") return parse_select(std::move(cmd), in, true);
  if (cmd.name == "CREATE") return parse_create(std::move(cmd), in);
  if (cmd.name == "DELETE" || cmd.name == "SUBSCRIBE" || cmd.name == "UNSUBSCRIBE") {
    auto name = only_mailbox(cmd, in);
    if (!name) return syntax(cmd.tag, name.error().message);
    if (cmd.name == "DELETE") {
      cmd.args = Delete{std::move(*name)};
    } else {
      cmd.args = Subscribe{std::move(*name), cmd.name == "SUBSCRIBE"};
    }
    return cmd;
  }
  if (cmd.name == "RENAME") return parse_rename(std::move(cmd), in);
  if (cmd.name == "LIST") return parse_list(std::move(cmd), in, false);
  if (cmd.name == "LSUB") return parse_list(std::move(cmd), in, true);
  if (cmd.name == "STATUS") return parse_status(std::move(cmd), in);
  if (cmd.name == "APPEND") return parse_append(std::move(cmd), in);
  if (cmd.name == "ID") return parse_id(std::move(cmd), in);
  if (cmd.name == "FETCH") return detail::parse_fetch(std::move(cmd), in, false);
  if (cmd.name == "STORE") return detail::parse_store(std::move(cmd), in, false);
  if (cmd.name == "COPY") return detail::parse_copy(std::move(cmd), in, false, false);
  if (cmd.name == "MOVE") return detail::parse_copy(std::move(cmd), in, false, true);
  if (cmd.name == "SEARCH" || cmd.name == "SORT" || cmd.name == "THREAD") {
    return parse_search(std::move(cmd), in, false);
  }
  if (cmd.name == "UID") return parse_uid(std::move(cmd), in);
  if (cmd.name == "CANCELUPDATE") return parse_cancel_update(std::move(cmd), in);
  if (cmd.name == "GETQUOTA") return detail::parse_getquota(std::move(cmd), in);
  if (cmd.name == "GETQUOTAROOT") return detail::parse_getquotaroot(std::move(cmd), in);
  if (cmd.name == "SETQUOTA") return detail::parse_setquota(std::move(cmd), in);
  if (cmd.name == "COMPRESS") return detail::parse_compress(std::move(cmd), in);
  if (cmd.name == "REPLACE") return detail::parse_replace(std::move(cmd), in, false);
  struct NoArg {
    std::string_view name;
    CommandArgs args;
  };
  const NoArg no_args[] = {{"NAMESPACE", Namespace{}}, {"IDLE", Idle{}},         {"CHECK", Check{}},
                           {"CLOSE", Close{}},         {"UNSELECT", Unselect{}}, {"EXPUNGE", Expunge{}},
                           {"UNAUTHENTICATE", Unauthenticate{}}};
  for (const auto& n : no_args) {
    if (cmd.name == n.name) {
      cmd.args = n.args;
      return no_arguments(std::move(cmd), in);
    }
  }
  cmd.args = Unknown{cmd.name};
  return cmd;
}

}  // namespace

ParseResult parse_command(std::string_view text) {
  Reader in(text);
  return parse_from(in);
}

ParseResult parse_command(const AssembledCommand& command) {
  Reader in(command.text, command.external);
  auto parsed = parse_from(in);
  // A literal kept elsewhere stands for a message of APPEND or REPLACE and nothing else.
  if (parsed && in.external_read() != command.external.size()) return syntax(parsed->tag, "Literal too big here");
  return parsed;
}

std::string_view status_item_name(StatusItem item) {
  switch (item) {
    case StatusItem::kMessages: return "MESSAGES";
    case StatusItem::kRecent: return "RECENT";
    case StatusItem::kUidNext: return "UIDNEXT";
    case StatusItem::kUidValidity: return "UIDVALIDITY";
    case StatusItem::kUnseen: return "UNSEEN";
    case StatusItem::kDeleted: return "DELETED";
    case StatusItem::kSize: return "SIZE";
    case StatusItem::kHighestModSeq: return "HIGHESTMODSEQ";
    case StatusItem::kAppendLimit: return "APPENDLIMIT";
    case StatusItem::kDeletedStorage: return "DELETED-STORAGE";
  }
  return "MESSAGES";
}

}  // namespace posthorn::proto::imap
