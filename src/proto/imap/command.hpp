// IMAP command parser: one assembled command (CommandAssembler::take()) in, a typed Command or a
// SyntaxError out [RFC 9051 §6, §9, and the extensions named at each struct]. Commands this parser does
// not know come back as Unknown carrying their name, so the session can answer honestly. For SEARCH,
// SORT and THREAD only the raw argument text is kept (the search engine parses it). Mailbox names stay
// in wire form: the session decodes them (mutf7.hpp) because the encoding depends on ENABLE.
// Implementation split: command.cpp (dispatch, pre-login and mailbox commands), command_fetch.cpp
// (FETCH, STORE, COPY/MOVE, UID), command_ext.cpp (QUOTA, COMPRESS, REPLACE). Pure; thread-safe.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "proto/imap/assembler.hpp"
#include "proto/imap/sequence_set.hpp"

namespace posthorn::proto::imap {

// CAPABILITY [RFC 9051 §6.1.1]
struct Capability {};
// NOOP [RFC 9051 §6.1.2]
struct Noop {};
// LOGOUT [RFC 9051 §6.1.3]
struct Logout {};
// STARTTLS [RFC 9051 §6.2.1]
struct StartTls {};
// AUTHENTICATE <mechanism> [initial-response] [RFC 9051 §6.2.2, RFC 4959 SASL-IR]
struct Authenticate {
  std::string mechanism;                        // upper-cased
  std::optional<std::string> initial_response;  // decoded; "=" on the wire is an empty response
};
// LOGIN <userid> <password> (astrings) [RFC 9051 §6.2.3]
struct Login {
  std::string userid;
  std::string password;
};
// ENABLE capability... [RFC 5161]
struct Enable {
  std::vector<std::string> capabilities;  // upper-cased
};
// QRESYNC parameters of SELECT/EXAMINE [RFC 7162 §3.2.5]
struct QresyncParams {
  uint32_t uid_validity = 0;
  uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;
  std::optional<SequenceSet> seq_match_seqs;  // (known-sequence-set known-uid-set)
  std::optional<SequenceSet> seq_match_uids;
};
// SELECT / EXAMINE mailbox [(CONDSTORE) | (QRESYNC (...))] [RFC 9051 §6.3.2-3, RFC 7162]
struct Select {
  std::string mailbox;  // as on the wire (modified UTF-7 or UTF-8); see mutf7.hpp
  bool read_only = false;  // EXAMINE
  bool condstore = false;
  std::optional<QresyncParams> qresync;
};
// CREATE mailbox [(USE (\Sent ...))] [RFC 9051 §6.3.4, RFC 6154 §3]
struct Create {
  std::string mailbox;
  std::vector<std::string> use;  // special-use attributes as written ("\\Sent")
};
struct Delete {
  std::string mailbox;
};
struct Rename {
  std::string from;
  std::string to;
};
// SUBSCRIBE / UNSUBSCRIBE
struct Subscribe {
  std::string mailbox;
  bool subscribe = true;
};
enum class StatusItem : uint8_t {
  kMessages, kRecent, kUidNext, kUidValidity, kUnseen, kDeleted, kSize, kHighestModSeq, kAppendLimit,
  kDeletedStorage,  // [RFC 9208 §4.3]
};
std::string_view status_item_name(StatusItem item);
// LIST / LSUB [RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154]
struct List {
  bool lsub = false;
  bool extended = false;  // selection or return options or several patterns were given
  // selection options
  bool select_subscribed = false;
  bool select_remote = false;
  bool select_recursive = false;
  bool select_special_use = false;
  std::string reference;
  std::vector<std::string> patterns;  // as on the wire
  // return options
  bool return_subscribed = false;
  bool return_children = false;
  bool return_special_use = false;
  std::optional<std::vector<StatusItem>> return_status;
};
struct Namespace {};
// STATUS mailbox (items) [RFC 9051 §6.3.11]
struct StatusCmd {
  std::string mailbox;
  std::vector<StatusItem> items;
};
// One message of APPEND [RFC 9051 §6.3.12, RFC 3502 MULTIAPPEND, RFC 3516 BINARY, RFC 6855 UTF8].
struct AppendItem {
  std::vector<std::string> flags;  // as written ("\\Seen", "$Label")
  std::optional<int64_t> internal_date;
  std::string bytes;     // empty when the literal was kept elsewhere
  std::optional<std::size_t> external;  // index of the ExternalLiteral holding it (a spooled message)
  uint64_t size = 0;     // bytes of the message either way
  bool binary = false;   // sent as literal8 (~{n})
};
struct Append {
  std::string mailbox;
  std::vector<AppendItem> messages;  // one, or several with MULTIAPPEND
};
struct Idle {};
struct Check {};
struct Close {};
struct Unselect {};
// EXPUNGE, or UID EXPUNGE set [RFC 4315]
struct Expunge {
  std::optional<SequenceSet> uids;
};

// A BODY[...] / BINARY[...] section specifier [RFC 9051 §6.4.5].
struct Section {
  enum class Text : uint8_t { kNone, kHeader, kHeaderFields, kHeaderFieldsNot, kText, kMime };
  std::vector<uint32_t> part;  // empty: the whole message
  Text text = Text::kNone;
  std::vector<std::string> fields;  // HEADER.FIELDS[.NOT], upper-cased
  // Wire form inside the brackets: "1.2.HEADER.FIELDS (FROM TO)".
  std::string to_string() const;
  bool operator==(const Section&) const = default;
};
struct Partial {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const Partial&) const = default;
};
struct FetchAtt {
  enum class Kind : uint8_t {
    kEnvelope, kFlags, kInternalDate, kRfc822, kRfc822Header, kRfc822Size, kRfc822Text, kBody,
    kBodyStructure, kUid, kBodySection, kBinary, kBinarySize, kModSeq, kSaveDate, kPreview,
  };
  Kind kind = Kind::kFlags;
  bool peek = false;  // BODY.PEEK / BINARY.PEEK
  Section section;    // kBodySection, kBinary, kBinarySize
  std::optional<Partial> partial;
  bool lazy = false;  // PREVIEW (LAZY) [RFC 8970]
  bool operator==(const FetchAtt&) const = default;
};
// FETCH / UID FETCH [RFC 9051 §6.4.5, RFC 7162 CHANGEDSINCE/VANISHED]
struct Fetch {
  SequenceSet set;
  bool uid = false;
  std::vector<FetchAtt> atts;  // macros expanded
  std::optional<uint64_t> changed_since;
  bool vanished = false;
};
enum class StoreOp : uint8_t { kAdd, kRemove, kReplace };
// STORE / UID STORE [RFC 9051 §6.4.6, RFC 7162 UNCHANGEDSINCE]
struct Store {
  SequenceSet set;
  bool uid = false;
  StoreOp op = StoreOp::kReplace;
  bool silent = false;
  std::vector<std::string> flags;
  std::optional<uint64_t> unchanged_since;
};
// COPY / MOVE and UID forms [RFC 9051 §6.4.7-8, RFC 6851]
struct Copy {
  SequenceSet set;
  bool uid = false;
  bool move = false;
  std::string mailbox;
};
// SEARCH / SORT / THREAD (and UID forms): the arguments stay raw text for the search engine.
struct Search {
  std::string args;  // everything after "SEARCH " (wire form, literals inline)
  bool uid = false;
};
// ID (params) / ID NIL [RFC 2971]
struct Id {
  std::vector<std::pair<std::string, std::optional<std::string>>> params;
};
struct Unauthenticate {};  // [RFC 8437]
// CANCELUPDATE "tag" *(SP "tag") [RFC 5267 §4.3]: stop the updates of earlier RETURN (UPDATE) searches.
struct CancelUpdate {
  std::vector<std::string> tags;
};
// GETQUOTA quota-root / GETQUOTAROOT mailbox / SETQUOTA quota-root (resource limit ...) [RFC 9208 §4.1]
struct GetQuota {
  std::string root;  // astring
};
struct GetQuotaRoot {
  std::string mailbox;  // wire form
};
struct SetQuota {
  std::string root;
  std::vector<std::pair<std::string, uint64_t>> limits;  // resource names upper-cased
};
// COMPRESS mechanism [RFC 4978]
struct Compress {
  std::string mechanism;  // upper-cased
};
// REPLACE / UID REPLACE: one message number (or UID), the target mailbox and the new message,
// written like one APPEND message [RFC 8508 §6].
struct Replace {
  uint32_t number = 0;  // sequence number, or UID for UID REPLACE
  bool uid = false;
  std::string mailbox;  // wire form
  AppendItem message;
};
// A syntactically plausible command this parser does not implement (GETMETADATA, ...).
struct Unknown {
  std::string name;  // upper-cased
};

using CommandArgs =
    std::variant<Capability, Noop, Logout, StartTls, Authenticate, Login, Unknown, Enable, Select, Create, Delete,
                 Rename, Subscribe, List, Namespace, StatusCmd, Append, Idle, Check, Close, Unselect, Expunge, Fetch,
                 Store, Copy, Search, Id, Unauthenticate, CancelUpdate, GetQuota, GetQuotaRoot, SetQuota, Compress,
                 Replace>;

struct Command {
  std::string tag;
  std::string name;  // upper-cased command name ("UID FETCH" for UID forms)
  CommandArgs args;
};

// A command that does not parse. tag is set when a valid tag was read, so the reply can be
// "<tag> BAD <message>"; otherwise it is "* BAD <message>" [RFC 9051 §7.1.5].
struct SyntaxError {
  std::optional<std::string> tag;
  std::string message;  // client-safe text
  bool operator==(const SyntaxError&) const = default;
};

// Thrown only by ParseResult::value() on an error: a bug (the caller did not check).
class SyntaxErrorException : public std::runtime_error {
 public:
  explicit SyntaxErrorException(const SyntaxError& e) : std::runtime_error(e.message) {}
};
[[noreturn]] inline void throw_exception_from_error(const SyntaxError& e, const boost::source_location&) {
  throw SyntaxErrorException(e);
}

using ParseResult = boost::system::result<Command, SyntaxError>;

// Parses one command in wire form without its final CRLF (literals inline, see reader.hpp).
ParseResult parse_command(std::string_view text);
// The same for a command with literals kept elsewhere (see CommandAssembler): only a message of
// APPEND or REPLACE may be one (AppendItem::external); any other is refused as too big.
ParseResult parse_command(const AssembledCommand& command);

}  // namespace posthorn::proto::imap
